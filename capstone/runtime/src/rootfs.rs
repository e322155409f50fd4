//! The spec's `root`, `mounts`, `linux.maskedPaths` and `linux.readonlyPaths`, as chapter
//! 03's [`RootFs`].
//!
//! Two kinds of bundle:
//! - baleia's own (a `lowers` file next to `config.json`, `root.path` = `BUNDLE/merged`): the
//!   image's layers are mounted as an overlay at `merged/` (containerd does the same: the
//!   rootfs mounts travel next to the spec, not inside it);
//! - any other (runc's `rootfs/`, podman's storage): `root.path` is a directory that already
//!   holds the files; it is bind-mounted onto itself, to be a mount point for `pivot_root`.
//!
//! Mounts: /proc, /sys, /dev and its /dev/pts, /dev/shm, /dev/mqueue are chapter 03's own
//! (the spec must list them with their usual types, as runc's and podman's do); tmpfs and bind
//! mounts are made as the spec says; anything else is refused. `/sys/fs/cgroup` shows the
//! container its own cgroup, read-only, as Docker does on v1 ([`cgroup_view`]: a tmpfs with
//! one bind mount per hierarchy; on v2 the one directory). `linux.devices` are made with
//! `mknod` in the container's /dev.

use anyhow::{bail, Context, Result};
use ch02_cgroups::ContainerCgroup;
use ch03_overlayfs::binds::BindMount;
use ch03_overlayfs::cli::Tmpfs;
use ch03_overlayfs::devices::DeviceNode;
use ch03_overlayfs::{ContainerDirs, RootFs};
use nix::mount::MsFlags;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{Mount, Spec};
use std::path::{Path, PathBuf};

/// Chapter 03's own mounts, and the type the spec must give each.
const BUILTIN: [(&str, &[&str]); 7] = [
    ("/proc", &["proc"]),
    ("/sys", &["sysfs"]),
    ("/dev", &["tmpfs"]),
    ("/dev/pts", &["devpts"]),
    ("/dev/shm", &["tmpfs", "shm"]),
    ("/dev/mqueue", &["mqueue"]),
    ("/sys/fs/cgroup", &["cgroup", "cgroup2"]),
];

/// The root file system the spec describes, for the bundle in `bundle`, whose cgroup is
/// `cgroup` (shown at /sys/fs/cgroup when the spec mounts it).
pub fn rootfs_of(
    spec: &Spec,
    bundle: &Path,
    own_ipc: bool,
    cgroup: &ContainerCgroup,
) -> Result<RootFs> {
    let root = spec.root().as_ref().context("the spec has no root")?;
    let path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let read_only = root.readonly().unwrap_or(false);
    let dirs = ContainerDirs {
        id: bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir: bundle.to_path_buf(),
    };
    let image_bundle = bundle.join("lowers").is_file() && path == dirs.merged();
    let mut rootfs = if image_bundle {
        RootFs::for_container(&dirs, &dirs.lowers()?, read_only, own_ipc)
    } else {
        if !path.is_dir() {
            bail!("root.path {} is not a directory", path.display());
        }
        // A symlink there would point the kernel's own file systems anywhere (resolved on
        // the host, before pivot_root): refused, in runc's words.
        for dir in ["proc", "sys"] {
            let at = path.join(dir);
            if std::fs::symlink_metadata(&at).is_ok_and(|m| !m.is_dir()) {
                bail!(
                    "/{dir} must be mounted on ordinary directory: {} is not one",
                    at.display()
                );
            }
        }
        RootFs {
            overlay: None,
            merged: path,
            etc_files: None,
            read_only,
            own_ipc,
            shm_size: ch03_overlayfs::devices::DEFAULT_SHM_SIZE,
            tmpfs: Vec::new(),
            binds: Vec::new(),
            devices: Vec::new(),
            masked: Vec::new(),
            read_only_paths: Vec::new(),
            read_only_mounts: Vec::new(),
            recursively_read_only: Vec::new(),
        }
    };
    for mount in spec.mounts().iter().flatten() {
        let dest = mount.destination().to_string_lossy().into_owned();
        let typ = mount.typ().clone().unwrap_or_default();
        let options = mount.options().clone().unwrap_or_default();
        let is_bind = typ == "bind" || options.iter().any(|o| o == "bind" || o == "rbind");
        // A bind over one of ours (podman's own /dev/shm) goes on top of it, below.
        if let Some((_, types)) = BUILTIN.iter().find(|(d, _)| *d == dest && !is_bind) {
            if !types.contains(&typ.as_str()) {
                bail!("mounts: {typ} at {dest} is not supported (this runtime mounts {types:?} there)");
            }
            let read_only = options.iter().any(|o| o == "ro");
            match dest.as_str() {
                "/sys/fs/cgroup" => cgroup_view(&mut rootfs, cgroup, read_only)?,
                // Made read-only last, once /dev/pts and the rest are mounted in it.
                "/dev" if read_only => rootfs.read_only_mounts.push(PathBuf::from(&dest)),
                // `size=` (the engine's `--shm-size`); the other options are chapter 03's.
                "/dev/shm" => {
                    if let Some(size) = options.iter().find_map(|o| o.strip_prefix("size=")) {
                        rootfs.shm_size = crate::oci::update::parse_bytes(size)
                            .ok()
                            .and_then(|bytes| u64::try_from(bytes).ok())
                            .filter(|bytes| *bytes > 0)
                            .with_context(|| format!("mounts: /dev/shm size={size}: expected a size in bytes, or with k, m or g"))?;
                    }
                }
                _ => {}
            }
            continue;
        }
        if image_bundle && is_engine_etc_file(mount, &dest, bundle) {
            continue; // chapter 03 binds the engine's /etc files itself
        }
        if typ == "tmpfs" {
            rootfs.tmpfs.push(tmpfs_of(&dest, &options)?);
            if options.iter().any(|o| o == "ro") {
                rootfs.read_only_mounts.push(PathBuf::from(&dest));
            }
        } else if is_bind {
            rootfs.binds.push(bind_of(mount, &dest, &options, bundle)?);
            if options.iter().any(|o| o == "rro") {
                rootfs.recursively_read_only.push(PathBuf::from(&dest));
            }
        } else {
            bail!("mounts: a mount of type {typ:?} at {dest} is not supported by this runtime");
        }
    }
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    rootfs.masked = linux.masked_paths().clone().unwrap_or_default();
    rootfs.read_only_paths = linux.readonly_paths().clone().unwrap_or_default();
    for device in linux.devices().iter().flatten() {
        use oci_spec::runtime::LinuxDeviceType;
        let kind = match device.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => bail!(
                "linux.devices {}: type a is not a node",
                device.path().display()
            ),
        };
        rootfs.devices.push(DeviceNode {
            path: device.path().clone(),
            kind,
            major: u64::try_from(device.major()).context("linux.devices major")?,
            minor: u64::try_from(device.minor()).context("linux.devices minor")?,
            mode: device.file_mode().unwrap_or(0o666),
            uid: device.uid().unwrap_or(0),
            gid: device.gid().unwrap_or(0),
        });
    }
    Ok(rootfs)
}

