//! The runtime: run an OCI runtime spec through the chapters' libraries. This is baleia's
//! runc: it knows nothing of images, names or the API, only a spec and a bundle directory.
//!
//! | spec field                      | done by                                             |
//! |---------------------------------|-----------------------------------------------------|
//! | `linux.namespaces`              | chapter 01's [`Container`] (unshare, clone)        |
//! | `hostname`                      | chapter 01 (sethostname in the new UTS namespace)   |
//! | `linux.cgroupsPath`, `resources`| chapter 02's [`ContainerCgroup`] (a parent-side step)|
//! | `root`, `mounts`                | chapter 03's [`RootFs`] (a child-side step)         |
//! | `process.env`, `cwd`, `user`    | [`apply_process`] here (a child-side step, after pivot_root) |
//! | `process.args`                  | chapter 01's exec (PATH lookup, 126/127)            |
//!
//! The root file system: `root.path` is `BUNDLE/merged`, and the bundle's `lowers` file lists
//! the image's layers, which the runtime mounts there as an overlay (chapter 03). containerd
//! does the same: the rootfs mounts travel next to the spec, not inside it.

use anyhow::{anyhow, bail, Context, Result};
use ch01_namespaces::{Container, ContainerProcess, Namespace, NamespaceSet};
use ch02_cgroups::{ContainerCgroup, CpuQuota, Layout, Limits};
use ch03_overlayfs::{ContainerDirs, RootFs};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A started container: its first process, and its cgroup (removed when dropped).
pub struct Started {
    pub process: ContainerProcess,
    pub cgroup: ContainerCgroup,
}

/// Where the container's standard streams go (standard input: ours, unless given).
pub struct Stdio {
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// `process.terminal`: instead of the three above, the container's first process opens a
    /// pseudo-terminal of its own devpts (`/dev/ptmx`, after pivot_root, so the terminal is
    /// named inside the container), sends the master side back over this socket (runc's
    /// "console socket"), starts a session and takes the slave as its controlling terminal.
    pub terminal: Option<std::os::unix::net::UnixStream>,
}

/// Start the container the spec describes, in the bundle directory `bundle`. Returns once its
/// program runs (its `execve` succeeded), or with the error that stopped it (whose chapter 01
/// error carries Docker's exit code: 126 cannot run, 127 not found). Standard output and error
/// are connected last, so that `--explain` narrates the steps before into the supervisor's
/// log, not into the container's.
#[allow(dead_code)] // the plain entry point; the supervisor adds chapter 07's steps
pub fn start(spec: &Spec, bundle: &Path, stdio: Stdio) -> Result<Started> {
    start_with(spec, bundle, stdio, Extra::default())
}

/// Steps a caller adds around the spec's own: the supervisor wires chapter 07's network and
/// volumes in with them (see [`crate::wiring`]). The OCI spec has no field for a network
/// (containerd and dockerd plug it in from outside, with CNI or a hook run at this very moment);
/// these are that hook, without the JSON.
#[derive(Default)]
pub struct Extra {
    /// Parent-side, after the container's process exists (it waits), after its cgroup.
    pub parent: Vec<(String, ch01_namespaces::process::ParentStep)>,
    /// Child-side, right after pivot_root, before the process's user takes effect.
    pub after_root: Vec<(String, ch01_namespaces::process::ChildStep)>,
}

