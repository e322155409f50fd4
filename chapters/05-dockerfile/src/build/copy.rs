//! COPY and ADD: which files go where, their content hash (the cache key), and the layer.
//!
//! Docker's rules (Dockerfile reference, "COPY"):
//! - a source is a path or a pattern (Go's `filepath.Match`) in the source tree; a directory
//!   source copies its *contents*, not the directory itself;
//! - the destination is a directory if it ends with `/`, if there are several sources, or if
//!   it is a directory in the image already; a relative destination is under WORKDIR;
//! - files get uid and gid 0 unless `--chown`, keep their mode unless `--chmod`, and keep their
//!   modification time; missing parent directories are created;
//! - ADD does the same, and a local tar archive (plain or gzip'd) is *unpacked* into the
//!   destination instead of copied. URLs and Git repositories are not fetched by baleia.

use super::error::{BuildError, Result};
use super::tree::{clean_source, Tree};
use crate::glob::path_match;
use crate::heredoc::Heredoc;
use ch01_namespaces::common::Failure;
use ch04_images::pack::{LayerWriter, NewLayer};
use ch04_images::safepath;
use ch04_images::Store;
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One thing the layer will hold, at `dest` (relative to the image's root).
#[derive(Debug, Clone)]
pub enum Entry {
    Dir {
        dest: PathBuf,
        mode: u32,
        mtime: u64,
    },
    File {
        dest: PathBuf,
        source: PathBuf,
        mode: u32,
        mtime: u64,
    },
    Symlink {
        dest: PathBuf,
        target: PathBuf,
        mtime: u64,
    },
    /// A heredoc's text (`COPY <<EOF /file`).
    Inline { dest: PathBuf, bytes: Vec<u8> },
    /// A tar archive ADD unpacks into the directory `dest`.
    Archive { dest: PathBuf, source: PathBuf },
}

impl Entry {
    pub fn dest(&self) -> &Path {
        match self {
            Entry::Dir { dest, .. }
            | Entry::File { dest, .. }
            | Entry::Symlink { dest, .. }
            | Entry::Inline { dest, .. }
            | Entry::Archive { dest, .. } => dest,
        }
    }
}

/// What one COPY or ADD asks for.
pub struct Request<'a> {
    pub keyword: &'a str,
    pub sources: &'a [String],
    pub heredocs: &'a [Heredoc],
    pub destination: &'a str,
    pub workdir: &'a str,
    /// ADD: unpack local tar archives.
    pub unpack_archives: bool,
}

fn has_wildcards(source: &str) -> bool {
    source.contains(['*', '?', '['])
}

/// The destination as a path relative to the image's root, and whether it names a directory.
fn destination(request: &Request<'_>, image: &dyn Tree) -> Result<(PathBuf, bool)> {
    let absolute = if request.destination.starts_with('/') {
        request.destination.to_string()
    } else {
        format!(
            "{}/{}",
            request.workdir.trim_end_matches('/'),
            request.destination
        )
    };
    let dest = clean_source(&absolute)?;
    let says_dir = request.destination.ends_with('/') || request.destination.ends_with("/.");
    if request.sources.len() > 1 && !says_dir {
        return Err(BuildError::Source(format!(
            "{} with more than one source: the destination {:?} must be a directory and end \
             with a /",
            request.keyword, request.destination
        )));
    }
    let is_dir_in_image = matches!(image.find(&dest), Ok(Some((_, meta))) if meta.is_dir());
    // A pattern may match several files: like several sources, they go into a directory.
    let many = request.sources.len() > 1 || request.sources.iter().any(|s| has_wildcards(s));
    let is_dir = says_dir || many || is_dir_in_image || dest.as_os_str().is_empty();
    Ok((dest, is_dir))
}

