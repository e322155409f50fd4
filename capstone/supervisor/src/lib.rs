//! The supervisor (`baleia shim ID`): one process per container, started by the daemon and
//! outliving it, as containerd-shim outlives containerd.
//!
//! - [`shim`]: runs the container through the runtime, keeps its log, records its exit.
//! - [`wiring`]: chapter 07 around the runtime: the container's volumes, its network and its
//!   published ports, which need its process and so happen at start.
//! - [`footprint`]: why a thousand idle supervisors cost little memory.
//!
//! It depends on the runtime below it and on the shared records, never on the daemon: a
//! supervisor keeps its container running while no daemon is there.

pub mod footprint;
pub mod shim;
pub mod wiring;

// The shared modules, under the names the supervisor's modules use.
use baleia_wire::{logs, pty, stdin, time};
