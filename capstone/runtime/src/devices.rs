//! `linux.resources.devices`: which device nodes the container may open or create.
//!
//! Without such rules, root in a container that keeps CAP_MKNOD (Docker's default set does)
//! could `mknod /tmp/sda b 8 0` and read the host's disk. The rules are the spec's, in order,
//! followed by what every runtime allows whatever the spec says (runc, crun and youki alike):
//! making any node (`c *:* m`, `b *:* m`: opening one is what counts), chapter 03's standard
//! devices, /dev/console, /dev/ptmx and the devpts terminals ([`ALWAYS_ALLOWED`]). The nodes
//! of the spec's `linux.devices` are *not* added: a node listed there is made in the
//! container's /dev, and opening it is for the rules to decide (a deny-all rule denies it).
//!
//! Two kernels' ways to enforce them, one set of rules ([`Rule`]):
//! - **cgroup v1** has a `devices` controller (chapter 02 leaves it out: it limits no
//!   resource). Each rule is one line written to `devices.deny` or `devices.allow` of the
//!   container's own directory in the devices hierarchy: `TYPE MAJOR:MINOR ACCESS`, e.g.
//!   `c 1:3 rwm`, `a *:* rwm` (read the kernel's `admin-guide/cgroup-v1/devices.rst`).
//!   [`DevicesCgroup`] does that.
//! - **cgroup v2** has no such controller: the kernel runs the eBPF programs attached to the
//!   process's cgroup (type `BPF_PROG_TYPE_CGROUP_DEVICE`) on every open and mknod of a device
//!   node, and refuses it with EPERM when one of them returns 0. [`enforce_v2`] builds that
//!   program from the rules ([`super::devices_bpf`]) and attaches it to the container's cgroup.
//!
//! A hybrid host (v1 controllers, a cgroup2 at /sys/fs/cgroup/unified) has the v1 controller,
//! and chapter 02 puts the container in v1 hierarchies only: the v1 controller enforces there.

use anyhow::{bail, Context, Result};
use ch01_namespaces::explain;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where cgroup v1 mounts the devices controller.
const HIERARCHY: &str = "/sys/fs/cgroup/devices";

/// Which devices a rule is about (the kernel's cgroup knows only these two kinds of node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `a`: character and block devices alike.
    All,
    /// `c` (and the spec's `u`, an unbuffered character device: the same to the kernel).
    Char,
    /// `b`.
    Block,
}

/// What a rule allows or denies: the kernel's bits (`include/uapi/linux/bpf.h`,
/// `BPF_DEVCG_ACC_*`; v1 spells them `m`, `r`, `w`).
pub mod access {
    pub const MKNOD: u8 = 1;
    pub const READ: u8 = 2;
    pub const WRITE: u8 = 4;
    pub const ALL: u8 = MKNOD | READ | WRITE;
}

/// One device rule: `allow` or deny `access` to the devices of `kind` numbered `major:minor`
/// (`None`: any number, v1's `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Kind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// [`access`] bits.
    pub access: u8,
}

/// What every container may do whatever its spec says, after the spec's rules (so they win:
/// the last rule that names an access decides it): make any node; open chapter 03's standard
/// devices, /dev/console (5:1), /dev/ptmx (5:2) and the devpts terminals (136:*).
pub const ALWAYS_ALLOWED: [Rule; 11] = [
    Rule::allow(Kind::Char, None, None, access::MKNOD),
    Rule::allow(Kind::Block, None, None, access::MKNOD),
    Rule::allow(Kind::Char, Some(1), Some(3), access::ALL), // null
    Rule::allow(Kind::Char, Some(1), Some(5), access::ALL), // zero
    Rule::allow(Kind::Char, Some(1), Some(7), access::ALL), // full
    Rule::allow(Kind::Char, Some(1), Some(8), access::ALL), // random
    Rule::allow(Kind::Char, Some(1), Some(9), access::ALL), // urandom
    Rule::allow(Kind::Char, Some(5), Some(0), access::ALL), // tty
    Rule::allow(Kind::Char, Some(5), Some(1), access::ALL), // console
    Rule::allow(Kind::Char, Some(5), Some(2), access::ALL), // ptmx
    Rule::allow(Kind::Char, Some(136), None, access::ALL),  // the devpts terminals
];

/// The largest major and minor numbers of a `dev_t` (12 and 20 bits: `include/linux/kdev_t.h`).
const MAX_MAJOR: i64 = (1 << 12) - 1;
const MAX_MINOR: i64 = (1 << 20) - 1;

impl Rule {
    pub const fn allow(kind: Kind, major: Option<u32>, minor: Option<u32>, access: u8) -> Rule {
        Rule {
            allow: true,
            kind,
            major,
            minor,
            access,
        }
    }

