//! `events ID`: the container's statistics every `--interval` (default 5 s), and an `oom`
//! event each time the kernel's OOM killer takes one of its processes, one JSON object a
//! line, until the container stops; `--stats`: the statistics once. The numbers are chapter
//! 02's [`Usage`] (memory, CPU time, processes), in runc's shape:
//! `{"type":"stats","id":ID,"data":{"cpu":…,"memory":…,"pids":…}}`.

use super::state::{Dir, Status};
use anyhow::{bail, Result};
use ch02_cgroups::Usage;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct EventsArgs {
    /// Statistics once, then exit.
    #[arg(long)]
    stats: bool,
    /// How often to write statistics: 5s, 100ms, 1m...
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    interval: Duration,
    id: String,
}

/// `100ms`, `1s`, `2m`, `1h` (Go's durations, in the units a person would write).
fn parse_interval(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?}"))?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration {text:?}: give a unit (ms, s, m, h)"
            ))
        }
    };
    if seconds <= 0.0 {
        return Err("duration must be greater than 0".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

pub fn events(root: &Path, args: &EventsArgs) -> Result<()> {
    let dir = Dir::of(root, &args.id)?;
    let saved = dir.load(&args.id)?;
    if dir.status(&saved) == Status::Stopped {
        bail!("container with id {} is not running", args.id);
    }
    let cgroup = super::list::cgroup_of(&saved)?;
    let stats = |usage: &Usage| event("stats", &args.id, Some(data(usage)));
    if args.stats {
        println!("{}", stats(&Usage::read(&cgroup)));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let mut ooms = Usage::read(&cgroup).oom_kills.unwrap_or(0);
    let mut next_stats = Instant::now();
    // OOM kills are polled more often than statistics are written, so each is told soon.
    let poll = args.interval.min(Duration::from_millis(100));
    // The container's directory goes with `delete`: stop then too, not only when it stops.
    while dir.path.is_dir() && dir.status(&saved) != Status::Stopped {
        let usage = Usage::read(&cgroup);
        let now_ooms = usage.oom_kills.unwrap_or(0);
        for _ in ooms..now_ooms {
            writeln!(out, "{}", event("oom", &args.id, None))?;
        }
        ooms = now_ooms;
        if Instant::now() >= next_stats {
            writeln!(out, "{}", stats(&usage))?;
            next_stats = Instant::now() + args.interval;
        }
        out.flush()?;
        std::thread::sleep(poll);
    }
    Ok(())
}

/// One event line, its keys in runc's order (`type`, `id`, `data`): tools and tests match
/// the text, not only the JSON.
fn event(kind: &str, id: &str, data: Option<serde_json::Value>) -> String {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        r#type: &'a str,
        id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<serde_json::Value>,
    }
    serde_json::to_string(&Event {
        r#type: kind,
        id,
        data,
    })
    .unwrap_or_default()
}

/// runc's `data` of a stats event, from what chapter 02 reads. OOM kills are events of their
/// own (`{"type":"oom"}`), not a statistic: tools look for "oom" in the stream.
fn data(usage: &Usage) -> serde_json::Value {
    json!({
        "cpu": {"usage": {"total": usage.cpu_time.map(|t| t.as_nanos() as u64).unwrap_or(0)}},
        "memory": {
            "usage": {
                "usage": usage.memory_current.unwrap_or(0),
                "max": usage.memory_peak.unwrap_or(0),
                "limit": usage.memory_limit.unwrap_or(0),
                "failcnt": usage.memory_limit_hits.unwrap_or(0),
            },
        },
        "pids": {
            "current": usage.pids_current.unwrap_or(0),
            "limit": usage.pids_limit.unwrap_or(0),
        },
    })
}
