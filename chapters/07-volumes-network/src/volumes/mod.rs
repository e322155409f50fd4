//! Volumes: content that lives outside the container's write layer.
//!
//! - [`spec`] parses `-v`; [`store`] keeps named volumes under the state root;
//! - [`destination`] resolves where a mount lands, through the image's symlinks, refusing
//!   one that would leave the root;
//! - [`newmount`] makes the mounts with `open_tree`/`mount_setattr`/`move_mount`;
//! - [`copy`] pre-fills a new volume with the image's content.
//!
//! [`prepare`] is the entry point (also for the capstone): it validates every mount, creates
//! the volumes, takes a detached copy of every source on the host, and returns a [`Prepared`]
//! whose [`into_child_step`](Prepared::into_child_step) attaches them inside the container after
//! `pivot_root`.

pub mod copy;
pub mod destination;
pub mod newmount;
pub mod spec;
pub mod store;

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::{explain, StepError};
use ch03_overlayfs::ContainerDirs;
use destination::{resolve, LayeredView};
use newmount::DetachedMount;
use spec::{Source, VolumeSpec};
use std::path::{Path, PathBuf};
use store::VolumeStore;

/// One mount, ready to attach.
#[derive(Debug)]
pub struct PreparedMount {
    /// Absolute, inside the container, symlinks resolved.
    pub destination: PathBuf,
    pub read_only: bool,
    /// A volume (not a host path): filled from the image if it is empty.
    pub prefill: bool,
    /// One of the engine's /etc files, put back on top of a volume that covers /etc: its mount
    /// point is created inside the volume if missing (best effort: not on a read-only volume).
    pub engine_file: bool,
    detached: DetachedMount,
}

/// The mounts of one container, and the volumes it uses.
#[derive(Debug, Default)]
pub struct Prepared {
    pub mounts: Vec<PreparedMount>,
    /// Every volume the container uses (named and anonymous).
    pub volumes: Vec<String>,
    /// The anonymous ones: removed with the container.
    pub anonymous: Vec<String>,
}

/// Validate and prepare the mounts of the container in `dirs`: the user's `-v`s, plus an
/// anonymous volume for each of the image's `VOLUME`s that no `-v` covers. Creates the mount
/// points in the container's init layer (so they exist even on a `--read-only` root and are not
/// part of its changes) and records the volumes as in use by the container.
pub fn prepare(
    state_root: &Path,
    dirs: &ContainerDirs,
    image_volumes: &[String],
    specs: &[VolumeSpec],
) -> Result<Prepared> {
    let mut specs = specs.to_vec();
    for dir in image_volumes {
        let Some(destination) = spec::clean_absolute(Path::new(dir)) else {
            continue;
        };
        if !specs.iter().any(|s| s.destination == destination) {
            specs.push(VolumeSpec {
                source: Source::Anonymous,
                destination,
                read_only: false,
            });
        }
    }
    let lowers = dirs.lowers()?;
    let view = LayeredView { layers: &lowers };
    // First every check, with no side effect: a bad `-v` must not leave volumes behind.
    let mut checked: Vec<(&VolumeSpec, PathBuf, bool)> = Vec::new();
    for spec in &specs {
        let destination = resolve(&view, &spec.destination)?;
        if destination != spec.destination {
            explain!(
                "mount destination {:?} resolves to {:?} through the image's symlinks",
                spec.destination,
                destination
            );
        }
        if checked.iter().any(|(_, d, _)| *d == destination) {
            return Err(Error::Invalid(format!(
                "two mounts on {}",
                destination.display()
            )));
        }
        let is_dir = match &spec.source {
            Source::Host(path) => std::fs::metadata(path)
                .map_err(|e| {
                    Error::Invalid(format!(
                        "-v {}:{}: the host path {} cannot be used: {e}",
                        path.display(),
                        spec.destination.display(),
                        path.display()
                    ))
                })?
                .is_dir(),
            Source::Named(_) | Source::Anonymous => true,
        };
        checked.push((spec, destination, is_dir));
    }
    let store = VolumeStore::new(state_root);
    let _lock = store.lock()?;
    let mut prepared = Prepared::default();
    let result = attach_sources(&store, dirs, checked, &mut prepared);
    if let Err(error) = result {
        // Undo what this call made for this container alone.
        for name in &prepared.anonymous {
            let _ = store.remove_unchecked(name);
        }
        return Err(error);
    }
    // Parents before children: `-v a:/data -v b:/data/sub` puts b inside a, not under it.
    prepared
        .mounts
        .sort_by_key(|m| m.destination.components().count());
    Ok(prepared)
}

