//! Reading what a cgroup accounted: memory, CPU time, processes, and the events that tell why
//! a container died (the OOM killer) or could not fork (the pids limit).
//!
//! | what                | v1 file                                 | v2 file                         |
//! |---------------------|-----------------------------------------|---------------------------------|
//! | memory now / peak   | `memory.usage_in_bytes` / `memory.max_usage_in_bytes` | `memory.current` / `memory.peak` |
//! | memory limit        | `memory.limit_in_bytes`                 | `memory.max`                    |
//! | OOM kills           | `memory.oom_control`, key `oom_kill`    | `memory.events`, key `oom_kill` |
//! | limit reached       | `memory.failcnt`                        | `memory.events`, key `max`      |
//! | CPU time            | `cpuacct.usage` (ns)                    | `cpu.stat`, key `usage_usec`    |
//! | processes now/peak  | `pids.current` / `pids.peak`            | the same                        |
//! | forks refused       | `pids.events`, key `max`                | the same                        |
//!
//! We read these few files ourselves (cgroups-rs's `memory_stat` reads a dozen and panics on
//! some that a kernel may not have, and it has no reader for `memory.events`).

use crate::cgroup::ContainerCgroup;
use crate::limits::human_bytes;
use crate::mode::Controller;
use std::path::Path;
use std::time::Duration;

/// What a cgroup accounted; `None` where this host's kernel does not offer the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub memory_current: Option<u64>,
    pub memory_peak: Option<u64>,
    /// `None` also when unlimited.
    pub memory_limit: Option<u64>,
    pub oom_kills: Option<u64>,
    /// How many times usage hit the memory limit (v1 `memory.failcnt`, v2 `memory.events`
    /// `max`): the evidence left when a kernel older than 4.13 has no `oom_kill` counter.
    pub memory_limit_hits: Option<u64>,
    pub cpu_time: Option<Duration>,
    pub pids_current: Option<u64>,
    pub pids_peak: Option<u64>,
    /// `None` also when unlimited.
    pub pids_limit: Option<u64>,
    /// How many times `fork`/`clone` failed because of `pids.max`.
    pub forks_refused: Option<u64>,
}

impl Usage {
    /// Read the cgroup's accounting files.
    pub fn read(cgroup: &ContainerCgroup) -> Usage {
        let v2 = cgroup.mode().is_v2();
        let mut usage = Usage::default();
        if let Some(dir) = cgroup.dir_of(Controller::Memory) {
            if v2 {
                usage.memory_current = read_number(&dir.join("memory.current"));
                usage.memory_peak = read_number(&dir.join("memory.peak"));
                usage.memory_limit = read_number(&dir.join("memory.max"));
                usage.oom_kills = read_key(&dir.join("memory.events"), "oom_kill");
                usage.memory_limit_hits = read_key(&dir.join("memory.events"), "max");
            } else {
                usage.memory_current = read_number(&dir.join("memory.usage_in_bytes"));
                usage.memory_peak = read_number(&dir.join("memory.max_usage_in_bytes"));
                usage.memory_limit = read_number(&dir.join("memory.limit_in_bytes"));
                usage.oom_kills = read_key(&dir.join("memory.oom_control"), "oom_kill");
                usage.memory_limit_hits = read_number(&dir.join("memory.failcnt"));
            }
        }
        usage.cpu_time = if v2 {
            // cpu.stat exists in every v2 cgroup, with or without the cpu controller.
            cgroup.dirs().first().and_then(|d| {
                read_key(&d.path.join("cpu.stat"), "usage_usec").map(Duration::from_micros)
            })
        } else {
            cgroup
                .dir_of(Controller::CpuAcct)
                .and_then(|dir| read_number(&dir.join("cpuacct.usage")))
                .map(Duration::from_nanos)
        };
        if let Some(dir) = cgroup.dir_of(Controller::Pids) {
            usage.pids_current = read_number(&dir.join("pids.current"));
            usage.pids_peak = read_number(&dir.join("pids.peak"));
            usage.pids_limit = read_number(&dir.join("pids.max"));
            usage.forks_refused = read_key(&dir.join("pids.events"), "max");
        }
        usage
    }

