//! `push`: the store's image → a registry repository.
//!
//! ```text
//! for each layer, then the config:
//!   HEAD /v2/<name>/blobs/<digest>                 200: the registry has it, skip
//!   POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<other repo>
//!                                                  201: linked across, nothing uploaded
//!   POST /v2/<name>/blobs/uploads/                 202 + Location: an upload session
//!   PUT  <location>?digest=<digest>   (the blob)   201: verified and stored   ... or, large:
//!   PATCH <location>  Content-Range: 0-N (a chunk) 202 + new Location, repeated, then
//!   PUT  <location>?digest=<digest>   (empty)      201
//! PUT /v2/<name>/manifests/<tag>   (the manifest's exact bytes, Content-Type: its type)
//! ```
//!
//! The manifest goes last: a registry refuses a manifest whose blobs it does not have.

use crate::client::{Body, Client};
use crate::error::{Error, Result};
use crate::manifest::OCI_MANIFEST;
use crate::progress::Progress;
use crate::reference::Reference;
use crate::{explain, sources};
use ch04_images::digest::short;
use ch04_images::{Image, Store};
use oci_spec::image::{Descriptor, Digest};

/// Blobs larger than this go up in PATCH chunks of this size (`--chunk-size`).
pub const DEFAULT_CHUNK: u64 = 16 * 1024 * 1024;

pub struct PushOptions {
    pub chunk_size: u64,
    pub progress: Progress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    AlreadyExists,
    Mounted(String),
    Pushed,
}

pub struct Pushed {
    pub blobs: Vec<(Digest, Outcome)>,
    pub digest: Digest,
    pub size: u64,
}

/// Push `image` from the store as `target` (which must carry a tag).
pub fn push(
    client: &Client,
    store: &Store,
    image: &Image,
    target: &Reference,
    options: &PushOptions,
) -> Result<Pushed> {
    let tag = target
        .tag
        .clone()
        .ok_or_else(|| Error::Reference(format!("{target}: push needs a tag, not a digest")))?;
    let repository = &target.repository;
    let mut blobs: Vec<&Descriptor> = image.layers().iter().collect();
    blobs.push(image.manifest.config());
    let layers = image.layers().len();
    for layer in image.layers() {
        options.progress.note(short(layer.digest()), "Preparing");
    }
    let mut outcomes = Vec::new();
    for (i, blob) in blobs.into_iter().enumerate() {
        // The config is no layer: Docker's progress does not show it.
        let shown = if i < layers {
            options.progress.clone()
        } else {
            Progress::off()
        };
        let outcome = push_blob(client, store, target, blob, options.chunk_size, &shown)?;
        sources::record(store, blob.digest(), &target.registry, repository);
        outcomes.push((blob.digest().clone(), outcome));
    }
    let bytes = store.read_blob(&image.manifest_digest)?;
    let media_type = image
        .manifest
        .media_type()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_else(|| OCI_MANIFEST.to_string());
    let url = format!("/v2/{repository}/manifests/{tag}");
    let response = client.expect(
        "PUT",
        &url,
        &[("Content-Type", &media_type)],
        Body::Bytes(&bytes),
        &[200, 201],
    )?;
    if let Some(announced) = response.header("docker-content-digest") {
        if announced != image.manifest_digest.as_ref() {
            return Err(Error::Mismatch {
                what: format!("manifest {target}"),
                detail: format!(
                    "we sent {}, the registry stored {announced}",
                    image.manifest_digest
                ),
            });
        }
    }
    Ok(Pushed {
        blobs: outcomes,
        digest: image.manifest_digest.clone(),
        size: bytes.len() as u64,
    })
}

