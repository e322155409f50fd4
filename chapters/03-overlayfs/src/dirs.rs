//! A container's directories under the state root, and their life cycle.
//!
//! ```text
//! $ROOT/containers/<id>/
//!     lowers       the image directories, one per line, top first (what `diff` compares with)
//!     name         the --name, if one was given
//!     init/        the "init layer": empty mount points the engine fills (/proc, /dev,
//!                  /etc/hostname, ...), so they exist even in an image without them and are
//!                  never part of the container's own changes (Docker has the same layer)
//!     upper/       the write layer: everything the container changes lands here
//!     work/        overlayfs's scratch space (must be on the same file system as upper/)
//!     merged/      where the overlay is mounted, inside the container's mount namespace
//!     hostname, hosts, resolv.conf   the files the engine bind-mounts over /etc/...
//! ```
//!
//! Removing a container removes exactly these, and never follows anything out of them: the
//! image directories are only ever named in `lowers`, never deleted.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use std::path::{Path, PathBuf};

/// Where a container's directories are.
#[derive(Debug, Clone)]
pub struct ContainerDirs {
    pub id: String,
    pub dir: PathBuf,
}

/// Mount points the init layer provides (directories, then files).
const INIT_DIRS: [&str; 4] = ["proc", "sys", "dev", "etc"];
const INIT_FILES: [&str; 3] = ["etc/hostname", "etc/hosts", "etc/resolv.conf"];

impl ContainerDirs {
    /// The directories of container `id` under state root `root` (they may not exist).
    pub fn at(root: &Path, id: &str) -> Self {
        ContainerDirs {
            id: id.to_string(),
            dir: root.join("containers").join(id),
        }
    }

    /// Find a container by full id, unique id prefix, or name.
    pub fn find(root: &Path, wanted: &str) -> Result<Self> {
        let containers = root.join("containers");
        let entries = std::fs::read_dir(&containers)
            .map_err(|_| Error::NoSuchContainer(wanted.to_string()))?;
        let mut matches = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let name = std::fs::read_to_string(entry.path().join("name")).unwrap_or_default();
            if id == wanted || name.trim() == wanted {
                return Ok(Self::at(root, &id));
            }
            if id.starts_with(wanted) {
                matches.push(id);
            }
        }
        match matches.as_slice() {
            [id] => Ok(Self::at(root, id)),
            [] => Err(Error::NoSuchContainer(wanted.to_string())),
            _ => Err(Error::Invalid(format!(
                "{wanted:?} is the start of more than one container id: give more of it"
            ))),
        }
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn init(&self) -> PathBuf {
        self.dir.join("init")
    }

    /// Create the directories and the engine's files for a new container. `mount_points` are
    /// extra directories (absolute, as the container sees them) the init layer must provide.
    pub fn create(
        &self,
        lowers: &[PathBuf],
        name: Option<&str>,
        hostname: &str,
        mount_points: &[PathBuf],
    ) -> Result<()> {
        if self.dir.exists() {
            return Err(Error::Invalid(format!(
                "container {} exists already at {}",
                self.id,
                self.dir.display()
            )));
        }
        // exercise 03.2: a container's directories: upper, work, merged, and the init layer of empty mount points
        explain!("create {} (upper, work, merged, init)", self.dir.display());
        for dir in [self.upper(), self.work(), self.merged(), self.init()] {
            std::fs::create_dir_all(&dir).map_err(Error::file("create", &dir))?;
        }
        for dir in INIT_DIRS {
            let path = self.init().join(dir);
            std::fs::create_dir_all(&path).map_err(Error::file("create", &path))?;
        }
        // In the init layer these are real directories, above the image: even if the image has
        // a symlink there, the mount lands inside the container's tree.
        for dir in mount_points {
            let path = self.init().join(dir.strip_prefix("/").unwrap_or(dir));
            std::fs::create_dir_all(&path).map_err(Error::file("create", &path))?;
        }
        for file in INIT_FILES {
            let path = self.init().join(file);
            std::fs::write(&path, "").map_err(Error::file("create", &path))?;
        }
        let lines: String = lowers
            .iter()
            .map(|l| format!("{}\n", l.display()))
            .collect();
        self.write("lowers", &lines)?;
        if let Some(name) = name {
            self.write("name", &format!("{name}\n"))?;
        }
        self.write("hostname", &format!("{hostname}\n"))?;
        self.write(
            "hosts",
            &format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"),
        )?;
        self.write("resolv.conf", &resolv_conf())
        // end of exercise 03.2
    }

