//! The container's terminal (`process.terminal`), as runc gives it.
//!
//! The container's process always makes its pseudo-terminal itself, inside (so that it is a
//! terminal of the container's own devpts), and sends the master side back over a unix socket
//! ([`crate::pty`]). Whose socket depends on who will hold the master:
//!
//! - `--console-socket PATH`: the caller's (podman's conmon, containerd's shim, runc's
//!   `recvtty`): we only connect, and the container sends the master straight to it.
//! - no socket, in the foreground (`run` without `-d`, `exec -t` without `-d`): ours. We are
//!   the caller's terminal's program then: our standard input goes to the master, what the
//!   master says goes to our standard output, our terminal in raw mode meanwhile (the
//!   container's terminal does the echo and line editing), as runc does.
//! - no socket and detached (`create`, `run -d`): nobody could hold it: refused, in runc's words.

use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Where the container's terminal goes; `container` is the end it sends its master over.
pub struct Console {
    pub container: Option<UnixStream>,
    /// Foreground: our end, to receive the master from.
    ours: Option<UnixStream>,
}

impl Console {
    /// The console for a process whose spec says `terminal`, given `--console-socket` or not,
    /// and whether we return before it ends (`detached`).
    pub fn new(terminal: bool, socket: Option<&Path>, detached: bool) -> Result<Console> {
        match (terminal, socket) {
            (true, Some(path)) => {
                let stream = UnixStream::connect(path)
                    .with_context(|| format!("connect to the console socket {}", path.display()))?;
                Ok(Console {
                    container: Some(stream),
                    ours: None,
                })
            }
            (true, None) if detached => {
                bail!("cannot allocate tty if runc will detach without setting console socket")
            }
            (true, None) => {
                let (ours, container) = UnixStream::pair().context("socketpair for the tty")?;
                Ok(Console {
                    container: Some(container),
                    ours: Some(ours),
                })
            }
            (false, Some(_)) => {
                bail!("cannot use console socket if runc will not detach or allocate tty")
            }
            (false, None) => Ok(Console {
                container: None,
                ours: None,
            }),
        }
    }

    /// Once the process has started: take the master it sent and relay it (foreground only).
    /// Our end of the container's socket is closed here, so no copy of it outlives the start.
    pub fn relay(mut self) -> Result<Option<Relay>> {
        self.container = None;
        let Some(ours) = self.ours.take() else {
            return Ok(None);
        };
        let master = crate::pty::receive_master(&ours)?;
        Relay::start(master).map(Some)
    }
}

/// Our terminal relayed to the container's: two copying threads, raw mode while it lasts.
pub struct Relay {
    output: std::thread::JoinHandle<()>,
    _raw: Option<crate::terminal::RawMode>,
}

impl Relay {
    fn start(master: OwnedFd) -> Result<Relay> {
        // The container's terminal gets our terminal's size (TIOCSWINSZ, read tty_ioctl(4)),
        // unless the spec's consoleSize already set one.
        if let Some((rows, cols)) = crate::terminal::size() {
            let mut current = libc::winsize {
                ws_row: 0,
                ws_col: 0,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write a winsize we own.
            unsafe {
                libc::ioctl(master.as_raw_fd(), libc::TIOCGWINSZ, &mut current);
                if current.ws_row == 0 && current.ws_col == 0 {
                    let size = libc::winsize {
                        ws_row: rows,
                        ws_col: cols,
                        ws_xpixel: 0,
                        ws_ypixel: 0,
                    };
                    libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size);
                }
            }
        }
        let raw = crate::terminal::RawMode::enable();
        let mut input = std::fs::File::from(master.try_clone()?);
        // Not joined: it may sit in a read of our standard input forever; it ends with us.
        std::thread::spawn(move || {
            let _ = crate::stdin::pump(&mut std::io::stdin().lock(), &mut input);
        });
        let mut from = std::fs::File::from(master);
        // Until the master reports EIO: the last process holding the slave side has gone.
        let output = std::thread::spawn(move || {
            let _ = crate::stdin::pump(&mut from, &mut std::io::stdout().lock());
        });
        Ok(Relay { output, _raw: raw })
    }

    /// After the process exited: let the last of its output through, then restore our terminal.
    pub fn finish(self) {
        let _ = self.output.join();
    }
}
