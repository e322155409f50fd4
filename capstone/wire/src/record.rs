//! A container's records on disk, next to chapter 03's directories:
//!
//! ```text
//! $ROOT/containers/<id>/
//!     container.json   what `create` decided (written by the daemon, once): name, image,
//!                      Docker's Config and HostConfig as the client sent them
//!     config.json      the OCI runtime spec the engine made from it (what the runtime runs)
//!     state.json       how the container is doing (written by its supervisor while it runs,
//!                      by the daemon only when no supervisor is alive)
//!     container.log    its output, json-file format (written by its supervisor)
//!     shim.log         the supervisor's own messages
//!     lowers, image, name, hostname, hosts, resolv.conf, init/, upper/, work/, merged/
//!                      chapters 03 and 04's files
//! ```
//!
//! Each file has one writer at a time and is replaced atomically (write a temporary file,
//! `rename(2)`), so a reader never sees half a record.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Docker's container `Config` as the record keeps it: the fields of the create request
/// ([`crate::api::ContainerCreateBody`]) baleia honours, with what `create` filled in (the
/// hostname, the image's command and environment). `inspect` shows it as `Config`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub image: String,
    pub working_dir: String,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub exposed_ports: Option<serde_json::Value>,
    pub volumes: Option<serde_json::Value>,
}

/// Docker's `HostConfig` as the record keeps it: the fields baleia honours (the request's
/// others are refused when set, see the daemon's `engine::unsupported`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// With a terminal: its first size, `[rows, columns]` (`[0, 0]`: none given).
    pub console_size: Option<[u16; 2]>,
    pub memory: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub pids_limit: Option<i64>,
    pub readonly_rootfs: bool,
    pub auto_remove: bool,
    pub binds: Option<Vec<String>>,
    pub mounts: Option<Vec<serde_json::Value>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    pub port_bindings: Option<BTreeMap<String, serde_json::Value>>,
    pub publish_all_ports: bool,
    pub network_mode: String,
    /// `--dns`: the name servers of the container's /etc/resolv.conf (default: the host's).
    pub dns: Option<Vec<String>>,
    pub restart_policy: RestartPolicy,
    pub init: Option<bool>,
    pub privileged: bool,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub security_opt: Option<Vec<String>>,
    /// `--device`: host device nodes made in the container, and allowed to it.
    pub devices: Option<Vec<DeviceMapping>>,
    /// `--device-cgroup-rule 'c 1:11 rw'`: more devices allowed (nodes made by the user).
    pub device_cgroup_rules: Option<Vec<String>>,
    /// `--gpus`: refused (kept only to say so).
    pub device_requests: Option<Vec<serde_json::Value>>,
    pub log_config: LogConfig,
    /// `--group-add`: supplementary group ids of the container's processes (numeric only;
    /// names are refused by [`super::unsupported`]).
    pub group_add: Option<Vec<String>>,
    /// `--ulimit NAME=SOFT[:HARD]`: the container's rlimits (setrlimit(2)).
    pub ulimits: Option<Vec<Ulimit>>,
    /// `--shm-size`: the bytes /dev/shm may hold (0: Docker's 64 MiB).
    pub shm_size: i64,
    /// `--sysctl KEY=VALUE`: namespaced kernel parameters (the runtime's `linux.sysctl`).
    pub sysctls: Option<BTreeMap<String, String>>,
    /// `--add-host NAME:IP` (`host-gateway` for the IP: the bridge's gateway).
    pub extra_hosts: Option<Vec<String>>,
}

/// One `--ulimit`, as Docker's API carries it: `nofile`, `nproc`... (`-1`: unlimited).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// One `--device HOST[:CONTAINER][:PERMISSIONS]`, as Docker's API carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    /// Empty: the same as on the host.
    pub path_in_container: String,
    /// Some of `rwm` (empty: all three).
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

/// The version of `container.json` this code writes. 0: the records written before the
/// field existed (the same fields otherwise); [`Dir::read_record`] reads both.
pub const RECORD_VERSION: u32 = 1;

/// `container.json`: what the daemon decided at `create`. Its own type, not the API's: the
/// request may change with Docker's API, what is on disk must stay readable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record's format ([`RECORD_VERSION`]); absent (0) in records from before.
    #[serde(default)]
    pub version: u32,
    pub id: String,
    pub name: String,
    /// Nanoseconds since the epoch.
    pub created: i64,
    /// `sha256:` + the image id (its config's digest).
    pub image_id: String,
    /// The program and its arguments, as Docker reports them (`Path`, `Args`).
    pub path: String,
    pub args: Vec<String>,
    pub config: Config,
    pub host_config: HostConfig,
}

/// What a container is doing, as `state.json` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Never started (or its start failed).
    #[default]
    Created,
    Running,
    Exited,
}

