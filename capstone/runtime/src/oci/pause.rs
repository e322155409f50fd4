//! `pause` and `resume`: the freezer cgroup stops every process of the container where it is
//! (they stay in memory, get no CPU, cannot even be killed until thawed) and lets them go on.
//! cgroup v1: write `FROZEN` or `THAWED` to `freezer.state` and wait until it reads back so
//! (the kernel freezes task by task, `FREEZING` meanwhile); cgroup v2: `cgroup.freeze` 1 or 0,
//! `frozen 1` in `cgroup.events` once done. Read the kernel's
//! Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst and cgroup-v2.rst, "Core
//! Interface Files".

use super::hierarchies;
use super::state::{Dir, Saved, Status};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How to freeze this container's cgroup on this host.
enum Freezer {
    V1(PathBuf),
    V2(PathBuf),
}

fn freezer_of(saved: &Saved) -> Option<Freezer> {
    freezer_at(&Path::new(&saved.cgroup_parent).join(&saved.cgroup_name))
}

/// The freezer of the cgroup at `relative` (below each hierarchy's root).
fn freezer_at(relative: &Path) -> Option<Freezer> {
    let relative = relative.to_path_buf();
    if let Some(dir) = hierarchies::freezer_dir(&relative) {
        return Some(Freezer::V1(dir));
    }
    let layout = ch02_cgroups::delegation::layout_for_caller().ok()?;
    if layout.mode.is_v2() {
        let dir = layout.hierarchies.first()?.dir.join(&relative);
        return Some(Freezer::V2(dir));
    }
    None
}

/// True while the container's cgroup is frozen (or freezing).
pub fn is_frozen(saved: &Saved) -> bool {
    match freezer_of(saved) {
        Some(Freezer::V1(dir)) => std::fs::read_to_string(dir.join("freezer.state"))
            .is_ok_and(|s| matches!(s.trim(), "FROZEN" | "FREEZING")),
        Some(Freezer::V2(dir)) => {
            std::fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
        }
        None => false,
    }
}

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    match dir.status(&saved) {
        Status::Running | Status::Created => set(&saved, true),
        Status::Paused => Ok(()),
        Status::Stopped => bail!("container not running"),
    }
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let dir = Dir::of(root, id)?;
    let saved = dir.load(id)?;
    match dir.status(&saved) {
        Status::Paused => set(&saved, false),
        other => bail!("container not paused: it is {}", other.name()),
    }
}

/// Thaw the container (before it is killed: a frozen process cannot die).
pub fn thaw(saved: &Saved) -> Result<()> {
    if is_frozen(saved) {
        set(saved, false)?;
    }
    Ok(())
}

/// The v1 freezer hierarchy's directory for the cgroup at `relative`, if the host has one.
pub fn freezer_v1_dir(relative: &Path) -> Option<PathBuf> {
    hierarchies::freezer_dir(relative)
}

/// Freeze or thaw the cgroup at `relative` (the engine's `docker pause`, which has no OCI
/// state directory: its containers' cgroups are `/PARENT/<id>`).
pub fn set_cgroup(relative: &Path, frozen: bool) -> Result<()> {
    set_freezer(freezer_at(relative), frozen)
}

fn set(saved: &Saved, frozen: bool) -> Result<()> {
    set_freezer(freezer_of(saved), frozen)
}

fn set_freezer(freezer: Option<Freezer>, frozen: bool) -> Result<()> {
    let (file, value, done): (PathBuf, &str, Box<dyn Fn() -> bool>) = match freezer {
        Some(Freezer::V1(dir)) => {
            let state = dir.join("freezer.state");
            let want = if frozen { "FROZEN" } else { "THAWED" };
            let check = state.clone();
            (
                state,
                want,
                Box::new(move || std::fs::read_to_string(&check).is_ok_and(|s| s.trim() == want)),
            )
        }
        Some(Freezer::V2(dir)) => {
            let events = dir.join("cgroup.events");
            let want = format!("frozen {}", u8::from(frozen));
            (
                dir.join("cgroup.freeze"),
                if frozen { "1" } else { "0" },
                Box::new(move || {
                    std::fs::read_to_string(&events).is_ok_and(|s| s.lines().any(|l| l == want))
                }),
            )
        }
        None => bail!("this host has no freezer cgroup: cannot pause or resume"),
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // v1: writing FROZEN again nudges a freeze that a forking process keeps undoing.
        std::fs::write(&file, value)
            .with_context(|| format!("write {value} to {}", file.display()))?;
        if done() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} did not become {value} in 10 s", file.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
