//! The command-line pieces of the chapter binary, public so that later chapters can offer
//! "everything chapter 03 does" by flattening [`FsArgs`].

use crate::dirs::{random_id, ContainerDirs};
use crate::error::{Error, Result};
use crate::rootfs::RootFs;
use ch01_namespaces::cli::RunArgs;
use ch01_namespaces::common::Failure;
use ch01_namespaces::{explain, Container};
use ch02_cgroups::cli::{run_limited, CgroupArgs, Finished};
use std::path::PathBuf;

/// Where state lives unless `--root` or `BALEIA_ROOT` says otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/baleia";

/// The state root flag every stateful binary shares.
#[derive(Debug, Clone, clap::Args)]
pub struct RootArg {
    /// The state root (containers, images, layers); an ordinary user's default is
    /// $XDG_DATA_HOME/baleia (~/.local/share/baleia).
    #[arg(long = "root", env = "BALEIA_ROOT", value_name = "DIR", default_value_os_t = default_root())]
    pub root: PathBuf,
}

/// [`DEFAULT_ROOT`] for root; for anyone else their own data directory, as the XDG Base
/// Directory specification names it: `$XDG_DATA_HOME/baleia`, or `~/.local/share/baleia`.
pub fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(DEFAULT_ROOT);
    }
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    match (absolute("XDG_DATA_HOME"), absolute("HOME")) {
        (Some(data), _) => data.join("baleia"),
        (None, Some(home)) => home.join(".local/share/baleia"),
        // No home: the directory root's would be, which then says plainly it is not ours.
        (None, None) => PathBuf::from(DEFAULT_ROOT),
    }
}

/// The flags that give a container its root file system.
#[derive(Debug, Clone, clap::Args)]
pub struct FsArgs {
    /// The image: a directory used as a read-only lower layer. Repeat it for more layers,
    /// topmost first.
    #[arg(long = "image-dir", value_name = "DIR", required = true)]
    pub image_dirs: Vec<PathBuf>,
    #[command(flatten)]
    pub layer: LayerArgs,
}

/// What becomes of the container's write layer.
#[derive(Debug, Clone, clap::Args)]
pub struct LayerArgs {
    /// Keep the container's write layer after it exits (for `diff`, and chapter 04's commit).
    #[arg(long)]
    pub keep: bool,
    /// Mount the root file system read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Mount an empty tmpfs at DIR (an absolute path), e.g. /tmp on a --read-only root.
    /// Options after a colon, as in `docker run --tmpfs /run:size=64k,mode=755`.
    #[arg(long = "tmpfs", value_name = "DIR[:OPTIONS]")]
    pub tmpfs: Vec<String>,
}

/// One `--tmpfs`: where, and the tmpfs options (`size=`, `mode=`, `nr_inodes=`, `uid=`, `gid=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub dir: PathBuf,
    /// The mount's data string, e.g. `mode=1777,size=64k` (read `tmpfs(5)`).
    pub options: String,
}

impl Tmpfs {
    /// Parse `DIR[:OPTIONS]`: DIR absolute and made of plain names only; OPTIONS a comma list
    /// of tmpfs(5)'s size, mode, nr_inodes, uid and gid (mode defaults to 1777, as /tmp's).
    pub fn parse(text: &str) -> Result<Self> {
        let (dir, options) = text.split_once(':').unwrap_or((text, ""));
        let dir = PathBuf::from(dir);
        let plain = dir
            .components()
            .skip(1)
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !dir.is_absolute() || !plain || dir.parent().is_none() {
            return Err(Error::Invalid(format!(
                "--tmpfs {}: give an absolute path inside the container, without `..`",
                dir.display()
            )));
        }
        let mut data = vec![];
        for option in options.split(',').filter(|o| !o.is_empty()) {
            let key = option.split('=').next().unwrap_or_default();
            if !["size", "mode", "nr_inodes", "uid", "gid"].contains(&key) || !option.contains('=')
            {
                return Err(Error::Invalid(format!(
                    "--tmpfs {text}: unknown option {option:?} (expected size=, mode=, nr_inodes=, uid=, gid=)"
                )));
            }
            data.push(option.to_string());
        }
        if !data.iter().any(|o| o.starts_with("mode=")) {
            data.insert(0, "mode=1777".into());
        }
        Ok(Tmpfs {
            dir,
            options: data.join(","),
        })
    }
}

