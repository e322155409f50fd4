//! `docker cp` through the API: `GET`, `HEAD` and `PUT /containers/{id}/archive?path=…`, with
//! chapter 03's symlink-safe tar code ([`ch03_overlayfs::archive`]).
//!
//! Which directory is the container's root:
//! - **running**: `/proc/PID/root` of its first process — the kernel's view of the container's
//!   own mount namespace, so what we read and write is what the container sees (its tmpfs
//!   mounts included);
//! - **created or stopped**: nothing is mounted, so the daemon mounts the container's overlay
//!   (the image's layers, its upper and work directories, chapter 03) on its `merged/`
//!   directory for the time of the call, then detaches it. It holds the engine's `starting`
//!   lock meanwhile, so the container cannot start on the same upper directory.
//!
//! Either way the path is resolved with `RESOLVE_IN_ROOT` below that directory: a symlink in
//! the container that points to `/` or to a host path points inside the container.
//!
//! The tar is never held whole: out, it is written to the connection as it is made (in
//! chunks, see `baleia_wire::body`); in, it is unpacked as it arrives.
//!
//! `GET /containers/{id}/export` (`docker export`) is the same tar of the whole root file
//! system, made from a read-only overlay of the container's own layers (see [`Engine::export`]).

use super::{ApiError, ApiResult, Engine, Found};
use ch03_overlayfs::archive::{self, PathStat};
use ch03_overlayfs::copy::ContainerRoot;
use ch03_overlayfs::ContainerDirs;
use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;

/// Go's `os.FileMode` bits, which Docker's stat header carries (not `st_mode`'s).
fn go_file_mode(mode: u32) -> u32 {
    let mut go = mode & 0o777;
    match mode & libc::S_IFMT {
        libc::S_IFDIR => go |= 1 << 31,
        libc::S_IFLNK => go |= 1 << 27,
        libc::S_IFIFO => go |= 1 << 25,
        libc::S_IFSOCK => go |= 1 << 24,
        libc::S_IFBLK => go |= 1 << 26,
        libc::S_IFCHR => go |= (1 << 26) | (1 << 21),
        _ => {}
    }
    if mode & libc::S_ISUID != 0 {
        go |= 1 << 23;
    }
    if mode & libc::S_ISGID != 0 {
        go |= 1 << 22;
    }
    if mode & libc::S_ISVTX != 0 {
        go |= 1 << 20;
    }
    go
}