    /// One rule of the spec's `linux.resources.devices`. Missing type, major, minor or a
    /// negative number mean "any" (as in runc); missing or empty access means `rwm`.
    pub fn from_spec(rule: &LinuxDeviceCgroup) -> Result<Rule> {
        let kind = match rule.typ() {
            None | Some(LinuxDeviceType::A) => Kind::All,
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => Kind::Char,
            Some(LinuxDeviceType::B) => Kind::Block,
            Some(LinuxDeviceType::P) => bail!(
                "linux.resources.devices: type p (a FIFO) is not a device the cgroup controls; \
                 only a, b and c rules are"
            ),
        };
        let number = |n: Option<i64>, max: i64, what: &str| -> Result<Option<u32>> {
            match n {
                None => Ok(None),
                Some(n) if n < 0 => Ok(None),
                Some(n) if n <= max => Ok(Some(n as u32)),
                Some(n) => bail!("linux.resources.devices: {what} {n} is larger than {max}"),
            }
        };
        let access = match rule.access().as_deref() {
            None | Some("") => access::ALL,
            Some(text) => parse_access(text),
        };
        Ok(Rule {
            allow: rule.allow(),
            kind,
            major: number(rule.major(), MAX_MAJOR, "major")?,
            minor: number(rule.minor(), MAX_MINOR, "minor")?,
            access,
        })
    }

    /// The access as v1 and the spec write it: some of `rwm`, in that order.
    pub fn access_letters(&self) -> String {
        [
            (access::READ, 'r'),
            (access::WRITE, 'w'),
            (access::MKNOD, 'm'),
        ]
        .iter()
        .filter(|(bit, _)| self.access & bit != 0)
        .map(|(_, c)| *c)
        .collect()
    }
}

/// `rwm` (any of them, in any order) as [`access`] bits. Any other letter is left out with a
/// warning, as runc leaves it out (its rules go through an emulator of v1 that reads only
/// these three; runc's own suite writes `rwa`), rather than refusing a spec runc runs.
fn parse_access(text: &str) -> u8 {
    let mut unknown = String::new();
    let bits = text.chars().fold(0, |bits, c| match c {
        'r' => bits | access::READ,
        'w' => bits | access::WRITE,
        'm' => bits | access::MKNOD,
        other => {
            unknown.push(other);
            bits
        }
    });
    if !unknown.is_empty() {
        eprintln!(
            "warning: linux.resources.devices: access {text:?} has {unknown:?}, which is not \
             r, w or m: left out, as runc does"
        );
    }
    bits
}

/// The kernel v1 form of one rule, e.g. `c 1:3 rwm`.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::All => 'a',
            Kind::Char => 'c',
            Kind::Block => 'b',
        };
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{kind} {}:{} {}",
            number(self.major),
            number(self.minor),
            self.access_letters()
        )
    }
}

/// The rules a container gets: the spec's, then [`ALWAYS_ALLOWED`]. Empty when the spec has
/// none (then nothing is restricted, as runc does). A spec rule equal to one of
/// [`ALWAYS_ALLOWED`] is left out (the engine writes them all): the same rule coming last
/// decides the same accesses the same way, so the earlier copy changes nothing.
pub fn rules_of(spec_rules: &[LinuxDeviceCgroup]) -> Result<Vec<Rule>> {
    if spec_rules.is_empty() {
        return Ok(Vec::new());
    }
    let mut rules = spec_rules
        .iter()
        .map(Rule::from_spec)
        .collect::<Result<Vec<_>>>()?;
    // A rule left with no access (all its letters unknown) decides nothing.
    rules.retain(|rule| rule.access != 0 && !ALWAYS_ALLOWED.contains(rule));
    rules.extend(ALWAYS_ALLOWED);
    Ok(rules)
}

