//! `--format` for the client's lists and `inspect -f` (see crate::template for the language).
//!
//! Docker's templates for lists do not see the API's JSON: each row is a small "context" whose
//! fields are already formatted for people (`.ID` shortened, `.Names` without the slash,
//! `.RunningFor` as "5 minutes ago"). Here each list builds those rows, with docker's field
//! names and, for `table`, docker's column titles. `inspect -f` and `events --format` see the
//! API's JSON, as docker's do.

use crate::client::{encode, Client};
use crate::template::{ListFormat, Template};
use anyhow::{Context, Result};
use serde_json::{json, Value};

/// Print `rows` with `format` (`json` for one JSON object a line, as docker's `--format json`).
pub fn print_list(format: &str, rows: &[Value], headers: &Value) -> Result<()> {
    let format = if format == "json" {
        "{{json .}}"
    } else {
        format
    };
    let list = ListFormat::parse(format).context("--format")?;
    print!("{}", list.render(rows, headers)?);
    Ok(())
}

/// Docker's `units.HumanSizeWithPrecision(size, 3)`: `4.26MB`, `1.5kB`, `123B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{}{}", significant(value, 3), UNITS[unit])
}

/// Go's `%.Ng`: `n` significant digits, trailing zeros dropped.
fn significant(value: f64, n: i32) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let digits = (n - 1 - value.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.digits$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// Go's `time.Time.String()` of unix seconds, in UTC: `2026-12-07 12:55:42 +0000 UTC`.
fn go_time(seconds: i64) -> String {
    let text = ch04_images::time::rfc3339(seconds);
    format!(
        "{} +0000 UTC",
        text.trim_end_matches('Z').replacen('T', " ", 1)
    )
}

fn ago(seconds: i64) -> String {
    let now = crate::time::now_nanos() / 1_000_000_000;
    format!("{} ago", crate::time::human_duration(now - seconds))
}

/// docker's Ellipsis: at most `max` characters, the last one `…` when cut.
fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    text.chars().take(max - 1).collect::<String>() + "…"
}

fn labels(labels: &Value) -> String {
    let pairs: Vec<String> = labels
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.join(",")
}

fn short_id(id: &str, no_trunc: bool) -> String {
    match no_trunc {
        true => id.to_string(),
        false => id.trim_start_matches("sha256:").chars().take(12).collect(),
    }
}

