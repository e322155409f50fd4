//! Making layers: a gzip'd tar written straight into the store.
//!
//! ```text
//! tar::Builder ─► HashingWriter (diff id) ─► gzip ─► BlobWriter (digest) ─► blobs/sha256/<hex>
//! ```
//!
//! One pass computes both digests: the diff id over the tar as it is produced, the digest over
//! the compressed bytes as they land. [`from_tar`] wraps an existing tar (import);
//! [`from_upper_dir`] turns a container's overlay upper directory into a layer (commit),
//! translating overlay whiteouts back into the tar form (see [`whiteout`]).

use crate::digest::HashingWriter;
use crate::error::{Error, Result};
use crate::explain;
use crate::store::{BlobWriter, Store};
use crate::whiteout;
use ch01_namespaces::common::Failure;
use flate2::write::GzEncoder;
use flate2::Compression;
use oci_spec::image::{Descriptor, Digest, MediaType};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A layer just written to the store.
#[derive(Debug, Clone)]
pub struct NewLayer {
    /// The blob as the manifest lists it (gzip'd tar).
    pub descriptor: Descriptor,
    /// The digest of the uncompressed tar, as the config lists it.
    pub diff_id: Digest,
}

/// The writer a layer's tar goes into.
pub struct LayerWriter {
    inner: HashingWriter<GzEncoder<BlobWriter>>,
}

impl LayerWriter {
    pub fn new(store: &Store) -> Result<LayerWriter> {
        let blob = store.blob_writer()?;
        // gzip with no file name and mtime 0: the same tar always gives the same blob.
        let gzip = flate2::GzBuilder::new().write(blob, Compression::default());
        Ok(LayerWriter {
            inner: HashingWriter::new(gzip),
        })
    }

    /// Finish the gzip stream and store the blob.
    pub fn finish(self) -> Result<NewLayer> {
        let (diff_id, _, gzip) = self.inner.finish();
        let blob = gzip
            .finish()
            .map_err(Error::file("finish gzip stream", "layer"))?;
        let (digest, size) = blob.commit(None)?;
        explain!("layer stored: digest {digest}, diff id {diff_id}, {size} bytes compressed");
        Ok(NewLayer {
            descriptor: Descriptor::new(MediaType::ImageLayerGzip, size, digest),
            diff_id,
        })
    }
}

impl Write for LayerWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A layer whose tar is `tar` as it is (`docker import`). Its entries are checked when the
/// layer is unpacked, like any other layer's.
pub fn from_tar(store: &Store, tar: &mut dyn Read) -> Result<NewLayer> {
    let mut writer = LayerWriter::new(store)?;
    io::copy(tar, &mut writer).map_err(Error::file("copy tar into layer", store.tmp_dir()))?;
    writer.finish()
}

/// A layer from an overlay upper directory: what a container changed.
///
/// - a character device 0/0 (overlay's "deleted") becomes an empty `.wh.NAME`;
/// - a directory with `trusted.overlay.opaque=y` is written, followed by `DIR/.wh..wh..opq`;
/// - anything else is written as it is: mode, owner, mtime, xattrs (but not overlayfs's own
///   `trusted.overlay.*` ones), symlinks, and hardlinks (files seen twice by inode).
///
/// Entries are sorted by name, so the same directory always gives the same layer.
pub fn from_upper_dir(store: &Store, upper: &Path) -> Result<NewLayer> {
    let meta = std::fs::symlink_metadata(upper).map_err(Error::file("lstat", upper))?;
    if !meta.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is not a directory",
            upper.display()
        )));
    }
    let mut builder = tar::Builder::new(LayerWriter::new(store)?);
    builder.follow_symlinks(false);
    let mut packer = Packer {
        root: upper,
        builder: &mut builder,
        hardlinks: HashMap::new(),
    };
    packer.directory(Path::new(""))?;
    let writer = builder
        .into_inner()
        .map_err(Error::file("finish tar of", upper))?;
    writer.finish()
}

