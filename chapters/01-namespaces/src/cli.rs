//! The command-line pieces of the chapter binary, public so that later chapters' binaries can
//! offer "everything chapter 01 does" by flattening [`RunArgs`] into their own arguments.

use crate::error::{Error, Result};
use crate::namespace::{Namespace, NamespaceSet};
use crate::process::Container;
use crate::signals::SignalForwarding;
use std::path::{Path, PathBuf};

/// The flags of `run`: which namespaces, and how the container's PID 1 behaves.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// New PID namespace: the command is PID 1 and sees only its own descendants.
    #[arg(long)]
    pub pid: bool,
    /// New UTS namespace: a host name of its own (see --hostname).
    #[arg(long)]
    pub uts: bool,
    /// New IPC namespace: System V IPC and POSIX message queues of its own.
    #[arg(long)]
    pub ipc: bool,
    /// New mount namespace: mounts made inside stay inside (and /proc is fresh with --pid).
    #[arg(long)]
    pub mount: bool,
    /// New network namespace: only a loopback interface, brought up.
    #[arg(long)]
    pub net: bool,
    /// New user namespace: the caller's uid and gid become root inside.
    #[arg(long)]
    pub user: bool,
    /// New cgroup namespace: the process's cgroup looks like the root of the tree.
    #[arg(long)]
    pub cgroupns: bool,
    /// All of the above.
    #[arg(long)]
    pub all: bool,
    /// Host name inside the container (needs --uts).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals (needs --pid).
    #[arg(long)]
    pub init: bool,
    /// Write the container's pid (as the host sees it) to FILE while it runs.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// The command to run, after `--`. (Not required by the parser: a later chapter's image
    /// may supply it; without one, starting the container fails with "no command given".)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The arguments of `exec`: which running container, and what to run in it.
#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    /// The pid (as the host sees it) of a process in the container, e.g. from --pid-file.
    #[arg(long, value_name = "PID")]
    pub target: i32,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl ExecArgs {
    pub fn target_pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.target)
    }
}

impl RunArgs {
    /// The namespace kinds the flags ask for.
    pub fn namespaces(&self) -> NamespaceSet {
        if self.all {
            return NamespaceSet::all();
        }
        [
            (self.pid, Namespace::Pid),
            (self.uts, Namespace::Uts),
            (self.ipc, Namespace::Ipc),
            (self.mount, Namespace::Mount),
            (self.net, Namespace::Net),
            (self.user, Namespace::User),
            (self.cgroupns, Namespace::Cgroup),
        ]
        .into_iter()
        .filter_map(|(wanted, ns)| wanted.then_some(ns))
        .collect()
    }

    /// A [`Container`] configured from the flags, ready for more steps or to spawn.
    pub fn container(&self) -> Result<Container> {
        let mut container = Container::new(&self.command, self.namespaces())?.init(self.init);
        if let Some(name) = &self.hostname {
            container = container.hostname(name);
        }
        Ok(container)
    }
}

/// Start the container, pass on the signals we receive, and return its exit code once it has
/// ended. The container dies with us if we are killed, so nothing is left behind.
pub fn run_to_exit(container: Container, pid_file: Option<&Path>) -> Result<i32> {
    let forwarding = SignalForwarding::block()?;
    let process = container.kill_with_parent(true).spawn()?;
    if let Some(path) = pid_file {
        if let Err(source) = std::fs::write(path, format!("{}\n", process.pid())) {
            process.kill_and_reap();
            return Err(Error::File {
                action: "write",
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let code = forwarding.wait(process.pid());
    if let Some(path) = pid_file {
        let _ = std::fs::remove_file(path);
    }
    code
}

/// Parse the command line; on a usage error print it and exit with 125, as `docker run` does
/// for bad flags (clap's own convention would be 2).
pub fn parse_or_exit<T: clap::Parser>() -> T {
    T::try_parse().unwrap_or_else(|error| {
        let _ = error.print();
        std::process::exit(if error.use_stderr() { 125 } else { 0 })
    })
}

/// End the program the way a container engine does: with the container's exit code, or with
/// one line on standard error and the engine's error code (125, 126 or 127).
pub fn exit_with(program: &str, result: anyhow::Result<i32>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("{program}: {error:#}");
            let code = error
                .downcast_ref::<Error>()
                .map(Error::exit_code)
                .unwrap_or(125);
            std::process::exit(code)
        }
    }
}
