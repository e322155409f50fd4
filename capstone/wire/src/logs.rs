//! Container logs in Docker's `json-file` format, and the stream framing of the API.
//!
//! The supervisor appends one JSON object per line to `container.log`:
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","time":"2026-11-29T02:10:00.123456789Z"}
//! ```
//!
//! A line of output becomes one entry (with its `\n`); a partial line is flushed as its own
//! entry once 16 KiB without a newline have piled up, as Docker does. The daemon reads the file
//! for `logs` and follows it for `attach`, so output survives the daemon.
//!
//! Without a TTY, the API multiplexes stdout and stderr on one connection with an 8-byte header
//! per frame: `[stream, 0, 0, 0, size as u32 big-endian]` then `size` bytes; stream 1 is
//! stdout, 2 is stderr (read the Engine API's "Attach to a container" section).

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Docker's cut-off for a line without a newline.
const MAX_PARTIAL: usize = 16 * 1024;

/// One entry of the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

impl Entry {
    /// The API's stream number: 1 for stdout, 2 for stderr.
    pub fn stream_id(&self) -> u8 {
        if self.stream == "stderr" {
            2
        } else {
            1
        }
    }
}

/// Copy everything `source` (one end of a pipe) produces into the log as `stream`, line by
/// line, until end of file. Several copiers share one file (hence the lock), so lines of stdout
/// and stderr are interleaved in the order they were read.
pub fn copy_into(source: impl Read, stream: &'static str, log: Arc<Mutex<File>>) {
    copy_lines(source, stream, log, false)
}

/// The same for a terminal's output, except that what ends without a newline is logged at
/// once too: a shell's prompt has none, and `attach` (which reads the log) must show it while
/// a person waits at it. `logs` joins the pieces back, so it prints the same bytes.
pub fn copy_terminal_into(source: impl Read, log: Arc<Mutex<File>>) {
    copy_lines(source, "stdout", log, true)
}

fn copy_lines(source: impl Read, stream: &'static str, log: Arc<Mutex<File>>, terminal: bool) {
    let mut reader = BufReader::new(source);
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk.to_vec(),
        };
        reader.consume(chunk.len());
        pending.extend_from_slice(&chunk);
        while let Some(newline) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=newline).collect();
            append(&log, stream, &line);
        }
        if pending.len() >= MAX_PARTIAL || (terminal && !pending.is_empty()) {
            append(&log, stream, &std::mem::take(&mut pending));
        }
    }
    if !pending.is_empty() {
        append(&log, stream, &pending);
    }
}

/// Whether a failed write to the log was reported already. Once per process: a supervisor
/// serves one container, and a full disk would otherwise fill its own log with the news.
static WRITE_FAILURE_REPORTED: AtomicBool = AtomicBool::new(false);

/// Say on stderr (the supervisor's log, `shim.log`) that the container's log is losing
/// lines: the first time only.
fn report_write_failure(error: &std::io::Error) {
    if !WRITE_FAILURE_REPORTED.swap(true, Ordering::Relaxed) {
        eprintln!(
            "shim: the container's log lost a line, and loses every line it cannot write: \
             write: {error} (said once)"
        );
    }
}

fn append(log: &Mutex<File>, stream: &str, bytes: &[u8]) {
    let entry = Entry {
        log: String::from_utf8_lossy(bytes).into_owned(),
        stream: stream.to_string(),
        time: crate::time::rfc3339_nanos(crate::time::now_nanos()),
    };
    let mut line = serde_json::to_vec(&entry).unwrap_or_default();
    line.push(b'\n');
    if let Ok(mut file) = log.lock() {
        // The program must not block or die because its log cannot grow (ENOSPC): the line
        // is dropped, and that is said once.
        if let Err(error) = file.write_all(&line) {
            report_write_failure(&error);
        }
    }
}

/// A reader of the log from some offset on, entry by entry; entries that are still being
/// written (no newline yet) are left for the next call.
pub struct Reader {
    file: Option<BufReader<File>>,
    partial: Vec<u8>,
}

