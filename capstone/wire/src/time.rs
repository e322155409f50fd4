//! Timestamps as the Docker API writes them (RFC 3339 with nanoseconds, UTC), and the
//! human durations of `ps` ("Up 3 seconds", "Exited (0) 2 minutes ago").

use std::time::{SystemTime, UNIX_EPOCH};

/// What Go's zero `time.Time` prints: Docker's "never" (a container not started yet).
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// `2026-11-29T02:10:00.123456789Z`, or [`ZERO`] for 0.
pub fn rfc3339_nanos(nanos: i64) -> String {
    if nanos == 0 {
        return ZERO.to_string();
    }
    let seconds = ch04_images::time::rfc3339(nanos.div_euclid(1_000_000_000));
    let fraction = nanos.rem_euclid(1_000_000_000);
    format!("{}.{fraction:09}Z", seconds.trim_end_matches('Z'))
}

/// Docker's `units.HumanDuration`: how `ps` says how long ago something happened.
pub fn human_duration(seconds: i64) -> String {
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    match seconds {
        s if s < 1 => "Less than a second".into(),
        1 => "1 second".into(),
        s if s < 60 => format!("{s} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_nanoseconds_and_zero_is_go_zero() {
        assert_eq!(rfc3339_nanos(0), ZERO);
        assert_eq!(
            rfc3339_nanos(1_764_288_000_000_000_005),
            "2025-11-28T00:00:00.000000005Z"
        );
    }

    #[test]
    fn durations_read_like_docker() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(3), "3 seconds");
        assert_eq!(human_duration(61), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(7200), "2 hours");
    }
}
