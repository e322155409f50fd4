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

/// Docker's container `Config` (the body of `POST /containers/create`), the fields we honour.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

/// Docker's `HostConfig`, the fields we honour or refuse.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// One `--device HOST[:CONTAINER][:PERMISSIONS]`, as Docker's API carries it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    /// Empty: the same as on the host.
    pub path_in_container: String,
    /// Some of `rwm` (empty: all three).
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

/// The body of `POST /containers/create`: a `Config` with a `HostConfig` inside.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: Config,
    pub host_config: HostConfig,
    /// `NetworkingConfig`'s aliases on the container's network (see
    /// [`super::unsupported::aliases`]).
    #[serde(skip)]
    pub aliases: Vec<String>,
}

/// `container.json`: what the daemon decided at `create`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
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

    pub fn read_record(&self) -> Result<Record> {
        read_json(&self.record())
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