/// baleia's engine binds `BUNDLE/hosts` (and hostname, resolv.conf) over `/etc/hosts`.
fn is_engine_etc_file(mount: &Mount, dest: &str, bundle: &Path) -> bool {
    ["hostname", "hosts", "resolv.conf"]
        .iter()
        .any(|f| dest == format!("/etc/{f}") && mount.source().as_deref() == Some(&bundle.join(f)))
}

fn tmpfs_of(dest: &str, options: &[String]) -> Result<Tmpfs> {
    // The data options (size=, mode=...) go to chapter 03; it adds nosuid and nodev.
    let mut data = Vec::new();
    for option in options {
        match option.as_str() {
            // ro: a remount once the tmpfs is there (see `read_only_mounts`).
            "nosuid" | "nodev" | "rw" | "ro" | "noexec" | "strictatime" | "relatime"
            | "private" | "rprivate" => {}
            o if o.contains('=') => data.push(o.to_string()),
            // podman's: copy the image's files into the tmpfs first (it only does this
            // when the directory had files; refusing would break plain `--tmpfs /tmp`).
            "tmpcopyup" | "notmpcopyup" => {}
            other => bail!("mounts: tmpfs option {other:?} at {dest} is not supported"),
        }
    }
    Ok(Tmpfs::parse(&format!("{dest}:{}", data.join(",")))?)
}

fn bind_of(mount: &Mount, dest: &str, options: &[String], bundle: &Path) -> Result<BindMount> {
    let source = mount
        .source()
        .clone()
        .with_context(|| format!("mounts: the bind mount at {dest} has no source"))?;
    let source: PathBuf = if source.is_absolute() {
        source
    } else {
        bundle.join(source)
    };
    let mut bind = BindMount {
        source,
        destination: PathBuf::from(dest),
        recursive: false,
        flags: MsFlags::empty(),
    };
    for option in options {
        match option.as_str() {
            "bind" => {}
            "rbind" => bind.recursive = true,
            "ro" => bind.flags |= MsFlags::MS_RDONLY,
            "nosuid" => bind.flags |= MsFlags::MS_NOSUID,
            "nodev" => bind.flags |= MsFlags::MS_NODEV,
            "noexec" => bind.flags |= MsFlags::MS_NOEXEC,
            // Every mount in the container is private already (chapter 01 made them so).
            "rw" | "suid" | "dev" | "exec" | "private" | "rprivate" => {}
            // Read-only with every mount below it: after the bind (`recursively_read_only`).
            "rro" => {}
            other => bail!("mounts: bind option {other:?} at {dest} is not supported"),
        }
    }
    Ok(bind)
}