/// [`start`], with the caller's [`Extra`] steps.
pub fn start_with(spec: &Spec, bundle: &Path, stdio: Stdio, extra: Extra) -> Result<Started> {
    let process = spec.process().as_ref().context("the spec has no process")?;
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    let mut namespaces = NamespaceSet::empty();
    for ns in linux.namespaces().iter().flatten() {
        if ns.path().is_some() {
            bail!("joining existing namespaces (a namespace path) is not supported yet");
        }
        namespaces.insert(match ns.typ() {
            LinuxNamespaceType::Pid => Namespace::Pid,
            LinuxNamespaceType::Mount => Namespace::Mount,
            LinuxNamespaceType::Uts => Namespace::Uts,
            LinuxNamespaceType::Ipc => Namespace::Ipc,
            LinuxNamespaceType::Network => Namespace::Net,
            LinuxNamespaceType::Cgroup => Namespace::Cgroup,
            other => bail!("the {other} namespace is not supported with an image root"),
        });
    }
    if !namespaces.contains(Namespace::Mount) || !namespaces.contains(Namespace::Pid) {
        bail!("a container with its own root needs mount and PID namespaces");
    }
    let root = spec.root().as_ref().context("the spec has no root")?;
    let dirs = ContainerDirs {
        id: bundle
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dir: bundle.to_path_buf(),
    };
    if root.path() != &dirs.merged() {
        bail!(
            "root.path must be the bundle's merged/ directory ({}), got {}",
            dirs.merged().display(),
            root.path().display()
        );
    }
    let mut rootfs = RootFs::for_container(
        &dirs,
        &dirs.lowers()?,
        root.readonly().unwrap_or(false),
        namespaces.contains(Namespace::Ipc),
    );
    rootfs.tmpfs = tmpfs_mounts(spec, bundle)?;

    let cgroup = cgroup_for(spec)?;
    let attacher = cgroup.attacher();
    let hostname = spec.hostname().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let cwd = process.cwd().clone();
    let (uid, gid) = (process.user().uid(), process.user().gid());

    let mut container = Container::new(process.args().as_deref().unwrap_or_default(), namespaces)?
        .mount_proc(false)
        .kill_with_parent(true)
        .parent_step("put the process in its cgroup", move |pid| {
            attacher.attach(pid).map_err(Into::into)
        })
        .child_step(
            "mount the root file system and pivot_root into it",
            move || rootfs.enter().map_err(Into::into),
        );
    for (name, step) in extra.parent {
        container = container.parent_step(name, step);
    }
    for (name, step) in extra.after_root {
        container = container.child_step(name, step);
    }
    container = container
        .child_step("apply the process's environment, cwd and user", move || {
            apply_process(&env, &cwd, uid, gid).map_err(|e| format!("{e:#}").into())
        })
        .child_step("connect standard input, output and error", move || {
            for (fd, target) in [(&stdio.stdout, 1), (&stdio.stderr, 2)] {
                nix::unistd::dup2(fd.as_raw_fd(), target)?;
            }
            if let Some(stdin) = &stdio.stdin {
                nix::unistd::dup2(stdin.as_raw_fd(), 0)?;
            }
            if let Some(socket) = &stdio.terminal {
                crate::pty::become_terminal_session(socket)?;
            }
            Ok(())
        });
    if !hostname.is_empty() {
        container = container.hostname(hostname);
    }
    let process = container.spawn()?;
    Ok(Started { process, cgroup })
}

/// The mounts the runtime makes: chapter 03's fixed set (which the spec lists, as runc's
/// default spec does) plus tmpfs mounts. Anything else is refused, not ignored.
fn tmpfs_mounts(spec: &Spec, bundle: &Path) -> Result<Vec<ch03_overlayfs::cli::Tmpfs>> {
    let mut tmpfs = Vec::new();
    for mount in spec.mounts().iter().flatten() {
        let dest = mount.destination().to_string_lossy().into_owned();
        let typ = mount.typ().clone().unwrap_or_default();
        let builtin = matches!(
            dest.as_str(),
            "/proc" | "/dev" | "/dev/pts" | "/dev/shm" | "/dev/mqueue" | "/sys" | "/sys/fs/cgroup"
        );
        let etc_file = typ == "bind"
            && ["hostname", "hosts", "resolv.conf"].iter().any(|f| {
                dest == format!("/etc/{f}") && mount.source().as_deref() == Some(&bundle.join(f))
            });
        if builtin || etc_file {
            continue;
        }
        if typ == "tmpfs" {
            // The data options (size=, mode=...) go to chapter 03; it adds nosuid and nodev.
            let data: Vec<String> = mount
                .options()
                .iter()
                .flatten()
                .filter(|o| o.contains('='))
                .cloned()
                .collect();
            tmpfs.push(ch03_overlayfs::cli::Tmpfs::parse(&format!(
                "{dest}:{}",
                data.join(",")
            ))?);
            continue;
        }
        bail!("mount of {typ} at {dest} is not supported by this runtime yet");
    }
    Ok(tmpfs)
}

