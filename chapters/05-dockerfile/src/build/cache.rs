//! The build cache, as BuildKit keys it.
//!
//! Every step has a **cache key**: a SHA-256 over the key of the step before it and what the
//! step is (the instruction, substituted, with the environment a RUN sees; for COPY and ADD, a
//! hash of the *content* of the files it copies, not their times). So:
//! - the same Dockerfile on the same base and the same files gives the same keys: every step
//!   is a hit;
//! - a changed step changes its key, and, because each key includes the one before it, every
//!   key after it: the first miss invalidates the rest of the stage;
//! - touching a file (a new mtime) changes nothing; changing its bytes misses from its COPY on.
//!
//! A hit is an image: the result of that step the last time. The cache maps a key to that
//! image's manifest through a **pin** (chapter 04's `pins`, group `build-cache`), so garbage
//! collection keeps the intermediate images a later build will want.

use ch04_images::{pins, Image, Store};
use sha2::{Digest as _, Sha256};

pub const PIN_GROUP: &str = "build-cache";

/// A step's cache key, 64 hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(pub String);

impl CacheKey {
    /// The key of a step: the parent's key, then each part, length-prefixed so that no two
    /// different lists of parts hash alike.
    pub fn derive(parent: Option<&CacheKey>, parts: &[&str]) -> CacheKey {
        // exercise 05.3: the cache key: the parent's key, then each part, length-prefixed
        let mut hash = Sha256::new();
        hash.update(parent.map_or("", |p| p.0.as_str()));
        for part in parts {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        CacheKey(format!("{:x}", hash.finalize()))
        // end of exercise 05.3
    }
}

/// The image a key gave last time, if it is still whole in the store.
pub fn lookup(store: &Store, key: &CacheKey) -> Option<Image> {
    let manifest = pins::pinned(store, PIN_GROUP, &key.0).ok()??;
    let image = Image::load(store, &manifest).ok()?;
    let whole = image.layers().iter().all(|l| store.has_blob(l.digest()));
    whole.then_some(image)
}

/// Remember that `key` gave `image`.
pub fn record(store: &Store, key: &CacheKey, image: &Image) -> ch04_images::Result<()> {
    pins::pin(store, PIN_GROUP, &key.0, &image.manifest_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_chain_and_parts_do_not_run_together() {
        let a = CacheKey::derive(None, &["FROM x"]);
        let b = CacheKey::derive(Some(&a), &["RUN echo", "hi"]);
        assert_eq!(b, CacheKey::derive(Some(&a), &["RUN echo", "hi"]));
        assert_ne!(b, CacheKey::derive(Some(&a), &["RUN echoh", "i"]));
        let other_parent = CacheKey::derive(None, &["FROM y"]);
        assert_ne!(
            b,
            CacheKey::derive(Some(&other_parent), &["RUN echo", "hi"])
        );
    }
}
