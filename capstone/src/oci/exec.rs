//! `baleia runtime exec`: another process in a running container, described by a `process`
//! JSON file (what podman and containerd pass, `--process FILE`) or by arguments and flags.
//! Chapter 01's `Container::join` enters the first process's namespaces; chapter 02's
//! attacher puts it in the container's cgroup; the capabilities, `no_new_privs` and rlimits
//! are the process's own, the seccomp filter the container's (`linux.seccomp`), as in runc.

use super::state::{Dir, Status};
use crate::runtime::{self, security};
use anyhow::{bail, Context, Result};
use ch01_namespaces::Container;
use nix::unistd::Pid;
use oci_spec::runtime::{Process, UserBuilder};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct ExecArgs {
    /// The process, as the spec's `process` JSON.
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Allocate a terminal (sent to --console-socket).
    #[arg(short, long)]
    tty: bool,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Return once it runs.
    #[arg(short, long)]
    detach: bool,
    #[arg(long)]
    cwd: Option<PathBuf>,
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    user: Option<String>,
    /// Add a capability (to the container's process's set).
    #[arg(short, long = "cap")]
    caps: Vec<String>,
    #[arg(long)]
    no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

pub fn exec(root: &std::path::Path, args: &ExecArgs) -> Result<i32> {
    if args.preserve_fds != 0 {
        bail!("--preserve-fds is not supported");
    }
    let dir = Dir::of(root, &args.id)?;
    let saved = dir.load(&args.id)?;
    if dir.status(&saved) != Status::Running {
        bail!(
            "cannot exec in a container that is {}",
            dir.status(&saved).name()
        );
    }
    let spec = super::load_spec(&saved.bundle)?;
    let process = match &args.process {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("read {}", file.display()))?;
            serde_json::from_str::<Process>(&text)
                .with_context(|| format!("parse {}", file.display()))?
        }
        None => from_flags(args, spec.process().as_ref())?,
    };
    let argv = process.args().clone().unwrap_or_default();
    if argv.is_empty() {
        bail!("exec: no command given");
    }
    let linux = spec
        .linux()
        .as_ref()
        .context("the spec has no linux section")?;
    let security = security::security_of(&process, linux.seccomp().as_ref())?;
    let rlimits = security::rlimits_of(&process)?;
    let console = if process.terminal().unwrap_or(false) {
        let socket = args
            .console_socket
            .as_ref()
            .context("a terminal needs --console-socket")?;
        Some(
            std::os::unix::net::UnixStream::connect(socket)
                .with_context(|| format!("connect to the console socket {}", socket.display()))?,
        )
    } else {
        None
    };
    let target = Pid::from_raw(saved.pid);
    let layout = ch02_cgroups::Layout::detect()?;
    let attacher = ch02_cgroups::Attacher::of_process(&layout, target)?;
    // And its v1 devices cgroup, which is not one of chapter 02's.
    let devices_dir = runtime::devices::DevicesCgroup::dir_of_process(target)?;
    let env = process.env().clone().unwrap_or_default();
    let cwd = process.cwd().clone();
    let user = process.user();
    let ids = runtime::Ids {
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
    };
    let started = Container::join(target, &argv)?
        .kill_with_parent(!args.detach)
        .security(security)
        .parent_step("put the process in the container's cgroup", move |pid| {
            attacher.attach(pid)?;
            if let Some(dir) = &devices_dir {
                runtime::devices::DevicesCgroup::attach(dir, pid).map_err(|e| format!("{e:#}"))?;
            }
            Ok(())
        })
        .child_step("set the resource limits (setrlimit)", move || {
            security::apply_rlimits(&rlimits).map_err(|e| format!("{e:#}").into())
        })
        .child_step("apply the process's environment, cwd and user", move || {
            runtime::apply_process_ids(&env, &cwd, &ids).map_err(|e| format!("{e:#}"))?;
            if let Some(socket) = &console {
                crate::pty::become_terminal_session(socket).map_err(|e| format!("{e:#}"))?;
            }
            Ok(())
        })
        .spawn()?;
    if let Some(path) = &args.pid_file {
        super::write_pid_file(path, started.pid().as_raw())?;
    }
    if args.detach {
        return Ok(0);
    }
    Ok(started.wait()?)
}

/// The process from `exec ID COMMAND...` and its flags: the container's own process, with
/// these arguments and changes.
fn from_flags(args: &ExecArgs, base: Option<&Process>) -> Result<Process> {
    let mut process = base.cloned().unwrap_or_default();
    process.set_args(Some(args.command.clone()));
    process.set_terminal(Some(args.tty));
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(args.env.iter().cloned());
    process.set_env(Some(env));
    if let Some(user) = &args.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        process.set_user(
            UserBuilder::default()
                .uid(uid.parse::<u32>().context("--user UID[:GID]")?)
                .gid(gid.parse::<u32>().context("--user UID[:GID]")?)
                .build()?,
        );
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !args.caps.is_empty() {
        let mut caps = process.capabilities().clone().unwrap_or_default();
        for name in &args.caps {
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name.to_ascii_uppercase()))
                    .with_context(|| format!("unknown capability {name}"))?;
            let add = |set: &Option<oci_spec::runtime::Capabilities>| {
                let mut set = set.clone().unwrap_or_default();
                set.insert(cap);
                Some(set)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        process.set_capabilities(Some(caps));
    }
    Ok(process)
}
