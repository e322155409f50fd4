//! `baleia`: a small Docker-compatible container engine built from the course's chapters.
//!
//! One binary, four roles, each its own crate (read capstone/README.md for how they fit):
//!
//! ```text
//! baleia run / ps / logs ...          the client            baleia-client
//! baleia daemon [-H unix:///...]      the daemon            baleia-daemon
//! baleia shim ID        (hidden)      the supervisor        baleia-supervisor
//! baleia runtime ... / baleia-runtime the runtime           baleia-runtime
//! ```
//!
//! The daemon starts supervisors and helpers by running this same binary again
//! (`/proc/self/exe shim ID`, `exec-process`, `build-process`); this file only picks the role.

use baleia_client::cli_completion::{completion, manpages};
use baleia_daemon::{daemon, engine};
use baleia_runtime::oci;
use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "baleia",
    version,
    about = "A small Docker-compatible engine built from the baleia course's chapters"
)]
struct Cli {
    /// The daemon's socket (an ordinary user's: $XDG_RUNTIME_DIR/baleia/baleia.sock).
    #[arg(short = 'H', long, global = true, env = "BALEIA_HOST", default_value_t = baleia_wire::default_host())]
    host: String,
    /// The state root (containers, images, layers; an ordinary user's:
    /// $XDG_DATA_HOME/baleia).
    #[arg(long, global = true, env = "BALEIA_ROOT", default_value_os_t = ch03_overlayfs::cli::default_root())]
    root: PathBuf,
    /// Narrate every kernel-level step (the daemon passes it on to supervisors, whose
    /// narration goes to each container's shim.log).
    #[arg(long, global = true)]
    explain: bool,
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Serve the Docker Engine API on a unix socket.
    Daemon {
        /// The cgroup parent of every container's cgroup.
        #[arg(long, default_value = ch02_cgroups::DEFAULT_PARENT)]
        cgroup_parent: String,
        /// Who makes containers' cgroups: `cgroupfs` (the daemon, under --cgroup-parent from
        /// the hierarchy's root, as dockerd's cgroupfs driver). dockerd's `systemd` driver
        /// (transient scopes over D-Bus) is not supported: asking for it is an error.
        #[arg(long, default_value = "cgroupfs")]
        cgroup_driver: String,
        /// The default network's bridge, made on first use (as dockerd's -b); `none`: no
        /// default network, containers without --network get a loopback only. Without it:
        /// baleia0 for the default root, baleia-<8 hex digits of the root's hash> for another.
        #[arg(short = 'b', long, env = "BALEIA_BRIDGE")]
        bridge: Option<String>,
        /// The default bridge's address and prefix (as dockerd's --bip). Without it: the first
        /// free of 10.77.0.0/16, 10.79.0.0/16 ... 10.99.0.0/16.
        #[arg(long, env = "BALEIA_BIP")]
        bip: Option<String>,
        /// The host address of ports published without one (as dockerd's --ip).
        #[arg(long, default_value = "0.0.0.0")]
        ip: std::net::IpAddr,
        /// The group that may use the socket besides root (if it exists), as dockerd's -G.
        #[arg(short = 'G', long, default_value = "baleia")]
        group: String,
        /// Seconds a client may stay silent in the middle of a request (or idle between
        /// requests) before the daemon closes its connection.
        #[arg(long, default_value_t = 30.0)]
        client_timeout: f64,
    },
    /// The OCI runtime (runc's command line: create, start, state, kill, delete, run, exec,
    /// ps, features); also run as `baleia-runtime`. See `baleia runtime --help`.
    Runtime {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// (internal) Supervise one container: started by the daemon.
    #[command(hide = true)]
    Shim { id: String },
    /// (internal) Run a command in a running container: started by the daemon for `exec`.
    #[command(hide = true)]
    ExecProcess {
        #[arg(long)]
        target: i32,
        #[arg(long)]
        uid: u32,
        #[arg(long)]
        gid: u32,
        #[arg(long)]
        cwd: PathBuf,
        #[arg(long = "env")]
        env: Vec<String>,
        #[arg(long)]
        tty: bool,
        /// The terminal's first size, ROWSxCOLUMNS (the exec's `ConsoleSize`).
        #[arg(long, value_parser = baleia_wire::terminal::parse_console_size)]
        console_size: Option<(u16, u16)>,
        /// The container's bundle: its spec's security applies to the process.
        #[arg(long)]
        bundle: Option<PathBuf>,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// (internal) Run chapter 05's builder for `POST /build`: started by the daemon.
    #[command(hide = true)]
    BuildProcess(engine::build::ProcessArgs),
    /// The client's commands: run, ps, logs, images...
    #[command(flatten)]
    Client(baleia_client::Command),
    /// Print a shell completion script: `baleia completion bash > /etc/bash_completion.d/baleia`.
    Completion { shell: clap_complete::Shell },
    /// Write man pages (baleia.1, baleia-run.1, ...) into a directory.
    #[command(hide = true)]
    Manpages { dir: PathBuf },
}

fn main() {
    // `baleia-runtime ...` or `baleia runtime ...`: the OCI runtime's own command line.
    if let Some(args) = oci::wanted(&std::env::args().collect::<Vec<_>>()) {
        oci::main(args)
    }
    // Usage errors exit with 125, as docker's do.
    let cli: Cli = ch01_namespaces::cli::parse_or_exit();
    if cli.explain {
        ch01_namespaces::explain::enable();
    }
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            let code = error
                .downcast_ref::<baleia_client::Exit>()
                .map_or(125, |e| e.code);
            eprintln!("baleia: {error:#}");
            std::process::exit(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.role {
        Role::Daemon {
            cgroup_parent,
            cgroup_driver,
            bridge,
            bip,
            ip,
            group,
            client_timeout,
        } => {
            daemon::check_cgroup_driver(&cgroup_driver)?;
            daemon::run(daemon::Options {
                root: cli.root,
                socket: baleia_wire::socket_path(&cli.host)?,
                cgroup_parent,
                bridge,
                bip,
                ip,
                group,
                limits: baleia_wire::http::Limits {
                    timeout: std::time::Duration::from_secs_f64(client_timeout.max(0.1)),
                    ..Default::default()
                },
            })?;
            Ok(0)
        }
        Role::Runtime { args } => oci::main(
            std::iter::once("baleia-runtime".to_string())
                .chain(args)
                .collect(),
        ),
        Role::Shim { id } => baleia_supervisor::shim::main(&cli.root, &id),
        Role::ExecProcess {
            target,
            uid,
            gid,
            cwd,
            env,
            tty,
            console_size,
            bundle,
            command,
        } => match baleia_runtime::exec_in(
            bundle.as_deref(),
            target,
            &command,
            env,
            cwd,
            (uid, gid),
            (tty, console_size),
        ) {
            Ok(code) => Ok(code),
            Err(error) => {
                let code = error
                    .downcast_ref::<ch01_namespaces::Error>()
                    .map_or(126, ch01_namespaces::Error::exit_code);
                eprintln!("baleia exec: {error:#}");
                Ok(code)
            }
        },
        Role::BuildProcess(args) => engine::build::process(&cli.root, args),
        Role::Client(command) => baleia_client::dispatch(&cli.host, &cli.root, command),
        // From the whole command line, every role's commands included.
        Role::Completion { shell } => completion(Cli::command(), shell),
        Role::Manpages { dir } => manpages(Cli::command(), &dir),
    }
}