/// `linux.cgroupsPath` `/PARENT/NAME` and `linux.resources`, as chapter 02's cgroup.
fn cgroup_for(spec: &Spec) -> Result<ContainerCgroup> {
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    let path = linux
        .cgroups_path()
        .clone()
        .context("the spec has no linux.cgroupsPath")?;
    let name = path
        .file_name()
        .context("linux.cgroupsPath has no last component")?
        .to_string_lossy()
        .into_owned();
    let parent = path
        .parent()
        .map(|p| p.to_string_lossy().trim_matches('/').to_string())
        .unwrap_or_default();
    let mut limits = Limits::default();
    if let Some(resources) = linux.resources() {
        if let Some(memory) = resources.memory() {
            limits.memory = memory.limit().map(|l| l as u64);
        }
        if let Some(cpu) = resources.cpu() {
            if let (Some(quota), Some(period)) = (cpu.quota(), cpu.period()) {
                limits.cpu_quota = Some(CpuQuota {
                    quota_us: quota as u64,
                    period_us: period,
                });
            }
            limits.cpu_shares = cpu.shares();
        }
        limits.pids = resources.pids().as_ref().map(|p| p.limit() as u64);
    }
    let layout = Layout::detect()?;
    let cgroup = ContainerCgroup::create(&layout, &parent, &name)?;
    cgroup.apply(&limits)?;
    Ok(cgroup)
}

/// Inside the container, after pivot_root: exactly the spec's environment (never the
/// supervisor's), its working directory (made if the image lacks it, as Docker does), and its
/// user: supplementary groups, gid, then uid (after setuid the others could not change).
pub fn apply_process(env: &[String], cwd: &Path, uid: u32, gid: u32) -> Result<()> {
    for (key, _) in std::env::vars_os() {
        std::env::remove_var(key);
    }
    for pair in env {
        if let Some((key, value)) = pair.split_once('=') {
            std::env::set_var(key, value);
        }
    }
    ch01_namespaces::explain!("environment: {env:?}; chdir({cwd:?}); uid {uid}, gid {gid}");
    std::fs::create_dir_all(cwd).with_context(|| format!("mkdir {}", cwd.display()))?;
    nix::unistd::chdir(cwd).map_err(|e| anyhow!("chdir {}: {e}", cwd.display()))?;
    if (uid, gid) != (0, 0) {
        let gid = Gid::from_raw(gid);
        nix::unistd::setgroups(&[gid]).map_err(|e| anyhow!("setgroups([{gid}]): {e}"))?;
        nix::unistd::setgid(gid).map_err(|e| anyhow!("setgid({gid}): {e}"))?;
        nix::unistd::setuid(Uid::from_raw(uid)).map_err(|e| anyhow!("setuid({uid}): {e}"))?;
    }
    Ok(())
}

/// `exec`: run `argv` in the namespaces and cgroups of the container whose first process is
/// `target` (chapter 02's exec, which joins with chapter 01's `Container::join`), with its own
/// environment, working directory and user. Returns Docker's exit code.
pub fn exec(
    target: i32,
    argv: &[String],
    env: Vec<String>,
    cwd: PathBuf,
    (uid, gid): (u32, u32),
    tty: bool,
) -> Result<i32> {
    let target = nix::unistd::Pid::from_raw(target);
    let layout = Layout::detect()?;
    let attacher = ch02_cgroups::Attacher::of_process(&layout, target)?;
    // With a terminal: made inside the container as for `run -t`, its master sent back here.
    let console = if tty {
        Some(std::os::unix::net::UnixStream::pair()?)
    } else {
        None
    };
    let theirs = console.as_ref().map(|(_, t)| t.try_clone()).transpose()?;
    let process = Container::join(target, argv)?
        .kill_with_parent(true)
        .parent_step("put the process in the container's cgroup", move |pid| {
            attacher.attach(pid).map_err(Into::into)
        })
        .child_step("apply the process's environment, cwd and user", move || {
            apply_process(&env, &cwd, uid, gid).map_err(|e| format!("{e:#}"))?;
            if let Some(socket) = &theirs {
                crate::pty::become_terminal_session(socket).map_err(|e| format!("{e:#}"))?;
            }
            Ok(())
        })
        .spawn()?;
    if let Some((ours, theirs)) = console {
        drop(theirs);
        let master = crate::pty::receive_master(&ours)?;
        // Our stdin to the terminal; the terminal to our stdout (until it reports EIO: the
        // last process holding its slave side has gone).
        let mut input = std::fs::File::from(master.try_clone()?);
        std::thread::spawn(move || crate::stdin::pump(&mut std::io::stdin().lock(), &mut input));
        let mut output = std::fs::File::from(master);
        let _ = crate::stdin::pump(&mut output, &mut std::io::stdout().lock());
    }
    Ok(process.wait()?)
}