    fn write(&self, file: &str, content: &str) -> Result<()> {
        let path = self.dir.join(file);
        std::fs::write(&path, content).map_err(Error::file("write", &path))
    }

    /// The container's host name, as recorded at creation.
    pub fn hostname(&self) -> Result<String> {
        let path = self.dir.join("hostname");
        let text = std::fs::read_to_string(&path).map_err(Error::file("read", &path))?;
        Ok(text.trim_end().to_string())
    }

    /// The image directories recorded at creation, top first.
    pub fn lowers(&self) -> Result<Vec<PathBuf>> {
        let path = self.dir.join("lowers");
        let text = std::fs::read_to_string(&path).map_err(Error::file("read", &path))?;
        Ok(text.lines().map(PathBuf::from).collect())
    }

    /// Remove the container's directories. `merged` is removed with `rmdir`, never
    /// recursively: if something were still mounted there, a recursive delete would walk into
    /// the image. An ordinary user's container may have left files of its subordinate ids,
    /// which only the container's root may remove: the removal runs as that root (see
    /// [`ch01_namespaces::mapped`]).
    pub fn remove(&self) -> Result<()> {
        explain!("remove {}", self.dir.display());
        let (merged, dir) = (self.merged(), self.dir.clone());
        let remove = move || -> Result<()> {
            if merged.exists() {
                std::fs::remove_dir(&merged).map_err(Error::file("remove", &merged))?;
            }
            std::fs::remove_dir_all(&dir).map_err(Error::file("remove", &dir))
        };
        if nix::unistd::geteuid().is_root() {
            return remove();
        }
        Ok(ch01_namespaces::mapped::as_mapped_root(
            "remove the container's directories",
            || remove().map_err(|e| e.to_string()),
        )?)
    }
}

/// The host's resolver configuration, unless it points at a resolver on the host's own
/// loopback (systemd-resolved's 127.0.0.53), which the container cannot reach from its own
/// network namespace; then an empty configuration, which the networking chapter replaces.
fn resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    if host
        .lines()
        .any(|l| l.trim_start().starts_with("nameserver 127."))
    {
        "# the host's resolver is on its loopback, unreachable from the container\n".to_string()
    } else {
        host
    }
}

/// A container id like Docker's (chapter 01 makes them).
pub use ch01_namespaces::common::id::random_id;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_lays_out_the_init_layer_and_remove_takes_it_all() {
        let root = tempfile::tempdir().unwrap();
        let dirs = ContainerDirs::at(root.path(), "abc123");
        dirs.create(
            &[PathBuf::from("/images/busybox")],
            Some("web"),
            "abc123",
            &[PathBuf::from("/var/cache")],
        )
        .unwrap();
        assert!(dirs.init().join("etc/hostname").is_file());
        assert!(dirs.init().join("proc").is_dir());
        assert!(dirs.init().join("var/cache").is_dir());
        assert_eq!(dirs.lowers().unwrap(), [PathBuf::from("/images/busybox")]);
        assert_eq!(
            ContainerDirs::find(root.path(), "web").unwrap().id,
            "abc123"
        );
        assert_eq!(
            ContainerDirs::find(root.path(), "abc").unwrap().id,
            "abc123"
        );
        assert!(ContainerDirs::find(root.path(), "zzz").is_err());
        assert!(dirs.create(&[], None, "x", &[]).is_err(), "ids are unique");
        dirs.remove().unwrap();
        assert!(!dirs.dir.exists());
    }
}
