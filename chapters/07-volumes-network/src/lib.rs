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

pub mod error;
pub mod lock;
pub mod network;
pub mod run;
pub mod volumes;

pub use ch01_namespaces::explain;
pub use error::{Error, Result};
