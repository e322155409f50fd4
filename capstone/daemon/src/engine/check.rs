//! `baleia system check`: is the engine's state whole? What a daemon killed in the middle
//! of a pull, a commit, a push or a create could have broken, looked for after the fact.
//!
//! Two parts:
//!
//! - **the image store**: chapter 04's `check` (every blob hashes to its name, every image
//!   that `index.json`, a container or a build-cache pin names is whole, every unpacked
//!   layer belongs to an image);
//! - **the engine's own state**: every container's record, state and layer list readable;
//!   every layer directory a container's root is made of still there; no container that
//!   says "running" without its supervisor; no supervisor left for a container that is gone.
//!
//! It runs in the daemon, under the store lock and the names lock, so nothing is created,
//! pulled or removed while it looks (a daemon-less check of the store alone is chapter 04's
//! `ch04-images check`). Damage is a *problem*; garbage that the next collection or the next
//! daemon start removes is a *leftover*, reported but not damage.

use super::containers::shim_alive;
use super::record::{Dir, Status};
use super::{ApiResult, Engine};
use ch03_overlayfs::ContainerDirs;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

impl Engine {
    /// `GET /baleia/system/check`.
    pub fn system_check(&self) -> ApiResult<Value> {
        let _names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let _lock = self.store.lock()?;
        let store = ch04_images::check::check(&self.store)?;
        let mut problems = store.problems;
        let mut leftovers = store.leftovers;
        let mut containers = BTreeSet::new();
        if let Ok(entries) = std::fs::read_dir(self.containers_dir()) {
            for entry in entries.flatten() {
                let id = entry.file_name().to_string_lossy().into_owned();
                let dir = Dir(entry.path());
                if !dir.record().exists() {
                    leftovers.push(format!(
                        "half-made container directory {id} (the next daemon start removes it)"
                    ));
                    continue;
                }
                containers.insert(id.clone());
                check_container(&self.root, &id, &dir, &mut problems);
            }
        }
        for (pid, id) in supervisors(&self.exe, &self.root) {
            if !containers.contains(&id) {
                problems.push(format!(
                    "supervisor pid {pid} still runs for container {id}, which no longer exists"
                ));
            }
        }
        Ok(json!({
            "Problems": problems,
            "Leftovers": leftovers,
            "Blobs": store.blobs,
            "Images": store.images,
            "Layers": store.layers,
            "Containers": containers.len(),
        }))
    }

    /// On daemon start: remove container directories without a `container.json` — creates a
    /// crash interrupted. (`create` writes the record last, so these never held a container a
    /// user could see; nothing else creates containers while the daemon starts.)
    pub fn reclaim_half_made(&self) {
        let Ok(entries) = std::fs::read_dir(self.containers_dir()) else {
            return;
        };
        // A directory whose record was lost while its container runs is damage for a human
        // to look at (`system check` says so), not a leftover to delete under it.
        let supervised: BTreeSet<String> = supervisors(&self.exe, &self.root)
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        for entry in entries.flatten() {
            let dir = Dir(entry.path());
            let id = entry.file_name().to_string_lossy().into_owned();
            if dir.0.is_dir() && !dir.record().exists() && !supervised.contains(&id) {
                eprintln!("baleia daemon: removing half-made container directory {id}");
                let _ = ContainerDirs::at(&self.root, &id).remove();
                // E.g. a build's RUN container (chapter 05) killed with its builder: its
                // cgroup is under the daemon's parent, maybe with a process still dying in it.
                self.remove_leftover_cgroup(&id);
            }
        }
        // Builds in flight died with the last daemon (their builder is killed with it): their
        // unpacked contexts go.
        let _ = std::fs::remove_dir_all(self.root.join("builds"));
    }
}

/// One container: what could be damaged in its directory.
fn check_container(root: &Path, id: &str, dir: &Dir, problems: &mut Vec<String>) {
    if let Err(error) = dir.read_record() {
        problems.push(format!("container {id}: {error:#}"));
        return;
    }
    match dir.read_state() {
        Err(error) => problems.push(format!("container {id}: {error:#}")),
        Ok(state) if state.status == Status::Running && !shim_alive(state.shim_pid, id) => problems
            .push(format!(
                "container {id}: its state says running, but its supervisor (pid {}) is gone",
                state.shim_pid
            )),
        Ok(_) => {}
    }
    match ContainerDirs::at(root, id).lowers() {
        Err(error) => problems.push(format!("container {id}: {error}")),
        Ok(lowers) => {
            for lower in lowers.iter().filter(|l| !l.is_dir()) {
                problems.push(format!(
                    "container {id}: the layer {} its root is made of is missing",
                    lower.display()
                ));
            }
        }
    }
}

/// The supervisors (`baleia --root ROOT shim ID`) of this state root that are alive: pid and
/// container id. Found in /proc by their executable and command line (proc(5)).
fn supervisors(exe: &Path, root: &Path) -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let root = root.as_os_str().as_encoded_bytes();
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            if std::fs::read_link(entry.path().join("exe")).ok()? != exe {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let at = args.iter().position(|a| *a == b"shim")?;
            let ours = args.windows(2).any(|w| w[0] == b"--root" && w[1] == root);
            let id = String::from_utf8_lossy(args.get(at + 1)?).into_owned();
            (ours && shim_alive(pid, &id)).then_some((pid, id))
        })
        .collect()
}

/// Remove the cgroup `PARENT/NAME` in every hierarchy — a process still in it (a RUN
/// container killed with its builder a moment ago may still be dying) is killed and waited
/// for — and then PARENT if that was its last child (as chapter 02 does for the last
/// container out).
pub(super) fn remove_cgroup(parent: &str, name: &str) {
    let Ok(layout) = ch02_cgroups::delegation::layout_for_caller() else {
        return;
    };
    let Ok(mut cgroup) = ch02_cgroups::ContainerCgroup::adopt(&layout, parent, name) else {
        return;
    };
    let parents: Vec<std::path::PathBuf> = cgroup
        .dirs()
        .iter()
        .filter_map(|dir| dir.path.parent().map(Into::into))
        .collect();
    if cgroup.remove().is_ok() {
        for parent in parents {
            let _ = std::fs::remove_dir(parent);
        }
    }
}
