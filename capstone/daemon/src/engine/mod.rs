//! The engine: containers and images as the Docker API sees them, kept on disk under the state
//! root. It decides (names, ids, the OCI spec from the image and the options), and delegates:
//! images to chapter 04's store, running to a supervisor per container ([`crate::shim`]) which
//! runs the spec through the runtime ([`crate::runtime`]).

pub mod archive;
pub mod attachments;
pub mod build;
pub mod changes;
pub mod check;
pub mod connect;
pub mod containers;
pub mod devices;
pub mod event_hooks;
pub mod events;
pub mod exec;
pub mod exec_resize;
pub mod extra_hosts;
pub mod filters;
pub mod images;
pub mod list_filters;
pub mod meta;
pub mod networks;
pub mod pause;
pub use baleia_wire::record;
pub mod registry;
pub mod rename;
pub mod run_limits;
pub mod spec;
pub mod stats;
pub mod system;
pub mod unsupported;
pub mod update;
pub mod views;
pub mod volumes;

use ch04_images::Store;
use record::{Dir, Record, State, Status};
use std::collections::HashMap;
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::Mutex;

/// An API error: the HTTP status and Docker's `{"message": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, message)
    }
    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(501, message)
    }
    pub fn internal(error: impl Display) -> Self {
        Self::new(500, error.to_string())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        ApiError::new(500, format!("{error:#}"))
    }
}

impl From<ch04_images::Error> for ApiError {
    fn from(error: ch04_images::Error) -> Self {
        use ch04_images::Error as E;
        let status = match &error {
            E::NoSuchImage(_) | E::NoSuchContainer(..) => 404,
            E::InUse { .. } => 409,
            E::Invalid(_) | E::Reference { .. } => 400,
            _ => 500,
        };
        ApiError::new(status, error.to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The engine's shared state: where things are, and the few locks it needs.
pub struct Engine {
    pub root: PathBuf,
    pub store: Store,
    /// Where container cgroups go (`/PARENT/<id>` in every hierarchy).
    pub cgroup_parent: String,
    /// This program, to start supervisors with (`baleia shim`).
    pub exe: PathBuf,
    pub cgroup_v2: bool,
    /// The default network's bridge and subnet (`daemon --bridge --bip`; no subnet: a free
    /// one); `None` with `--bridge none`: containers without `--network` get a loopback only
    /// (dockerd `-b none`).
    pub default_bridge: Option<(String, Option<String>)>,
    /// The host address of ports published without one (`daemon --ip`, as dockerd's).
    pub default_bind_ip: std::net::IpAddr,
    /// Held while a container is created or removed, so names stay unique.
    pub names: Mutex<()>,
    /// Held while a supervisor is being started.
    pub starting: Mutex<()>,
    /// The exit codes of containers removed automatically (`--rm`), for `wait` calls that
    /// asked to wait until the container is removed.
    pub removed: Mutex<HashMap<String, i32>>,
    /// The exec instances (`docker exec`), by id; kept in memory, as Docker does.
    pub execs: Mutex<HashMap<String, exec::Exec>>,
    /// Wakes whoever waits for a container when one ends or is removed.
    pub changes: changes::Changes,
}

/// A container found on disk: its directory, what `create` decided, and its state now.
#[derive(Debug, Clone)]
pub struct Found {
    pub dir: Dir,
    pub record: Record,
    pub state: State,
}

impl Found {
    pub fn id(&self) -> &str {
        &self.record.id
    }
    pub fn running(&self) -> bool {
        self.state.status == Status::Running
    }
}

impl Engine {
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn dir_of(&self, id: &str) -> Dir {
        Dir(self.containers_dir().join(id))
    }

    /// Every complete container (one whose `container.json` exists), oldest first.
    pub fn all(&self) -> Vec<Found> {
        let Ok(entries) = std::fs::read_dir(self.containers_dir()) else {
            return Vec::new();
        };
        let mut found: Vec<Found> = entries
            .flatten()
            .filter_map(|entry| {
                let dir = Dir(entry.path());
                let record = dir.read_record().ok()?;
                let state = dir.read_state().unwrap_or_default();
                Some(Found { dir, record, state })
            })
            .collect();
        found.sort_by_key(|f| f.record.created);
        found
    }

    /// Find a container as Docker does: full id, then name (with or without its `/`), then a
    /// unique id prefix.
    pub fn find(&self, wanted: &str) -> ApiResult<Found> {
        // A full id (what clients hold after `create`) is a directory name: read that one
        // container only, not every container's files.
        if wanted.len() == 64 && wanted.bytes().all(|b| b.is_ascii_hexdigit()) {
            let dir = self.dir_of(wanted);
            if let Ok(record) = dir.read_record() {
                let state = dir.read_state().unwrap_or_default();
                return Ok(Found { dir, record, state });
            }
        }
        let all = self.all();
        let name = wanted.trim_start_matches('/');
        if let Some(f) = all.iter().find(|f| f.record.id == wanted) {
            return Ok(f.clone());
        }
        if let Some(f) = all.iter().find(|f| f.record.name == name) {
            return Ok(f.clone());
        }
        let prefixed: Vec<&Found> = all
            .iter()
            .filter(|f| !wanted.is_empty() && f.record.id.starts_with(wanted))
            .collect();
        match prefixed.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ApiError::not_found(format!("No such container: {wanted}"))),
            _ => Err(ApiError::bad_request(format!(
                "multiple IDs found with provided prefix: {wanted}"
            ))),
        }
    }
}
