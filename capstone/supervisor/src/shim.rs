//! The supervisor ("shim"): one small process per running container, as containerd has one
//! `containerd-shim` per container. It is `baleia` itself, started by the daemon as the hidden
//! subcommand `baleia shim ID`.
//!
//! Why not let the daemon be the container's parent? Because then the container would die, or
//! lose its output and its exit status, whenever the daemon stops, crashes or is upgraded. The
//! shim is the container's parent instead: it
//! - detaches from the daemon (a fork, so the daemon's child exits at once, then `setsid(2)`:
//!   a session of its own, reparented to init), so killing the daemon does not touch it;
//! - starts the container through the runtime (the OCI spec in `config.json`);
//! - owns its standard output and error (pipes) and writes them to `container.log`;
//! - waits for it (`waitpid(2)`: only a parent can), and records its exit code and end time
//!   in `state.json`; then removes its cgroup and exits.
//!
//! The daemon learns whether the start worked through a pipe on fd 3 (one JSON line, then
//! end-of-file): `{"pid":N}` or `{"error":"...","exit_code":127}`.

use crate::logs;
use crate::time::now_nanos;
use anyhow::{Context, Result};
use baleia_runtime::{self as runtime, Stdio};
use baleia_wire::record::{Dir, State, Status};
use nix::fcntl::OFlag;
use nix::unistd::{fork, setsid, ForkResult};
use oci_spec::runtime::Spec;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The file descriptor on which the daemon waits to hear how the start went.
pub const HANDSHAKE_FD: i32 = 3;

/// `baleia shim ID`: detach, then supervise the container until it ends.
pub fn main(root: &Path, id: &str) -> ! {
    // SAFETY: we are single-threaded here (nothing has started a thread yet).
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(ForkResult::Child) => {}
        Err(errno) => {
            eprintln!("shim: fork: {errno}");
            std::process::exit(125)
        }
    }
    close_inherited_fds(HANDSHAKE_FD);
    // Our parent has exited; we are not a process group leader, so setsid works.
    let _ = setsid();
    // SAFETY: the daemon put the write end of the handshake pipe on fd 3 for us.
    let handshake = unsafe { File::from_raw_fd(HANDSHAKE_FD) };
    // Close-on-exec, or the container's program would inherit the pipe and the daemon would
    // wait for its end-of-file as long as the container runs.
    let _ = nix::fcntl::fcntl(
        HANDSHAKE_FD,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    let dir = Dir(root.join("containers").join(id));
    match supervise(root, &dir, handshake) {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("shim {id}: {error:#}");
            std::process::exit(1)
        }
    }
}

