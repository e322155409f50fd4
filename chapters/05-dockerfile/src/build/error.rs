//! What can go wrong in a build, each saying where.

pub use ch01_namespaces::common::{Failure, FileError};

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile does not parse or resolve (file:line:column and a caret).
    #[error("{0}")]
    Parse(#[from] crate::ParseError),

    /// A step failed: `step 3/7 (Dockerfile:4:1) RUN exit 3: ...`.
    #[error("step {step}/{steps} ({file}:{line}:{column}) {instruction}: {cause}")]
    Step {
        step: usize,
        steps: usize,
        file: String,
        line: usize,
        column: usize,
        instruction: String,
        cause: Box<BuildError>,
    },

    /// RUN's command exited non-zero (Docker's words).
    #[error("the command {command:?} returned a non-zero code: {code}")]
    RunFailed { command: Vec<String>, code: i32 },

    /// A COPY/ADD source that is missing, ignored, outside the context, or unsupported.
    #[error("{0}")]
    Source(String),

    /// Anything else we refuse, with the reason.
    #[error("{0}")]
    Invalid(String),

    /// A file system operation failed.
    #[error(transparent)]
    File(#[from] FileError),

    /// The image store or a container (chapters 01 to 04).
    #[error(transparent)]
    Image(#[from] ch04_images::Error),
}

impl From<ch03_overlayfs::Error> for BuildError {
    fn from(error: ch03_overlayfs::Error) -> Self {
        BuildError::Image(error.into())
    }
}
