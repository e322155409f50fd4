//! `baleia runtime exec`: another process in a running container, described by a `process`
//! JSON file (what podman and containerd pass, `--process FILE`) or by arguments and flags.
//! Chapter 01's `Container::join` enters the first process's namespaces; chapter 02's
//! attacher puts it in the container's cgroup; the capabilities, `no_new_privs` and rlimits
//! are the process's own, the seccomp filter the container's (`linux.seccomp`), as in runc.

use super::console::Console;
use super::hierarchies::{self, SubCgroup};
use super::state::{Dir, Status};
use crate as runtime;
use crate::security;
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
    /// Pass this many descriptors after 0, 1 and 2 (3, 4, ...) on to the process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Another supplementary group (repeat the flag for more).
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Join a sub-cgroup of the container's: `PATH` or `CONTROLLER[,CONTROLLER]:PATH`.
    #[arg(long = "cgroup")]
    cgroups: Vec<SubCgroup>,
    /// Exec even when the container is paused (the process waits until it is resumed).
    #[arg(long)]
    ignore_paused: bool,
    /// AppArmor profile: not supported (no AppArmor here).
    #[arg(long)]
    apparmor: Option<String>,
    /// SELinux label: not supported.
    #[arg(long)]
    process_label: Option<String>,
    id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Run the process; returns its exit code. A failure before it runs is an error (the
/// command line exits 255 then, as runc's does).
pub fn exec(root: &std::path::Path, args: &ExecArgs) -> Result<i32> {
    if args.apparmor.is_some() || args.process_label.is_some() {
        bail!("--apparmor and --process-label are not supported (no AppArmor or SELinux here)");
    }
    let dir = Dir::of(root, &args.id)?;
    let saved = dir.load(&args.id)?;
    match dir.status(&saved) {
        Status::Running | Status::Created => {}
        Status::Paused if args.ignore_paused => {}
        Status::Paused => bail!("cannot exec in a paused container (use --ignore-paused)"),
        Status::Stopped => bail!("cannot exec in a stopped container"),
    }
    let spec = super::load_spec(&saved.bundle)?;
    let process = match &args.process {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("read {}", file.display()))?;
            process_from_json(&text).with_context(|| format!("parse {}", file.display()))?
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
    let mut security = security::security_of(&process, linux.seccomp().as_ref())?;
    let agent = match linux.seccomp() {
        Some(seccomp) => runtime::seccomp_agent::Agent::prepare(seccomp, &args.id, &saved.bundle)?,
        None => None,
    };
    if let Some(agent) = &agent {
        security::set_listener(&mut security, agent.listener_fd());
    }
    let agent_pid = agent.as_ref().map(|a| a.pid_sender());
    let rlimits = security::rlimits_of(&process)?;
    let mut console = Console::new(
        process.terminal().unwrap_or(false),
        args.console_socket.as_deref(),
        args.detach,
    )?;
    let terminal = console.container.take();
    let console_size = runtime::console_size(&process);
    let target = Pid::from_raw(saved.pid);
    let subs = args.cgroups.clone();
    let preserve_fds = args.preserve_fds;
    let env = process.env().clone().unwrap_or_default();
    let cwd = process.cwd().clone();
    let user = process.user();
    let ids = runtime::Ids {
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
    };
    // Blocked before the process exists, so that no signal meant for it is lost.
    let forwarding = ch01_namespaces::signals::SignalForwarding::block()?;
    let started = Container::join(target, &argv)?
        .kill_with_parent(!args.detach)
        .preserve_fds(preserve_fds)
        .security(security)
        .parent_step("put the process in the container's cgroups", move |pid| {
            hierarchies::join_like(target.as_raw(), pid.as_raw(), &subs)
                .map_err(|e| format!("{e:#}"))?;
            if let Some(sender) = &agent_pid {
                sender
                    .send(pid.as_raw())
                    .map_err(|_| "the seccomp relay has gone".to_string())?;
            }
            Ok(())
        })
        .child_step("set the resource limits (setrlimit)", move || {
            security::apply_rlimits(&rlimits).map_err(|e| format!("{e:#}").into())
        })
        .child_step("apply the process's environment, cwd and user", move || {
            runtime::apply_process_ids(&env, &cwd, &ids).map_err(|e| format!("{e:#}"))?;
            if let Some(socket) = &terminal {
                crate::pty::become_terminal_session(socket, console_size)
                    .map_err(|e| format!("{e:#}"))?;
            }
            Ok(())
        })
        .spawn()?;
    if let Some(agent) = agent {
        if let Err(error) = agent.finish() {
            started.kill_and_reap();
            return Err(error);
        }
    }
    if let Some(path) = &args.pid_file {
        if let Err(error) = super::write_pid_file(path, started.pid().as_raw()) {
            started.kill_and_reap();
            return Err(error);
        }
    }
    if args.detach {
        return Ok(0);
    }
    let relay = match console.relay() {
        Ok(relay) => relay,
        Err(error) => {
            started.kill_and_reap();
            return Err(error);
        }
    };
    let code = forwarding.wait(started.pid());
    if let Some(relay) = relay {
        relay.finish();
    }
    Ok(code?)
}

/// A `process` JSON; `user` (root) and `cwd` (/) may be left out, as runc allows.
fn process_from_json(text: &str) -> Result<Process> {
    let mut value: serde_json::Value = serde_json::from_str(text)?;
    if let Some(object) = value.as_object_mut() {
        object
            .entry("user")
            .or_insert(serde_json::json!({"uid": 0, "gid": 0}));
        object.entry("cwd").or_insert(serde_json::json!("/"));
    }
    Ok(serde_json::from_value(value)?)
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
    if !args.additional_gids.is_empty() {
        let mut user = process.user().clone();
        user.set_additional_gids(Some(args.additional_gids.clone()));
        process.set_user(user);
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
