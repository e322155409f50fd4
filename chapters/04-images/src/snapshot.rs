//! The snapshotter: each layer unpacked once, into `$ROOT/layers/<chain-id-hex>/`.
//!
//! A layer's directory is named by its **chain id** (see [`digest`](crate::digest)), not its
//! digest: the same tar on top of a different base is a different file system stack. Two images
//! that start with the same layers have the same chain ids for them, so they share the unpacked
//! directories: `busybox:latest` and a `busy:v2` committed from it use one copy of busybox.
//!
//! An overlay mount (chapter 03) stacks them: `lowerdir=` takes the *top* layer first.
//!
//! Unpacking goes to a fresh temporary directory in `$ROOT/tmp/`, and only a complete unpack is
//! `rename(2)`d to its final name: an interrupted unpack never leaves half a layer where the
//! next run would trust it. While unpacking, the uncompressed stream is hashed and compared with
//! the diff id the image's config promises.

use crate::digest::HashingReader;
use crate::error::{Error, Result};
use crate::explain;
use crate::image::Image;
use crate::store::Store;
use crate::unpack::{unpack, UnpackStats};
use ch01_namespaces::common::Failure;
use oci_spec::image::{Descriptor, Digest, MediaType};
use std::io::{BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The directory of the unpacked layer with this chain id.
pub fn layer_dir(store: &Store, chain_id: &Digest) -> PathBuf {
    store.layers_dir().join(chain_id.digest())
}

/// Unpack whatever layers of `image` are not unpacked yet, and return its overlay lower
/// directories, **top layer first**, ready for `lowerdir=` (join them with `:`). This is what
/// chapter 03 mounts to run an image. Call it with the store locked ([`Store::lock`]), so that
/// garbage collection does not sweep a layer being unpacked.
pub fn prepare(store: &Store, image: &Image) -> Result<Vec<PathBuf>> {
    let diff_ids = image.diff_ids()?;
    let chain_ids = image.chain_ids()?;
    for ((layer, diff_id), chain_id) in image.layers().iter().zip(&diff_ids).zip(&chain_ids) {
        ensure_layer(store, layer, diff_id, chain_id)?;
    }
    lowerdirs(store, image)
}

/// The lower directories of an image, top layer first, without unpacking anything.
pub fn lowerdirs(store: &Store, image: &Image) -> Result<Vec<PathBuf>> {
    Ok(image
        .chain_ids()?
        .iter()
        .rev()
        .map(|chain_id| layer_dir(store, chain_id))
        .collect())
}

/// Unpack one layer under its chain id, unless it is there already.
pub fn ensure_layer(
    store: &Store,
    layer: &Descriptor,
    diff_id: &Digest,
    chain_id: &Digest,
) -> Result<PathBuf> {
    let target = layer_dir(store, chain_id);
    if target.is_dir() {
        explain!("layer {} already unpacked: {}", chain_id, target.display());
        return Ok(target);
    }
    let tmp_root = store.tmp_dir();
    let scratch = tempfile::Builder::new()
        .prefix("unpack-")
        .tempdir_in(&tmp_root)
        .map_err(Error::file("create temporary directory in", &tmp_root))?;
    explain!(
        "unpack layer {} ({}) into {}",
        layer.digest(),
        layer.media_type(),
        scratch.path().display()
    );
    let stats = as_layer_owner(|| {
        unpack_checked(store, layer, diff_id, scratch.path()).map(|s| s.to_line())
    })
    .and_then(|line| UnpackStats::from_line(&line))?;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(Error::file("chmod", scratch.path()))?;
    let scratch = scratch.keep();
    explain!(
        "rename({}, {}): {} entries, {} whiteouts, {} opaque dirs",
        scratch.display(),
        target.display(),
        stats.entries,
        stats.whiteouts,
        stats.opaque_dirs
    );
    if let Err(error) = std::fs::rename(&scratch, &target) {
        let _ = std::fs::remove_dir_all(&scratch);
        // Another process unpacked the same layer meanwhile: its copy is as good as ours.
        if !target.is_dir() {
            return Err(Error::file("rename layer into", &target)(error));
        }
    }
    crate::store::sync_dir(&store.layers_dir())?;
    Ok(target)
}

/// Unpack `layer`'s blob into `target`, checking its diff id.
fn unpack_checked(
    store: &Store,
    layer: &Descriptor,
    diff_id: &Digest,
    target: &Path,
) -> Result<UnpackStats> {
    let blob = BufReader::new(store.open_blob(layer.digest())?);
    let mut tar_stream = HashingReader::new(decompressor(layer.media_type(), blob)?);
    let stats = unpack(&mut tar_stream, target).map_err(|error| match error {
        Error::Invalid(reason) => Error::Invalid(format!("layer {}: {reason}", layer.digest())),
        other => other,
    })?;
    // Read what follows the end-of-archive marker too, so the diff id covers every byte.
    std::io::copy(&mut tar_stream, &mut std::io::sink())
        .map_err(Error::file("read layer", store.blob_path(layer.digest())))?;
    let (actual, _) = tar_stream.finish();
    if &actual != diff_id {
        return Err(Error::DigestMismatch {
            expected: diff_id.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(stats)
}

/// Run `work` on layer files as their owner: root does it itself; an ordinary user does it as
/// root of a user namespace with its subordinate ids (see [`ch01_namespaces::mapped`]), so a
/// layer's files get the owners the image gives them (mapped into the user's range), and a
/// layer with such files can be removed again. What `work` answers travels back as a line of
/// text: it runs in another process.
fn as_layer_owner(work: impl FnOnce() -> Result<String>) -> Result<String> {
    if nix::unistd::geteuid().is_root() {
        return work();
    }
    let (reader, writer) = std::io::pipe().map_err(Error::file("pipe", "(layer work)"))?;
    let mut writer = Some(writer);
    ch01_namespaces::mapped::as_mapped_root("work on layer files as their owner", || {
        let answer = work().map_err(|error| error.to_string())?;
        let mut writer = writer.take().ok_or("run twice")?;
        std::io::Write::write_all(&mut writer, answer.as_bytes()).map_err(|e| e.to_string())
    })
    .map_err(ch03_overlayfs::Error::from)?;
    drop(writer);
    std::io::read_to_string(reader).map_err(Error::file("read", "(layer work)"))
}

/// A reader of the tar inside a layer blob, by media type.
fn decompressor<'a>(media_type: &MediaType, blob: impl Read + 'a) -> Result<Box<dyn Read + 'a>> {
    match media_type.to_string().as_str() {
        "application/vnd.oci.image.layer.v1.tar+gzip"
        | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            Ok(Box::new(flate2::read::MultiGzDecoder::new(blob)))
        }
        "application/vnd.oci.image.layer.v1.tar"
        | "application/vnd.docker.image.rootfs.diff.tar" => Ok(Box::new(blob)),
        other => Err(Error::Invalid(format!(
            "layer media type {other} is not supported (gzip'd or plain tar only)"
        ))),
    }
}

/// Remove an unpacked layer: first renamed out of its name (so no half-deleted layer is ever
/// found under it), then deleted.
pub fn remove_layer(store: &Store, dir_name: &str) -> Result<()> {
    let dir = store.layers_dir().join(dir_name);
    let doomed = store.tmp_dir().join(format!("remove-{dir_name}"));
    explain!("rename({}, {}); rm -r", dir.display(), doomed.display());
    std::fs::rename(&dir, &doomed).map_err(Error::file("rename layer out of", &dir))?;
    as_layer_owner(|| {
        std::fs::remove_dir_all(&doomed).map_err(Error::file("remove", &doomed))?;
        Ok(String::new())
    })
    .map(drop)
}