/// `state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub status: Status,
    /// The container's first process, as the host sees it.
    pub pid: i32,
    /// Its supervisor.
    pub shim_pid: i32,
    pub exit_code: i32,
    /// Why it could not start, or why its end is unknown.
    pub error: String,
    pub oom_killed: bool,
    pub started_at: i64,
    pub finished_at: i64,
    /// How many times it has been started (successfully).
    pub runs: u64,
    /// How many starts were attempted, failed ones included: `wait?condition=next-exit` and
    /// `attach` wait for the end of the attempt after the one they saw.
    pub attempts: u64,
    /// Whether it has a terminal (`-t`): `resize` sets its size through its fd 0.
    pub tty: bool,
}

/// A container's directory and the names of its files.
#[derive(Debug, Clone)]
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn record(&self) -> PathBuf {
        self.0.join("container.json")
    }
    pub fn spec(&self) -> PathBuf {
        self.0.join("config.json")
    }
    pub fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }
    pub fn log(&self) -> PathBuf {
        self.0.join("container.log")
    }
    pub fn shim_log(&self) -> PathBuf {
        self.0.join("shim.log")
    }
    /// The named pipe through which `attach` feeds the container's standard input (made by
    /// the supervisor when the container was created with `-i`).
    pub fn stdin_fifo(&self) -> PathBuf {
        self.0.join("stdin")
    }
    /// Present while the user has stopped (or killed) the container: restart policies leave
    /// it alone. Written by the daemon; removed by the next `start`.
    pub fn stopped_by_user(&self) -> PathBuf {
        self.0.join("stopped-by-user")
    }
    /// How many times a restart policy restarted it (one number).
    pub fn restart_count_file(&self) -> PathBuf {
        self.0.join("restart-count")
    }
    pub fn restart_count(&self) -> u64 {
        std::fs::read_to_string(self.restart_count_file())
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The record, in today's format whatever the format it was written in.
    pub fn read_record(&self) -> Result<Record> {
        let path = self.record();
        migrate(read_json(&path)?).with_context(|| format!("parse {}", path.display()))
    }

    /// The state, or a fresh "created" one when the container was never started.
    pub fn read_state(&self) -> Result<State> {
        match std::fs::metadata(self.state()) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            _ => read_json(&self.state()),
        }
    }

    pub fn write_state(&self, state: &State) -> Result<()> {
        write_json(&self.state(), state)
    }
}

/// A record as read from disk → today's [`Record`]. Version 0 has today's fields without the
/// version; a version this code does not know (written by a newer baleia) is refused rather
/// than read wrong.
pub fn migrate(mut raw: serde_json::Value) -> Result<Record> {
    let version = raw.get("version").and_then(|v| v.as_u64()).unwrap_or(0);
    if version > u64::from(RECORD_VERSION) {
        anyhow::bail!(
            "container record version {version}: this baleia reads up to {RECORD_VERSION}"
        );
    }
    if version == 0 {
        raw["version"] = RECORD_VERSION.into();
    }
    Ok(serde_json::from_value(raw)?)
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("parse {}", path.display()))
}

/// Write `value` as JSON to a temporary file beside `path`, then rename it over `path`.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value)?;
    std::fs::write(&tmp, bytes).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `container.json` written by the code before records had a version (its own
    /// `Record` and `write_json`, for a `docker create --name web -t -e A=1 -l tier=front
    /// -p 127.0.0.1:8080:80 --restart on-failure:2 --memory 64m -v /data --mount
    /// type=bind,...` body as the docker CLI sends it).
    const VERSION_0: &str = include_str!("../fixtures/container-v0.json");

    #[test]
    fn a_record_from_before_versions_reads_as_the_same_container() {
        let dir = std::env::temp_dir().join(format!("baleia-record-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("container.json"), VERSION_0).unwrap();
        let record = Dir(dir.clone()).read_record().unwrap();
        assert_eq!(record.version, RECORD_VERSION);
        assert_eq!(record.name, "web");
        assert_eq!(record.path, "sh");
        assert_eq!(record.args, ["-c", "echo hi"]);
        assert_eq!(record.created, 1_796_000_000_123_456_789);
        assert_eq!(record.config.image, "busybox");
        assert!(record.config.tty);
        assert_eq!(record.config.labels.as_ref().unwrap()["tier"], "front");
        let host = &record.host_config;
        assert_eq!(host.memory, 64 << 20);
        assert_eq!(host.console_size, Some([24, 80]));
        assert_eq!(host.restart_policy.name, "on-failure");
        assert_eq!(host.restart_policy.maximum_retry_count, 2);
        assert_eq!(
            host.port_bindings.as_ref().unwrap()["80/tcp"][0]["HostPort"],
            "8080"
        );
        assert_eq!(host.mounts.as_ref().unwrap()[0]["Target"], "/www");
        // Written again (a rename does), it is today's format and reads back the same.
        write_json(&Dir(dir.clone()).record(), &record).unwrap();
        let again = Dir(dir.clone()).read_record().unwrap();
        assert_eq!(again, record);
        let text = std::fs::read_to_string(dir.join("container.json")).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_record_from_a_newer_baleia_is_refused() {
        let mut raw: serde_json::Value = serde_json::from_str(VERSION_0).unwrap();
        raw["version"] = (RECORD_VERSION + 1).into();
        let error = migrate(raw).unwrap_err().to_string();
        assert!(error.contains("reads up to"), "{error}");
    }
}
