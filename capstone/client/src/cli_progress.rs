//! Docker's JSON progress messages (`pull`, `push`, `load`, `build`) on screen, as the docker
//! CLI shows them:
//!
//! ```text
//! {"status":"Pulling fs layer","id":"9ad63333ebc9"}             9ad63333ebc9: Pulling fs layer
//! {"status":"Downloading","progressDetail":{"current":…,"total":…},"id":"9ad63333ebc9"}
//!                                  on a terminal, that same line redrawn in place:
//!                                  9ad63333ebc9: Downloading [=====>      ] 1.2 MiB/3.4 MiB
//!                                  piped: nothing (a log wants the steps, not the bytes)
//! {"status":"Digest: sha256:…"}                                 Digest: sha256:…
//! {"stream":"Step 1/2 : FROM busybox\n"}                        Step 1/2 : FROM busybox
//! {"error":"…","errorDetail":{"message":"…"}}                   the command fails with it
//! ```

use crate::client::Reply;
use anyhow::Result;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::collections::HashMap;
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

    fn draw_target(self) -> ProgressDrawTarget {
        match self {
            Target::Stdout => ProgressDrawTarget::stdout(),
            Target::Stderr => ProgressDrawTarget::stderr(),
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

/// Show a reply's messages on `target` (nothing with `quiet`, but errors still fail). Returns
/// the last `aux` object (`build`'s image id, `push`'s digest).
pub fn show(reply: Reply, target: Target, quiet: bool) -> Result<Option<Value>> {
    let mut screen = Screen {
        target,
        terminal: !quiet && target.is_terminal(),
        quiet,
        bars: None,
    };
    let mut aux = None;
    for message in messages(reply)? {
        let message = message?;
        if let Some(error) = message["error"].as_str() {
            screen.finish();
            return Err(StreamError(error.to_string()).into());
        }
        if message["aux"].is_object() {
            aux = Some(message["aux"].clone());
        }
        screen.show(&message)?;
    }
    screen.finish();
    Ok(aux)
}

/// What is on screen: on a terminal, one line per id, redrawn in place.
struct Screen {
    target: Target,
    terminal: bool,
    quiet: bool,
    /// The lines with an id, in the order they came, until a line without one ends them.
    bars: Option<(MultiProgress, HashMap<String, ProgressBar>)>,
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
            self.redraw(id, status, bytes);
            return Ok(());
        }
        if !self.terminal && bytes.is_some() {
            // As the docker CLI piped: byte counts are for eyes, not logs.
            return Ok(());
        }
        self.finish();
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

    /// The line of `id`, made or redrawn: a bar while bytes move, else just its status.
    fn redraw(&mut self, id: &str, status: &str, bytes: Option<(u64, u64)>) {
        let target = self.target;
        let (multi, bars) = self.bars.get_or_insert_with(|| {
            (
                MultiProgress::with_draw_target(target.draw_target()),
                HashMap::new(),
            )
        });
        let bar = bars.entry(id.to_string()).or_insert_with(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_prefix(id.to_string());
            bar
        });
        match bytes {
            Some((current, total)) => {
                bar.set_style(style("{prefix}: {msg} [{bar:50}] {bytes}/{total_bytes}"));
                bar.set_length(total);
                bar.set_position(current);
            }
            None => bar.set_style(style("{prefix}: {msg}")),
        }
        bar.set_message(status.to_string());
    }

    /// Leave the lines drawn as they are; what comes next goes below them.
    fn finish(&mut self) {
        if let Some((_, bars)) = self.bars.take() {
            for bar in bars.values() {
                bar.finish();
            }
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid progress template")
        .progress_chars("=> ")
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
