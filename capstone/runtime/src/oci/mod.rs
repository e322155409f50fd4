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
//! set up by [`crate::start_with_options`], the very function the engine's supervisor
//! uses (through `start_with`).
//! After `create` exits, the container's first process is reparented: to init, or to
//! whoever called us if it is a "child subreaper" (prctl(2) `PR_SET_CHILD_SUBREAPER`), which
//! is how podman's conmon and containerd's shim collect its exit code.
//!
//! Beyond the life cycle, runc's other commands: `spec` (a starter config.json), `list`, `ps`,
//! `pause`/`resume` (the freezer), `events` (cgroup statistics), `update` (resources of a
//! running container), `exec`. Where we differ from runc on purpose, docs/compat.md says so.

mod console;
mod events;
mod exec;
mod help;
mod hierarchies;
mod lifecycle;
mod list;
pub mod pause;
mod spec;
pub mod state;
pub(crate) mod update;

use anyhow::{bail, Context, Result};
use clap::{FromArgMatches, Parser, Subcommand};
use nix::sys::signal::Signal;
use oci_spec::runtime::Spec;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The version of the runtime spec we implement.
pub const OCI_VERSION: &str = "1.0.2";

#[derive(Parser)]
#[command(
    name = "baleia-runtime",
    about = help::ABOUT,
    disable_version_flag = true,
    help_template = help::MAIN_TEMPLATE,
    subcommand_help_heading = "COMMANDS",
)]
pub struct RuntimeCli {
    /// Where containers' state is kept.
    #[arg(long, default_value = "/run/baleia-runtime")]
    root: PathBuf,
    /// Also write errors (and, with --debug, the steps) to this file instead of stderr.
    #[arg(long)]
    log: Option<PathBuf>,
    /// text or json (runc's log lines: {"level","msg","time"}).
    #[arg(long, default_value = "text")]
    log_format: String,
    /// Use systemd's cgroup manager (not supported: a clear error).
    #[arg(long)]
    systemd_cgroup: bool,
    /// Log every kernel-level step, as level=debug lines (to --log when given).
    #[arg(long)]
    debug: bool,
    /// Narrate every kernel-level step on standard error, as the course's chapters do.
    #[arg(long)]
    explain: bool,
    /// runc's "rootless" switch (true, false or auto): accepted, we decide from the spec.
    #[arg(long)]
    rootless: Option<String>,
    /// The version lines (runc's format).
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<RuntimeCommand>,
}

