//! `linux.resources` beyond chapter 02's four limits, written straight to the cgroup files
//! (`config-linux.md`, "Control groups"; the kernel's cgroup-v1/*.rst and cgroup-v2.rst):
//!
//! | spec field                 | cgroup v1 file                      | cgroup v2 file              |
//! |----------------------------|-------------------------------------|-----------------------------|
//! | `memory.limit`             | `memory.limit_in_bytes`             | `memory.max`                |
//! | `memory.swap` (mem + swap) | `memory.memsw.limit_in_bytes`       | `memory.swap.max` (swap only)|
//! | `memory.reservation`       | `memory.soft_limit_in_bytes`        | `memory.low`                |
//! | `memory.swappiness`        | `memory.swappiness`                 | (none: refused)             |
//! | `memory.disableOOMKiller`  | `memory.oom_control`                | (none: refused)             |
//! | `cpu.shares`               | `cpu.shares`                        | `cpu.weight` (converted)    |
//! | `cpu.quota`, `cpu.period`  | `cpu.cfs_quota_us`, `cpu.cfs_period_us` | `cpu.max`              |
//! | `cpu.realtimeRuntime/Period`| `cpu.rt_runtime_us`, `cpu.rt_period_us` | (none: refused)        |
//! | `cpu.cpus`, `cpu.mems`     | `cpuset.cpus`, `cpuset.mems`        | the same                    |
//! | `pids.limit`               | `pids.max`                          | the same                    |
//! | `unified`                  | (refused)                           | each key is a file          |
//!
//! At `create`, chapter 02 has already written what it knows (the memory limit, with no swap
//! beyond it; shares; pids) and this adds the rest, the CPU quota and period included (their
//! two writes must come in the right order, which depends on the values). `update` writes
//! everything it is given through here: there `-1` means "no limit" and a value may go down
//! as well as up, which is why the order of some pairs of writes matters (see below).

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// When the resources are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// At `create`: chapter 02 wrote its part already.
    Create,
    /// `runtime update`: everything given is written.
    Update,
}

/// The container's cgroup, `PARENT/NAME` in each hierarchy.
pub struct Target {
    relative: PathBuf,
    v2: bool,
    /// v2: the tree's top (`/sys/fs/cgroup`, or an ordinary user's delegated subtree).
    v2_root: PathBuf,
    /// v1 hierarchies: (mount point, its controllers), from /proc/self/mountinfo.
    mounts: Vec<(PathBuf, Vec<String>)>,
}

