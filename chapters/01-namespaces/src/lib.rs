//! # Chapter 01 — namespaces
//!
//! A container is a process tree that the kernel shows a private view of the system: its own
//! process ids, host name, mounts, network, users. Each of those views is a *namespace*
//! ([`Namespace`]). This crate starts a command in new namespaces ([`Container::new`]) or inside
//! the namespaces of a running process ([`Container::join`], what `docker exec` does).
//!
//! Every later chapter builds on [`Container`]'s two extension points:
//! - [`Container::parent_step`]: runs in the parent once the container's first process exists,
//!   while it waits (write its uid/gid maps, put it in a cgroup, give it a network interface);
//! - [`Container::child_step`]: runs inside the namespaces just before the command is executed
//!   (mount its root file system, switch to it).
//!
//! Read [`process`] for how the processes take turns, and [`security`] for what a root process
//! inside may still do (capabilities, `no_new_privs`, seccomp): namespaces limit what it sees,
//! those limit what it can do.

pub mod channel;
pub mod cli;
pub mod common;
pub mod error;
pub mod exec;
pub mod explain;
pub mod idmap;
pub mod init;
pub mod inside;
pub mod mapped;
pub mod namespace;
pub mod process;
pub mod seccomp;
pub mod seccomp_profile;
pub mod security;
pub mod signals;
pub mod subids;
pub mod syscall_names;

pub use common::ExitCode;
pub use error::{Error, Result, StepError};
pub use idmap::{IdMap, IdMappings};
pub use namespace::{Namespace, NamespaceSet};
pub use process::{Container, ContainerProcess};
pub use security::{Seccomp, Security};
