//! The JSON the API returns for containers, in Docker's shapes: `GET /containers/json` (the
//! list `ps` prints) and `GET /containers/{id}/json` (what `inspect` prints).

use super::attachments;
use super::filters::Filters;
use super::record::Status;
use super::{ApiError, ApiResult, Engine, Found};
use crate::time::{human_duration, now_nanos, rfc3339_nanos};
use serde_json::{json, Value};

impl Found {
    /// Docker's `State.Status`.
    pub fn status_word(&self) -> &'static str {
        if super::pause::is_paused(self) {
            return "paused";
        }
        match self.state.status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }

    /// The human STATUS column of `ps`.
    pub fn status_text(&self) -> String {
        let ago = |nanos: i64| human_duration((now_nanos() - nanos) / 1_000_000_000);
        match self.state.status {
            Status::Created => "Created".into(),
            Status::Running if super::pause::is_paused(self) => {
                format!("Up {} (Paused)", ago(self.state.started_at))
            }
            Status::Running => format!("Up {}", ago(self.state.started_at)),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                self.state.exit_code,
                ago(self.state.finished_at)
            ),
        }
    }

    fn command_line(&self) -> String {
        std::iter::once(self.record.path.clone())
            .chain(self.record.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// One entry of `GET /containers/json`.
    pub fn summary(&self, engine: &Engine) -> Value {
        json!({
            "Id": self.record.id,
            "Names": [format!("/{}", self.record.name)],
            "Image": self.record.config.image,
            "ImageID": self.record.image_id,
            "Command": self.command_line(),
            "Created": self.record.created / 1_000_000_000,
            "Ports": attachments::port_summary(self),
            "Labels": self.record.config.labels.clone().unwrap_or_default(),
            "State": self.status_word(),
            "Status": self.status_text(),
            "HostConfig": { "NetworkMode": network_mode(&self.record.host_config.network_mode) },
            "NetworkSettings": { "Networks": attachments::summary_networks(self) },
            "Mounts": attachments::mounts_json(self, engine),
        })
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, engine: &Engine) -> Value {
        let r = &self.record;
        let s = &self.state;
        let dir = &self.dir.0;
        let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let mut config = serde_json::to_value(&r.config).unwrap_or_default();
        config["Labels"] = json!(r.config.labels.clone().unwrap_or_default());
        let mut host = serde_json::to_value(&r.host_config).unwrap_or_default();
        host["NetworkMode"] = json!(network_mode(&r.host_config.network_mode));
        if r.host_config.log_config.kind.is_empty() {
            host["LogConfig"] = json!({ "Type": "json-file", "Config": {} });
        }
        host["CgroupParent"] = json!(engine.cgroup_parent);
        json!({
            "Id": r.id,
            "Created": rfc3339_nanos(r.created),
            "Path": r.path,
            "Args": r.args,
            "State": {
                "Status": self.status_word(),
                "Running": self.running(),
                "Paused": super::pause::is_paused(self),
                "Restarting": false,
                "OOMKilled": s.oom_killed,
                "Dead": false,
                "Pid": if self.running() { s.pid } else { 0 },
                "ExitCode": s.exit_code,
                "Error": s.error,
                "StartedAt": rfc3339_nanos(s.started_at),
                "FinishedAt": rfc3339_nanos(s.finished_at),
            },
            "Image": r.image_id,
            "ResolvConfPath": file("resolv.conf"),
            "HostnamePath": file("hostname"),
            "HostsPath": file("hosts"),
            "LogPath": file("container.log"),
            "Name": format!("/{}", r.name),
            "RestartCount": self.dir.restart_count(),
            "Driver": "overlay",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": host,
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "LowerDir": std::fs::read_to_string(dir.join("lowers"))
                        .unwrap_or_default()
                        .lines()
                        .collect::<Vec<_>>()
                        .join(":"),
                    "UpperDir": file("upper"),
                    "WorkDir": file("work"),
                    "MergedDir": file("merged"),
                },
            },
            "Mounts": attachments::mounts_json(self, engine),
            "Config": config,
            "NetworkSettings": attachments::network_settings(self),
        })
    }
}

/// The network mode `create` resolved (`bridge`, `none`, `host` or a network's name); a
/// record from before chapter 07 was wired in had a loopback only.
fn network_mode(mode: &str) -> &str {
    match mode {
        "" | "default" => "none",
        mode => mode,
    }
}

/// `GET /containers/json` and `POST /containers/prune` filters (see [`super::filters`]):
/// `status`, `name`, `id`, `ancestor`, `exited`, `label`, `label!`, `network`, `volume`,
/// `before`, `since`, `until`. `before` and `since` name a container of `all`.
pub fn matches(found: &Found, filters: &Filters, all: &[Found]) -> ApiResult<bool> {
    let created_of = |wanted: &str| -> ApiResult<i64> {
        all.iter()
            .find(|f| {
                f.record.id == wanted
                    || f.record.name == wanted.trim_start_matches('/')
                    || (wanted.len() >= 3 && f.record.id.starts_with(wanted))
            })
            .map(|f| f.record.created)
            .ok_or_else(|| ApiError::not_found(format!("No such container: {wanted}")))
    };
    for before in filters.values("before") {
        if found.record.created >= created_of(before)? {
            return Ok(false);
        }
    }
    for since in filters.values("since") {
        if found.record.created <= created_of(since)? {
            return Ok(false);
        }
    }
    let labels = found.record.config.labels.clone().unwrap_or_default();
    let plan = attachments::Plan::load(&found.dir.0);
    Ok(filters.labels(&labels)
        && filters.until(found.record.created / 1_000_000_000)?
        && filters.any("status", |v| found.status_word() == v)
        && filters.any("name", |v| {
            super::list_filters::matches(v, &found.record.name)
        })
        && filters.any("id", |v| found.record.id.starts_with(v))
        && filters.any("exited", |v| {
            found.state.status == Status::Exited && v.parse::<i32>() == Ok(found.state.exit_code)
        })
        && filters.any("network", |v| {
            let mode = found.record.host_config.network_mode.as_str();
            mode == v || super::networks::network_id(mode).starts_with(v)
        })
        && filters.any("volume", |v| {
            plan.volumes().iter().any(|name| name == v)
                || plan
                    .mounts
                    .iter()
                    .any(|m| m.destination == std::path::Path::new(v))
        })
        && filters.any("ancestor", |v| {
            found.record.config.image == v
                || ch04_images::reference::normalize(v).ok()
                    == ch04_images::reference::normalize(&found.record.config.image).ok()
                || found
                    .record
                    .image_id
                    .trim_start_matches("sha256:")
                    .starts_with(v.trim_start_matches("sha256:"))
        }))
}
