//! The command-line pieces of the chapter binary, public so that later chapters' binaries can
//! offer "everything chapter 01 does" by flattening [`RunArgs`] into their own arguments.

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::namespace::{Namespace, NamespaceSet};
use crate::process::Container;
use crate::security::Security;
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
    /// Add a capability to Docker's default set (`NET_ADMIN`, `CAP_SYS_PTRACE`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from Docker's default set (`ALL` drops them all).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Keep every capability, no seccomp filter, no no_new_privs (`docker run --privileged`,
    /// minus the host devices).
    #[arg(long)]
    pub privileged: bool,
    /// `seccomp=unconfined` (no filter), `no-new-privileges=false` (allow setuid binaries to
    /// raise privileges).
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
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
    /// Run the command with every capability and no seccomp filter.
    #[arg(long)]
    pub privileged: bool,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

impl ExecArgs {
    pub fn target_pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.target)
    }

    /// A [`Container`] that joins the target's namespaces, with Docker's default security (as
    /// `docker exec` gives, unless `--privileged`).
    pub fn container(&self) -> Result<Container> {
        let security = security_from_flags(self.privileged, &[], &[], &[])?;
        Ok(Container::join(self.target_pid(), &self.command)?.security(security))
    }
}

/// Docker's defaults, changed by the flags.
pub fn security_from_flags(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
    options: &[String],
) -> Result<Security> {
    if privileged {
        return Ok(Security::privileged());
    }
    let mut security = Security::docker_default().with_capability_changes(cap_add, cap_drop)?;
    for option in options {
        match option.replace(':', "=").as_str() {
            "seccomp=unconfined" => security.seccomp = crate::security::Seccomp::Unconfined,
            "no-new-privileges=false" => security.no_new_privileges = false,
            "no-new-privileges" | "no-new-privileges=true" => security.no_new_privileges = true,
            other if other.starts_with("seccomp=") => {
                return Err(Error::Invalid(format!(
                    "--security-opt {other}: seccomp profiles from a file are not supported; \
                     use seccomp=unconfined or the default"
                )))
            }
            other => {
                return Err(Error::Invalid(format!(
                    "--security-opt {other}: expected seccomp=unconfined or \
                     no-new-privileges[=true|false]"
                )))
            }
        }
    }
    Ok(security)
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

    /// What `--privileged`, `--cap-add`, `--cap-drop` and `--security-opt` ask for, starting
    /// from Docker's defaults.
    pub fn security(&self) -> Result<Security> {
        security_from_flags(
            self.privileged,
            &self.cap_add,
            &self.cap_drop,
            &self.security_opt,
        )
    }

    /// A [`Container`] configured from the flags, ready for more steps or to spawn.
    /// An ordinary user without subordinate ids is warned (on stderr) of what the one-id
    /// map costs.
    pub fn container(&self) -> Result<Container> {
        let namespaces = self.namespaces();
        let mut container = Container::new(&self.command, namespaces)?
            .init(self.init)
            .security(self.security()?);
        if namespaces.contains(Namespace::User) {
            let (mappings, warning) = crate::idmap::IdMappings::for_caller();
            if let Some(warning) = warning {
                eprintln!("warning: {warning}");
            }
            container = container.id_mappings(mappings);
        }
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
        if let Err(cause) = std::fs::write(path, format!("{}\n", process.pid())) {
            process.kill_and_reap();
            return Err(Error::file("write", path)(cause));
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
            std::process::exit(crate::common::exit::of(&error))
        }
    }
}
