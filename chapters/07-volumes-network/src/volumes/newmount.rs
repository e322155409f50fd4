//! Bind mounts with the new mount API: `open_tree(2)`, `mount_setattr(2)`, `move_mount(2)`
//! (Linux 5.2+, `mount_setattr` 5.12+).
//!
//! The classic `mount(src, dst, MS_BIND)` needs the source and the destination visible in one
//! file-system tree at the same moment. For a container that is awkward: before `pivot_root`
//! the destination must be spelled as a host path (`/var/lib/baleia/.../merged/data`), and a
//! symlink in the image could send it anywhere on the host; after `pivot_root` the host's
//! source is out of reach. The new API splits the bind in two:
//!
//! 1. in the engine, on the host: `open_tree(source, OPEN_TREE_CLONE | AT_RECURSIVE)` copies
//!    the source's mount tree into a *detached* mount, held by a file descriptor;
//!    `mount_setattr(fd, AT_RECURSIVE, MOUNT_ATTR_RDONLY)` makes every mount in it read-only,
//!    submounts included (the old API needs one remount per submount, and misses the ones
//!    that appear later);
//! 2. in the container, after `pivot_root`: `move_mount(fd, "/data")` attaches it. The path is
//!    looked up inside the container's root, where no symlink can lead back to the host.
//!
//! The descriptor is inherited across `fork` (and closed at `exec`: `OPEN_TREE_CLOEXEC`).
//!
//! A clone of a *shared* mount joins its peer group (mount_namespaces(7), "Shared subtrees"),
//! and under systemd every mount is shared. Left so, whatever the container mounts on top of
//! the volume (the engine's `/etc/hostname` over a volume on `/etc`) would also appear on the
//! host, over the volume's own files, and stay there after the container is gone. So the copy
//! is made private first, as Docker's default `rprivate` bind propagation is.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

// From <linux/mount.h> and <linux/fcntl.h> (not all in the libc crate yet).
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// A copy of a mount tree, not attached anywhere yet.
#[derive(Debug)]
pub struct DetachedMount {
    fd: OwnedFd,
    source: PathBuf,
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("{}: a path with a NUL byte", path.display())))
}

impl DetachedMount {
    /// `open_tree(source, OPEN_TREE_CLONE|AT_RECURSIVE)`, then read-only if asked.
    pub fn clone_tree(source: &Path, read_only: bool) -> Result<Self> {
        explain!(
            "open_tree({:?}, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC|AT_RECURSIVE): a detached copy of its mounts",
            source
        );
        let path = c_path(source)?;
        // SAFETY: a plain system call with a valid NUL-terminated path; the result is checked.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                path.as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE,
            )
        };
        let fd = Errno::result(fd)
            .map_err(|errno| Error::syscall("open_tree", source.display().to_string(), errno))?;
        // SAFETY: open_tree returned a new descriptor that nothing else owns.
        let detached = DetachedMount {
            fd: unsafe { OwnedFd::from_raw_fd(fd as i32) },
            source: source.to_path_buf(),
        };
        detached.make_private()?;
        if read_only {
            detached.make_read_only()?;
        }
        Ok(detached)
    }

    /// `mount_setattr(fd, AT_RECURSIVE, propagation = MS_PRIVATE)`: no mount made on top of
    /// the copy propagates back to the source's peers on the host.
    fn make_private(&self) -> Result<()> {
        explain!(
            "mount_setattr(<{:?}>, AT_RECURSIVE, MS_PRIVATE): no propagation to or from the host",
            self.source
        );
        self.set_attr(0, libc::MS_PRIVATE, "MS_PRIVATE")
    }

    pub fn make_read_only(&self) -> Result<()> {
        explain!(
            "mount_setattr(<{:?}>, AT_RECURSIVE, MOUNT_ATTR_RDONLY): read-only, submounts included",
            self.source
        );
        self.set_attr(MOUNT_ATTR_RDONLY, 0, "MOUNT_ATTR_RDONLY")
    }

    fn set_attr(&self, attr_set: u64, propagation: u64, what: &str) -> Result<()> {
        let attr = MountAttr {
            attr_set,
            attr_clr: 0,
            propagation,
            userns_fd: 0,
        };
        // SAFETY: the descriptor is ours, "" is a valid C string, attr is a valid struct of the
        // size we pass.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                self.fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        Errno::result(ret).map(drop).map_err(|errno| {
            Error::syscall(
                "mount_setattr",
                format!("{}, {what}", self.source.display()),
                errno,
            )
        })
    }

    /// A path that reaches the detached tree's root through `/proc/self/fd` (to fill it).
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// `move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`: attach it at `target`,
    /// looked up from the caller's root.
    pub fn attach(&self, target: &Path) -> Result<()> {
        explain!(
            "move_mount(<{:?}>, {:?}, MOVE_MOUNT_F_EMPTY_PATH): attach it in the container",
            self.source,
            target
        );
        let path = c_path(target)?;
        // SAFETY: valid descriptor and NUL-terminated strings; the result is checked.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                self.fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                path.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        Errno::result(ret).map(drop).map_err(|errno| {
            Error::syscall(
                "move_mount",
                format!("{} on {}", self.source.display(), target.display()),
                errno,
            )
        })
    }
}
