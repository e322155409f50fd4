//! The life cycle: `create`, `start`, `run`, `kill`, `delete` (runtime spec, `runtime.md`).

use super::console::Console;
use super::hierarchies;
use super::state::{self, Dir, Saved, Status};
use crate as runtime;
use crate::{Options, Stdio};
use anyhow::{bail, Context, Result};
use nix::sys::signal::{kill as send, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The bundle: config.json and the root file system.
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the container's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// With process.terminal: send the terminal's master side to this unix socket.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Pass this many descriptors after 0, 1 and 2 (3, 4, ...) on to the container.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Accepted: this runtime never makes a session keyring.
    #[arg(long)]
    no_new_keyring: bool,
    /// runc's MS_MOVE + chroot instead of pivot_root: we always pivot_root (a warning says so).
    #[arg(long)]
    no_pivot: bool,
    /// Accepted: we never make ourselves a subreaper.
    #[arg(long)]
    no_subreaper: bool,
    pub id: String,
}

#[derive(clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    create: CreateArgs,
    /// Return once started.
    #[arg(short, long)]
    detach: bool,
    /// Do not delete the container when it exits.
    #[arg(long)]
    keep: bool,
}

/// `create`: the container outlives us, its cgroup too (`delete` removes it).
pub fn create_command(root: &Path, args: &CreateArgs) -> Result<()> {
    let (started, _console) = create(root, args, true, true)?;
    started.cgroup.release();
    if let Some(devices) = started.devices {
        devices.release();
    }
    Ok(())
}

/// `create` (gate: wait for `start`) or the first half of `run` (no gate). Returns the
/// started container and its console (to relay, in the foreground).
fn create(
    root: &Path,
    args: &CreateArgs,
    gate: bool,
    detached: bool,
) -> Result<(runtime::Started, Console)> {
    if args.no_pivot {
        eprintln!("warning: --no-pivot is not supported: this runtime always uses pivot_root(2)");
    }
    let bundle = std::fs::canonicalize(&args.bundle)
        .with_context(|| format!("bundle {}", args.bundle.display()))?;
    let spec = super::load_spec(&bundle)?;
    let dir = Dir::of(root, &args.id)?;
    std::fs::create_dir_all(root).with_context(|| format!("mkdir {}", root.display()))?;
    if let Err(error) = std::fs::create_dir(&dir.path) {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            bail!("container with id exists: {}", args.id);
        }
        return Err(error).with_context(|| format!("mkdir {}", dir.path.display()));
    }
    let result = set_up(&dir, &bundle, &spec, args, (gate, detached));
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&dir.path);
    }
    result
}

fn set_up(
    dir: &Dir,
    bundle: &Path,
    spec: &Spec,
    args: &CreateArgs,
    (gate, detached): (bool, bool),
) -> Result<(runtime::Started, Console)> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let mut console = Console::new(terminal, args.console_socket.as_deref(), detached)?;
    let mut stdio = own_stdio()?;
    stdio.terminal = console.container.take();
    let default_cgroup = PathBuf::from(format!("/{}/{}", hierarchies::DEFAULT_PARENT, args.id));
    let (cgroup_parent, cgroup_name) = runtime::cgroup_path(spec, Some(&default_cgroup))?;
    let relative = Path::new(&cgroup_parent).join(&cgroup_name);
    refuse_frozen(&relative)?;
    hierarchies::create(&relative)?;
    let mut extra = runtime::Extra::default();
    let attach_to = relative.clone();
    extra.parent.push((
        "put the process in the other cgroup hierarchies".into(),
        Box::new(move |pid: Pid| {
            hierarchies::attach(&attach_to, pid.as_raw()).map_err(|e| format!("{e:#}").into())
        }),
    ));
    let options = Options {
        extra,
        default_cgroup: Some(default_cgroup),
        detached,
        start_fifo: if gate {
            Some(state::make_fifo(&dir.fifo())?)
        } else {
            None
        },
        join_existing_cgroup: true,
        preserve_fds: args.preserve_fds,
        id: args.id.clone(),
    };
    let started = match runtime::start_with_options(spec, bundle, stdio, options) {
        Ok(started) => started,
        Err(error) => {
            let _ = hierarchies::remove(&relative);
            return Err(error);
        }
    };
    let pid = started.process.pid().as_raw();
    let saved = Saved {
        id: args.id.clone(),
        pid,
        start_time: state::proc_stat(pid).map(|(_, t)| t).unwrap_or(0),
        bundle: bundle.to_path_buf(),
        cgroup_parent,
        cgroup_name,
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        created: state::now_rfc3339(),
    };
    let saved_ok = dir.save(&saved).and_then(|()| match &args.pid_file {
        Some(path) => super::write_pid_file(path, pid),
        None => Ok(()),
    });
    if let Err(error) = saved_ok {
        started.process.kill_and_reap();
        let _ = hierarchies::remove(&relative);
        return Err(error);
    }
    Ok((started, console))
}

/// A cgroup frozen before the container is even made would freeze it at its first step, and
/// `create` would wait forever: refused, as runc refuses it.
fn refuse_frozen(relative: &Path) -> Result<()> {
    let Some(dir) = hierarchies::freezer_dir(relative) else {
        return Ok(());
    };
    let state = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
    if state.trim() == "FROZEN" || state.trim() == "FREEZING" {
        bail!(
            "container's cgroup unexpectedly frozen: {} is {}",
            dir.display(),
            state.trim()
        );
    }
    Ok(())
}

