//! `ch02-cgroups`: run a command in namespaces *and* a cgroup with limits; show a running
//! container's usage.
//!
//! ```text
//! ch02-cgroups run --all --memory 64m --cpus 0.5 --pids-limit 20 -- /bin/sh
//! ch02-cgroups run --name box --pid --mount -- sleep 100 &  ch02-cgroups stats box
//! ch02-cgroups exec --target 4242 -- ps
//! ch02-cgroups --explain run --memory 64m -- true
//! ```

use ch01_namespaces::cli::{exit_with, parse_or_exit, ExecArgs, RunArgs};
use ch01_namespaces::explain;
use ch01_namespaces::ExitCode;
use ch02_cgroups::cli::{exec_limited, run_limited, CgroupArgs};
use ch02_cgroups::{ContainerCgroup, Layout, Usage, DEFAULT_PARENT};
use clap::{Parser, Subcommand};

const PROGRAM: &str = "ch02-cgroups";

#[derive(Parser)]
#[command(
    name = "ch02-cgroups",
    about = "Chapter 02: run a command in namespaces and a cgroup that limits its resources"
)]
struct Cli {
    /// Narrate every kernel-level step (clone flags, maps, mounts, cgroup files) on stderr.
    #[arg(long, global = true)]
    explain: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in new namespaces, in a cgroup of its own.
    Run {
        #[command(flatten)]
        cgroup: CgroupArgs,
        #[command(flatten)]
        run: Box<RunArgs>,
    },
    /// Run a command inside the namespaces and cgroups of a running process (`docker exec`).
    Exec(ExecArgs),
    /// Show what a running container uses: memory, CPU time, processes (`docker stats`).
    Stats {
        /// The container's --name.
        name: String,
        /// The --cgroup-parent it was started with.
        #[arg(long, value_name = "PATH", default_value = DEFAULT_PARENT)]
        cgroup_parent: String,
    },
}

fn main() {
    let cli: Cli = parse_or_exit();
    if cli.explain {
        explain::enable();
    }
    let result = match cli.command {
        Command::Run { cgroup, run } => run_command(&cgroup, &run),
        Command::Exec(exec) => exec_limited(&exec).map_err(|e| e.into_anyhow()),
        Command::Stats {
            name,
            cgroup_parent,
        } => stats(&name, &cgroup_parent).map_err(|e| e.into_anyhow()),
    };
    exit_with(PROGRAM, result)
}

fn run_command(cgroup: &CgroupArgs, run: &RunArgs) -> anyhow::Result<i32> {
    let container = run.container()?;
    let finished =
        run_limited(container, cgroup, run.pid_file.as_deref()).map_err(|e| e.into_anyhow())?;
    for line in finished.usage.events_report(finished.exit_code) {
        eprintln!("{PROGRAM}: {line}");
    }
    if cgroup.summary {
        eprintln!("{PROGRAM}: {}", finished.usage.summary());
    }
    Ok(finished.exit_code)
}

fn stats(name: &str, parent: &str) -> ch02_cgroups::Result<i32> {
    let layout = Layout::detect()?;
    let cgroup = ContainerCgroup::open(&layout, parent, name)?;
    print!(
        "name: {name}\ncgroup: {} ({})\n{}",
        cgroup.relative_path().display(),
        cgroup.mode(),
        Usage::read(&cgroup).table()
    );
    Ok(0)
}
