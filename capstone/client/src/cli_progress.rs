//! Docker's JSON progress messages (`pull`, `push`, `load`, `build`) on screen, as the docker
//! CLI shows them:
//!
//! ```text
//! {"status":"Pulling fs layer","id":"9ad63333ebc9"}             9ad63333ebc9: Pulling fs layer
//! {"status":"Downloading","progressDetail":{"current":…,"total":…},"id":"9ad63333ebc9"}
//!                                  on a terminal, that same line redrawn in place:
//!                                  9ad63333ebc9: Downloading [=====>      ] 1.2 MB/3.4 MB
//!                                  piped: nothing (a log wants the steps, not the bytes)
//! {"status":"Digest: sha256:…"}                                 Digest: sha256:…
//! {"stream":"Step 1/2 : FROM busybox\n"}                        Step 1/2 : FROM busybox
//! {"error":"…","errorDetail":{"message":"…"}}                   the command fails with it
//! ```

use crate::client::Reply;
use anyhow::Result;
use ch04_images::report::human_size;
use serde_json::Value;
use std::io::{BufRead, IsTerminal, Write};

/// Where the messages go: `pull` prints on standard output; `run`'s implicit pull on standard
/// error, so that standard output is the container's alone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stdout,
    Stderr,
}

impl Target {
    fn is_terminal(self) -> bool {
        match self {
            Target::Stdout => std::io::stdout().is_terminal(),
            Target::Stderr => std::io::stderr().is_terminal(),
        }
    }

    fn write(self, text: &str) -> Result<()> {
        match self {
            Target::Stdout => write_flushed(&mut std::io::stdout(), text),
            Target::Stderr => write_flushed(&mut std::io::stderr(), text),
        }
    }
}

fn write_flushed(out: &mut impl Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())?;
    Ok(out.flush()?)
}

/// The JSON messages of a reply, one a line, as they arrive. An error status is a
/// [`crate::client::DaemonError`].
pub fn messages(reply: Reply) -> Result<impl Iterator<Item = Result<Value>>> {
    Ok(reply
        .success()?
        .reader
        .lines()
        .filter_map(|line| match line {
            Ok(line) if line.trim().is_empty() => None,
            Ok(line) => Some(serde_json::from_str(&line).map_err(|e| {
                anyhow::anyhow!("the daemon sent a message that is not JSON ({e}): {line}")
            })),
            Err(e) => Some(Err(e.into())),
        }))
}

/// An error the daemon sent in the stream, after its answer had begun (`build` prints it and
/// exits 1, as docker does).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StreamError(pub String);

/// A pull's or push's messages on `target` (see [`show`]); a stream that ends before its last
/// line (a pull's `Status:`, a push's digest in `aux`) is a daemon gone in the middle, not a
/// success.
pub fn show_transfer(reply: Reply, target: Target, quiet: bool, what: &str) -> Result<()> {
    let (aux, last) = show_with_last(reply, target, quiet)?;
    let pulled = last.starts_with("Status: ");
    if !pulled && aux.is_none_or(|aux| aux["Digest"].is_null()) {
        anyhow::bail!(
            "the daemon closed the connection before the {what} ended; its log says why, \
             and the {what} can be run again"
        );
    }
    Ok(())
}

/// Show a reply's messages on `target` (nothing with `quiet`, but errors still fail). Returns
/// the last `aux` object (`build`'s image id, `push`'s digest).
pub fn show(reply: Reply, target: Target, quiet: bool) -> Result<Option<Value>> {
    Ok(show_with_last(reply, target, quiet)?.0)
}

