//! `ch06-registry`: pull, push, and a registry of our own.
//!
//! ```text
//! ch06-registry serve --addr 127.0.0.1:5000 &             a registry over ROOT's store
//! ch06-registry push busybox localhost:5000/busybox:1.36  upload a stored image
//! ch06-registry pull localhost:5000/busybox:1.36          download one (verified)
//! ch06-registry --explain pull localhost:5000/busybox     ... narrating every request
//! ch06-registry tags localhost:5000/busybox
//! ch06-registry inspect localhost:5000/busybox            without pulling
//! ch06-registry login localhost:5000 -u alice --password-stdin
//! ch06-registry images; ch06-registry run busybox -- echo hi      (chapter 04's)
//! ```

use anyhow::Context;
use ch01_namespaces::cli::{exit_with, parse_or_exit};
use ch04_images::cli::Command as Ch04Command;
use ch04_images::{image, Store};
use ch06_registry::auth::{AuthFile, Credentials};
use ch06_registry::client::{Body, Client, ClientOptions};
use ch06_registry::platform::Platform;
use ch06_registry::progress::Progress;
use ch06_registry::pull::{self, PullOptions};
use ch06_registry::push::{self, PushOptions};
use ch06_registry::{server, tags, Reference};
use clap::{Parser, Subcommand};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "ch06-registry",
    about = "Chapter 06: the image registry — pull, push, and a registry of our own"
)]
struct Cli {
    #[command(flatten)]
    state: ch04_images::cli::StateArgs,
    /// Where `login` keeps credentials (Docker's config.json format). Default: ROOT/auth.json.
    #[arg(long, global = true, env = "BALEIA_AUTH")]
    auth_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// How to reach a registry.
#[derive(clap::Args, Clone)]
struct Remote {
    /// Allow plain HTTP to a registry that is not on this machine.
    #[arg(long)]
    insecure: bool,
    /// USER:PASSWORD for this command (instead of `login`'s stored credentials).
    #[arg(long)]
    creds: Option<String>,
    /// Never draw progress bars (they are only drawn on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
    /// Seconds a registry may stay silent before a read or write fails (then it is retried,
    /// as a dropped connection is).
    #[arg(long, env = "BALEIA_REGISTRY_TIMEOUT", default_value_t = 60.0)]
    timeout: f64,
}

#[derive(Subcommand)]
enum Command {
    /// Download an image (verified blob by blob) into the store and tag it.
    Pull {
        reference: String,
        /// OS/ARCH[/VARIANT] to choose from a multi-platform image.
        #[arg(long, default_value = "linux/amd64")]
        platform: Platform,
        #[command(flatten)]
        remote: Remote,
    },
    /// Upload a stored image. With TARGET, push IMAGE under that name.
    Push {
        image: String,
        target: Option<String>,
        /// Upload blobs larger than this in PATCH chunks of this many bytes.
        #[arg(long, default_value_t = push::DEFAULT_CHUNK)]
        chunk_size: u64,
        #[command(flatten)]
        remote: Remote,
    },
    /// Check credentials against a registry and store them.
    Login {
        registry: String,
        #[arg(long, short = 'u')]
        username: String,
        #[arg(long, short = 'p', conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        insecure: bool,
    },
    /// Forget a registry's credentials.
    Logout { registry: String },
    /// List a repository's tags.
    Tags {
        repository: String,
        /// Tags per request (the registry pages through the rest).
        #[arg(long, default_value_t = 100)]
        page: usize,
        #[command(flatten)]
        remote: Remote,
    },
    /// Show a remote image's digest, platform, layers and config, without pulling it.
    Inspect {
        reference: String,
        /// Print the manifest (or index) exactly as the registry sends it.
        #[arg(long)]
        raw: bool,
        #[arg(long, default_value = "linux/amd64")]
        platform: Platform,
        #[command(flatten)]
        remote: Remote,
    },
    /// Serve a registry (the OCI distribution API) over ROOT's store.
    Serve(server::ServeArgs),
    /// List the store's images (chapter 04's `images`).
    Images,
    /// Run an image (chapter 04's `run`: its layers under an overlay, its config applied).
    Run(Box<ch04_images::cli::RunFlags>),
}

fn main() {
    let cli: Cli = parse_or_exit();
    cli.state.enable_explain();
    let auth_file = cli
        .auth_file
        .clone()
        .unwrap_or_else(|| cli.state.root.join("auth.json"));
    // `images` and `run` are chapter 04's own code, not copies.
    let result = match cli.command {
        Command::Run(flags) => {
            ch04_images::cli::execute("ch06-registry", &cli.state.root, Ch04Command::Run(flags))
        }
        Command::Images => {
            ch04_images::cli::execute("ch06-registry", &cli.state.root, Ch04Command::Images)
        }
        command => run(&cli.state.root, &auth_file, command).map(|()| 0),
    };
    exit_with("ch06-registry", result)
}

/// A client for the reference's registry, with `--creds` or the stored credentials.
fn client(reference: &Reference, remote: &Remote, auth_file: &Path) -> anyhow::Result<Client> {
    let credentials = match &remote.creds {
        Some(text) => Some(Credentials::parse(text)?),
        None => AuthFile::load(auth_file)?.get(&reference.registry),
    };
    let options = ClientOptions {
        insecure: remote.insecure,
        credentials,
    };
    Ok(Client::new(
        &reference.registry,
        ch06_registry::reference::api_host(reference),
        &options,
    )
    .with_timeout(std::time::Duration::from_secs_f64(remote.timeout.max(0.1))))
}

fn run(root: &Path, auth_file: &Path, command: Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match command {
        Command::Run(_) | Command::Images => unreachable!("chapter 04's commands run in main"),
        Command::Pull {
            reference,
            platform,
            remote,
        } => {
            let reference = Reference::parse(&reference)?;
            let store = Store::open(root)?;
            let client = client(&reference, &remote, auth_file)?;
            let options = PullOptions {
                platform,
                progress: Progress::new(!remote.no_progress),
            };
            let pulled = pull::pull(&client, &store, &reference, &options)
                .with_context(|| format!("pull {reference}"))?;
            write!(out, "{}", pull::report(&reference, &pulled))?;
        }
        Command::Push {
            image,
            target,
            chunk_size,
            remote,
        } => {
            let store = Store::open(root)?;
            let local = image::resolve(&store, &image)?;
            let target = Reference::parse(target.as_deref().unwrap_or(&image))?;
            let client = client(&target, &remote, auth_file)?;
            let options = PushOptions {
                chunk_size: chunk_size.max(1),
                progress: Progress::new(!remote.no_progress),
            };
            let pushed = push::push(&client, &store, &local, &target, &options)
                .with_context(|| format!("push {target}"))?;
            write!(out, "{}", push::report(&target, &pushed))?;
        }
        Command::Login {
            registry,
            username,
            password,
            password_stdin,
            insecure,
        } => {
            let password = match password {
                Some(p) => p,
                None if password_stdin => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text)?;
                    text.trim_end_matches(['\n', '\r']).to_string()
                }
                None => anyhow::bail!("login needs --password or --password-stdin"),
            };
            let reference = Reference::parse(&format!("{registry}/x"))
                .with_context(|| format!("invalid registry {registry:?}"))?;
            let credentials = Credentials {
                user: username,
                password,
            };
            let options = ClientOptions {
                insecure,
                credentials: Some(credentials.clone()),
            };
            let client = Client::new(
                &reference.registry,
                ch06_registry::reference::api_host(&reference),
                &options,
            );
            // `GET /v2/` answers 200 only to a client that passed the challenge.
            client
                .expect("GET", "/v2/", &[], Body::Empty, &[200])
                .context("login")?;
            let mut file = AuthFile::load(auth_file)?;
            file.set(&reference.registry, &credentials);
            file.save(auth_file)?;
            writeln!(out, "Login Succeeded")?;
        }
        Command::Logout { registry } => {
            let mut file = AuthFile::load(auth_file)?;
            if file.remove(&registry) {
                file.save(auth_file)?;
                writeln!(out, "Removing login credentials for {registry}")?;
            } else {
                writeln!(out, "Not logged in to {registry}")?;
            }
        }
        Command::Tags {
            repository,
            page,
            remote,
        } => {
            let reference = Reference::parse(&repository)?;
            let client = client(&reference, &remote, auth_file)?;
            for tag in tags::list(&client, &reference.repository, page.max(1))? {
                writeln!(out, "{tag}")?;
            }
        }
        Command::Inspect {
            reference,
            raw,
            platform,
            remote,
        } => {
            let reference = Reference::parse(&reference)?;
            let client = client(&reference, &remote, auth_file)?;
            let text = ch06_registry::inspect::inspect(&client, &reference, &platform, raw)
                .with_context(|| format!("inspect {reference}"))?;
            write!(out, "{text}")?;
        }
        Command::Serve(args) => {
            let store = Store::open(root)?;
            server::serve(store, &args)?;
        }
    }
    Ok(())
}
