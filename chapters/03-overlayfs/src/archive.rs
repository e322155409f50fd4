//! `docker cp` as the Engine API does it: a path of the container as a **tar stream** (out),
//! a tar stream unpacked into a directory of the container (in), and a path's stat.
//!
//! The same rule as [`crate::copy`]: the path the client names is resolved by the kernel with
//! `openat2(2)` and `RESOLVE_IN_ROOT`, so symlinks in it stay inside the container; below it,
//! every name is opened relative to a directory we hold, with `O_NOFOLLOW`. Unpacking is where
//! it matters most: a tar may hold `a -> /` and then `a/etc/passwd`. Each entry's path is
//! walked one name at a time from the destination, and a symlink on the way is an error
//! (`ELOOP`/`ENOTDIR`), never a way out. Entries with `..` are refused.
//!
//! Read `tar(5)` for the format; the `tar` crate writes and reads the headers.

use crate::copy::{kind, names, open_at, remove_non_directory, split, ContainerRoot, Copied};
use crate::error::{Error, Result, SyscallError};
use ch01_namespaces::common::Failure;
use nix::fcntl::{readlinkat, OFlag};
use nix::sys::stat::{fchmod, fstat, fstatat, mkdirat, FileStat, Mode, SFlag};
use nix::unistd::symlinkat;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path};

/// What a path in the container is (`HEAD /containers/{id}/archive`): the symlink itself if
/// it is one, as `lstat(2)` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// `st_mode`: the file type bits and the permissions.
    pub mode: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// Where a symlink points ("" otherwise).
    pub link_target: String,
}

impl PathStat {
    pub fn is_dir(&self) -> bool {
        self.mode & SFlag::S_IFMT.bits() == SFlag::S_IFDIR.bits()
    }
}

fn stat_error<'a>(
    call: &'static str,
    what: &'a OsStr,
) -> impl FnOnce(nix::errno::Errno) -> Error + 'a {
    move |errno| Error::syscall(call, format!("{what:?}"), errno)
}

