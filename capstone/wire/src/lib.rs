//! What crosses between baleia's roles: the client, the daemon, the supervisors and the
//! runtime are separate processes, and this crate is all they share.
//!
//! - [`http`]: the Engine API's framing (HTTP/1.1 on a unix socket), both ends.
//! - [`api`]: the Engine API's request and response bodies (Docker's own types).
//! - [`logs`]: a container's log file and the multiplexed stream of `logs`/`attach`.
//! - [`record`] (with [`create`], a request becoming a record) and [`attachments`]: the records kept on disk under `ROOT/containers/ID`,
//!   written by the daemon and the supervisor, read by both.
//! - [`journal`]: the events journal, written by the daemon and the supervisors.
//! - [`stdin`], [`pty`], [`terminal`]: a container's standard input and terminal, passed
//!   from one process to the next (fds over `SCM_RIGHTS`, bytes through pipes).
//! - [`time`]: the timestamps all of them print.

pub mod api;
pub mod attachments;
pub mod create;
pub mod http;
pub mod journal;
pub mod logs;
pub mod pty;
pub mod record;
pub mod stdin;
pub mod terminal;
pub mod time;

use anyhow::{bail, Result};
use std::path::PathBuf;

/// The daemon's socket when neither `-H` nor `BALEIA_HOST` says another.
pub const DEFAULT_HOST: &str = "unix:///run/baleia/baleia.sock";

/// `-H unix:///path/to.sock` (or a bare path) → the socket's path: the client connects to it,
/// the daemon listens on it.
pub fn socket_path(host: &str) -> Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(path) => Ok(PathBuf::from(path)),
        None if host.starts_with('/') => Ok(PathBuf::from(host)),
        None => bail!("-H {host}: only unix sockets are supported (unix:///path/to.sock)"),
    }
}
