//! Signals by the names people type: `SIGTERM`, `TERM`, `term` or `15` (`docker kill -s`,
//! `STOPSIGNAL`, `runc kill`). The names and numbers are signal(7)'s.

use nix::sys::signal::Signal;
use std::str::FromStr;

/// The signal `text` names, or `None` when it names none (signal 0 included: it is no signal,
/// kill(2) with it only checks that the process exists).
pub fn parse_signal(text: &str) -> Option<Signal> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_or_without_sig_and_numbers() {
        for text in ["SIGTERM", "TERM", "term", "15"] {
            assert_eq!(parse_signal(text), Some(Signal::SIGTERM), "{text}");
        }
        for text in ["0", "65", "TERMINATE", ""] {
            assert_eq!(parse_signal(text), None, "{text}");
        }
    }
}
