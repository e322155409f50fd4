//! Commit: a container's changes become a new image.
//!
//! A container runs on an overlay (chapter 03): its image's layers below, read-only, and its
//! own **upper** directory on top, where every write lands (a changed file is copied up whole;
//! a deleted one leaves a whiteout). So the upper directory *is* the container's diff against
//! its image, already in layer form. Committing is: tar the upper directory (translating
//! overlay whiteouts into `.wh.` files, [`pack::from_upper_dir`]), store it as a layer, and
//! write a config and manifest listing the base image's layers plus this one. The base layers
//! are not copied; the new image shares them.

use crate::containers::{self, ContainerRef};
use crate::create::{self, Provenance};
use crate::error::{Error, Result};
use crate::image::{self, Image};
use crate::pack;
use crate::store::Store;
use std::path::Path;

/// Who and why, for the history entry (`docker commit --author --message`).
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub author: Option<String>,
    pub message: Option<String>,
}

/// Commit an upper directory made on top of `base` into a new image tagged `tag`.
/// Call with the store locked.
pub fn commit_upper_dir(
    store: &Store,
    base: &Image,
    upper: &Path,
    created_by: String,
    tag: &str,
    options: &CommitOptions,
) -> Result<Image> {
    let layer = pack::from_upper_dir(store, upper)?;
    let provenance = Provenance {
        created: None,
        created_by,
        author: options.author.clone(),
        comment: options.message.clone(),
    };
    create::add_layer(store, Some(base), layer, provenance, &[], Some(tag))
}

/// Commit a container of chapter 03 (`$ROOT/containers/<id>/upper` on top of the image its
/// `image` file names). Call with the store locked.
pub fn commit_container(
    store: &Store,
    container: &str,
    tag: &str,
    options: &CommitOptions,
) -> Result<Image> {
    let found: ContainerRef = containers::find(store, container)?;
    let upper = found.upper_dir();
    if !upper.is_dir() {
        return Err(Error::Invalid(format!(
            "container {}: it has no upper directory {}",
            found.id,
            upper.display()
        )));
    }
    let base = Image::load(store, &found.image()?)
        .map_err(|e| Error::Invalid(format!("container {}: its image: {e}", found.id)))?;
    let short: String = found.id.chars().take(12).collect();
    commit_upper_dir(
        store,
        &base,
        &upper,
        format!("commit {short}"),
        tag,
        options,
    )
}

/// Resolve a base image by reference (for commits from a bare upper directory).
pub fn base_image(store: &Store, reference: &str) -> Result<Image> {
    image::resolve(store, reference)
}
