//! Running an image: chapter 03's container, on the image's unpacked layers, configured by the
//! image's config (`Env`, `Entrypoint` + `Cmd`, `WorkingDir`, `User`).
//!
//! The config is applied in a child-side step that runs *after* chapter 03's `pivot_root`, so
//! the user name is looked up in the image's `/etc/passwd`, not the host's, and the working
//! directory is created inside the container.

use crate::containers;
use crate::error::{Error, Result};
use crate::image;
use crate::snapshot;
use crate::store::Store;
use ch01_namespaces::cli::RunArgs;
use ch01_namespaces::common::Failure;
use ch01_namespaces::exec::DEFAULT_PATH;
use ch01_namespaces::explain;
use ch01_namespaces::Container;
use ch02_cgroups::cli::CgroupArgs;
use ch03_overlayfs::cli::{run_container, Ended, LayerArgs};
use ch03_overlayfs::ContainerDirs;
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use oci_spec::image::ImageConfiguration;

/// What the image's config says about how to run it, with the user's command applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

impl RunConfig {
    /// Docker's rule: the command is `Entrypoint` followed by the user's arguments, or by the
    /// image's `Cmd` when the user gave none.
    pub fn new(config: &ImageConfiguration, command: &[String]) -> Result<Self> {
        let run = config.config().clone().unwrap_or_default();
        let argv = command_line(config, None, command);
        if argv.is_empty() {
            return Err(Error::Invalid(
                "no command: the image has no Entrypoint or Cmd, give one after `--`".into(),
            ));
        }
        Ok(RunConfig {
            argv,
            env: run.env().clone().unwrap_or_default(),
            working_dir: run.working_dir().clone().filter(|d| !d.is_empty()),
            user: run.user().clone().filter(|u| !u.is_empty()),
        })
    }

    /// Inside the container, after pivot_root: the environment, the working directory, the
    /// user. A container gets the image's environment, not the caller's: only `Env`, plus
    /// `PATH`, `HOSTNAME` and `HOME` when the image does not set them (as Docker does).
    pub fn apply_inside(&self, hostname: &str) -> Result<()> {
        for (key, _) in std::env::vars_os() {
            std::env::remove_var(key);
        }
        for pair in &self.env {
            if let Some((key, value)) = pair.split_once('=') {
                std::env::set_var(key, value);
            }
        }
        let identity = match &self.user {
            Some(user) => Identity::resolve(user)?,
            None => Identity::root(),
        };
        for (key, default) in [
            ("PATH", DEFAULT_PATH),
            ("HOSTNAME", hostname),
            ("HOME", identity.home.as_str()),
        ] {
            if std::env::var_os(key).is_none() {
                std::env::set_var(key, default);
            }
        }
        explain!("environment from the image: {:?}", self.env);
        if let Some(dir) = &self.working_dir {
            explain!("mkdir -p {dir:?}; chdir({dir:?}): the image's WorkingDir");
            std::fs::create_dir_all(dir).map_err(Error::file("create working directory", dir))?;
            nix::unistd::chdir(dir.as_str())
                .map_err(|errno| Error::Invalid(format!("chdir {dir}: {errno}")))?;
        }
        if self.user.is_some() {
            identity.switch()?;
        }
        Ok(())
    }
}

/// A uid, gid and home directory, from the container's /etc/passwd and /etc/group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

impl Identity {
    fn root() -> Self {
        Identity {
            uid: 0,
            gid: 0,
            home: "/root".into(),
        }
    }

    /// `USER` is `name`, `uid`, `name:group` or `uid:gid` (read the Dockerfile reference).
    pub fn resolve(user: &str) -> Result<Self> {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
        Self::resolve_in(user, &passwd, &group)
    }

