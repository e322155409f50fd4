//! Go durations (`1m30s`, `500ms`, `1.5h`), as HEALTHCHECK's flags take them (the builder
//! stores nanoseconds in the image config, as Docker does).

const UNITS: [(&str, f64); 7] = [
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("h", 3600e9),
];

/// Nanoseconds in a Go duration string, or why it is not one.
pub fn parse_go_duration(text: &str) -> Result<u64, String> {
    if text == "0" {
        return Ok(0);
    }
    let bad = || format!("invalid duration {text:?} (write e.g. 30s, 1m30s, 500ms)");
    if text.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(bad)?;
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if total > u64::MAX as f64 / 2.0 {
        return Err(bad());
    }
    Ok(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(parse_go_duration("500ms"), Ok(500_000_000));
        assert_eq!(parse_go_duration("0"), Ok(0));
        for bad in ["", "10", "s", "5 s", "5x", "-1s", "1..2s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad}");
        }
    }
}