/// Our standard streams, for the container to use as its own.
fn own_stdio() -> Result<Stdio> {
    let dup = |fd| -> Result<OwnedFd> {
        Ok(nix::unistd::dup(fd).map(|fd| unsafe {
            // SAFETY: dup just gave us this descriptor.
            std::os::fd::FromRawFd::from_raw_fd(fd)
        })?)
    };
    Ok(Stdio {
        stdin: Some(dup(0)?),
        stdout: dup(1)?,
        stderr: dup(2)?,
        terminal: None,
    })
}

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    match dir.status(&saved) {
        Status::Created => state::let_through(&dir.fifo()),
        Status::Stopped => bail!("cannot start a container that has stopped"),
        other => bail!("cannot start an already {} container", other.name()),
    }
}

/// `kill [--all] ID [SIGNAL]`. With `--all`, every process of the container's cgroup (none,
/// and no error, once it has stopped); signal 0 only checks that the process exists.
pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let signal = super::parse_signal(signal)?;
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    let status = dir.status(&saved);
    if all {
        let pids = super::list::cgroup_of(&saved)
            .map(|c| c.pids())
            .unwrap_or_default();
        for pid in pids {
            let _ = send(Pid::from_raw(pid), signal);
        }
        // A frozen process keeps a SIGKILL pending until thawed: let it die.
        if status == Status::Paused && signal == Some(Signal::SIGKILL) {
            super::pause::thaw(&saved)?;
        }
        return Ok(());
    }
    if status == Status::Stopped {
        bail!("container not running");
    }
    send(Pid::from_raw(saved.pid), signal).with_context(|| {
        let name = signal.map(|s| s.to_string()).unwrap_or("0".into());
        format!("kill({}, {name})", saved.pid)
    })
}

/// `delete [--force] ID`: a stopped (or only created) container's cgroups and state go; a
/// running or paused one needs `--force`, which kills it first. `--force` of a container
/// that does not exist succeeds, as runc's does (nothing is left to remove).
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = match dir.load(id) {
        Ok(saved) => saved,
        // A create that failed half way leaves a directory without state: --force clears it.
        Err(_) if force && dir.path.is_dir() => {
            std::fs::remove_dir_all(&dir.path)?;
            return Ok(());
        }
        Err(_) if force => return Ok(()),
        Err(error) => return Err(error),
    };
    let status = dir.status(&saved);
    if matches!(status, Status::Running | Status::Paused) && !force {
        bail!(
            "cannot delete container {id} that is not stopped: it is {} (stop it, or use --force)",
            status.name()
        );
    }
    if status != Status::Stopped {
        let _ = send(Pid::from_raw(saved.pid), Signal::SIGKILL);
        if status == Status::Paused {
            super::pause::thaw(&saved)?;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while dir.status(&saved) != Status::Stopped && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let layout = ch02_cgroups::delegation::layout_for_caller()?;
    let relative = Path::new(&saved.cgroup_parent).join(&saved.cgroup_name);
    // Sub-cgroups the container made in its own (a writable /sys/fs/cgroup) go first.
    for hierarchy in &layout.hierarchies {
        hierarchies::remove_children(&hierarchy.dir.join(&relative))?;
    }
    // Removing it also kills anything left in it (chapter 02's remove).
    if let Ok(mut cgroup) =
        ch02_cgroups::ContainerCgroup::adopt(&layout, &saved.cgroup_parent, &saved.cgroup_name)
    {
        cgroup.remove()?;
    }
    drop(runtime::adopt_devices(&relative));
    hierarchies::remove(&relative)?;
    if saved.cgroup_parent == hierarchies::DEFAULT_PARENT {
        for hierarchy in &layout.hierarchies {
            let _ = std::fs::remove_dir(hierarchy.dir.join(hierarchies::DEFAULT_PARENT));
        }
        let _ = std::fs::remove_dir(
            Path::new("/sys/fs/cgroup/devices").join(hierarchies::DEFAULT_PARENT),
        );
    }
    std::fs::remove_dir_all(&dir.path).with_context(|| format!("remove {}", dir.path.display()))
}

/// `run`: create and start; then, in the foreground, wait for the container (relaying its
/// terminal when it has one), delete it unless `--keep`, and exit with its code.
pub fn run(root: &Path, args: &RunArgs) -> Result<i32> {
    // Blocked before the container exists, so that no signal meant for it is lost.
    let forwarding = ch01_namespaces::signals::SignalForwarding::block()?;
    let (started, console) = create(root, &args.create, false, args.detach)?;
    let pid = started.process.pid();
    if let Some(devices) = started.devices {
        devices.release();
    }
    if args.detach {
        started.cgroup.release();
        return Ok(0);
    }
    let relay = match console.relay() {
        Ok(relay) => relay,
        Err(error) => {
            started.process.kill_and_reap();
            started.cgroup.release();
            let _ = delete(root, &args.create.id, true);
            return Err(error);
        }
    };
    let code = forwarding.wait(pid);
    drop(forwarding);
    if let Some(relay) = relay {
        relay.finish();
    }
    started.cgroup.release();
    if !args.keep {
        delete(root, &args.create.id, true)?;
    }
    Ok(code?)
}
