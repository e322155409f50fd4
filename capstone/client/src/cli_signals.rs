//! `--sig-proxy` (on by default for `run` and `attach` without a terminal): the signals the
//! client receives go to the container, as docker's CLI forwards them. `kill -TERM <client>`
//! or Ctrl-C in a shell then reach the container's process (`POST /containers/{id}/kill`),
//! and the client keeps streaming until the container ends or ignores them.
//!
//! With a terminal there is nothing to forward: Ctrl-C is a byte the container's own terminal
//! turns into its SIGINT (termios(3), ISIG).

use crate::client::{encode, Client};
use anyhow::Result;
use signal_hook::consts::signal::*;

/// The signals forwarded: all that can be caught, less those about the client itself
/// (SIGCHLD, SIGPIPE, SIGURG, SIGWINCH), the same set docker's `ForwardAllSignals` skips,
/// and the faults (SIGSEGV, SIGBUS, SIGSYS...) that are about the client's own code. SIGKILL
/// and SIGSTOP cannot be caught (signal(7)).
const FORWARDED: &[i32] = &[
    SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCONT, SIGTSTP, SIGTTIN,
    SIGTTOU, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO,
];

/// Read docker's `--sig-proxy[=true|false]`.
pub fn parse_switch(text: &str) -> Result<bool, String> {
    match text {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("{text:?}: want true or false")),
    }
}

/// From now until the program ends, send every signal in [`FORWARDED`] we receive to
/// container `id`.
pub fn forward(client: &Client, id: &str) -> Result<()> {
    // Registered here, before the container starts: a signal from then on is not lost (and
    // no longer ends the client by its default action).
    let mut signals = signal_hook::iterator::Signals::new(FORWARDED)?;
    let client = client.clone();
    let path = format!("/containers/{}/kill?signal=", encode(id));
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let name = signal_hook::low_level::signal_name(signal)
                .map_or_else(|| signal.to_string(), String::from);
            // A container that has just ended answers 409: nothing left to tell.
            let _ = client.call("POST", &format!("{path}{name}"), None);
        }
    });
    Ok(())
}
