//! # Chapter 07 — volumes and networks
//!
//! The course notes: the Docker host has *volumes* (sharing files outside the container, e.g.
//! saving a file produced in the container into a folder on the computer) and *networks*
//! (making sure containers can talk to each other).
//!
//! - [`volumes`]: bind mounts, named volumes under the state root, anonymous volumes from the
//!   image's `VOLUME`; mounted with the new mount API after `pivot_root`.
//! - [`network`]: a bridge per network, a veth pair per container, an IPAM with leases on disk,
//!   NAT and isolation rules, names in `/etc/hosts`, published ports through a userland proxy.
//! - [`run`]: chapter 04's `run` with both.
//!
//! ## Using it from an engine (the capstone)
//!
//! ```text
//! // before the container exists (chapter 04's run_image_with hook gives dirs and image):
//! let prepared = volumes::prepare(root, dirs, &image_volumes, &specs)?;   // validates, creates
//! container = container.child_step("mount the volumes", prepared.into_child_step());
//! let bound = network::proxy::bind(&port_specs)?;                        // host ports, now
//! // parent-side step, with the container's pid:
//! let attachment = network::attach(root, "bridge", pid, &Endpoint { .. })?;
//! let proxy = bound.serve(IpAddr::V4(attachment.address))?;              // stops when dropped
//! // after it exited:
//! drop(proxy); attachment.detach()?; volumes::release(root, &prepared_anonymous, kept)?;
//! // and: network::{create, remove, list, get, ensure_default, reclaim}, volumes::store::VolumeStore
//! ```
//!
//! `network::attach` and `volumes::prepare` take locks under the state root, so separate
//! processes (a daemon and a CLI, two runs) can use them at once.

pub mod error;
pub mod lock;
pub mod network;
pub mod run;
pub mod volumes;

pub use ch01_namespaces::explain;
pub use error::{Error, Result};
