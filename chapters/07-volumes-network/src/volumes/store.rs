//! Named volumes: directories the engine owns under the state root, that outlive containers.
//!
//! ```text
//! $ROOT/volumes/.lock              flock(2): create, use and remove take turns
//! $ROOT/volumes/<name>/volume.json what `volume inspect` shows
//! $ROOT/volumes/<name>/_data/      the content, bind-mounted into containers (Docker's layout)
//! $ROOT/containers/<id>/volumes    the volumes a container uses, one name a line
//! ```
//!
//! A volume is *in use* while some container directory names it: a running container, or one
//! kept with `--keep` (Docker refuses to remove a volume a stopped container still refers to).

use crate::error::{Error, Result};
use crate::lock::Lock;
use crate::volumes::spec::is_volume_name;
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The file in a container's directory that lists its volumes.
pub const USES_FILE: &str = "volumes";

/// What `volume inspect` prints (Docker's field names).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub mountpoint: PathBuf,
    pub created_at: String,
    /// Made for one container (an image's VOLUME, or `-v /path`): removed with it.
    pub anonymous: bool,
}

/// The volumes under one state root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    state_root: PathBuf,
}

impl VolumeStore {
    pub fn new(state_root: &Path) -> Self {
        VolumeStore {
            state_root: state_root.to_path_buf(),
        }
    }

    fn dir(&self) -> PathBuf {
        self.state_root.join("volumes")
    }

    fn volume_dir(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// Take the volumes lock (hold it across "create or find, then record the use").
    pub fn lock(&self) -> Result<Lock> {
        Lock::acquire(&self.dir().join(".lock"))
    }

    /// Create volume `name`, or return it if it exists already (`-v name:/x` on first use).
    pub fn create(&self, name: &str, anonymous: bool) -> Result<VolumeInfo> {
        if !is_volume_name(name) {
            return Err(Error::Invalid(format!(
                "{name:?} is not a valid volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*"
            )));
        }
        if let Ok(existing) = self.get(name) {
            return Ok(existing);
        }
        let dir = self.volume_dir(name);
        let data = dir.join("_data");
        explain!("mkdir {}: a new volume", data.display());
        std::fs::create_dir_all(&data).map_err(Error::file("create", &data))?;
        let info = VolumeInfo {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: data,
            created_at: ch04_images::time::rfc3339(ch04_images::time::now()),
            anonymous,
        };
        let json = serde_json::to_vec_pretty(&info).expect("volume info serializes");
        // Written last: a volume without volume.json is a half-made one, and `get` ignores it.
        let meta = dir.join("volume.json");
        let tmp = dir.join(".volume.json.tmp");
        std::fs::write(&tmp, json).map_err(Error::file("write", &tmp))?;
        std::fs::rename(&tmp, &meta).map_err(Error::file("rename", &meta))?;
        Ok(info)
    }

    pub fn get(&self, name: &str) -> Result<VolumeInfo> {
        if !is_volume_name(name) {
            return Err(not_found(name));
        }
        let meta = self.volume_dir(name).join("volume.json");
        let text = std::fs::read(&meta).map_err(|_| not_found(name))?;
        serde_json::from_slice(&text)
            .map_err(|e| Error::Invalid(format!("{}: {e}", meta.display())))
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeInfo>> {
        let entries = match std::fs::read_dir(self.dir()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::file("read directory", self.dir())(e)),
        };
        let mut volumes: Vec<VolumeInfo> = entries
            .flatten()
            .filter_map(|e| self.get(&e.file_name().to_string_lossy()).ok())
            .collect();
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(volumes)
    }

    /// The containers (ids) whose directories name volume `name`.
    pub fn users(&self, name: &str) -> Vec<String> {
        let containers = self.state_root.join("containers");
        let Ok(entries) = std::fs::read_dir(containers) else {
            return Vec::new();
        };
        let mut users: Vec<String> = entries
            .flatten()
            .filter(|e| {
                std::fs::read_to_string(e.path().join(USES_FILE))
                    .is_ok_and(|text| text.lines().any(|l| l == name))
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        users.sort();
        users
    }

    /// Remove a volume and its content; refused while a container uses it.
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let users = self.users(name);
        if !users.is_empty() {
            let short: Vec<&str> = users.iter().map(|u| &u[..u.len().min(12)]).collect();
            return Err(Error::InUse(format!(
                "volume {name} is in use by container(s) {}",
                short.join(", ")
            )));
        }
        self.remove_unchecked(name)
    }

    /// Remove a volume without asking whether it is in use (for a volume made by a container
    /// start that failed half way).
    pub fn remove_unchecked(&self, name: &str) -> Result<()> {
        let dir = self.volume_dir(name);
        explain!("rm -r {}", dir.display());
        // The metadata first: from then on the volume is gone, even if the data takes a while.
        let meta = dir.join("volume.json");
        match std::fs::remove_file(&meta) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::file("remove", &meta)(e))
            }
            _ => {}
        }
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::file("remove", &dir)(e))
            }
            _ => Ok(()),
        }
    }

    /// Remove the unused volumes: anonymous ones, or all of them with `all` (as `docker volume
    /// prune [--all]`). Returns the names removed.
    pub fn prune(&self, all: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for volume in self.list()? {
            if (all || volume.anonymous) && self.users(&volume.name).is_empty() {
                self.remove(&volume.name)?;
                removed.push(volume.name);
            }
        }
        Ok(removed)
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound {
        kind: "volume",
        name: name.to_string(),
    }
}

/// Record in a container's directory the volumes it uses (so they count as in use).
pub fn record_uses(container_dir: &Path, names: &[String]) -> Result<()> {
    let path = container_dir.join(USES_FILE);
    let text: String = names.iter().map(|n| format!("{n}\n")).collect();
    std::fs::write(&path, text).map_err(Error::file("write", &path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_idempotent_and_removal_is_refused_while_in_use() {
        let root = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(root.path());
        let made = store.create("data", false).unwrap();
        std::fs::write(made.mountpoint.join("kept"), "x").unwrap();
        assert_eq!(store.create("data", false).unwrap(), made);
        assert!(
            made.mountpoint.join("kept").exists(),
            "create again keeps content"
        );
        let container = root.path().join("containers/abc");
        std::fs::create_dir_all(&container).unwrap();
        record_uses(&container, &["data".into()]).unwrap();
        assert!(matches!(store.remove("data"), Err(Error::InUse(_))));
        std::fs::remove_dir_all(&container).unwrap();
        store.remove("data").unwrap();
        assert!(matches!(store.get("data"), Err(Error::NotFound { .. })));
        assert!(store.create("../escape", false).is_err());
    }

    #[test]
    fn prune_takes_unused_anonymous_volumes_or_all_unused() {
        let root = tempfile::tempdir().unwrap();
        let store = VolumeStore::new(root.path());
        store.create("named", false).unwrap();
        store.create("0123anon", true).unwrap();
        assert_eq!(store.prune(false).unwrap(), ["0123anon"]);
        assert_eq!(store.prune(true).unwrap(), ["named"]);
        assert!(store.list().unwrap().is_empty());
    }
}
