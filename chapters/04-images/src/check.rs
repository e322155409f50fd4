//! `check`: is the store whole? What a crash, a full disk or a bad hand could have broken.
//!
//! The store is built so that none of this should ever be found (blobs are verified before
//! they are renamed into place, an image enters `index.json` only once all its blobs are in),
//! so `check` is how a test (or a worried user) proves it after the worst happened:
//!
//! - every blob's content hashes to its name;
//! - every image `index.json`, a container or a pin refers to is whole: its manifest, its
//!   config and each layer are there, with the size the descriptor says;
//! - every unpacked layer directory belongs to some image's chain of layers.
//!
//! Leftovers (blobs and layers no image uses, partial writes in `tmp/`) are not damage: the
//! next garbage collection (`rmi`) removes them. They are counted apart.

use crate::containers;
use crate::digest::HashingReader;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::pins;
use crate::store::Store;
use ch01_namespaces::common::Failure;
use oci_spec::image::{Descriptor, Digest, ImageManifest};
use std::collections::BTreeSet;

/// What `check` found.
#[derive(Debug, Default)]
pub struct Report {
    /// Damage: each line says what is wrong with what.
    pub problems: Vec<String>,
    /// Garbage the next collection removes: unused blobs and layers, partial writes.
    pub leftovers: Vec<String>,
    pub blobs: usize,
    pub images: usize,
    pub layers: usize,
}

impl Report {
    pub fn is_whole(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Check the whole store. Call with the store locked (nothing may change while we look).
pub fn check(store: &Store) -> Result<Report> {
    let mut report = Report::default();
    let blobs = store.blobs()?;
    report.blobs = blobs.len();
    let mut broken_blobs = BTreeSet::new();
    for blob in &blobs {
        if let Some(actual) = rehash(store, blob)? {
            report
                .problems
                .push(format!("blob {blob}: its content hashes to {actual}"));
            broken_blobs.insert(blob.to_string());
        }
    }

    let mut roots: Vec<(String, Digest)> = store
        .index()?
        .manifests()
        .iter()
        .map(|d| {
            (
                format!("index.json entry {}", d.digest()),
                d.digest().clone(),
            )
        })
        .collect();
    for (container, manifest) in containers::images_in_use(store)? {
        roots.push((format!("the image of container {container}"), manifest));
    }
    for manifest in pins::all(store)? {
        roots.push((format!("pinned image {manifest}"), manifest));
    }

    let mut used_blobs = BTreeSet::new();
    let mut used_layers = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (what, manifest) in roots {
        if !seen.insert(manifest.to_string()) {
            continue;
        }
        report.images += 1;
        used_blobs.insert(manifest.to_string());
        if !store.has_blob(&manifest) {
            report
                .problems
                .push(format!("{what}: manifest blob {manifest} is missing"));
            continue;
        }
        let document: ImageManifest = match store.read_json(&manifest) {
            Ok(document) => document,
            Err(error) => {
                if !broken_blobs.contains(&manifest.to_string()) {
                    report.problems.push(format!("{what}: {error}"));
                }
                continue;
            }
        };
        let before = report.problems.len();
        let config = document.config();
        used_blobs.insert(config.digest().to_string());
        check_descriptor(store, &what, "config", config, &mut report.problems)?;
        for layer in document.layers() {
            used_blobs.insert(layer.digest().to_string());
            check_descriptor(store, &what, "layer", layer, &mut report.problems)?;
        }
        let damaged_already = report.problems.len() > before
            || std::iter::once(config)
                .chain(document.layers())
                .any(|d| broken_blobs.contains(&d.digest().to_string()));
        match Image::load(store, &manifest).and_then(|image| image.chain_ids()) {
            Ok(chain) => used_layers.extend(chain.iter().map(|c| c.digest().to_string())),
            Err(error) if !damaged_already => report.problems.push(format!("{what}: {error}")),
            Err(_) => {}
        }
    }
    for blob in &blobs {
        if !used_blobs.contains(blob.to_string().as_str())
            && !broken_blobs.contains(&blob.to_string())
        {
            report.leftovers.push(format!("unused blob {blob}"));
        }
    }

    let layers_dir = store.layers_dir();
    if let Ok(entries) = std::fs::read_dir(&layers_dir) {
        for entry in entries.flatten() {
            report.layers += 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !used_layers.contains(&name) {
                report
                    .leftovers
                    .push(format!("unused unpacked layer {name}"));
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(store.tmp_dir()) {
        for entry in entries.flatten() {
            report.leftovers.push(format!(
                "partial write {}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    Ok(report)
}

/// `None` if the blob hashes to its name, else what it hashes to.
fn rehash(store: &Store, blob: &Digest) -> Result<Option<Digest>> {
    let path = store.blob_path(blob);
    let file = std::fs::File::open(&path).map_err(Error::file("open", &path))?;
    let mut reader = HashingReader::new(std::io::BufReader::new(file));
    std::io::copy(&mut reader, &mut std::io::sink()).map_err(Error::file("read", &path))?;
    let (actual, _) = reader.finish();
    Ok((&actual != blob).then_some(actual))
}

fn check_descriptor(
    store: &Store,
    what: &str,
    kind: &str,
    descriptor: &Descriptor,
    problems: &mut Vec<String>,
) -> Result<()> {
    let digest = descriptor.digest();
    let path = store.blob_path(digest);
    match std::fs::metadata(&path) {
        Err(_) => problems.push(format!("{what}: {kind} blob {digest} is missing")),
        Ok(meta) if meta.len() != descriptor.size() => problems.push(format!(
            "{what}: {kind} blob {digest} is {} bytes, the manifest says {}",
            meta.len(),
            descriptor.size()
        )),
        Ok(_) => {}
    }
    Ok(())
}
