//! An exclusive lock on a file (`flock(2)`), held until dropped.
//!
//! Two `run`s starting at once must not both take the last free address, nor a `volume rm`
//! remove a volume that a starting container is about to mount. The kernel drops the lock
//! when the process dies, so a crashed engine never leaves it held.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::path::Path;

pub struct Lock {
    _file: Flock<File>,
}

impl Lock {
    /// Wait for the lock on `path` (created if missing).
    pub fn acquire(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::file("create directory", dir))?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(Error::file("open lock", path))?;
        let file = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| Error::syscall("flock", path.display().to_string(), errno))?;
        Ok(Lock { _file: file })
    }
}