/// `ps --format`: the rows of `GET /containers/json`.
pub fn ps(client: &Client, path: &str, no_trunc: bool, format: &str) -> Result<()> {
    let list = client.call("GET", path, None)?;
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let names: Vec<&str> = c["Names"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str())
                .map(|n| n.trim_start_matches('/'))
                .collect();
            let command = c["Command"].as_str().unwrap_or_default();
            let command = if no_trunc {
                command.to_string()
            } else {
                ellipsis(command, 20)
            };
            let mounts: Vec<String> = c["Mounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let name = m["Name"].as_str().filter(|n| !n.is_empty());
                    let name = name.or(m["Source"].as_str()).unwrap_or_default();
                    if no_trunc {
                        name.to_string()
                    } else {
                        ellipsis(name, 15)
                    }
                })
                .collect();
            let networks: Vec<&String> = c["NetworkSettings"]["Networks"]
                .as_object()
                .map(|n| n.keys().collect())
                .unwrap_or_default();
            let created = c["Created"].as_i64().unwrap_or(0);
            json!({
                "ID": short_id(c["Id"].as_str().unwrap_or_default(), no_trunc),
                "Names": names.join(","),
                "Image": c["Image"],
                "Command": serde_json::to_string(&command).unwrap_or_default(),
                "CreatedAt": go_time(created),
                "RunningFor": ago(created),
                "Ports": crate::cli::ports_column(&c["Ports"]),
                "State": c["State"],
                "Status": c["Status"],
                "Size": size(c["SizeRw"].as_u64().unwrap_or(0)),
                "Labels": labels(&c["Labels"]),
                "Mounts": mounts.join(","),
                "Networks": networks.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    let headers = json!({
        "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
        "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
        "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
        "Networks": "NETWORKS",
    });
    print_list(format, &rows, &headers)
}

/// `images --format`: one row per tag (`<none>` for an untagged image), as docker's.
pub fn images(
    client: &Client,
    reference: Option<&str>,
    no_trunc: bool,
    format: &str,
) -> Result<()> {
    let mut path = "/images/json".to_string();
    if let Some(r) = reference {
        let filters = json!({ "reference": [r] }).to_string();
        path.push_str(&format!("?filters={}", encode(&filters)));
    }
    let list = client.call("GET", &path, None)?;
    let mut rows = Vec::new();
    for image in list.as_array().into_iter().flatten() {
        let mut tags: Vec<String> = image["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
        if tags.is_empty() {
            tags.push("<none>:<none>".into());
        }
        let digest = image["RepoDigests"][0]
            .as_str()
            .and_then(|d| d.split_once('@'))
            .map_or("<none>", |(_, d)| d);
        let created = image["Created"].as_i64().unwrap_or(0);
        for tag in tags {
            let (repository, tag) = ch04_images::reference::split(&tag);
            rows.push(json!({
                "ID": short_id(image["Id"].as_str().unwrap_or_default(), no_trunc),
                "Repository": repository,
                "Tag": tag,
                "Digest": digest,
                "CreatedSince": ago(created),
                "CreatedAt": go_time(created),
                "Size": size(image["Size"].as_u64().unwrap_or(0)),
                "Containers": match image["Containers"].as_i64() {
                    Some(n) if n >= 0 => n.to_string(),
                    _ => "N/A".to_string(),
                },
            }));
        }
    }
    let headers = json!({
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "Containers": "CONTAINERS",
    });
    print_list(format, &rows, &headers)
}

/// `volume ls --format`.
pub fn volumes(client: &Client, format: &str) -> Result<()> {
    let list = client.call("GET", "/volumes", None)?;
    let rows: Vec<Value> = list["Volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            json!({
                "Name": v["Name"], "Driver": v["Driver"], "Scope": v["Scope"],
                "Mountpoint": v["Mountpoint"], "Labels": labels(&v["Labels"]),
            })
        })
        .collect();
    let headers = json!({
        "Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    });
    print_list(format, &rows, &headers)
}

/// `network ls --format`.
pub fn networks(client: &Client, no_trunc: bool, format: &str) -> Result<()> {
    let list = client.call("GET", "/networks", None)?;
    let rows: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            json!({
                "ID": short_id(n["Id"].as_str().unwrap_or_default(), no_trunc),
                "Name": n["Name"], "Driver": n["Driver"], "Scope": n["Scope"],
                "IPv6": n["EnableIPv6"].as_bool().unwrap_or(false).to_string(),
                "Internal": n["Internal"].as_bool().unwrap_or(false).to_string(),
                "Labels": labels(&n["Labels"]),
            })
        })
        .collect();
    let headers = json!({
        "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
        "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
    });
    print_list(format, &rows, &headers)
}

/// `inspect -f`: the template run on each object's JSON, one output line each.
pub fn inspect(client: &Client, names: &[String], format: &str) -> Result<i32> {
    let template = Template::parse(format).context("--format")?.strict();
    let mut code = 0;
    for name in names {
        let found = client
            .call("GET", &format!("/containers/{}/json", encode(name)), None)
            .or_else(|_| client.call("GET", &format!("/images/{}/json", encode(name)), None));
        match found {
            Ok(value) => match template.render(&value) {
                Ok(text) => println!("{text}"),
                // As docker: said for each object, and the exit code is 1.
                Err(error) => {
                    eprintln!("template parsing error: {error}");
                    code = 1;
                }
            },
            Err(_) => {
                eprintln!("{}", crate::hints::no_such_object(name));
                code = 1;
            }
        }
    }
    Ok(code)
}

/// The column titles of `stats --format table ...`.
pub fn stats_headers() -> Value {
    json!({
        "Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_like_dockers() {
        assert_eq!(size(123), "123B");
        assert_eq!(size(1500), "1.5kB");
        assert_eq!(size(4_261_234), "4.26MB");
        assert_eq!(size(0), "0B");
        assert_eq!(go_time(0), "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(
            ellipsis("sleep 1000000000000000000", 20),
            "sleep 1000000000000…"
        );
    }
}