/// Create the volumes, record them as used by the container, make the mount points and take a
/// detached copy of every source (and of the engine's /etc files a volume would hide).
fn attach_sources(
    store: &VolumeStore,
    dirs: &ContainerDirs,
    checked: Vec<(&VolumeSpec, PathBuf, bool)>,
    prepared: &mut Prepared,
) -> Result<()> {
    let mut planned = Vec::new();
    for (spec, destination, is_dir) in checked {
        let (source, prefill) = match &spec.source {
            Source::Host(path) => (path.clone(), false),
            Source::Named(name) => {
                let volume = store.create(name, false)?;
                prepared.volumes.push(name.clone());
                (volume.mountpoint, true)
            }
            Source::Anonymous => {
                let name = ch03_overlayfs::dirs::random_id()?;
                prepared.anonymous.push(name.clone());
                let volume = store.create(&name, true)?;
                prepared.volumes.push(name);
                (volume.mountpoint, true)
            }
        };
        planned.push((destination, source, is_dir, spec.read_only, prefill));
    }
    store::record_uses(&dirs.dir, &prepared.volumes)?;
    for (destination, source, is_dir, read_only, prefill) in planned {
        make_mount_point(&dirs.init(), &destination, is_dir)?;
        prepared.mounts.push(PreparedMount {
            detached: DetachedMount::clone_tree(&source, false)?,
            destination,
            read_only,
            prefill,
            engine_file: false,
        });
    }
    // Chapter 03 bind-mounted the engine's hostname, hosts and resolv.conf over /etc before
    // pivot_root; a volume on /etc (or above) would hide them, and with them name resolution.
    for file in ["hostname", "hosts", "resolv.conf"] {
        let target = Path::new("/etc").join(file);
        if prepared
            .mounts
            .iter()
            .any(|m| target.starts_with(&m.destination))
        {
            prepared.mounts.push(PreparedMount {
                detached: DetachedMount::clone_tree(&dirs.dir.join(file), false)?,
                destination: target,
                read_only: false,
                prefill: false,
                engine_file: true,
            });
        }
    }
    Ok(())
}

/// A directory (or an empty file, for a file bind) in the init layer, and the directories
/// above it. The init layer is the engine's own directory: it holds no symlinks.
fn make_mount_point(init: &Path, destination: &Path, is_dir: bool) -> Result<()> {
    let path = init.join(destination.strip_prefix("/").unwrap_or(destination));
    let dir = if is_dir {
        path.as_path()
    } else {
        path.parent().unwrap_or(init)
    };
    std::fs::create_dir_all(dir).map_err(Error::file("create", dir))?;
    if !is_dir && !path.exists() {
        std::fs::write(&path, "").map_err(Error::file("create", &path))?;
    }
    Ok(())
}

impl Prepared {
    /// Attach every mount: a child-side step for after `pivot_root` (paths are the
    /// container's), before the image's `User` takes effect.
    pub fn attach_inside(&self) -> Result<()> {
        for mount in &self.mounts {
            let target = &mount.destination;
            let volume = mount.detached.proc_path();
            if mount.prefill && target.is_dir() && copy::is_empty_dir(&volume)? {
                explain!("copy the image's {:?} into the new, empty volume", target);
                copy::copy_tree(target, &volume)?;
            }
            if mount.engine_file && !target.exists() && std::fs::write(target, "").is_err() {
                explain!(
                    "cannot create {target:?} in a read-only volume: left as the volume has it"
                );
                continue;
            }
            if mount.read_only {
                mount.detached.make_read_only()?;
            }
            mount.detached.attach(target)?;
        }
        Ok(())
    }

    /// The child-side step for chapter 01's `Container::child_step`.
    pub fn into_child_step(self) -> impl FnMut() -> std::result::Result<(), StepError> {
        move || self.attach_inside().map_err(Into::into)
    }
}

/// After the container is gone: remove its anonymous volumes (`docker run --rm` does), unless
/// the container itself was kept.
pub fn release(state_root: &Path, anonymous: &[String], container_kept: bool) -> Result<()> {
    if container_kept {
        return Ok(());
    }
    let store = VolumeStore::new(state_root);
    let _lock = store.lock()?;
    for name in anonymous {
        store.remove(name)?;
    }
    Ok(())
}
