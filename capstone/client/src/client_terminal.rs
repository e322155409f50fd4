//! The client's side of an attached terminal (`run -it`, `exec -it`, `attach`): what a user
//! expects of `docker` at a keyboard.
//!
//! - **Size.** The container's terminal is a pty the engine holds; its size is whatever the
//!   engine last set with `TIOCSWINSZ` (tty_ioctl(4)). We send ours once at the start and again
//!   each time our own terminal is resized: the kernel tells us with `SIGWINCH` (signal(7)),
//!   and we answer with `POST /containers/{id}/resize` or `POST /exec/{id}/resize`.
//! - **Detach keys.** Docker's escape sequence (Ctrl-P Ctrl-Q unless `--detach-keys` says
//!   otherwise) ends the attach and leaves the container running. Keys that start the sequence
//!   are held back until the next key shows whether the sequence goes on; if it does not, they
//!   are sent after all, as docker's own escape proxy does.

use crate::client::Client;
use anyhow::{bail, Result};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Docker's default detach keys: Ctrl-P, then Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Send our terminal's size to `path` (`/containers/{id}/resize` or `/exec/{id}/resize`) now,
/// then on every `SIGWINCH`, from a thread that lives as long as the program.
///
/// The first sends are retried for a moment: an exec's terminal only exists once its process
/// has started, a little after the request that starts it (docker's CLI retries too).
pub fn forward_size(client: &Client, path: &str) -> Result<()> {
    let client = client.clone();
    let path = path.to_string();
    // Registered before the first send: a resize between the two is not lost.
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH])?;
    std::thread::spawn(move || {
        let send = |client: &Client| -> Result<()> {
            let Some((rows, cols)) = crate::terminal::size() else {
                return Ok(());
            };
            client.call("POST", &format!("{path}?h={rows}&w={cols}"), None)?;
            Ok(())
        };
        for attempt in 0..20 {
            if send(&client).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50 * (attempt + 1)));
        }
        for _ in signals.forever() {
            let _ = send(&client);
        }
    });
    Ok(())
}

/// Read docker's `--detach-keys` notation: keys separated by commas, each a single character
/// or `ctrl-X` with X one of `a`-`z`, `@`, `[`, `\`, `]`, `^`, `_` (docker's
/// `term.ToBytes`). An empty text means no detach keys.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for key in text.split(',') {
        let lower = key.to_ascii_lowercase();
        match lower.strip_prefix("ctrl-") {
            Some(rest) if rest.len() == 1 => {
                let c = rest.as_bytes()[0];
                let code = match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => bail!(
                        "invalid detach keys: {text:?}: unknown character {key:?}; \
                         keys are letters or ctrl-X, comma-separated, e.g. ctrl-p,ctrl-q"
                    ),
                };
                keys.push(code);
            }
            _ if key.len() == 1 => keys.push(key.as_bytes()[0]),
            _ => bail!(
                "invalid detach keys: {text:?}: unknown character {key:?}; \
                         keys are letters or ctrl-X, comma-separated, e.g. ctrl-p,ctrl-q"
            ),
        }
    }
    Ok(keys)
}

/// The detach keys of an attach: `--detach-keys`, else docker's default; none without a
/// terminal, where our input is data (a piped file may hold any byte).
pub fn detach_keys(tty: bool, flag: Option<&str>) -> Result<Vec<u8>> {
    match tty {
        true => parse_detach_keys(flag.unwrap_or(DEFAULT_DETACH_KEYS)),
        false => Ok(Vec::new()),
    }
}

/// Whether [`send_input`]'s flag (if there is one) says the user detached.
pub fn is_set(flag: &Option<Arc<AtomicBool>>) -> bool {
    flag.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Copy `from` to `to` until end-of-file, watching for `keys`; `Ok(true)` when the user typed
/// them (what they typed of the sequence is not sent).
pub fn pump_watching(mut from: impl Read, mut to: impl Write, keys: &[u8]) -> Result<bool> {
    let mut buffer = [0u8; 8192];
    // How much of `keys` the latest input matched.
    let mut matched = 0;
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => {
                to.write_all(&keys[..matched])?;
                return Ok(false);
            }
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::with_capacity(n);
        for &byte in &buffer[..n] {
            if !keys.is_empty() && byte == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    to.write_all(&out)?;
                    to.flush()?;
                    return Ok(true);
                }
                continue;
            }
            // Not the sequence after all: what was held back goes out first.
            out.extend_from_slice(&keys[..matched]);
            matched = 0;
            if !keys.is_empty() && byte == keys[0] {
                matched = 1;
                continue;
            }
            out.push(byte);
        }
        to.write_all(&out)?;
        to.flush()?;
    }
}

/// Our standard input to an attach's connection, from a thread. At end-of-file our writing
/// side is closed, so the container reads end-of-file; on the detach keys the whole
/// connection is closed (the output ends too) and the returned flag is set.
pub fn send_input(
    connection: &std::os::unix::net::UnixStream,
    keys: Vec<u8>,
) -> Result<Arc<AtomicBool>> {
    let detached = Arc::new(AtomicBool::new(false));
    let flag = detached.clone();
    let mut connection = connection.try_clone()?;
    std::thread::spawn(move || {
        match pump_watching(std::io::stdin().lock(), &mut connection, &keys) {
            Ok(true) => {
                flag.store(true, Ordering::SeqCst);
                let _ = connection.shutdown(std::net::Shutdown::Both);
            }
            _ => {
                let _ = connection.shutdown(std::net::Shutdown::Write);
            }
        }
    });
    Ok(detached)
}

/// One attached session on a hijacked connection: our input (with the detach keys, on a
/// terminal) goes in, the terminal size follows ours (`resize` is the route), and the output
/// is copied out until it ends. `Ok(true)` when the user detached: the process runs on.
pub fn attached_session(
    client: &Client,
    reply: &mut crate::client::Reply,
    (tty, with_input): (bool, bool),
    detach_keys_flag: Option<&str>,
    resize: &str,
) -> Result<bool> {
    let detached = match with_input {
        true => Some(send_input(
            reply.socket(),
            detach_keys(tty, detach_keys_flag)?,
        )?),
        false => None,
    };
    if tty {
        forward_size(client, resize)?;
    }
    let copied = crate::client::copy_stream(reply);
    if is_set(&detached) {
        return Ok(true);
    }
    copied.map(|()| false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pump(input: &[u8], keys: &str) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        let keys = parse_detach_keys(keys).unwrap();
        let detached = pump_watching(input, &mut out, &keys).unwrap();
        (out, detached)
    }

    #[test]
    fn detach_keys_read_as_dockers_cli_reads_them() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("a,ctrl-[,ctrl-@").unwrap(), [b'a', 27, 0]);
        assert_eq!(parse_detach_keys("").unwrap(), [] as [u8; 0]);
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("ab").is_err());
    }

    #[test]
    fn the_sequence_detaches_and_is_not_sent() {
        assert_eq!(
            pump(b"ls\n\x10\x11rest", "ctrl-p,ctrl-q"),
            (b"ls\n".to_vec(), true)
        );
    }

    #[test]
    fn a_broken_sequence_is_sent_after_all() {
        assert_eq!(
            pump(b"\x10x\x10\x10\x11", "ctrl-p,ctrl-q"),
            (b"\x10x\x10".to_vec(), true)
        );
        assert_eq!(
            pump(b"a\x10b", "ctrl-p,ctrl-q"),
            (b"a\x10b".to_vec(), false)
        );
        assert_eq!(pump(b"\x10\x11", ""), (b"\x10\x11".to_vec(), false));
    }
}
