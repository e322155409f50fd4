//! What crosses between baleia's roles: the client, the daemon, the supervisors and the
//! runtime are separate processes, and this crate is all they share.
//!
//! - [`http`]: the Engine API's framing (HTTP/1.1 on a unix socket), both ends.
//! - [`body`]: HTTP bodies as streams (lengths and chunks), both ends and both ways.
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
pub mod body;
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

/// Root's daemon socket when neither `-H` nor `BALEIA_HOST` says another.
pub const DEFAULT_HOST: &str = "unix:///run/baleia/baleia.sock";

/// The daemon's socket when neither `-H` nor `BALEIA_HOST` says another: [`DEFAULT_HOST`] for
/// root; for an ordinary user, its own daemon's, in its runtime directory (the XDG Base
/// Directory specification's `$XDG_RUNTIME_DIR`, `/run/user/UID` under systemd-logind, made
/// at login and private to the user): `unix://$XDG_RUNTIME_DIR/baleia/baleia.sock`. Without
/// one, `/run/user/UID` all the same: connecting then says it is missing.
pub fn default_host() -> String {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return DEFAULT_HOST.to_string();
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{uid}")));
    format!("unix://{}", runtime.join("baleia/baleia.sock").display())
}

/// `-H unix:///path/to.sock` (or a bare path) → the socket's path: the client connects to it,
/// the daemon listens on it.
pub fn socket_path(host: &str) -> Result<PathBuf> {
    match host.strip_prefix("unix://") {
        Some(path) => Ok(PathBuf::from(path)),
        None if host.starts_with('/') => Ok(PathBuf::from(host)),
        None => bail!("-H {host}: only unix sockets are supported (unix:///path/to.sock)"),
    }
}
