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
pub mod events;
pub mod exec;
pub mod exec_resize;
pub mod extra_hosts;
pub mod filters;
pub mod images;
pub mod index;
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
    /// Which containers exist, by id and name ([`index`]).
    pub index: Mutex<index::Index>,
}

/// 64 hexadecimal digits: a container's full id (its directory's name).
fn is_full_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
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

    /// Every container ([`index`]), oldest first, as its files say now.
    pub fn all(&self) -> Vec<Found> {
        let ids = self.index().ids();
        let mut found: Vec<Found> = ids
            .iter()
            .filter_map(|id| self.read_container(id).ok())
            .collect();
        found.sort_by_key(|f| f.record.created);
        found
    }

    /// Find a container as Docker does: full id, then name (with or without its `/`), then a
    /// unique id prefix. The index says which; only that container's files are read.
    pub fn find(&self, wanted: &str) -> ApiResult<Found> {
        let resolved = self.index().resolve(wanted);
        match resolved {
            Ok(id) => self.read_container(&id),
            // A full id the index lacks: a record put back by hand (an administrator's
            // repair) is found by its one directory, and known from then on.
            Err(error) if error.status == 404 && is_full_id(wanted) => {
                let found = self.read_container(wanted).map_err(|_| error)?;
                self.index_insert(&found.record);
                Ok(found)
            }
            Err(error) => Err(error),
        }
    }

    /// One container's record and state, from its directory.
    fn read_container(&self, id: &str) -> ApiResult<Found> {
        let dir = self.dir_of(id);
        let record = dir
            .read_record()
            .map_err(|_| ApiError::not_found(format!("No such container: {id}")))?;
        let state = dir.read_state().unwrap_or_default();
        Ok(Found { dir, record, state })
    }
}
