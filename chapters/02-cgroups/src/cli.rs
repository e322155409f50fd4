//! The command-line pieces of the chapter binary, public so that later chapters can offer
//! "everything chapter 02 does" by flattening [`CgroupArgs`] next to chapter 01's `RunArgs`.

use crate::attach::Attacher;
use crate::cgroup::{ContainerCgroup, DEFAULT_PARENT};
use crate::delegation::{self, Delegation};
use crate::error::{Error, Result};
use crate::limits::{check_pids, check_shares, parse_cpus, parse_memory, CpuQuota, Limits};
use crate::mode::Layout;
use crate::stats::Usage;
use ch01_namespaces::cli::{run_to_exit, ExecArgs};
use ch01_namespaces::signals::SignalForwarding;
use ch01_namespaces::{explain, Container};
use std::path::Path;

/// The flags that give a container its cgroup and limits.
#[derive(Debug, Clone, clap::Args)]
pub struct CgroupArgs {
    /// The container's name: its cgroup is PARENT/NAME (default: a random 64-hex-digit id).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Where containers' cgroups go, from the root of each cgroup hierarchy.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PARENT)]
    pub cgroup_parent: String,
    /// Memory limit, e.g. 64m (units b, k, m, g); swap is limited with it.
    #[arg(long, value_name = "SIZE", value_parser = parse_memory)]
    pub memory: Option<u64>,
    /// CPU bandwidth in CPUs, e.g. 0.5 (a quota per 100 ms period).
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    pub cpus: Option<CpuQuota>,
    /// Relative CPU weight (2 to 262144, default 1024; v2 maps it to cpu.weight).
    #[arg(long, value_name = "SHARES", value_parser = parse_shares)]
    pub cpu_shares: Option<u64>,
    /// Most processes (and threads) the container may have at once.
    #[arg(long, value_name = "N", value_parser = parse_pids)]
    pub pids_limit: Option<u64>,
    /// When the container ends, print what its cgroup accounted (CPU time, peaks) on stderr.
    #[arg(long)]
    pub summary: bool,
}

fn parse_shares(text: &str) -> Result<u64> {
    let shares = text
        .parse()
        .map_err(|_| Error::Invalid(format!("--cpu-shares {text:?}: not a number")))?;
    check_shares(shares)
}

fn parse_pids(text: &str) -> Result<u64> {
    let pids = text
        .parse()
        .map_err(|_| Error::Invalid(format!("--pids-limit {text:?}: not a number")))?;
    check_pids(pids)
}

impl CgroupArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            memory: self.memory,
            cpu_quota: self.cpus,
            cpu_shares: self.cpu_shares,
            pids: self.pids_limit,
        }
    }
}

/// How a container ended, and what its cgroup saw.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Docker's exit code (137 for SIGKILL, the OOM killer's signal).
    pub exit_code: i32,
    /// The cgroup's accounting, read after the container ended and before removing it.
    pub usage: Usage,
}

/// Run `container` in a new cgroup with the limits of `args`: create the cgroup and write the
/// limits, then start the container with a parent-side step that moves its first process in
/// before it runs anything; wait for it, read the cgroup's accounting, and remove the cgroup.
/// The cgroup is removed on every path out of here, errors and panics included (it is a guard).
pub fn run_limited(
    container: Container,
    args: &CgroupArgs,
    pid_file: Option<&Path>,
) -> Result<Finished> {
    // Hold Ctrl-C and the other forwarded signals from now on, not only once the container
    // runs: one arriving while the cgroup is being made would kill us before we could remove
    // it. They stay pending, and `run_to_exit` passes them on to the container.
    let _held = SignalForwarding::block()?;
    let layout = match delegation::for_caller(&Layout::detect()?)? {
        Delegation::Delegated(layout) => layout,
        Delegation::Missing(why) => return run_without_cgroup(container, args, pid_file, &why),
    };
    let name = match &args.name {
        Some(name) => name.clone(),
        None => random_id()?,
    };
    let mut cgroup = ContainerCgroup::create(&layout, &args.cgroup_parent, &name)?;
    cgroup.apply(&args.limits())?;
    let attacher = cgroup.attacher();
    let container = container.parent_step("put the process in its cgroup", move |pid| {
        attacher.attach(pid).map_err(Into::into)
    });
    let exit_code = run_to_exit(container, pid_file)?;
    let usage = Usage::read(&cgroup);
    cgroup.remove()?;
    Ok(Finished { exit_code, usage })
}

/// An ordinary user without a delegated cgroup subtree: refuse limits (they could not be
/// kept), otherwise run the container in the caller's own cgroup, and say so.
fn run_without_cgroup(
    container: Container,
    args: &CgroupArgs,
    pid_file: Option<&Path>,
    why: &str,
) -> Result<Finished> {
    if !args.limits().is_empty() {
        return Err(Error::Invalid(format!(
            "{why}; without one, --memory, --cpus, --cpu-shares and --pids-limit cannot be kept"
        )));
    }
    eprintln!(
        "warning: {why}; the container runs in your own cgroup, without limits or accounting"
    );
    let exit_code = run_to_exit(container, pid_file)?;
    Ok(Finished {
        exit_code,
        usage: Usage::default(),
    })
}

/// `exec`: run `command` in the namespaces *and the cgroups* of the running process `target`,
/// so the limits hold for it too.
pub fn exec_limited(exec: &ExecArgs) -> Result<i32> {
    let layout = Layout::detect()?;
    let attacher = Attacher::of_process(&layout, exec.target_pid())?;
    let container = exec
        .container()?
        .parent_step("put the process in the target's cgroup", move |pid| {
            attacher.attach(pid).map_err(Into::into)
        });
    Ok(run_to_exit(container, None)?)
}

/// A container id like Docker's: 32 random bytes in hex.
fn random_id() -> Result<String> {
    let id = ch01_namespaces::common::id::random_id()?;
    explain!("container id (the name of its cgroup): {id}");
    Ok(id)
}
