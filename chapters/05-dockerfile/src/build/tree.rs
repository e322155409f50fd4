//! Where COPY and ADD take files from: the build context, or the file system of an image (a
//! finished stage, or any image: `COPY --from`). Both are read through [`Tree`], by paths
//! relative to their root, without ever following a symlink: a link is copied as a link, and
//! a path that goes *through* one is refused, so no source path can lead outside its tree.

use super::error::{BuildError, Result};
use crate::dockerignore::DockerIgnore;
use ch01_namespaces::common::Failure;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// A file tree read by relative paths.
pub trait Tree {
    /// The real path and `lstat` of `relative`, if the tree has it. `relative` is clean (no
    /// `..`, no leading `/`); the empty path is the root.
    fn find(&self, relative: &Path) -> Result<Option<(PathBuf, Metadata)>>;
    /// The names in the directory `relative`, sorted.
    fn children(&self, relative: &Path) -> Result<Vec<OsString>>;
    /// What to call this tree in errors: `the build context`, `stage builder`.
    fn name(&self) -> String;
}

/// Clean a COPY/ADD source as Docker does: relative to the tree's root (a leading `/` too), `.`
/// components dropped; a `..` that would climb above the root is refused.
pub fn clean_source(source: &str) -> Result<PathBuf> {
    let mut clean = PathBuf::new();
    for component in Path::new(source).components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::Normal(part) => clean.push(part),
            Component::ParentDir => {
                if !clean.pop() {
                    return Err(BuildError::Source(format!(
                        "{source}: outside the build context (a source cannot climb above it \
                         with \"..\")"
                    )));
                }
            }
        }
    }
    Ok(clean)
}

/// `lstat` each component of `relative` under `root`; refuse a symlink in the middle.
pub fn lstat_within(root: &Path, relative: &Path) -> Result<Option<(PathBuf, Metadata)>> {
    let mut path = root.to_path_buf();
    let count = relative.components().count();
    let mut meta = std::fs::symlink_metadata(root).map_err(BuildError::file("lstat", root))?;
    for (index, component) in relative.components().enumerate() {
        path.push(component);
        meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
            Err(e) => return Err(BuildError::file("lstat", &path)(e)),
        };
        if meta.file_type().is_symlink() && index + 1 < count {
            return Err(BuildError::Source(format!(
                "{}: {} is a symlink; the builder does not follow symlinks inside source paths",
                relative.display(),
                path.display()
            )));
        }
    }
    Ok(Some((path, meta)))
}

/// The build context: a directory, seen through its `.dockerignore`.
pub struct Context {
    pub root: PathBuf,
    pub ignore: DockerIgnore,
}

impl Context {
    /// Open `root`, reading `root/.dockerignore` if there is one.
    pub fn open(root: &Path) -> Result<Context> {
        let root = root
            .canonicalize()
            .map_err(BuildError::file("open the build context", root))?;
        let ignore_file = root.join(".dockerignore");
        let ignore = match std::fs::read_to_string(&ignore_file) {
            Ok(text) => {
                DockerIgnore::parse(&text).map_err(|e| BuildError::Source(e.to_string()))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(e) => return Err(BuildError::file("read", ignore_file)(e)),
        };
        Ok(Context { root, ignore })
    }

    fn ignored(&self, relative: &Path) -> bool {
        !relative.as_os_str().is_empty()
            && self
                .ignore
                .is_ignored(&String::from_utf8_lossy(relative.as_os_str().as_bytes()))
    }
}

impl Tree for Context {
    fn find(&self, relative: &Path) -> Result<Option<(PathBuf, Metadata)>> {
        if self.ignored(relative) {
            return Ok(None);
        }
        lstat_within(&self.root, relative)
    }

    fn children(&self, relative: &Path) -> Result<Vec<OsString>> {
        let dir = self.root.join(relative);
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(BuildError::file("read directory", &dir))? {
            let name = entry
                .map_err(BuildError::file("read directory", &dir))?
                .file_name();
            if !self.ignored(&relative.join(&name)) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn name(&self) -> String {
        "the build context".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_inside_their_tree() {
        assert_eq!(clean_source("/app/./x").unwrap(), PathBuf::from("app/x"));
        assert_eq!(clean_source("a/../b").unwrap(), PathBuf::from("b"));
        assert_eq!(clean_source(".").unwrap(), PathBuf::new());
        assert!(clean_source("../etc/passwd").is_err());
        assert!(clean_source("a/../../x").is_err());
    }
}
