//! `ch03-overlayfs`: run a command with a directory as its immutable root, on an overlay with
//! a throw-away write layer; list what a kept container changed.
//!
//! ```text
//! ch03-overlayfs run --image-dir ./busybox -- sh
//! ch03-overlayfs run --image-dir ./busybox --keep --name box -- sh -c 'echo hi > /hello; rm /etc/group'
//! ch03-overlayfs diff box
//! ch03-overlayfs rm box
//! ```

use ch01_namespaces::cli::{exit_with, parse_or_exit, ExecArgs, RunArgs};
use ch01_namespaces::explain;
use ch01_namespaces::ExitCode;
use ch02_cgroups::cli::{exec_limited, CgroupArgs};
use ch03_overlayfs::cli::{run_in_root_fs, FsArgs, RootArg};
use ch03_overlayfs::{diff, ContainerDirs};
use clap::{Parser, Subcommand};

const PROGRAM: &str = "ch03-overlayfs";

#[derive(Parser)]
#[command(
    name = "ch03-overlayfs",
    about = "Chapter 03: a container's root file system: overlayfs, pivot_root, a throw-away write layer"
)]
struct Cli {
    /// Narrate every kernel-level step (clone flags, cgroup files, every mount) on stderr.
    #[arg(long, global = true)]
    explain: bool,
    #[command(flatten)]
    root: RootArg,
    #[command(subcommand)]
    command: Command,
}

/// `run`'s flags: this chapter's, chapter 02's and chapter 01's.
#[derive(clap::Args)]
struct RunFlags {
    #[command(flatten)]
    fs: FsArgs,
    #[command(flatten)]
    cgroup: CgroupArgs,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command with an image directory as its root file system.
    Run(Box<RunFlags>),
    /// Run a command inside a running container (`docker exec`).
    Exec(ExecArgs),
    /// List what a kept container added (A), changed (C) and deleted (D), like `docker diff`.
    Diff {
        /// Container id, unique id prefix, or name.
        container: String,
    },
    /// Remove a kept container's directories (never the image's).
    Rm {
        /// Container id, unique id prefix, or name.
        container: String,
    },
    /// Copy files into or out of a running container (`docker cp`). The side inside the
    /// container starts with ':' (`:/etc/hosts`); paths there are resolved inside the
    /// container, never on the host, whatever symlinks it holds.
    Cp {
        /// The pid (as the host sees it) of a process in the container, e.g. from --pid-file.
        #[arg(long, value_name = "PID")]
        target: i32,
        /// What to copy: `:/path/in/container` or a host path.
        src: String,
        /// Where to: a host path, or `:/path/in/container`.
        dest: String,
    },
}

fn main() {
    let cli: Cli = parse_or_exit();
    if cli.explain {
        explain::enable();
    }
    let root = cli.root.root;
    let result = match cli.command {
        Command::Run(flags) => run_in_root_fs(&root, &flags.fs, &flags.cgroup, &flags.run)
            .map(|ended| {
                for line in ended.finished.usage.events_report(ended.finished.exit_code) {
                    eprintln!("{PROGRAM}: {line}");
                }
                if flags.cgroup.summary {
                    eprintln!("{PROGRAM}: {}", ended.finished.usage.summary());
                }
                if flags.fs.layer.keep {
                    eprintln!("{PROGRAM}: kept container {}", ended.id);
                }
                ended.finished.exit_code
            })
            .map_err(|e| e.into_anyhow()),
        Command::Exec(exec) => exec_limited(&exec).map_err(|e| e.into_anyhow()),
        Command::Diff { container } => show_diff(&root, &container).map_err(|e| e.into_anyhow()),
        Command::Cp { target, src, dest } => copy(target, &src, &dest),
        Command::Rm { container } => ContainerDirs::find(&root, &container)
            .and_then(|dirs| dirs.remove())
            .map(|()| 0)
            .map_err(|e| e.into_anyhow()),
    };
    exit_with(PROGRAM, result)
}

fn show_diff(root: &std::path::Path, container: &str) -> ch03_overlayfs::Result<i32> {
    let dirs = ContainerDirs::find(root, container)?;
    let mut lowers = vec![dirs.init()];
    lowers.extend(dirs.lowers()?);
    for change in diff::changes(&dirs.upper(), &lowers)? {
        println!("{} {}", change.kind.letter(), change.path);
    }
    Ok(0)
}

/// `cp`: one side in the container (`:PATH`), the other on the host.
fn copy(target: i32, src: &str, dest: &str) -> anyhow::Result<i32> {
    use ch03_overlayfs::copy::{copy_in, copy_out, ContainerRoot};
    let root = ContainerRoot::of_process(target)?;
    let copied = match (src.strip_prefix(':'), dest.strip_prefix(':')) {
        (Some(inside), None) => copy_out(&root, inside, std::path::Path::new(dest))?,
        (None, Some(inside)) => copy_in(std::path::Path::new(src), &root, inside)?,
        _ => anyhow::bail!("cp: exactly one of SRC and DEST must be in the container (:/path)"),
    };
    eprintln!(
        "{PROGRAM}: copied {} files, {} directories, {} symlinks, {} bytes",
        copied.files, copied.directories, copied.symlinks, copied.bytes
    );
    Ok(0)
}
