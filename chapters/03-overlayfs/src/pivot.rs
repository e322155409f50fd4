//! Switching the root: `pivot_root(2)`, and why not `chroot(2)`.
//!
//! `chroot` only changes where path lookups start for one process; the old root stays mounted
//! and reachable. A root process can escape: `mkdir x; chroot x; cd ../../..; chroot .` (its
//! working directory was left outside the new root). `pivot_root` instead *moves the mounts*:
//! the new root becomes the mount namespace's root, the old root is put somewhere below it, and
//! we then detach the old root entirely. Inside a private mount namespace, nothing of the host's
//! file system is left to walk back to.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::mount::{umount2, MntFlags};
use std::path::Path;

/// Make `new_root` (a mount point) the root of this mount namespace and drop the old one.
pub fn pivot_into(new_root: &Path) -> Result<()> {
    // exercise 03.4: the new root, 2/2: pivot_root into it and detach the old one
    explain!(
        "chdir({:?}); pivot_root(\".\", \".\"): the new root stacks the old one on top of itself",
        new_root
    );
    nix::unistd::chdir(new_root)
        .map_err(|errno| Error::syscall("chdir", new_root.display().to_string(), errno))?;
    // pivot_root(".", ".") needs no spare directory for the old root: afterwards the old root
    // is mounted on top of the new one, at "/", and the unmount below peels it off.
    nix::unistd::pivot_root(".", ".").map_err(|errno| {
        Error::syscall("pivot_root", format!("{}, .", new_root.display()), errno)
    })?;
    explain!(
        "umount2(\".\", MNT_DETACH): detach the old root; the host's files are gone from view"
    );
    umount2(".", MntFlags::MNT_DETACH)
        .map_err(|errno| Error::syscall("umount2", "old root, MNT_DETACH", errno))?;
    nix::unistd::chdir("/").map_err(|errno| Error::syscall("chdir", "/", errno))
    // end of exercise 03.4
}