fn push_blob(
    client: &Client,
    store: &Store,
    target: &Reference,
    blob: &Descriptor,
    chunk_size: u64,
    progress: &Progress,
) -> Result<Outcome> {
    let repository = &target.repository;
    let digest = blob.digest();
    let bar = progress.bar(short(digest), blob.size());
    let session = match what_the_registry_has(client, store, target, digest)? {
        Presence::Whole => {
            bar.finish("Layer already exists");
            return Ok(Outcome::AlreadyExists);
        }
        Presence::MountedFrom(from) => {
            bar.finish(&format!("Mounted from {from}"));
            return Ok(Outcome::Mounted(from));
        }
        Presence::Missing { session } => session,
    };
    let mut location = match session {
        Some(location) => location,
        None => {
            let url = format!("/v2/{repository}/blobs/uploads/");
            let response = client.expect("POST", &url, &[], Body::Empty, &[202])?;
            location(&response, &url)?
        }
    };
    let path = store.blob_path(digest);
    let size = blob.size();
    bar.moving("Pushing");
    let digest_text = digest.to_string();
    let final_body = if size <= chunk_size {
        Body::File {
            path: &path,
            offset: 0,
            len: size,
        }
    } else {
        let mut offset = 0;
        while offset < size {
            let len = chunk_size.min(size - offset);
            let range = format!("{offset}-{}", offset + len - 1);
            let response = client.expect(
                "PATCH",
                &location,
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Range", &range),
                ],
                Body::File {
                    path: &path,
                    offset,
                    len,
                },
                &[202],
            )?;
            location = self::location(&response, &location)?;
            offset += len;
            bar.set_position(offset);
        }
        Body::Empty
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{separator}digest={digest_text}");
    client.expect(
        "PUT",
        &url,
        &[("Content-Type", "application/octet-stream")],
        final_body,
        &[201, 204],
    )?;
    bar.set_position(size);
    bar.finish("Pushed");
    Ok(Outcome::Pushed)
}

/// What the target repository has of a blob before we upload anything.
enum Presence {
    /// `HEAD` answered 200: the blob is there already.
    Whole,
    /// The registry linked it from this other repository of ours (a cross-repository mount).
    MountedFrom(String),
    /// It must be uploaded; a declined mount already opened this upload session.
    Missing { session: Option<String> },
}

/// Push only what is missing: ask the repository with `HEAD`, then ask for a mount from a
/// repository of the same registry that we know has the blob (the store remembers where each
/// blob came from, see `sources`). A registry that declines a mount answers 202 with an
/// upload session instead, which the upload then uses.
fn what_the_registry_has(
    client: &Client,
    store: &Store,
    target: &Reference,
    digest: &Digest,
) -> Result<Presence> {
    // exercise 06.2: push only what is missing: HEAD the blob, then try a cross-repository mount
    let repository = &target.repository;
    let head = client.send(
        "HEAD",
        &format!("/v2/{repository}/blobs/{digest}"),
        &[],
        Body::Empty,
    )?;
    if head.status() == 200 {
        return Ok(Presence::Whole);
    }
    for from in sources::repositories(store, digest, &target.registry) {
        if &from == repository {
            continue;
        }
        let url = format!("/v2/{repository}/blobs/uploads/?mount={digest}&from={from}");
        let response = client.expect("POST", &url, &[], Body::Empty, &[201, 202])?;
        if response.status() == 201 {
            return Ok(Presence::MountedFrom(from));
        }
        explain!("the registry declined the mount and opened an upload session instead");
        return Ok(Presence::Missing {
            session: Some(location(&response, &url)?),
        });
    }
    Ok(Presence::Missing { session: None })
    // end of exercise 06.2
}

/// The `Location` of an upload session (maybe relative to the registry).
fn location(response: &ureq::Response, url: &str) -> Result<String> {
    response
        .header("location")
        .map(str::to_string)
        .ok_or_else(|| Error::Protocol(format!("{url}: the answer has no Location header")))
}

/// The lines `docker push` prints, for output that is not a terminal.
pub fn report(target: &Reference, pushed: &Pushed) -> String {
    let mut out = format!(
        "The push refers to repository [{}]\n",
        target.familiar_name()
    );
    for (digest, outcome) in &pushed.blobs {
        let what = match outcome {
            Outcome::AlreadyExists => "Layer already exists".to_string(),
            Outcome::Mounted(from) => format!("Mounted from {from}"),
            Outcome::Pushed => "Pushed".to_string(),
        };
        out += &format!("{}: {what}\n", short(digest));
    }
    out += &format!(
        "{}: digest: {} size: {}\n",
        target.tag.as_deref().unwrap_or("latest"),
        pushed.digest,
        pushed.size
    );
    out
}
