//! `pull`: manifest → (index → platform's manifest) → config and layers → the store.
//!
//! ```text
//! GET /v2/<name>/manifests/<tag>          Accept: OCI and Docker manifests and indexes
//!   an index?  choose the platform, GET /v2/<name>/manifests/<digest>
//! GET /v2/<name>/blobs/<config digest>    each blob the store does not have yet,
//! GET /v2/<name>/blobs/<layer digest>     a few at a time; Range: bytes=N- to resume
//! ```
//!
//! The rule of the store (chapter 04) holds: a blob is written to a temporary file while it is
//! hashed, and renamed under its name only if its size and digest are the ones the manifest
//! promised. The manifest goes in last, once everything it names is there, and the tag moves
//! last of all: a failed pull leaves at most some verified blobs, never a broken image.

use crate::client::{Body, Client};
use crate::error::{Error, Result};
use crate::manifest;
use crate::platform::{self, Platform};
use crate::progress::{Bar, Progress};
use crate::reference::Reference;
use crate::{explain, sources};
use ch01_namespaces::common::Failure;
use ch04_images::digest::short;
use ch04_images::store::BlobWriter;
use ch04_images::{Image, Store};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType};
use std::io::{Read, Write};
use std::sync::Mutex;
use std::time::Duration;

/// How many blobs download at once.
const PARALLEL: usize = 3;
/// Tries per blob when the connection drops.
const ATTEMPTS: u32 = 5;

pub struct PullOptions {
    pub platform: Platform,
    pub progress: Progress,
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    AlreadyExists,
    Downloaded,
}

/// The result of a pull, for the report the binary prints.
pub struct Pulled {
    /// The digest of what the reference names (the index, for a multi-platform image).
    pub digest: Digest,
    pub image: Image,
    pub layers: Vec<(Digest, Outcome)>,
    /// The local tag (`busybox:latest`), unless pulled by digest alone.
    pub tag: Option<String>,
    /// False if the tag already pointed at this image.
    pub changed: bool,
}

