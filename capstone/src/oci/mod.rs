//! `baleia runtime`: the OCI runtime command line (runc's), so that podman, containerd or
//! CRI-O can run containers with baleia's runtime. Also run as `baleia-runtime` (a symlink
//! to the `baleia` binary: the name it is called by picks this command line).
//!
//! The life cycle of the runtime spec (`runtime.md`, "Lifecycle"):
//!
//! ```text
//! create ID     set the container up (namespaces, cgroup, root, security) from
//!               BUNDLE/config.json; its first process waits just before execve  → created
//! start ID      let it execve the spec's program                              → running
//! kill ID SIG   signal it; once its first process has exited                   → stopped
//! delete ID     remove what is left (cgroup, state)
//! ```
//!
//! `create` returns while the container waits: its first process waits for a byte on the
//! FIFO `exec.fifo`, which `start` writes (see [`state`]). The container is
//! set up by [`crate::runtime::start_with_options`], the very function the engine's supervisor
//! uses (through `start_with`).
//! After `create` exits, the container's first process is reparented: to init, or to
//! whoever called us if it is a "child subreaper" (prctl(2) `PR_SET_CHILD_SUBREAPER`), which
//! is how podman's conmon and containerd's shim collect its exit code.

mod exec;
pub mod state;

use crate::runtime::{self, Options, Stdio};
use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use state::{Dir, Saved, Status};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The version of the runtime spec we implement.
pub const OCI_VERSION: &str = "1.0.2";

#[derive(Parser)]
#[command(
    name = "baleia-runtime",
    version,
    about = "baleia's OCI runtime (runc's command line)"
)]
pub struct RuntimeCli {
    /// Where containers' state is kept.
    #[arg(long, default_value = "/run/baleia-runtime")]
    root: PathBuf,
    /// Also write errors to this file.
    #[arg(long)]
    log: Option<PathBuf>,
    /// text or json (runc's log lines: {"level","msg","time"}).
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Use systemd's cgroup manager (not supported: a clear error).
    #[arg(long)]
    systemd_cgroup: bool,
    /// Accepted for runc's sake; more detail goes to --explain.
    #[arg(long)]
    debug: bool,
    /// Narrate every kernel-level step on standard error.
    #[arg(long)]
    explain: bool,
    #[command(subcommand)]
    command: RuntimeCommand,
}

#[derive(clap::Args)]
struct CreateArgs {
    /// The bundle: config.json and the root file system.
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the container's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// With process.terminal: send the terminal's master side to this unix socket.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Descriptors above 2 to pass on (none are: 0 is the only value accepted).
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Accepted: this runtime never makes a session keyring.
    #[arg(long)]
    no_new_keyring: bool,
    id: String,
}

#[derive(Subcommand)]
enum RuntimeCommand {
    /// Set a container up; its program waits for `start`.
    Create(CreateArgs),
    /// Run the program of a created container.
    Start { id: String },
    /// The container's state, as the spec's JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's first process.
    Kill {
        /// To every process in the container's cgroup.
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Remove a stopped container (any container, killing it, with --force).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// create + start, then wait for it and exit with its code (then delete it).
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once started.
        #[arg(short, long)]
        detach: bool,
        /// Do not delete the container when it exits.
        #[arg(long)]
        keep: bool,
    },
    /// Run another process in a running container.
    Exec(exec::ExecArgs),
    /// The container's processes.
    Ps {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// The containers this root knows, as JSON.
    List,
    /// What this runtime supports, as the spec's features JSON.
    Features,
}

/// True when we were run as `baleia-runtime` (or `baleia runtime`): `args` is then what
/// follows the program name.
pub fn wanted(argv: &[String]) -> Option<Vec<String>> {
    let program = argv
        .first()
        .map(|a| Path::new(a).file_name().unwrap_or_default());
    if program.is_some_and(|p| p == "baleia-runtime") {
        return Some(argv.to_vec());
    }
    if argv.get(1).map(String::as_str) == Some("runtime") {
        let mut rest = vec!["baleia-runtime".to_string()];
        rest.extend(argv[2..].iter().cloned());
        return Some(rest);
    }
    None
}

/// Parse, run, exit: errors go to standard error and, with `--log`, to the log file (podman
/// reads its runtime's errors from there).
pub fn main(args: Vec<String>) -> ! {
    let cli = match RuntimeCli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            std::process::exit(if error.use_stderr() { 1 } else { 0 })
        }
    };
    if cli.explain {
        ch01_namespaces::explain::enable();
    }
    let log = cli.log.clone();
    let json = cli.log_format == "json";
    match dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            let message = format!("{error:#}");
            eprintln!("baleia-runtime: {message}");
            if let Some(path) = log {
                if let Ok(mut file) = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                {
                    let line = if json {
                        serde_json::json!({
                            "level": "error",
                            "msg": message,
                            "time": state::now_rfc3339(),
                        })
                        .to_string()
                    } else {
                        format!("error: {message}")
                    };
                    let _ = writeln!(file, "{line}");
                }
            }
            std::process::exit(1)
        }
    }
}