/// `X-Docker-Container-Path-Stat`: the stat as JSON, base64 (standard alphabet).
pub fn stat_header(stat: &PathStat) -> String {
    use base64::Engine as _;
    let value = json!({
        "name": stat.name,
        "size": stat.size,
        "mode": go_file_mode(stat.mode),
        "mtime": crate::time::rfc3339_nanos(stat.mtime * 1_000_000_000),
        "linkTarget": stat.link_target,
    });
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

fn copy_error(found: &Found, path: &str, error: ch03_overlayfs::Error) -> ApiError {
    match &error {
        ch03_overlayfs::Error::Syscall(ch03_overlayfs::error::SyscallError {
            errno: nix::errno::Errno::ENOENT,
            ..
        }) => ApiError::not_found(format!(
            "Could not find the file {path} in container {}",
            found.record.name
        )),
        ch03_overlayfs::Error::Syscall(ch03_overlayfs::error::SyscallError {
            errno: nix::errno::Errno::ELOOP | nix::errno::Errno::ENOTDIR,
            ..
        })
        | ch03_overlayfs::Error::Invalid(_) => ApiError::bad_request(error.to_string()),
        _ => ApiError::internal(error),
    }
}

impl Engine {
    /// Run `work` on the container's root directory (see the module's doc for which one).
    fn with_root<T>(
        &self,
        found: &Found,
        work: impl FnOnce(&ContainerRoot) -> ApiResult<T>,
    ) -> ApiResult<T> {
        if found.running() && found.state.pid > 0 {
            let root = ContainerRoot::of_process(found.state.pid).map_err(ApiError::internal)?;
            return work(&root);
        }
        let _starting = self.starting.lock().unwrap_or_else(|e| e.into_inner());
        let dirs = ContainerDirs {
            id: found.id().to_string(),
            dir: found.dir.0.clone(),
        };
        let overlay = ch03_overlayfs::Overlay {
            lowers: dirs.lowers().map_err(ApiError::internal)?,
            upper: dirs.upper(),
            work: dirs.work(),
        };
        let merged = dirs.merged();
        std::fs::create_dir_all(&merged).map_err(ApiError::internal)?;
        overlay.mount(&merged, false).map_err(ApiError::internal)?;
        let result = ContainerRoot::at(&merged)
            .map_err(ApiError::internal)
            .and_then(|root| work(&root));
        nix::mount::umount2(&merged, nix::mount::MntFlags::MNT_DETACH).map_err(|errno| {
            ApiError::internal(format!("umount2 {}: {errno}", merged.display()))
        })?;
        result
    }

    /// `HEAD /containers/{id}/archive?path=`.
    pub fn archive_stat(&self, id: &str, path: &str) -> ApiResult<PathStat> {
        let found = self.find(id)?;
        self.with_root(&found, |root| {
            archive::stat(root, path).map_err(|e| copy_error(&found, path, e))
        })
    }

    /// `GET /containers/{id}/archive?path=`: the tar, written to `out` as it is made. (The
    /// handler sends the stat, [`Engine::archive_stat`], in the headers first.)
    pub fn archive_get(&self, id: &str, path: &str, out: &mut dyn Write) -> ApiResult<()> {
        let found = self.find(id)?;
        self.with_root(&found, |root| {
            archive::archive_out(root, path, out)
                .map(|_| ())
                .map_err(|e| copy_error(&found, path, e))
        })
    }

    /// `PUT /containers/{id}/archive?path=`: `path` must be a directory in the container; the
    /// tar (plain or gzip'd) is unpacked as it is read.
    pub fn archive_put(&self, id: &str, path: &str, tar: impl Read) -> ApiResult<()> {
        let found = self.find(id)?;
        if found.record.host_config.readonly_rootfs {
            return Err(ApiError::new(
                403,
                "container rootfs is marked read-only".to_string(),
            ));
        }
        let plain = ch04_images::unpack::plain_tar(std::io::BufReader::new(tar))
            .map_err(ApiError::internal)?;
        self.with_root(&found, |root| {
            archive::extract_in(root, path, plain)
                .map(|_| ())
                .map_err(|e| copy_error(&found, path, e))
        })
    }

    /// `GET /containers/{id}/export`: the container's root file system as a tar on `out`.
    ///
    /// Not `/proc/PID/root` of a running container: that holds its `/proc`, `/sys`, `/dev` and
    /// volumes, which are not its file system (Docker's export leaves them out too). Instead
    /// the container's layers are mounted once more, read-only: its upper directory on top of
    /// its image's layers, all as `lowerdir`s (overlayfs needs no upper or work directory for
    /// a read-only mount, so the container's own mount is not touched; read the kernel's
    /// `filesystems/overlayfs` documentation, "Multiple lower layers").
    ///
    /// The mount is made in a mount namespace of its own, on a thread of its own
    /// (`unshare(CLONE_NEWNS)`, see unshare(2)): it is never seen on the host, and it goes
    /// away with the thread even if the daemon is killed half-way. The tar comes back
    /// through a pipe.
    pub fn export(&self, id: &str, out: &mut dyn Write) -> ApiResult<()> {
        let found = self.find(id)?;
        let dirs = ContainerDirs {
            id: found.id().to_string(),
            dir: found.dir.0.clone(),
        };
        let mut layers = vec![dirs.upper()];
        layers.extend(dirs.lowers().map_err(ApiError::internal)?);
        // An empty directory to mount on (removed after; one a killed daemon left goes with
        // the container's directory).
        let random = ch03_overlayfs::dirs::random_id().map_err(ApiError::internal)?;
        let mountpoint = found.dir.0.join(format!("export-{random}"));
        std::fs::create_dir(&mountpoint)
            .map_err(|e| ApiError::internal(format!("mkdir {}: {e}", mountpoint.display())))?;
        let _remove = RemoveDirOnDrop(mountpoint.clone());
        let (mut from_thread, to_connection) = std::io::pipe().map_err(ApiError::internal)?;
        let maker = std::thread::spawn(move || {
            let mut to_connection = to_connection;
            export_in_own_namespace(&layers, &mountpoint, &mut to_connection)
        });
        let copied = std::io::copy(&mut from_thread, out);
        drop(from_thread); // a writer still going gets EPIPE and stops
        let made = maker
            .join()
            .unwrap_or_else(|_| Err(ApiError::internal("the export thread panicked")));
        made?;
        copied.map_err(ApiError::internal)?;
        Ok(())
    }
}

/// rmdir(2) of an empty mount point when it goes out of scope.
struct RemoveDirOnDrop(std::path::PathBuf);

impl Drop for RemoveDirOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// On the calling thread (which then ends): a mount namespace of its own, the read-only
/// overlay of `layers` at `target`, and its tar on `out`.
fn export_in_own_namespace(
    layers: &[std::path::PathBuf],
    target: &Path,
    out: &mut dyn Write,
) -> ApiResult<()> {
    use nix::sched::{unshare, CloneFlags};
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_FS)
        .map_err(|errno| ApiError::internal(format!("unshare(CLONE_NEWNS): {errno}")))?;
    // The copy of the host's mounts is still *shared* with the host (mount_namespaces(7)):
    // made private first (chapter 01's step), or the overlay below would appear on the host.
    ch01_namespaces::inside::make_mounts_private().map_err(ApiError::internal)?;
    let lowers: Vec<String> = layers.iter().map(|l| l.display().to_string()).collect();
    let options = format!("lowerdir={}", lowers.join(":"));
    ch03_overlayfs::mounts::mount_fs(
        "overlay",
        target,
        "overlay",
        nix::mount::MsFlags::MS_RDONLY,
        Some(&options),
    )
    .map_err(ApiError::internal)?;
    let root = ContainerRoot::at(target).map_err(ApiError::internal)?;
    archive::archive_out(&root, "/", out)
        .map(|_| ())
        .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_modes() {
        assert_eq!(
            super::go_file_mode(libc::S_IFDIR | 0o755),
            (1 << 31) | 0o755
        );
        assert_eq!(super::go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(
            super::go_file_mode(libc::S_IFLNK | 0o777),
            (1 << 27) | 0o777
        );
    }
}
