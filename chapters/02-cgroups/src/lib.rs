//! # Chapter 02 — cgroups
//!
//! Namespaces (chapter 01) decide what a container *sees*; control groups decide how much it
//! may *use*. A cgroup is a set of processes that the kernel accounts together and holds to
//! limits: memory, CPU time, number of processes.
//!
//! This crate gives each container a cgroup of its own ([`ContainerCgroup`]), writes its
//! [`Limits`] before the container runs anything, puts the container's first process in it from
//! chapter 01's parent-side step (see [`cli::run_limited`]), reports what the cgroup saw
//! ([`Usage`]: OOM kills, refused forks, CPU time, peaks), and removes it when the container
//! ends. It works on v1, v2 and hybrid hosts ([`Layout`]).
//!
//! Read [`mode`] for the cgroup versions, [`cgroup`] for the directories, [`apply`] for which
//! file takes which limit, [`attach`] for moving processes in, and [`stats`] for what the
//! kernel accounts.

pub mod apply;
pub mod attach;
pub mod cgroup;
pub mod cli;
pub mod delegation;
pub mod error;
pub mod limits;
pub mod mode;
pub mod stats;

pub use attach::Attacher;
pub use cgroup::{ContainerCgroup, DEFAULT_PARENT};
pub use error::{Error, Result};
pub use limits::{CpuQuota, Limits};
pub use mode::{Controller, Layout, Mode};
pub use stats::Usage;
