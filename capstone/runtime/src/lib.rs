//! The runtime: run an OCI runtime spec through the chapters' libraries. This is baleia's
//! runc: it knows nothing of images, names or the API, only a spec and a bundle directory.
//! The engine's supervisor (`baleia_supervisor::shim`) and `baleia runtime` ([`crate::oci`])
//! both come here.
//!
//! | spec field                        | done by                                              |
//! |-----------------------------------|------------------------------------------------------|
//! | `linux.namespaces` (`path`: join) | chapter 01's [`Container`] (unshare, setns, clone)   |
//! | `linux.uidMappings`, `gidMappings`| chapter 01 (the parent writes /proc/PID/uid_map)     |
//! | `hostname`                        | chapter 01 (sethostname in the new UTS namespace)    |
//! | `process.capabilities`, `noNewPrivileges`, `linux.seccomp` | chapter 01's [`Security`] ([`security`]) |
//! | `process.rlimits`                 | [`security::apply_rlimits`] (a child-side step)      |
//! | `linux.sysctl` (namespaced only)  | [`sysctl`] (a child-side step, before pivot_root)    |
//! | `linux.cgroupsPath`, `resources`  | chapter 02's [`ContainerCgroup`] (a parent-side step)|
//! | `linux.resources.devices`         | [`devices`]: v1's devices controller, or an eBPF program on v2 |
//! | `root`, `mounts`, `maskedPaths`, `readonlyPaths` | chapter 03's [`RootFs`] ([`rootfs`]) |
//! | `process.env`, `cwd`, `user`      | [`apply_process`] here (a child-side step, after pivot_root) |
//! | `process.args`                    | chapter 01's exec (PATH lookup, 126/127)             |
//!
//! What none of them does (hooks, AppArmor/SELinux labels, other resources) is
//! refused with the field's name, never ignored; docs/decisions.md lists the exceptions.

pub mod devices;
mod devices_bpf;
pub mod oci;
pub mod resources;
mod rootfs;
pub mod seccomp_agent;
pub mod security;
pub mod sysctl;

// The shared modules, under the names the runtime's modules use.
use baleia_wire::{pty, stdin, terminal, time};

