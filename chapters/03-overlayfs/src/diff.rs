//! `diff`: what a container changed, read from its write layer, like `docker diff`.
//!
//! Everything the container changed is in `upper/`, and nothing else is:
//! - a whiteout (character device 0/0) is a deleted path: `D`;
//! - anything else that also exists in a lower layer was changed (copied up): `C`;
//! - anything that exists in no lower layer was added: `A`.
//!
//! An opaque directory (xattr `trusted.overlay.opaque=y`, `user.` in a user namespace) hides everything below it, so the
//! lower layers' entries in it that upper does not have again are deleted too.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

impl Kind {
    pub fn letter(self) -> char {
        match self {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        }
    }
}

/// One line of `diff`: a path as the container sees it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub path: String,
    pub kind: Kind,
}

/// Is `meta` an overlay whiteout?
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

pub use crate::overlay::is_opaque;

/// The changes in `upper` relative to `lowers`, sorted by path.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, Path::new(""), lowers, &mut out)?;
    out.sort();
    Ok(out)
}

fn in_lowers(lowers: &[PathBuf], relative: &Path) -> bool {
    lowers
        .iter()
        .any(|lower| std::fs::symlink_metadata(lower.join(relative)).is_ok())
}

fn walk(upper: &Path, relative: &Path, lowers: &[PathBuf], out: &mut Vec<Change>) -> Result<()> {
    // exercise 03.3: diff: added, changed and deleted, read from the write layer
    let dir = upper.join(relative);
    let entries = std::fs::read_dir(&dir).map_err(Error::file("read directory", &dir))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::file("read directory", &dir))?;
        names.push(entry.file_name());
        let rel = relative.join(entry.file_name());
        let meta = entry
            .metadata()
            .map_err(Error::file("stat", entry.path()))?;
        let path = format!("/{}", rel.display());
        let kind = if is_whiteout(&meta) {
            Kind::Deleted
        } else if in_lowers(lowers, &rel) {
            Kind::Changed
        } else {
            Kind::Added
        };
        out.push(Change { path, kind });
        if meta.is_dir() {
            walk(upper, &rel, lowers, out)?;
        }
    }
    if !relative.as_os_str().is_empty() && is_opaque(&dir) {
        for lower in lowers {
            let Ok(below) = std::fs::read_dir(lower.join(relative)) else {
                continue;
            };
            for entry in below.flatten() {
                if !names.contains(&entry.file_name()) {
                    names.push(entry.file_name());
                    out.push(Change {
                        path: format!("/{}", relative.join(entry.file_name()).display()),
                        kind: Kind::Deleted,
                    });
                }
            }
        }
    }
    Ok(())
    // end of exercise 03.3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_changed_and_deleted_are_told_apart() {
        let lower = tempfile::tempdir().unwrap();
        let upper = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(lower.path().join("etc")).unwrap();
        std::fs::write(lower.path().join("etc/motd"), "hi").unwrap();
        std::fs::write(lower.path().join("etc/gone"), "bye").unwrap();
        std::fs::create_dir_all(upper.path().join("etc")).unwrap();
        std::fs::write(upper.path().join("etc/motd"), "changed").unwrap();
        std::fs::write(upper.path().join("new"), "x").unwrap();
        // A whiteout needs mknod, i.e. root: without it, check the other two kinds only.
        let whiteout = nix::sys::stat::mknod(
            &upper.path().join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .is_ok();
        let lines: Vec<String> = changes(upper.path(), &[lower.path().to_path_buf()])
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c.kind.letter(), c.path))
            .collect();
        let mut expected = vec!["C /etc", "C /etc/motd", "A /new"];
        if whiteout {
            expected.insert(1, "D /etc/gone");
        }
        assert_eq!(lines, expected);
    }
}