    /// Why the container ended or struggled, if the cgroup's events say: one line each. `exit`
    /// is the container's exit code (137 is SIGKILL, which is what the OOM killer sends).
    pub fn events_report(&self, exit: i32) -> Vec<String> {
        // exercise 02.4: the OOM report: why the container ended, from the cgroup's events
        let mut lines = Vec::new();
        let limit = self
            .memory_limit
            .map(|l| format!(" (memory limit {})", human_bytes(l)))
            .unwrap_or_default();
        match self.oom_kills {
            Some(kills) if kills > 0 && exit == 137 => {
                lines.push(format!("killed: out of memory{limit}"));
            }
            Some(kills) if kills > 0 => lines.push(format!(
                "out of memory: the OOM killer killed {kills} process(es) in the container{limit}"
            )),
            Some(_) => {}
            None if exit == 137 && self.memory_limit_hits.is_some_and(|hits| hits > 0) => {
                lines.push(format!(
                    "killed, after reaching its memory limit: probably out of memory{limit}"
                ));
            }
            None => {}
        }
        if let Some(refused) = self.forks_refused.filter(|n| *n > 0) {
            let limit = self.pids_limit.map_or("?".into(), |l| l.to_string());
            let peak = self
                .pids_peak
                .map(|p| format!(", peak {p} processes"))
                .unwrap_or_default();
            lines.push(format!(
                "pids limit reached: {refused} fork(s) failed (pids.max {limit}{peak})"
            ));
        }
        lines
        // end of exercise 02.4
    }

    /// One line of what the container used, for `--summary`.
    pub fn summary(&self) -> String {
        format!(
            "cgroup summary: cpu {}, memory peak {}, pids peak {}",
            self.cpu_time
                .map_or("?".into(), |t| format!("{:.3} s", t.as_secs_f64())),
            self.memory_peak.map_or("?".into(), human_bytes),
            self.pids_peak.map_or("?".into(), |p| p.to_string()),
        )
    }

    /// `key: value` lines, for `stats` (what `docker stats` shows).
    pub fn table(&self) -> String {
        let or_none = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let limit = |v: Option<String>| v.unwrap_or_else(|| "unlimited".into());
        format!(
            "memory: {} / {}\nmemory peak: {}\ncpu time: {}\npids: {} / {}\n",
            or_none(self.memory_current.map(human_bytes)),
            limit(self.memory_limit.map(human_bytes)),
            or_none(self.memory_peak.map(human_bytes)),
            or_none(self.cpu_time.map(|t| format!("{:.3} s", t.as_secs_f64()))),
            or_none(self.pids_current.map(|p| p.to_string())),
            limit(self.pids_limit.map(|p| p.to_string())),
        )
    }
}

/// v1 writes "no limit" as a huge number (the largest page-aligned i64), v2 as `max`.
const UNLIMITED_ABOVE: u64 = 1 << 62;

/// A file holding one number, or `max`. `None` if missing, `max` or "unlimited".
fn read_number(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| *n < UNLIMITED_ABOVE)
}

/// A "flat keyed" file (`key value` lines, read the kernel's cgroup-v2.rst): one key's value.
fn read_key(path: &Path, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    flat_keyed(&text, key)
}

pub(crate) fn flat_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_files_are_read_by_key() {
        let oom_control = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(flat_keyed(oom_control, "oom_kill"), Some(2));
        assert_eq!(flat_keyed(oom_control, "oom_kill_disable"), Some(0));
        assert_eq!(flat_keyed("max 81\n", "max"), Some(81));
        assert_eq!(flat_keyed("max.imposed 3\nmax 0\n", "max"), Some(0));
        assert_eq!(flat_keyed("", "max"), None);
    }

    #[test]
    fn reports_name_the_event() {
        let oom = Usage {
            oom_kills: Some(1),
            memory_limit: Some(64 << 20),
            ..Usage::default()
        };
        assert_eq!(
            oom.events_report(137),
            ["killed: out of memory (memory limit 64.0 MiB)"]
        );
        assert!(oom.events_report(0)[0].starts_with("out of memory: the OOM killer killed 1"));
        let forks = Usage {
            forks_refused: Some(81),
            pids_limit: Some(20),
            pids_peak: Some(20),
            ..Usage::default()
        };
        assert_eq!(
            forks.events_report(0),
            ["pids limit reached: 81 fork(s) failed (pids.max 20, peak 20 processes)"]
        );
        assert!(Usage::default().events_report(137).is_empty());
        let old_kernel = Usage {
            memory_limit_hits: Some(3),
            ..Usage::default()
        };
        assert_eq!(
            old_kernel.events_report(137),
            ["killed, after reaching its memory limit: probably out of memory"]
        );
        assert!(old_kernel.events_report(0).is_empty());
    }
}