impl Reader {
    /// From the start of the log (or from its current end, `at_end`: what `attach` wants).
    ///
    /// `attach` creates the log when the container has not started yet (the supervisor opens
    /// it with `O_APPEND | O_CREAT` too). Holding it open from before the start is what keeps
    /// the output of a short `run --rm`: the container may end and be removed, its directory
    /// with it, before the attached reader looks again.
    pub fn open(path: &Path, at_end: bool) -> Reader {
        let opened = if at_end {
            std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(path)
        } else {
            File::open(path)
        };
        let file = opened.ok().map(|mut file| {
            if at_end {
                let _ = file.seek(SeekFrom::End(0));
            }
            BufReader::new(file)
        });
        Reader {
            file,
            partial: Vec::new(),
        }
    }

    /// The complete entries written since the last call.
    pub fn next_entries(&mut self, path: &Path) -> Vec<Entry> {
        if self.file.is_none() {
            // The log did not exist yet when we started (a container never started).
            self.file = File::open(path).ok().map(BufReader::new);
        }
        let Some(file) = self.file.as_mut() else {
            return Vec::new();
        };
        let mut entries = Vec::new();
        loop {
            let mut line = std::mem::take(&mut self.partial);
            match file.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    self.partial = line;
                    break;
                }
                Ok(_) if !line.ends_with(b"\n") => {
                    self.partial = line;
                    break;
                }
                Ok(_) => {
                    if let Ok(entry) = serde_json::from_slice::<Entry>(&line) {
                        entries.push(entry);
                    }
                }
            }
        }
        entries
    }
}

/// One multiplexed frame.
pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    // exercise capstone.1: one frame of a multiplexed stream: which stream, how long, the bytes
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
    // end of exercise capstone.1
}

/// Split a multiplexed stream back into (stream, payload) frames: the client's side.
pub fn read_frame(reader: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 8];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let mut payload = vec![0u8; size];
    reader.read_exact(&mut payload)?;
    Ok(Some((header[0], payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_that_cannot_grow_is_reported_and_the_copy_goes_on() {
        // /dev/full: every write fails with ENOSPC (null(4)).
        let full = Arc::new(Mutex::new(
            File::options().write(true).open("/dev/full").unwrap(),
        ));
        copy_into(&b"one\ntwo\n"[..], "stdout", full);
        assert!(WRITE_FAILURE_REPORTED.load(Ordering::Relaxed));
    }

    #[test]
    fn lines_become_entries_and_frames_round_trip() {
        let dir = tempfile_dir();
        let path = dir.join("log");
        let file = Arc::new(Mutex::new(File::create(&path).unwrap()));
        copy_into(&b"one\ntwo\nthree"[..], "stdout", file.clone());
        let mut reader = Reader::open(&path, false);
        let entries = reader.next_entries(&path);
        let logs: Vec<&str> = entries.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(logs, ["one\n", "two\n", "three"]);
        let bytes = frame(2, b"oops\n");
        let (stream, payload) = read_frame(&mut &bytes[..]).unwrap().unwrap();
        assert_eq!((stream, payload.as_slice()), (2, &b"oops\n"[..]));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_terminals_prompt_is_logged_without_waiting_for_a_newline() {
        let dir = std::env::temp_dir().join(format!("baleia-logs-prompt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let file = Arc::new(Mutex::new(File::create(&path).unwrap()));
        // Two reads: the banner and the prompt, then what the person typed, echoed.
        let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let copier = std::thread::spawn(move || copy_terminal_into(theirs, file));
        ours.write_all(b"banner\r\n/ # ").unwrap();
        let mut reader = Reader::open(&path, false);
        let mut logs: Vec<String> = Vec::new();
        while logs.concat() != "banner\r\n/ # " {
            logs.extend(reader.next_entries(&path).into_iter().map(|e| e.log));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(logs, ["banner\r\n", "/ # "]);
        drop(ours);
        copier.join().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_attached_reader_keeps_what_was_written_after_the_log_is_removed() {
        // `run --rm`: attach before the start, the container ends and is removed at once.
        let dir = std::env::temp_dir().join(format!("baleia-logs-attached-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("container.log");
        let mut reader = Reader::open(&path, true);
        let file = Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap(),
        ));
        copy_into(&b"room enough\n"[..], "stdout", file);
        std::fs::remove_dir_all(&dir).unwrap();
        let entries = reader.next_entries(&path);
        let logs: Vec<&str> = entries.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(logs, ["room enough\n"]);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("baleia-logs-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
