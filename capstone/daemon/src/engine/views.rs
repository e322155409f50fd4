//! The JSON the API returns for containers, in Docker's shapes: `GET /containers/json` (the
//! list `ps` prints) and `GET /containers/{id}/json` (what `inspect` prints).

use super::attachments;
use super::record::Status;
use super::{Engine, Found};
use crate::time::{human_duration, now_nanos, rfc3339_nanos};
use serde_json::{json, Value};

impl Found {
    /// Docker's `State.Status`.
    pub fn status_word(&self) -> &'static str {
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
                "Paused": false,
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

/// `GET /containers/json` filters: `status`, `name`, `id`, `ancestor`, `exited`, `label`.
pub fn matches(found: &Found, filters: &Value) -> bool {
    let Some(filters) = filters.as_object() else {
        return true;
    };
    filters.iter().all(|(key, wanted)| {
        // Filters come as {"key": ["v1", "v2"]} or, from old clients, {"key": {"v1": true}}.
        let values: Vec<String> = match wanted {
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => Vec::new(),
        };
        values.is_empty()
            || values.iter().any(|v| match key.as_str() {
                "status" => found.status_word() == v,
                "name" => found.record.name.contains(v.trim_start_matches('/')),
                "id" => found.record.id.starts_with(v.as_str()),
                "exited" => {
                    found.state.status == Status::Exited
                        && v.parse::<i32>() == Ok(found.state.exit_code)
                }
                "ancestor" => {
                    found.record.config.image == *v
                        || ch04_images::reference::normalize(v).ok()
                            == ch04_images::reference::normalize(&found.record.config.image).ok()
                        || found
                            .record
                            .image_id
                            .trim_start_matches("sha256:")
                            .starts_with(v.trim_start_matches("sha256:"))
                }
                "label" => {
                    let labels = found.record.config.labels.clone().unwrap_or_default();
                    match v.split_once('=') {
                        Some((k, val)) => labels.get(k).is_some_and(|x| x == val),
                        None => labels.contains_key(v.as_str()),
                    }
                }
                _ => false,
            })
    })
}
