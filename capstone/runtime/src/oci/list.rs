//! What the runtime reports: `state` (the spec's state JSON), `list` (runc's table, its ids
//! alone with `-q`, or JSON) and `ps` (the container's processes).

use super::state::{Dir, Saved, Status};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ListArgs {
    /// table or json.
    #[arg(short, long, default_value = "table")]
    format: String,
    /// Only the containers' ids.
    #[arg(short, long)]
    quiet: bool,
}

/// The spec's state JSON (`runtime.md`, "State"), its keys in runc's order (a struct, not a
/// map: tools and tests match the text).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    oci_version: &'static str,
    id: String,
    pid: i32,
    status: &'static str,
    bundle: PathBuf,
    rootfs: PathBuf,
    created: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    owner: String,
}

pub fn state_of(dir: &Dir, saved: &Saved) -> State {
    let status = dir.status(saved);
    State {
        oci_version: super::OCI_VERSION,
        id: saved.id.clone(),
        pid: if status == Status::Stopped {
            0
        } else {
            saved.pid
        },
        status: status.name(),
        bundle: saved.bundle.clone(),
        rootfs: saved.bundle.join("rootfs"),
        created: saved.created.clone(),
        annotations: saved.annotations.clone(),
        owner: String::new(),
    }
}

pub fn state(root: &Path, id: &str) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    println!("{}", serde_json::to_string_pretty(&state_of(&dir, &saved))?);
    Ok(())
}

/// Every container this `--root` knows, sorted by id.
pub fn list(root: &Path, args: &ListArgs) -> Result<()> {
    let mut all = Vec::new();
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    for id in ids {
        let Ok(dir) = Dir::of(root, &id) else {
            continue;
        };
        if let Ok(saved) = dir.load(&id) {
            all.push(state_of(&dir, &saved));
        }
    }
    if args.quiet {
        for state in &all {
            println!("{}", state.id);
        }
        return Ok(());
    }
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&all)?),
        "table" => print_table(&all),
        other => bail!("invalid format option {other:?}: table or json"),
    }
    Ok(())
}

/// runc's table: ID, PID, STATUS, BUNDLE, CREATED, OWNER, columns padded to their widest.
fn print_table(all: &[State]) {
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let mut rows = vec![header.map(String::from).to_vec()];
    for state in all {
        // The owner is the user who made the container: root, since only root can here.
        let owner = match &state.owner {
            owner if owner.is_empty() => "root".to_string(),
            owner => owner.clone(),
        };
        rows.push(vec![
            state.id.clone(),
            state.pid.to_string(),
            state.status.to_string(),
            state.bundle.display().to_string(),
            state.created.clone(),
            owner,
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", line.join("   ").trim_end());
    }
}

/// The container's cgroup (chapter 02's), to list or signal its processes.
pub fn cgroup_of(saved: &Saved) -> Result<ch02_cgroups::ContainerCgroup> {
    let layout = ch02_cgroups::delegation::layout_for_caller()?;
    Ok(ch02_cgroups::ContainerCgroup::open(
        &layout,
        &saved.cgroup_parent,
        &saved.cgroup_name,
    )?)
}

pub fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    // A stopped container has no processes left: an empty list, not an error (runc's too).
    let pids = cgroup_of(&saved).map(|c| c.pids()).unwrap_or_default();
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids)?);
            Ok(())
        }
        "table" => {
            let args: Vec<String> = if ps_args.is_empty() {
                vec!["-ef".into()]
            } else {
                ps_args.to_vec()
            };
            let output = std::process::Command::new("ps")
                .args(&args)
                .output()
                .context("run ps")?;
            let text = String::from_utf8_lossy(&output.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let column = header
                .split_whitespace()
                .position(|h| h == "PID")
                .context("ps printed no PID column")?;
            println!("{header}");
            for line in lines {
                let pid = line
                    .split_whitespace()
                    .nth(column)
                    .and_then(|p| p.parse().ok());
                if pid.is_some_and(|p: i32| pids.contains(&p)) {
                    println!("{line}");
                }
            }
            Ok(())
        }
        other => bail!("unknown format {other:?}: table or json"),
    }
}
