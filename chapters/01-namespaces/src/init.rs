//! A minimal init, for `--init`: what to run as PID 1 when the command was not written to be one.
//!
//! PID 1 of a PID namespace has two duties nobody else has. Orphaned processes are re-parented
//! to it, so it must `wait(2)` for them or they stay zombies; and the kernel does not deliver
//! signals to it that it has no handler for, so a plain `sleep` as PID 1 ignores SIGTERM and
//! `docker stop` has to wait for its timeout and SIGKILL. This init forks the command as PID 2,
//! reaps every child, passes signals on, and exits with the command's exit code (as Docker's
//! `--init`, tini, does).

use crate::channel::Channel;
use crate::common::Failure;
use crate::error::{Error, Result};
use crate::exec::exec_command;
use crate::explain;
use crate::process::{exit_now, fail};
use crate::signals::{self, SignalForwarding};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::CString;

/// Become the init of the container: start `argv` as our child and look after it, then exit
/// with the command's exit code. Failures to start are reported on `channel`.
pub fn run_as_init(argv: &[CString], channel: Channel) -> ! {
    // Block before forking, so no signal can slip in between.
    let forwarding = SignalForwarding::block().unwrap_or_else(|error| fail(&channel, error));
    explain!("fork(): the init stays PID 1 and the command becomes PID 2");
    // SAFETY: this process is single-threaded (it was created by fork/clone and has started no
    // threads), so the child may run any code.
    match unsafe { fork() } {
        Err(errno) => fail(
            &channel,
            Error::syscall("fork", "the command under init", errno),
        ),
        Ok(ForkResult::Child) => {
            let error = match signals::reset_for_exec() {
                Ok(()) => exec_command(argv),
                Err(error) => error,
            };
            fail(&channel, error)
        }
        Ok(ForkResult::Parent { child }) => {
            // The command holds its own copy of the channel; ours must close, so that the
            // parent sees end-of-file exactly when the command's execve succeeds.
            drop(channel);
            match supervise(child, &forwarding) {
                Ok(code) => exit_now(code),
                Err(error) => {
                    eprintln!("init: {error}");
                    exit_now(125)
                }
            }
        }
    }
}

/// Reap every child that exits; forward signals to the command; return once it has exited.
fn supervise(command: Pid, forwarding: &SignalForwarding) -> Result<i32> {
    loop {
        if let Some(code) = reap_children(command)? {
            return Ok(code);
        }
        let signal = forwarding.next_signal()?;
        if signal != nix::sys::signal::Signal::SIGCHLD {
            let _ = kill(command, signal);
        }
    }
}

/// Collect every exited child. Returns the command's exit code once the command is among them.
fn reap_children(command: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return Ok(None),
            Ok(status) => {
                if status.pid() == Some(command) {
                    if let Some(code) = signals::exit_code(status) {
                        return Ok(Some(code));
                    }
                }
            }
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::syscall("waitpid", "-1, WNOHANG", errno)),
        }
    }
}
