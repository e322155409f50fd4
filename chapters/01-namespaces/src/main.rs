//! `ch01-namespaces`: run a command in new namespaces, or inside a running container's.
//!
//! ```text
//! ch01-namespaces run --all --hostname box -- /bin/sh
//! ch01-namespaces exec --target 4242 -- ps
//! ch01-namespaces --explain run --pid --mount -- ps
//! ```

use ch01_namespaces::cli::{exit_with, parse_or_exit, run_to_exit, ExecArgs, RunArgs};
use ch01_namespaces::explain;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ch01-namespaces",
    about = "Chapter 01: run a command isolated by Linux namespaces"
)]
struct Cli {
    /// Narrate every kernel-level step (clone flags, maps, mounts) on standard error.
    #[arg(long, global = true)]
    explain: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in new namespaces.
    Run(RunArgs),
    /// Run a command inside the namespaces of a running process (like `docker exec`).
    Exec(ExecArgs),
}

fn main() {
    let cli: Cli = parse_or_exit();
    if cli.explain {
        explain::enable();
    }
    let result = match cli.command {
        Command::Run(args) => args
            .container()
            .and_then(|container| run_to_exit(container, args.pid_file.as_deref()))
            .map_err(Into::into),
        Command::Exec(exec) => exec
            .container()
            .and_then(|container| run_to_exit(container, None))
            .map_err(Into::into),
    };
    exit_with("ch01-namespaces", result)
}
