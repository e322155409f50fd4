//! Tar-slip defenses: where may a tar entry write?
//!
//! A layer comes from somewhere else (a registry, a file someone sent). Its entries are names
//! chosen by whoever made it, and classic attacks ("tar slip", "zip slip") use them to write
//! outside the directory being unpacked:
//!
//! - `../../etc/cron.d/evil`: a `..` climbs out;
//! - `/etc/passwd`: an absolute path;
//! - `link -> /etc` followed by `link/passwd`: a symlink created by one entry redirects a later
//!   entry (the kernel follows symlinks in the middle of a path);
//! - a hardlink `x` to `../../etc/shadow`: a second name for a file outside, writable later.
//!
//! The rules here: an entry's path is made relative (a leading `/` is dropped, as GNU tar
//! does), must not contain `..`, and every directory on the way to it must be a real directory
//! that this unpack made, never a symlink ([`prepare_parent`] checks with `lstat(2)`, which does
//! not follow links). The layer directory is a fresh private temporary directory that only we
//! write to, so nothing can swap a directory for a symlink between our check and our use.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Linux's longest file name and path (limits.h), in bytes.
const NAME_MAX: usize = 255;
const PATH_MAX: usize = 4096;

/// A name short enough to print: the first 60 characters, then `...(N bytes)`.
fn shorten(name: &str) -> String {
    if name.len() <= 80 {
        return name.to_string();
    }
    let head: String = name.chars().take(60).collect();
    format!("{head}...({} bytes)", name.len())
}

/// Turn a tar entry's raw name into a safe relative path, or refuse it. `None` means the entry
/// names the layer's root itself (`./`).
pub fn entry_path(raw: &[u8]) -> Result<Option<PathBuf>> {
    let shown = shorten(&String::from_utf8_lossy(raw));
    if raw.contains(&0) {
        return Err(Error::unsafe_entry(shown, "the name contains a NUL byte"));
    }
    // The kernel's limits (NAME_MAX, PATH_MAX): refused here, with a short message, rather
    // than by a system call whose error would repeat the whole name.
    if let Some(long) = raw.split(|&b| b == b'/').find(|part| part.len() > NAME_MAX) {
        return Err(Error::unsafe_entry(
            shown,
            format!(
                "a name of {} bytes: longer than a file name can be ({NAME_MAX}); refused",
                long.len()
            ),
        ));
    }
    if raw.len() >= PATH_MAX {
        return Err(Error::unsafe_entry(
            shown,
            format!(
                "a path of {} bytes: longer than a path can be ({PATH_MAX}); refused",
                raw.len()
            ),
        ));
    }
    let mut clean = PathBuf::new();
    for component in Path::new(OsStr::from_bytes(raw)).components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => clean.push(name),
            Component::ParentDir => {
                return Err(Error::unsafe_entry(
                    shown,
                    "a \"..\" component could climb out of the layer; refused",
                ))
            }
            Component::Prefix(_) => unreachable!("no path prefixes on Unix"),
        }
    }
    Ok((!clean.as_os_str().is_empty()).then_some(clean))
}

/// Make sure every directory above `relative` exists inside `root` as a real directory (not a
/// symlink), creating missing ones (mode 0755, as tar does). Returns the parent's full path.
pub fn prepare_parent(root: &Path, relative: &Path, entry: &str) -> Result<PathBuf> {
    let mut dir = root.to_path_buf();
    let Some(parent) = relative.parent() else {
        return Ok(dir);
    };
    for component in parent.components() {
        dir.push(component);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::unsafe_entry(
                    entry,
                    format!(
                        "{} is a symlink: writing through it could land outside the layer; refused",
                        dir.strip_prefix(root).unwrap_or(&dir).display()
                    ),
                ))
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::unsafe_entry(
                    entry,
                    format!(
                        "{} is not a directory",
                        dir.strip_prefix(root).unwrap_or(&dir).display()
                    ),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // 0755 whatever the umask: a directory the tar did not describe is readable.
                std::fs::create_dir(&dir).map_err(Error::file("mkdir", &dir))?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
                    .map_err(Error::file("chmod", &dir))?;
            }
            Err(e) => return Err(Error::file("lstat", &dir)(e)),
        }
    }
    Ok(dir)
}

/// Check, without creating anything, that every directory above `relative` is a real
/// directory: used for the *target* of a hardlink, which must already be inside the layer.
pub fn check_existing_parent(root: &Path, relative: &Path, entry: &str) -> Result<()> {
    let mut dir = root.to_path_buf();
    for component in relative.parent().into_iter().flat_map(Path::components) {
        dir.push(component);
        let reason = match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() && !meta.file_type().is_symlink() => continue,
            Ok(meta) if meta.file_type().is_symlink() => "is reached through a symlink",
            Ok(_) => "is reached through a non-directory",
            Err(_) => "is not in this layer",
        };
        return Err(Error::unsafe_entry(
            entry,
            format!(
                "the hardlink's target {} {reason}; refused",
                relative.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_dotted_names_are_made_relative() {
        assert_eq!(
            entry_path(b"etc/passwd").unwrap(),
            Some("etc/passwd".into())
        );
        assert_eq!(
            entry_path(b"./etc/passwd").unwrap(),
            Some("etc/passwd".into())
        );
        assert_eq!(entry_path(b"bin/").unwrap(), Some("bin".into()));
        assert_eq!(entry_path(b"./").unwrap(), None);
        assert_eq!(entry_path(b"a/./b").unwrap(), Some("a/b".into()));
    }

    #[test]
    fn absolute_names_are_contained() {
        assert_eq!(
            entry_path(b"/etc/passwd").unwrap(),
            Some("etc/passwd".into())
        );
        assert_eq!(entry_path(b"//etc").unwrap(), Some("etc".into()));
    }

    #[test]
    fn dot_dot_is_refused_anywhere() {
        for bad in [&b"../x"[..], b"a/../../x", b"a/../b", b"..", b"/../etc"] {
            let error = entry_path(bad).unwrap_err();
            assert!(error.to_string().contains("\"..\""), "{error}");
        }
    }

    #[test]
    fn parents_through_symlinks_are_refused() {
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", root.path().join("link")).unwrap();
        let error =
            prepare_parent(root.path(), Path::new("link/passwd"), "link/passwd").unwrap_err();
        assert!(error.to_string().contains("link is a symlink"), "{error}");
        let made = prepare_parent(root.path(), Path::new("a/b/c"), "a/b/c").unwrap();
        assert_eq!(made, root.path().join("a/b"));
        assert!(made.is_dir());
    }
}
