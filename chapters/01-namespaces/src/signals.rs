//! Signals and exit codes: how a container stops, and how we tell the caller why.
//!
//! The process that started a container stands between the user and the container: when the
//! user presses Ctrl-C (SIGINT) or an engine asks it to stop (SIGTERM), the container must get
//! that signal, not the middleman. We *block* those signals and collect them with `sigwait(3)`
//! instead of installing handlers, which keeps the waiting loop free of async-signal-safety
//! puzzles (read `signal(7)`, "Synchronously accepting a signal").

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use nix::errno::Errno;
use nix::sys::signal::{kill, pthread_sigmask, sigaction, SaFlags, SigAction, SigHandler};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// The signals a parent passes on to the container rather than dying of them.
pub const FORWARDED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Docker's exit code for a finished process: its own code, or 128+N when signal N killed it
/// (so 137 is SIGKILL, often the OOM killer, and 143 is SIGTERM).
pub fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
        _ => None,
    }
}

/// `waitpid(2)` for one process until it has exited, retrying on EINTR; returns its exit code.
pub fn wait_for_exit(pid: Pid) -> Result<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return Ok(code);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::syscall("waitpid", pid.to_string(), errno)),
        }
    }
}

fn forwarded_and_sigchld() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// While alive, the forwarded signals and SIGCHLD are blocked in this thread, so that
/// [`SignalForwarding::wait`] can collect them. Create it *before* spawning the container: a
/// Ctrl-C that arrived between the fork and the wait would otherwise kill only the parent.
/// Dropping it restores the previous signal mask.
pub struct SignalForwarding {
    previous: SigSet,
}

impl SignalForwarding {
    pub fn block() -> Result<Self> {
        let mut previous = SigSet::empty();
        pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&forwarded_and_sigchld()),
            Some(&mut previous),
        )
        .map_err(|errno| Error::syscall("pthread_sigmask", "SIG_BLOCK", errno))?;
        Ok(SignalForwarding { previous })
    }

    /// Wait until `pid` exits, passing every forwarded signal we receive on to it. Returns the
    /// Docker-style exit code.
    pub fn wait(&self, pid: Pid) -> Result<i32> {
        loop {
            // Check first: SIGCHLD may have arrived (and been merged with others) before we
            // got here. A still-pending SIGCHLD makes the sigwait below return at once.
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => {
                    if let Some(code) = exit_code(status) {
                        return Ok(code);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Error::syscall("waitpid", pid.to_string(), errno)),
            }
            let signal = self.next_signal()?;
            if signal != Signal::SIGCHLD {
                explain!("received {signal}: forwarding it to pid {pid} with kill(2)");
                // ESRCH only means it exited meanwhile; the next waitpid sees that.
                let _ = kill(pid, signal);
            }
        }
    }

    /// Sleep until one of the blocked signals arrives, and take it.
    pub fn next_signal(&self) -> Result<Signal> {
        forwarded_and_sigchld()
            .wait()
            .map_err(|errno| Error::syscall("sigwait", "forwarded signals and SIGCHLD", errno))
    }
}

impl Drop for SignalForwarding {
    fn drop(&mut self) {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.previous), None);
    }
}

/// Give the command a clean slate: no blocked signals and default dispositions. Both the mask
/// and ignored signals survive `execve(2)`, so without this a container started by a parent
/// that blocks SIGTERM could never be stopped gracefully.
pub fn reset_for_exec() -> Result<()> {
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(|errno| Error::syscall("pthread_sigmask", "SIG_SETMASK, empty", errno))?;
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for signal in Signal::iterator() {
        if signal == Signal::SIGKILL || signal == Signal::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL runs no code of ours in signal context.
        unsafe { sigaction(signal, &default) }
            .map_err(|errno| Error::syscall("sigaction", format!("{signal}, SIG_DFL"), errno))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_docker() {
        let pid = Pid::from_raw(7);
        assert_eq!(exit_code(WaitStatus::Exited(pid, 0)), Some(0));
        assert_eq!(exit_code(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(
            exit_code(WaitStatus::Signaled(pid, Signal::SIGTERM, true)),
            Some(143)
        );
        assert_eq!(exit_code(WaitStatus::StillAlive), None);
    }
}
