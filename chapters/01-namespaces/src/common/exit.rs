//! The exit codes of a container engine (docker-run(1), "Exit Status"): the container's own
//! code when it ran, else one of three codes that say the engine (not the command) failed.

/// The engine itself failed: a bad flag, a mount that did not work, a missing image.
pub const ENGINE: i32 = 125;
/// The command was found but could not be run (not executable, a directory...).
pub const CANNOT_INVOKE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;

/// An error that knows which exit code it ends the program with. Each chapter's error says so
/// for its own variants and asks the earlier chapter's error for the ones it wraps.
pub trait ExitCode: std::error::Error + Send + Sync + Sized + 'static {
    fn exit_code(&self) -> i32;

    /// As an `anyhow::Error` that keeps this exit code, for [`crate::cli::exit_with`]: the
    /// message and the chain print exactly as the error's own.
    fn into_anyhow(self) -> anyhow::Error {
        anyhow::Error::new(Coded {
            code: self.exit_code(),
            error: Box::new(self),
        })
    }
}

/// An error with its exit code attached: shows and chains as the error itself.
#[derive(Debug)]
pub struct Coded {
    pub code: i32,
    error: Box<dyn std::error::Error + Send + Sync>,
}

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Coded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// The exit code for an error that ends a binary: the one an [`ExitCode`] error carried, or
/// [`ENGINE`].
pub fn of(error: &anyhow::Error) -> i32 {
    if let Some(coded) = error.downcast_ref::<Coded>() {
        return coded.code;
    }
    error
        .downcast_ref::<crate::Error>()
        .map(crate::Error::exit_code)
        .unwrap_or(ENGINE)
}
