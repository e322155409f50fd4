//! `inspect REMOTE`: what an image is — digest, platform, layers, config — read from the
//! registry without pulling it (the manifest and the config are small; the layers are not
//! fetched).

use crate::client::{Body, Client};
use crate::error::{Error, Result};
use crate::manifest::{self, Fetched};
use crate::platform::{self, Platform};
use crate::reference::Reference;
use ch01_namespaces::common::Failure;
use oci_spec::image::{Descriptor, ImageIndex, ImageManifest};
use std::io::Read;

/// Read a small blob (a config) from a registry, verified.
pub fn fetch_small_blob(client: &Client, repository: &str, blob: &Descriptor) -> Result<Vec<u8>> {
    let url = format!("/v2/{repository}/blobs/{}", blob.digest());
    let response = client.expect("GET", &url, &[], Body::Empty, &[200])?;
    let mut bytes = Vec::new();
    response
        .into_reader()
        .take(manifest::MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|cause| Error::file("read blob from", client.url(&url))(cause))?;
    let digest = ch04_images::digest::sha256(&bytes);
    if &digest != blob.digest() || bytes.len() as u64 != blob.size() {
        return Err(Error::Mismatch {
            what: format!("blob {}", blob.digest()),
            detail: format!("received {} bytes that hash to {digest}", bytes.len()),
        });
    }
    Ok(bytes)
}

/// `inspect REMOTE`: the manifest (the platform's, for an index) and config, without pulling.
pub fn inspect(
    client: &Client,
    reference: &Reference,
    platform: &Platform,
    raw: bool,
) -> Result<String> {
    let top: Fetched = manifest::fetch(client, &reference.repository, &reference.object())?;
    if raw {
        return Ok(String::from_utf8_lossy(&top.bytes).into_owned());
    }
    let chosen = if manifest::is_index(&top.media_type) {
        let index: ImageIndex = manifest::parse(&top, "index")?;
        let descriptor = platform::choose(&index, platform)?;
        manifest::fetch(client, &reference.repository, descriptor.digest().as_ref())?
    } else {
        top.clone()
    };
    let image_manifest: ImageManifest = manifest::parse(&chosen, "manifest")?;
    let config_bytes = fetch_small_blob(client, &reference.repository, image_manifest.config())?;
    let config: serde_json::Value = serde_json::from_slice(&config_bytes)
        .map_err(|e| Error::Protocol(format!("config: {e}")))?;
    let summary = Inspected {
        name: format!("{}/{}", reference.registry, reference.repository),
        digest: top.digest.to_string(),
        media_type: top.media_type.clone(),
        manifest_digest: chosen.digest.to_string(),
        created: config.get("created").cloned(),
        architecture: config.get("architecture").cloned(),
        os: config.get("os").cloned(),
        layers: image_manifest
            .layers()
            .iter()
            .map(|l| l.digest().to_string())
            .collect(),
        layers_size: image_manifest.layers().iter().map(|l| l.size()).sum(),
        env: config.pointer("/config/Env").cloned(),
        cmd: config.pointer("/config/Cmd").cloned(),
    };
    Ok(serde_json::to_string_pretty(&summary).expect("json") + "\n")
}

/// What `inspect` prints, in this order (skopeo inspect's names).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    name: String,
    /// What the reference names: the index, for a multi-platform image.
    digest: String,
    media_type: String,
    /// The platform's manifest (the same as `digest` for a one-platform image).
    manifest_digest: String,
    created: Option<serde_json::Value>,
    architecture: Option<serde_json::Value>,
    os: Option<serde_json::Value>,
    layers: Vec<String>,
    layers_size: u64,
    env: Option<serde_json::Value>,
    cmd: Option<serde_json::Value>,
}
