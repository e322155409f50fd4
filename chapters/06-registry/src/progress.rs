//! Progress of long transfers, for two audiences: bars on standard error when it is a terminal
//! (piped or captured output — scripts, CI, the tests' snapshots — stays quiet and stable),
//! and an observer that hears each step as an [`Event`] (the capstone's daemon relays them to
//! its client as Docker's JSON progress messages).

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One step of a transfer: `id` is a blob's short digest (or a tag, for the first line of a
/// pull), `status` what happens to it, `bytes` (done, total) while bytes move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub status: String,
    pub bytes: Option<(u64, u64)>,
}

/// Who hears the events. Called from the transfer's threads, so `Send + Sync`.
pub type Observer = Arc<dyn Fn(Event) + Send + Sync>;

/// Byte counts are reported when this much time has passed since the last report, or the
/// count has grown by a fiftieth of the blob, and at the end: enough for a bar that moves
/// smoothly (and shows where a stalled download stopped), not a message per read.
const BYTES_EVERY: Duration = Duration::from_millis(100);
const BYTES_STEPS: u64 = 50;

#[derive(Clone, Default)]
pub struct Progress {
    multi: Option<MultiProgress>,
    observer: Option<Observer>,
}

impl Progress {
    /// Bars if `wanted` and standard error is a terminal.
    pub fn new(wanted: bool) -> Progress {
        let on = wanted && std::io::stderr().is_terminal();
        Progress {
            multi: on.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            observer: None,
        }
    }

    pub fn off() -> Progress {
        Progress::default()
    }

    /// No bars; every step goes to `observer` instead.
    pub fn observed(observer: Observer) -> Progress {
        Progress {
            multi: None,
            observer: Some(observer),
        }
    }

    /// A step with no bar of its own (`Pulling fs layer` before a layer's turn comes): only
    /// the observer hears it.
    pub fn note(&self, id: &str, status: &str) {
        if let Some(observer) = &self.observer {
            observer(Event {
                id: id.to_string(),
                status: status.to_string(),
                bytes: None,
            });
        }
    }

    /// One bar: `label` (a short digest) and a byte count out of `total`.
    pub fn bar(&self, label: &str, total: u64) -> Bar {
        let bar = self.multi.as_ref().map(|multi| {
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
        });
        let observed = self.observer.clone().map(|observer| Observed {
            observer,
            id: label.to_string(),
            total,
            state: Mutex::new(Moving {
                status: String::new(),
                done: 0,
                reported: None,
            }),
        });
        Bar { bar, observed }
    }
}

/// A bar, or nothing when progress is off.
pub struct Bar {
    bar: Option<ProgressBar>,
    observed: Option<Observed>,
}

/// A bar's side for the observer: the last status and how many bytes are done.
struct Observed {
    observer: Observer,
    id: String,
    total: u64,
    state: Mutex<Moving>,
}

struct Moving {
    status: String,
    done: u64,
    /// When bytes were last reported, and how many.
    reported: Option<(Instant, u64)>,
}

impl Observed {
    fn status(&self, status: &str) {
        self.state.lock().expect("progress").status = status.to_string();
        (self.observer)(Event {
            id: self.id.clone(),
            status: status.to_string(),
            bytes: None,
        });
    }

    fn bytes(&self, update: impl FnOnce(&mut u64)) {
        let mut state = self.state.lock().expect("progress");
        update(&mut state.done);
        let step = (self.total / BYTES_STEPS).max(1);
        let due = state.reported.is_none_or(|(at, bytes)| {
            at.elapsed() >= BYTES_EVERY || state.done.abs_diff(bytes) >= step
        });
        if due || state.done == self.total {
            state.reported = Some((Instant::now(), state.done));
            (self.observer)(Event {
                id: self.id.clone(),
                status: state.status.clone(),
                bytes: Some((state.done, self.total)),
            });
        }
    }
}

impl Bar {
    pub fn message(&self, message: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
        if let Some(observed) = &self.observed {
            observed.status(message);
        }
    }
    /// Bytes start moving (`Downloading`, `Pushing`): the observer hears the status with a
    /// byte count from the start, never alone (Docker's CLI shows those only as bars).
    pub fn moving(&self, message: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
        if let Some(observed) = &self.observed {
            observed.state.lock().expect("progress").status = message.to_string();
            observed.bytes(|_| {});
        }
    }
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        if let Some(observed) = &self.observed {
            observed.bytes(|done| *done += n);
        }
    }
    pub fn set_position(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(n);
        }
        if let Some(observed) = &self.observed {
            observed.bytes(|done| *done = n);
        }
    }
    pub fn finish(&self, message: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.to_string());
            bar.finish();
        }
        if let Some(observed) = &self.observed {
            observed.status(message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_observer_hears_statuses_and_a_bounded_number_of_byte_counts() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let sink = heard.clone();
        let progress = Progress::observed(Arc::new(move |e| sink.lock().unwrap().push(e)));
        progress.note("abc", "Pulling fs layer");
        let bar = progress.bar("abc", 1000);
        bar.moving("Downloading");
        for _ in 0..1000 {
            bar.inc(1);
        }
        bar.finish("Pull complete");
        let heard = heard.lock().unwrap();
        let event = |status: &str, bytes| Event {
            id: "abc".into(),
            status: status.into(),
            bytes,
        };
        assert_eq!(heard[0], event("Pulling fs layer", None));
        assert_eq!(heard[1], event("Downloading", Some((0, 1000))));
        assert_eq!(
            heard[heard.len() - 2],
            event("Downloading", Some((1000, 1000)))
        );
        assert_eq!(heard[heard.len() - 1], event("Pull complete", None));
        // A count for each fiftieth (or each 100 ms), not one per read.
        let counts = heard.iter().filter(|e| e.bytes.is_some()).count();
        assert!((50..=60).contains(&counts), "{counts} byte counts");
    }
}
