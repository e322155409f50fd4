//! `ch07-volumes-network`: volumes and networks for chapter 04's containers.
//!
//! ```text
//! ch07-volumes-network run -v /srv/site:/www:ro -v data:/data --tmpfs /run:size=1m busybox -- sh
//! ch07-volumes-network volume create|ls|inspect|rm|prune
//! ch07-volumes-network network create web --subnet 10.213.1.0/24
//! ch07-volumes-network run --network web --name api -p 127.0.0.1:8080:80 busybox -- httpd -f
//! ch07-volumes-network network ls|inspect|rm
//! ```

use anyhow::Context;
use ch01_namespaces::cli::{exit_with, parse_or_exit, RunArgs};
use ch01_namespaces::ExitCode;
use ch02_cgroups::cli::CgroupArgs;
use ch03_overlayfs::cli::LayerArgs;
use ch04_images::Store;
use ch07_volumes_network::network::{self, NetworkMode};
use ch07_volumes_network::run::RunOptions;
use ch07_volumes_network::volumes::store::VolumeStore;
use ch07_volumes_network::{explain, run};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::Path;

#[derive(Parser)]
#[command(
    name = "ch07-volumes-network",
    about = "Chapter 07: volumes (bind, named, anonymous, tmpfs) and networks (bridges, veth pairs, IPAM, NAT, ports)"
)]
struct Cli {
    #[command(flatten)]
    state: ch04_images::cli::StateArgs,
    #[command(subcommand)]
    command: Command,
}

/// `run`'s flags: this chapter's, then chapters 04, 03, 02 and 01's.
#[derive(clap::Args)]
struct RunFlags {
    /// The image: NAME[:TAG], id, or unique id prefix.
    image: String,
    /// Mount a volume: /host/path:/ctr/path[:ro], NAME:/ctr/path[:ro], or /ctr/path (anonymous).
    #[arg(short = 'v', long = "volume", value_name = "SPEC")]
    volumes: Vec<String>,
    /// Publish a port: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp].
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<String>,
    /// Publish every port the image EXPOSEs, on free host ports.
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// The network: bridge (the default, on baleia0 for the default root), none, host, or a
    /// network's name.
    #[arg(long, value_name = "NETWORK", default_value = network::DEFAULT_NETWORK)]
    network: String,
    /// A name server for the container's /etc/resolv.conf (repeat for more; default: the host's).
    #[arg(long, value_name = "IP")]
    dns: Vec<std::net::IpAddr>,
    #[command(flatten)]
    layer: LayerArgs,
    #[command(flatten)]
    cgroup: CgroupArgs,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run an image with volumes, a network and published ports.
    Run(Box<RunFlags>),
    /// Manage named volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
}

#[derive(Subcommand)]
enum VolumeCommand {
    /// Create a named volume (nothing happens if it exists).
    Create { name: String },
    /// List volumes.
    Ls,
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
    /// Remove unused anonymous volumes (all unused ones with --all).
    Prune {
        #[arg(long, short = 'a')]
        all: bool,
    },
}