impl Target {
    pub fn new(relative: &Path) -> Result<Target> {
        // An ordinary user's v2 cgroups lie under its delegated subtree, not the root.
        let layout = ch02_cgroups::delegation::layout_for_caller()?;
        let mut mounts = Vec::new();
        let mountinfo =
            std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut fields = right.split(' ');
            if fields.next() != Some("cgroup") {
                continue;
            }
            let options = fields.nth(1).unwrap_or_default();
            let mount = PathBuf::from(left.split(' ').nth(4).unwrap_or_default());
            mounts.push((mount, options.split(',').map(String::from).collect()));
        }
        Ok(Target {
            relative: relative.to_path_buf(),
            v2: layout.mode.is_v2(),
            v2_root: layout
                .hierarchies
                .first()
                .map_or_else(|| PathBuf::from("/sys/fs/cgroup"), |h| h.dir.clone()),
            mounts,
        })
    }

    /// The directory holding `controller`'s files for this cgroup.
    fn dir(&self, controller: &str) -> Result<PathBuf> {
        if self.v2 {
            return Ok(self.v2_root.join(&self.relative));
        }
        self.mounts
            .iter()
            .find(|(_, controllers)| controllers.iter().any(|c| c == controller))
            .map(|(mount, _)| mount.join(&self.relative))
            .with_context(|| format!("this host has no {controller} cgroup hierarchy"))
    }

    fn write(&self, controller: &str, file: &str, value: &str) -> Result<()> {
        let path = self.dir(controller)?.join(file);
        if self.v2 && !path.exists() {
            self.enable_v2(controller)?;
        }
        ch01_namespaces::explain!("write {value} to {}", path.display());
        std::fs::write(&path, value).with_context(|| format!("write {value} to {}", path.display()))
    }

    /// cgroup v2: a controller's files appear in a cgroup only once every ancestor lists it in
    /// `cgroup.subtree_control` (the kernel's cgroup-v2.rst, "Enabling and Disabling").
    /// systemd enables what it uses (memory and pids on Debian 12) and chapter 02 adds memory,
    /// cpu and pids; any other (cpuset) is enabled here, from the root down, when first needed.
    fn enable_v2(&self, controller: &str) -> Result<()> {
        let mut level = self.v2_root.clone();
        let parents: Vec<_> = self.relative.parent().into_iter().collect();
        let below = parents
            .iter()
            .flat_map(|p| p.components())
            .filter(|c| matches!(c, std::path::Component::Normal(_)));
        for next in std::iter::once(None).chain(below.map(Some)) {
            if let Some(part) = next {
                level.push(part);
            }
            let file = level.join("cgroup.subtree_control");
            let enabled = std::fs::read_to_string(&file)
                .with_context(|| format!("read {}", file.display()))?;
            if enabled.split_whitespace().any(|c| c == controller) {
                continue;
            }
            ch01_namespaces::explain!("write +{controller} to {}", file.display());
            std::fs::write(&file, format!("+{controller}"))
                .with_context(|| format!("write +{controller} to {}", file.display()))?;
        }
        Ok(())
    }

    fn read(&self, controller: &str, file: &str) -> Option<String> {
        let path = self.dir(controller).ok()?.join(file);
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// Write `resources` (see the table above).
pub fn apply(target: &Target, resources: &LinuxResources, phase: Phase) -> Result<()> {
    refuse_unsupported(target, resources)?;
    if let Some(memory) = resources.memory() {
        let limit = memory.limit().filter(|_| phase == Phase::Update);
        // Unlimited memory means unlimited swap too, unless swap is given (runc's rule).
        let swap = memory
            .swap()
            .or_else(|| limit.filter(|l| *l == -1).map(|_| -1));
        if target.v2 {
            memory_v2(target, limit, swap)?;
        } else {
            memory_v1(target, limit, swap)?;
        }
        if let Some(reservation) = memory.reservation() {
            let file = if target.v2 {
                "memory.low"
            } else {
                "memory.soft_limit_in_bytes"
            };
            target.write("memory", file, &bytes(reservation, target.v2))?;
        }
        if let Some(swappiness) = memory.swappiness().filter(|s| *s <= 100) {
            target.write("memory", "memory.swappiness", &swappiness.to_string())?;
        }
        if memory.disable_oom_killer() == Some(true) {
            target.write("memory", "memory.oom_control", "1")?;
        }
    }
    if let Some(cpu) = resources.cpu() {
        cpu_bandwidth(target, cpu.quota(), cpu.period())?;
        if let Some(shares) = cpu.shares().filter(|_| phase == Phase::Update) {
            if target.v2 {
                let weight = ch02_cgroups::limits::shares_to_weight(shares);
                target.write("cpu", "cpu.weight", &weight.to_string())?;
            } else {
                target.write("cpu", "cpu.shares", &shares.to_string())?;
            }
        }
        // The period first: a runtime longer than the current period is refused (EINVAL).
        if let Some(period) = cpu.realtime_period() {
            target.write("cpu", "cpu.rt_period_us", &period.to_string())?;
        }
        if let Some(runtime) = cpu.realtime_runtime() {
            target.write("cpu", "cpu.rt_runtime_us", &runtime.to_string())?;
        }
        if let Some(cpus) = cpu.cpus().as_ref().filter(|c| !c.is_empty()) {
            target.write("cpuset", "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            target.write("cpuset", "cpuset.mems", mems)?;
        }
    }
    if let Some(pids) = resources.pids().as_ref().filter(|_| phase == Phase::Update) {
        let value = match pids.limit() {
            limit if limit <= 0 => "max".to_string(),
            limit => limit.to_string(),
        };
        target.write("pids", "pids.max", &value)?;
    }
    for (key, value) in resources.unified().iter().flatten() {
        if key.contains('/') || !key.contains('.') {
            bail!("linux.resources.unified: {key:?} is not a cgroup file name");
        }
        let controller = key.split('.').next().unwrap_or_default();
        target.write(controller, key, value)?;
    }
    Ok(())
}

/// What no cgroup file here can do: refused by name, never ignored.
fn refuse_unsupported(target: &Target, resources: &LinuxResources) -> Result<()> {
    let json = serde_json::to_value(resources)?;
    for (field, value) in json.as_object().into_iter().flatten() {
        let empty = value.is_null()
            || value.as_array().is_some_and(|a| a.is_empty())
            || value.as_object().is_some_and(|o| o.is_empty());
        match field.as_str() {
            "memory" | "cpu" | "pids" | "devices" | "unified" => {}
            _ if empty => {}
            other => bail!("linux.resources.{other} is not supported by this runtime"),
        }
    }
    if !target.v2 && resources.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        bail!(
            "invalid configuration: linux.resources.unified needs cgroup v2 (this host's \
             controllers are on cgroup v1)"
        );
    }
    if let Some(memory) = resources.memory() {
        if memory.kernel().is_some() || memory.kernel_tcp().is_some() {
            bail!(
                "linux.resources.memory.kernel and kernelTCP are not supported (kernels since \
                 6.1 have no kernel memory limit)"
            );
        }
        if target.v2 && memory.swappiness().is_some_and(|s| s <= 100) {
            bail!("linux.resources.memory.swappiness is not supported on cgroup v2");
        }
        if target.v2 && memory.disable_oom_killer() == Some(true) {
            bail!("linux.resources.memory.disableOOMKiller is not supported on cgroup v2");
        }
    }
    if let Some(cpu) = resources.cpu() {
        if target.v2 && (cpu.realtime_period().is_some() || cpu.realtime_runtime().is_some()) {
            bail!("linux.resources.cpu.realtimePeriod/Runtime are not supported on cgroup v2");
        }
    }
    Ok(())
}

/// A byte count for a cgroup file: -1 is "no limit", spelled `-1` on v1 and `max` on v2.
fn bytes(value: i64, v2: bool) -> String {
    match (value, v2) {
        (-1, true) => "max".into(),
        (value, _) => value.to_string(),
    }
}

/// v1 counts swap *with* memory (`memsw` ≥ `limit` always), so the order of the two writes
/// depends on the direction: raise `memsw` before the limit, lower the limit before `memsw`.
fn memory_v1(target: &Target, limit: Option<i64>, swap: Option<i64>) -> Result<()> {
    const MEMSW: &str = "memory.memsw.limit_in_bytes";
    const LIMIT: &str = "memory.limit_in_bytes";
    match (limit, swap) {
        (Some(limit), Some(swap)) => {
            let current: i64 = target
                .read("memory", MEMSW)
                .and_then(|s| s.parse().ok())
                .unwrap_or(i64::MAX);
            if swap == -1 || swap > current {
                target.write("memory", MEMSW, &swap.to_string())?;
                target.write("memory", LIMIT, &limit.to_string())
            } else {
                target.write("memory", LIMIT, &limit.to_string())?;
                target.write("memory", MEMSW, &swap.to_string())
            }
        }
        // A limit above the current memsw is refused (EINVAL): keep "no swap beyond the
        // limit" (chapter 02's rule) by moving memsw with it.
        (Some(limit), None) => match target.write("memory", LIMIT, &limit.to_string()) {
            Ok(()) => Ok(()),
            Err(_) if target.read("memory", MEMSW).is_some() => {
                target.write("memory", MEMSW, &limit.to_string())?;
                target.write("memory", LIMIT, &limit.to_string())
            }
            Err(error) => Err(error),
        },
        (None, Some(swap)) => target.write("memory", MEMSW, &swap.to_string()),
        (None, None) => Ok(()),
    }
}

/// v2 counts swap on its own: `memory.swap.max` = the spec's swap (memory + swap) − limit.
fn memory_v2(target: &Target, limit: Option<i64>, swap: Option<i64>) -> Result<()> {
    if let Some(limit) = limit {
        target.write("memory", "memory.max", &bytes(limit, true))?;
    }
    if let Some(swap) = swap {
        let limit = match limit {
            Some(limit) => limit,
            None => match target.read("memory", "memory.max").as_deref() {
                Some("max") | None => -1,
                Some(text) => text.parse().unwrap_or(-1),
            },
        };
        let value = match (swap, limit) {
            (-1, _) => "max".to_string(),
            (_, -1) => bail!("linux.resources.memory.swap needs a memory limit on cgroup v2"),
            (swap, limit) if swap < limit => {
                bail!("linux.resources.memory.swap ({swap}) is below the memory limit ({limit})")
            }
            (swap, limit) => (swap - limit).to_string(),
        };
        target.write("memory", "memory.swap.max", &value)?;
    }
    Ok(())
}

/// The CFS bandwidth: `quota` µs of CPU every `period` µs; a quota of -1 is none. Given one
/// alone, the other keeps its current value.
fn cpu_bandwidth(target: &Target, quota: Option<i64>, period: Option<u64>) -> Result<()> {
    if quota.is_none() && period.is_none() {
        return Ok(());
    }
    if target.v2 {
        let current = target.read("cpu", "cpu.max").unwrap_or_default();
        let mut parts = current.split_whitespace();
        let old_quota = parts.next().unwrap_or("max").to_string();
        let old_period = parts.next().unwrap_or("100000").to_string();
        let quota = match quota {
            Some(q) if q < 0 => "max".to_string(),
            Some(q) => q.to_string(),
            None => old_quota,
        };
        let period = period.map(|p| p.to_string()).unwrap_or(old_period);
        return target.write("cpu", "cpu.max", &format!("{quota} {period}"));
    }
    // v1 checks quota against period on every write: if one order is refused, try the other.
    let writes = |first_period: bool| -> Result<()> {
        let quota_write = || match quota {
            Some(q) => target.write("cpu", "cpu.cfs_quota_us", &q.max(-1).to_string()),
            None => Ok(()),
        };
        let period_write = || match period {
            Some(p) => target.write("cpu", "cpu.cfs_period_us", &p.to_string()),
            None => Ok(()),
        };
        if first_period {
            period_write()?;
            quota_write()
        } else {
            quota_write()?;
            period_write()
        }
    };
    writes(true).or_else(|_| writes(false))
}
