//! `baleia events`: the engine's event stream (`GET /events`), printed as `docker events`
//! prints it.

use crate::client::{encode, Client};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::Write;

/// `--since`/`--until`: unix seconds (`1700000000`, `1700000000.5`), or a duration back from
/// now (`10m`, `1h30m`, `45s`), as the docker CLI accepts them; sent as seconds.
pub fn timestamp(text: &str) -> Result<String> {
    if text.parse::<f64>().is_ok() {
        return Ok(text.to_string());
    }
    let mut total = 0f64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let value: f64 = number
            .parse()
            .with_context(|| format!("{text}: not a timestamp or duration"))?;
        number.clear();
        total += value
            * match c {
                's' => 1.0,
                'm' => 60.0,
                'h' => 3600.0,
                _ => bail!("{text}: unknown unit {c:?} (s, m, h)"),
            };
    }
    if !number.is_empty() {
        bail!("{text}: a duration needs a unit (s, m, h)");
    }
    let now = crate::time::now_nanos() as f64 / 1e9;
    Ok(format!("{:.9}", now - total))
}

/// `--filter key=value`, repeated → Docker's `{"key": ["value", …]}`.
pub fn filters_json(filters: &[String]) -> Result<String> {
    let mut map = serde_json::Map::new();
    for filter in filters {
        let (key, value) = filter
            .split_once('=')
            .with_context(|| format!("bad format of filter (expected name=value): {filter}"))?;
        map.entry(key.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("an array")
            .push(json!(value));
    }
    Ok(Value::Object(map).to_string())
}

/// One event as `docker events` prints it.
fn event_line(event: &Value) -> String {
    let time = crate::time::rfc3339_nanos(event["timeNano"].as_i64().unwrap_or(0));
    let mut attributes: Vec<String> = event["Actor"]["Attributes"]
        .as_object()
        .map(|map| {
            map.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    attributes.sort();
    format!(
        "{time} {} {} {} ({})",
        event["Type"].as_str().unwrap_or_default(),
        event["Action"].as_str().unwrap_or_default(),
        event["Actor"]["ID"].as_str().unwrap_or_default(),
        attributes.join(", ")
    )
}

pub fn events(
    client: &Client,
    since: Option<&str>,
    until: Option<&str>,
    filters: &[String],
    format: Option<&str>,
) -> Result<i32> {
    let format = match format {
        Some("json") => Some("{{json .}}"),
        other => other,
    };
    let template = format
        .map(crate::template::Template::parse)
        .transpose()
        .context("--format")?;
    let mut path = String::from("/events?");
    if let Some(since) = since {
        path.push_str(&format!("since={}&", encode(&timestamp(since)?)));
    }
    if let Some(until) = until {
        path.push_str(&format!("until={}&", encode(&timestamp(until)?)));
    }
    if !filters.is_empty() {
        path.push_str(&format!("filters={}", encode(&filters_json(filters)?)));
    }
    let reply = client.request("GET", &path, None, false)?;
    if reply.status >= 400 {
        reply.json()?;
        return Ok(1);
    }
    let mut out = std::io::stdout();
    // Each event as soon as its chunk arrives.
    for event in reply.messages() {
        let event = event?;
        let line = match &template {
            Some(template) => template.render(&event)?,
            None => event_line(&event),
        };
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_and_filters() {
        assert_eq!(super::timestamp("1700000000").unwrap(), "1700000000");
        let ago: f64 = super::timestamp("1m30s").unwrap().parse().unwrap();
        let now = crate::time::now_nanos() as f64 / 1e9;
        assert!((now - ago - 90.0).abs() < 5.0);
        assert!(super::timestamp("10x").is_err());
        assert_eq!(
            super::filters_json(&["type=container".into(), "event=start".into()]).unwrap(),
            r#"{"event":["start"],"type":["container"]}"#
        );
    }
}