#[derive(Subcommand)]
enum NetworkCommand {
    /// Create a network: a bridge, its gateway address, NAT and isolation rules.
    Create {
        name: String,
        /// The subnet, e.g. 10.213.1.0/24 (default: the first free 10.78.N.0/24).
        #[arg(long)]
        subnet: Option<String>,
        /// The bridge's interface name (default: br-<random>).
        #[arg(long)]
        bridge: Option<String>,
    },
    /// List networks.
    Ls,
    /// Show a network, its containers and its iptables rules, as JSON.
    Inspect { name: String },
    /// Remove networks (refused while containers are attached).
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

fn main() {
    let cli: Cli = parse_or_exit();
    cli.state.enable_explain();
    let result = match cli.command {
        Command::Run(flags) => run_image(&cli.state.root, &flags),
        Command::Volume(command) => volume(&cli.state.root, command).map(|()| 0),
        Command::Network(command) => network_command(&cli.state.root, command).map(|()| 0),
    };
    exit_with("ch07-volumes-network", result)
}

fn run_image(root: &Path, flags: &RunFlags) -> anyhow::Result<i32> {
    let options = RunOptions {
        volumes: flags
            .volumes
            .iter()
            .map(|v| v.parse())
            .collect::<Result<_, _>>()?,
        network: flags.network.parse::<NetworkMode>()?,
        publish: flags
            .publish
            .iter()
            .map(|p| p.parse())
            .collect::<Result<_, _>>()?,
        publish_all: flags.publish_all,
        dns: flags.dns.clone(),
    };
    let store = Store::open(root)?;
    let ended = run::run(
        &store,
        &flags.image,
        &flags.layer,
        &flags.cgroup,
        &flags.run,
        &options,
        |published| {
            for p in published {
                eprintln!(
                    "ch07-volumes-network: publishing {} -> {}/{}",
                    p.host, p.spec.container_port, p.spec.protocol
                );
            }
        },
    )
    .map_err(|e| e.into_anyhow())?;
    for line in ended.finished.usage.events_report(ended.finished.exit_code) {
        eprintln!("ch07-volumes-network: {line}");
    }
    if flags.layer.keep {
        eprintln!("ch07-volumes-network: kept container {}", ended.id);
    }
    Ok(ended.finished.exit_code)
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn volume(root: &Path, command: VolumeCommand) -> anyhow::Result<()> {
    let store = VolumeStore::new(root);
    match command {
        VolumeCommand::Create { name } => {
            let _lock = store.lock()?;
            println!("{}", store.create(&name, false)?.name);
        }
        VolumeCommand::Ls => {
            println!("DRIVER    VOLUME NAME");
            for volume in store.list()? {
                println!("{:<10}{}", volume.driver, volume.name);
            }
        }
        VolumeCommand::Inspect { names } => {
            let volumes = names
                .iter()
                .map(|n| store.get(n))
                .collect::<Result<Vec<_>, _>>()?;
            print_json(&volumes)?;
        }
        VolumeCommand::Rm { names } => {
            let _lock = store.lock()?;
            for name in names {
                store.remove(&name)?;
                println!("{name}");
            }
        }
        VolumeCommand::Prune { all } => {
            let _lock = store.lock()?;
            for name in store.prune(all)? {
                println!("{name}");
            }
        }
    }
    Ok(())
}

fn network_command(root: &Path, command: NetworkCommand) -> anyhow::Result<()> {
    match command {
        NetworkCommand::Create {
            name,
            subnet,
            bridge,
        } => {
            let config = network::create(root, &name, subnet.as_deref(), bridge.as_deref())?;
            if let Some(warning) = network::warning(&config) {
                eprintln!("WARNING: {warning}");
            }
            explain!(
                "network {} on bridge {}, {}",
                config.name,
                config.bridge,
                config.subnet
            );
            println!("{}", config.name);
        }
        NetworkCommand::Ls => {
            println!(
                "{:<20}{:<16}{:<20}{:<16}CONTAINERS",
                "NAME", "BRIDGE", "SUBNET", "GATEWAY"
            );
            for config in network::list(root)? {
                let count = network::leases(root, &config.name)?.len();
                println!(
                    "{:<20}{:<16}{:<20}{:<16}{count}",
                    config.name,
                    config.bridge,
                    config.subnet,
                    config.gateway.to_string()
                );
            }
        }
        NetworkCommand::Inspect { name } => {
            let config = network::get(root, &name)?;
            let leases = network::leases(root, &name)?;
            let rules = network::nat::rules_mentioning(&config.bridge)?;
            print_json(&serde_json::json!({
                "Name": config.name,
                "Bridge": config.bridge,
                "Subnet": config.subnet,
                "Gateway": config.gateway,
                "Containers": leases,
                "Rules": rules,
            }))?;
        }
        NetworkCommand::Rm { names } => {
            for name in names {
                network::remove(root, &name).with_context(|| format!("network rm {name}"))?;
                println!("{name}");
            }
        }
    }
    Ok(())
}
