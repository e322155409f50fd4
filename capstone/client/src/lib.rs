//! The client: `baleia run`, `ps`, `logs`... the docker-like command line. It only speaks
//! HTTP to the daemon's socket (starting a daemon if none answers): nothing here runs a
//! container or reads the engine's state.
//!
//! ```text
//! baleia run hello-world                 the client; starts a daemon if none runs
//! baleia run -d --name web busybox httpd -f
//! baleia ps / logs / stop / rm / images / rmi / tag / inspect / history / tree / info
//! DOCKER_HOST=unix:///run/baleia/baleia.sock docker ps   the real docker CLI works too
//! ```
//!
//! [`Command`] is its command line; the `baleia` binary's main.rs adds the other roles'
//! commands (`daemon`, `runtime` and the hidden ones) and hands the rest to [`dispatch`].

// `cli::RunFlags::body` builds the whole create body in one `json!`, deeper than the default.
#![recursion_limit = "256"]

mod check;
mod cli;
mod cli_attach;
mod cli_build;
pub mod cli_completion;
mod cli_cp;
mod cli_events;
mod cli_format;
mod cli_import;
mod cli_login;
mod cli_logs;
mod cli_progress;
mod cli_signals;
mod cli_stats;
mod cli_system;
mod client;
mod client_terminal;
mod hints;
mod template;

// The shared modules, under the names the client's modules use.
use baleia_wire::{body, http, logs, stdin, terminal, time};

pub use cli::Exit;

use anyhow::Result;
use clap::Subcommand;
use client::Client;
use std::path::{Path, PathBuf};

/// `volume ...`, as `docker volume`.
#[derive(Subcommand)]
pub enum VolumeCommand {
    /// Make a volume (a random name without one).
    Create { name: Option<String> },
    /// List the volumes.
    Ls {
        #[arg(short, long)]
        quiet: bool,
        /// A Go template for each volume (`table ...` for columns): .Name, .Driver, ...
        #[arg(long)]
        format: Option<String>,
    },
    /// Show volumes as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove volumes (refused while a container uses one).
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove the unused anonymous volumes (all unused ones with --all).
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Accepted for docker's sake: baleia does not ask.
        #[arg(short, long)]
        force: bool,
    },
}

/// `network ...`, as `docker network`.
#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Make a bridge network.
    Create {
        name: String,
        /// Its subnet (default: the first free 10.78.N.0/24).
        #[arg(long)]
        subnet: Option<String>,
        /// Driver options; `com.docker.network.bridge.name=IFNAME` names the bridge.
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
        options: Vec<String>,
    },
    /// List the networks.
    Ls {
        #[arg(short, long)]
        quiet: bool,
        /// A Go template for each network (`table ...` for columns): .ID, .Name, ...
        #[arg(long)]
        format: Option<String>,
    },
    /// Show networks as JSON.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove networks (refused while containers are attached).
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `system ...`, as `docker system`.
#[derive(Subcommand)]
pub enum SystemCommand {
    /// Check the image store and the engine's state for damage (exit 1 if damaged).
    Check,
    /// What images, containers and volumes take on disk.
    Df,
    /// Remove stopped containers, unused networks, dangling (with -a: unused) images, and with
    /// --volumes unused anonymous volumes.
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(long)]
        volumes: bool,
        /// Do not ask.
        #[arg(short, long)]
        force: bool,
    },
}

/// `container prune`.
#[derive(Subcommand)]
pub enum ContainerCommand {
    /// Remove every stopped container.
    Prune {
        #[arg(short, long)]
        force: bool,
    },
}

/// `image prune`.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// Remove dangling images (with -a: every image no container uses).
    Prune {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        force: bool,
    },
}

