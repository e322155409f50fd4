//! `update ID`: change a running container's resources, from flags or from a
//! `linux.resources` JSON (`-r FILE`, `-` for standard input). The cgroup files are written by
//! [`crate::resources`]; `-1` means "no limit". The bundle's config.json is left as
//! it is: it describes how the container was made.

use super::pause;
use super::state::{Dir, Status};
use crate::devices;
use crate::resources::{self, Phase, Target};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct UpdateArgs {
    /// A linux.resources JSON file ("-": standard input); the flags are then not allowed.
    #[arg(short, long)]
    resources: Option<PathBuf>,
    /// Memory limit (bytes, or 50M, 1G...; -1: none).
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory + swap limit (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long, allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Kernel memory: refused, kernels since 6.1 have no such limit.
    #[arg(long, allow_hyphen_values = true)]
    kernel_memory: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long)]
    cpu_share: Option<u64>,
    /// CFS period, µs.
    #[arg(long)]
    cpu_period: Option<u64>,
    /// CFS quota, µs per period (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// Realtime period, µs.
    #[arg(long)]
    cpu_rt_period: Option<u64>,
    /// Realtime runtime, µs per period.
    #[arg(long, allow_hyphen_values = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPUs allowed (0-3, 0,1).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory nodes allowed.
    #[arg(long)]
    cpuset_mems: Option<String>,
    /// Maximum number of processes (-1: none).
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Block IO weight: not supported (no blkio limits here).
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// L3 cache schema (Intel RDT): not supported.
    #[arg(long)]
    l3_cache_schema: Option<String>,
    /// Memory bandwidth schema (Intel RDT): not supported.
    #[arg(long)]
    mem_bw_schema: Option<String>,
    id: String,
}

pub fn update(root: &Path, args: &UpdateArgs) -> Result<()> {
    let dir = Dir::of(root, &args.id)?;
    let saved = dir.load(&args.id)?;
    if dir.status(&saved) == Status::Stopped {
        bail!("container {} is not running", args.id);
    }
    let wanted = match &args.resources {
        Some(path) => from_file(path)?,
        None => from_flags(args)?,
    };
    let relative = Path::new(&saved.cgroup_parent).join(&saved.cgroup_name);
    // Read first: a bad rule changes nothing.
    let rules = devices::rules_of(wanted.devices().as_deref().unwrap_or_default())?;
    resources::apply(&Target::new(&relative)?, &wanted, Phase::Update)?;
    if !rules.is_empty() {
        update_devices(&relative, &rules, pause::is_frozen(&saved))?;
    }
    Ok(())
}

/// New device rules in place of the container's (runc 1.1.5's `update` reads none from `-r`;
/// see docs/compat.md). On cgroup v1 the container is frozen while its rules are written
/// again (unless it is paused already), as runc freezes it on v1 to reapply them: a process
/// opening /dev/null in the moment between the deny-all and the allows would be refused.
fn update_devices(relative: &Path, rules: &[devices::Rule], paused: bool) -> Result<()> {
    let layout = ch02_cgroups::Layout::detect()?;
    if layout.mode.is_v2() {
        let root = &layout
            .hierarchies
            .first()
            .context("a cgroup v2 host with no hierarchy")?
            .dir;
        return devices::update(relative, rules, Some(&root.join(relative)));
    }
    if !paused {
        pause::set_cgroup(relative, true)?;
    }
    let written = devices::update(relative, rules, None);
    if !paused {
        pause::set_cgroup(relative, false)?;
    }
    written
}

fn from_file(path: &Path) -> Result<LinuxResources> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("read the resources from standard input")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    }
    serde_json::from_str(&text)
        .with_context(|| format!("parse {} as linux.resources", path.display()))
}

fn from_flags(args: &UpdateArgs) -> Result<LinuxResources> {
    if args.blkio_weight.is_some() {
        bail!("--blkio-weight is not supported by this runtime");
    }
    if args.l3_cache_schema.is_some() || args.mem_bw_schema.is_some() {
        bail!("--l3-cache-schema and --mem-bw-schema (Intel RDT) are not supported");
    }
    let mut memory = Map::new();
    let put = |map: &mut Map<String, Value>, key: &str, value: &Option<String>| -> Result<()> {
        if let Some(text) = value {
            map.insert(key.into(), json!(parse_bytes(text)?));
        }
        Ok(())
    };
    put(&mut memory, "limit", &args.memory)?;
    put(&mut memory, "swap", &args.memory_swap)?;
    put(&mut memory, "reservation", &args.memory_reservation)?;
    put(&mut memory, "kernel", &args.kernel_memory)?;
    let mut cpu = Map::new();
    let mut set = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            cpu.insert(key.into(), value);
        }
    };
    set("shares", args.cpu_share.map(|v| json!(v)));
    set("period", args.cpu_period.map(|v| json!(v)));
    set("quota", args.cpu_quota.map(|v| json!(v)));
    set("realtimePeriod", args.cpu_rt_period.map(|v| json!(v)));
    set("realtimeRuntime", args.cpu_rt_runtime.map(|v| json!(v)));
    set("cpus", args.cpuset_cpus.clone().map(Value::String));
    set("mems", args.cpuset_mems.clone().map(Value::String));
    let mut all = Map::new();
    if !memory.is_empty() {
        all.insert("memory".into(), Value::Object(memory));
    }
    if !cpu.is_empty() {
        all.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(limit) = args.pids_limit {
        all.insert("pids".into(), json!({ "limit": limit }));
    }
    Ok(serde_json::from_value(Value::Object(all))?)
}

/// `67108864`, `50M`, `1g`, `512k` (binary multiples, as runc and Docker read them); `-1`.
pub(crate) fn parse_bytes(text: &str) -> Result<i64> {
    if text == "-1" {
        return Ok(-1);
    }
    let lower = text.to_ascii_lowercase();
    let trimmed = lower.trim_end_matches('b');
    let (number, multiplier) = match trimmed.chars().last() {
        Some('k') => (&trimmed[..trimmed.len() - 1], 1i64 << 10),
        Some('m') => (&trimmed[..trimmed.len() - 1], 1 << 20),
        Some('g') => (&trimmed[..trimmed.len() - 1], 1 << 30),
        Some('t') => (&trimmed[..trimmed.len() - 1], 1 << 40),
        _ => (trimmed, 1),
    };
    let value: f64 = number
        .parse()
        .with_context(|| format!("invalid size {text:?}: bytes, or a number with k, m, g or t"))?;
    Ok((value * multiplier as f64) as i64)
}
