//! Pre-filling a new volume with what the image has at its mount point (Docker copies the
//! image's content into an empty volume the first time it is mounted).
//!
//! Runs inside the container, after `pivot_root`: the source is the container's own view of
//! the directory, the target the detached volume (through `/proc/self/fd/N`). Modes, owners,
//! symlinks and times... of regular files, directories and symlinks are kept; other kinds
//! (devices, sockets) are skipped.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Copy the content of directory `from` into the existing directory `to`, and give `to` the
/// mode and owner of `from`.
pub fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    // exercise 07.2: prefill a new volume: copy the image's directory, modes and owners kept
    let meta = std::fs::symlink_metadata(from).map_err(Error::file("stat", from))?;
    copy_attributes(&meta, to)?;
    for entry in std::fs::read_dir(from).map_err(Error::file("read directory", from))? {
        let entry = entry.map_err(Error::file("read directory", from))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&source).map_err(Error::file("stat", &source))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            std::fs::create_dir(&target).map_err(Error::file("create", &target))?;
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(Error::file("read link", &source))?;
            std::os::unix::fs::symlink(&link, &target).map_err(Error::file("symlink", &target))?;
            std::os::unix::fs::lchown(&target, Some(meta.uid()), Some(meta.gid()))
                .map_err(Error::file("chown", &target))?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(Error::file("copy", &source))?;
            copy_attributes(&meta, &target)?;
        }
    }
    Ok(())
    // end of exercise 07.2
}

fn copy_attributes(meta: &std::fs::Metadata, to: &Path) -> Result<()> {
    std::os::unix::fs::chown(to, Some(meta.uid()), Some(meta.gid()))
        .map_err(Error::file("chown", to))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(Error::file("chmod", to))
}

/// Whether a directory has no entries.
pub fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .map_err(Error::file("read directory", dir))?
        .next()
        .is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_dirs_symlinks_and_modes() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir(from.path().join("sub")).unwrap();
        std::fs::write(from.path().join("sub/f"), "content").unwrap();
        std::fs::set_permissions(from.path().join("sub/f"), PermissionsExt::from_mode(0o640))
            .unwrap();
        std::os::unix::fs::symlink("sub/f", from.path().join("link")).unwrap();
        assert!(is_empty_dir(to.path()).unwrap());
        copy_tree(from.path(), to.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.path().join("link")).unwrap(),
            "content"
        );
        let mode = std::fs::metadata(to.path().join("sub/f")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o640);
        assert!(!is_empty_dir(to.path()).unwrap());
    }
}
