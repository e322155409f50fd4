//! Where a mount lands: the destination, looked up in the image's layers the way the kernel
//! will look it up in the container.
//!
//! An image may have a symlink where the user asks for a mount: `-v data:/var/run` on an image
//! where `/var/run -> /run`. Docker follows it *inside* the container's root, and so do we: the
//! resolved path (`/run`) is what we mount on. A symlink whose `..`s climb out of the root
//! (`/data -> ../../../etc`) would, if a host path were built from it, lead to the host's
//! `/etc`: we refuse it with a clear error instead. (The mount itself happens after
//! `pivot_root`, where nothing outside the root is reachable anyway: this check makes the
//! mistake visible rather than silently clamped.)

use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

/// What a path is in the layered view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Missing,
    Dir,
    File,
    Symlink(PathBuf),
}

/// The image's layers, top first, seen as overlayfs merges them.
pub struct LayeredView<'a> {
    pub layers: &'a [PathBuf],
}

impl LayeredView<'_> {
    /// Look `path` (relative, made of plain names) up, one component at a time: a layer takes
    /// part below a directory only while its own entry there is a directory too (a non-directory,
    /// a whiteout or an opaque directory hides everything below it), so we never `lstat` through
    /// a symlink of some lower layer.
    pub fn lookup(&self, path: &[OsString]) -> Entry {
        let mut active: Vec<PathBuf> = self.layers.to_vec();
        let mut entry = Entry::Dir;
        for name in path {
            let mut next = Vec::new();
            entry = Entry::Missing;
            for layer_dir in &active {
                let candidate = layer_dir.join(name);
                let Ok(meta) = std::fs::symlink_metadata(&candidate) else {
                    continue;
                };
                let kind = meta.file_type();
                if kind.is_char_device() && meta_rdev_is_zero(&meta) {
                    break; // a whiteout: deleted here and below
                }
                if next.is_empty() && entry == Entry::Missing {
                    entry = if kind.is_dir() {
                        Entry::Dir
                    } else if kind.is_symlink() {
                        Entry::Symlink(std::fs::read_link(&candidate).unwrap_or_default())
                    } else {
                        Entry::File
                    };
                }
                if entry != Entry::Dir || !kind.is_dir() {
                    break;
                }
                next.push(candidate.clone());
                if is_opaque(&candidate) {
                    break;
                }
            }
            if entry != Entry::Dir {
                return entry;
            }
            active = next;
        }
        entry
    }
}

fn meta_rdev_is_zero(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

/// Resolve `destination` (absolute, no `..`) through the image's symlinks, staying inside the
/// root. Returns the absolute path to mount on.
pub fn resolve(view: &LayeredView<'_>, destination: &Path) -> Result<PathBuf> {
    let escape = |link: &Path, target: &Path| {
        Error::Invalid(format!(
            "mount destination {}: {} is a symbolic link to {} in the image, which leads out of \
             the container's root file system; refusing to mount there",
            destination.display(),
            link.display(),
            target.display()
        ))
    };
    let mut pending: VecDeque<OsString> = names(destination);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        let mut candidate = resolved.clone();
        candidate.push(name.clone());
        match view.lookup(&candidate) {
            Entry::Missing => {
                resolved.push(name);
                resolved.extend(pending.drain(..));
            }
            Entry::Dir => resolved.push(name),
            Entry::File if pending.is_empty() => resolved.push(name),
            Entry::File => {
                return Err(Error::Invalid(format!(
                    "mount destination {}: {} is a file in the image, not a directory",
                    destination.display(),
                    as_path(&candidate).display()
                )))
            }
            Entry::Symlink(target) => {
                links += 1;
                if links > 40 {
                    return Err(Error::Invalid(format!(
                        "mount destination {}: too many levels of symbolic links",
                        destination.display()
                    )));
                }
                let link = as_path(&candidate);
                if target.is_absolute() {
                    resolved.clear();
                }
                let mut expanded = VecDeque::new();
                for component in target.components() {
                    match component {
                        Component::ParentDir => {
                            // `..` at the front of what is left applies to `resolved` now.
                            if expanded.is_empty() {
                                if resolved.pop().is_none() {
                                    return Err(escape(&link, &target));
                                }
                            } else {
                                expanded.pop_back();
                            }
                        }
                        Component::Normal(n) => expanded.push_back(n.to_os_string()),
                        _ => {}
                    }
                }
                for name in expanded.into_iter().rev() {
                    pending.push_front(name);
                }
            }
        }
    }
    Ok(as_path(&resolved))
}

fn names(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect()
}

fn as_path(names: &[OsString]) -> PathBuf {
    let mut path = PathBuf::from("/");
    for name in names {
        path.push(name);
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_are_followed_inside_the_root_and_escapes_refused() {
        let top = tempfile::tempdir().unwrap();
        let bottom = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(bottom.path().join("run/lock")).unwrap();
        std::fs::create_dir_all(bottom.path().join("var")).unwrap();
        symlink("/run", bottom.path().join("var/run")).unwrap();
        symlink("../../../../etc", top.path().join("escape")).unwrap();
        std::fs::create_dir(top.path().join("opt")).unwrap();
        symlink("../run/lock", top.path().join("opt/rel")).unwrap();
        std::fs::write(bottom.path().join("file"), "").unwrap();
        let layers = [top.path().to_path_buf(), bottom.path().to_path_buf()];
        let view = LayeredView { layers: &layers };
        let r = |p: &str| resolve(&view, Path::new(p));
        assert_eq!(r("/data").unwrap(), PathBuf::from("/data"));
        assert_eq!(r("/var/run/app").unwrap(), PathBuf::from("/run/app"));
        assert_eq!(r("/opt/rel/x").unwrap(), PathBuf::from("/run/lock/x"));
        assert_eq!(r("/file").unwrap(), PathBuf::from("/file"));
        let error = r("/escape/passwd").unwrap_err().to_string();
        assert!(error.contains("leads out of"), "{error}");
        assert!(r("/file/below").is_err());
    }

    #[test]
    fn a_directory_in_an_upper_layer_hides_a_lower_symlink() {
        let top = tempfile::tempdir().unwrap();
        let bottom = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(top.path().join("a")).unwrap();
        symlink("/etc", bottom.path().join("a")).unwrap();
        let layers = [top.path().to_path_buf(), bottom.path().to_path_buf()];
        let view = LayeredView { layers: &layers };
        assert_eq!(view.lookup(&["a".into(), "passwd".into()]), Entry::Missing);
        assert_eq!(
            resolve(&view, Path::new("/a/passwd")).unwrap(),
            PathBuf::from("/a/passwd")
        );
    }
}