/// [`show`], and the last status seen.
fn show_with_last(reply: Reply, target: Target, quiet: bool) -> Result<(Option<Value>, String)> {
    let mut screen = Screen {
        target,
        terminal: !quiet && target.is_terminal(),
        quiet,
        lines: Vec::new(),
    };
    let (mut aux, mut last) = (None, String::new());
    for message in messages(reply)? {
        let message = message?;
        if let Some(error) = message["error"].as_str() {
            return Err(StreamError(error.to_string()).into());
        }
        if message["aux"].is_object() {
            aux = Some(message["aux"].clone());
        }
        if let Some(status) = message["status"].as_str() {
            last = status.to_string();
        }
        screen.show(&message)?;
    }
    Ok((aux, last))
}

/// What is on screen: on a terminal, one line per id, redrawn in place.
struct Screen {
    target: Target,
    terminal: bool,
    quiet: bool,
    /// The ids with a line of their own, in the order they came (the cursor is below the
    /// last), until a line without an id ends them.
    lines: Vec<String>,
}

impl Screen {
    fn show(&mut self, message: &Value) -> Result<()> {
        if self.quiet {
            return Ok(());
        }
        let id = message["id"].as_str().filter(|id| !id.is_empty());
        let status = message["status"].as_str().unwrap_or_default();
        let bytes = bytes(message);
        if let (true, Some(id)) = (self.terminal, id) {
            return self.redraw(id, &line(id, status, bytes));
        }
        if !self.terminal && bytes.is_some() {
            // As the docker CLI piped: byte counts are for eyes, not logs.
            return Ok(());
        }
        self.lines.clear();
        if let Some(text) = message["stream"].as_str() {
            return self.target.write(text);
        }
        if status.is_empty() {
            return Ok(());
        }
        match id {
            Some(id) => self.target.write(&format!("{id}: {status}\n")),
            None => self.target.write(&format!("{status}\n")),
        }
    }

    /// The line of `id`: a new one below the others, or its own redrawn in place (up to it
    /// with `ESC [ n A`, erase it with `ESC [ 2 K`, back down with `ESC [ n B`; console_codes(4)),
    /// as the docker CLI does.
    fn redraw(&mut self, id: &str, text: &str) -> Result<()> {
        match self.lines.iter().position(|known| known == id) {
            None => {
                self.lines.push(id.to_string());
                self.target.write(&format!("{text}\n"))
            }
            Some(at) => {
                let up = self.lines.len() - at;
                self.target
                    .write(&format!("\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B"))
            }
        }
    }
}

/// One id's line: `9ad63333ebc9: Downloading [=====>     ] 1.2 MB/3.4 MB`, or its status.
/// As the docker CLI, the bar only on a terminal wider than 110 columns; and never wider than
/// the terminal: a line that wrapped would throw off the count of lines to move up.
fn line(id: &str, status: &str, bytes: Option<(u64, u64)>) -> String {
    const BAR: u64 = 50;
    let columns = crate::terminal::size().map_or(80, |(_, columns)| usize::from(columns));
    let text = match bytes.filter(|(_, total)| *total > 0) {
        None => format!("{id}: {status}"),
        Some((current, total)) => {
            let filled = (BAR * current.min(total) / total) as usize;
            let bar = match filled {
                _ if columns <= 110 => String::new(),
                0 => format!("[{}] ", " ".repeat(BAR as usize)),
                n => format!("[{}>{}] ", "=".repeat(n - 1), " ".repeat(BAR as usize - n)),
            };
            format!(
                "{id}: {status} {bar}{}/{}",
                human_size(current),
                human_size(total)
            )
        }
    };
    text.chars()
        .take(columns.saturating_sub(1).max(1))
        .collect()
}

/// `progressDetail`'s (current, total), when it has both.
fn bytes(message: &Value) -> Option<(u64, u64)> {
    let detail = &message["progressDetail"];
    Some((detail["current"].as_u64()?, detail["total"].as_u64()?))
}

/// The name docker prints after a pull or push: `docker.io/library/busybox:latest`.
pub fn full_name(reference: &str) -> String {
    ch06_registry::reference::Reference::parse(reference)
        .map(|r| r.to_string())
        .unwrap_or_else(|_| reference.to_string())
}
