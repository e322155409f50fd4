//! The errors of this chapter: each names the system call, file, netlink request or command
//! that failed, what it was about, and why.

pub use ch01_namespaces::common::{ExitCode, Failure, FileError, SyscallError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed: `move_mount(volume on /data): ENOENT: No such file or directory`.
    #[error(transparent)]
    Syscall(#[from] SyscallError),

    /// A file operation failed.
    #[error(transparent)]
    File(#[from] FileError),

    /// A netlink request (read `rtnetlink(7)`) failed.
    #[error("netlink: {what}: {source}")]
    Netlink {
        what: String,
        source: rtnetlink::Error,
    },

    /// An external command (iptables) failed.
    #[error("{command}: {message}")]
    Command { command: String, message: String },

    /// A volume or network that does not exist.
    #[error("no such {kind}: {name}")]
    NotFound { kind: &'static str, name: String },

    /// Something still uses it (a volume mounted by a container, a network with containers).
    #[error("{0}")]
    InUse(String),

    /// The caller asked for something that cannot work.
    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Images(#[from] ch04_images::Error),

    #[error(transparent)]
    Rootfs(#[from] ch03_overlayfs::Error),
}

impl Error {
    /// A closure for `map_err` on netlink results.
    pub fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Self {
        let what = what.into();
        move |source| Error::Netlink { what, source }
    }
}

impl ExitCode for Error {
    /// The earlier chapters' code when the container failed there, so the binary still exits
    /// 126/127 for a command that cannot run.
    fn exit_code(&self) -> i32 {
        match self {
            Error::Images(inner) => inner.exit_code(),
            Error::Rootfs(inner) => inner.exit_code(),
            _ => ch01_namespaces::common::exit::ENGINE,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
