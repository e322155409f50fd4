//! What the registry knows about repositories, kept beside the chapter 04 store.
//!
//! The blobs themselves live once, in the store (`$ROOT/oci/blobs/sha256/`), whatever
//! repository they were pushed to. A repository is only a set of *links*, as in the CNCF
//! registry's storage layout:
//!
//! ```text
//! $ROOT/registry/repositories/<name>/_blobs/<hex>       this repository may serve this blob
//! $ROOT/registry/repositories/<name>/_manifests/<hex>   a manifest; the file holds its media type
//! $ROOT/registry/repositories/<name>/_tags/<tag>        the digest the tag points at
//! $ROOT/registry/uploads/<id>                           a blob being uploaded (not in the store)
//! ```
//!
//! Components of a repository name cannot start with `_`, so `_blobs` never clashes with a
//! name. Links are tiny files written atomically; a cross-repository mount is one more link.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch04_images::store::write_atomically;
use ch04_images::Store;
use oci_spec::image::Digest;
use std::path::PathBuf;

#[derive(Clone)]
pub struct Repos {
    pub store: Store,
}

impl Repos {
    pub fn new(store: Store) -> Result<Repos> {
        let repos = Repos { store };
        for dir in [repos.repositories_dir(), repos.uploads_dir()] {
            std::fs::create_dir_all(&dir).map_err(Error::file("create directory", &dir))?;
        }
        Ok(repos)
    }

    fn repositories_dir(&self) -> PathBuf {
        self.store.root().join("registry/repositories")
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.store.root().join("registry/uploads")
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.repositories_dir().join(name)
    }

    fn write(&self, path: PathBuf, bytes: &[u8]) -> Result<()> {
        let dir = path.parent().expect("link has a parent");
        std::fs::create_dir_all(dir).map_err(Error::file("create directory", dir))?;
        Ok(write_atomically(&path, bytes, &self.store.tmp_dir())?)
    }

    pub fn link_blob(&self, name: &str, digest: &Digest) -> Result<()> {
        self.write(self.repo(name).join("_blobs").join(digest.digest()), b"")
    }

    /// May `name` serve this blob? (It was pushed or mounted there, or it is a manifest there.)
    pub fn has_blob(&self, name: &str, digest: &Digest) -> bool {
        self.store.has_blob(digest)
            && (self
                .repo(name)
                .join("_blobs")
                .join(digest.digest())
                .exists()
                || self.manifest_type(name, digest).is_some())
    }

    pub fn unlink_blob(&self, name: &str, digest: &Digest) -> bool {
        std::fs::remove_file(self.repo(name).join("_blobs").join(digest.digest())).is_ok()
    }

    pub fn put_manifest(&self, name: &str, digest: &Digest, media_type: &str) -> Result<()> {
        self.write(
            self.repo(name).join("_manifests").join(digest.digest()),
            media_type.as_bytes(),
        )
    }

    /// The media type a manifest was pushed with, if `name` has it.
    pub fn manifest_type(&self, name: &str, digest: &Digest) -> Option<String> {
        std::fs::read_to_string(self.repo(name).join("_manifests").join(digest.digest())).ok()
    }

    /// Forget a manifest and every tag pointing at it.
    pub fn delete_manifest(&self, name: &str, digest: &Digest) -> bool {
        let removed =
            std::fs::remove_file(self.repo(name).join("_manifests").join(digest.digest())).is_ok();
        for tag in self.tags(name) {
            if self.tag(name, &tag).as_ref() == Some(digest) {
                self.delete_tag(name, &tag);
            }
        }
        removed
    }

    pub fn set_tag(&self, name: &str, tag: &str, digest: &Digest) -> Result<()> {
        self.write(
            self.repo(name).join("_tags").join(tag),
            digest.to_string().as_bytes(),
        )
    }

    pub fn tag(&self, name: &str, tag: &str) -> Option<Digest> {
        let text = std::fs::read_to_string(self.repo(name).join("_tags").join(tag)).ok()?;
        ch04_images::digest::parse_sha256(text.trim()).ok()
    }

    pub fn delete_tag(&self, name: &str, tag: &str) -> bool {
        std::fs::remove_file(self.repo(name).join("_tags").join(tag)).is_ok()
    }

    /// A repository's tags, sorted (the order the spec wants for pagination).
    pub fn tags(&self, name: &str) -> Vec<String> {
        let mut tags: Vec<String> = std::fs::read_dir(self.repo(name).join("_tags"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|t| !t.starts_with('.') && !t.ends_with(".tmp"))
            .collect();
        tags.sort();
        tags
    }

    pub fn exists(&self, name: &str) -> bool {
        self.repo(name).is_dir()
    }

    /// Every repository that holds a manifest, sorted.
    pub fn catalog(&self) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![(self.repositories_dir(), String::new())];
        while let Some((dir, name)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                if file_name == "_manifests" {
                    found.push(name.clone());
                } else if !file_name.starts_with('_') && entry.path().is_dir() {
                    let child = if name.is_empty() {
                        file_name
                    } else {
                        format!("{name}/{file_name}")
                    };
                    stack.push((entry.path(), child));
                }
            }
        }
        found.sort();
        found
    }
}