/// The stat of `path` in the container (`/` included).
pub fn stat(root: &ContainerRoot, path: &str) -> Result<PathStat> {
    if Path::new(path).file_name().is_none() {
        let dir = root.open(Path::new(path), OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        let st = fstat(dir.as_raw_fd()).map_err(|e| Error::syscall("fstat", path, e))?;
        return Ok(from_stat("/", &st, String::new()));
    }
    let (parent, name) = split(path)?;
    let dir = root.open(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    let st = fstatat(
        Some(dir.as_raw_fd()),
        name.as_os_str(),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(stat_error("fstatat", &name))?;
    let link = if st.st_mode & SFlag::S_IFMT.bits() == SFlag::S_IFLNK.bits() {
        readlinkat(Some(dir.as_raw_fd()), name.as_os_str())
            .map_err(stat_error("readlinkat", &name))?
            .to_string_lossy()
            .into_owned()
    } else {
        String::new()
    };
    Ok(from_stat(&name.to_string_lossy(), &st, link))
}

fn from_stat(name: &str, st: &FileStat, link_target: String) -> PathStat {
    PathStat {
        name: name.to_string(),
        size: st.st_size,
        mode: st.st_mode,
        mtime: st.st_mtime,
        link_target,
    }
}

// ---- out of the container -------------------------------------------------------------

/// `path` (a file, a symlink, or a directory and all it holds) as a tar on `out`, its entries
/// named from `path`'s last name (`/etc` → `etc`, `etc/passwd`, …), as Docker's are. Sockets,
/// FIFOs and devices are left out.
pub fn archive_out(root: &ContainerRoot, path: &str, out: impl Write) -> Result<Copied> {
    let mut builder = tar::Builder::new(out);
    let mut copied = Copied::default();
    if Path::new(path).file_name().is_none() {
        // The whole root: its entries at the top of the tar.
        let dir = root.open(Path::new(path), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        for child in names(&dir)? {
            entry_out(&dir, &child, Path::new(&child), &mut builder, &mut copied)?;
        }
    } else {
        let (parent, name) = split(path)?;
        let dir = root.open(&parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        entry_out(&dir, &name, Path::new(&name), &mut builder, &mut copied)?;
    }
    builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(Error::file("write the tar of", path))?;
    Ok(copied)
}

fn header_for(st: &FileStat, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(st.st_mode & 0o7777);
    header.set_uid(st.st_uid.into());
    header.set_gid(st.st_gid.into());
    header.set_mtime(st.st_mtime.max(0) as u64);
    header.set_size(0);
    header
}

fn entry_out<W: Write>(
    dir: &OwnedFd,
    name: &OsStr,
    tar_path: &Path,
    builder: &mut tar::Builder<W>,
    copied: &mut Copied,
) -> Result<()> {
    let written = |e| Error::file("write the tar entry", tar_path)(e);
    // O_PATH with O_NOFOLLOW opens a symlink itself: we learn what it is without following.
    let probe = open_at(dir, name, OFlag::O_PATH, Mode::empty())?;
    let st = fstat(probe.as_raw_fd()).map_err(stat_error("fstat", name))?;
    match kind(&probe)? {
        SFlag::S_IFLNK => {
            let target =
                readlinkat(Some(dir.as_raw_fd()), name).map_err(stat_error("readlinkat", name))?;
            let mut header = header_for(&st, tar::EntryType::Symlink);
            builder
                .append_link(&mut header, tar_path, &target)
                .map_err(written)?;
            copied.symlinks += 1;
        }
        SFlag::S_IFREG => {
            let file = File::from(open_at(dir, name, OFlag::O_RDONLY, Mode::empty())?);
            let mut header = header_for(&st, tar::EntryType::Regular);
            header.set_size(st.st_size as u64);
            // Exactly the size we announced, even if the file grows meanwhile.
            builder
                .append_data(&mut header, tar_path, file.take(st.st_size as u64))
                .map_err(written)?;
            copied.files += 1;
            copied.bytes += st.st_size as u64;
        }
        SFlag::S_IFDIR => {
            let sub = open_at(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )?;
            let mut header = header_for(&st, tar::EntryType::Directory);
            builder
                .append_data(&mut header, tar_path, std::io::empty())
                .map_err(written)?;
            copied.directories += 1;
            for child in names(&sub)? {
                entry_out(&sub, &child, &tar_path.join(&child), builder, copied)?;
            }
        }
        _ => {} // sockets, FIFOs, devices: not copied
    }
    Ok(())
}

// ---- into the container ---------------------------------------------------------------

/// Unpack the tar `input` into the container directory `dest` (which must exist). Existing
/// files and symlinks of the same name are replaced (never followed), existing directories
/// kept. Owners are not applied: what is copied in belongs to root, as with `docker cp`.
pub fn extract_in(root: &ContainerRoot, dest: &str, input: impl Read) -> Result<Copied> {
    let top = root.open(Path::new(dest), OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let mut archive = tar::Archive::new(input);
    let mut copied = Copied::default();
    let entries = archive
        .entries()
        .map_err(Error::file("read the tar for", dest))?;
    for entry in entries {
        let mut entry = entry.map_err(Error::file("read a tar entry for", dest))?;
        let path = entry
            .path()
            .map_err(Error::file("read a tar entry's path for", dest))?
            .into_owned();
        let parts = plain_names(&path)?;
        let Some((last, parents)) = parts.split_last() else {
            continue; // `./` itself
        };
        let dir = walk(&top, parents)?;
        let mode = Mode::from_bits_truncate(entry.header().mode().unwrap_or(0o644) & 0o7777);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                let sub = directory(&dir, last, mode)?;
                fchmod(sub.as_raw_fd(), mode).map_err(stat_error("fchmod", last))?;
                copied.directories += 1;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(Error::file("read a link target in", &path))?
                    .unwrap_or_default()
                    .into_owned();
                remove_non_directory(&dir, last)?;
                symlinkat(&target, Some(dir.as_raw_fd()), last.as_os_str())
                    .map_err(stat_error("symlinkat", last))?;
                copied.symlinks += 1;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                remove_non_directory(&dir, last)?;
                // O_EXCL with O_NOFOLLOW: anything that appeared under this name since is an
                // error, not something we write through.
                let file = open_at(
                    &dir,
                    last,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                    Mode::from_bits_truncate(0o600),
                )?;
                let mut file = File::from(file);
                copied.bytes +=
                    std::io::copy(&mut entry, &mut file).map_err(Error::file("write", &path))?;
                fchmod(file.as_raw_fd(), mode).map_err(stat_error("fchmod", last))?;
                copied.files += 1;
            }
            other => {
                return Err(Error::Invalid(format!(
                    "{}: a tar entry of type {other:?} cannot be copied in (only files, \
                     directories and symlinks)",
                    path.display()
                )))
            }
        }
    }
    Ok(copied)
}

/// A tar path as plain names; `..` and anything odd refused, `./` and a leading `/` dropped.
fn plain_names(path: &Path) -> Result<Vec<std::ffi::OsString>> {
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => names.push(name.to_os_string()),
            Component::CurDir | Component::RootDir => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "{}: a tar entry may not climb out with `..`",
                    path.display()
                )))
            }
        }
    }
    Ok(names)
}

