//! An image, as the store holds it: manifest → config → layers.
//!
//! ```text
//! index.json ──tag──► manifest ──► config  (Env, Cmd, ... + rootfs.diff_ids + history)
//!                        └───────► layers  (gzip'd tars, bottom first)
//! ```
//!
//! The image *id* is the config's digest, as in Docker: the config names every layer by its
//! diff id, so the id pins the whole file system and the run configuration.

use crate::digest::{chain_ids, parse_sha256, short};
use crate::error::{Error, Result};
use crate::reference;
use crate::store::{tag_of, Store};
use ch01_namespaces::common::Failure;
use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageManifest};

/// One image: its manifest, its config, and the tags that point at it.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest_digest: Digest,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
    pub tags: Vec<String>,
}

impl Image {
    /// Read an image from the store by its manifest's digest.
    pub fn load(store: &Store, manifest_digest: &Digest) -> Result<Image> {
        let manifest: ImageManifest = store.read_json(manifest_digest)?;
        let config: ImageConfiguration = store.read_json(manifest.config().digest())?;
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(Error::Invalid(format!(
                "image {manifest_digest}: the manifest has {} layers but the config {} diff ids",
                manifest.layers().len(),
                config.rootfs().diff_ids().len()
            )));
        }
        Ok(Image {
            manifest_digest: manifest_digest.clone(),
            manifest,
            config,
            tags: Vec::new(),
        })
    }

    /// The image id: the digest of its config.
    pub fn id(&self) -> &Digest {
        self.manifest.config().digest()
    }

    /// `name:tag` of the first tag, or the short id.
    pub fn display_name(&self) -> String {
        self.tags
            .first()
            .cloned()
            .unwrap_or_else(|| short(self.id()).to_string())
    }

    /// The layer blobs, bottom first.
    pub fn layers(&self) -> &[Descriptor] {
        self.manifest.layers()
    }

    /// The digests of the uncompressed layers, bottom first (from the config).
    pub fn diff_ids(&self) -> Result<Vec<Digest>> {
        self.config
            .rootfs()
            .diff_ids()
            .iter()
            .map(|d| parse_sha256(d))
            .collect()
    }

    /// The chain ids of the layers, bottom first: the names of the unpacked layers.
    pub fn chain_ids(&self) -> Result<Vec<Digest>> {
        Ok(chain_ids(&self.diff_ids()?))
    }

    /// The size of the image's layers as stored (compressed), in bytes.
    pub fn size(&self) -> u64 {
        self.layers().iter().map(|l| l.size()).sum()
    }

    /// The manifest's descriptor, as `index.json` would hold it. Its media type is the one the
    /// manifest declares (a pulled image may carry Docker's schema 2 type), OCI's otherwise.
    pub fn descriptor(&self, store: &Store) -> Result<Descriptor> {
        let size = std::fs::metadata(store.blob_path(&self.manifest_digest))
            .map_err(Error::file("stat", store.blob_path(&self.manifest_digest)))?
            .len();
        Ok(Descriptor::new(
            self.manifest
                .media_type()
                .clone()
                .unwrap_or(oci_spec::image::MediaType::ImageManifest),
            size,
            self.manifest_digest.clone(),
        ))
    }
}

/// Every image in `index.json`, one per manifest, with all its tags, in index order.
pub fn list(store: &Store) -> Result<Vec<Image>> {
    let mut images: Vec<Image> = Vec::new();
    for descriptor in store.index()?.manifests() {
        let tag = tag_of(descriptor).map(str::to_string);
        if let Some(image) = images
            .iter_mut()
            .find(|i| &i.manifest_digest == descriptor.digest())
        {
            image.tags.extend(tag);
            continue;
        }
        let mut image = Image::load(store, descriptor.digest())?;
        image.tags.extend(tag);
        images.push(image);
    }
    Ok(images)
}

/// Find an image by `name[:tag]`, by image id or id prefix, or by manifest digest.
pub fn resolve(store: &Store, reference: &str) -> Result<Image> {
    let images = list(store)?;
    if let Ok(tag) = reference::normalize(reference) {
        if let Some(image) = images.iter().find(|i| i.tags.contains(&tag)) {
            return Ok(image.clone());
        }
    }
    if let Some(prefix) = reference::as_id_prefix(reference) {
        let matching: Vec<&Image> = images
            .iter()
            .filter(|i| {
                i.id().digest().starts_with(prefix)
                    || i.manifest_digest.digest().starts_with(prefix)
            })
            .collect();
        match matching.as_slice() {
            [one] => return Ok((*one).clone()),
            [] => {}
            _ => {
                return Err(Error::Invalid(format!(
                    "{reference} is ambiguous: give more digits"
                )))
            }
        }
    }
    Err(Error::NoSuchImage(reference.to_string()))
}
