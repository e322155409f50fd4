//! What `baleia runtime` remembers of a container between its commands: one directory per
//! container under `--root` (default /run/baleia-runtime, a tmpfs: nothing survives a reboot,
//! as no container does), holding
//!
//! ```text
//! ROOT/ID/state.json   id, pid (and its start time, to notice a reused pid), bundle, ...
//! ROOT/ID/exec.fifo    while "created": the container's first process waits on it
//! ```
//!
//! The status is not stored: it is read from the kernel each time (the spec's `state`
//! operation): the process alive and the FIFO there → `created`; alive and no FIFO →
//! `running`, or `paused` when its freezer cgroup is frozen; gone (or a zombie, or another
//! process with that pid) → `stopped`.

use anyhow::{bail, Context, Result};
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub pid: i32,
    /// Field 22 of /proc/PID/stat when it started: the same pid with another start time is
    /// another process.
    pub start_time: u64,
    pub bundle: PathBuf,
    /// The cgroup, `PARENT` and `NAME`, for `delete`, `ps` and `kill --all`.
    pub cgroup_parent: String,
    pub cgroup_name: String,
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339, as runc reports it.
    pub created: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// One container's directory.
pub struct Dir {
    pub path: PathBuf,
}

impl Dir {
    /// The directory of container `id` (checked: a plain name, it becomes a path).
    pub fn of(root: &Path, id: &str) -> Result<Dir> {
        let valid = !id.is_empty()
            && id != "."
            && id != ".."
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c));
        if !valid {
            bail!("invalid container id {id:?}: use letters, digits and _.-+");
        }
        Ok(Dir {
            path: root.join(id),
        })
    }

    pub fn fifo(&self) -> PathBuf {
        self.path.join("exec.fifo")
    }

    pub fn load(&self, id: &str) -> Result<Saved> {
        let file = self.path.join("state.json");
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("container {id} does not exist"))?;
        serde_json::from_str(&text).with_context(|| format!("read {}", file.display()))
    }

    pub fn save(&self, saved: &Saved) -> Result<()> {
        let file = self.path.join("state.json");
        let temp = self.path.join("state.json.new");
        std::fs::write(&temp, serde_json::to_vec(saved)?)
            .with_context(|| format!("write {}", temp.display()))?;
        std::fs::rename(&temp, &file).with_context(|| format!("rename to {}", file.display()))
    }

    /// The container's status, from the kernel.
    pub fn status(&self, saved: &Saved) -> Status {
        if saved.pid <= 0 || !is_alive(saved.pid, saved.start_time) {
            Status::Stopped
        } else if self.fifo().exists() {
            Status::Created
        } else if super::pause::is_frozen(saved) {
            Status::Paused
        } else {
            Status::Running
        }
    }
}

/// Field 22 of /proc/PID/stat (start time, in clock ticks since boot), and the state letter.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, field 2, is in parentheses and may contain spaces.
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split(' ').collect();
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn is_alive(pid: i32, start_time: u64) -> bool {
    matches!(proc_stat(pid), Some((state, start)) if state != 'Z' && state != 'X' && start == start_time)
}

/// `create`: make the FIFO and open its reading end, non-blocking (so the open does not wait
/// for a writer). The container's first process inherits the descriptor: no path lookup is
/// needed at the gate, after pivot_root and the switch to the spec's user (which may not be
/// allowed to open a root-owned file, nor its own /proc/self/fd once not dumpable).
pub fn make_fifo(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("open {} for reading", path.display()))?;
    Ok(file.into())
}

/// In the container's first process, at the start gate: wait until `start` writes its byte.
/// `poll(2)` on a FIFO whose writer has never come reports nothing (not end-of-file), so it
/// sleeps until `start` opens the other end and writes (read fifo(7) and pipe(7)).
pub fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    loop {
        let mut fds = [libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: one valid pollfd, and its count.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), 1, -1) };
        match nix::errno::Errno::result(ret) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => bail!("poll(exec.fifo): {errno}"),
            Ok(_) => break,
        }
    }
    let mut byte = [0u8; 1];
    match nix::unistd::read(fifo.as_raw_fd(), &mut byte) {
        Ok(1) => Ok(()),
        Ok(_) => bail!("exec.fifo closed without a start"),
        Err(errno) => bail!("read(exec.fifo): {errno}"),
    }
}

/// `start`: open the FIFO for writing, non-blocking: that succeeds only while a reader has it
/// open, i.e. while the container's process waits at its gate (ENXIO otherwise: it died). The
/// byte lets it through.
pub fn let_through(path: &Path) -> Result<()> {
    let mut writer = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(writer) => writer,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            bail!("the container's process is no longer waiting to start")
        }
        Err(e) => return Err(e).with_context(|| format!("open {} for writing", path.display())),
    };
    writer.write_all(b"0").context("write to exec.fifo")?;
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Now, in RFC 3339 (UTC, nanoseconds), as the `created` of runc's state.
pub fn now_rfc3339() -> String {
    crate::time::rfc3339_nanos(crate::time::now_nanos())
}
