//! Bind mounts of host paths into the container (an OCI spec's `"type": "bind"` mounts:
//! podman's /etc/hosts and /etc/resolv.conf, `docker run -v /host:/ctr`).
//!
//! The destination is a path *inside the root file system*, which comes from an image: any of
//! its components may be a symlink, and a symlink such as `etc -> /` must not make us mount
//! over the host's /etc (we run before pivot_root, where `/` is still the host's). So the
//! destination is resolved as if the root were `/` ([`resolve_in_root`]: symlinks are followed
//! but never leave the root), and missing mount points are created there: a directory, or an
//! empty file when the source is a file.

use crate::error::{Error, Result};
use crate::mounts::{bind, flag_names};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::mount::{mount, MsFlags};
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// One bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// On the host.
    pub source: PathBuf,
    /// Absolute, as the container sees it.
    pub destination: PathBuf,
    /// `rbind`: the mounts below the source come along.
    pub recursive: bool,
    /// Applied by a remount: MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC.
    pub flags: MsFlags,
}

impl BindMount {
    /// Mount it under `root` (the new root, before pivot_root).
    pub fn mount_under(&self, root: &Path) -> Result<()> {
        let target = resolve_in_root(root, &self.destination)?;
        let source_is_dir = std::fs::metadata(&self.source)
            .map_err(Error::file("stat", &self.source))?
            .is_dir();
        if !target.exists() {
            if source_is_dir {
                std::fs::create_dir_all(&target).map_err(Error::file("create", &target))?;
            } else {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(Error::file("create", parent))?;
                }
                std::fs::write(&target, b"").map_err(Error::file("create", &target))?;
            }
        }
        let recursive = if self.recursive {
            MsFlags::MS_REC
        } else {
            MsFlags::empty()
        };
        bind(&self.source, &target, recursive)?;
        if !self.flags.is_empty() {
            // Flags on a bind mount take a second call (the first ignores them).
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | self.flags;
            explain!("mount(NULL, {target:?}, NULL, {}, NULL)", flag_names(flags));
            mount(None::<&str>, &target, None::<&str>, flags, None::<&str>).map_err(|errno| {
                Error::syscall("mount", format!("remount {}", target.display()), errno)
            })?;
        }
        Ok(())
    }
}

/// `path` (absolute, as seen inside) resolved under `root` the way the kernel would resolve it
/// after `chroot(root)`: `..` stops at the root, and symlinks (absolute ones included) are
/// followed inside it. The result has no symlink in it; its last components may not exist.
pub fn resolve_in_root(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut pending: Vec<OsString> = names(path);
    pending.reverse();
    let mut resolved = root.to_path_buf();
    let mut depth = 0usize; // components of `resolved` below root
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            if depth > 0 {
                resolved.pop();
                depth -= 1;
            }
            continue;
        }
        let next = resolved.join(&name);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return Err(Error::Invalid(format!(
                        "{}: too many levels of symbolic links (ELOOP)",
                        path.display()
                    )));
                }
                let target = std::fs::read_link(&next).map_err(Error::file("readlink", &next))?;
                if target.is_absolute() {
                    resolved = root.to_path_buf();
                    depth = 0;
                }
                pending.extend(names(&target).into_iter().rev());
            }
            _ => {
                resolved = next;
                depth += 1;
            }
        }
    }
    Ok(resolved)
}

/// The normal components of `path` (and `..`), without `/` and `.`.
fn names(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_are_followed_but_never_out_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/etc")).unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        std::os::unix::fs::symlink("../../../real", root.join("rel")).unwrap();
        assert_eq!(
            resolve_in_root(root, Path::new("/up/etc/hosts")).unwrap(),
            root.join("etc/hosts")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/rel/etc/../etc/hosts")).unwrap(),
            root.join("real/etc/hosts")
        );
        assert_eq!(
            resolve_in_root(root, Path::new("/../../x")).unwrap(),
            root.join("x")
        );
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(resolve_in_root(root, Path::new("/loop/x")).is_err());
    }
}
