//! How the daemon learns that a container changed, without looking at its files every few
//! milliseconds.
//!
//! A container ends inside its supervisor, another process, which records the end in
//! `state.json` and then exits. The daemon holds a *pidfd* of each supervisor
//! (`pidfd_open(2)`): `poll(2)` on it returns the moment that process has exited — no signal
//! handler, no polling, and no confusion with a later process that reuses the pid. The thread
//! that sees it (the container's watcher) then wakes everyone in the daemon who waits for a
//! container (`wait`, `rm -f`, `stop`, `run --rm`'s client) through one condition variable.
//!
//! Waiters still look again after [`FALLBACK`] on their own, so a change that comes some
//! other way (a kernel without pidfds, a file written by hand) is seen, only later.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How long a waiter sleeps at most before it looks again by itself.
pub const FALLBACK: Duration = Duration::from_millis(500);

/// A counter of changes and the condition variable its waiters sleep on.
#[derive(Default)]
pub struct Changes {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Changes {
    /// Something about some container changed: wake every waiter.
    pub fn notify(&self) {
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *generation += 1;
        self.changed.notify_all();
    }

    /// The current count: read it *before* looking at a container, then pass it to
    /// [`Changes::wait_after`], so a change between the look and the wait is not missed.
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleep until there was a change after `seen`, or for at most `limit`.
    pub fn wait_after(&self, seen: u64, limit: Duration) {
        let generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .changed
            .wait_timeout_while(generation, limit, |now| *now == seen);
    }
}

/// Block until process `pid` has exited. False if it cannot be watched this way (it is
/// already gone, or the kernel predates pidfds, Linux 5.3): the caller then polls.
pub fn wait_for_exit(pid: i32) -> bool {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut ready = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, waiting without a timeout.
        if unsafe { libc::poll(&mut ready, 1, -1) } >= 0 {
            return true;
        }
        if nix::errno::Errno::last() != nix::errno::Errno::EINTR {
            return false;
        }
    }
}
