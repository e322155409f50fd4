//! What this chapter needs to know about chapter 03's containers.
//!
//! ```text
//! $ROOT/containers/<id>/            <id>: 64 hex characters, like Docker's container ids
//!                       upper/      the container's writable layer (overlay upperdir)
//!                       image       the manifest digest of the image it runs, one line:
//!                                   "sha256:<hex>\n" (written by whoever creates the container)
//!                       name        optional: the container's name, one line
//! ```
//!
//! `image` is the contract between the container runtime and the image store: `commit` reads it
//! to know the base image, and garbage collection never removes an image (or its blobs and
//! unpacked layers) that some container's `image` file names, even after its last tag is gone.
//! Write it with [`record_image`] before mounting the image's layers.

use crate::digest::parse_sha256;
use crate::error::{Error, Result};
use crate::store::Store;
use ch01_namespaces::common::Failure;
use oci_spec::image::Digest;
use std::path::PathBuf;

/// The file that records a container's image.
pub const IMAGE_FILE: &str = "image";
/// The file that records a container's optional name.
pub const NAME_FILE: &str = "name";

/// Record which image (by manifest digest) a container runs.
pub fn record_image(store: &Store, container_id: &str, manifest: &Digest) -> Result<()> {
    let dir = store.containers_dir().join(container_id);
    std::fs::create_dir_all(&dir).map_err(Error::file("create directory", &dir))?;
    crate::store::write_atomically(
        &dir.join(IMAGE_FILE),
        format!("{manifest}\n").as_bytes(),
        &store.tmp_dir(),
    )
}

/// A container found on disk.
#[derive(Debug, Clone)]
pub struct ContainerRef {
    pub id: String,
    pub dir: PathBuf,
}

impl ContainerRef {
    /// The container's writable layer.
    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// The manifest digest of the container's image.
    pub fn image(&self) -> Result<Digest> {
        let path = self.dir.join(IMAGE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|cause| {
            Error::Invalid(format!(
                "container {}: cannot read which image it runs from {}: {cause}",
                self.id,
                path.display()
            ))
        })?;
        parse_sha256(text.trim())
    }
}

/// Every container directory.
pub fn list(store: &Store) -> Result<Vec<ContainerRef>> {
    let dir = store.containers_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::file("read directory", &dir)(e)),
    };
    let mut containers: Vec<ContainerRef> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| ContainerRef {
            id: e.file_name().to_string_lossy().into_owned(),
            dir: e.path(),
        })
        .collect();
    containers.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(containers)
}

/// Find a container by full id, unique id prefix, or name.
pub fn find(store: &Store, wanted: &str) -> Result<ContainerRef> {
    let containers = list(store)?;
    let by_name = |c: &&ContainerRef| {
        std::fs::read_to_string(c.dir.join(NAME_FILE)).is_ok_and(|n| n.trim() == wanted)
    };
    let by_prefix = |c: &&ContainerRef| !wanted.is_empty() && c.id.starts_with(wanted);
    let named: Vec<&ContainerRef> = containers.iter().filter(by_name).collect();
    let prefixed: Vec<&ContainerRef> = containers.iter().filter(by_prefix).collect();
    match (named.as_slice(), prefixed.as_slice()) {
        ([one], _) | ([], [one]) => Ok((*one).clone()),
        ([], []) => Err(Error::NoSuchContainer(
            wanted.into(),
            store.containers_dir(),
        )),
        _ => Err(Error::Invalid(format!(
            "container {wanted:?} is ambiguous: give more of its id"
        ))),
    }
}

/// `(container id, manifest digest)` of every container that records its image.
pub fn images_in_use(store: &Store) -> Result<Vec<(String, Digest)>> {
    Ok(list(store)?
        .into_iter()
        .filter_map(|c| Some((c.id.clone(), c.image().ok()?)))
        .collect())
}
