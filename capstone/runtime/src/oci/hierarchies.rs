//! The cgroup hierarchies beyond chapter 02's: on a cgroup v1 or hybrid host, the v1
//! hierarchies of the controllers chapter 02 does not limit (freezer, cpuset, blkio, the
//! named `systemd` one...) and, on a hybrid host, the cgroup2 tree mounted at
//! /sys/fs/cgroup/unified. runc puts a container's processes in the same path in *every*
//! hierarchy, and tools count on it: `pause` needs the freezer, `ps` and systemd read the
//! named hierarchy, and a container's cgroup2 path is what eBPF programs and the kernel's
//! pressure files use. Read cgroups(7), "Cgroups version 1 hierarchies" and "Hybrid".
//!
//! The devices hierarchy is left to the runtime's device rules (`runtime/devices.rs`); chapter
//! 02's controllers (memory, cpu, cpuacct, pids) to chapter 02. On a pure cgroup2 host there
//! is nothing here: chapter 02's one tree is all there is.
//!
//! A parent directory named by the spec's `cgroupsPath` is the caller's (it may have made it,
//! and may remove it): we make it if missing but leave it, as runc does, except our own
//! default parent, `baleia-runtime`, removed when empty.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The controllers other code handles: chapter 02's, and the devices cgroup.
const HANDLED_ELSEWHERE: [&str; 5] = ["memory", "cpu", "cpuacct", "pids", "devices"];

/// Our default parent, removed with its last container.
pub const DEFAULT_PARENT: &str = "baleia-runtime";

/// One extra hierarchy: where it is mounted, and its controllers (`name=systemd` for a named
/// one, empty for the cgroup2 tree).
#[derive(Debug, Clone)]
pub struct Extra {
    pub mount: PathBuf,
    pub controllers: Vec<String>,
}

impl Extra {
    fn is_v2(&self) -> bool {
        self.controllers.is_empty()
    }
}

/// The extra hierarchies of this host: every cgroup hierarchy none of whose controllers is
/// handled elsewhere, and a cgroup2 tree that is not /sys/fs/cgroup itself (a hybrid host's).
pub fn detect() -> Vec<Extra> {
    let all = all();
    // A pure v2 host: chapter 02's one tree is all there is. (v1 mounts can still be listed
    // beneath a cgroup2 mounted over them, as in a test that plays a v2 host on a hybrid one.)
    if all
        .iter()
        .any(|e| e.is_v2() && e.mount == Path::new("/sys/fs/cgroup"))
    {
        return Vec::new();
    }
    all.into_iter()
        .filter(|e| {
            if e.is_v2() {
                return e.mount != Path::new("/sys/fs/cgroup");
            }
            !e.controllers
                .iter()
                .any(|c| HANDLED_ELSEWHERE.contains(&c.as_str()))
        })
        .collect()
}

/// Every cgroup hierarchy mounted here, from /proc/self/mountinfo (read proc(5)): a `cgroup`
/// mount's controllers are in its super options (`rw,cpu,cpuacct`, `rw,name=systemd`).
pub fn all() -> Vec<Extra> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<Extra> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount = PathBuf::from(left.split(' ').nth(4).unwrap_or_default());
        let mut fields = right.split(' ');
        let fstype = fields.next().unwrap_or_default();
        let options = fields.nth(1).unwrap_or_default();
        // A mount made later at or above an earlier one hides it (mountinfo lists mounts in
        // the order they were made): only what can be reached counts.
        found.retain(|e| !e.mount.starts_with(&mount));
        let controllers: Vec<String> = options
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && (!o.contains('=') || o.starts_with("name=")))
            .map(String::from)
            .collect();
        match fstype {
            "cgroup" if !controllers.is_empty() => found.push(Extra { mount, controllers }),
            "cgroup2" => found.push(Extra {
                mount,
                controllers: Vec::new(),
            }),
            _ => {}
        }
    }
    found
}

/// The freezer hierarchy's directory for `relative` (v1), if the host has one.
pub fn freezer_dir(relative: &Path) -> Option<PathBuf> {
    detect()
        .into_iter()
        .find(|e| e.controllers.iter().any(|c| c == "freezer"))
        .map(|e| e.mount.join(relative))
}

/// Make `relative` (the container's `PARENT/NAME`) in every extra hierarchy. A new cpuset
/// cgroup starts with no CPUs and no memory nodes, and a process cannot join it until both
/// are set: each level made here copies its parent's (cpuset(7), "cpuset.cpus").
pub fn create(relative: &Path) -> Result<()> {
    for extra in detect() {
        let mut level = extra.mount.clone();
        for component in relative.components() {
            level.push(component);
            if !level.is_dir() {
                ch01_namespaces::explain!("mkdir {}", level.display());
                match std::fs::create_dir(&level) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e).with_context(|| format!("mkdir {}", level.display())),
                }
            }
            // Also a level someone else made (a pod's parent) and left empty.
            if extra.controllers.iter().any(|c| c == "cpuset") {
                inherit_cpuset(&level)?;
            }
        }
    }
    Ok(())
}

