//! The errors of this chapter: each names the system call or file operation, the path, and the
//! errno.

use nix::errno::Errno;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mount-related system call failed: `mount(overlay on /var/lib/...): EINVAL: ...`.
    #[error("{call}({args}): {errno}")]
    Syscall {
        call: &'static str,
        args: String,
        errno: Errno,
    },

    /// A file operation on the container's directories failed.
    #[error("{action} {path}: {source}")]
    File {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

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

impl Error {
    pub fn syscall(call: &'static str, args: impl Into<String>, errno: Errno) -> Self {
        Error::Syscall {
            call,
            args: args.into(),
            errno,
        }
    }

    /// A closure for `map_err` on `std::io` results about `path`.
    pub fn file(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::File {
            action,
            path,
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// As an `anyhow::Error` whose innermost error is chapter 01's when the failure happened
    /// there, so the binary can still exit 126/127 for a command that cannot run.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Error::Namespaces(inner) => inner.into(),
            Error::Cgroups(inner) => inner.into_anyhow(),
            other => other.into(),
        }
    }
}
