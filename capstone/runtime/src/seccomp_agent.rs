//! `linux.seccomp.listenerPath`: a seccomp agent decides some of the container's system calls
//! (`SCMP_ACT_NOTIFY`). The container's process loads its filter with a listener (chapter
//! 01's [`Profile::listener`](ch01_namespaces::seccomp_profile::Profile)) and sends that
//! descriptor to us over a socket pair; we pass it on to the agent, with the container's
//! state, as the runtime spec says (`config-linux.md`, "Seccomp", and `runtime.md`'s
//! "container process state"): a JSON message naming the descriptor `seccompFd`, sent with
//! it as `SCM_RIGHTS` (read unix(7) and seccomp_unotify(2)).
//!
//! Why through us and not straight from the container: the agent's socket is a path on the
//! host, out of sight after pivot_root, and only we know the process's pid as the agent sees
//! it. The relay runs on a thread: the container's very `execve` may wait for the agent.

use anyhow::{anyhow, Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;

/// A relay waiting for the container's listener.
pub struct Agent {
    /// The container's end: inherited, it sends the listener over it.
    theirs: UnixStream,
    pid: mpsc::Sender<i32>,
    relay: std::thread::JoinHandle<Result<()>>,
}

impl Agent {
    /// When the spec has notify rules: connect to its agent (now, so that a missing agent is
    /// an error before the container exists) and start the relay. `None` without notify rules
    /// (a `listenerPath` alone asks for nothing).
    pub fn prepare(seccomp: &LinuxSeccomp, id: &str, bundle: &Path) -> Result<Option<Agent>> {
        let notifies = seccomp
            .syscalls()
            .iter()
            .flatten()
            .any(|s| s.action() == LinuxSeccompAction::ScmpActNotify);
        if !notifies {
            return Ok(None);
        }
        let path = seccomp
            .listener_path()
            .clone()
            .filter(|p| !p.as_os_str().is_empty())
            .context("linux.seccomp has SCMP_ACT_NOTIFY rules but no listenerPath")?;
        let agent = UnixStream::connect(&path).with_context(|| {
            format!(
                "failed to connect with seccomp agent specified in the seccomp profile: {}",
                path.display()
            )
        })?;
        let (ours, theirs) = UnixStream::pair().context("socketpair for the seccomp listener")?;
        let (pid_tx, pid_rx) = mpsc::channel();
        let message = Message {
            metadata: seccomp.listener_metadata().clone().unwrap_or_default(),
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
        };
        let relay = std::thread::spawn(move || relay(&ours, &agent, &pid_rx, &message));
        Ok(Some(Agent {
            theirs,
            pid: pid_tx,
            relay,
        }))
    }

    /// The descriptor the container's process sends its listener over.
    pub fn listener_fd(&self) -> RawFd {
        self.theirs.as_raw_fd()
    }

    /// For a parent-side step: hands the process's pid to the relay.
    pub fn pid_sender(&self) -> mpsc::Sender<i32> {
        self.pid.clone()
    }

    /// Once the process runs (it has sent the listener by then): wait for the relay.
    pub fn finish(self) -> Result<()> {
        drop(self.theirs);
        drop(self.pid);
        self.relay
            .join()
            .map_err(|_| anyhow!("the seccomp relay thread panicked"))?
    }
}

struct Message {
    metadata: String,
    id: String,
    bundle: std::path::PathBuf,
}

fn relay(
    ours: &UnixStream,
    agent: &UnixStream,
    pid: &mpsc::Receiver<i32>,
    message: &Message,
) -> Result<()> {
    let listener = crate::pty::receive_fd(ours, "the seccomp listener")?;
    let pid = pid.recv().context("the container's pid never came")?;
    let state = serde_json::json!({
        "ociVersion": crate::oci::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": message.metadata,
        "state": {
            "ociVersion": crate::oci::OCI_VERSION,
            "id": message.id,
            "status": "creating",
            "pid": pid,
            "bundle": message.bundle,
        },
    });
    let text = state.to_string();
    let fds = [listener.as_raw_fd()];
    sendmsg::<()>(
        agent.as_raw_fd(),
        &[IoSlice::new(text.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("send the seccomp listener to the agent")?;
    Ok(())
}
