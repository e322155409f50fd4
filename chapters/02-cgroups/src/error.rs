//! The errors of this chapter: each names what was done to which cgroup file, and the errno.

pub use ch01_namespaces::common::{ExitCode, Failure, FileError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system call on the cgroup tree failed: `mkdir /sys/fs/cgroup/memory/baleia/x:
    /// Permission denied (os error 13)`.
    #[error(transparent)]
    File(#[from] FileError),

    /// Writing a limit into a cgroup file failed (the kernel refused the value, or the file is
    /// missing because the controller is not enabled there).
    #[error("write {value:?} to {path}: {reason}")]
    Write {
        path: PathBuf,
        value: String,
        reason: String,
    },

    /// A cgroup file did not hold what its documentation says it holds.
    #[error("read {path}: unexpected content {content:?}")]
    Parse { path: PathBuf, content: String },

    /// The cgroup of that name already exists: a container of that name is running, or a
    /// runner was killed before it could clean up.
    #[error(
        "a container named {name:?} exists already ({path} exists): pick another --name, or if \
         nothing runs in it, remove it with `rmdir {path}`"
    )]
    NameInUse { name: String, path: PathBuf },

    /// No cgroup for that container: it is not running (or ran under another --cgroup-parent).
    #[error("no container named {name:?} is running: {path} does not exist")]
    NotRunning { name: String, path: PathBuf },

    /// A limit asks for a controller this host does not offer.
    #[error("{flag} needs the {controller} controller, which {why}")]
    MissingController {
        flag: &'static str,
        controller: &'static str,
        why: String,
    },

    /// The cgroup tree at /sys/fs/cgroup is not one we understand.
    #[error("cgroup mode: {0}")]
    Mode(String),

    /// The caller asked for something that cannot work (a bad limit, a bad name).
    #[error("{0}")]
    Invalid(String),

    /// Starting or running the container itself failed (chapter 01's errors).
    #[error(transparent)]
    Container(#[from] ch01_namespaces::Error),
}

impl ExitCode for Error {
    /// Chapter 01's code when starting the container failed there (127 for a command not
    /// found...).
    fn exit_code(&self) -> i32 {
        match self {
            Error::Container(inner) => inner.exit_code(),
            _ => ch01_namespaces::common::exit::ENGINE,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
