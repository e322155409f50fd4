//! Timestamps for configs and history: RFC 3339 in UTC, as the OCI image spec wants.
//!
//! `SOURCE_DATE_EPOCH` (the reproducible-builds convention) overrides the clock, so that the
//! same inputs give the same config, hence the same image id: the tests rely on it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` if set, else now.
pub fn now() -> i64 {
    if let Some(fixed) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        return fixed;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-28T17:00:00Z`.
pub fn rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `2026-11-28 17:00:00` from an RFC 3339 string (anything unparsable is shown as it is).
pub fn display(created: Option<&str>) -> String {
    match created {
        Some(text) if text.len() >= 19 => format!("{} {}", &text[..10], &text[11..19]),
        Some(text) => text.to_string(),
        None => "-".to_string(),
    }
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z"); // date -d @951782400
        assert_eq!(rfc3339(1_764_349_200), "2025-11-28T17:00:00Z");
        assert_eq!(display(Some("2025-11-28T17:00:00Z")), "2025-11-28 17:00:00");
    }
}
