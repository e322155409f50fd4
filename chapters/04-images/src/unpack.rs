//! Unpack one layer tar into a directory, as overlayfs wants to see a lower layer.
//!
//! Every entry goes through the tar-slip checks of [`safepath`](crate::safepath); whiteouts
//! become overlay whiteouts ([`whiteout`]); file modes, owners, extended
//! attributes, symlinks, hardlinks and modification times are kept.
//!
//! Decisions, for hostile input:
//! - `..` anywhere in a name: refused. A leading `/`: dropped (the entry lands inside).
//! - A path through a symlink: refused. A hardlink to a name outside the layer, or to a name not
//!   (yet) in the layer, or to a directory: refused.
//! - Block and character devices: **refused**. A layer is data; device nodes are the runtime's
//!   business (chapter 03 gives a container a fresh `/dev`). A device node smuggled into an image
//!   is a way to reach host hardware if the device cgroup ever lets it through. FIFOs are fine.
//! - A whiteout of `.` or `..` (`.wh..`, `.wh...`): refused.
//! - `trusted.overlay.*` and `user.overlay.*` xattrs in the tar: dropped. They steer overlayfs
//!   (opaque dirs, redirects) and must only come from whiteout markers we translate ourselves.
//!
//! This writes into a directory nobody else writes into (the snapshotter gives it a fresh
//! temporary one and renames it into place only after a complete, successful unpack).

use crate::error::{Error, Result};
use crate::explain;
use crate::safepath::{check_existing_parent, entry_path, prepare_parent};
use crate::whiteout::{self, EntryName};
use ch01_namespaces::common::Failure;
use nix::sys::stat::{mknod, Mode, SFlag};
use nix::sys::time::TimeSpec;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tar::EntryType;

/// What an unpack did, for `--explain` and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    pub entries: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    pub bytes: u64,
}

impl UnpackStats {
    /// One line of four numbers, to send from a helper process (see `snapshot`).
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.entries, self.whiteouts, self.opaque_dirs, self.bytes
        )
    }

    /// What [`to_line`](Self::to_line) wrote.
    pub fn from_line(line: &str) -> Result<UnpackStats> {
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        match numbers[..] {
            [entries, whiteouts, opaque_dirs, bytes] => Ok(UnpackStats {
                entries,
                whiteouts,
                opaque_dirs,
                bytes,
            }),
            _ => Err(Error::Invalid(format!("unpack answered {line:?}"))),
        }
    }
}

/// gzip's first two bytes (RFC 1952): how a layer file, or an archive ADD unpacks, says it is
/// compressed, whatever its name.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The tar stream in a file that is a plain or a gzip'd tar, told apart by its first bytes.
pub fn plain_tar<'a>(mut reader: impl io::BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
    if reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// Unpack the tar stream `reader` into `target` (an existing, empty directory).
