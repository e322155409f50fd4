//! Thin, narrated wrappers over `mount(2)`, `umount2(2)` and `mknod(2)`: every mount the chapter
//! makes goes through here, so `--explain` shows each one with its flags.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::mount::{mount, MsFlags};
use std::path::Path;

/// `mount(source, target, fstype, flags, data)`, narrated.
pub fn mount_fs(
    source: &str,
    target: &Path,
    fstype: &str,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    explain!(
        "mount({source:?}, {:?}, {fstype:?}, {}, {:?})",
        target,
        flag_names(flags),
        data.unwrap_or("")
    );
    mount(Some(source), target, Some(fstype), flags, data).map_err(|errno| {
        Error::syscall("mount", format!("{fstype} on {}", target.display()), errno)
    })
}

/// A bind mount: `source` also appears at `target` (read `mount(8)`, "bind mount operation").
pub fn bind(source: &Path, target: &Path, flags: MsFlags) -> Result<()> {
    explain!(
        "mount({:?}, {:?}, NULL, MS_BIND{}, NULL)",
        source,
        target,
        if flags.is_empty() {
            String::new()
        } else {
            format!("|{}", flag_names(flags))
        }
    );
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | flags,
        None::<&str>,
    )
    .map_err(|errno| {
        Error::syscall(
            "mount",
            format!("bind {} on {}", source.display(), target.display()),
            errno,
        )
    })
}

/// Make an existing mount read-only. A bind mount cannot be made read-only in the same call
/// that creates it: the kernel ignores MS_RDONLY there, so it takes a second, remounting call.
pub fn remount_read_only(target: &Path, extra: MsFlags) -> Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | extra;
    explain!(
        "mount(NULL, {:?}, NULL, {}, NULL)",
        target,
        flag_names(flags)
    );
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>).map_err(|errno| {
        Error::syscall(
            "mount",
            format!("remount {} read-only", target.display()),
            errno,
        )
    })
}

/// Make `target` and every mount below it read-only: `mount_setattr(2)` with `AT_RECURSIVE`
/// (Linux 5.12). A remount with `MS_RDONLY` changes one mount only, whatever `MS_REC` says.
pub fn make_read_only_recursively(target: &Path) -> Result<()> {
    /// `struct mount_attr` of <linux/mount.h>.
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    explain!("mount_setattr({target:?}, AT_RECURSIVE, MOUNT_ATTR_RDONLY)");
    let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Invalid(format!("{} has a NUL byte", target.display())))?;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a C string and a struct we own, with its size, for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    nix::errno::Errno::result(ret).map(drop).map_err(|errno| {
        Error::syscall(
            "mount_setattr",
            format!("{}, AT_RECURSIVE, MOUNT_ATTR_RDONLY", target.display()),
            errno,
        )
    })
}

/// The per-mount flags a remount must repeat (`nosuid`, `nodev`, `noexec`): a bind remount
/// sets them all anew, and in a user namespace dropping a locked one is refused (EPERM).
/// Read with statvfs(3).
pub fn kept_flags(target: &Path) -> Result<MsFlags> {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let stat = statvfs(target)
        .map_err(|errno| Error::syscall("statvfs", target.display().to_string(), errno))?;
    let mut flags = MsFlags::empty();
    for (has, flag) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if stat.flags().contains(has) {
            flags |= flag;
        }
    }
    Ok(flags)
}

/// `MS_NOSUID|MS_NODEV`, the way the flags are written in C.
pub fn flag_names(flags: MsFlags) -> String {
    const NAMES: [(MsFlags, &str); 10] = [
        (MsFlags::MS_RDONLY, "MS_RDONLY"),
        (MsFlags::MS_NOSUID, "MS_NOSUID"),
        (MsFlags::MS_NODEV, "MS_NODEV"),
        (MsFlags::MS_NOEXEC, "MS_NOEXEC"),
        (MsFlags::MS_REMOUNT, "MS_REMOUNT"),
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_STRICTATIME, "MS_STRICTATIME"),
        (MsFlags::MS_RELATIME, "MS_RELATIME"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(flag, _)| flags.contains(*flag))
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "0".to_string()
    } else {
        names.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_named_like_in_c() {
        assert_eq!(
            flag_names(MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC),
            "MS_NOSUID|MS_NODEV|MS_NOEXEC"
        );
        assert_eq!(flag_names(MsFlags::empty()), "0");
    }
}