#[derive(Subcommand)]
enum RuntimeCommand {
    /// create a container, its program waiting for `start` (as runc create)
    Create(lifecycle::CreateArgs),
    /// executes the user defined process in a created container (as runc start)
    Start { id: String },
    /// output the state of a container (as runc state)
    State { id: String },
    /// kill sends the specified signal (default: SIGTERM) to the container's init process (as runc kill)
    Kill {
        /// Send the signal to all processes in the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// delete any resources held by the container (as runc delete)
    Delete {
        /// Kill the container first if it runs; succeed if it does not exist.
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// create and run a container (as runc run)
    Run(lifecycle::RunArgs),
    /// execute new process inside the container (as runc exec)
    Exec(exec::ExecArgs),
    /// ps displays the processes running inside a container (as runc ps)
    Ps {
        /// table or json.
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// lists containers started with the given root (as runc list)
    List(list::ListArgs),
    /// create a new specification file, config.json (as runc spec)
    Spec(spec::SpecArgs),
    /// suspend all processes inside the container (as runc pause)
    Pause { id: String },
    /// resumes all processes that have been previously paused (as runc resume)
    Resume { id: String },
    /// display container events such as OOM notifications and resource statistics (as runc events)
    Events(events::EventsArgs),
    /// update container resource constraints (as runc update)
    Update(update::UpdateArgs),
    /// checkpoint a running container: not supported, no CRIU here (as runc checkpoint)
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// restore a container from a checkpoint: not supported, no CRIU here (as runc restore)
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// what this runtime supports, as the spec's features JSON (as runc features)
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

/// Where errors and `--debug` lines go: standard error, or the `--log` file in runc's text
/// (`time="…" level=… msg="…"`) or JSON format (podman reads its runtime's errors there).
/// The file is opened once, at the start: the container's process writes its `--debug`
/// lines there too, from inside its new root where the file's path means nothing.
#[derive(Clone)]
struct Log {
    file: Option<std::sync::Arc<std::fs::File>>,
    json: bool,
}

impl Log {
    fn line(&self, level: &str, message: &str) -> String {
        let time = state::now_rfc3339();
        if self.json {
            serde_json::json!({"level": level, "msg": message, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={message:?}")
        }
    }

    fn write(&self, level: &str, message: &str) {
        let line = format!("{}\n", self.line(level, message));
        let written = self
            .file
            .as_ref()
            .is_some_and(|file| file.as_ref().write_all(line.as_bytes()).is_ok());
        if !written {
            eprint!("{line}");
        }
    }
}

/// Parse, run, exit: errors go to standard error (and to the `--log` file). The exit code is
/// runc's: 1 for a failed command, 255 for a failed `exec` (its own program's code otherwise).
pub fn main(args: Vec<String>) -> ! {
    let parsed = help::command()
        .try_get_matches_from(&args)
        .and_then(|matches| RuntimeCli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(error) => std::process::exit(help::parse_error(&args, error)),
    };
    if cli.version {
        help::print_version();
        std::process::exit(0);
    }
    let file = cli.log.as_ref().and_then(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    });
    let log = Log {
        file: file.map(std::sync::Arc::new),
        json: cli.log_format == "json",
    };
    if cli.explain {
        ch01_namespaces::explain::enable();
    } else if cli.debug {
        let log = log.clone();
        ch01_namespaces::explain::enable_with(move |message| log.write("debug", message));
    }
    let failed_code = match cli.command {
        Some(RuntimeCommand::Exec(_)) => 255,
        _ => 1,
    };
    match dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            log.write("error", &format!("{error:#}"));
            std::process::exit(failed_code)
        }
    }
}

fn dispatch(cli: RuntimeCli) -> Result<i32> {
    let root = cli.root;
    let Some(command) = cli.command else {
        help::print_main();
        return Ok(0);
    };
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup is not supported: this runtime manages cgroups itself (cgroupfs)");
    }
    match command {
        RuntimeCommand::Create(args) => lifecycle::create_command(&root, &args).map(|()| 0),
        RuntimeCommand::Start { id } => lifecycle::start(&root, &id).map(|()| 0),
        RuntimeCommand::State { id } => list::state(&root, &id).map(|()| 0),
        RuntimeCommand::Kill { all, id, signal } => {
            lifecycle::kill(&root, &id, signal.as_deref().unwrap_or("SIGTERM"), all).map(|()| 0)
        }
        RuntimeCommand::Delete { force, id } => lifecycle::delete(&root, &id, force).map(|()| 0),
        RuntimeCommand::Run(args) => lifecycle::run(&root, &args),
        RuntimeCommand::Exec(args) => exec::exec(&root, &args),
        RuntimeCommand::Ps {
            format,
            id,
            ps_args,
        } => list::ps(&root, &id, &format, &ps_args).map(|()| 0),
        RuntimeCommand::List(args) => list::list(&root, &args).map(|()| 0),
        RuntimeCommand::Spec(args) => spec::write(&args).map(|()| 0),
        RuntimeCommand::Pause { id } => pause::pause(&root, &id).map(|()| 0),
        RuntimeCommand::Resume { id } => pause::resume(&root, &id).map(|()| 0),
        RuntimeCommand::Events(args) => events::events(&root, &args).map(|()| 0),
        RuntimeCommand::Update(args) => update::update(&root, &args).map(|()| 0),
        RuntimeCommand::Checkpoint { .. } | RuntimeCommand::Restore { .. } => {
            bail!("checkpoint and restore are not supported by this runtime (they need CRIU)")
        }
        RuntimeCommand::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            Ok(0)
        }
    }
}

fn load_spec(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    Spec::load(&path).with_context(|| format!("load {}", path.display()))
}

/// Written whole, then renamed into place: a reader never sees half a pid.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let temp = path.with_extension("baleia-tmp");
    std::fs::write(&temp, pid.to_string()).with_context(|| format!("write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("rename to {}", path.display()))
}

/// `SIGKILL`, `KILL`, `kill` or `9`; `0` (no signal: kill(2) only checks that the process is
/// there) is `None`.
fn parse_signal(text: &str) -> Result<Option<Signal>> {
    if text == "0" {
        return Ok(None);
    }
    ch01_namespaces::common::parse_signal(text)
        .map(Some)
        .with_context(|| format!("unknown signal {text}"))
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