fn inherit_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().context("a cpuset cgroup has a parent")?;
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let value = std::fs::read_to_string(parent.join(file))
            .with_context(|| format!("read {}", parent.join(file).display()))?;
        let path = dir.join(file);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current.trim().is_empty() {
            std::fs::write(&path, value.trim())
                .with_context(|| format!("write {}", path.display()))?;
        }
    }
    Ok(())
}

/// Put `pid` in `relative` in every extra hierarchy (`cgroup.procs`, cgroups(7)).
pub fn attach(relative: &Path, pid: i32) -> Result<()> {
    for extra in detect() {
        let procs = extra.mount.join(relative).join("cgroup.procs");
        std::fs::write(&procs, pid.to_string())
            .with_context(|| format!("adding pid {pid} to {}", procs.display()))?;
    }
    Ok(())
}

/// `exec --cgroup`: join a sub-cgroup of the container's, in the hierarchies of some
/// controllers (`memory:sub`, `cpu,cpuacct:sub`) or of all of them (`sub`).
#[derive(Clone)]
pub struct SubCgroup {
    /// Empty: every hierarchy.
    pub controllers: Vec<String>,
    pub path: PathBuf,
}

impl std::str::FromStr for SubCgroup {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<SubCgroup> {
        let (controllers, path) = match text.split_once(':') {
            Some((controllers, path)) => (controllers.split(',').map(String::from).collect(), path),
            None => (Vec::new(), text),
        };
        let path = PathBuf::from(path.trim_start_matches('/'));
        if path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            anyhow::bail!(
                "bad sub cgroup path: {} is not a sub cgroup path",
                path.display()
            );
        }
        Ok(SubCgroup { controllers, path })
    }
}

/// Put `pid` where `target` is, in every hierarchy (`exec`: the new process joins all of the
/// container's cgroups, as /proc/TARGET/cgroup lists them), or in a sub-cgroup of it where
/// `subs` says so.
pub fn join_like(target: i32, pid: i32, subs: &[SubCgroup]) -> Result<()> {
    let text = std::fs::read_to_string(format!("/proc/{target}/cgroup"))
        .with_context(|| format!("read /proc/{target}/cgroup"))?;
    let hierarchies = all();
    for sub in subs {
        for controller in &sub.controllers {
            if !hierarchies
                .iter()
                .any(|h| h.controllers.contains(controller))
            {
                anyhow::bail!("unknown controller {controller:?} in --cgroup");
            }
        }
    }
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let controllers: Vec<String> = controllers
            .split(',')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let Some(hierarchy) = hierarchies.iter().find(|h| {
            let mut theirs = h.controllers.clone();
            let mut ours = controllers.clone();
            theirs.sort_unstable();
            ours.sort_unstable();
            theirs == ours
        }) else {
            continue;
        };
        let sub = subs.iter().rev().find(|s| {
            s.controllers.is_empty() || s.controllers.iter().any(|c| controllers.contains(c))
        });
        let mut dir = hierarchy.mount.join(path.trim_start_matches('/'));
        if let Some(sub) = sub {
            dir.push(&sub.path);
        }
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, pid.to_string()).map_err(|e| {
            anyhow::anyhow!(
                "adding pid {pid} to cgroups: {}: {}",
                procs.display(),
                e.to_string().to_lowercase()
            )
        })?;
    }
    Ok(())
}

/// Remove `relative` from every extra hierarchy (its processes are gone by now), and our
/// default parent if it is empty. A cgroup still held for a moment by the kernel after its
/// last process died says EBUSY: chapter 02's `rmdir_when_released` waits that out. Child
/// cgroups the container made inside its own go first, deepest first.
pub fn remove(relative: &Path) -> Result<()> {
    let mut failures = Vec::new();
    for extra in detect() {
        let dir = extra.mount.join(relative);
        if !dir.is_dir() {
            continue;
        }
        if let Err(error) = remove_tree(&dir) {
            failures.push(format!("{error:#}"));
        }
        if relative.parent() == Some(Path::new(DEFAULT_PARENT)) {
            let _ = std::fs::remove_dir(extra.mount.join(DEFAULT_PARENT));
        }
    }
    if !failures.is_empty() {
        anyhow::bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// Remove the cgroups a container made inside its own (`dir`), deepest first, leaving `dir`.
pub fn remove_children(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    Ok(())
}

fn remove_tree(dir: &Path) -> Result<()> {
    remove_children(dir)?;
    // A frozen cgroup's processes cannot die: thaw it first (a paused container deleted).
    let state = dir.join("freezer.state");
    if std::fs::read_to_string(&state).is_ok_and(|s| s.trim() != "THAWED") {
        let _ = std::fs::write(&state, "THAWED");
    }
    ch02_cgroups::cgroup::rmdir_when_released(dir).map_err(Into::into)
}
