//! What every chapter shares, in one place: the two error shapes and how errors chain
//! ([`failure`]), the exit codes a container engine answers with ([`exit`]), random ids
//! ([`id`]), signals by name ([`signal`]), and the `--explain` narrator ([`explain`](crate::explain)).
//!
//! It lives in chapter 01 because every later chapter already builds on this crate (see
//! "One home for what the chapters share" in docs/decisions.md).

pub mod exit;
pub mod failure;
pub mod id;
pub mod signal;

pub use crate::explain;
pub use exit::ExitCode;
pub use failure::{Failure, FileError, SyscallError};
pub use signal::parse_signal;