use anyhow::{anyhow, bail, Context, Result};
use ch01_namespaces::{Container, ContainerProcess, IdMap, IdMappings, Namespace, NamespaceSet};
use ch02_cgroups::{ContainerCgroup, Limits};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A started container: its first process, and its cgroups (removed when dropped).
pub struct Started {
    pub process: ContainerProcess,
    pub cgroup: ContainerCgroup,
    /// Its devices cgroup (cgroup v1, when the spec has device rules; on v2 the rules are a
    /// program attached to `cgroup`, gone with it).
    pub devices: Option<devices::DevicesCgroup>,
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

/// How the caller runs the container, beyond what the spec says.
#[derive(Default)]
pub struct Options {
    /// The cgroup when the spec has no `linux.cgroupsPath` (runc uses the container's id).
    pub default_cgroup: Option<PathBuf>,
    /// Let the container outlive the process that starts it (`baleia runtime create`): no
    /// `PR_SET_PDEATHSIG`. The supervisor, which waits for it, leaves this off.
    pub detached: bool,
    /// `create`: the container's first process waits, set up, at this gate (the reading end
    /// of a FIFO, opened here and inherited) until `start` writes a byte into it; `create`
    /// returns as soon as it waits there.
    pub start_fifo: Option<OwnedFd>,
    /// The caller's own steps (chapter 07's network and volumes, for the engine).
    pub extra: Extra,
    /// Join the spec's cgroup if it exists already (runc does: a pod's containers may share
    /// one) instead of refusing the name; a warning says when it holds processes.
    pub join_existing_cgroup: bool,
    /// Descriptors 3 .. 3+N the caller passes on (runc's `--preserve-fds`); every other one
    /// above 2 is closed at `execve`.
    pub preserve_fds: u32,
    /// The container's id, for the state a seccomp agent is sent.
    pub id: String,
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
/// volumes in with them (see the supervisor's `wiring`). The OCI spec has no field for a network
/// (containerd and dockerd plug it in from outside, with CNI or a hook run at this very moment);
/// these are that hook, without the JSON.
#[derive(Default)]
pub struct Extra {
    /// Parent-side, after the container's process exists (it waits), after its cgroup.
    pub parent: Vec<(String, ch01_namespaces::process::ParentStep)>,
    /// Child-side, right after pivot_root, before the process's user takes effect.
    pub after_root: Vec<(String, ch01_namespaces::process::ChildStep)>,
}

/// [`start`], with the caller's [`Extra`] steps (the engine's supervisor).
pub fn start_with(spec: &Spec, bundle: &Path, stdio: Stdio, extra: Extra) -> Result<Started> {
    start_with_options(
        spec,
        bundle,
        stdio,
        Options {
            extra,
            ..Options::default()
        },
    )
}

/// [`start`], with [`Options`] (`baleia runtime`; the supervisor through [`start_with`]).
pub fn start_with_options(
    spec: &Spec,
    bundle: &Path,
    stdio: Stdio,
    options: Options,
) -> Result<Started> {
    refuse_unsupported(spec)?;
    let extra = options.extra;
    let process = spec.process().as_ref().context("the spec has no process")?;
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    let mut namespaces = NamespaceSet::empty();
    let mut joined = Vec::new();
    for ns in linux.namespaces().iter().flatten() {
        let kind = match ns.typ() {
            LinuxNamespaceType::Pid => Namespace::Pid,
            LinuxNamespaceType::Mount => Namespace::Mount,
            LinuxNamespaceType::Uts => Namespace::Uts,
            LinuxNamespaceType::Ipc => Namespace::Ipc,
            LinuxNamespaceType::Network => Namespace::Net,
            LinuxNamespaceType::Cgroup => Namespace::Cgroup,
            LinuxNamespaceType::User => Namespace::User,
            other => bail!("linux.namespaces: the {other} namespace is not supported"),
        };
        match ns.path() {
            Some(path) => joined.push((kind, path.clone())),
            None => namespaces.insert(kind),
        }
    }
    if !namespaces.contains(Namespace::Mount) {
        bail!("linux.namespaces: a container with its own root needs a new mount namespace");
    }
    let id_mappings = id_mappings(linux.uid_mappings(), linux.gid_mappings())?;
    if id_mappings.is_some() != namespaces.contains(Namespace::User) {
        bail!("linux.uidMappings/gidMappings go with a new user namespace, and it needs them");
    }

    let mut security = security::security_of(process, linux.seccomp().as_ref())?;
    let rlimits = security::rlimits_of(process)?;
    let own = |kind: Namespace| namespaces.contains(kind) || joined.iter().any(|(k, _)| *k == kind);
    let sysctls = sysctl::sysctls_of(
        &linux.sysctl().clone().unwrap_or_default(),
        own(Namespace::Net),
        own(Namespace::Ipc),
    )?;
    let agent = match linux.seccomp() {
        Some(seccomp) => seccomp_agent::Agent::prepare(seccomp, &options.id, bundle)?,
        None => None,
    };
    if let Some(agent) = &agent {
        security::set_listener(&mut security, agent.listener_fd());
    }

    let cgroup = cgroup_for(
        spec,
        options.default_cgroup.as_deref(),
        options.join_existing_cgroup,
    )?;
    let preserve_fds = options.preserve_fds;
    let mut rootfs = rootfs::rootfs_of(spec, bundle, namespaces.contains(Namespace::Ipc), &cgroup)?;
    // In a new user namespace, the bind sources are opened before the process becomes that
    // namespace's root (see `rootfs::BindSources`).
    let sources = rootfs::BindSources::new(namespaces.contains(Namespace::User), &rootfs);
    let mut opener = sources.clone();
    let device_rules = devices::rules_of(
        linux
            .resources()
            .as_ref()
            .and_then(|r| r.devices().as_deref())
            .unwrap_or_default(),
    )?;
    // v2: an eBPF program on the container's one cgroup, attached before any process is in
    // it; v1 and hybrid: the devices controller's own directory, joined with the others.
    let devices = match (device_rules.is_empty(), cgroup.mode().is_v2()) {
        (true, _) => None,
        (false, true) => {
            let dir = cgroup
                .dirs()
                .first()
                .context("a v2 cgroup has one directory")?;
            devices::enforce_v2(&dir.path, &device_rules)?;
            None
        }
        (false, false) => devices::DevicesCgroup::create(cgroup.relative_path(), &device_rules)?,
    };
    let devices_dir = devices.as_ref().map(|d| d.dir().to_path_buf());
    let attacher = cgroup.attacher();
    let hostname = spec.hostname().clone().unwrap_or_default();
    let env = process.env().clone().unwrap_or_default();
    let cwd = process.cwd().clone();
    let user = process.user();
    let ids = Ids {
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
    };
    let console_size = console_size(process);
    let mut stdio = Some(stdio);

    let mut container = Container::new(process.args().as_deref().unwrap_or_default(), namespaces)?
        .early_child_step(
            "open the bind mounts' sources as the host's user",
            move || opener.open().map_err(|e| format!("{e:#}").into()),
        )
        .mount_proc(false)
        .preserve_fds(preserve_fds)
        .kill_with_parent(!options.detached)
        .security(security)
        .parent_step("put the process in its cgroup", move |pid| {
            attacher.attach(pid)?;
            if let Some(dir) = &devices_dir {
                devices::DevicesCgroup::attach(dir, pid).map_err(|e| format!("{e:#}"))?;
            }
            Ok(())
        })
        .child_step("set the resource limits (setrlimit)", move || {
            security::apply_rlimits(&rlimits).map_err(|e| format!("{e:#}").into())
        })
        .child_step("set the namespaced sysctls (linux.sysctl)", move || {
            sysctl::apply(&sysctls).map_err(|e| format!("{e:#}").into())
        })
        .child_step(
            "mount the root file system and pivot_root into it",
            move || {
                sources.use_in(&mut rootfs);
                rootfs.enter().map_err(Into::into)
            },
        );
    for (name, step) in extra.parent {
        container = container.parent_step(name, step);
    }
    if let Some(agent) = &agent {
        let pid = agent.pid_sender();
        container = container.parent_step("tell the seccomp relay the pid", move |p| {
            pid.send(p.as_raw())
                .map_err(|_| "the seccomp relay has gone".to_string().into())
        });
    }
    for (name, step) in extra.after_root {
        container = container.child_step(name, step);
    }
    container = container
        .child_step("apply the process's environment, cwd and user", move || {
            apply_process_ids(&env, &cwd, &ids).map_err(|e| format!("{e:#}").into())
        })
        .child_step("connect standard input, output and error", move || {
            // Taken, so that the copies are closed once in place: a container waiting for
            // `start` must not hold its caller's pipes (`$(runc create ...)` would never end).
            let Some(stdio) = stdio.take() else {
                return Ok(());
            };
            connect_stdio(stdio, console_size).map_err(|e| format!("{e:#}").into())
        });
    for (kind, path) in joined {
        container = container.join_namespace(kind, path);
    }
    if let Some(mappings) = id_mappings {
        container = container.id_mappings(mappings);
    }
    if !hostname.is_empty() {
        container = container.hostname(hostname);
    }
    if let Some(fifo) = options.start_fifo {
        container = container.start_gate("wait for `start` (a byte on exec.fifo)", move || {
            crate::oci::state::wait_for_start(&fifo).map_err(|e| format!("{e:#}").into())
        });
    }
    let process = container.spawn()?;
    if let Some(agent) = agent {
        if let Err(error) = agent.finish() {
            process.kill_and_reap();
            return Err(error);
        }
    }
    Ok(Started {
        process,
        cgroup,
        devices,
    })
}

/// The spec's `process.consoleSize`, as (rows, columns).
pub fn console_size(process: &oci_spec::runtime::Process) -> Option<(u16, u16)> {
    process
        .console_size()
        .as_ref()
        .map(|b| (b.height() as u16, b.width() as u16))
}

/// In the container's first process: its standard streams in place (0, 1, 2), or its
/// terminal made and sent (which then takes 0, 1 and 2). The descriptors we were given are
/// closed when `stdio` is dropped, at the end.
fn connect_stdio(stdio: Stdio, console_size: Option<(u16, u16)>) -> Result<()> {
    if let Some(socket) = &stdio.terminal {
        return crate::pty::become_terminal_session(socket, console_size);
    }
    for (fd, target) in [(&stdio.stdout, 1), (&stdio.stderr, 2)] {
        nix::unistd::dup2(fd.as_raw_fd(), target).with_context(|| format!("dup2 to {target}"))?;
    }
    if let Some(stdin) = &stdio.stdin {
        nix::unistd::dup2(stdin.as_raw_fd(), 0).context("dup2 to 0")?;
    }
    Ok(())
}

/// The devices cgroup of a container made by another process (`delete`): removed when the
/// handle is dropped.
pub fn adopt_devices(relative: &Path) -> Option<devices::DevicesCgroup> {
    devices::DevicesCgroup::adopt(relative)
}

/// The spec fields no chapter implements: refused by name.
fn refuse_unsupported(spec: &Spec) -> Result<()> {
    if let Some(hooks) = spec.hooks() {
        let json = serde_json::to_value(hooks)?;
        if json.as_object().is_some_and(|o| {
            o.values()
                .any(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        }) {
            bail!("hooks are not supported by this runtime");
        }
    }
    if let Some(process) = spec.process() {
        if process
            .apparmor_profile()
            .as_ref()
            .is_some_and(|p| !p.is_empty())
        {
            bail!("process.apparmorProfile is not supported (no AppArmor here)");
        }
        if process
            .selinux_label()
            .as_ref()
            .is_some_and(|p| !p.is_empty())
        {
            bail!("process.selinuxLabel is not supported");
        }
        if process.console_size().is_some() && !process.terminal().unwrap_or(false) {
            bail!("process.consoleSize without process.terminal");
        }
    }
    if let Some(linux) = spec.linux() {
        if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
            bail!("linux.mountLabel (SELinux) is not supported");
        }
        if linux.intel_rdt().is_some() {
            bail!("linux.intelRdt is not supported");
        }
        if linux.personality().is_some() {
            bail!("linux.personality is not supported");
        }
    }
    Ok(())
}

/// `linux.uidMappings` and `gidMappings` as chapter 01's maps (`None`: no user namespace).
fn id_mappings(
    uids: &Option<Vec<LinuxIdMapping>>,
    gids: &Option<Vec<LinuxIdMapping>>,
) -> Result<Option<IdMappings>> {
    let convert = |maps: &Vec<LinuxIdMapping>| -> Vec<IdMap> {
        maps.iter()
            .map(|m| IdMap {
                inside: m.container_id(),
                outside: m.host_id(),
                count: m.size(),
            })
            .collect()
    };
    match (uids, gids) {
        (None, None) => Ok(None),
        (Some(u), Some(g)) if !u.is_empty() && !g.is_empty() => Ok(Some(IdMappings {
            uids: convert(u),
            gids: convert(g),
        })),
        _ => bail!("linux.uidMappings and gidMappings go together, neither empty"),
    }
}

/// `linux.cgroupsPath` `/PARENT/NAME` (a relative one is taken from the hierarchies' roots
/// too) and `linux.resources`, as chapter 02's cgroup.
pub fn cgroup_path(spec: &Spec, default: Option<&Path>) -> Result<(String, String)> {
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    let path = linux
        .cgroups_path()
        .clone()
        .or_else(|| default.map(Path::to_path_buf))
        .context("the spec has no linux.cgroupsPath")?;
    if path.to_string_lossy().contains(':') {
        bail!(
            "linux.cgroupsPath {}: a systemd slice:prefix:name path is not supported (no \
             systemd cgroup manager here)",
            path.display()
        );
    }
    let name = path
        .file_name()
        .context("linux.cgroupsPath has no last component")?
        .to_string_lossy()
        .into_owned();
    let parent = path
        .parent()
        .map(|p| p.to_string_lossy().trim_matches('/').to_string())
        .unwrap_or_default();
    Ok((parent, name))
}

fn cgroup_for(spec: &Spec, default: Option<&Path>, join_existing: bool) -> Result<ContainerCgroup> {
    let (parent, name) = cgroup_path(spec, default)?;
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    let mut limits = Limits::default();
    if let Some(resources) = linux.resources() {
        if let Some(memory) = resources.memory() {
            limits.memory = memory.limit().filter(|l| *l > 0).map(|l| l as u64);
        }
        // The CFS quota and period are `resources`' job: the order of their two writes
        // depends on the values, old and new (see `resources::cpu_bandwidth`).
        if let Some(cpu) = resources.cpu() {
            limits.cpu_shares = cpu.shares();
        }
        limits.pids = resources
            .pids()
            .as_ref()
            .map(|p| p.limit())
            .filter(|l| *l > 0)
            .map(|l| l as u64);
    }
    let layout = ch02_cgroups::delegation::layout_for_caller()?;
    let cgroup = if join_existing {
        let cgroup = ContainerCgroup::create_or_join(&layout, &parent, &name)?;
        let count = cgroup.pids().len();
        if count > 0 {
            eprintln!(
                "warning: container's cgroup is not empty: {count} process(es) found in {parent}/{name}"
            );
        }
        cgroup
    } else {
        ContainerCgroup::create(&layout, &parent, &name)?
    };
    cgroup.apply(&limits)?;
    if let Some(resources) = linux.resources() {
        let target = resources::Target::new(cgroup.relative_path())?;
        resources::apply(&target, resources, resources::Phase::Create)?;
    }
    Ok(cgroup)
}

/// Who the process runs as (`process.user`).
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
}

/// Inside the container, after pivot_root: exactly the spec's environment (never the
/// supervisor's), its working directory (made if the image lacks it, as Docker does), and its
/// user: supplementary groups, gid, then uid (after setuid the others could not change).
pub fn apply_process(env: &[String], cwd: &Path, uid: u32, gid: u32) -> Result<()> {
    apply_process_ids(
        env,
        cwd,
        &Ids {
            uid,
            gid,
            additional_gids: Vec::new(),
            umask: None,
        },
    )
}

/// [`apply_process`] with every field of `process.user`.
pub fn apply_process_ids(env: &[String], cwd: &Path, ids: &Ids) -> Result<()> {
    let (uid, gid) = (ids.uid, ids.gid);
    if let Some(umask) = ids.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    }
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
    if (uid, gid) != (0, 0) || !ids.additional_gids.is_empty() {
        // The spec's additional groups, as runc sets them; without any, the primary group
        // alone (what the engine always did).
        let groups: Vec<Gid> = if ids.additional_gids.is_empty() {
            vec![Gid::from_raw(gid)]
        } else {
            ids.additional_gids
                .iter()
                .copied()
                .map(Gid::from_raw)
                .collect()
        };
        nix::unistd::setgroups(&groups).map_err(|e| anyhow!("setgroups({groups:?}): {e}"))?;
        let gid = Gid::from_raw(gid);
        nix::unistd::setgid(gid).map_err(|e| anyhow!("setgid({gid}): {e}"))?;
        nix::unistd::setuid(Uid::from_raw(uid)).map_err(|e| anyhow!("setuid({uid}): {e}"))?;
    }
    Ok(())
}

