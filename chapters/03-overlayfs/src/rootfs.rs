//! The child-side step that gives the container its own root file system.
//!
//! It runs in the container's first process, inside its new mount namespace (already made
//! private by chapter 01) and before the command starts. Every mount is made under the new
//! root *before* `pivot_root`, while the host's files (the device nodes, the engine's
//! /etc files) can still be reached; afterwards, only the container's tree is left.

use crate::binds::BindMount;
use crate::cli::Tmpfs;
use crate::devices;
use crate::dirs::ContainerDirs;
use crate::error::Result;
use crate::masked;
use crate::mounts::{bind, mount_fs, remount_read_only};
use crate::overlay::Overlay;
use crate::pivot::pivot_into;
use ch01_namespaces::common::Failure;
use nix::mount::MsFlags;
use std::path::PathBuf;

/// Everything needed to set up one container's root.
#[derive(Debug, Clone)]
pub struct RootFs {
    /// The overlay mounted at `merged`; `None`: `merged` is a plain directory (an OCI
    /// bundle's `rootfs/`, as runc takes it), bind-mounted onto itself to be a mount point.
    pub overlay: Option<Overlay>,
    /// Where the overlay is mounted; becomes `/`.
    pub merged: PathBuf,
    /// The directory holding the engine's `hostname`, `hosts` and `resolv.conf` (`None`:
    /// the caller brings its own, as [`binds`](Self::binds)).
    pub etc_files: Option<PathBuf>,
    /// Mount the root read-only (`--read-only`).
    pub read_only: bool,
    /// The container has its own IPC namespace (then it gets its own /dev/mqueue).
    pub own_ipc: bool,
    /// The size of /dev/shm, in bytes (a tmpfs: `size=` in tmpfs(5)).
    pub shm_size: u64,
    /// Directories (absolute, as the container sees them) that get an empty tmpfs.
    pub tmpfs: Vec<Tmpfs>,
    /// Host paths bind-mounted inside, after the tmpfs mounts.
    pub binds: Vec<BindMount>,
    /// Device nodes beyond [`devices::DEVICES`], made in /dev.
    pub devices: Vec<devices::DeviceNode>,
    /// Paths hidden, and paths made read-only (Docker's lists of [`masked`] by default).
    pub masked: Vec<String>,
    pub read_only_paths: Vec<String>,
    /// Mount points (as the container sees them: `/dev`, a tmpfs) made read-only once
    /// everything under them is mounted: a read-only /dev could not get its /dev/pts.
    pub read_only_mounts: Vec<PathBuf>,
    /// Mount points made read-only with every mount below them (an OCI spec's `rro`).
    pub recursively_read_only: Vec<PathBuf>,
}

impl RootFs {
    /// The root of the container in `dirs`, on top of the image directories `image` (top
    /// first). The init layer sits between the image and the write layer.
    pub fn for_container(
        dirs: &ContainerDirs,
        image: &[PathBuf],
        read_only: bool,
        own_ipc: bool,
    ) -> Self {
        let mut lowers = vec![dirs.init()];
        lowers.extend(image.iter().cloned());
        RootFs {
            overlay: Some(Overlay {
                lowers,
                upper: dirs.upper(),
                work: dirs.work(),
            }),
            merged: dirs.merged(),
            etc_files: Some(dirs.dir.clone()),
            read_only,
            own_ipc,
            shm_size: devices::DEFAULT_SHM_SIZE,
            tmpfs: Vec::new(),
            binds: Vec::new(),
            devices: Vec::new(),
            masked: masked::MASKED.iter().map(|p| p.to_string()).collect(),
            read_only_paths: masked::READ_ONLY.iter().map(|p| p.to_string()).collect(),
            read_only_mounts: Vec::new(),
            recursively_read_only: Vec::new(),
        }
    }

    /// Mount everything and switch into it. Call from a child-side step.
    pub fn enter(&self) -> Result<()> {
        let root = &self.merged;
        match &self.overlay {
            Some(overlay) => overlay.mount(root, self.read_only)?,
            // Made read-only at the end, once the mount points below exist.
            None => {
                bind(root, root, MsFlags::MS_REC)?;
                // No init layer here: make the mount points a bare rootfs may lack (in the
                // bundle's directory, as runc does).
                for dir in ["proc", "sys", "dev"] {
                    let path = root.join(dir);
                    if std::fs::symlink_metadata(&path).is_err() {
                        std::fs::create_dir(&path).map_err(crate::Error::file("create", &path))?;
                    }
                }
            }
        }
        // procfs shows the PID namespace of its mounter: ours.
        mount_fs(
            "proc",
            &root.join("proc"),
            "proc",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        )?;
        mount_sys(&root.join("sys"))?;
        devices::populate(&root.join("dev"), self.own_ipc, self.shm_size)?;
        for device in &self.devices {
            device.make_under(root)?;
        }
        for tmpfs in &self.tmpfs {
            // Inside the root even through the image's symlinks; made if missing.
            let target = crate::binds::resolve_in_root(root, &tmpfs.dir)?;
            if !target.exists() {
                std::fs::create_dir_all(&target).map_err(crate::Error::file("create", &target))?;
            }
            mount_fs(
                "tmpfs",
                &target,
                "tmpfs",
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(&tmpfs.options),
            )?;
        }
        // The engine owns these three files; bind mounts keep them out of the write layer
        // (and writable even on a read-only root, as in Docker).
        if let Some(etc_files) = &self.etc_files {
            for file in ["hostname", "hosts", "resolv.conf"] {
                bind(
                    &etc_files.join(file),
                    &root.join("etc").join(file),
                    MsFlags::empty(),
                )?;
            }
        }
        for mount in &self.binds {
            mount.mount_under(root)?;
        }
        masked::apply(root, &self.masked, &self.read_only_paths)?;
        for mount in &self.read_only_mounts {
            let target = crate::binds::resolve_in_root(root, mount)?;
            crate::mounts::remount_read_only(&target, crate::mounts::kept_flags(&target)?)?;
        }
        for mount in &self.recursively_read_only {
            let target = crate::binds::resolve_in_root(root, mount)?;
            crate::mounts::make_read_only_recursively(&target)?;
        }
        if self.read_only && self.overlay.is_none() {
            remount_read_only(root, MsFlags::empty())?;
        }
        pivot_into(root)
    }
}

/// A fresh, read-only sysfs at `target`. The kernel lets a user namespace's root mount sysfs
/// only if that namespace also owns the network namespace (sysfs shows its interfaces): a
/// container in a user namespace that shares the host's network gets the host's /sys bound
/// instead, read-only, as runc does for rootless containers.
fn mount_sys(target: &std::path::Path) -> Result<()> {
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    match mount_fs("sysfs", target, "sysfs", flags, None) {
        Err(crate::Error::Syscall(error))
            if error.errno == nix::errno::Errno::EPERM && devices::in_user_namespace() =>
        {
            bind(std::path::Path::new("/sys"), target, MsFlags::MS_REC)?;
            remount_read_only(target, crate::mounts::kept_flags(target)?)
        }
        other => other,
    }
}
