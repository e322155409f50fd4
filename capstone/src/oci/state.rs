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
//! `running`; gone (or a zombie, or another process with that pid) → `stopped`.

use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
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
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
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

/// `create`: make the FIFO and open it `O_PATH` (no reader needed for that, and the
/// descriptor can be reopened inside the container, through `/proc/self/fd`, after
/// pivot_root has hidden this path).
pub fn make_fifo(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", path.display()))?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
        .with_context(|| format!("open {} O_PATH", path.display()))?;
    Ok(file.into())
}

/// In the container's first process, at the start gate: open the FIFO for writing, which
/// blocks until `start` opens it for reading (read fifo(7)), then tell it we passed.
pub fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let path = format!("/proc/self/fd/{}", fifo.as_raw_fd());
    let mut writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .with_context(|| format!("open {path} for writing"))?;
    writer.write_all(b"0").context("write to exec.fifo")?;
    Ok(())
}

/// `start`: open the FIFO for reading, which lets the waiting process through, and read its
/// byte. Opened non-blocking, so that a process that died meanwhile cannot hang us: a reader
/// of a FIFO that has no writer reads end-of-file at once (the waiting process counts as a
/// writer while it is blocked in its open).
pub fn let_through(path: &Path) -> Result<()> {
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("open {} for reading", path.display()))?;
    let flags = OFlag::from_bits_truncate(nix::fcntl::fcntl(
        reader.as_raw_fd(),
        nix::fcntl::FcntlArg::F_GETFL,
    )?);
    nix::fcntl::fcntl(
        reader.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK),
    )?;
    let mut byte = [0u8; 1];
    let n = reader.read(&mut byte).context("read exec.fifo")?;
    if n == 0 {
        bail!("the container's process is no longer waiting to start");
    }
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Now, in RFC 3339 (UTC, nanoseconds), as the `created` of runc's state.
pub fn now_rfc3339() -> String {
    crate::time::rfc3339_nanos(crate::time::now_nanos())
}