/// Every path of `tree` matching `pattern`, sorted.
fn matches(tree: &dyn Tree, pattern: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(dir) = pending.pop() {
        for name in tree.children(&dir)? {
            let path = dir.join(&name);
            let text = String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned();
            if path_match(pattern, &text) {
                found.push(path.clone());
            }
            if let Some((_, meta)) = tree.find(&path)? {
                if meta.is_dir() {
                    pending.push(path);
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

/// Decide every entry of a COPY/ADD from `tree` into the image (seen as `image`).
pub fn plan(request: &Request<'_>, tree: &dyn Tree, image: &dyn Tree) -> Result<Vec<Entry>> {
    let (dest, dest_is_dir) = destination(request, image)?;
    let mut entries = Vec::new();
    for source in request.sources {
        if let Some(name) = source.strip_prefix("<<") {
            let name = name.trim_start_matches('-').trim_matches(['"', '\'']);
            let heredoc = request
                .heredocs
                .iter()
                .find(|h| h.name == name)
                .ok_or_else(|| BuildError::Source(format!("{source}: no heredoc named {name}")))?;
            let dest = if dest_is_dir {
                dest.join(name)
            } else {
                dest.clone()
            };
            entries.push(Entry::Inline {
                dest,
                bytes: heredoc.content.clone().into_bytes(),
            });
            continue;
        }
        let clean = clean_source(source)?;
        let paths = if has_wildcards(source) {
            let pattern = String::from_utf8_lossy(clean.as_os_str().as_bytes()).into_owned();
            matches(tree, &pattern)?
        } else {
            vec![clean]
        };
        if paths.is_empty() {
            return Err(BuildError::Source(format!(
                "{source}: no file in {} matches it (or .dockerignore excludes them)",
                tree.name()
            )));
        }
        for path in paths {
            let Some((real, meta)) = tree.find(&path)? else {
                return Err(BuildError::Source(format!(
                    "{source}: not found in {} (or excluded by .dockerignore)",
                    tree.name()
                )));
            };
            if meta.is_dir() {
                // The directory's contents go into the destination directory.
                add_tree(tree, &path, &dest, &mut entries)?;
            } else {
                let name = path.file_name().map(PathBuf::from).unwrap_or_default();
                let target = if dest_is_dir {
                    dest.join(name)
                } else {
                    dest.clone()
                };
                if request.unpack_archives && meta.is_file() && is_tar_archive(&real)? {
                    entries.push(Entry::Archive {
                        dest: if dest_is_dir { dest.clone() } else { target },
                        source: real,
                    });
                } else {
                    entries.push(entry_for(target, real, &meta)?);
                }
            }
        }
    }
    Ok(entries)
}

/// Every entry under the directory `from` of `tree`, placed under `to`.
fn add_tree(tree: &dyn Tree, from: &Path, to: &Path, entries: &mut Vec<Entry>) -> Result<()> {
    for name in tree.children(from)? {
        let path = from.join(&name);
        let Some((real, meta)) = tree.find(&path)? else {
            continue;
        };
        let dest = to.join(&name);
        entries.push(entry_for(dest.clone(), real, &meta)?);
        if meta.is_dir() {
            add_tree(tree, &path, &dest, entries)?;
        }
    }
    Ok(())
}

fn entry_for(dest: PathBuf, real: PathBuf, meta: &std::fs::Metadata) -> Result<Entry> {
    let mode = meta.permissions().mode() & 0o7777;
    let mtime = meta.mtime().max(0) as u64;
    let kind = meta.file_type();
    if kind.is_dir() {
        Ok(Entry::Dir { dest, mode, mtime })
    } else if kind.is_file() {
        Ok(Entry::File {
            dest,
            source: real,
            mode,
            mtime,
        })
    } else if kind.is_symlink() {
        let target = std::fs::read_link(&real).map_err(BuildError::file("readlink", &real))?;
        Ok(Entry::Symlink {
            dest,
            target,
            mtime,
        })
    } else {
        Err(BuildError::Source(format!(
            "{}: only files, directories and symlinks can be copied into an image",
            real.display()
        )))
    }
}

/// Whether `path` starts like a tar archive: gzip's magic bytes, or `ustar` at byte 257.
fn is_tar_archive(path: &Path) -> Result<bool> {
    let mut head = [0u8; 512];
    let mut file = std::fs::File::open(path).map_err(BuildError::file("open", path))?;
    let mut read = 0;
    while read < head.len() {
        match file
            .read(&mut head[read..])
            .map_err(BuildError::file("read", path))?
        {
            0 => break,
            n => read += n,
        }
    }
    Ok((read >= 2 && head[..2] == ch04_images::unpack::GZIP_MAGIC)
        || (read >= 262 && &head[257..262] == b"ustar"))
}

/// The content hash of a plan: destinations, kinds, modes and bytes (not times, not owners:
/// `--chown` and `--chmod` are part of the key separately). Equal plans copy equal files.
pub fn content_hash(entries: &[Entry]) -> Result<String> {
    let mut hash = Sha256::new();
    for entry in entries {
        hash.update(entry.dest().as_os_str().as_bytes());
        hash.update([0]);
        match entry {
            Entry::Dir { mode, .. } => hash.update(format!("dir {mode:o}")),
            Entry::File { source, mode, .. } => {
                hash.update(format!("file {mode:o}"));
                hash_file(&mut hash, source)?;
            }
            Entry::Archive { source, .. } => {
                hash.update("archive ");
                hash_file(&mut hash, source)?;
            }
            Entry::Symlink { target, .. } => {
                hash.update("symlink ");
                hash.update(target.as_os_str().as_bytes());
            }
            Entry::Inline { bytes, .. } => {
                hash.update("inline ");
                hash.update(bytes);
            }
        }
        hash.update([0]);
    }
    Ok(format!("{:x}", hash.finalize()))
}

fn hash_file(hash: &mut Sha256, path: &Path) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(BuildError::file("open", path))?;
    std::io::copy(&mut file, hash).map_err(BuildError::file("read", path))?;
    Ok(())
}

/// Owner and mode overrides (`--chown`, `--chmod`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub uid: u32,
    pub gid: u32,
    pub mode: Option<u32>,
}

/// Parse `--chmod=0755` (octal, as Docker takes it).
pub fn parse_chmod(text: &str) -> Result<u32> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| BuildError::Invalid(format!("--chmod={text}: expected an octal mode")))
}

/// Write the planned entries as a layer. Parent directories the entries need are added: as
/// they are in the image if they exist there (so their owner and mode do not change), else
/// as root-owned 0755 directories.
pub fn write_layer(
    store: &Store,
    entries: &[Entry],
    overrides: Overrides,
    image: &dyn Tree,
) -> Result<NewLayer> {
    let mut all: Vec<Entry> = entries.to_vec();
    let mut parents: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let mut parent = entry.dest().parent();
        while let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
            parents.push(dir.to_path_buf());
            parent = dir.parent();
        }
    }
    parents.sort();
    parents.dedup();
    for dir in parents {
        if all.iter().any(|e| e.dest() == dir) {
            continue;
        }
        let (mode, mtime) = match image.find(&dir)? {
            Some((_, meta)) if meta.is_dir() => (meta.mode() & 0o7777, meta.mtime().max(0) as u64),
            _ => (0o755, 0),
        };
        all.push(Entry::Dir {
            dest: dir,
            mode,
            mtime,
        });
    }
    all.sort_by(|a, b| a.dest().cmp(b.dest()));

    let mut builder = tar::Builder::new(LayerWriter::new(store)?);
    for entry in &all {
        append(&mut builder, entry, overrides)?;
    }
    let writer = builder
        .into_inner()
        .map_err(BuildError::file("finish the layer's tar", store.tmp_dir()))?;
    Ok(writer.finish()?)
}

