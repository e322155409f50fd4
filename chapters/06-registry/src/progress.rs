//! Progress bars for long transfers, only when standard error is a terminal: piped or
//! captured output (scripts, CI, the tests' snapshots) stays quiet and stable.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

#[derive(Clone)]
pub struct Progress {
    multi: Option<MultiProgress>,
}

impl Progress {
    /// Bars if `wanted` and standard error is a terminal.
    pub fn new(wanted: bool) -> Progress {
        let on = wanted && std::io::stderr().is_terminal();
        Progress {
            multi: on.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    pub fn off() -> Progress {
        Progress { multi: None }
    }

    /// One bar: `label` (a short digest) and a byte count out of `total`.
    pub fn bar(&self, label: &str, total: u64) -> Bar {
        Bar(self.multi.as_ref().map(|multi| {
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix}: {msg:12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .expect("progress template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        }))
    }
}

/// A bar, or nothing when progress is off.
pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn message(&self, message: &'static str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
        }
    }
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(n);
        }
    }
    pub fn set_position(&self, n: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(n);
        }
    }
    pub fn finish(&self, message: &'static str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message);
            bar.finish();
        }
    }
}
