//! # Chapter 03 — the container's file system
//!
//! An image is immutable; a container sees it through an overlay whose top layer is its own
//! and writable, and thrown away when the container is removed. This crate:
//! - lays out a container's directories ([`dirs::ContainerDirs`]: init layer, upper, work, merged);
//! - mounts the overlay ([`overlay::Overlay`]) and what a process expects (/proc, /sys, /dev,
//!   /etc/hostname...), masks Docker's masked paths, and `pivot_root`s into it
//!   ([`rootfs::RootFs::enter`], a chapter 01 child-side step);
//! - lists what a container changed ([`diff::changes`]).

pub mod archive;
pub mod binds;
pub mod cli;
pub mod copy;
pub mod devices;
pub mod diff;
pub mod dirs;
pub mod error;
pub mod masked;
pub mod mounts;
pub mod overlay;
pub mod pivot;
pub mod rootfs;

pub use dirs::ContainerDirs;
pub use error::{Error, Result};
pub use overlay::Overlay;
pub use rootfs::RootFs;
