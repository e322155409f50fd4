//! Terminals (`-t`): a pseudo-terminal pair (read pty(7)) made inside the container, its
//! master side handed to the supervisor as runc hands it to its caller: over a unix socket,
//! as an `SCM_RIGHTS` message (read unix(7), "Ancillary messages").

use anyhow::{anyhow, Context, Result};
use nix::fcntl::{open, OFlag};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use nix::sys::stat::Mode;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// In the container's first process, after pivot_root: open a pty of the container's own
/// devpts, send its master to the supervisor, make the slave our stdin, stdout and stderr and
/// our controlling terminal (`setsid(2)`, then `TIOCSCTTY`). `size` (rows, columns): the
/// spec's `process.consoleSize`, set on the terminal before anyone reads it (`TIOCSWINSZ`).
pub fn become_terminal_session(socket: &UnixStream, size: Option<(u16, u16)>) -> Result<()> {
    let master = open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open /dev/ptmx")?;
    // SAFETY: plain calls on a descriptor we own; ptsname_r writes into our buffer.
    let slave_name = unsafe {
        if libc::grantpt(master) != 0 || libc::unlockpt(master) != 0 {
            return Err(std::io::Error::last_os_error()).context("unlockpt");
        }
        let mut name = [0 as libc::c_char; 64];
        if libc::ptsname_r(master, name.as_mut_ptr(), name.len()) != 0 {
            return Err(std::io::Error::last_os_error()).context("ptsname");
        }
        std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned()
    };
    let slave = open(
        slave_name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .with_context(|| format!("open {slave_name}"))?;
    if let Some((rows, cols)) = size {
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads the winsize we own.
        if unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &size) } < 0 {
            return Err(std::io::Error::last_os_error()).context("ioctl(TIOCSWINSZ)");
        }
    }
    let fds = [master];
    sendmsg::<()>(
        socket.as_raw_fd(),
        &[IoSlice::new(b"pty")],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .context("send the terminal's master to the supervisor")?;
    let _ = nix::unistd::close(master);
    nix::unistd::setsid().context("setsid")?;
    for target in 0..=2 {
        nix::unistd::dup2(slave, target).context("dup2 the terminal")?;
    }
    let _ = nix::unistd::close(slave);
    // SAFETY: an ioctl on fd 0, the slave side of our new terminal.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
        return Err(std::io::Error::last_os_error()).context("ioctl(TIOCSCTTY)");
    }
    Ok(())
}

/// In the supervisor: receive the master side the container sent.
pub fn receive_master(socket: &UnixStream) -> Result<OwnedFd> {
    receive_fd(socket, "the terminal's master")
}

/// Receive one descriptor sent as an `SCM_RIGHTS` message on `socket` (unix(7)), `what` naming
/// it in errors. The pty's master comes this way, and so does a seccomp notify listener
/// (`runtime::seccomp_agent`). `MSG_CMSG_CLOEXEC`: it is not passed on to what we exec.
pub fn receive_fd(socket: &UnixStream, what: &str) -> Result<OwnedFd> {
    let mut buffer = [0u8; 16];
    let mut iov = [IoSliceMut::new(&mut buffer)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let message = recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .with_context(|| format!("receive {what}"))?;
    for cmsg in message.cmsgs().context("read the control message")? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err(anyhow!(
        "no {what} came (the container's process exited before sending it?)"
    ))
}