pub fn unpack(reader: impl Read, target: &Path) -> Result<UnpackStats> {
    let mut archive = tar::Archive::new(reader);
    let mut stats = UnpackStats::default();
    // Directory times are set last: creating files inside a directory changes its mtime.
    let mut dir_times: Vec<(PathBuf, u64)> = Vec::new();
    let entries = archive.entries().map_err(not_a_tar)?;
    for entry in entries {
        let mut entry = entry.map_err(not_a_tar)?;
        unpack_entry(&mut entry, target, &mut stats, &mut dir_times)?;
        stats.entries += 1;
    }
    for (dir, mtime) in dir_times.iter().rev() {
        // A later entry may have replaced the directory with something else.
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
            set_mtime(dir, *mtime)?;
        }
    }
    Ok(stats)
}

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    root: &Path,
    stats: &mut UnpackStats,
    dir_times: &mut Vec<(PathBuf, u64)>,
) -> Result<()> {
    let raw_name = entry.path_bytes().into_owned();
    let shown = String::from_utf8_lossy(&raw_name).into_owned();
    let kind = entry.header().entry_type();
    if matches!(kind, EntryType::XGlobalHeader) {
        return Ok(()); // global pax header: nothing we use
    }
    let Some(relative) = entry_path(&raw_name)? else {
        return Ok(()); // "./": the layer root itself keeps the snapshotter's mode
    };
    let parent = prepare_parent(root, &relative, &shown)?;
    let file_name = relative.file_name().expect("a normal path has a file name");

    match whiteout::classify(file_name) {
        EntryName::AufsMeta => return Ok(()),
        EntryName::BadWhiteout => return Err(Error::unsafe_entry(
            shown,
            "a whiteout of nothing, \".\" or \"..\" would delete outside its directory; refused",
        )),
        EntryName::Opaque => {
            make_opaque(&parent, &shown, root)?;
            stats.opaque_dirs += 1;
            return Ok(());
        }
        EntryName::Whiteout(hidden) => {
            let path = parent.join(hidden);
            // A whiteout hides what the layers *below* have; what this layer itself put there
            // stays (OCI image spec, layer.md). A directory of ours must still hide the lower
            // directory's contents: that is an opaque directory. A file of ours hides on its own.
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => make_opaque(&path, &shown, root)?,
                Ok(_) => {}
                Err(_) => {
                    // An overlay whiteout is a character device with device number 0/0.
                    explain!(
                        "{shown}: mknod({}, S_IFCHR, 0/0)",
                        path.strip_prefix(root).unwrap_or(&path).display()
                    );
                    mknod(&path, SFlag::S_IFCHR, Mode::empty(), 0).map_err(|errno| {
                        Error::file("mknod (whiteout) c 0 0", &path)(errno.into())
                    })?;
                }
            }
            stats.whiteouts += 1;
            return Ok(());
        }
        EntryName::Plain => {}
    }

    let path = parent.join(file_name);
    let header = entry.header().clone();
    let mode = header.mode().map_err(Error::file("read mode of", &path))? & 0o7777;
    let mtime = header.mtime().unwrap_or(0);

    match kind {
        EntryType::Directory => {
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) => {
                    remove_existing(&path)?;
                    std::fs::create_dir(&path).map_err(Error::file("mkdir", &path))?;
                    // Deleted (whited out) earlier in this layer and made again: the new
                    // directory must not show the lower one's contents.
                    if whiteout::is_overlay_whiteout(&meta) {
                        make_opaque(&path, &shown, root)?;
                    }
                }
                Err(_) => std::fs::create_dir(&path).map_err(Error::file("mkdir", &path))?,
            }
            dir_times.push((path.clone(), mtime));
        }
        EntryType::Regular | EntryType::Continuous => {
            remove_existing(&path)?;
            let mut file = File::options()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o600)
                .open(&path)
                .map_err(Error::file("create", &path))?;
            stats.bytes += io::copy(entry, &mut file).map_err(Error::file("write", &path))?;
        }
        EntryType::Symlink => {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| Error::unsafe_entry(&shown, "symlink without a target"))?;
            remove_existing(&path)?;
            // The target is only text: it may point anywhere, because we never follow it.
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &path)
                .map_err(Error::file("symlink", &path))?;
        }
        EntryType::Link => {
            let raw_target = entry
                .link_name_bytes()
                .ok_or_else(|| Error::unsafe_entry(&shown, "hardlink without a target"))?
                .into_owned();
            let target = entry_path(&raw_target)?
                .ok_or_else(|| Error::unsafe_entry(&shown, "hardlink to the layer root"))?;
            check_existing_parent(root, &target, &shown)?;
            let target = root.join(target);
            match std::fs::symlink_metadata(&target) {
                Ok(meta) if meta.is_dir() => {
                    return Err(Error::unsafe_entry(
                        &shown,
                        "hardlink to a directory; refused",
                    ))
                }
                Ok(_) => {}
                Err(_) => {
                    return Err(Error::unsafe_entry(
                        &shown,
                        format!(
                            "the hardlink's target {} is not in this layer; refused",
                            String::from_utf8_lossy(&raw_target)
                        ),
                    ))
                }
            }
            remove_existing(&path)?;
            // linkat(2) without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
            std::fs::hard_link(&target, &path).map_err(Error::file("link", &path))?;
            return Ok(()); // a hardlink shares the target's inode: its metadata is already set
        }
        EntryType::Fifo => {
            remove_existing(&path)?;
            mknod(&path, SFlag::S_IFIFO, Mode::from_bits_truncate(0o600), 0)
                .map_err(|errno| Error::file("mknod (fifo)", &path)(errno.into()))?;
        }
        EntryType::Char | EntryType::Block => {
            return Err(Error::unsafe_entry(
                shown,
                "device nodes are not allowed in layers (the runtime makes /dev); refused",
            ))
        }
        other => {
            return Err(Error::unsafe_entry(
                shown,
                format!("unsupported tar entry type {other:?}"),
            ))
        }
    }

    apply_metadata(entry, &path, &header, mode, kind)?;
    if kind != EntryType::Directory {
        set_mtime(&path, mtime)?;
    }
    Ok(())
}