/// `/sys/fs/cgroup` inside: the container's own cgroup directories, read-only as the spec
/// usually asks (it may read its limits and usage, as `free` and the JVM do, but not change
/// them), read-write if it does not (a container that manages sub-cgroups of its own). On v1,
/// a tmpfs holding one bind mount per hierarchy (`/sys/fs/cgroup/memory` is the host's
/// `/sys/fs/cgroup/memory/PARENT/NAME`), chapter 02's and any other hierarchy the container
/// has a directory in already (the OCI runtime's freezer, cpuset...); on v2, the one
/// directory itself.
fn cgroup_view(rootfs: &mut RootFs, cgroup: &ContainerCgroup, read_only: bool) -> Result<()> {
    let top = Path::new("/sys/fs/cgroup");
    let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if read_only {
        flags |= MsFlags::MS_RDONLY;
    }
    let mut dirs: Vec<PathBuf> = cgroup.dirs().iter().map(|d| d.path.clone()).collect();
    if !cgroup.mode().is_v2() {
        for hierarchy in other_v1_hierarchies(top)? {
            let dir = hierarchy.join(cgroup.relative_path());
            if dir.is_dir() && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    for path in dirs {
        let hierarchy = path
            .ancestors()
            .nth(cgroup.relative_path().components().count())
            .context("a cgroup directory outside its hierarchy")?;
        let destination = match hierarchy.strip_prefix(top) {
            // v2's one tree, wherever it starts (an ordinary user's is its delegated subtree).
            _ if cgroup.mode().is_v2() => top.to_path_buf(),
            Ok(name) if name.as_os_str().is_empty() => top.to_path_buf(),
            Ok(name) => top.join(name),
            Err(_) => bail!(
                "cgroup hierarchy {} is not under /sys/fs/cgroup",
                hierarchy.display()
            ),
        };
        if destination != top && rootfs.tmpfs.iter().all(|t| t.dir != top) {
            rootfs.tmpfs.push(Tmpfs::parse("/sys/fs/cgroup:mode=755")?);
            if read_only {
                rootfs.read_only_mounts.push(top.to_path_buf());
            }
        }
        rootfs.binds.push(BindMount {
            source: path.clone(),
            destination,
            recursive: false,
            flags,
        });
    }
    Ok(())
}

/// The cgroup v1 hierarchies mounted under `top` (/sys/fs/cgroup/NAME), from
/// /proc/self/mountinfo: a container may have a directory in more than chapter 02's.
fn other_v1_hierarchies(top: &Path) -> Result<Vec<PathBuf>> {
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    Ok(mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mount = PathBuf::from(left.split(' ').nth(4)?);
            (right.starts_with("cgroup ") && mount.parent() == Some(top)).then_some(mount)
        })
        .collect())
}

/// A new user namespace's root is nobody on the host: it may not even reach a bind mount's
/// source in a directory closed to others (a 0700 directory of the host's root). So the
/// container's process opens every source with `O_PATH` first, while it still has the
/// host's ids (chapter 01's early child step), and mounts `/proc/self/fd/N` later: the kernel
/// follows such a link to the very file, with no path walk (read open(2), "O_PATH", and
/// proc(5), "/proc/pid/fd"). runc opens them the same way. Without a new user namespace
/// nothing is done.
#[derive(Clone)]
pub struct BindSources {
    wanted: bool,
    sources: Vec<PathBuf>,
    /// The `/proc/self/fd/N` paths, filled in by [`open`](Self::open) in the process.
    opened: std::rc::Rc<std::cell::RefCell<Vec<PathBuf>>>,
}

impl BindSources {
    pub fn new(user_namespace: bool, rootfs: &RootFs) -> BindSources {
        BindSources {
            wanted: user_namespace,
            sources: rootfs.binds.iter().map(|b| b.source.clone()).collect(),
            opened: Default::default(),
        }
    }

    /// In the container's process, before it becomes root of its user namespace. The
    /// descriptors stay open until `execve` closes them (chapter 01 marks them so).
    pub fn open(&mut self) -> Result<()> {
        if !self.wanted {
            return Ok(());
        }
        let mut opened = self.opened.borrow_mut();
        for source in &self.sources {
            let fd = nix::fcntl::open(
                source,
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .with_context(|| format!("open {} (O_PATH)", source.display()))?;
            opened.push(PathBuf::from(format!("/proc/self/fd/{fd}")));
        }
        Ok(())
    }

    /// Point the bind mounts at the opened descriptors.
    pub fn use_in(&self, rootfs: &mut RootFs) {
        for (bind, path) in rootfs.binds.iter_mut().zip(self.opened.borrow().iter()) {
            bind.source = path.clone();
        }
    }
}