pub fn pull(
    client: &Client,
    store: &Store,
    reference: &Reference,
    options: &PullOptions,
) -> Result<Pulled> {
    let repository = &reference.repository;
    let top = manifest::fetch(client, repository, &reference.object())?;
    let chosen = if manifest::is_index(&top.media_type) {
        let index: ImageIndex = manifest::parse(&top, "index")?;
        let descriptor = platform::choose(&index, &options.platform)?;
        explain!(
            "the index lists {} manifests; {} is {}",
            index.manifests().len(),
            options.platform,
            descriptor.digest()
        );
        let fetched = manifest::fetch(client, repository, descriptor.digest().as_ref())?;
        if fetched.bytes.len() as u64 != descriptor.size() {
            return Err(Error::Mismatch {
                what: format!("manifest {}", descriptor.digest()),
                detail: format!(
                    "the index says {} bytes, received {}",
                    descriptor.size(),
                    fetched.bytes.len()
                ),
            });
        }
        if manifest::is_index(&fetched.media_type) {
            return Err(Error::Protocol(format!(
                "{reference}: an index inside an index is not supported"
            )));
        }
        fetched
    } else {
        top.clone()
    };
    let image_manifest: ImageManifest = manifest::parse(&chosen, "manifest")?;
    // Docker's first lines: what is pulled, then each layer to download, waiting its turn.
    let progress = &options.progress;
    progress.note(&reference.object(), &format!("Pulling from {repository}"));
    for layer in image_manifest.layers() {
        if !store.has_blob(layer.digest()) {
            progress.note(short(layer.digest()), "Pulling fs layer");
        }
    }

    // Config first (it is small), then the layers, a few at a time.
    let mut blobs: Vec<&Descriptor> = vec![image_manifest.config()];
    blobs.extend(image_manifest.layers());
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; blobs.len()]);
    let next = Mutex::new(0usize);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let quiet = Progress::off();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(blobs.len()) {
            scope.spawn(|| loop {
                let i = {
                    let mut next = next.lock().expect("queue");
                    if *next >= blobs.len() || failure.lock().expect("failure").is_some() {
                        return;
                    }
                    *next += 1;
                    *next - 1
                };
                // The config is no layer: Docker's progress does not show it.
                let shown = if i == 0 { &quiet } else { progress };
                match fetch_blob(client, store, repository, blobs[i], shown) {
                    Ok(outcome) => outcomes.lock().expect("outcomes")[i] = Some(outcome),
                    Err(error) => {
                        failure.lock().expect("failure").get_or_insert(error);
                        return;
                    }
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().expect("failure") {
        return Err(error);
    }
    let outcomes = outcomes.into_inner().expect("outcomes");
    for blob in &blobs {
        sources::record(store, blob.digest(), &reference.registry, repository);
    }

    // Every blob is in; now the manifest, verified against its digest once more by the store.
    store.put_blob(&mut &chosen.bytes[..], Some(&chosen.digest))?;
    let _lock = store.lock()?;
    let mut image = Image::load(store, &chosen.digest)?;
    let descriptor = Descriptor::new(
        MediaType::from(chosen.media_type.as_str()),
        chosen.bytes.len() as u64,
        chosen.digest.clone(),
    );
    let tag = reference.local_tag();
    let changed = match &tag {
        Some(tag) => {
            let before = store
                .tags()?
                .into_iter()
                .find(|(t, _)| t == tag)
                .map(|(_, d)| d);
            store.set_tag(tag, &descriptor)?;
            image.tags.push(tag.clone());
            match before {
                Some(old) if old.digest() == &chosen.digest => false,
                Some(mut old) => {
                    // The image the tag left stays, untagged (`<none>`), as in Docker.
                    old.set_annotations(None);
                    store.add_untagged(&old)?;
                    true
                }
                None => true,
            }
        }
        None => {
            store.add_untagged(&descriptor)?;
            true
        }
    };
    Ok(Pulled {
        digest: top.digest,
        image,
        layers: image_manifest
            .layers()
            .iter()
            .zip(&outcomes[1..])
            .map(|(l, o)| (l.digest().clone(), o.expect("every blob has an outcome")))
            .collect(),
        tag,
        changed,
    })
}

/// One blob into the store, unless it is there already.
fn fetch_blob(
    client: &Client,
    store: &Store,
    repository: &str,
    blob: &Descriptor,
    progress: &Progress,
) -> Result<Outcome> {
    let digest = blob.digest();
    let bar = progress.bar(short(digest), blob.size());
    if store.has_blob(digest) {
        explain!("{digest}: already in the store, not downloaded");
        bar.finish("Already exists");
        return Ok(Outcome::AlreadyExists);
    }
    bar.moving("Downloading");
    let url = format!("/v2/{repository}/blobs/{digest}");
    let mut writer = store.blob_writer()?;
    let mut have = 0u64;
    let mut attempt = 1;
    loop {
        match download(client, store, &url, blob, &mut writer, &mut have, &bar) {
            Ok(()) => break,
            Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                explain!(
                    "{digest}: attempt {attempt} failed after {have} bytes ({error}); retrying"
                );
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
            }
            Err(error) if error.is_transient() => {
                return Err(Error::GaveUp {
                    what: format!("blob {digest}"),
                    attempts: attempt,
                    last: Box::new(error),
                })
            }
            Err(error) => return Err(error),
        }
    }
    bar.message("Verifying Checksum");
    // The store hashes what was written and refuses (deletes) it unless it is `digest`.
    writer.commit(Some(digest))?;
    bar.message("Download complete");
    bar.finish("Pull complete");
    Ok(Outcome::Downloaded)
}

/// One GET of a blob, appended to `writer`. With `have` bytes already written, ask for the
/// rest (`Range: bytes=have-`); a server that answers 200 instead of 206 sends it all again,
/// so start over.
fn download(
    client: &Client,
    store: &Store,
    url: &str,
    blob: &Descriptor,
    writer: &mut BlobWriter,
    have: &mut u64,
    bar: &Bar,
) -> Result<()> {
    let range = format!("bytes={have}-");
    let headers: Vec<(&str, &str)> = if *have > 0 {
        vec![("Range", &range)]
    } else {
        vec![]
    };
    let response = client.expect("GET", url, &headers, Body::Empty, &[200, 206])?;
    if response.status() == 200 && *have > 0 {
        explain!("the server ignored the Range header: downloading from the start");
        *writer = store.blob_writer()?;
        *have = 0;
        bar.set_position(0);
    } else if response.status() == 206 {
        let expected = format!("bytes {have}-");
        let content_range = response.header("content-range").unwrap_or("");
        if !content_range.starts_with(&expected) {
            return Err(Error::Protocol(format!(
                "{url}: asked for {range}, got Content-Range {content_range:?}"
            )));
        }
    }
    let io_error = |cause| Error::file("download blob from", client.url(url))(cause);
    let mut reader = response.into_reader();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buffer).map_err(io_error)?;
        if n == 0 {
            break;
        }
        if *have + n as u64 > blob.size() {
            return Err(Error::Mismatch {
                what: format!("blob {}", blob.digest()),
                detail: format!(
                    "the server sent more than the {} bytes promised",
                    blob.size()
                ),
            });
        }
        writer
            .write_all(&buffer[..n])
            .map_err(Error::file("write blob to", store.tmp_dir()))?;
        *have += n as u64;
        bar.inc(n as u64);
    }
    if *have < blob.size() {
        return Err(io_error(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("the connection ended after {have} of {} bytes", blob.size()),
        )));
    }
    Ok(())
}

/// The lines `docker pull` prints, for output that is not a terminal.
pub fn report(reference: &Reference, pulled: &Pulled) -> String {
    let mut out = format!(
        "{}: Pulling from {}\n",
        reference.object(),
        reference.repository
    );
    for (digest, outcome) in &pulled.layers {
        let what = match outcome {
            Outcome::AlreadyExists => "Already exists",
            Outcome::Downloaded => "Pull complete",
        };
        out += &format!("{}: {what}\n", short(digest));
    }
    for line in summary(reference, pulled) {
        out += &line;
        out.push('\n');
    }
    out
}

/// The last two lines of `docker pull`: the digest, and whether the tag moved.
pub fn summary(reference: &Reference, pulled: &Pulled) -> [String; 2] {
    let name = pulled
        .tag
        .clone()
        .unwrap_or_else(|| format!("{}@{}", reference.familiar_name(), pulled.digest));
    let status = if pulled.changed {
        format!("Status: Downloaded newer image for {name}")
    } else {
        format!("Status: Image is up to date for {name}")
    };
    [format!("Digest: {}", pulled.digest), status]
}