struct Packer<'a, W: Write> {
    root: &'a Path,
    builder: &'a mut tar::Builder<W>,
    /// (device, inode) → the first name written for it.
    hardlinks: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> Packer<'_, W> {
    /// Write the children of `relative` (a directory), sorted by name, recursively.
    fn directory(&mut self, relative: &Path) -> Result<()> {
        // exercise 04.4: commit from the upper dir: walk it into a layer, whiteouts and opaque dirs as tar markers
        let dir = self.root.join(relative);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map_err(Error::file("read directory", &dir))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(Error::file("read directory", &dir))?;
        names.sort();
        for name in names {
            let path = relative.join(&name);
            let full = self.root.join(&path);
            let meta = std::fs::symlink_metadata(&full).map_err(Error::file("lstat", &full))?;
            if whiteout::is_overlay_whiteout(&meta) {
                let marker = relative.join(whiteout::whiteout_name(&name));
                explain!(
                    "{}: overlay whiteout -> {}",
                    path.display(),
                    marker.display()
                );
                self.empty_file(&marker, &meta)?;
                continue;
            }
            self.entry(&path, &full, &meta)?;
            if meta.is_dir() {
                if is_opaque(&full) {
                    let marker = path.join(whiteout::OPAQUE_MARKER);
                    explain!(
                        "{}: opaque directory -> {}",
                        path.display(),
                        marker.display()
                    );
                    self.empty_file(&marker, &meta)?;
                }
                self.directory(&path)?;
            }
        }
        Ok(())
        // end of exercise 04.4
    }

    fn entry(&mut self, path: &Path, full: &Path, meta: &std::fs::Metadata) -> Result<()> {
        let mut header = header_from(meta);
        let kind = meta.file_type();
        self.xattrs(full)?;
        let failed = Error::file("add to layer", full);
        if kind.is_file() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.hardlinks.get(&key) {
                header.set_entry_type(tar::EntryType::Link);
                header.set_size(0);
                return self
                    .builder
                    .append_link(&mut header, path, first)
                    .map_err(failed);
            }
            self.hardlinks.insert(key, path.to_path_buf());
        }
        if kind.is_symlink() {
            let target = std::fs::read_link(full).map_err(Error::file("readlink", full))?;
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            self.builder
                .append_link(&mut header, path, target)
                .map_err(failed)
        } else if kind.is_file() {
            let file = std::fs::File::open(full).map_err(Error::file("open", full))?;
            self.builder
                .append_data(&mut header, path, file)
                .map_err(failed)
        } else if kind.is_dir() {
            self.builder
                .append_data(&mut header, path, io::empty())
                .map_err(failed)
        } else if kind.is_fifo() {
            header.set_entry_type(tar::EntryType::Fifo);
            self.builder
                .append_data(&mut header, path, io::empty())
                .map_err(failed)
        } else if kind.is_char_device() || kind.is_block_device() {
            // Unpacking refuses device nodes (see `unpack`), so a layer never carries one.
            Err(Error::Invalid(format!(
                "{}: a device node cannot go in a layer (the runtime makes /dev)",
                full.display()
            )))
        } else {
            Err(Error::Invalid(format!(
                "{}: a socket cannot go in a layer",
                full.display()
            )))
        }
    }

    /// An empty regular file (a whiteout marker) with the owner and time of `like`.
    fn empty_file(&mut self, path: &Path, like: &std::fs::Metadata) -> Result<()> {
        let mut header = header_from(like);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(0);
        self.builder
            .append_data(&mut header, path, io::empty())
            .map_err(Error::file("add whiteout to layer", path))
    }

    /// The file's extended attributes as a PAX header (`SCHILY.xattr.NAME`), before its entry.
    fn xattrs(&mut self, full: &Path) -> Result<()> {
        let names = match xattr::list(full) {
            Ok(names) => names,
            Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
            Err(e) => return Err(Error::file("llistxattr", full)(e)),
        };
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        for name in names {
            let Some(name) = name.to_str() else { continue };
            if ch03_overlayfs::overlay::is_overlay_xattr(name) {
                continue; // overlayfs's own bookkeeping, not the file's
            }
            if let Some(value) = xattr::get(full, name).map_err(Error::file("lgetxattr", full))? {
                pairs.push((format!("SCHILY.xattr.{name}"), value));
            }
        }
        pairs.sort();
        self.builder
            .append_pax_extensions(pairs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(Error::file("add xattrs to layer", full))
    }
}

fn header_from(meta: &std::fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(meta.uid() as u64);
    header.set_gid(meta.gid() as u64);
    header.set_mtime(meta.mtime().max(0) as u64);
    header.set_size(if meta.is_file() { meta.len() } else { 0 });
    header.set_entry_type(if meta.is_dir() {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    header
}

fn is_opaque(dir: &Path) -> bool {
    ch03_overlayfs::overlay::is_opaque(dir)
}
