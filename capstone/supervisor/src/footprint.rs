//! A supervisor's memory once its container runs.
//!
//! A supervisor is `baleia` itself, a 15 MB program: starting a container runs a good part of
//! it (reading the spec, cgroups, mounts, the clone), and every page of code it ran stays
//! mapped in it — `ps` counts them all in its resident set (RSS), about 5 MiB, though they are
//! the same page-cache pages for every supervisor and the daemon (compare `Rss` with `Pss` and
//! `Private_*` in /proc/PID/smaps_rollup, proc(5)). What it runs afterwards, for as long as
//! the container lives, is small: copy two pipes into a log, wait for one process.
//!
//! So once the container runs, the supervisor lets go of its mappings of code and read-only
//! data (`madvise(MADV_DONTNEED)`, madvise(2)): the pages stay in the page cache, only this
//! process's page-table entries go, and the few pages it still runs come back on first touch.
//! Its RSS then shows what it really costs. Never done to a mapping with private copies
//! (`Anonymous` pages — e.g. the relocated `.data.rel.ro`): for a private file mapping,
//! MADV_DONTNEED would throw the changes away and give back the file's bytes.

use std::io::{BufRead, BufReader};

/// Drop this process's mappings of unchanged, read-only file pages (code, constants).
/// Best effort: on any surprise it leaves things as they are.
pub fn release_startup_pages() {
    let Ok(smaps) = std::fs::File::open("/proc/self/smaps") else {
        return;
    };
    let mut current: Option<(usize, usize, bool)> = None;
    let mut releasable = Vec::new();
    for line in BufReader::new(smaps).lines().map_while(Result::ok) {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-') {
            // A mapping's header: "start-end perms offset dev inode [path]".
            let perms = fields.next().unwrap_or_default();
            let path = fields.nth(3).unwrap_or_default();
            let range = usize::from_str_radix(start, 16)
                .ok()
                .zip(usize::from_str_radix(end, 16).ok());
            current = range.map(|(s, e)| {
                let read_only_file = path.starts_with('/') && !perms.contains('w');
                (s, e, read_only_file)
            });
        } else if first == "Anonymous:" {
            // The mapping's count of privately changed pages: release only untouched ones.
            if let Some((start, end, true)) = current.take() {
                if fields.next() == Some("0") {
                    releasable.push((start, end));
                }
            }
        }
    }
    // The heap keeps what the start freed (the spec, parsed JSON); give its free top back.
    // SAFETY: malloc_trim(3) only returns free memory to the system.
    unsafe {
        libc::malloc_trim(0);
    }
    for (start, end) in releasable {
        // SAFETY: the range is a whole read-only file mapping of ours without private pages;
        // dropping its page-table entries changes no byte the process can read.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}
