//! The errors of this chapter: each names the system call or file operation, the path, and the
//! errno.

pub use ch01_namespaces::common::{ExitCode, Failure, FileError, SyscallError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mount-related system call failed: `mount(overlay on /var/lib/...): EINVAL: ...`.
    #[error(transparent)]
    Syscall(#[from] SyscallError),

    /// A file operation on the container's directories failed.
    #[error(transparent)]
    File(#[from] FileError),

    /// No kept container with that id (or name) under the state root.
    #[error("no container {0:?} (only containers run with --keep stay after they exit)")]
    NoSuchContainer(String),

    /// The caller asked for something that cannot work.
    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Namespaces(#[from] ch01_namespaces::Error),

    #[error(transparent)]
    Cgroups(#[from] ch02_cgroups::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ExitCode for Error {
    /// Chapter 01's code when the container failed to start there, so the binary can still
    /// exit 126/127 for a command that cannot run.
    fn exit_code(&self) -> i32 {
        match self {
            Error::Namespaces(inner) => inner.exit_code(),
            Error::Cgroups(inner) => inner.exit_code(),
            _ => ch01_namespaces::common::exit::ENGINE,
        }
    }
}
