//! `top` and `stats`: what runs in a container and what it uses, read from its cgroup
//! (chapter 02), in the Docker API's shapes.

use super::{ApiError, ApiResult, Engine, Found};
use ch02_cgroups::{ContainerCgroup, Usage};
use serde_json::{json, Value};
use std::os::unix::fs::OpenOptionsExt;

impl Engine {
    fn cgroup_of(&self, found: &Found) -> ApiResult<ContainerCgroup> {
        if !found.running() {
            return Err(ApiError::conflict(format!(
                "container {} is not running",
                found.id()
            )));
        }
        let layout = ch02_cgroups::delegation::layout_for_caller().map_err(ApiError::internal)?;
        ContainerCgroup::open(&layout, &self.cgroup_parent, found.id()).map_err(ApiError::internal)
    }

    /// `GET /containers/{id}/top`: the processes in the container's cgroup, as the host sees
    /// them (pids, parents, commands from /proc).
    pub fn top(&self, wanted: &str) -> ApiResult<Value> {
        let found = self.find(wanted)?;
        let cgroup = self.cgroup_of(&found)?;
        let processes: Vec<Value> = cgroup
            .pids()
            .into_iter()
            .filter_map(|pid| {
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
                let field = |name: &str| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
                        .unwrap_or_default()
                };
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmdline)
                    .split('\0')
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(json!([field("Uid:"), pid.to_string(), field("PPid:"), cmd]))
            })
            .collect();
        Ok(json!({ "Titles": ["UID", "PID", "PPID", "CMD"], "Processes": processes }))
    }

    /// One sample of `GET /containers/{id}/stats`.
    pub fn stats_sample(&self, found: &Found, previous: &Value) -> ApiResult<Value> {
        let cgroup = self.cgroup_of(found)?;
        let usage = Usage::read(&cgroup);
        let system_ns = system_cpu_ns();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(json!({
            "id": found.id(),
            "name": format!("/{}", found.record.name),
            "read": crate::time::rfc3339_nanos(crate::time::now_nanos()),
            "preread": previous.get("read").cloned().unwrap_or(json!(crate::time::ZERO)),
            "pids_stats": { "current": usage.pids_current, "limit": usage.pids_limit },
            "memory_stats": {
                "usage": usage.memory_current,
                "max_usage": usage.memory_peak,
                "limit": usage.memory_limit.filter(|l| *l < i64::MAX as u64 / 2).unwrap_or_else(mem_total),
                "stats": {},
            },
            "cpu_stats": {
                "cpu_usage": { "total_usage": usage.cpu_time.map(|t| t.as_nanos() as u64) },
                "system_cpu_usage": system_ns,
                "online_cpus": cpus,
                "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
            },
            "precpu_stats": previous.get("cpu_stats").cloned().unwrap_or(json!({
                "cpu_usage": { "total_usage": 0 }, "throttling_data": {}
            })),
            "blkio_stats": {},
            "networks": {},
        }))
    }
}

/// All CPUs' time since boot, in nanoseconds (the first line of /proc/stat, in clock ticks):
/// the denominator of Docker's CPU %.
fn system_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / per_second)
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

impl Engine {
    /// `POST /containers/{id}/resize`: set the size of the container's terminal
    /// (`TIOCSWINSZ` on its pty, read tty_ioctl(4)); the kernel sends SIGWINCH to its
    /// foreground processes.
    pub fn resize(&self, wanted: &str, rows: u16, cols: u16) -> ApiResult<()> {
        let found = self.find(wanted)?;
        if !found.running() || !found.state.tty {
            return Ok(());
        }
        // Its fd 0 is its terminal's slave side; opening it through /proc reaches the pty
        // of the container's own devpts from the host.
        let pty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(format!("/proc/{}/fd/0", found.state.pid))
            .map_err(ApiError::internal)?;
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer we pass.
        let ret = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&pty),
                libc::TIOCSWINSZ,
                &size,
            )
        };
        if ret < 0 {
            return Err(ApiError::internal(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}
