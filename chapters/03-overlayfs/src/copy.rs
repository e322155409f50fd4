//! `docker cp`: copying into and out of a running container without ever leaving it.
//!
//! The container's root file system is only mounted in the container's own mount namespace,
//! but the kernel shows it to us anyway: `/proc/PID/root` is a directory that *is* the
//! container's root. The danger is in the paths. A container controls every name in its tree:
//! `/data` may be a symlink to `/`, and a naive `cp file /proc/PID/root/data/x` follows it —
//! on the host. Worse, it can swap a directory for such a symlink between our check and our use
//! (CVE-2018-15664, "docker cp" time-of-check/time-of-use).
//!
//! So every path inside the container is resolved by the kernel with `openat2(2)` and
//! `RESOLVE_IN_ROOT`: the directory we pass is the root for that lookup, absolute symlinks and
//! `..` cannot climb above it, just as they cannot for the container itself. From then on we
//! only ever open *one name* relative to a directory we already hold open, with `O_NOFOLLOW`: a
//! symlink swapped in after our lookup is not followed, it is an error (or, when copying out, a
//! symlink copied as a symlink).

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::dir::Dir;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, mkdirat, Mode, SFlag};
use nix::unistd::{symlinkat, unlinkat, UnlinkatFlags};
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a copy did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Copied {
    pub files: u64,
    pub directories: u64,
    pub symlinks: u64,
    pub bytes: u64,
}

/// A container's root directory, held open.
pub struct ContainerRoot {
    fd: OwnedFd,
    shown: String,
}

impl ContainerRoot {
    /// The root of the running process `pid`'s container: `/proc/PID/root`.
    pub fn of_process(pid: i32) -> Result<Self> {
        Self::at(Path::new(&format!("/proc/{pid}/root")))
    }

