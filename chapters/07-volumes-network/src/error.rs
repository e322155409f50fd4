//! The errors of this chapter: each names the system call, file, netlink request or command
//! that failed, what it was about, and why.

use nix::errno::Errno;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed: `move_mount(volume on /data): ENOENT: No such file or directory`.
    #[error("{call}({args}): {errno}")]
    Syscall {
        call: &'static str,
        args: String,
        errno: Errno,
    },

    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    File {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },

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

    /// A closure for `map_err` on netlink results.
    pub fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Self {
        let what = what.into();
        move |source| Error::Netlink { what, source }
    }

    /// As an `anyhow::Error` that keeps the earlier chapters' innermost error, so the binary
    /// still exits 126/127 for a command that cannot run.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self {
            Error::Images(inner) => inner.into_anyhow(),
            Error::Rootfs(inner) => inner.into_anyhow(),
            other => other.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