fn supervise(root: &Path, dir: &Dir, mut handshake: File) -> Result<()> {
    let spec = Spec::load(dir.spec()).context("load config.json")?;
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.log())
        .with_context(|| format!("open {}", dir.log().display()))?;
    let mut state = dir.read_state()?;
    state.attempts += 1;
    // `-i`: the container reads a pipe that we fill from the FIFO `attach` writes into.
    let record = dir.read_record()?;
    let terminal = record.config.tty;
    let fifo = dir.stdin_fifo();
    if record.config.open_stdin || terminal {
        let _ = std::fs::remove_file(&fifo);
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .with_context(|| format!("mkfifo {}", fifo.display()))?;
    }
    // `-t`: a pseudo-terminal instead of pipes; we keep its master side, the container gets
    // the slave side as stdin, stdout and stderr (read pty(7)).
    let (stdio, output, input, console): (_, Vec<(OwnedFd, &str)>, _, _) = if terminal {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().context("socketpair")?;
        let stdio = Stdio {
            stdin: None,
            stdout: out_w,
            stderr: err_w,
            terminal: Some(theirs),
        };
        drop((out_r, err_r));
        (stdio, Vec::new(), None, Some(ours))
    } else {
        let (stdin_r, stdin_w) = if record.config.open_stdin {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
            (Some(r), Some(w))
        } else {
            (None, None)
        };
        let stdio = Stdio {
            stdin: stdin_r,
            stdout: out_w,
            stderr: err_w,
            terminal: None,
        };
        (
            stdio,
            vec![(out_r, "stdout"), (err_r, "stderr")],
            stdin_w,
            None,
        )
    };
    // Chapter 07 around the runtime: volumes, network, published ports (see crate::wiring).
    // `wiring` lives until the container has ended; dropping it detaches and stops the proxy.
    let started = crate::wiring::prepare(root, &dir.0, &record).and_then(|(extra, wiring)| {
        runtime::start_with(&spec, &dir.0, stdio, extra).map(|started| (started, wiring))
    });
    let (started, wiring) = match started {
        Ok(started) => started,
        Err(error) => {
            let exit_code = error
                .downcast_ref::<ch01_namespaces::Error>()
                .map(ch01_namespaces::Error::exit_code)
                .unwrap_or(125);
            let message = format!("failed to create task for container: {error:#}");
            state.exit_code = exit_code;
            state.error = message.clone();
            state.pid = 0;
            if state.runs > 0 {
                state.status = Status::Exited;
                state.finished_at = now_nanos();
            }
            dir.write_state(&state)?;
            let reply = serde_json::json!({ "error": message, "exit_code": exit_code });
            let _ = writeln!(handshake, "{reply}");
            return Ok(());
        }
    };
    let pid = started.process.pid().as_raw();
    state = State {
        status: Status::Running,
        pid,
        shim_pid: std::process::id() as i32,
        started_at: now_nanos(),
        runs: state.runs + 1,
        attempts: state.attempts,
        tty: terminal,
        ..State::default()
    };
    dir.write_state(&state)?;
    // `start` is recorded here, not by the daemon after it answers: a container that ends at
    // once must still show `start` before `die`, and this process writes both, in order.
    if let Some(root) = dir.0.parent().and_then(|containers| containers.parent()) {
        let none = serde_json::json!({});
        baleia_wire::journal::container(root, "start", &record, none);
    }
    let _ = writeln!(handshake, "{}", serde_json::json!({ "pid": pid }));
    drop(handshake);

    // With a terminal, the container sent us its master side before it ran its program.
    let (output, input) = match console {
        Some(socket) => {
            let master = crate::pty::receive_master(&socket)?;
            let input = master.try_clone()?;
            (vec![(master, "stdout")], Some(input))
        }
        None => (output, input),
    };
    if let Some(input) = input {
        // With a terminal the first attach's end does not end the input: closing our copy
        // of the master would not give the container end-of-file anyway (we read its output
        // through the same master), and a user who detached (Ctrl-P Ctrl-Q) attaches again.
        let once = record.config.stdin_once && !terminal;
        // Not joined: it may wait for a writer forever; it ends with us.
        std::thread::spawn(move || crate::stdin::feed(&fifo, File::from(input), once));
    }
    let log = Arc::new(Mutex::new(log));
    let copiers: Vec<_> = output
        .into_iter()
        .map(|(fd, stream)| {
            let log = log.clone();
            std::thread::spawn(move || match terminal {
                true => logs::copy_terminal_into(File::from(fd), log),
                false => logs::copy_into(File::from(fd), stream, log),
            })
        })
        .collect();
    crate::footprint::release_startup_pages();
    let exit_code = started.process.wait()?;
    // Every writer is gone once PID 1 of the namespace is: the copiers reach end-of-file.
    for copier in copiers {
        let _ = copier.join();
    }
    let usage = ch02_cgroups::Usage::read(&started.cgroup);
    let mut cgroup = started.cgroup;
    if let Err(error) = cgroup.remove() {
        eprintln!("shim: remove cgroup: {error}");
    }
    // Before the state says "exited": its devices cgroup goes, and whoever waits for the end
    // finds the network let go.
    drop(started.devices);
    drop(wiring);
    state.status = Status::Exited;
    state.exit_code = exit_code;
    state.oom_killed = usage.oom_kills.is_some_and(|k| k > 0);
    state.finished_at = now_nanos();
    // `die` before the state says so: whoever waited for the exit then finds the event.
    if let Some(root) = dir.0.parent().and_then(|containers| containers.parent()) {
        let code = serde_json::json!({ "exitCode": exit_code.to_string() });
        baleia_wire::journal::container(root, "die", &record, code);
    }
    dir.write_state(&state)
}

/// Close every file descriptor above `keep_up_to` (for us: standard input, output, error and
/// the handshake): whatever
/// else the daemon's process held (its clients' sockets, its own parent's pipes) must not be
/// kept open for as long as the container runs.
pub fn close_inherited_fds(keep_up_to: i32) {
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in fds.into_iter().filter(|fd| *fd > keep_up_to) {
        let _ = nix::unistd::close(fd);
    }
}
