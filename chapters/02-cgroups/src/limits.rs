//! The limits a container asks for, parsed from Docker's flag syntax, and the arithmetic that
//! turns them into what the kernel files take.

use crate::error::{Error, Result};
use std::fmt;

/// The limits of one container. `None` means "no limit" (the cgroup still accounts usage).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Memory, in bytes (`--memory`). Swap is limited with it: memory + swap = this.
    pub memory: Option<u64>,
    /// CPU bandwidth (`--cpus`).
    pub cpu_quota: Option<CpuQuota>,
    /// Relative CPU weight (`--cpu-shares`, v1's unit; 1024 is the default share).
    pub cpu_shares: Option<u64>,
    /// Most processes and threads at once (`--pids-limit`).
    pub pids: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }
}

/// CFS bandwidth control: the group may run `quota_us` microseconds of CPU time in every
/// `period_us` (read the kernel's `Documentation/scheduler/sched-bwc.rst`). `--cpus 0.5` is
/// 50 000 µs every 100 000 µs: half of one CPU, spread over any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuQuota {
    pub quota_us: u64,
    pub period_us: u64,
}

/// The period Docker uses; the kernel's default too.
pub const CPU_PERIOD_US: u64 = 100_000;

/// Docker refuses memory limits below 6 MiB: a container could not even start its program.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

impl CpuQuota {
    /// `--cpus N` as quota/period, like `docker run --cpus`.
    pub fn from_cpus(cpus: f64) -> Result<CpuQuota> {
        // exercise 02.5: --cpus 0.5: a CFS quota per 100 ms period
        let online = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        if !(0.01..=online).contains(&cpus) {
            return Err(Error::Invalid(format!(
                "--cpus {cpus}: the range of CPUs is from 0.01 to {online:.2}"
            )));
        }
        Ok(CpuQuota {
            quota_us: (cpus * CPU_PERIOD_US as f64).round() as u64,
            period_us: CPU_PERIOD_US,
        })
        // end of exercise 02.5
    }
}

impl fmt::Display for CpuQuota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cpus = self.quota_us as f64 / self.period_us as f64;
        write!(f, "{cpus:.2} CPUs")
    }
}

/// `--cpus 0.5`.
pub fn parse_cpus(text: &str) -> Result<CpuQuota> {
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| Error::Invalid(format!("--cpus {text:?}: not a number of CPUs")))?;
    CpuQuota::from_cpus(cpus)
}

/// `--memory 64m`: a number with an optional unit b, k, m or g (powers of 1024, as Docker).
pub fn parse_memory(text: &str) -> Result<u64> {
    // exercise 02.1: --memory 64m: a size with Docker's units, in bytes
    let bad = || {
        Error::Invalid(format!(
            "--memory {text:?}: expected a size like 64m, 512k or 1g"
        ))
    };
    let lower = text.trim().to_ascii_lowercase();
    let (digits, unit) = match lower.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => lower.split_at(at),
        None => (lower.as_str(), ""),
    };
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return Err(bad()),
    };
    let bytes = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(bad)?;
    if bytes < MIN_MEMORY {
        return Err(Error::Invalid(format!(
            "--memory {text}: the minimum memory limit allowed is 6MiB"
        )));
    }
    Ok(bytes)
    // end of exercise 02.1
}

/// `--cpu-shares N`: v1's relative weight, 2 to 262144 (1024 is everyone's default).
pub fn check_shares(shares: u64) -> Result<u64> {
    if (2..=262_144).contains(&shares) {
        Ok(shares)
    } else {
        Err(Error::Invalid(format!(
            "--cpu-shares {shares}: shares go from 2 to 262144 (the default is 1024)"
        )))
    }
}

/// `--pids-limit N`: at least 1.
pub fn check_pids(pids: u64) -> Result<u64> {
    if pids >= 1 {
        Ok(pids)
    } else {
        Err(Error::Invalid(
            "--pids-limit 0: a container needs at least one process".into(),
        ))
    }
}

/// v2 has `cpu.weight` (1 to 10000, default 100) instead of v1's `cpu.shares` (2 to 262144,
/// default 1024). The same linear map runc and Docker use: 2 → 1, 262144 → 10000, and the
/// default 1024 → 39 (so not quite 100: the scales do not line up).
pub fn shares_to_weight(shares: u64) -> u64 {
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// Bytes in the units people read: `64.0 MiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_use_dockers_units() {
        assert_eq!(parse_memory("64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory("64M").unwrap(), 64 << 20);
        assert_eq!(parse_memory("64mb").unwrap(), 64 << 20);
        assert_eq!(parse_memory("1g").unwrap(), 1 << 30);
        assert_eq!(parse_memory("8192k").unwrap(), 8 << 20);
        assert_eq!(parse_memory("10000000").unwrap(), 10_000_000);
        assert_eq!(parse_memory("10000000b").unwrap(), 10_000_000);
    }

    #[test]
    fn bad_memory_sizes_are_refused_clearly() {
        for bad in ["", "m", "64x", "-64m", "1.5g", "99999999999999g"] {
            let error = parse_memory(bad).unwrap_err().to_string();
            assert!(error.contains("expected a size"), "{bad}: {error}");
        }
        assert!(parse_memory("1m")
            .unwrap_err()
            .to_string()
            .contains("minimum"));
    }

    #[test]
    fn cpus_become_a_quota_per_100ms_period() {
        assert_eq!(
            parse_cpus("0.5").unwrap(),
            CpuQuota {
                quota_us: 50_000,
                period_us: 100_000
            }
        );
        assert_eq!(parse_cpus("0.2").unwrap().quota_us, 20_000);
        assert_eq!(parse_cpus("1").unwrap().quota_us, 100_000);
        assert!(parse_cpus("0.001").is_err());
        assert!(parse_cpus("1000").is_err());
        assert!(parse_cpus("half").is_err());
    }

    #[test]
    fn shares_map_onto_v2_weights_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert!(check_shares(1).is_err());
        assert!(check_shares(262_145).is_err());
        assert!(check_pids(0).is_err());
    }

    #[test]
    fn bytes_read_well() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(64 << 20), "64.0 MiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
