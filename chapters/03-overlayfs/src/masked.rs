//! Docker's masked and read-only paths: parts of /proc and /sys that would let a container read
//! the host's secrets or change the host's kernel, hidden or frozen.

use crate::error::Result;
use crate::mounts::{bind, mount_fs, remount_read_only};
use ch01_namespaces::explain;
use nix::mount::MsFlags;
use std::path::Path;

/// Hidden: a file is covered with /dev/null, a directory with an empty read-only tmpfs.
/// (`/proc/kcore` is the host's memory; `/proc/keys` the kernel keyrings; `timer_list` and
/// `sched_debug` leak other processes' details; `/sys/firmware` the host's firmware tables.)
pub const MASKED: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/firmware",
];

/// Readable but frozen: writing to these would change the whole host's kernel.
pub const READ_ONLY: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Apply both lists (Docker's are [`MASKED`] and [`READ_ONLY`]) under `root` (the new root,
/// before pivot_root). Paths this kernel does not have are skipped.
pub fn apply(root: &Path, masked: &[String], read_only: &[String]) -> Result<()> {
    // exercise 03.4: the new root, 1/2: masked paths hidden, kernel settings read-only
    let null = root.join("dev/null");
    for path in masked {
        let path = path.as_str();
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(crate::Error::Invalid(format!(
                "masked path {path:?}: give an absolute path without `..`"
            )));
        }
        let target = root.join(&path[1..]);
        let Ok(meta) = std::fs::metadata(&target) else {
            explain!("mask {path}: not on this kernel, nothing to hide");
            continue;
        };
        if meta.is_dir() {
            mount_fs(
                "tmpfs",
                &target,
                "tmpfs",
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )?;
        } else {
            bind(&null, &target, MsFlags::empty())?;
        }
    }
    for path in read_only {
        if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
            return Err(crate::Error::Invalid(format!(
                "read-only path {path:?}: give an absolute path without `..`"
            )));
        }
        let target = root.join(&path[1..]);
        if !target.exists() {
            continue;
        }
        bind(&target, &target, MsFlags::MS_REC)?;
        remount_read_only(&target, MsFlags::MS_REC)?;
    }
    Ok(())
    // end of exercise 03.4
}
