//! Fetching a manifest: `GET /v2/<name>/manifests/<tag or digest>`.
//!
//! The `Accept` header lists every manifest type we understand; the registry answers with the
//! one it has (`Content-Type`) and, usually, its digest (`Docker-Content-Digest`). We never
//! trust that header: the digest is the SHA-256 of the exact bytes received, and when we asked
//! by digest it must be the one we asked for. That is what makes a pull by digest safe even
//! from a registry we do not trust.

use crate::client::{Body, Client};
use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch04_images::digest::sha256;
use oci_spec::image::Digest;
use std::io::Read;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";

/// The largest manifest we read (distribution refuses more than 4 MiB too).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

/// Is this media type a list of manifests (an index) rather than one image's manifest?
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST
}

/// A manifest as received: its exact bytes (the digest covers them), type and digest.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// GET (or HEAD, for `object` only) a manifest and verify its digest.
pub fn fetch(client: &Client, repository: &str, object: &str) -> Result<Fetched> {
    let url = format!("/v2/{repository}/manifests/{object}");
    let accept = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(", ");
    let response = client.expect("GET", &url, &[("Accept", &accept)], Body::Empty, &[200])?;
    let announced = response.header("docker-content-digest").map(str::to_string);
    let content_type = response
        .header("content-type")
        .map(|t| t.split(';').next().unwrap_or("").trim().to_string());
    let mut bytes = Vec::new();
    response
        .into_reader()
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut bytes)
        .map_err(|cause| Error::file("read manifest from", client.url(&url))(cause))?;
    if bytes.len() as u64 > MAX_MANIFEST {
        return Err(Error::Protocol(format!(
            "{url}: manifest larger than {MAX_MANIFEST} bytes"
        )));
    }
    // exercise 06.3: the digest check: a manifest is what its digest says, or it is refused
    let digest = sha256(&bytes);
    let what = || format!("manifest {repository}:{object}");
    if object.starts_with("sha256:") && object != digest.as_ref() {
        return Err(Error::Mismatch {
            what: what(),
            detail: format!("asked for {object}, received content that hashes to {digest}"),
        });
    }
    if let Some(announced) = announced {
        if announced != digest.as_ref() {
            return Err(Error::Mismatch {
                what: what(),
                detail: format!("the registry says {announced}, the content hashes to {digest}"),
            });
        }
    }
    // The type: the header, or else the document's own mediaType field.
    let media_type = match content_type.filter(|t| t.starts_with("application/vnd.")) {
        Some(t) => t,
        None => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("mediaType")?.as_str().map(str::to_string))
            .unwrap_or_else(|| OCI_MANIFEST.to_string()),
    };
    if media_type == DOCKER_SCHEMA1 || media_type.ends_with("manifest.v1+prettyjws") {
        return Err(Error::Protocol(format!(
            "{}: Docker schema 1 manifests are not supported (push the image again with a \
             newer client)",
            what()
        )));
    }
    Ok(Fetched {
        bytes,
        media_type,
        digest,
    })
    // end of exercise 06.3
}

/// Parse a JSON document received from a registry.
pub fn parse<T: serde::de::DeserializeOwned>(fetched: &Fetched, what: &str) -> Result<T> {
    serde_json::from_slice(&fetched.bytes).map_err(|e| {
        Error::Protocol(format!(
            "{what} {}: not a valid {what}: {e}",
            fetched.digest
        ))
    })
}