    /// The same, with the text of `/etc/passwd` and `/etc/group` given (a builder reads them
    /// from the image's layers for `COPY --chown=name`, the engine for a container's user).
    pub fn resolve_in(user: &str, passwd: &str, group: &str) -> Result<Self> {
        let (who, group_name) = match user.split_once(':') {
            Some((who, g)) => (who, Some(g)),
            None => (user, None),
        };
        // passwd lines: name:x:uid:gid:gecos:home:shell
        let entry = passwd
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 6 && (f[0] == who || f[2] == who));
        let (uid, mut gid, home) = match (&entry, who.parse::<u32>()) {
            (Some(f), _) => (
                f[2].parse().unwrap_or(0),
                f[3].parse().unwrap_or(0),
                f[5].to_string(),
            ),
            (None, Ok(uid)) => (uid, uid, "/".to_string()),
            (None, Err(_)) => {
                return Err(Error::Invalid(format!(
                    "user {who:?}: no such user in the image's /etc/passwd"
                )))
            }
        };
        if let Some(g) = group_name {
            gid = match group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
            {
                Some(f) => f[2].parse().unwrap_or(0),
                None => g.parse().map_err(|_| {
                    Error::Invalid(format!(
                        "group {g:?}: no such group in the image's /etc/group"
                    ))
                })?,
            };
        }
        Ok(Identity { uid, gid, home })
    }

    /// Drop to this identity: supplementary groups, then gid, then uid (after setuid we
    /// would no longer be allowed to change the others).
    fn switch(&self) -> Result<()> {
        explain!(
            "setgroups([{0}]); setgid({0}); setuid({1}): the image's User",
            self.gid,
            self.uid
        );
        let gid = Gid::from_raw(self.gid);
        setgroups(&[gid]).map_err(|e| Error::Invalid(format!("setgroups([{gid}]): {e}")))?;
        setgid(gid).map_err(|e| Error::Invalid(format!("setgid({gid}): {e}")))?;
        setuid(Uid::from_raw(self.uid))
            .map_err(|e| Error::Invalid(format!("setuid({}): {e}", self.uid)))
    }
}

/// `run IMAGE [-- CMD...]`: unpack the image's layers if needed, record the image in the
/// container's directory (so garbage collection keeps it), and run it.
pub fn run_image(
    store: &Store,
    reference: &str,
    fs: &LayerArgs,
    cgroup: &CgroupArgs,
    run: &RunArgs,
) -> Result<Ended> {
    run_image_with(store, reference, fs, cgroup, run, |_, _, container| {
        Ok(container)
    })
}

/// [`run_image`], with a hook for later chapters: `customize` sees the container's
/// directories and the image, and may add steps. Its child-side steps run after chapter 03's
/// `pivot_root` and *before* the image's config is applied (so still as root, before `User`
/// takes effect): chapter 07 mounts volumes there.
pub fn run_image_with(
    store: &Store,
    reference: &str,
    fs: &LayerArgs,
    cgroup: &CgroupArgs,
    run: &RunArgs,
    customize: impl FnOnce(
        &ContainerDirs,
        &image::Image,
        Container,
    ) -> ch03_overlayfs::Result<Container>,
) -> Result<Ended> {
    let lock = store.lock()?;
    let image = image::resolve(store, reference)?;
    let config = RunConfig::new(&image.config, &run.command)?;
    let lowers = snapshot::prepare(store, &image)?;
    let mut run = run.clone();
    run.command = config.argv.clone();
    let manifest = image.manifest_digest.clone();
    let mut lock = Some(lock);
    let ended = run_container(
        store.root(),
        &lowers,
        fs,
        cgroup,
        &run,
        |dirs, container| {
            // Recorded before the layers are mounted, and under the store lock: from here on a
            // concurrent `rmi` cannot collect them.
            containers::record_image(store, &dirs.id, &manifest)
                .map_err(|e| ch03_overlayfs::Error::Invalid(e.to_string()))?;
            drop(lock.take());
            let hostname = dirs.hostname()?;
            let container = customize(dirs, &image, container)?;
            Ok(container.child_step("apply the image's config", move || {
                config.apply_inside(&hostname).map_err(Into::into)
            }))
        },
    )?;
    Ok(ended)
}

