//! # Chapter 04 — images
//!
//! An image is a stack of **layers** (tars of files) plus a **config** (how to run it and the
//! list of its layers), described by a **manifest**, all kept in a content-addressed store: an
//! OCI image layout where every blob is named by its SHA-256 digest.
//!
//! - [`store`]: the OCI image layout under `$ROOT/oci/`; blobs are verified before they land.
//! - [`digest`]: digests, diff ids and chain ids.
//! - [`image`]: manifest → config → layers; finding an image by tag or id.
//! - [`pack`] makes layers (from a tar, or from a container's upper directory: commit);
//!   [`unpack`] and [`safepath`] unpack them defensively; [`whiteout`] translates deletions
//!   between the tar form and the overlay form.
//! - [`snapshot`]: each layer unpacked once, in `$ROOT/layers/<chain-id>/`;
//!   [`snapshot::prepare`] gives the `lowerdir=` list that chapter 03 mounts.
//! - [`create`]: a new image = a base + one layer + a history entry ([`commit`] and `import`).
//! - [`archive`]: `save`/`load` in OCI and Docker archive formats.
//! - [`check`]: is the store whole (every blob's digest, every image's blobs, every layer)?
//! - [`gc`]: `rmi` and garbage collection; [`containers`] and [`pins`] are what it must not
//!   collect.
//! - [`hello`]: the built-in `hello-world` image.
//! - [`run`]: an image as a chapter 03 container, its config applied.
//!
//! ## Running an image ([`run`], on chapter 03)
//!
//! ```text
//! let store = Store::open(root)?;
//! let _lock = store.lock()?;
//! let image = image::resolve(&store, "busybox")?;            // tag, id or id prefix
//! containers::record_image(&store, &id, &image.manifest_digest)?; // before mounting: gc keeps it
//! let lower = snapshot::prepare(&store, &image)?;            // top first: lowerdir=a:b:c
//! drop(_lock);
//! // mount overlay lowerdir=lower.join(":"), upperdir=$ROOT/containers/<id>/upper, workdir=...
//! // and run image.config.config(): Env, Entrypoint + Cmd, WorkingDir, User
//! ```

pub mod archive;
pub mod check;
pub mod cli;
pub mod commit;
pub mod containers;
pub mod create;
pub mod digest;
pub mod error;
pub mod gc;
pub mod hello;
pub mod image;
pub mod pack;
pub mod pins;
pub mod reference;
pub mod report;
pub mod run;
pub mod safepath;
pub mod snapshot;
pub mod store;
pub mod time;
pub mod unpack;
pub mod whiteout;

pub use ch01_namespaces::explain;
pub use error::{Error, Result};
pub use image::Image;
pub use store::Store;
