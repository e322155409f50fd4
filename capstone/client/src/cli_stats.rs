//! `baleia stats`: what containers use, as `docker stats` shows it: a live table redrawn in
//! place every second (on a terminal; piped, one table after another), or one table with
//! `--no-stream`.
//!
//! CPU % is docker's: the container's CPU time over the machine's between two samples, times
//! the number of CPUs (`cpu_stats` against `precpu_stats`, from the cgroup's `cpu.stat` and
//! /proc/stat). A first sample has nothing to compare with, so `--no-stream` takes two, a
//! second apart, as docker's daemon does for a one-shot request.

use crate::cli_format::size;
use crate::client::{encode, Client};
use anyhow::Result;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

const DEFAULT_FORMAT: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

#[derive(clap::Args)]
pub struct StatsFlags {
    /// Show every container (default: the running ones).
    #[arg(short, long)]
    pub all: bool,
    /// One table, then exit.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not shorten ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// A Go template for each container (`table ...` for columns): .Name, .CPUPerc, ...
    #[arg(long)]
    pub format: Option<String>,
    /// The containers (default: all running ones, as they come and go).
    pub containers: Vec<String>,
}

/// The last sample of each container: (its CPU time, the machine's), in nanoseconds.
type Previous = HashMap<String, (u64, u64)>;

pub fn stats(client: &Client, flags: &StatsFlags) -> Result<i32> {
    let format = match flags.format.as_deref() {
        None | Some("") | Some("table") => DEFAULT_FORMAT,
        Some(other) => other,
    };
    let mut previous = Previous::new();
    if flags.no_stream {
        sample(client, flags, &mut previous)?;
        std::thread::sleep(Duration::from_secs(1));
        let rows = sample(client, flags, &mut previous)?;
        crate::cli_format::print_list(format, &rows, &crate::cli_format::stats_headers())?;
        return Ok(0);
    }
    let terminal = std::io::stdout().is_terminal();
    loop {
        let rows = sample(client, flags, &mut previous)?;
        let mut out = std::io::stdout().lock();
        if terminal {
            // Home the cursor and clear the screen: the new table replaces the old one.
            write!(out, "\x1b[H\x1b[2J")?;
        }
        drop(out);
        crate::cli_format::print_list(format, &rows, &crate::cli_format::stats_headers())?;
        std::io::stdout().flush()?;
        if !flags.containers.is_empty() && rows.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The containers to show: those named, or those the daemon lists.
fn targets(client: &Client, flags: &StatsFlags) -> Result<Vec<String>> {
    if !flags.containers.is_empty() {
        return Ok(flags.containers.clone());
    }
    let list = client.call(
        "GET",
        &format!("/containers/json?all={}", flags.all as u8),
        None,
    )?;
    Ok(list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["Id"].as_str().map(String::from))
        .collect())
}

fn sample(client: &Client, flags: &StatsFlags, previous: &mut Previous) -> Result<Vec<Value>> {
    let mut rows = Vec::new();
    for name in targets(client, flags)? {
        let path = format!("/containers/{}/stats?stream=0", encode(&name));
        let s = match client.call("GET", &path, None) {
            Ok(s) => s,
            // Named: an error, as docker's. Listed: it went away between the two requests.
            Err(error) if !flags.containers.is_empty() => return Err(error),
            Err(_) => continue,
        };
        rows.push(row(&name, &s, flags.no_trunc, previous));
    }
    Ok(rows)
}

/// One container's row, with docker's field names.
fn row(asked: &str, s: &Value, no_trunc: bool, previous: &mut Previous) -> Value {
    let id = s["id"].as_str().unwrap_or_default();
    let cpu = s["cpu_stats"]["cpu_usage"]["total_usage"]
        .as_u64()
        .unwrap_or(0);
    let system = s["cpu_stats"]["system_cpu_usage"].as_u64().unwrap_or(0);
    let cpus = s["cpu_stats"]["online_cpus"].as_u64().unwrap_or(1).max(1);
    let percent = match previous.insert(id.to_string(), (cpu, system)) {
        Some((cpu0, system0)) if system > system0 && cpu >= cpu0 => {
            (cpu - cpu0) as f64 / (system - system0) as f64 * cpus as f64 * 100.0
        }
        _ => 0.0,
    };
    let memory = s["memory_stats"]["usage"].as_u64().unwrap_or(0);
    let limit = s["memory_stats"]["limit"].as_u64().unwrap_or(0);
    let memory_percent = match limit {
        0 => 0.0,
        l => memory as f64 / l as f64 * 100.0,
    };
    let (mut rx, mut tx) = (0, 0);
    for network in s["networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, n)| n)
    {
        rx += network["rx_bytes"].as_u64().unwrap_or(0);
        tx += network["tx_bytes"].as_u64().unwrap_or(0);
    }
    let (mut read, mut write) = (0, 0);
    for entry in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match entry["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += entry["value"].as_u64().unwrap_or(0),
            Some("write") => write += entry["value"].as_u64().unwrap_or(0),
            _ => {}
        }
    }
    let short: String = if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    };
    json!({
        "Container": asked,
        "ID": short,
        "Name": s["name"].as_str().unwrap_or_default().trim_start_matches('/'),
        "CPUPerc": format!("{percent:.2}%"),
        "MemUsage": format!("{} / {}", binary_size(memory), binary_size(limit)),
        "MemPerc": format!("{memory_percent:.2}%"),
        "NetIO": format!("{} / {}", size(rx), size(tx)),
        "BlockIO": format!("{} / {}", size(read), size(write)),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

/// Docker's `units.BytesSize`: `%.4g` in powers of 1024, `1.234MiB`.
fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let digits = match value {
        v if v < 10.0 => 3,
        v if v < 100.0 => 2,
        v if v < 1000.0 => 1,
        _ => 0,
    };
    let text = format!("{value:.digits$}");
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    };
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_powers_of_1024_as_docker_prints_them() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1536), "1.5KiB");
        assert_eq!(binary_size(1_294_336), "1.234MiB");
        assert_eq!(binary_size(8 * 1024 * 1024 * 1024), "8GiB");
    }

    #[test]
    fn cpu_percent_is_the_share_of_the_machine_between_samples() {
        let sample = |cpu: u64, system: u64| {
            json!({ "id": "abc", "name": "/web",
                    "cpu_stats": { "cpu_usage": { "total_usage": cpu },
                                   "system_cpu_usage": system, "online_cpus": 2 } })
        };
        let mut previous = Previous::new();
        assert_eq!(
            row("web", &sample(0, 1000), false, &mut previous)["CPUPerc"],
            "0.00%"
        );
        let second = row("web", &sample(250, 2000), false, &mut previous);
        assert_eq!(second["CPUPerc"], "50.00%");
        assert_eq!(second["Name"], "web");
    }
}
