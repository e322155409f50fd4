//! A container's standard input (`docker run -i`): how bytes typed into the client reach a
//! process whose parent is the supervisor, not the daemon.
//!
//! ```text
//! client ──hijacked connection──► daemon ──writes──► containers/<id>/stdin (a FIFO, mkfifo(3))
//!                                                          │ read by the supervisor
//!                                                          ▼
//!                                   pipe ──► the container's fd 0
//! ```
//!
//! The supervisor keeps the pipe's write end, so the container's input stays open across
//! attaches; when an attach ends its input (the client closed its side, e.g. at the end of a
//! file it piped in), and the container was created with `StdinOnce` (as `run -i` does), the
//! supervisor closes the pipe and the container reads end-of-file.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sets the flag when dropped: tells [`forward`] that its attach is over.
pub struct SetOnDrop(pub Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The daemon's side: copy what the client sends into the FIFO. Opening a FIFO for writing
/// waits for a reader, so it is opened without blocking and retried until the supervisor has
/// it open (the container may not have started yet: `docker run` attaches first), or until the
/// attach is over.
pub fn forward(mut client: BufReader<UnixStream>, fifo: &Path, done: &AtomicBool) {
    let mut pipe = loop {
        match OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
        {
            Ok(file) => break file,
            Err(_) if !done.load(Ordering::Relaxed) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(_) => return,
        }
    };
    // Blocking writes from here on: the container reads at its own pace.
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&pipe);
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    let mut buffer = [0u8; 8192];
    while let Ok(n) = client.read(&mut buffer) {
        if n == 0 || pipe.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    // Dropping `pipe` closes our end: the supervisor reads end-of-file.
}

/// The supervisor's side: read the FIFO into the container's stdin pipe, one writer after
/// another; with `once`, the first writer's end-of-file closes the container's input.
pub fn feed(fifo: &Path, mut container: File, once: bool) {
    loop {
        let Ok(mut reader) = File::open(fifo) else {
            return;
        };
        let mut buffer = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buffer) {
            if n == 0 || container.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        if once {
            return;
        }
    }
}

/// Copy until end-of-file with plain `read`/`write` calls. `std::io::copy` would use
/// `splice(2)` between pipes and files, and a splice into a pty whose other side has gone can
/// block in the kernel where no signal reaches it, keeping the process from exiting.
pub fn pump(mut from: impl Read, mut to: impl Write) -> std::io::Result<u64> {
    let mut buffer = [0u8; 8192];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
        to.flush()?;
        total += n as u64;
    }
}
