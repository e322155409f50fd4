//! `rmi` and garbage collection: mark and sweep over the content store.
//!
//! The roots are the manifests `index.json` lists, the images containers run (see
//! [`containers`]) and the pinned images (see [`pins`]: a build cache's). Everything reachable
//! from a root is kept: the manifest, its config, its layer blobs, and its unpacked layers (by
//! chain id). Everything else is garbage: blobs in `blobs/sha256/`, directories in
//! `$ROOT/layers/`, and leftovers of interrupted writes in `$ROOT/tmp/`. Because layers are
//! shared, removing an image removes only what no other image uses.

use crate::containers;
use crate::error::{Error, Result};
use crate::image::{self, Image};
use crate::pins;
use crate::reference;
use crate::snapshot;
use crate::store::{tag_of, Store};
use ch01_namespaces::common::Failure;
use oci_spec::image::Digest;
use std::collections::BTreeSet;

/// What one `rmi` or collection did, in Docker's words.
#[derive(Debug, Default)]
pub struct Removed {
    /// Tags removed.
    pub untagged: Vec<String>,
    /// Blobs deleted.
    pub blobs: Vec<Digest>,
    /// Unpacked layers deleted (chain id hex).
    pub layers: Vec<String>,
}

/// Remove an image reference (`name:tag`, or an id, which removes all its tags), then collect
/// garbage. Refused, with nothing changed, when the image would lose its last tag while a
/// container still uses it. Call with the store locked.
pub fn remove_image(store: &Store, wanted: &str) -> Result<Removed> {
    let image = image::resolve(store, wanted)?;
    let tags_to_remove: Vec<String> = match reference::normalize(wanted) {
        Ok(tag) if image.tags.contains(&tag) => vec![tag],
        _ => image.tags.clone(),
    };
    let last_tag_goes = tags_to_remove.len() == image.tags.len();
    if last_tag_goes {
        if let Some((container, _)) = containers::images_in_use(store)?
            .into_iter()
            .find(|(_, manifest)| manifest == &image.manifest_digest)
        {
            return Err(Error::InUse {
                image: image.display_name(),
                container: container.chars().take(12).collect(),
            });
        }
    }
    let manifest = image.manifest_digest.clone();
    store.remove_entries(|d| {
        d.digest() == &manifest
            && (last_tag_goes || tag_of(d).is_some_and(|t| tags_to_remove.iter().any(|r| r == t)))
    })?;
    let mut removed = collect(store)?;
    removed.untagged = tags_to_remove;
    Ok(removed)
}

/// Delete every blob and unpacked layer no root reaches. Call with the store locked.
pub fn collect(store: &Store) -> Result<Removed> {
    let mut roots: Vec<Digest> = store
        .index()?
        .manifests()
        .iter()
        .map(|d| d.digest().clone())
        .collect();
    roots.extend(
        containers::images_in_use(store)?
            .into_iter()
            .map(|(_, m)| m),
    );
    roots.extend(pins::all(store)?);

    let mut live_blobs: BTreeSet<String> = BTreeSet::new();
    let mut live_layers: BTreeSet<String> = BTreeSet::new();
    for root in &roots {
        live_blobs.insert(root.digest().to_string());
        let Ok(image) = Image::load(store, root) else {
            continue; // a container's image whose blobs are already gone: nothing to keep
        };
        live_blobs.insert(image.id().digest().to_string());
        live_blobs.extend(
            image
                .layers()
                .iter()
                .map(|l| l.digest().digest().to_string()),
        );
        live_layers.extend(image.chain_ids()?.iter().map(|c| c.digest().to_string()));
    }

    let mut removed = Removed::default();
    for blob in store.blobs()? {
        if !live_blobs.contains(blob.digest()) {
            store.remove_blob(&blob)?;
            removed.blobs.push(blob);
        }
    }
    let layers_dir = store.layers_dir();
    for entry in std::fs::read_dir(&layers_dir)
        .map_err(Error::file("read directory", &layers_dir))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !live_layers.contains(&name) {
            snapshot::remove_layer(store, &name)?;
            removed.layers.push(name);
        }
    }
    // Leftovers of interrupted writes (we hold the lock: nobody is writing now).
    let tmp = store.tmp_dir();
    for entry in std::fs::read_dir(&tmp)
        .map_err(Error::file("read directory", &tmp))?
        .flatten()
    {
        let path = entry.path();
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
    removed.layers.sort();
    Ok(removed)
}

impl Removed {
    /// `Untagged: busybox:latest` / `Deleted: sha256:...` lines, as `docker rmi` prints them.
    pub fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .untagged
            .iter()
            .map(|t| format!("Untagged: {t}"))
            .collect();
        lines.extend(self.blobs.iter().map(|b| format!("Deleted blob: {b}")));
        lines.extend(
            self.layers
                .iter()
                .map(|l| format!("Deleted layer: {}", &l[..l.len().min(12)])),
        );
        lines
    }
}