/// cgroup v2: load the rules as an eBPF program and attach it to the container's cgroup
/// directory `cgroup_dir` (before any process is in it). The program lives as long as it is
/// attached: removing the cgroup detaches and frees it, so there is nothing to undo here.
pub fn enforce_v2(cgroup_dir: &Path, rules: &[Rule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let program = super::devices_bpf::program(rules);
    explain!(
        "bpf(BPF_PROG_LOAD) a {}-instruction BPF_PROG_TYPE_CGROUP_DEVICE program from {} rules, \
         bpf(BPF_PROG_ATTACH) it to {}",
        program.len(),
        rules.len(),
        cgroup_dir.display()
    );
    super::devices_bpf::attach(&program, cgroup_dir)
}

/// `update` with device rules: the container at `relative` (below each hierarchy's root) gets
/// `rules` in place of those it has. v2: a new program replaces the attached one
/// ([`super::devices_bpf::replace`]). v1: the rules are written again to the container's
/// devices directory, in order (a deny-all first, as engines write them, empties the
/// kernel's list, and the allows after it fill it again); the caller freezes the container
/// meanwhile, so that none of its processes sees the moment between.
pub fn update(relative: &Path, rules: &[Rule], v2_dir: Option<&Path>) -> Result<()> {
    if let Some(dir) = v2_dir {
        let program = super::devices_bpf::program(rules);
        explain!(
            "bpf(BPF_PROG_LOAD) a {}-instruction device program from {} rules, attach it to {} \
             and detach the one it replaces",
            program.len(),
            rules.len(),
            dir.display()
        );
        return super::devices_bpf::replace(&program, dir);
    }
    let dir = Path::new(HIERARCHY).join(relative);
    if !dir.join("devices.list").exists() {
        bail!(
            "linux.resources.devices: the container has no devices cgroup ({} is missing: it \
             was made without device rules), and on cgroup v1 update cannot add one",
            dir.display()
        );
    }
    write_rules(&dir, rules)
}

/// Write `rules`, in order, to `dir`'s `devices.deny` and `devices.allow` (cgroup v1).
fn write_rules(dir: &Path, rules: &[Rule]) -> Result<()> {
    for rule in rules {
        let file = if rule.allow {
            "devices.allow"
        } else {
            "devices.deny"
        };
        let line = rule.to_string();
        explain!("write {line:?} to {}/{file}", dir.display());
        std::fs::write(dir.join(file), &line)
            .with_context(|| format!("write {line:?} to {}/{file}", dir.display()))?;
    }
    Ok(())
}

/// The container's directory in the devices hierarchy; removed when dropped, unless released.
pub struct DevicesCgroup {
    dir: PathBuf,
    owned: bool,
}

impl DevicesCgroup {
    /// Make `PARENT/NAME` in the v1 devices hierarchy and write the rules ([`rules_of`]), in
    /// order. `None` when this host has no v1 devices hierarchy.
    pub fn create(relative: &Path, rules: &[Rule]) -> Result<Option<Self>> {
        if !Path::new(HIERARCHY).join("devices.allow").exists() {
            return Ok(None);
        }
        let dir = Path::new(HIERARCHY).join(relative);
        explain!("mkdir {}: the container's devices cgroup", dir.display());
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let cgroup = DevicesCgroup { dir, owned: true };
        write_rules(&cgroup.dir, rules)?;
        Ok(Some(cgroup))
    }

    /// The existing one of a container (`delete`), owned from now on. `relative` is taken
    /// below the hierarchy whatever it looks like (a leading `/` is dropped, `..` refused).
    pub fn adopt(relative: &Path) -> Option<Self> {
        let names: Vec<_> = relative
            .components()
            .filter(|c| !matches!(c, std::path::Component::RootDir))
            .collect();
        if names.is_empty()
            || names
                .iter()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return None;
        }
        let dir = names
            .iter()
            .fold(PathBuf::from(HIERARCHY), |dir, c| dir.join(c));
        // Made only if it exists: a handle removes its directory when dropped.
        if dir.is_dir() {
            Some(DevicesCgroup { dir, owned: true })
        } else {
            None
        }
    }

    /// The devices cgroup directory process `pid` is in (`/proc/PID/cgroup`'s line for the
    /// `devices` controller, read `cgroups(7)`), for `exec`: chapter 02 moves the new process
    /// into the target's cgroups of its own controllers only, and without this one it would
    /// escape the container's device rules on v1. `None` without a v1 devices hierarchy.
    pub fn dir_of_process(pid: Pid) -> Result<Option<PathBuf>> {
        if !Path::new(HIERARCHY).join("devices.allow").exists() {
            return Ok(None);
        }
        let file = format!("/proc/{pid}/cgroup");
        let text = std::fs::read_to_string(&file).with_context(|| format!("read {file}"))?;
        let path = text.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            controllers
                .split(',')
                .any(|c| c == "devices")
                .then_some(path)
        });
        let path = path.with_context(|| format!("{file} has no devices line: {text:?}"))?;
        Ok(Some(
            Path::new(HIERARCHY).join(path.trim_start_matches('/')),
        ))
    }

    /// Put `pid` in it (a parent-side step).
    pub fn attach(dir: &Path, pid: Pid) -> Result<()> {
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())
            .with_context(|| format!("write {pid} to {}/cgroup.procs", dir.display()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keep it after the handle is dropped (the container outlives `create`).
    pub fn release(mut self) {
        self.owned = false;
    }
}

impl Drop for DevicesCgroup {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // Chapter 02's rmdir: it waits out the moment the kernel still holds a cgroup whose
        // last process just died (EBUSY).
        if let Err(error) = ch02_cgroups::cgroup::rmdir_when_released(&self.dir) {
            eprintln!("warning: {error}");
            return;
        }
        explain!("rmdir {}", self.dir.display());
        // The parent too, once no other container is in it, as chapter 02 does with the
        // engine's parent in the other hierarchies. Only then: a cgroup with children refuses
        // rmdir with EBUSY as well, and no waiting changes that; without children, EBUSY is
        // the kernel still letting go of the child we just removed, and waiting helps.
        if let Some(parent) = self.dir.parent().filter(|p| *p != Path::new(HIERARCHY)) {
            if !has_child_cgroup(parent) {
                let _ = ch02_cgroups::cgroup::rmdir_when_released(parent);
            }
        }
    }
}

/// Whether the cgroup directory `dir` has a child cgroup (a subdirectory).
fn has_child_cgroup(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |entries| {
        entries
            .flatten()
            .any(|e| e.file_type().is_ok_and(|t| t.is_dir()))
    })
}