    /// Any directory, treated as a root (tests; a stopped container's merged tree).
    pub fn at(dir: &Path) -> Result<Self> {
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|errno| Error::syscall("open", dir.display().to_string(), errno))?;
        Ok(ContainerRoot {
            // SAFETY: a descriptor we just opened and own.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            shown: dir.display().to_string(),
        })
    }

    /// Open `path` inside the container, the kernel keeping the lookup inside it.
    pub(crate) fn open(&self, path: &Path, flags: OFlag) -> Result<OwnedFd> {
        explain!(
            "openat2({}, {:?}, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS): resolved inside the container",
            self.shown,
            path
        );
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = openat2(self.fd.as_raw_fd(), path, how).map_err(|errno| {
            Error::syscall("openat2", format!("{}, {path:?}", self.shown), errno)
        })?;
        // SAFETY: a descriptor we just opened and own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Open one name under an open directory, never following a symlink.
pub(crate) fn open_at(dir: &OwnedFd, name: &OsStr, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let fd = openat(
        Some(dir.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(|errno| Error::syscall("openat", format!("{name:?}, O_NOFOLLOW"), errno))?;
    // SAFETY: a descriptor we just opened and own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) fn kind(fd: &OwnedFd) -> Result<SFlag> {
    let stat = fstat(fd.as_raw_fd()).map_err(|errno| Error::syscall("fstat", "", errno))?;
    Ok(SFlag::from_bits_truncate(
        stat.st_mode & SFlag::S_IFMT.bits(),
    ))
}

fn mode_of(fd: &OwnedFd) -> Result<Mode> {
    let stat = fstat(fd.as_raw_fd()).map_err(|errno| Error::syscall("fstat", "", errno))?;
    Ok(Mode::from_bits_truncate(stat.st_mode & 0o7777))
}

/// Split a container path into its parent and its last name (`/a/b` → `/a`, `b`).
pub(crate) fn split(path: &str) -> Result<(PathBuf, std::ffi::OsString)> {
    let path = Path::new(path);
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{}: no file name to copy", path.display())))?;
    let parent = path.parent().unwrap_or(Path::new("/"));
    let parent = if parent.as_os_str().is_empty() {
        Path::new("/")
    } else {
        parent
    };
    Ok((parent.to_path_buf(), name.to_os_string()))
}

// ---- out of the container -------------------------------------------------------------

/// `cp CONTAINER:src dest`: `src` (a file, a symlink, or a directory and all it holds) to the
/// host path `dest`. If `dest` is an existing directory, the copy goes inside it.
pub fn copy_out(root: &ContainerRoot, src: &str, dest: &Path) -> Result<Copied> {
    let (parent, name) = split(src)?;
    let parent_fd = root.open(&parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let target = if dest.is_dir() {
        dest.join(&name)
    } else {
        dest.to_path_buf()
    };
    let mut copied = Copied::default();
    out_entry(&parent_fd, &name, &target, &mut copied)?;
    Ok(copied)
}

fn out_entry(dir: &OwnedFd, name: &OsStr, target: &Path, copied: &mut Copied) -> Result<()> {
    // O_PATH first: it opens a symlink itself (with O_NOFOLLOW), so we can tell what it is.
    let probe = open_at(dir, name, OFlag::O_PATH, Mode::empty())?;
    match kind(&probe)? {
        SFlag::S_IFLNK => {
            let link = readlinkat(Some(dir.as_raw_fd()), name)
                .map_err(|errno| Error::syscall("readlinkat", format!("{name:?}"), errno))?;
            std::os::unix::fs::symlink(&link, target).map_err(Error::file("symlink", target))?;
            copied.symlinks += 1;
        }
        SFlag::S_IFREG => {
            let file = open_at(dir, name, OFlag::O_RDONLY, Mode::empty())?;
            let mode = mode_of(&file)?;
            let mut from = File::from(file);
            let mut to = File::create(target).map_err(Error::file("create", target))?;
            copied.bytes +=
                std::io::copy(&mut from, &mut to).map_err(Error::file("copy into", target))?;
            std::fs::set_permissions(
                target,
                std::os::unix::fs::PermissionsExt::from_mode(mode.bits()),
            )
            .map_err(Error::file("chmod", target))?;
            copied.files += 1;
        }
        SFlag::S_IFDIR => {
            let sub = open_at(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )?;
            let mode = mode_of(&sub)?;
            std::fs::create_dir(target).map_err(Error::file("mkdir", target))?;
            copied.directories += 1;
            for child in names(&sub)? {
                out_entry(&sub, &child, &target.join(&child), copied)?;
            }
            std::fs::set_permissions(
                target,
                std::os::unix::fs::PermissionsExt::from_mode(mode.bits()),
            )
            .map_err(Error::file("chmod", target))?;
        }
        other => {
            return Err(Error::Invalid(format!(
                "{}: cannot copy a {other:?} (only files, directories and symlinks)",
                target.display()
            )))
        }
    }
    Ok(())
}

/// The names in an open directory (not `.` and `..`), sorted.
pub(crate) fn names(dir: &OwnedFd) -> Result<Vec<std::ffi::OsString>> {
    let dup =
        nix::unistd::dup(dir.as_raw_fd()).map_err(|errno| Error::syscall("dup", "", errno))?;
    let mut listing = Dir::from_fd(dup).map_err(|errno| Error::syscall("fdopendir", "", errno))?;
    let mut names: Vec<std::ffi::OsString> = listing
        .iter()
        .filter_map(|entry| entry.ok())
        .map(|entry| OsStr::from_bytes(entry.file_name().to_bytes()).to_os_string())
        .filter(|name| name != "." && name != "..")
        .collect();
    names.sort();
    Ok(names)
}

// ---- into the container ---------------------------------------------------------------

/// `cp src CONTAINER:dest`: the host path `src` into the container. If `dest` is an existing
/// directory in the container, the copy goes inside it. An existing file of the same name is
/// replaced; an existing symlink is replaced, never followed.
pub fn copy_in(src: &Path, root: &ContainerRoot, dest: &str) -> Result<Copied> {
    let mut copied = Copied::default();
    let src_name = src
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{}: no file name to copy", src.display())))?
        .to_os_string();
    // Is dest an existing directory in the container? Then copy inside it.
    let (dir, name) = match root.open(Path::new(dest), OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(dir) => (dir, src_name),
        Err(_) => {
            let (parent, name) = split(dest)?;
            (
                root.open(&parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?,
                name,
            )
        }
    };
    in_entry(src, &dir, &name, &mut copied)?;
    Ok(copied)
}

fn in_entry(src: &Path, dir: &OwnedFd, name: &OsStr, copied: &mut Copied) -> Result<()> {
    let meta = std::fs::symlink_metadata(src).map_err(Error::file("lstat", src))?;
    let mode = Mode::from_bits_truncate(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
    );
    if meta.is_dir() {
        let existing = open_at(
            dir,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
        );
        let sub = match existing {
            Ok(sub) => sub,
            Err(_) => {
                remove_non_directory(dir, name)?;
                mkdirat(Some(dir.as_raw_fd()), name, mode)
                    .map_err(|errno| Error::syscall("mkdirat", format!("{name:?}"), errno))?;
                open_at(
                    dir,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                    Mode::empty(),
                )?
            }
        };
        copied.directories += 1;
        let mut children: Vec<_> = std::fs::read_dir(src)
            .map_err(Error::file("read directory", src))?
            .flatten()
            .map(|e| e.file_name())
            .collect();
        children.sort();
        for child in children {
            in_entry(&src.join(&child), &sub, &child, copied)?;
        }
    } else if meta.file_type().is_symlink() {
        let link = std::fs::read_link(src).map_err(Error::file("readlink", src))?;
        remove_non_directory(dir, name)?;
        symlinkat(&link, Some(dir.as_raw_fd()), name)
            .map_err(|errno| Error::syscall("symlinkat", format!("{name:?}"), errno))?;
        copied.symlinks += 1;
    } else if meta.is_file() {
        remove_non_directory(dir, name)?;
        // O_EXCL with O_NOFOLLOW: if anything appeared under this name since, we fail.
        let file = open_at(
            dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
            mode,
        )?;
        let mut to = File::from(file);
        let mut from = File::open(src).map_err(Error::file("open", src))?;
        copied.bytes += std::io::copy(&mut from, &mut to).map_err(Error::file("copy from", src))?;
        copied.files += 1;
    } else {
        return Err(Error::Invalid(format!(
            "{}: only files, directories and symlinks can be copied",
            src.display()
        )));
    }
    Ok(())
}

/// Remove `name` if it is there and is not a directory (a file or symlink we replace).
pub(crate) fn remove_non_directory(dir: &OwnedFd, name: &OsStr) -> Result<()> {
    match unlinkat(Some(dir.as_raw_fd()), name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(errno) => Err(Error::syscall("unlinkat", format!("{name:?}"), errno)),
    }
}
