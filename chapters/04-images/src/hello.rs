//! The built-in `hello-world` image, made offline: one layer holding one static program.
//!
//! Docker's first-run experience is `docker run hello-world`, which pulls a tiny image whose
//! program explains what just happened. baleia has no registry yet (chapter 06), so the store
//! makes the image itself, from a program compiled into this crate (see `build.rs`). Every
//! field is fixed (file times, owner, the config's `created`), so the image id is the same on
//! every machine with the same compiler.

use crate::create::{self, Change, Provenance};
use crate::error::{Error, Result};
use crate::image::Image;
use crate::pack::LayerWriter;
use crate::store::Store;
use ch01_namespaces::common::Failure;

/// The static program, as compiled by `build.rs`.
pub const PROGRAM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hello"));

/// The tag it is stored under.
pub const TAG: &str = "hello-world:latest";

/// 2025-11-28T00:00:00Z: the fixed creation time of the image (and the layer's file times).
const CREATED: i64 = 1_764_288_000;

/// Create (or re-create, identically) `hello-world:latest`. Call with the store locked.
pub fn create(store: &Store) -> Result<Image> {
    let mut tar = tar::Builder::new(LayerWriter::new(store)?);
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o755);
    header.set_size(PROGRAM.len() as u64);
    header.set_mtime(CREATED as u64);
    tar.append_data(&mut header, "hello", PROGRAM)
        .map_err(Error::file("write layer entry", "hello"))?;
    let layer = tar
        .into_inner()
        .map_err(Error::file("finish layer", "hello"))?
        .finish()?;
    let provenance = Provenance {
        created: Some(CREATED),
        created_by: "baleia built-in: COPY hello /hello".into(),
        author: None,
        comment: None,
    };
    create::add_layer(
        store,
        None,
        layer,
        provenance,
        &[Change::Cmd(vec!["/hello".into()])],
        Some(TAG),
    )
}
