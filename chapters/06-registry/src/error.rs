//! The errors of this chapter: each says which request, to which URL, got what answer.

pub use ch01_namespaces::common::{Failure, FileError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name or value the user gave that cannot be used as it is: a push target pinned by
    /// digest, credentials without a ':', a platform we do not know. (A reference that does
    /// not parse is chapter 04's `Error::Reference`, inside `Store`.)
    #[error("{0}")]
    Reference(String),

    /// The connection failed (refused, reset, timed out, TLS) before an HTTP answer arrived.
    #[error("{method} {url}: {cause}")]
    Transport {
        method: String,
        url: String,
        cause: String,
    },

    /// The registry answered with an error status (and, usually, an OCI error body).
    #[error("{method} {url}: {status} {message}")]
    Status {
        method: String,
        url: String,
        status: u16,
        /// `MANIFEST_UNKNOWN: manifest unknown` from the error body, or the status text.
        message: String,
    },

    /// The registry wants credentials we do not have, or refused the ones we sent.
    #[error("{registry}: {message}")]
    Unauthorized { registry: String, message: String },

    /// Content that does not match what its descriptor promised (digest or size).
    #[error("{what}: {detail}")]
    Mismatch { what: String, detail: String },

    /// The image index has no manifest for the platform we want.
    #[error("no image for platform {wanted} (the index has: {available})")]
    NoPlatform { wanted: String, available: String },

    /// A registry answer that breaks the protocol (no Location after an upload POST, say).
    #[error("{0}")]
    Protocol(String),

    /// A file operation (or a socket's) failed.
    #[error(transparent)]
    File(#[from] FileError),

    /// A download that failed the same transient way every time it was tried (a registry
    /// that keeps dropping the connection, or stalls past the timeout).
    #[error("{what}: gave up after {attempts} attempts: {last}")]
    GaveUp {
        what: String,
        attempts: u32,
        last: Box<Error>,
    },

    /// The chapter 04 store refused something (a digest that does not match, a bad file).
    #[error(transparent)]
    Store(#[from] ch04_images::Error),
}

impl Error {
    /// Worth another try: the connection dropped or the server had a passing problem.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::File(FileError { cause, .. }) => matches!(
                cause.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Other
            ),
            Error::Status { status, .. } => matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
