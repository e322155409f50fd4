//! The errors of this chapter. Each one says what failed on what: the operation, the path (or
//! the blob, or the tar entry), and the cause the kernel or the parser gave.

pub use ch01_namespaces::common::{ExitCode, Failure, FileError};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed: `rename /var/lib/baleia/tmp/blob-1 to ...: EXDEV`.
    #[error(transparent)]
    File(#[from] FileError),

    /// A blob's content does not hash to the digest it was announced with. Nothing was stored.
    #[error("blob {expected}: content does not match its digest (it hashes to {actual})")]
    DigestMismatch { expected: String, actual: String },

    /// A tar entry that would write outside the layer directory, or that we refuse to create
    /// (see `unpack`): `layer entry "../etc/passwd": a ".." component could leave the layer`.
    #[error("layer entry {entry:?}: {reason}")]
    UnsafeEntry { entry: String, reason: String },

    /// A JSON document (manifest, config, index, archive manifest) that does not parse.
    #[error("{what}: {cause}")]
    Json {
        what: String,
        cause: serde_json::Error,
    },

    /// No image answers to this name, tag or id.
    #[error("no such image: {0}")]
    NoSuchImage(String),

    /// No container answers to this id or name.
    #[error("no such container: {0} (looked for {1})")]
    NoSuchContainer(String, PathBuf),

    /// An image a container still uses cannot be removed.
    #[error("image {image} is in use by container {container}: remove the container first")]
    InUse { image: String, container: String },

    /// An image reference that does not parse: `invalid reference "Busybox": repository names
    /// must be lowercase`.
    #[error("invalid reference {reference:?}: {why}")]
    Reference {
        reference: String,
        why: &'static str,
    },

    /// Input we cannot make sense of (an archive of an unknown format, a bad option...).
    #[error("{0}")]
    Invalid(String),

    /// Running a container failed (chapters 01 to 03).
    #[error(transparent)]
    Container(#[from] ch03_overlayfs::Error),
}

impl ExitCode for Error {
    /// Chapter 01's code when a container failed to start there, so the binary exits 126/127
    /// for a command that cannot run.
    fn exit_code(&self) -> i32 {
        match self {
            Error::Container(inner) => inner.exit_code(),
            _ => ch01_namespaces::common::exit::ENGINE,
        }
    }
}

impl Error {
    /// An unsafe tar entry, refused.
    pub fn unsafe_entry(entry: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::UnsafeEntry {
            entry: entry.into(),
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
