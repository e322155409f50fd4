//! Pins: images kept without a tag.
//!
//! Garbage collection keeps what `index.json` lists and what containers run. Some images must
//! live on without either: the intermediate images of a build, which its cache points at
//! (chapter 05), are not tags a user should see in `images`, yet collecting them would empty
//! the cache at the next `rmi`. A pin is a file naming a manifest digest; every pinned image
//! is a garbage collection root (containerd calls the same idea a *lease*).
//!
//! ```text
//! $ROOT/pins/<group>/<key>     "sha256:<hex>\n"   group: who pinned (build-cache); key: why
//! ```
//!
//! Removing the file (`unpin`, or a prune of the whole group) lets the next collection take
//! what only the pin kept.

use crate::digest::parse_sha256;
use crate::error::{Error, Result};
use crate::store::{write_atomically, Store};
use ch01_namespaces::common::Failure;
use oci_spec::image::Digest;
use std::path::PathBuf;

fn group_dir(store: &Store, group: &str) -> PathBuf {
    store.root().join("pins").join(group)
}

/// Pin `manifest` under `group/key` (replacing what that key pinned before).
pub fn pin(store: &Store, group: &str, key: &str, manifest: &Digest) -> Result<()> {
    let dir = group_dir(store, group);
    std::fs::create_dir_all(&dir).map_err(Error::file("create directory", &dir))?;
    write_atomically(
        &dir.join(key),
        format!("{manifest}\n").as_bytes(),
        &store.tmp_dir(),
    )
}

/// What `group/key` pins, if anything.
pub fn pinned(store: &Store, group: &str, key: &str) -> Result<Option<Digest>> {
    let path = group_dir(store, group).join(key);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_sha256(text.trim()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::file("read", path)(e)),
    }
}

/// Every pinned manifest, in every group (the garbage collector's extra roots). A pin file
/// that does not parse pins nothing.
pub fn all(store: &Store) -> Result<Vec<Digest>> {
    let pins = store.root().join("pins");
    let mut found = Vec::new();
    let groups = match std::fs::read_dir(&pins) {
        Ok(groups) => groups,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(Error::file("read directory", pins)(e)),
    };
    for group in groups {
        let group = group.map_err(Error::file("read directory", &pins))?.path();
        let keys = std::fs::read_dir(&group).map_err(Error::file("read directory", &group))?;
        for key in keys {
            let key = key.map_err(Error::file("read directory", &group))?.path();
            if let Ok(text) = std::fs::read_to_string(&key) {
                found.extend(parse_sha256(text.trim()).ok());
            }
        }
    }
    Ok(found)
}

/// Remove every pin of `group` (`builder prune`); returns how many there were. The images they
/// kept go at the next collection.
pub fn unpin_group(store: &Store, group: &str) -> Result<usize> {
    let dir = group_dir(store, group);
    let count = match std::fs::read_dir(&dir) {
        Ok(keys) => keys.count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::file("read directory", dir)(e)),
    };
    std::fs::remove_dir_all(&dir).map_err(Error::file("remove directory", &dir))?;
    Ok(count)
}