/// A tar stream that cannot be read, as an error a person can read: the tar parser's message
/// may quote raw bytes of the damaged header, so only printable text of it is kept.
pub fn not_a_tar(error: io::Error) -> Error {
    let reason: String = error
        .to_string()
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(60)
        .collect();
    Error::Invalid(format!("not a valid tar archive ({})", reason.trim()))
}

/// Owner, extended attributes, then mode (in that order: chown clears set-user-id bits).
fn apply_metadata<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    path: &Path,
    header: &tar::Header,
    mode: u32,
    kind: EntryType,
) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        let uid = header.uid().unwrap_or(0) as u32;
        let gid = header.gid().unwrap_or(0) as u32;
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
            .map_err(Error::file("lchown", path))?;
    }
    if let Ok(Some(extensions)) = entry.pax_extensions() {
        for extension in extensions.flatten() {
            let Some(name) = extension
                .key()
                .ok()
                .and_then(|k| k.strip_prefix("SCHILY.xattr."))
            else {
                continue;
            };
            if ch03_overlayfs::overlay::is_overlay_xattr(name) {
                continue; // only our own whiteout translation may steer overlayfs
            }
            xattr::set(path, name, extension.value_bytes())
                .map_err(Error::file("lsetxattr", path))?;
        }
    }
    if kind != EntryType::Symlink {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(Error::file("chmod", path))?;
    }
    Ok(())
}

/// Mark a directory opaque: overlayfs then shows none of the lower layers' entries in it.
/// In a user namespace the mark is `user.overlay.opaque`, which an overlay mounted there
/// with `userxattr` reads (see [`ch03_overlayfs::overlay::opaque_xattr_here`]).
fn make_opaque(dir: &Path, shown: &str, root: &Path) -> Result<()> {
    let name = ch03_overlayfs::overlay::opaque_xattr_here();
    explain!(
        "{shown}: setxattr({}, {name}, y)",
        dir.strip_prefix(root).unwrap_or(dir).display()
    );
    xattr::set(dir, name, whiteout::OPAQUE_VALUE).map_err(Error::file("setxattr (opaque) on", dir))
}

/// Remove whatever is at `path` (a later entry replaces an earlier one of the same name).
/// `path`'s parents were checked, and `lstat` does not follow a final symlink.
fn remove_existing(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => {
            std::fs::remove_dir_all(path).map_err(Error::file("remove directory", path))
        }
        Ok(_) => std::fs::remove_file(path).map_err(Error::file("unlink", path)),
        Err(_) => Ok(()),
    }
}

/// `utimensat(2)` with `AT_SYMLINK_NOFOLLOW`: set the times of a symlink itself.
fn set_mtime(path: &Path, mtime: u64) -> Result<()> {
    let time = TimeSpec::new(mtime as i64, 0);
    nix::sys::stat::utimensat(
        None,
        path,
        &time,
        &time,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|errno| Error::file("utimensat", path)(errno.into()))
}
