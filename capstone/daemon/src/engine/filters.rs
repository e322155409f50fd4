//! Docker's `filters` query parameter, parsed and checked once for every list, prune and
//! events endpoint.
//!
//! The rules (Docker's `api/types/filters`):
//! - the parameter is a JSON object, key → values, as `{"label": ["a=1", "b"]}` or, from
//!   older clients, `{"label": {"a=1": true, "b": true}}`;
//! - different keys are ANDed: an object must pass every key;
//! - the values of one key are ORed (`name=web`, `name=db`: either name), except `label`,
//!   whose values are ANDed (`label=a`, `label=b`: both labels), and `label!`, whose values
//!   must all fail;
//! - `label=k` asks for the key only, `label=k=v` for the key with that value;
//! - a key the endpoint does not know is refused with 400 (`invalid filter 'x'`), never
//!   ignored: a client that lists by a filter and removes what it gets back must not receive
//!   more than it asked for.

use super::{ApiError, ApiResult};
use serde_json::Value;
use std::collections::BTreeMap;

/// The filters of one request, checked against the keys its endpoint accepts.
#[derive(Debug, Clone, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parse `filters` (the raw query value) and refuse any key not in `accepted`.
    pub fn parse(text: Option<&str>, accepted: &[&str]) -> ApiResult<Filters> {
        let value: Value = match text {
            None | Some("") => return Ok(Filters::default()),
            Some(text) => serde_json::from_str(text)
                .map_err(|e| ApiError::bad_request(format!("invalid filters: {e}")))?,
        };
        Filters::from_value(&value, accepted)
    }

    /// The same from an already parsed JSON object.
    pub fn from_value(value: &Value, accepted: &[&str]) -> ApiResult<Filters> {
        let Some(map) = value.as_object() else {
            if value.is_null() {
                return Ok(Filters::default());
            }
            return Err(ApiError::bad_request("invalid filters: not a JSON object"));
        };
        let mut filters = BTreeMap::new();
        for (key, values) in map {
            if !accepted.contains(&key.as_str()) {
                return Err(ApiError::bad_request(format!("invalid filter '{key}'")));
            }
            let values: Vec<String> = match values {
                Value::Array(list) => list
                    .iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect(),
                Value::Object(map) => map
                    .iter()
                    .filter(|(_, on)| on.as_bool() != Some(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                Value::String(one) => vec![one.clone()],
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter '{key}': its values must be a list of strings"
                    )))
                }
            };
            if !values.is_empty() {
                filters.insert(key.clone(), values);
            }
        }
        Ok(Filters(filters))
    }

    /// The values given for `key` (empty: the key was not given).
    pub fn values(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// OR within one key: `true` when the key was not given or any value passes `test`.
    pub fn any(&self, key: &str, test: impl Fn(&str) -> bool) -> bool {
        self.0
            .get(key)
            .is_none_or(|values| values.iter().any(|v| test(v)))
    }

    /// `label` (every value must match) and `label!` (no value may match).
    pub fn labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.values("label")
            .iter()
            .all(|l| label_matches(l, labels))
            && !self
                .values("label!")
                .iter()
                .any(|l| label_matches(l, labels))
    }

    /// A boolean filter (`dangling`, `all`): `None` when not given; 400 on anything but
    /// `true`/`false`/`1`/`0`, as Docker.
    pub fn boolean(&self, key: &str) -> ApiResult<Option<bool>> {
        let mut result = None;
        for value in self.values(key) {
            let this = match value.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter '{key}={value}'"
                    )))
                }
            };
            if result.is_some_and(|r| r != this) {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{key}': both true and false"
                )));
            }
            result = Some(this);
        }
        Ok(result)
    }

    /// `until`: passes objects created (seconds since the epoch) before the time given, as a
    /// timestamp (`1700000000`, RFC 3339) or a duration back from now (`10m`, `24h`).
    pub fn until(&self, created_secs: i64) -> ApiResult<bool> {
        for value in self.values("until") {
            if created_secs >= parse_point(value)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `k` or `k=v` against a set of labels.
fn label_matches(filter: &str, labels: &BTreeMap<String, String>) -> bool {
    match filter.split_once('=') {
        Some((key, value)) => labels.get(key).is_some_and(|v| v == value),
        None => labels.contains_key(filter),
    }
}

/// A point in time in seconds since the epoch: a (fractional) timestamp, an RFC 3339 date, or
/// a Go duration (`90s`, `10m`, `1h30m`) counted back from now.
pub fn parse_point(text: &str) -> ApiResult<i64> {
    let invalid = || ApiError::bad_request(format!("invalid filter 'until={text}'"));
    if let Some(nanos) = super::events::parse_time(text) {
        return Ok(nanos / 1_000_000_000);
    }
    if let Some(date) = rfc3339_secs(text) {
        return Ok(date);
    }
    let mut total = 0f64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().map_err(|_| invalid())?;
        number.clear();
        total += n * match c {
            's' => 1.0,
            'm' => 60.0,
            'h' => 3600.0,
            _ => return Err(invalid()),
        };
    }
    if !number.is_empty() || text.is_empty() {
        return Err(invalid());
    }
    Ok(crate::time::now_nanos() / 1_000_000_000 - total as i64)
}

/// `2024-01-02T03:04:05Z` (a fraction and a `+hh:mm` offset allowed) in seconds since the
/// epoch; the day count is Howard Hinnant's `days_from_civil`.
pub fn rfc3339_secs(text: &str) -> Option<i64> {
    let (date, time) = text.split_once('T')?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (clock, offset) = match time.find(['Z', '+', '-']) {
        Some(at) => time.split_at(at),
        None => (time, ""),
    };
    let mut hms = clock.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let min: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next()?.split('.').next()?.parse().ok()?;
    let offset = match offset {
        "" | "Z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s - offset)
}

/// The accepted keys of each endpoint: those Docker documents for it that baleia
/// implements. The others Docker documents (`health`, `publish`, `expose`, `is-task`, ...)
/// are refused by name like unknown ones: answering them unfiltered would be worse.
pub mod keys {
    pub const CONTAINERS: &[&str] = &[
        "ancestor", "before", "exited", "id", "label", "name", "network", "since", "status",
        "volume",
    ];
    pub const CONTAINERS_PRUNE: &[&str] = &["label", "label!", "until"];
    pub const IMAGES: &[&str] = &["before", "dangling", "label", "reference", "since", "until"];
    pub const IMAGES_PRUNE: &[&str] = &["dangling", "label", "label!", "until"];
    pub const NETWORKS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];
    pub const NETWORKS_PRUNE: &[&str] = &["label", "label!", "until"];
    pub const VOLUMES: &[&str] = &["dangling", "driver", "label", "name"];
    pub const VOLUMES_PRUNE: &[&str] = &["all", "label", "label!"];
    pub const EVENTS: &[&str] = &[
        "container",
        "event",
        "image",
        "label",
        "network",
        "type",
        "volume",
    ];
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_are_anded_and_negated() {
        let f = Filters::from_value(&json!({ "label": ["p=a", "svc"] }), &["label"]).unwrap();
        assert!(f.labels(&labels(&[("p", "a"), ("svc", "web")])));
        assert!(!f.labels(&labels(&[("p", "a")])));
        assert!(!f.labels(&labels(&[("p", "b"), ("svc", "web")])));
        let f = Filters::from_value(&json!({ "label!": { "keep": true } }), &["label!"]).unwrap();
        assert!(!f.labels(&labels(&[("keep", "")])));
        assert!(f.labels(&labels(&[])));
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let error = Filters::from_value(&json!({ "colour": ["red"] }), &["label"]).unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.message, "invalid filter 'colour'");
    }

    #[test]
    fn other_keys_are_ored() {
        let f = Filters::from_value(&json!({ "name": ["a", "b"] }), &["name"]).unwrap();
        assert!(f.any("name", |v| v == "b"));
        assert!(!f.any("name", |v| v == "c"));
        assert!(f.any("id", |_| false), "a key not given passes");
    }

    #[test]
    fn booleans_and_until() {
        let f = Filters::from_value(&json!({ "dangling": ["true"] }), &["dangling"]).unwrap();
        assert_eq!(f.boolean("dangling").unwrap(), Some(true));
        let f = Filters::from_value(&json!({ "dangling": ["maybe"] }), &["dangling"]).unwrap();
        assert!(f.boolean("dangling").is_err());
        let f = Filters::from_value(&json!({ "until": ["1000"] }), &["until"]).unwrap();
        assert!(f.until(999).unwrap());
        assert!(!f.until(1000).unwrap());
        let f = Filters::from_value(&json!({ "until": ["1h"] }), &["until"]).unwrap();
        assert!(f.until(0).unwrap());
        assert!(!f.until(crate::time::now_nanos() / 1_000_000_000).unwrap());
        assert_eq!(parse_point("2001-09-09T01:46:40Z").unwrap(), 1_000_000_000);
    }
}