fn header(kind: tar::EntryType, mode: u32, mtime: u64, owner: Overrides) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_mtime(mtime);
    header.set_uid(owner.uid.into());
    header.set_gid(owner.gid.into());
    header.set_size(0);
    header
}

fn append<W: Write>(builder: &mut tar::Builder<W>, entry: &Entry, o: Overrides) -> Result<()> {
    let failed = |path: &Path| BuildError::file("add to layer", path.to_path_buf());
    match entry {
        Entry::Dir { dest, mode, mtime } => {
            let mut h = header(
                tar::EntryType::Directory,
                o.mode.unwrap_or(*mode),
                *mtime,
                o,
            );
            builder
                .append_data(&mut h, dest, std::io::empty())
                .map_err(failed(dest))
        }
        Entry::File {
            dest,
            source,
            mode,
            mtime,
        } => {
            let file = std::fs::File::open(source).map_err(BuildError::file("open", source))?;
            let size = file
                .metadata()
                .map_err(BuildError::file("stat", source))?
                .len();
            let mut h = header(tar::EntryType::Regular, o.mode.unwrap_or(*mode), *mtime, o);
            h.set_size(size);
            builder
                .append_data(&mut h, dest, file)
                .map_err(failed(dest))
        }
        Entry::Symlink {
            dest,
            target,
            mtime,
        } => {
            let mut h = header(tar::EntryType::Symlink, 0o777, *mtime, o);
            builder
                .append_link(&mut h, dest, target)
                .map_err(failed(dest))
        }
        Entry::Inline { dest, bytes } => {
            let mut h = header(tar::EntryType::Regular, o.mode.unwrap_or(0o644), 0, o);
            h.set_size(bytes.len() as u64);
            builder
                .append_data(&mut h, dest, bytes.as_slice())
                .map_err(failed(dest))
        }
        Entry::Archive { dest, source } => append_archive(builder, dest, source),
    }
}

/// ADD of a tar archive: its entries, moved under `dest`, each name checked like any layer
/// entry (no `..`, no absolute names).
fn append_archive<W: Write>(
    builder: &mut tar::Builder<W>,
    dest: &Path,
    source: &Path,
) -> Result<()> {
    let file = std::fs::File::open(source).map_err(BuildError::file("open", source))?;
    let input = ch04_images::unpack::plain_tar(std::io::BufReader::new(file))
        .map_err(BuildError::file("read", source))?;
    let mut archive = tar::Archive::new(input);
    let bad = |e: std::io::Error| BuildError::Source(format!("{}: {e}", source.display()));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let Some(relative) = safepath::entry_path(&entry.path_bytes())? else {
            continue;
        };
        let mut header = entry.header().clone();
        let path = dest.join(&relative);
        if let Some(link) = entry.link_name_bytes() {
            if header.entry_type().is_hard_link() {
                let Some(link) = safepath::entry_path(&link)? else {
                    continue;
                };
                builder
                    .append_link(&mut header, &path, dest.join(link))
                    .map_err(BuildError::file("add to layer", &path))?;
                continue;
            }
            let target = PathBuf::from(std::ffi::OsStr::from_bytes(&link));
            builder
                .append_link(&mut header, &path, target)
                .map_err(BuildError::file("add to layer", &path))?;
            continue;
        }
        builder
            .append_data(&mut header, &path, &mut entry)
            .map_err(BuildError::file("add to layer", &path))?;
    }
    Ok(())
}
