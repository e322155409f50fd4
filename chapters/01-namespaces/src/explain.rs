//! `--explain`: narrate each kernel-level step as it happens.
//!
//! This is the course's magnifying glass. Every chapter calls [`explain!`](crate::explain!) right
//! before it makes a system call that matters, so a learner can watch a container being put
//! together. The switch is a process-wide flag: it is copied into every process we fork, so the
//! steps taken inside the container narrate too. Lines go to standard error, prefixed with
//! `explain:` so they never mix with the container's own output on standard output.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Where lines go instead of standard error, if a binary says so (see [`enable_with`]).
type Sink = Box<dyn Fn(&str) + Send + Sync>;
static SINK: OnceLock<Sink> = OnceLock::new();

/// Turn narration on (the binaries do this for `--explain`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Turn narration on, each line handed to `sink` rather than printed (an OCI runtime's
/// `--debug`, which writes log lines in its caller's format, to its `--log` file).
pub fn enable_with(sink: impl Fn(&str) + Send + Sync + 'static) {
    let _ = SINK.set(Box::new(sink));
    enable();
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Write one narration line. Use the [`explain!`](crate::explain!) macro rather than this.
pub fn say(args: std::fmt::Arguments<'_>) {
    if let Some(sink) = SINK.get() {
        sink(&args.to_string());
        return;
    }
    // One write per line, so lines from the parent and the container do not interleave.
    let line = format!("explain: {args}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// `explain!("unshare({flags})")` prints a narration line when `--explain` is on.
#[macro_export]
macro_rules! explain {
    ($($arg:tt)*) => {
        if $crate::explain::enabled() {
            $crate::explain::say(format_args!($($arg)*));
        }
    };
}
