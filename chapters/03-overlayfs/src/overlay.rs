//! overlayfs: one merged view of read-only image layers plus a writable layer on top.
//!
//! ```text
//!   merged/   what the container sees as /
//!     ▲
//!   upper/    read-write: new files, modified copies ("copy-up"), whiteouts for deletions
//!   lower 1   read-only, topmost image layer (here: the init layer)
//!   lower 2   read-only, the image ...
//! ```
//!
//! Reading a file takes it from the highest layer that has it. Writing to a file that lives in
//! a lower layer first copies it up into `upper/` whole. Deleting one leaves a *whiteout* in
//! `upper/`: a character device with device number 0/0 that hides the name below. A directory
//! that replaces one below is marked *opaque* (xattr `trusted.overlay.opaque=y`): nothing below
//! it shows through. Read the kernel's `Documentation/filesystems/overlayfs.rst`.

use crate::error::{Error, Result};
use crate::mounts::mount_fs;
use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

/// The directories of one overlay mount.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// Read-only layers, topmost first (the order overlayfs's `lowerdir=` wants).
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

impl Overlay {
    /// The `data` argument of mount(2): `lowerdir=A:B,upperdir=U,workdir=W`.
    pub fn options(&self) -> Result<String> {
        // exercise 03.1: the overlay's mount options: lowerdir (top layer first), upperdir, workdir
        if self.lowers.is_empty() {
            return Err(Error::Invalid(
                "an overlay needs at least one lower directory".into(),
            ));
        }
        for dir in self.lowers.iter().chain([&self.upper, &self.work]) {
            let text = dir.to_string_lossy();
            // ':' separates lowerdirs and ',' separates options: the kernel has no escape for
            // either in this syntax.
            if text.contains(':') || text.contains(',') {
                return Err(Error::Invalid(format!(
                    "overlay directory {text:?} contains ':' or ',', which mount options cannot carry"
                )));
            }
        }
        let lowers: Vec<String> = self
            .lowers
            .iter()
            .map(|l| l.display().to_string())
            .collect();
        Ok(format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            self.upper.display(),
            self.work.display()
        ))
        // end of exercise 03.1
    }

    /// Mount the overlay at `target`, read-only if asked (writes then fail with EROFS).
    ///
    /// In a user namespace (Linux 5.11 and later let its root mount overlayfs), the overlay
    /// keeps its own marks (opaque directories, redirects) in `user.overlay.*` attributes,
    /// asked for by the `userxattr` option: `trusted.*` ones need CAP_SYS_ADMIN over the
    /// host, which no user namespace has. Marks a lower layer carries as `trusted.overlay.*`
    /// are then not seen (read overlayfs.rst, "Permission model" and "User xattr").
    pub fn mount(&self, target: &Path, read_only: bool) -> Result<()> {
        let mut flags = MsFlags::empty();
        if read_only {
            flags |= MsFlags::MS_RDONLY;
        }
        let mut options = self.options()?;
        if crate::devices::in_user_namespace() {
            options.push_str(",userxattr");
        }
        mount_fs("overlay", target, "overlay", flags, Some(&options))
    }
}

/// The extended attributes overlayfs marks an opaque directory with: `trusted.overlay.opaque`,
/// or `user.overlay.opaque` on an overlay mounted with `userxattr` (in a user namespace).
pub const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];

/// Is `dir` marked opaque, in either namespace of attributes?
pub fn is_opaque(dir: &Path) -> bool {
    OPAQUE_XATTRS
        .iter()
        .any(|name| matches!(xattr::get(dir, name), Ok(Some(v)) if v == b"y"))
}

/// The attribute that marks a directory opaque for an overlay this process would mount: the
/// `user.` one inside a user namespace, which may not set `trusted.` ones.
pub fn opaque_xattr_here() -> &'static str {
    OPAQUE_XATTRS[usize::from(crate::devices::in_user_namespace())]
}

/// Whether an extended attribute steers overlayfs (`trusted.overlay.*`, `user.overlay.*`):
/// an image layer may not carry one, or it could hide or redirect what lies below it.
pub fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_list_lowers_top_first() {
        let overlay = Overlay {
            lowers: vec!["/c/init".into(), "/img/top".into(), "/img/base".into()],
            upper: "/c/upper".into(),
            work: "/c/work".into(),
        };
        assert_eq!(
            overlay.options().unwrap(),
            "lowerdir=/c/init:/img/top:/img/base,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn separators_in_paths_are_refused() {
        let overlay = Overlay {
            lowers: vec!["/img/a:b".into()],
            upper: "/u".into(),
            work: "/w".into(),
        };
        assert!(overlay.options().is_err());
    }
}
