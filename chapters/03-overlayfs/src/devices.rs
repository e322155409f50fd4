//! `/dev`: a small tmpfs with only the devices a process expects, never the host's whole /dev
//! (which would hand the container the host's disks).

use crate::error::{Error, Result};
use crate::mounts::mount_fs;
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::mount::MsFlags;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::path::Path;

/// The character devices every container gets: name, major, minor (read `devices.txt` in the
/// kernel's documentation: 1 is "memory devices", 5/0 is the controlling terminal).
pub const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Symlinks a program expects in /dev: the standard streams, and the pty multiplexer of the
/// container's own devpts instance.
const LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

/// Docker's size of a container's /dev/shm: 64 MiB (`--shm-size` changes it).
pub const DEFAULT_SHM_SIZE: u64 = 64 << 20;

/// Build the container's /dev at `dev` (inside the new root, before pivot_root).
/// `own_ipc`: the container has its own IPC namespace, so it gets its own mqueue file system.
/// `shm_size`: the bytes /dev/shm may hold ([`DEFAULT_SHM_SIZE`] unless told otherwise).
pub fn populate(dev: &Path, own_ipc: bool, shm_size: u64) -> Result<()> {
    mount_fs(
        "tmpfs",
        dev,
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    let user_ns = in_user_namespace();
    for (name, major, minor) in DEVICES {
        let path = dev.join(name);
        if user_ns {
            bind_host_device(&Path::new("/dev").join(name), &path)?;
            continue;
        }
        explain!("mknod({:?}, S_IFCHR|0666, {major}:{minor})", path);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(major, minor),
        )
        .map_err(|errno| Error::syscall("mknod", path.display().to_string(), errno))?;
        // mknod's mode is filtered by the umask; devices must really be 0666.
        nix::sys::stat::fchmodat(
            None,
            &path,
            Mode::from_bits_truncate(0o666),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|errno| Error::syscall("chmod", path.display().to_string(), errno))?;
    }
    for (name, target) in LINKS {
        let path = dev.join(name);
        std::os::unix::fs::symlink(target, &path).map_err(Error::file("symlink", &path))?;
    }
    for dir in ["pts", "shm", "mqueue"] {
        let path = dev.join(dir);
        std::fs::create_dir(&path).map_err(Error::file("create", &path))?;
    }
    // A new devpts instance: the container's ptys are its own, not numbered among the host's.
    // Terminals belong to the tty group (gid 5), as Docker and runc make them, when the
    // container has such a group (a user namespace may map only its own user).
    let options = if gid_is_mapped(5) {
        "newinstance,ptmxmode=0666,mode=0620,gid=5"
    } else {
        "newinstance,ptmxmode=0666,mode=0620"
    };
    mount_fs(
        "devpts",
        &dev.join("pts"),
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some(options),
    )?;
    mount_fs(
        "shm",
        &dev.join("shm"),
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(&format!("mode=1777,size={shm_size}")),
    )?;
    if own_ipc {
        // mqueue shows the message queues of the mounter's IPC namespace.
        mount_fs(
            "mqueue",
            &dev.join("mqueue"),
            "mqueue",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        )?;
    } else {
        explain!("no IPC namespace of its own: /dev/mqueue stays empty rather than show the host's queues");
    }
    Ok(())
}

/// True inside a user namespace other than the host's: its root may not `mknod` a device
/// (the kernel refuses: a device node would reach the host's hardware), so the runtime
/// bind-mounts the host's nodes instead, as runc does. The host's namespace maps every id:
/// its /proc/self/uid_map reads `0 0 4294967295` (read user_namespaces(7)).
pub fn in_user_namespace() -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let fields: Vec<&str> = map.split_whitespace().collect();
    fields != ["0", "0", "4294967295"]
}

/// Whether group `gid` exists in our user namespace (its /proc/self/gid_map maps it).
fn gid_is_mapped(gid: u64) -> bool {
    let map = std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
    map.lines().any(|line| {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        matches!(fields[..], [inside, _, count] if gid >= inside && gid < inside + count)
    })
}

/// In a user namespace: an empty file at `path`, the host's node `host` bind-mounted on it.
fn bind_host_device(host: &Path, path: &Path) -> Result<()> {
    std::fs::File::create(path).map_err(Error::file("create", path))?;
    crate::mounts::bind(host, path, MsFlags::empty())
}

/// One more device node in the container's /dev (an OCI spec's `linux.devices`: `docker run
/// --device`, `--privileged`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    /// Absolute, under /dev, as the container sees it.
    pub path: std::path::PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl DeviceNode {
    /// Make it under `root` (the new root, after [`populate`] made its /dev).
    pub fn make_under(&self, root: &Path) -> Result<()> {
        let relative = self.path.strip_prefix("/dev").map_err(|_| {
            Error::Invalid(format!(
                "device {}: only paths under /dev",
                self.path.display()
            ))
        })?;
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::Invalid(format!(
                "device {}: a plain path under /dev",
                self.path.display()
            )));
        }
        let path = root.join("dev").join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(Error::file("create", parent))?;
        }
        let _ = std::fs::remove_file(&path); // replaces one of ours (--device /dev/null)
        if in_user_namespace() {
            return bind_host_device(&self.path, &path);
        }
        explain!(
            "mknod({:?}, {:?}|{:o}, {}:{})",
            path,
            self.kind,
            self.mode,
            self.major,
            self.minor
        );
        mknod(
            &path,
            self.kind,
            Mode::from_bits_truncate(self.mode),
            makedev(self.major, self.minor),
        )
        .map_err(|errno| Error::syscall("mknod", path.display().to_string(), errno))?;
        nix::sys::stat::fchmodat(
            None,
            &path,
            Mode::from_bits_truncate(self.mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(|errno| Error::syscall("chmod", path.display().to_string(), errno))?;
        nix::unistd::chown(
            &path,
            Some(nix::unistd::Uid::from_raw(self.uid)),
            Some(nix::unistd::Gid::from_raw(self.gid)),
        )
        .map_err(|errno| Error::syscall("chown", path.display().to_string(), errno))
    }
}