fn dispatch(cli: RuntimeCli) -> Result<i32> {
    let root = cli.root;
    let refuse_systemd = || -> Result<()> {
        if cli.systemd_cgroup {
            bail!(
                "--systemd-cgroup is not supported: this runtime manages cgroups itself (cgroupfs)"
            );
        }
        Ok(())
    };
    match cli.command {
        RuntimeCommand::Create(args) => {
            refuse_systemd()?;
            // The container outlives us: its cgroup stays (`delete` removes it).
            let started = create(&root, &args, true, true)?;
            started.cgroup.release();
            if let Some(devices) = started.devices {
                devices.release();
            }
            Ok(0)
        }
        RuntimeCommand::Start { id } => start(&root, &id).map(|()| 0),
        RuntimeCommand::State { id } => {
            let dir = Dir::of(&root, &id)?;
            let saved = dir.load(&id)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&state_json(&dir, &saved))?
            );
            Ok(0)
        }
        RuntimeCommand::Kill { all, id, signal } => {
            kill_container(&root, &id, signal.as_deref().unwrap_or("SIGTERM"), all).map(|()| 0)
        }
        RuntimeCommand::Delete { force, id } => delete(&root, &id, force).map(|()| 0),
        RuntimeCommand::Run {
            create: args,
            detach,
            keep,
        } => {
            refuse_systemd()?;
            run(&root, &args, detach, keep)
        }
        RuntimeCommand::Exec(args) => exec::exec(&root, &args),
        RuntimeCommand::Ps {
            format,
            id,
            ps_args,
        } => ps(&root, &id, &format, &ps_args).map(|()| 0),
        RuntimeCommand::List => {
            let mut all = Vec::new();
            for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                let dir = Dir::of(&root, &id)?;
                if let Ok(saved) = dir.load(&id) {
                    all.push(state_json(&dir, &saved));
                }
            }
            println!("{}", serde_json::Value::Array(all));
            Ok(0)
        }
        RuntimeCommand::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
    }
}

/// The spec's state JSON (`runtime.md`, "State").
fn state_json(dir: &Dir, saved: &Saved) -> serde_json::Value {
    let status = dir.status(saved);
    serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": saved.id,
        "status": status.name(),
        "pid": if status == Status::Stopped { 0 } else { saved.pid },
        "bundle": saved.bundle,
        "rootfs": saved.bundle.join("rootfs"),
        "created": saved.created,
        "annotations": saved.annotations,
        "owner": "",
    })
}

fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    Spec::load(&path).with_context(|| format!("load {}", path.display()))
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

/// The console socket's connection, when the spec wants a terminal.
fn console(spec: &Spec, socket: Option<&Path>) -> Result<Option<std::os::unix::net::UnixStream>> {
    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    match (terminal, socket) {
        (true, Some(path)) => Ok(Some(
            std::os::unix::net::UnixStream::connect(path)
                .with_context(|| format!("connect to the console socket {}", path.display()))?,
        )),
        (true, None) => bail!("process.terminal is true: give --console-socket"),
        (false, Some(_)) => bail!("--console-socket needs process.terminal in the spec"),
        (false, None) => Ok(None),
    }
}

/// `create` (gate: wait for `start`) or the first half of `run` (no gate). Returns the
/// started container (its cgroup released: it outlives us unless `run` deletes it).
fn create(root: &Path, args: &CreateArgs, gate: bool, detached: bool) -> Result<runtime::Started> {
    if args.preserve_fds != 0 {
        bail!("--preserve-fds is not supported");
    }
    let bundle = std::fs::canonicalize(&args.bundle)
        .with_context(|| format!("bundle {}", args.bundle.display()))?;
    let spec = load_spec(&bundle)?;
    let dir = Dir::of(root, &args.id)?;
    std::fs::create_dir_all(root).with_context(|| format!("mkdir {}", root.display()))?;
    if let Err(error) = std::fs::create_dir(&dir.path) {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            bail!("container {} already exists", args.id);
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
) -> Result<runtime::Started> {
    let mut stdio = own_stdio()?;
    stdio.terminal = console(spec, args.console_socket.as_deref())?;
    let default_cgroup = PathBuf::from(format!("/baleia-runtime/{}", args.id));
    let options = Options {
        extra: runtime::Extra::default(),
        default_cgroup: Some(default_cgroup.clone()),
        detached,
        start_fifo: if gate {
            Some(state::make_fifo(&dir.fifo())?)
        } else {
            None
        },
    };
    let started = runtime::start_with_options(spec, bundle, stdio, options)?;
    let pid = started.process.pid().as_raw();
    let (cgroup_parent, cgroup_name) = runtime::cgroup_path(spec, Some(&default_cgroup))?;
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
        Some(path) => write_pid_file(path, pid),
        None => Ok(()),
    });
    if let Err(error) = saved_ok {
        started.process.kill_and_reap();
        return Err(error);
    }
    Ok(started)
}

