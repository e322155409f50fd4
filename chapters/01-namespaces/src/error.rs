//! The errors of this chapter: each names the system call, what it was called on, and the errno.

pub use crate::common::{Failure, FileError, SyscallError};

/// What a step the caller added (a parent-side or child-side step) may fail with.
pub type StepError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed: `unshare(CLONE_NEWPID): EPERM: Operation not permitted`.
    #[error(transparent)]
    Syscall(#[from] SyscallError),

    /// Reading or writing a file (usually under /proc) failed.
    #[error(transparent)]
    File(#[from] FileError),

    /// A parent-side step added by the caller failed.
    #[error("{step}: {source}")]
    ParentStep { step: String, source: StepError },

    /// Something failed inside the new process before the command could start: a child-side
    /// step, or `execve` itself. `exit_code` is what Docker would exit with: 127 when the command
    /// does not exist, 126 when it cannot be run, 125 for anything else.
    #[error("{step}: {message}")]
    InContainer {
        step: String,
        message: String,
        exit_code: i32,
    },

    /// The processes stopped talking to each other in an unexpected way.
    #[error("setup protocol: {0}")]
    Protocol(String),

    /// The caller asked for something that cannot work.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// The exit code a container engine reports when this error stops a container from
    /// starting (see "exit codes" in docker-run(1)).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::InContainer { exit_code, .. } => *exit_code,
            _ => crate::common::exit::ENGINE,
        }
    }
}

impl crate::common::ExitCode for Error {
    fn exit_code(&self) -> i32 {
        Error::exit_code(self)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
