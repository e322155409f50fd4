//! `POST /containers/{id}/pause` and `/unpause` (`docker pause`): the freezer cgroup stops
//! every process of the container where it is, and lets them go on (the OCI runtime's
//! `pause`/`resume`, [`crate::oci::pause`], on the engine's cgroup `/PARENT/<id>`).
//!
//! The container's directory holds a `paused` file while it is frozen: `inspect` and `ps`
//! read it (`State.Paused`, status `paused`) without touching cgroupfs. A frozen process
//! cannot die, so `kill` and `stop` thaw it first (as dockerd does).

use super::{ApiError, ApiResult, Engine, Found};
use std::path::PathBuf;

/// The marker file, present while the container is frozen.
pub fn marker(found: &Found) -> PathBuf {
    found.dir.0.join("paused")
}

/// Is the container paused (running, and frozen by `pause`)?
pub fn is_paused(found: &Found) -> bool {
    found.running() && marker(found).exists()
}

/// cgroup v1: the engine's containers have cgroups in chapter 02's hierarchies only, not in
/// the freezer's. The first `pause` makes the container's freezer cgroup and moves its
/// processes into it (from the `pids` or any other hierarchy where the container has its
/// cgroup); the supervisor removes it when the container ends (see `wiring.rs`). On v2 the
/// container's own cgroup has `cgroup.freeze`: nothing to do.
fn join_v1_freezer(relative: &std::path::Path) -> ApiResult<()> {
    let Some(freezer) = baleia_runtime::oci::pause::freezer_v1_dir(relative) else {
        return Ok(());
    };
    std::fs::create_dir_all(&freezer)
        .map_err(|e| ApiError::internal(format!("mkdir {}: {e}", freezer.display())))?;
    let procs = freezer.join("cgroup.procs");
    let sources: Vec<PathBuf> = std::fs::read_dir("/sys/fs/cgroup")
        .map_err(|e| ApiError::internal(format!("read /sys/fs/cgroup: {e}")))?
        .flatten()
        .map(|hierarchy| hierarchy.path().join(relative).join("cgroup.procs"))
        .filter(|p| p.is_file() && !p.starts_with(freezer.parent().unwrap_or(&freezer)))
        .collect();
    // A process forked while the others move could stay behind: look again until none is.
    for _ in 0..5 {
        let inside = std::fs::read_to_string(&procs).unwrap_or_default();
        let mut moved = 0;
        for source in &sources {
            for pid in std::fs::read_to_string(source).unwrap_or_default().lines() {
                if !inside.lines().any(|p| p == pid) {
                    // A process that ended meanwhile is no error (ESRCH).
                    if std::fs::write(&procs, pid).is_ok() {
                        moved += 1;
                    }
                }
            }
        }
        if moved == 0 {
            return Ok(());
        }
    }
    Ok(())
}

impl Engine {
    fn freezer_cgroup(&self, found: &Found) -> PathBuf {
        PathBuf::from(self.cgroup_parent.trim_matches('/')).join(found.id())
    }

    /// Freeze (`pause`) or thaw (`unpause`) a running container.
    pub fn pause(&self, wanted: &str, frozen: bool) -> ApiResult<()> {
        let found = self.find(wanted)?;
        if !found.running() {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                found.id()
            )));
        }
        match (frozen, is_paused(&found)) {
            (true, true) => Err(ApiError::conflict(format!(
                "Container {} is already paused",
                found.id()
            ))),
            (false, false) => Err(ApiError::conflict(format!(
                "Container {} is not paused",
                found.id()
            ))),
            _ => {
                let relative = self.freezer_cgroup(&found);
                if frozen {
                    join_v1_freezer(&relative)?;
                }
                baleia_runtime::oci::pause::set_cgroup(&relative, frozen)?;
                if frozen {
                    std::fs::write(marker(&found), b"")
                        .map_err(|e| ApiError::internal(format!("write paused marker: {e}")))?;
                } else {
                    let _ = std::fs::remove_file(marker(&found));
                }
                let action = if frozen { "pause" } else { "unpause" };
                self.container_event(action, &found.record, serde_json::json!({}));
                Ok(())
            }
        }
    }

    /// Before a signal that must end it: a frozen container is thawed (its processes cannot
    /// even die while frozen).
    pub fn thaw_if_paused(&self, found: &Found) -> ApiResult<()> {
        if marker(found).exists() {
            if found.running() {
                baleia_runtime::oci::pause::set_cgroup(&self.freezer_cgroup(found), false)?;
            }
            let _ = std::fs::remove_file(marker(found));
        }
        Ok(())
    }
}
