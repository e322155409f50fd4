//! The channel that keeps the parent and the new process in step.
//!
//! Setting up a container takes turns: the new process creates its namespaces, then must *wait*
//! while the parent does what only the parent can (write the uid/gid maps, put it into a
//! cgroup, hand it a network interface), then it finishes inside and runs the command. The two
//! talk over a `socketpair(2)` of type `SOCK_SEQPACKET`: each `send` arrives as one whole
//! message, and when every copy of the other end is closed, `recv` returns 0 bytes.
//!
//! Both ends are close-on-exec. That gives the last message for free: when the command starts,
//! `execve(2)` closes the container's end, so the parent reading end-of-file knows the command
//! is running; if something failed first, the container sends `Failed` instead.

use crate::common::Failure;
use crate::error::{Error, Result};
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, OwnedFd};

/// What one side tells the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Setup process → parent: the container's first process exists, with this host pid.
    Spawned(Pid),
    /// Parent → container: the parent-side steps are done, carry on.
    Go,
    /// Container → parent: set up, and now waiting at the start gate (see
    /// [`Container::start_gate`](crate::Container::start_gate)) before running the command.
    Waiting,
    /// Container → parent: a step failed before the command could start.
    Failed {
        step: String,
        message: String,
        exit_code: i32,
    },
}

impl Message {
    fn encode(&self) -> String {
        match self {
            Message::Spawned(pid) => format!("spawned\n{pid}"),
            Message::Go => "go".to_string(),
            Message::Waiting => "waiting".to_string(),
            Message::Failed {
                step,
                message,
                exit_code,
            } => format!("failed\n{exit_code}\n{step}\n{message}"),
        }
    }

    fn decode(text: &str) -> Option<Message> {
        let mut parts = text.splitn(4, '\n');
        match parts.next()? {
            "spawned" => Some(Message::Spawned(Pid::from_raw(parts.next()?.parse().ok()?))),
            "go" => Some(Message::Go),
            "waiting" => Some(Message::Waiting),
            "failed" => Some(Message::Failed {
                exit_code: parts.next()?.parse().ok()?,
                step: parts.next()?.to_string(),
                message: parts.next().unwrap_or_default().to_string(),
            }),
            _ => None,
        }
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    socket: OwnedFd,
}

/// Create a connected pair of channel ends, both close-on-exec.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|errno| Error::syscall("socketpair", "AF_UNIX, SOCK_SEQPACKET", errno))?;
    Ok((Channel { socket: a }, Channel { socket: b }))
}

impl Channel {
    pub fn send(&self, message: &Message) -> Result<()> {
        send(
            self.socket.as_raw_fd(),
            message.encode().as_bytes(),
            MsgFlags::MSG_NOSIGNAL,
        )
        .map_err(|errno| Error::syscall("send", "setup channel", errno))?;
        Ok(())
    }

    /// The next message, or `None` once the other side has closed its end (by exiting or by
    /// `execve`).
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = [0u8; 8192];
        let n = loop {
            match recv(self.socket.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::errno::Errno::EINTR) => continue,
                other => break other,
            }
        }
        .map_err(|errno| Error::syscall("recv", "setup channel", errno))?;
        if n == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        Message::decode(&text)
            .map(Some)
            .ok_or_else(|| Error::Protocol(format!("unreadable message {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_round_trip() {
        let (a, b) = pair().unwrap();
        let failed = Message::Failed {
            step: "exec".into(),
            message: "no such file\nsecond line".into(),
            exit_code: 127,
        };
        for message in [
            Message::Spawned(Pid::from_raw(42)),
            Message::Go,
            Message::Waiting,
            failed,
        ] {
            a.send(&message).unwrap();
            assert_eq!(b.recv().unwrap(), Some(message));
        }
        drop(a);
        assert_eq!(b.recv().unwrap(), None, "a closed end reads as end-of-file");
    }
}
