//! # Chapter 06 — the image registry
//!
//! A registry is a web server that stores the chapter 04 store's blobs and manifests, by
//! repository, and speaks the OCI distribution API (`/v2/...`). `pull` downloads what an image
//! reference names into the store, verifying every byte against its digest; `push` uploads a
//! stored image; `serve` is a registry of our own, over the same store.
//!
//! - [`reference`]: `busybox` → `docker.io/library/busybox:latest`, as Docker reads names.
//! - [`client`]: HTTP, `--explain` narration, and the `401` dance of [`auth`].
//! - [`manifest`]: fetch a manifest and check its digest; [`platform`] picks one from an index.
//! - [`pull`], [`push`], [`tags`], [`inspect`]: the client's commands. [`sources`] remembers where blobs
//!   came from, so a push can mount them across repositories.
//! - [`server`]: the registry (`ch06-registry serve`).
//! - [`progress`]: bars on a terminal, silence elsewhere.

pub mod auth;
pub mod client;
pub mod error;
pub mod inspect;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod pull;
pub mod push;
pub mod redirect;
pub mod reference;
pub mod server;
pub mod sources;
pub mod tags;

pub use ch04_images::explain;
pub use error::{Error, Result};
pub use reference::Reference;
