//! Where each blob came from, so a push can *mount* it instead of uploading it again.
//!
//! When you pull `localhost:5000/base` and push `localhost:5000/app` built on it, the registry
//! already has the base layers — in another repository. `POST
//! /v2/app/blobs/uploads/?mount=<digest>&from=base` asks it to link them across (Docker
//! remembers the same thing in its "distribution metadata"). One small file per blob,
//! `$ROOT/registry-sources/<hex>`, one `registry/repository` per line.

use ch04_images::Store;
use oci_spec::image::Digest;
use std::io::Write;
use std::path::PathBuf;

fn path(store: &Store, digest: &Digest) -> PathBuf {
    store.root().join("registry-sources").join(digest.digest())
}

/// Remember that `registry/repository` has this blob.
pub fn record(store: &Store, digest: &Digest, registry: &str, repository: &str) {
    let line = format!("{registry}/{repository}");
    if repositories(store, digest, registry).contains(&repository.to_string()) {
        return;
    }
    let file = path(store, digest);
    let _ = std::fs::create_dir_all(file.parent().expect("has parent"));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)
    {
        // One short write with O_APPEND: concurrent writers do not interleave inside a line.
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}

/// The repositories of `registry` known to have this blob.
pub fn repositories(store: &Store, digest: &Digest, registry: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path(store, digest)).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.strip_prefix(registry)?.strip_prefix('/'))
        .map(str::to_string)
        .collect()
}