/// The client's commands.
#[derive(Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile and a context directory (chapter 05).
    Build(cli_build::BuildFlags),
    /// Copy files between a container and the host: CONTAINER:SRC DEST, or SRC CONTAINER:DEST.
    Cp { src: String, dest: String },
    /// What happens to containers, images, volumes and networks, as it happens.
    Events {
        /// Since when: unix seconds, or a duration back from now (10m).
        #[arg(long)]
        since: Option<String>,
        /// Until when (then stop).
        #[arg(long)]
        until: Option<String>,
        /// KEY=VALUE: type, event, container, image, volume, network.
        #[arg(short, long = "filter")]
        filters: Vec<String>,
        /// A Go template for each event: {{.Type}} {{.Action}} {{.Actor.ID}}, or `json`.
        #[arg(long)]
        format: Option<String>,
    },
    /// The engine as a whole: `system df`, `system prune`, `system check`.
    #[command(subcommand)]
    System(SystemCommand),
    /// `container prune`: remove every stopped container.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// `image prune [-a]`: remove unused images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Log in to a registry; the credentials go into the client's config.
    Login {
        #[arg(short, long)]
        username: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        server: String,
    },
    /// Make a one-layer image from a root file system tar (FILE, or - for stdin).
    Import {
        file: String,
        reference: Option<String>,
        /// A Dockerfile instruction for the config (CMD, ENTRYPOINT, ENV, WORKDIR, USER…).
        #[arg(short, long = "change")]
        changes: Vec<String>,
        #[arg(short, long)]
        message: Option<String>,
    },
    /// The processes of a container.
    Top { container: String },
    /// A container's published ports: `80/tcp -> 127.0.0.1:8080`.
    Port {
        container: String,
        /// Only this one: PORT[/PROTO].
        port: Option<String>,
    },
    /// What containers use, live (`--no-stream`: one table).
    Stats(cli_stats::StatsFlags),
    /// Run a command in a running container.
    Exec {
        /// Pass our standard input.
        #[arg(short, long)]
        interactive: bool,
        /// A terminal.
        #[arg(short, long)]
        tty: bool,
        #[arg(short, long = "env")]
        env: Vec<String>,
        #[arg(short, long)]
        workdir: Option<String>,
        #[arg(short, long)]
        user: Option<String>,
        /// The keys that detach from the exec's terminal and leave it running.
        #[arg(long, value_name = "KEYS")]
        detach_keys: Option<String>,
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Attach our terminal (or standard streams) to a running container.
    Attach(cli_attach::AttachFlags),
    /// Create and run a container.
    Run(Box<cli::RunFlags>),
    /// Create a container without starting it; print its id.
    Create(Box<cli::RunFlags>),
    /// Start created or stopped containers (in the background).
    Start {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Stop, then start containers.
    Restart {
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// List containers.
    Ps {
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        quiet: bool,
        #[arg(long)]
        no_trunc: bool,
        /// KEY=VALUE: status, name, id, ancestor, exited, label.
        #[arg(short, long = "filter")]
        filters: Vec<String>,
        /// A Go template for each container (`table ...` for columns): .ID, .Names, .Status, ...
        #[arg(long)]
        format: Option<String>,
    },
    /// A container's output.
    Logs {
        container: String,
        #[arg(short, long)]
        follow: bool,
        #[arg(short = 'n', long)]
        tail: Option<String>,
        #[arg(short, long)]
        timestamps: bool,
        /// From when: unix seconds, or a duration back from now (10m).
        #[arg(long)]
        since: Option<String>,
        /// Until when (with -f: stop then).
        #[arg(long)]
        until: Option<String>,
    },
    /// Stop containers: their stop signal, then SIGKILL after a timeout.
    Stop {
        #[arg(short = 't', long = "time")]
        time: Option<i64>,
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Change containers' limits and restart policy (a running one's at once).
    Update(cli::UpdateFlags),
    /// Send a signal to containers (default SIGKILL).
    Kill {
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers.
    Rm {
        #[arg(short, long)]
        force: bool,
        /// Remove their anonymous volumes too.
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Wait for containers to end; print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Low-level information on containers or images, as JSON.
    Inspect {
        /// A Go template run on each object's JSON: {{.State.Status}}, {{json .Config}}.
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// List images.
    Images {
        #[arg(short, long)]
        quiet: bool,
        /// A Go template for each image (`table ...` for columns): .Repository, .Tag, .ID, ...
        #[arg(long)]
        format: Option<String>,
        reference: Option<String>,
    },
    /// Remove images.
    Rmi {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Give an image another name.
    Tag { source: String, target: String },
    /// Pull an image from a registry (chapter 06): NAME[:TAG] or NAME@DIGEST.
    Pull {
        /// Print only the image's full name, no progress.
        #[arg(short, long)]
        quiet: bool,
        reference: String,
    },
    /// Push an image to the registry its name says (chapter 06): NAME[:TAG].
    Push {
        /// Print only the image's full name, no progress.
        #[arg(short, long)]
        quiet: bool,
        reference: String,
    },
    /// Named volumes: create, ls, inspect, rm, prune (chapter 07).
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Bridge networks: create, ls, inspect, rm (chapter 07).
    #[command(subcommand)]
    Network(NetworkCommand),
    /// An image's history.
    History { image: String },
    /// A container's write layer as a new image.
    Commit {
        #[arg(short, long)]
        author: Option<String>,
        #[arg(short, long)]
        message: Option<String>,
        container: String,
        /// NAME[:TAG]
        reference: String,
    },
    /// What a container changed: A added, C changed, D deleted.
    Diff { container: String },
    /// Write images to a Docker-format archive.
    Save {
        #[arg(short, long)]
        output: PathBuf,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Write a container's file system to a tar archive (standard output without -o).
    Export {
        #[arg(short, long)]
        output: Option<PathBuf>,
        container: String,
    },
    /// Load images from an archive (Docker or OCI format).
    Load {
        #[arg(short, long)]
        input: PathBuf,
        /// Only the `Loaded image:` lines, no progress.
        #[arg(short, long)]
        quiet: bool,
    },
    /// The layers of every image as one tree (chapter 04).
    Tree,
    /// The engine, system-wide.
    Info,
    /// Client and server versions.
    Version,
}

/// Run one client command against the daemon at `host` (`root`: the state root a daemon
/// started on demand uses). The exit code, or an error whose [`Exit`] says it.
pub fn dispatch(host: &str, root: &Path, command: Command) -> Result<i32> {
    let client = Client {
        socket: baleia_wire::socket_path(host)?,
        host: host.to_string(),
        root: root.to_path_buf(),
        autostart: true,
    };
    let each = |names: &[String], f: &dyn Fn(&str) -> Result<()>| -> Result<i32> {
        let mut code = 0;
        for name in names {
            match f(name) {
                Ok(()) => println!("{name}"),
                Err(error) => {
                    eprintln!("baleia: {error:#}");
                    code = 1;
                }
            }
        }
        Ok(code)
    };
    match command {
        Command::Exec {
            interactive,
            tty,
            env,
            workdir,
            user,
            detach_keys,
            container,
            command,
        } => cli::exec(
            &client,
            &container,
            &command,
            &env,
            (workdir, user),
            (interactive, tty),
            detach_keys.as_deref(),
        ),
        Command::Attach(flags) => cli_attach::attach(&client, &flags),
        Command::Port { container, port } => cli::port(&client, &container, port.as_deref()),
        Command::Build(flags) => cli_build::build(&client, &flags),
        Command::Cp { src, dest } => cli_cp::cp(&client, &src, &dest),
        Command::Events {
            since,
            until,
            filters,
            format,
        } => cli_events::events(
            &client,
            since.as_deref(),
            until.as_deref(),
            &filters,
            format.as_deref(),
        ),
        Command::System(SystemCommand::Df) => cli_system::df(&client),
        Command::System(SystemCommand::Prune {
            all,
            volumes,
            force,
        }) => cli_system::prune(&client, "system", all, volumes, force),
        Command::Container(ContainerCommand::Prune { force }) => {
            cli_system::prune(&client, "container", false, false, force)
        }
        Command::Image(ImageCommand::Prune { all, force }) => {
            cli_system::prune(&client, "image", all, false, force)
        }
        Command::Login {
            username,
            password_stdin,
            server,
        } => cli_login::login(&client, &server, username.as_deref(), password_stdin),
        Command::Import {
            file,
            reference,
            changes,
            message,
        } => cli_import::import(
            &client,
            &file,
            reference.as_deref(),
            &changes,
            message.as_deref(),
        ),
        Command::Top { container } => cli::top(&client, &container).map(|()| 0),
        Command::Stats(flags) => cli_stats::stats(&client, &flags),
        Command::Run(flags) => cli::run(&client, &flags),
        Command::Create(flags) => {
            println!("{}", cli::create(&client, &flags)?);
            Ok(0)
        }
        Command::Start { containers } => {
            for c in &containers {
                cli::start_or_exit(&client, c)?;
                println!("{c}");
            }
            Ok(0)
        }
        Command::Restart { time, containers } => each(&containers, &|c| {
            let mut path = format!("/containers/{}/restart", client::encode(c));
            if let Some(t) = time {
                path.push_str(&format!("?t={t}"));
            }
            client.call("POST", &path, None).map(|_| ())
        }),
        Command::Ps {
            all,
            quiet,
            no_trunc,
            filters,
            format,
        } => cli::ps(&client, all, quiet, no_trunc, &filters, format.as_deref()).map(|()| 0),
        Command::Logs {
            container,
            follow,
            tail,
            timestamps,
            since,
            until,
        } => cli_logs::logs(
            &client,
            &cli_logs::LogsQuery {
                container: &container,
                follow,
                timestamps,
                tail: tail.as_deref(),
                since: since.as_deref(),
                until: until.as_deref(),
            },
        )
        .map(|()| 0),
        Command::Stop {
            time,
            signal,
            containers,
        } => each(&containers, &|c| {
            let mut path = format!("/containers/{}/stop?", client::encode(c));
            if let Some(t) = time {
                path.push_str(&format!("t={t}&"));
            }
            if let Some(s) = &signal {
                path.push_str(&format!("signal={}", client::encode(s)));
            }
            client.call("POST", &path, None).map(|_| ())
        }),
        Command::Update(flags) => {
            let body = flags.body()?;
            each(&flags.containers, &|c| {
                let path = format!("/containers/{}/update", client::encode(c));
                client.call("POST", &path, Some(&body)).map(|_| ())
            })
        }
        Command::Kill { signal, containers } => each(&containers, &|c| {
            let signal = signal.as_deref().unwrap_or("KILL");
            let path = format!(
                "/containers/{}/kill?signal={}",
                client::encode(c),
                client::encode(signal)
            );
            client.call("POST", &path, None).map(|_| ())
        }),
        Command::Rm {
            force,
            volumes,
            containers,
        } => each(&containers, &|c| {
            let path = format!(
                "/containers/{}?force={}&v={}",
                client::encode(c),
                force as u8,
                volumes as u8
            );
            client.call("DELETE", &path, None).map(|_| ())
        }),
        Command::Wait { containers } => {
            let mut code = 0;
            for c in &containers {
                let path = format!("/containers/{}/wait", client::encode(c));
                match client.call("POST", &path, None) {
                    Ok(v) => println!("{}", v["StatusCode"]),
                    Err(error) => {
                        eprintln!("baleia: {error:#}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
        Command::Inspect {
            format: Some(format),
            names,
        } => cli_format::inspect(&client, &names, &format),
        Command::Inspect { names, .. } => cli::inspect(&client, &names),
        Command::Images {
            quiet: false,
            format: Some(format),
            reference,
        } if template::is_template(&format) => {
            cli_format::images(&client, reference.as_deref(), false, &format).map(|()| 0)
        }
        Command::Images {
            quiet, reference, ..
        } => cli::images(&client, quiet, reference.as_deref()).map(|()| 0),
        Command::Volume(VolumeCommand::Ls {
            quiet: false,
            format: Some(format),
        }) if template::is_template(&format) => cli_format::volumes(&client, &format).map(|()| 0),
        Command::Network(NetworkCommand::Ls {
            quiet: false,
            format: Some(format),
        }) if template::is_template(&format) => {
            cli_format::networks(&client, false, &format).map(|()| 0)
        }
        Command::Rmi { images } => cli::rmi(&client, &images).map(|()| 0),
        Command::Tag { source, target } => cli::tag(&client, &source, &target).map(|()| 0),
        Command::Volume(command) => cli::volume(&client, command).map(|()| 0),
        Command::Pull { quiet, reference } => cli::pull(&client, &reference, quiet).map(|()| 0),
        Command::Push { quiet, reference } => cli::push(&client, &reference, quiet).map(|()| 0),
        Command::Network(command) => cli::network(&client, command).map(|()| 0),
        Command::History { image } => cli::history(&client, &image).map(|()| 0),
        Command::Commit {
            author,
            message,
            container,
            reference,
        } => {
            let normal = ch04_images::reference::normalize(&reference)?;
            let (repo, tag) = ch04_images::reference::split(&normal);
            let mut path = format!(
                "/commit?container={}&repo={}&tag={}",
                client::encode(&container),
                client::encode(repo),
                client::encode(tag)
            );
            if let Some(a) = author {
                path.push_str(&format!("&author={}", client::encode(&a)));
            }
            if let Some(m) = message {
                path.push_str(&format!("&comment={}", client::encode(&m)));
            }
            let reply = client.call("POST", &path, None)?;
            println!("{}", reply["Id"].as_str().unwrap_or_default());
            Ok(0)
        }
        Command::Diff { container } => {
            let path = format!("/containers/{}/changes", client::encode(&container));
            for change in client
                .call("GET", &path, None)?
                .as_array()
                .into_iter()
                .flatten()
            {
                let letter = match change["Kind"].as_i64() {
                    Some(1) => 'A',
                    Some(2) => 'D',
                    _ => 'C',
                };
                println!("{letter} {}", change["Path"].as_str().unwrap_or_default());
            }
            Ok(0)
        }
        Command::Export { output, container } => {
            cli_cp::export(&client, &container, output.as_deref())
        }
        Command::Save { output, images } => {
            let names: Vec<String> = images
                .iter()
                .map(|i| format!("names={}", client::encode(i)))
                .collect();
            let reply = client.request(
                "GET",
                &format!("/images/get?{}", names.join("&")),
                None,
                false,
            )?;
            if reply.status >= 400 {
                reply.json()?;
                return Ok(1);
            }
            reply.save_to(&output)?;
            Ok(0)
        }
        Command::Load { input, quiet } => {
            let path = format!("/images/load?quiet={}", quiet as u8);
            let reply = client.send_file("POST", &path, &input)?;
            // `-q` asks the daemon for no progress; the `Loaded image:` lines stay, as docker's.
            cli_progress::show(reply, cli_progress::Target::Stdout, false)?;
            Ok(0)
        }
        Command::Tree => {
            let reply = client.request("GET", "/baleia/tree", None, false)?;
            let body = reply.body()?;
            print!("{}", String::from_utf8_lossy(&body));
            Ok(0)
        }
        Command::System(SystemCommand::Check) => check::system_check(&client),
        Command::Info => cli::info(&client).map(|()| 0),
        Command::Version => cli::version(&client).map(|()| 0),
    }
}
