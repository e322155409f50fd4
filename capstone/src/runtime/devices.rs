//! `linux.resources.devices`: which device nodes the container may open or create, enforced
//! by cgroup v1's `devices` controller (chapter 02 leaves it out: it limits no resource).
//!
//! Without it, root in a container that keeps CAP_MKNOD (Docker's default set does) could
//! `mknod /tmp/sda b 8 0` and read the host's disk. Each rule is one line written to
//! `devices.deny` or `devices.allow` of the container's own directory in the devices
//! hierarchy, in the spec's order: `TYPE MAJOR:MINOR ACCESS`, e.g. `c 1:3 rwm`, `a *:* rwm`
//! (read the kernel's `admin-guide/cgroup-v1/devices.rst`). On cgroup v2 the same is done by
//! an eBPF program, which this runtime does not load: the rules are then not enforced (see
//! docs/decisions.md).

use anyhow::{Context, Result};
use ch01_namespaces::explain;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::path::{Path, PathBuf};

/// Where cgroup v1 mounts the devices controller.
const HIERARCHY: &str = "/sys/fs/cgroup/devices";

/// The container's directory in the devices hierarchy; removed when dropped, unless released.
pub struct DevicesCgroup {
    dir: PathBuf,
    owned: bool,
}

impl DevicesCgroup {
    /// Make `PARENT/NAME` and write the rules, then allow what every container needs (as runc
    /// does): chapter 03's standard devices, /dev/tty, /dev/console, /dev/ptmx and the
    /// devpts ptys, and the spec's own `linux.devices` nodes. `None` when this host has no v1
    /// devices hierarchy.
    pub fn create(
        relative: &Path,
        rules: &[LinuxDeviceCgroup],
        nodes: &[ch03_overlayfs::devices::DeviceNode],
    ) -> Result<Option<Self>> {
        if !Path::new(HIERARCHY).join("devices.allow").exists() {
            return Ok(None);
        }
        let dir = Path::new(HIERARCHY).join(relative);
        explain!("mkdir {}: the container's devices cgroup", dir.display());
        std::fs::create_dir_all(&dir).with_context(|| format!("mkdir {}", dir.display()))?;
        let cgroup = DevicesCgroup { dir, owned: true };
        let mut lines: Vec<(bool, String)> =
            rules.iter().map(|r| (r.allow(), rule_line(r))).collect();
        for (_, major, minor) in ch03_overlayfs::devices::DEVICES {
            lines.push((true, format!("c {major}:{minor} rwm")));
        }
        // Making any node is allowed (as runc and Docker do): opening one is what counts.
        for extra in [
            "c *:* m",
            "b *:* m",
            "c 5:1 rwm",
            "c 5:2 rwm",
            "c 136:* rwm",
        ] {
            lines.push((true, extra.to_string()));
        }
        for node in nodes {
            let kind = if node.kind == nix::sys::stat::SFlag::S_IFBLK {
                "b"
            } else {
                "c"
            };
            lines.push((true, format!("{kind} {}:{} rwm", node.major, node.minor)));
        }
        for (allow, line) in lines {
            let file = if allow {
                "devices.allow"
            } else {
                "devices.deny"
            };
            explain!("write {line:?} to {}/{file}", cgroup.dir.display());
            std::fs::write(cgroup.dir.join(file), &line)
                .with_context(|| format!("write {line:?} to {}/{file}", cgroup.dir.display()))?;
        }
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
        dir.is_dir().then_some(DevicesCgroup { dir, owned: true })
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

/// `c 1:3 rwm`: the kernel's form of one rule.
fn rule_line(rule: &LinuxDeviceCgroup) -> String {
    let kind = match rule.typ() {
        Some(LinuxDeviceType::B) => "b",
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => "c",
        Some(LinuxDeviceType::P) => "p",
        Some(LinuxDeviceType::A) | None => "a",
    };
    let number = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    format!(
        "{kind} {}:{} {}",
        number(rule.major()),
        number(rule.minor()),
        rule.access().clone().unwrap_or_else(|| "rwm".into())
    )
}
