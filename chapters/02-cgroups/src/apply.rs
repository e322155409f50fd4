//! Writing a container's limits into its cgroup, before the container runs anything.
//!
//! | limit            | v1 file (its hierarchy)                          | v2 file            |
//! |------------------|--------------------------------------------------|--------------------|
//! | `--memory 64m`   | `memory.limit_in_bytes` = 67108864               | `memory.max`       |
//! | (swap, with it)  | `memory.memsw.limit_in_bytes` = the same         | `memory.swap.max` = 0 |
//! | `--cpus 0.5`     | `cpu.cfs_period_us` = 100000, `cpu.cfs_quota_us` = 50000 | `cpu.max` = `50000 100000` |
//! | `--cpu-shares N` | `cpu.shares` = N                                 | `cpu.weight` = 1 + (N-2)*9999/262142 |
//! | `--pids-limit N` | `pids.max` = N                                   | `pids.max` = N     |
//!
//! Each write is one `write(2)` of the value's text to the file; we narrate it with `--explain`,
//! and a refusal names the full path, the value and the errno (EINVAL for a value the kernel
//! will not take, ENOENT when the controller is not enabled there).
//!
//! Swap: v1's `memsw` counts memory *plus* swap, so setting it to the memory limit means "no
//! swap beyond the limit"; v2 counts swap on its own, so the same rule is `memory.swap.max = 0`.
//! (This is `docker run --memory 64m --memory-swap 64m`; plain Docker would allow as much swap
//! again.) Without it a process over its limit would be swapped out rather than stopped.

use crate::cgroup::ContainerCgroup;
use crate::error::{Error, Result};
use crate::limits::{human_bytes, shares_to_weight, Limits};
use crate::mode::Controller;
use ch01_namespaces::explain;
use std::fmt::Display;
use std::path::Path;

impl ContainerCgroup {
    /// Write `limits` into the cgroup's files.
    pub fn apply(&self, limits: &Limits) -> Result<()> {
        // exercise 02.3: write each limit into its cgroup file (v1 or v2)
        let v2 = self.mode().is_v2();
        if let Some(bytes) = limits.memory {
            let dir = self.needs(Controller::Memory, "--memory")?;
            let file = if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            write(dir, file, bytes, &human_bytes(bytes))?;
            if v2 && dir.join("memory.swap.max").exists() {
                write(dir, "memory.swap.max", 0, "no swap")?;
            } else if !v2 && dir.join("memory.memsw.limit_in_bytes").exists() {
                write(
                    dir,
                    "memory.memsw.limit_in_bytes",
                    bytes,
                    "memory + swap: no swap beyond the limit",
                )?;
            }
        }
        if let Some(quota) = limits.cpu_quota {
            let dir = self.needs(Controller::Cpu, "--cpus")?;
            let why = format!(
                "{quota}: {} µs of CPU time every {} µs",
                quota.quota_us, quota.period_us
            );
            if v2 {
                let value = format!("{} {}", quota.quota_us, quota.period_us);
                write(dir, "cpu.max", value, &why)?;
            } else {
                explain!(
                    "write {} to {} and {} to {} ({why})",
                    quota.quota_us,
                    dir.join("cpu.cfs_quota_us").display(),
                    quota.period_us,
                    dir.join("cpu.cfs_period_us").display()
                );
                set(dir, "cpu.cfs_quota_us", quota.quota_us)?;
                set(dir, "cpu.cfs_period_us", quota.period_us)?;
            }
        }
        if let Some(shares) = limits.cpu_shares {
            let dir = self.needs(Controller::Cpu, "--cpu-shares")?;
            if v2 {
                let weight = shares_to_weight(shares);
                let why = format!("weight for {shares} shares");
                write(dir, "cpu.weight", weight, &why)?;
            } else {
                write(dir, "cpu.shares", shares, "relative weight")?;
            }
        }
        if let Some(max) = limits.pids {
            let dir = self.needs(Controller::Pids, "--pids-limit")?;
            write(dir, "pids.max", max, "fork fails beyond this")?;
        }
        Ok(())
        // end of exercise 02.3
    }

    fn needs(&self, controller: Controller, flag: &'static str) -> Result<&Path> {
        self.dir_of(controller)
            .ok_or_else(|| Error::MissingController {
                flag,
                controller: controller.name(),
                why: if self.mode().is_v2() {
                    "the root cgroup's cgroup.controllers does not list".into()
                } else {
                    "is not mounted on this host".into()
                },
            })
    }
}

/// Narrate and perform one write of `value` to `dir/file`.
fn write(dir: &Path, file: &str, value: impl Display, why: &str) -> Result<()> {
    explain!("write {value} to {} ({why})", dir.join(file).display());
    set(dir, file, value)
}

/// Write `value` to `dir/file`: one `write(2)`; an error names the path, the value and the errno.
fn set(dir: &Path, file: &str, value: impl Display) -> Result<()> {
    let path = dir.join(file);
    let value = value.to_string();
    std::fs::write(&path, &value).map_err(|error| Error::Write {
        path,
        value,
        reason: error.to_string(),
    })
}
