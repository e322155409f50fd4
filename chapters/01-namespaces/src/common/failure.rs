//! The two shapes almost every failure in the course takes, and the one chaining policy.
//!
//! - [`SyscallError`]: a system call, what it was called on, and the errno it returned:
//!   `unshare(CLONE_NEWPID): EPERM: Operation not permitted`.
//! - [`FileError`]: a file operation, its path, and the `std::io::Error`:
//!   `read /proc/self/uid_map: Permission denied (os error 13)`.
//!
//! **Chaining policy.** An error's message includes its cause, so it does *not* also return the
//! cause from `source()`: printed as a chain (`{:#}` with anyhow, which joins each error's
//! message and its source's with ": "), the errno appears once. A chapter that wraps an earlier
//! chapter's error does it with `#[error(transparent)]`, which adds no words of its own.
//!
//! Each chapter's `Error` enum holds these as variants (`Syscall(SyscallError)`,
//! `File(FileError)`) and gets the constructors of [`Failure`] for free.

use nix::errno::Errno;
use std::path::PathBuf;

/// A system call failed.
#[derive(Debug, thiserror::Error)]
#[error("{call}({args}): {errno}")]
pub struct SyscallError {
    pub call: &'static str,
    /// What it was called on, as the learner would write it: `CLONE_NEWPID`, `/proc/1/ns/net`.
    pub args: String,
    pub errno: Errno,
}

/// A file operation failed. (`cause` is in the message, not chained as a `source`: see the
/// module's chaining policy.)
#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {cause}", path.display())]
pub struct FileError {
    pub action: &'static str,
    pub path: PathBuf,
    pub cause: std::io::Error,
}

impl FileError {
    /// The errno behind the failure, if the kernel gave one.
    pub fn errno(&self) -> Option<Errno> {
        self.cause.raw_os_error().map(Errno::from_raw)
    }
}

/// The constructors every chapter's error type gets: `Error::syscall("mount", args, errno)`
/// and `.map_err(Error::file("read", &path))`. Implemented for every error type; each method
/// is there for the types that can hold its shape.
pub trait Failure: Sized {
    /// A failed system call.
    fn syscall(call: &'static str, args: impl Into<String>, errno: Errno) -> Self
    where
        Self: From<SyscallError>,
    {
        SyscallError {
            call,
            args: args.into(),
            errno,
        }
        .into()
    }

    /// A closure for `map_err` on `std::io` results about `path`.
    fn file(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self
    where
        Self: From<FileError>,
    {
        let path = path.into();
        move |cause| {
            FileError {
                action,
                path,
                cause,
            }
            .into()
        }
    }
}

impl<E: std::error::Error> Failure for E {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_error_prints_its_errno_once_in_a_chain() {
        let error = FileError {
            action: "read",
            path: "/nope".into(),
            cause: std::io::Error::from_raw_os_error(2),
        };
        assert_eq!(error.errno(), Some(Errno::ENOENT));
        let chain = format!("{:#}", anyhow::Error::new(error));
        assert_eq!(chain.matches("os error 2").count(), 1, "{chain}");
    }
}