/// Written whole, then renamed into place: a reader never sees half a pid.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let temp = path.with_extension("baleia-tmp");
    std::fs::write(&temp, pid.to_string()).with_context(|| format!("write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("rename to {}", path.display()))
}

fn start(root: &Path, id: &str) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    match dir.status(&saved) {
        Status::Created => state::let_through(&dir.fifo()),
        other => bail!("cannot start a container that is {}", other.name()),
    }
}

/// `SIGKILL`, `KILL`, `kill` or `9`.
fn parse_signal(text: &str) -> Result<Signal> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).with_context(|| format!("unknown signal {text}"));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).with_context(|| format!("unknown signal {text}"))
}

fn cgroup_of(saved: &Saved) -> Result<ch02_cgroups::ContainerCgroup> {
    let layout = ch02_cgroups::Layout::detect()?;
    Ok(ch02_cgroups::ContainerCgroup::open(
        &layout,
        &saved.cgroup_parent,
        &saved.cgroup_name,
    )?)
}

fn kill_container(root: &Path, id: &str, signal: &str, all: bool) -> Result<()> {
    let signal = parse_signal(signal)?;
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    if dir.status(&saved) == Status::Stopped {
        bail!("container {id} is not running");
    }
    if all {
        for pid in cgroup_of(&saved)?.pids() {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        return Ok(());
    }
    kill(Pid::from_raw(saved.pid), signal).with_context(|| format!("kill({}, {signal})", saved.pid))
}

fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = match dir.load(id) {
        Ok(saved) => saved,
        // A create that failed half way leaves a directory without state: --force clears it.
        Err(_) if force && dir.path.is_dir() => {
            std::fs::remove_dir_all(&dir.path)?;
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    let status = dir.status(&saved);
    if status != Status::Stopped {
        if !force {
            bail!(
                "cannot delete container {id} that is {}: stop it, or use --force",
                status.name()
            );
        }
        let _ = kill(Pid::from_raw(saved.pid), Signal::SIGKILL);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while dir.status(&saved) != Status::Stopped && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let layout = ch02_cgroups::Layout::detect()?;
    // Removing it also kills anything left in it (chapter 02's remove).
    if let Ok(mut cgroup) =
        ch02_cgroups::ContainerCgroup::adopt(&layout, &saved.cgroup_parent, &saved.cgroup_name)
    {
        cgroup.remove()?;
    }
    let relative = Path::new(&saved.cgroup_parent).join(&saved.cgroup_name);
    drop(runtime::adopt_devices(&relative));
    if saved.cgroup_parent == "baleia-runtime" {
        for hierarchy in &layout.hierarchies {
            let _ = std::fs::remove_dir(hierarchy.dir.join("baleia-runtime"));
        }
        let _ = std::fs::remove_dir("/sys/fs/cgroup/devices/baleia-runtime");
    }
    std::fs::remove_dir_all(&dir.path).with_context(|| format!("remove {}", dir.path.display()))
}

fn run(root: &Path, args: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    // Blocked before the container exists, so that no signal meant for it is lost.
    let forwarding = ch01_namespaces::signals::SignalForwarding::block()?;
    let started = create(root, args, false, detach)?;
    let pid = started.process.pid();
    if let Some(devices) = started.devices {
        devices.release();
    }
    if detach {
        started.cgroup.release();
        return Ok(0);
    }
    let code = forwarding.wait(pid);
    drop(forwarding);
    started.cgroup.release();
    if !keep {
        delete(root, &args.id, true)?;
    }
    Ok(code?)
}

fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    let pids = cgroup_of(&saved).map(|c| c.pids()).unwrap_or_default();
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids)?);
            Ok(())
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let output = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            let text = String::from_utf8_lossy(&output.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let column = header
                .split_whitespace()
                .position(|h| h == "PID")
                .context("ps printed no PID column")?;
            println!("{header}");
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(column)
                    .and_then(|p| p.parse().ok());
                if pid.is_some_and(|p: i32| pids.contains(&p)) {
                    println!("{line}");
                }
            }
            Ok(())
        }
        other => bail!("unknown format {other:?}: table or json"),
    }
}

/// `features.md` of the runtime spec: what this runtime understands.
fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": [],
        "mountOptions": ["bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "private", "rprivate"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"],
                "operators": ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"],
                "archs": ["SCMP_ARCH_X86_64"],
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
        },
        "annotations": { "org.baleia.runtime": "baleia runtime, chapters 01-03" },
    })
}