/// Docker's command rule: the image's `Entrypoint`, then the user's arguments, or the image's
/// `Cmd` when the user gave none. An entrypoint the user sets (`--entrypoint`) replaces the
/// image's and drops its `Cmd` as well (the Dockerfile reference, "Understand how CMD and
/// ENTRYPOINT interact"). An empty result means there is nothing to run.
pub fn command_line(
    image: &ImageConfiguration,
    entrypoint: Option<&[String]>,
    args: &[String],
) -> Vec<String> {
    let run = image.config().clone().unwrap_or_default();
    let (mut argv, image_cmd) = match entrypoint {
        Some(mine) => (mine.to_vec(), Vec::new()),
        None => (
            run.entrypoint().clone().unwrap_or_default(),
            run.cmd().clone().unwrap_or_default(),
        ),
    };
    if args.is_empty() {
        argv.extend(image_cmd);
    } else {
        argv.extend(args.iter().cloned());
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nweb:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nweb:x:33:\nstaff:x:50:\n";

    #[test]
    fn users_resolve_by_name_number_and_group() {
        let web = Identity::resolve_in("web", PASSWD, GROUP).unwrap();
        assert_eq!((web.uid, web.gid, web.home.as_str()), (33, 33, "/var/www"));
        let staff = Identity::resolve_in("web:staff", PASSWD, GROUP).unwrap();
        assert_eq!((staff.uid, staff.gid), (33, 50));
        let numeric = Identity::resolve_in("1000:2000", PASSWD, GROUP).unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1000, 2000));
        assert!(Identity::resolve_in("nobody-here", PASSWD, GROUP).is_err());
        assert!(Identity::resolve_in("web:nogroup", PASSWD, GROUP).is_err());
    }

    fn config(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfiguration {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut run = oci_spec::image::Config::default();
        run.set_entrypoint(entrypoint.map(strings));
        run.set_cmd(cmd.map(strings));
        let mut config = ImageConfiguration::default();
        config.set_config(Some(run));
        config
    }

    #[test]
    fn the_command_is_entrypoint_then_user_args_or_cmd() {
        let argv = |c: &ImageConfiguration, user: &[&str]| {
            let user: Vec<String> = user.iter().map(|s| s.to_string()).collect();
            RunConfig::new(c, &user).map(|r| r.argv)
        };
        let both = config(Some(&["/bin/echo"]), Some(&["default"]));
        assert_eq!(argv(&both, &[]).unwrap(), ["/bin/echo", "default"]);
        assert_eq!(argv(&both, &["mine"]).unwrap(), ["/bin/echo", "mine"]);
        let cmd_only = config(None, Some(&["sh"]));
        assert_eq!(argv(&cmd_only, &["ls", "/"]).unwrap(), ["ls", "/"]);
        assert!(argv(&config(None, None), &[]).is_err());
    }

    #[test]
    fn an_entrypoint_of_the_users_replaces_the_images_and_drops_its_cmd() {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let image = config(Some(&["/entry"]), Some(&["default"]));
        let line = |entrypoint: Option<&[&str]>, args: &[&str]| {
            command_line(&image, entrypoint.map(strings).as_deref(), &strings(args))
        };
        assert_eq!(line(None, &[]), ["/entry", "default"]);
        assert_eq!(line(None, &["mine"]), ["/entry", "mine"]);
        assert_eq!(
            line(Some(&["/bin/sh"]), &[]),
            ["/bin/sh"],
            "drops the image's Cmd"
        );
        assert_eq!(
            line(Some(&["/bin/sh"]), &["-c", "x"]),
            ["/bin/sh", "-c", "x"]
        );
        assert!(
            line(Some(&[]), &[]).is_empty(),
            "an empty entrypoint and no cmd"
        );
    }
}