/// `exec`: run `argv` in the namespaces and cgroups of the container whose first process is
/// `target` (chapter 02's exec, which joins with chapter 01's `Container::join`), with its own
/// environment, working directory and user. Returns Docker's exit code.
///
/// With `bundle`, the container's spec gives the process's capabilities, `no_new_privs` and
/// seccomp filter (a `--privileged` container's exec is privileged too, as in Docker);
/// without, Docker's defaults.
pub fn exec_in(
    bundle: Option<&Path>,
    target: i32,
    argv: &[String],
    env: Vec<String>,
    cwd: PathBuf,
    (uid, gid): (u32, u32),
    (tty, size): (bool, Option<(u16, u16)>),
) -> Result<i32> {
    let security = match bundle {
        Some(bundle) => {
            let spec = Spec::load(bundle.join("config.json")).context("load config.json")?;
            let process = spec.process().clone().unwrap_or_default();
            let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
            security::security_of(&process, seccomp.as_ref())?
        }
        None => ch01_namespaces::Security::docker_default(),
    };
    exec_with(target, argv, env, cwd, (uid, gid), (tty, size), security)
}

fn exec_with(
    target: i32,
    argv: &[String],
    env: Vec<String>,
    cwd: PathBuf,
    (uid, gid): (u32, u32),
    (tty, size): (bool, Option<(u16, u16)>),
    security: ch01_namespaces::Security,
) -> Result<i32> {
    let target = nix::unistd::Pid::from_raw(target);
    let layout = ch02_cgroups::delegation::layout_for_caller()?;
    let attacher = ch02_cgroups::Attacher::of_process(&layout, target)?;
    let devices_dir = devices::DevicesCgroup::dir_of_process(target)?;
    // With a terminal: made inside the container as for `run -t`, its master sent back here.
    let console = if tty {
        Some(std::os::unix::net::UnixStream::pair()?)
    } else {
        None
    };
    let theirs = console.as_ref().map(|(_, t)| t.try_clone()).transpose()?;
    let process = Container::join(target, argv)?
        .kill_with_parent(true)
        .security(security)
        .parent_step("put the process in the container's cgroup", move |pid| {
            attacher.attach(pid)?;
            if let Some(dir) = &devices_dir {
                devices::DevicesCgroup::attach(dir, pid).map_err(|e| format!("{e:#}"))?;
            }
            Ok(())
        })
        .child_step("apply the process's environment, cwd and user", move || {
            apply_process(&env, &cwd, uid, gid).map_err(|e| format!("{e:#}"))?;
            if let Some(socket) = &theirs {
                crate::pty::become_terminal_session(socket, size).map_err(|e| format!("{e:#}"))?;
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
