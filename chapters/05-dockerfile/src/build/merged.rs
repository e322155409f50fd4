//! An image's file system without mounting it: the union of its unpacked layers, read the way
//! overlayfs merges them (see `Documentation/filesystems/overlayfs.rst` in the kernel).
//!
//! Layers are searched from the top. At each step of a path, a name can be:
//! - a whiteout (character device 0/0) in a layer: the name is deleted, lower layers are not
//!   looked at;
//! - a file or symlink: it hides the same name in every lower layer;
//! - a directory: it *merges* with directories of that name below, unless it is opaque
//!   (`trusted.overlay.opaque=y`), which hides them.
//!
//! `COPY --from=stage` reads this view; so does `--chown=name`, which needs the image's
//! `/etc/passwd`.

use super::error::{BuildError, Result};
use super::tree::Tree;
use ch01_namespaces::common::Failure;
use ch03_overlayfs::diff::{is_opaque, is_whiteout};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// The merged view of unpacked layer directories, topmost first (a `lowerdir=` list).
pub struct MergedView {
    pub layers: Vec<PathBuf>,
    pub name: String,
}

impl MergedView {
    /// The layers whose directory `relative` takes part in the merge (topmost first), or the
    /// one layer holding `relative` if it is not a directory. Empty: `relative` does not exist.
    fn visible(&self, relative: &Path) -> Vec<(PathBuf, Metadata)> {
        let mut found: Vec<(PathBuf, Metadata)> = self
            .layers
            .iter()
            .filter_map(|l| Some((l.clone(), std::fs::symlink_metadata(l).ok()?)))
            .collect();
        for component in relative.components() {
            let mut next = Vec::new();
            for (dir, _) in &found {
                let path = dir.join(component);
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue; // not in this layer: look lower
                };
                if is_whiteout(&meta) || (!meta.is_dir() && !next.is_empty()) {
                    break; // deleted here, or a file under a directory that hides it
                }
                let merges_lower = meta.is_dir() && !is_opaque(&path);
                next.push((path, meta));
                if !merges_lower {
                    break;
                }
            }
            found = next;
        }
        found
    }
}

impl Tree for MergedView {
    fn find(&self, relative: &Path) -> Result<Option<(PathBuf, Metadata)>> {
        let mut components = relative.components().peekable();
        let mut so_far = PathBuf::new();
        while let Some(component) = components.next() {
            so_far.push(component);
            let visible = self.visible(&so_far);
            let Some((path, meta)) = visible.into_iter().next() else {
                return Ok(None);
            };
            if components.peek().is_none() {
                return Ok(Some((path, meta)));
            }
            if meta.file_type().is_symlink() {
                return Err(BuildError::Source(format!(
                    "{}: {} is a symlink in {}; the builder does not follow symlinks inside \
                     source paths",
                    relative.display(),
                    so_far.display(),
                    self.name
                )));
            }
        }
        // The root itself.
        Ok(self
            .layers
            .first()
            .and_then(|l| Some((l.clone(), std::fs::symlink_metadata(l).ok()?))))
    }

    fn children(&self, relative: &Path) -> Result<Vec<OsString>> {
        let mut names = BTreeSet::new();
        let mut hidden = BTreeSet::new();
        for (dir, meta) in self.visible(relative) {
            if !meta.is_dir() {
                break;
            }
            for entry in
                std::fs::read_dir(&dir).map_err(BuildError::file("read directory", &dir))?
            {
                let entry = entry.map_err(BuildError::file("read directory", &dir))?;
                let name = entry.file_name();
                if hidden.contains(&name) || names.contains(&name) {
                    continue;
                }
                let meta = entry
                    .metadata()
                    .map_err(BuildError::file("lstat", entry.path()))?;
                if is_whiteout(&meta) {
                    hidden.insert(name);
                } else {
                    names.insert(name);
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// Read a small text file of the view (`/etc/passwd`); empty if it is not there.
pub fn read_text(view: &MergedView, relative: &str) -> String {
    match view.find(Path::new(relative)) {
        Ok(Some((path, meta))) if meta.is_file() => {
            std::fs::read_to_string(path).unwrap_or_default()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::stat::{mknod, Mode, SFlag};

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn upper_layers_hide_and_merge_like_overlayfs() {
        let tmp = tempfile::tempdir().unwrap();
        let (top, bottom) = (tmp.path().join("top"), tmp.path().join("bottom"));
        write(&bottom.join("etc/passwd"), "old");
        write(&bottom.join("etc/group"), "g");
        write(&bottom.join("gone/file"), "x");
        write(&top.join("etc/passwd"), "new");
        write(&top.join("etc/hosts"), "h");
        std::fs::create_dir_all(&top).unwrap();
        let whiteout = mknod(
            &top.join("gone"),
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o600),
            0,
        );
        let view = MergedView {
            layers: vec![top.clone(), bottom.clone()],
            name: "test".into(),
        };
        assert_eq!(read_text(&view, "etc/passwd"), "new");
        assert_eq!(read_text(&view, "etc/group"), "g");
        let names = view.children(Path::new("etc")).unwrap();
        assert_eq!(names, ["group", "hosts", "passwd"]);
        if whiteout.is_ok() {
            // mknod needs CAP_MKNOD: as root, the whiteout hides the lower directory.
            assert!(view.find(Path::new("gone/file")).unwrap().is_none());
            assert!(!view
                .children(Path::new(""))
                .unwrap()
                .contains(&"gone".into()));
        }
    }
}