impl LayerArgs {
    /// The --tmpfs mounts, checked (see [`Tmpfs::parse`]).
    pub fn tmpfs_mounts(&self) -> Result<Vec<Tmpfs>> {
        self.tmpfs.iter().map(|t| Tmpfs::parse(t)).collect()
    }
}

/// A container started by [`run_in_root_fs`], once it has ended.
pub struct Ended {
    pub id: String,
    pub finished: Finished,
}

/// Run `run`'s command in a new container whose root is an overlay of `fs.image_dirs`, in a
/// cgroup as chapter 02 makes it (see [`run_container`]).
pub fn run_in_root_fs(
    state_root: &std::path::Path,
    fs: &FsArgs,
    cgroup: &CgroupArgs,
    run: &RunArgs,
) -> Result<Ended> {
    // Absolute paths: the overlay's options are read after we leave this working directory,
    // and `diff` reads them back from anywhere.
    let mut image = Vec::new();
    for dir in &fs.image_dirs {
        if !dir.is_dir() {
            return Err(Error::Invalid(format!(
                "--image-dir {}: not a directory",
                dir.display()
            )));
        }
        image.push(std::fs::canonicalize(dir).map_err(Error::file("resolve", dir))?);
    }
    run_container(
        state_root,
        &image,
        &fs.layer,
        cgroup,
        run,
        |_, container| Ok(container),
    )
}

/// Run `run`'s command in a new container on top of the absolute image directories `image`
/// (topmost first). `customize` sees the container's directories once they exist and may add
/// steps to the container before it starts (chapter 04 applies the image's config here).
///
/// The container always gets mount, PID and UTS namespaces: a root file system needs its own
/// mount table, its /proc its own PID namespace, and its /etc/hostname a host name of its own.
/// Unless `fs.keep`, its directories are removed after it ends.
pub fn run_container(
    state_root: &std::path::Path,
    image: &[PathBuf],
    fs: &LayerArgs,
    cgroup: &CgroupArgs,
    run: &RunArgs,
    customize: impl FnOnce(&ContainerDirs, Container) -> Result<Container>,
) -> Result<Ended> {
    if !run.user && !run.all && !nix::unistd::geteuid().is_root() {
        return Err(Error::Invalid(
            "mounting a root file system needs root, or a user namespace of your own: add --user"
                .into(),
        ));
    }
    let mut run = run.clone();
    (run.mount, run.pid, run.uts) = (true, true, true);
    let id = random_id()?;
    let hostname = run.hostname.clone().unwrap_or_else(|| id[..12].to_string());
    let mut cgroup = cgroup.clone();
    let name = cgroup.name.replace(id.clone());
    cgroup.name = Some(name.clone().unwrap_or_else(|| id.clone()));

    let dirs = ContainerDirs::at(state_root, &id);
    explain!("container {id}");
    let tmpfs = fs.tmpfs_mounts()?;
    let mount_points: Vec<PathBuf> = tmpfs.iter().map(|t| t.dir.clone()).collect();
    dirs.create(image, name.as_deref(), &hostname, &mount_points)?;
    let mut rootfs = RootFs::for_container(&dirs, image, fs.read_only, run.ipc);
    rootfs.tmpfs = tmpfs;
    let result = run.container().map_err(Error::from).and_then(|container| {
        let container = container.hostname(&hostname).mount_proc(false).child_step(
            "mount the root file system and pivot_root into it",
            move || rootfs.enter().map_err(Into::into),
        );
        let container = customize(&dirs, container)?;
        Ok(run_limited(container, &cgroup, run.pid_file.as_deref())?)
    });
    if !fs.keep || result.is_err() {
        dirs.remove()?;
    }
    Ok(Ended {
        id,
        finished: result?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmpfs_takes_a_directory_and_options() {
        let plain = Tmpfs::parse("/tmp").unwrap();
        assert_eq!(plain.options, "mode=1777");
        let sized = Tmpfs::parse("/run:size=64k,mode=755").unwrap();
        assert_eq!(
            (sized.dir.to_str(), sized.options.as_str()),
            (Some("/run"), "size=64k,mode=755")
        );
        assert!(Tmpfs::parse("/run:exec=1").is_err());
        assert!(Tmpfs::parse("tmp").is_err());
        assert!(Tmpfs::parse("/a/../b").is_err());
    }
}