/// Open (making them as needed) the directories `names` under `top`, one name at a time,
/// none of them a symlink.
fn walk(top: &OwnedFd, names: &[std::ffi::OsString]) -> Result<OwnedFd> {
    let mut dir = open_at(
        top,
        OsStr::new("."),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )?;
    for name in names {
        dir = directory(&dir, name, Mode::from_bits_truncate(0o755))?;
    }
    Ok(dir)
}

/// The directory `name` under `dir`: opened if it is one (a symlink to one is refused), made
/// if nothing is there.
fn directory(dir: &OwnedFd, name: &OsStr, mode: Mode) -> Result<OwnedFd> {
    match open_at(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    ) {
        Ok(sub) => Ok(sub),
        Err(Error::Syscall(SyscallError {
            errno: nix::errno::Errno::ENOENT,
            ..
        })) => {
            mkdirat(Some(dir.as_raw_fd()), name, mode).map_err(stat_error("mkdirat", name))?;
            open_at(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, link, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            match link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, path, target).unwrap();
                }
                None => {
                    header.set_size(data.len() as u64);
                    builder.append_data(&mut header, path, *data).unwrap();
                }
            }
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_round_trip_keeps_files_links_and_directories() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join("data/sub")).unwrap();
        std::fs::write(from.path().join("data/sub/a.txt"), "hello").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.path().join("data/link")).unwrap();
        let mut tar = Vec::new();
        let root = ContainerRoot::at(from.path()).unwrap();
        let copied = archive_out(&root, "/data", &mut tar).unwrap();
        assert_eq!(
            (copied.files, copied.symlinks, copied.directories),
            (1, 1, 2)
        );
        assert!(stat(&root, "/data").unwrap().is_dir());
        assert_eq!(
            stat(&root, "/data/link").unwrap().link_target,
            "/etc/passwd"
        );

        let to = tempfile::tempdir().unwrap();
        let root = ContainerRoot::at(to.path()).unwrap();
        extract_in(&root, "/", tar.as_slice()).unwrap();
        assert_eq!(
            std::fs::read_to_string(to.path().join("data/sub/a.txt")).unwrap(),
            "hello"
        );
        assert_eq!(
            std::fs::read_link(to.path().join("data/link")).unwrap(),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn a_tar_cannot_write_through_its_own_symlink_or_climb_out() {
        let outside = tempfile::tempdir().unwrap();
        let inside = tempfile::tempdir().unwrap();
        let root = ContainerRoot::at(inside.path()).unwrap();
        let link = outside.path().to_str().unwrap();
        let tar = tar_of(&[("escape", Some(link), b""), ("escape/owned", None, b"x")]);
        assert!(extract_in(&root, "/", tar.as_slice()).is_err());
        assert!(!outside.path().join("owned").exists());

        let mut raw = tar_of(&[("placeholder", None, b"x")]);
        // Rewrite the name in the header by hand: the tar crate refuses to write `..`.
        raw[..11].copy_from_slice(b"../owned\0\0\0");
        let mut header = tar::Header::from_byte_slice(&raw[..512]).clone();
        header.set_cksum();
        raw[..512].copy_from_slice(header.as_bytes());
        assert!(extract_in(&root, "/", raw.as_slice()).is_err());
    }
}
