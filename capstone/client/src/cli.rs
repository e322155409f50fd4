//! The `baleia` client commands: Docker's CLI, over the API.

use crate::client::{copy_stream, encode, Client, DaemonError};
use anyhow::{bail, Result};
use baleia_wire::api;
use ch04_images::report::{human_size, table};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;

/// `run`'s (and `create`'s) flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RunFlags {
    /// Run in the background and print the container's id.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep standard input open and pass ours to the container.
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the container a terminal (with -i: interactive, in raw mode).
    #[arg(short, long)]
    pub tty: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// The keys that detach from the container's terminal and leave it running.
    #[arg(long, value_name = "KEYS")]
    pub detach_keys: Option<String>,
    /// The container's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (NAME=VALUE, or NAME to take it from here).
    #[arg(short, long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<String>,
    /// Read environment variables from a file: one NAME=VALUE (or NAME) a line, `#` comments;
    /// `-e` wins over the file.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<std::path::PathBuf>,
    /// The working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// The user (name, uid, name:group, uid:gid) from the image's /etc/passwd.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Replace the image's ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The container's host name (default: the first 12 digits of its id).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Mount the root file system read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Memory limit, e.g. 64m.
    #[arg(short, long, value_parser = ch02_cgroups::limits::parse_memory)]
    pub memory: Option<u64>,
    /// CPUs, e.g. 0.5.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Relative CPU weight.
    #[arg(long)]
    pub cpu_shares: Option<i64>,
    /// Most processes at once.
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Mount an empty tmpfs at DIR.
    #[arg(long, value_name = "DIR")]
    pub tmpfs: Vec<String>,
    /// The network: bridge (the default), none, host, or a network's name (chapter 07).
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// A volume: NAME:/dst[:ro], /host/path:/dst[:ro], or /dst (anonymous).
    #[arg(short, long = "volume", value_name = "[SOURCE:]DST[:ro]")]
    pub volumes: Vec<String>,
    /// A mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,tmpfs-size=N].
    #[arg(long = "mount", value_name = "type=...,target=...")]
    pub mounts: Vec<String>,
    /// Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp] (IP default 0.0.0.0).
    #[arg(short, long = "publish", value_name = "[IP:]HOST:CONTAINER")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes on a free host port.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// A name server for the container's /etc/resolv.conf.
    #[arg(long)]
    pub dns: Vec<String>,
    /// The signal `stop` sends first.
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL.
    #[arg(long)]
    pub stop_timeout: Option<i64>,
    /// Restart policy: no, always, unless-stopped, on-failure[:N].
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// A label, KEY=VALUE.
    #[arg(short, long = "label")]
    pub labels: Vec<String>,
    /// Add Linux capabilities (to Docker's default set).
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (ALL for every one).
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Every capability, no seccomp filter, no masked paths.
    #[arg(long)]
    pub privileged: bool,
    /// seccomp=unconfined|FILE (a Docker seccomp profile), no-new-privileges[=true|false].
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// A host device in the container: HOST[:CONTAINER][:PERMISSIONS] (some of rwm, default
    /// all three), e.g. /dev/net/tun or /dev/sdb:/dev/xvdb:r.
    #[arg(long = "device", value_name = "HOST[:CONTAINER][:rwm]", value_parser = parse_device)]
    pub devices: Vec<api::DeviceMapping>,
    /// Allow more devices: TYPE MAJOR:MINOR ACCESS, e.g. 'c 1:11 rw' (nodes you make).
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rules: Vec<String>,
    /// Pull the image before creating: missing (only when the store lacks it), always, never.
    #[arg(long, default_value = "missing", value_parser = ["always", "missing", "never"])]
    pub pull: String,
    /// More names for the container on its (user-defined) network.
    #[arg(long = "network-alias", value_name = "NAME")]
    pub network_aliases: Vec<String>,
    /// A supplementary group id for the container's processes.
    #[arg(long = "group-add", value_name = "GID")]
    pub group_add: Vec<String>,
    /// Without -t: send the signals the client receives to the container (`=false`: not).
    #[arg(long, value_name = "BOOL", default_value = "true", num_args = 0..=1,
          require_equals = true, default_missing_value = "true",
          value_parser = crate::cli_signals::parse_switch)]
    pub sig_proxy: bool,
    /// Pull the image (if it must be) without printing the pull's progress.
    #[arg(short, long)]
    pub quiet: bool,
    /// A resource limit: NAME=SOFT[:HARD] (nofile, nproc, core, ...; `unlimited` or -1).
    /// A hard limit above the daemon's own needs CAP_SYS_RESOURCE in the daemon.
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]", value_parser = parse_ulimit)]
    pub ulimits: Vec<Value>,
    /// The size of /dev/shm, e.g. 128m (default 64m).
    #[arg(long, value_name = "SIZE", value_parser = parse_shm_size)]
    pub shm_size: Option<u64>,
    /// A namespaced kernel parameter for the container: KEY=VALUE (net.*, kernel.shm*,
    /// kernel.msg*, kernel.sem, fs.mqueue.*).
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctls: Vec<String>,
    /// A line in the container's /etc/hosts: NAME:ADDRESS (`host-gateway`: the bridge's
    /// gateway, the host as the container reaches it).
    #[arg(long = "add-host", value_name = "NAME:ADDRESS")]
    pub add_hosts: Vec<String>,
    /// The image.
    pub image: String,
    /// The command and its arguments (replace the image's CMD).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl RunFlags {
    /// The body of `POST /containers/create`, in Docker's own type (shared with the daemon).
    pub fn body(&self) -> Result<api::ContainerCreateBody> {
        let mut pairs = Vec::new();
        for file in &self.env_files {
            let text = std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("--env-file {}: {e}", file.display()))?;
            pairs.extend(env_file_lines(&text));
        }
        pairs.extend(self.env.iter().cloned());
        let env: Vec<String> = pairs
            .iter()
            .filter_map(|e| match e.contains('=') {
                true => Some(e.clone()),
                false => std::env::var(e).ok().map(|v| format!("{e}={v}")),
            })
            .collect();
        let labels = key_values(&self.labels);
        let tmpfs: HashMap<String, String> = self
            .tmpfs
            .iter()
            .map(|d| match d.split_once(':') {
                Some((dir, options)) => (dir.to_string(), options.to_string()),
                None => (d.clone(), String::new()),
            })
            .collect();
        // As Docker's CLI: `-v /dst` is an anonymous volume in Config.Volumes, the others
        // are HostConfig.Binds.
        let (anonymous, binds): (Vec<String>, Vec<String>) =
            self.volumes.iter().cloned().partition(|v| !v.contains(':'));
        let mut exposed = BTreeSet::new();
        let mut bindings: api::PortMap = HashMap::new();
        for (key, binding) in self.publish.iter().map(|p| port_binding(p)) {
            exposed.insert(key.clone());
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(binding);
        }
        let host_config = api::HostConfig {
            // With -t: the terminal's first size, as docker's CLI sends it.
            console_size: crate::terminal::size()
                .filter(|_| self.tty)
                .map(|(r, c)| vec![r.into(), c.into()]),
            cap_add: Some(self.cap_add.clone()),
            cap_drop: Some(self.cap_drop.clone()),
            privileged: Some(self.privileged),
            security_opt: Some(security_opts(&self.security_opt)),
            devices: Some(self.devices.clone()),
            device_cgroup_rules: Some(self.device_cgroup_rules.clone()),
            auto_remove: Some(self.rm),
            readonly_rootfs: Some(self.read_only),
            memory: Some(i64::try_from(self.memory.unwrap_or(0))?),
            nano_cpus: Some(self.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0)),
            cpu_shares: Some(self.cpu_shares.unwrap_or(0)),
            pids_limit: self.pids_limit,
            tmpfs: Some(tmpfs),
            binds: Some(binds),
            mounts: Some(
                self.mounts
                    .iter()
                    .map(|m| parse_mount(m))
                    .collect::<Result<_>>()?,
            ),
            port_bindings: Some(bindings),
            publish_all_ports: Some(self.publish_all),
            dns: Some(self.dns.clone()),
            network_mode: Some(self.network.clone().unwrap_or_default()),
            group_add: Some(self.group_add.clone()),
            ulimits: Some(
                self.ulimits
                    .iter()
                    .map(|u| serde_json::from_value(u.clone()))
                    .collect::<Result<_, _>>()?,
            ),
            shm_size: self.shm_size.map(i64::try_from).transpose()?,
            sysctls: Some(key_values(&self.sysctls)),
            extra_hosts: Some(self.add_hosts.clone()),
            restart_policy: Some(restart_policy(&self.restart)?),
            ..Default::default()
        };
        Ok(api::ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.command.is_empty()).then(|| self.command.clone()),
            entrypoint: self.entrypoint.as_ref().map(|e| match e.is_empty() {
                true => Vec::new(),
                false => vec![e.clone()],
            }),
            env: Some(env),
            working_dir: Some(self.workdir.clone().unwrap_or_default()),
            user: Some(self.user.clone().unwrap_or_default()),
            hostname: Some(self.hostname.clone().unwrap_or_default()),
            labels: Some(labels),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            tty: Some(self.tty),
            volumes: Some(anonymous),
            exposed_ports: Some(exposed.into_iter().collect()),
            open_stdin: Some(self.interactive),
            stdin_once: Some(self.interactive && !self.detach),
            attach_stdin: Some(self.interactive && !self.detach),
            attach_stdout: Some(!self.detach),
            attach_stderr: Some(!self.detach),
            host_config: Some(host_config),
            networking_config: self.networking_config(),
            ..Default::default()
        })
    }

    /// `--network-alias` as Docker's CLI sends it: the aliases of the network given.
    fn networking_config(&self) -> Option<api::NetworkingConfig> {
        let network = self
            .network
            .as_ref()
            .filter(|_| !self.network_aliases.is_empty())?;
        let endpoint = api::EndpointSettings {
            aliases: Some(self.network_aliases.clone()),
            ..Default::default()
        };
        Some(api::NetworkingConfig {
            endpoints_config: Some(HashMap::from([(network.clone(), endpoint)])),
        })
    }
}

/// `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` → (`80/tcp`, `{"HostIp", "HostPort"}`), as
/// Docker's CLI sends it. A malformed one is sent as it is: the daemon says what is wrong.
fn port_binding(text: &str) -> (String, api::PortBinding) {
    let (rest, protocol) = text.rsplit_once('/').unwrap_or((text, "tcp"));
    let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
    let (container, host_port, host_ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => (rest, "", ""),
    };
    let binding = api::PortBinding {
        host_ip: Some(host_ip.to_string()),
        host_port: Some(host_port.to_string()),
    };
    (format!("{container}/{protocol}"), binding)
}

/// `--mount type=bind,source=/srv,target=/www,readonly` → Docker's `Mount`.
fn parse_mount(text: &str) -> Result<api::Mount> {
    let mut mount = api::Mount {
        typ: Some(api::MountType::VOLUME),
        ..Default::default()
    };
    for pair in text.split(',') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, "true"));
        match key {
            "type" => {
                let kind = value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--mount {text}: invalid type {value:?}"))?;
                mount.typ = Some(kind);
            }
            "source" | "src" => mount.source = Some(value.to_string()),
            "target" | "destination" | "dst" => mount.target = Some(value.to_string()),
            "readonly" | "ro" => mount.read_only = Some(value != "false" && value != "0"),
            "tmpfs-size" => {
                let size = parse_size(value).unwrap_or(0).try_into()?;
                tmpfs_options(&mut mount).size_bytes = Some(size);
            }
            "tmpfs-mode" => {
                tmpfs_options(&mut mount).mode = Some(i64::from_str_radix(value, 8).unwrap_or(0));
            }
            _ => {}
        }
    }
    Ok(mount)
}

fn tmpfs_options(mount: &mut api::Mount) -> &mut api::MountTmpfsOptions {
    mount.tmpfs_options.get_or_insert_with(Default::default)
}

/// `--restart no|always|unless-stopped|on-failure[:N]` as the API's `RestartPolicy`, for
/// `run`/`create` and `update` alike; a name the API does not know is refused here.
fn restart_policy(text: &str) -> Result<api::RestartPolicy> {
    let name = text.split(':').next().unwrap_or_default();
    let name = name
        .parse::<api::RestartPolicyNameEnum>()
        .map_err(|_| anyhow::anyhow!("invalid restart policy '{name}'"))?;
    Ok(api::RestartPolicy {
        name: Some(name),
        maximum_retry_count: Some(
            text.split_once(':')
                .and_then(|(_, n)| n.parse::<i64>().ok())
                .unwrap_or(0),
        ),
    })
}

/// `baleia update`'s flags: new limits for containers (what is not given stays).
#[derive(clap::Args)]
pub struct UpdateFlags {
    /// Memory limit, e.g. 128m.
    #[arg(short, long, value_parser = ch02_cgroups::limits::parse_memory)]
    pub memory: Option<u64>,
    /// Memory + swap: -1, or the memory limit (swap is limited with memory).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// CPUs, e.g. 0.5.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Relative CPU weight.
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<i64>,
    /// CFS quota, µs per period.
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// CFS period, µs.
    #[arg(long)]
    pub cpu_period: Option<i64>,
    /// Most processes at once (-1: no limit).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Restart policy: no, always, unless-stopped, on-failure[:N].
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

impl UpdateFlags {
    /// The body of `POST /containers/{id}/update`.
    pub fn body(&self) -> Result<Value> {
        let memory_swap = match self.memory_swap.as_deref() {
            None => 0,
            Some("-1") => -1,
            Some(size) => parse_size(size)
                .and_then(|s| i64::try_from(s).ok())
                .ok_or_else(|| {
                    anyhow::anyhow!("--memory-swap {size:?}: a size like 128m, or -1")
                })?,
        };
        Ok(json!({
            "Memory": self.memory.unwrap_or(0),
            "MemorySwap": memory_swap,
            "NanoCpus": self.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0),
            "CpuShares": self.cpu_shares.unwrap_or(0),
            "CpuQuota": self.cpu_quota.unwrap_or(0),
            "CpuPeriod": self.cpu_period.unwrap_or(0),
            "PidsLimit": self.pids_limit,
            "RestartPolicy": self.restart.as_deref().map(restart_policy).transpose()?,
        }))
    }
}

/// `KEY=VALUE` flags (`--label`, `--sysctl`) as a map (a bare KEY: an empty value).
fn key_values(pairs: &[String]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_string(), value.to_string())
        })
        .collect()
}

/// `--ulimit nofile=1024:2048` (`nofile=1024`: soft and hard alike) as the API's `Ulimit`.
fn parse_ulimit(text: &str) -> Result<Value, String> {
    let (name, limits) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=SOFT[:HARD], e.g. nofile=1024:2048"))?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    let number = |n: &str| match n {
        "unlimited" => Ok(-1),
        n => n
            .parse::<i64>()
            .map_err(|_| format!("{text:?}: {n:?} is not a number (or `unlimited`)")),
    };
    Ok(json!({ "Name": name, "Soft": number(soft)?, "Hard": number(hard)? }))
}

fn parse_shm_size(text: &str) -> Result<u64, String> {
    parse_size(text).ok_or_else(|| format!("{text:?}: expected a size like 64m, 512k or 1g"))
}

/// `64k`, `1m`, `2g`, `4096` → bytes.
fn parse_size(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let at = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(at);
    let scale = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// `port CONTAINER [PORT[/PROTO]]`: the published ports, from `NetworkSettings.Ports`.
pub fn port(client: &Client, container: &str, wanted: Option<&str>) -> Result<i32> {
    let info = client.call(
        "GET",
        &format!("/containers/{}/json", encode(container)),
        None,
    )?;
    let wanted = wanted.map(|w| {
        if w.contains('/') {
            w.to_string()
        } else {
            format!("{w}/tcp")
        }
    });
    let mut lines = Vec::new();
    for (key, bindings) in info["NetworkSettings"]["Ports"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if wanted.as_ref().is_some_and(|w| w != key) {
            continue;
        }
        for binding in bindings.as_array().into_iter().flatten() {
            let address = format!(
                "{}:{}",
                binding["HostIp"].as_str().unwrap_or_default(),
                binding["HostPort"].as_str().unwrap_or_default()
            );
            lines.push(match &wanted {
                Some(_) => address,
                None => format!("{key} -> {address}"),
            });
        }
    }
    if lines.is_empty() {
        if let Some(w) = wanted {
            bail!(
                "Error: No public port '{w}' published for {container}; \
                 `baleia port {container}` lists the ones published"
            );
        }
    }
    for line in lines {
        println!("{line}");
    }
    Ok(0)
}

/// The PORTS column of `ps`: `127.0.0.1:8080->80/tcp`, `80/tcp` when only exposed.
pub fn ports_column(ports: &Value) -> String {
    let mut shown: Vec<String> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let private = format!(
                "{}/{}",
                p["PrivatePort"],
                p["Type"].as_str().unwrap_or("tcp")
            );
            match p["PublicPort"].as_u64() {
                Some(public) => format!(
                    "{}:{public}->{private}",
                    p["IP"].as_str().unwrap_or("0.0.0.0")
                ),
                None => private,
            }
        })
        .collect();
    shown.sort();
    shown.join(", ")
}

/// Docker's exit code for a failed start: 127 not found, 126 cannot run, 125 otherwise.
pub fn start_failure_code(message: &str) -> i32 {
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        127
    } else if message.contains("permission denied")
        || message.contains("is a directory")
        || message.contains("exec format error")
    {
        126
    } else {
        125
    }
}

/// An error that should end the program with a given exit code after its message.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

/// `POST /containers/create`; returns the id. With `--pull missing` (the default), an image
/// the store lacks is pulled and the create tried again, as `docker run` does; `always`
/// pulls first; `never` lets the daemon's 404 stand.
pub fn create(client: &Client, flags: &RunFlags) -> Result<String> {
    let mut path = "/containers/create".to_string();
    if let Some(name) = &flags.name {
        path.push_str(&format!("?name={}", encode(name)));
    }
    let body = serde_json::to_value(flags.body()?)?;
    if flags.pull == "always" {
        pull_for_create(client, &flags.image, flags.quiet)?;
    }
    let reply = client.request("POST", &path, Some(&body), false)?;
    let reply = if reply.status == 404 && flags.pull == "missing" {
        let error = match reply.json() {
            Ok(value) => return Ok(value["Id"].as_str().unwrap_or_default().to_string()),
            Err(error) => error,
        };
        if !error.to_string().to_lowercase().contains("no such image") {
            return Err(error);
        }
        eprintln!("Unable to find image '{}' locally", flags.image);
        pull_for_create(client, &flags.image, flags.quiet)?;
        client.call("POST", &path, Some(&body))?
    } else {
        reply.json()?
    };
    Ok(reply["Id"].as_str().unwrap_or_default().to_string())
}

/// A pull for `run`/`create`: its messages go to standard error, as docker's, so that the
/// container's output alone is on standard output; `-q` keeps them to itself.
fn pull_for_create(client: &Client, reference: &str, quiet: bool) -> Result<()> {
    let reply = client.request("POST", &pull_path(reference), None, false)?;
    crate::cli_progress::show_transfer(reply, crate::cli_progress::Target::Stderr, quiet, "pull")?;
    Ok(())
}

/// `POST /images/create` for NAME[:TAG] or NAME@DIGEST.
fn pull_path(reference: &str) -> String {
    let (image, tag) = reference
        .split_once('@')
        .unwrap_or_else(|| ch04_images::reference::split(reference));
    format!(
        "/images/create?fromImage={}&tag={}",
        encode(image),
        encode(tag)
    )
}

/// `run`: create, then either start and print the id (`-d`), or attach, wait, start, stream
/// the output and exit with the container's code, as `docker run` does.
pub fn run(client: &Client, flags: &RunFlags) -> Result<i32> {
    let id = create(client, flags)?;
    if flags.detach {
        start_or_exit(client, &id)?;
        println!("{id}");
        return Ok(0);
    }
    let mut attach = client
        .request(
            "POST",
            &format!(
                "/containers/{id}/attach?stream=1&stdout=1&stderr=1&stdin={}",
                flags.interactive as u8
            ),
            None,
            true,
        )?
        .success()?;
    // Raw mode before anything reads our input: a shell's first question to the terminal
    // (where is the cursor?) must not wait in a line buffer for an Enter.
    let _raw = (flags.tty && flags.interactive)
        .then(crate::terminal::RawMode::enable)
        .flatten();
    // Our standard input to the container (see crate::client_terminal).
    let detached = match flags.interactive {
        true => Some(crate::client_terminal::send_input(
            attach.socket(),
            crate::client_terminal::detach_keys(flags.tty, flags.detach_keys.as_deref())?,
        )?),
        false => None,
    };
    let condition = if flags.rm { "removed" } else { "next-exit" };
    let wait = client.request(
        "POST",
        &format!("/containers/{id}/wait?condition={condition}"),
        None,
        false,
    )?;
    // With a terminal, one raw stream: what the terminal gave, as it came.
    let output = std::thread::spawn(move || copy_stream(&mut attach));
    if flags.sig_proxy && !flags.tty {
        crate::cli_signals::forward(client, &id)?;
    }
    if let Err(error) = start_or_exit(client, &id) {
        if flags.rm {
            let _ = wait.json();
        }
        return Err(error);
    }
    if flags.tty {
        crate::client_terminal::forward_size(client, &format!("/containers/{id}/resize"))?;
    }
    let _ = output.join();
    if crate::client_terminal::is_set(&detached) {
        return Ok(0);
    }
    let status = wait.json()?;
    Ok(status["StatusCode"].as_i64().unwrap_or(125) as i32)
}

/// Start a container; a failed start ends the program with Docker's 125, 126 or 127.
pub fn start_or_exit(client: &Client, id: &str) -> Result<()> {
    match client.call("POST", &format!("/containers/{id}/start"), None) {
        Ok(_) => Ok(()),
        Err(error) => {
            let message = error.to_string();
            let code = match error.downcast_ref::<DaemonError>() {
                Some(e) if e.status == 400 => start_failure_code(&e.message),
                _ => 125,
            };
            Err(Exit { code, message }.into())
        }
    }
}

/// `ps`.
pub fn ps(
    client: &Client,
    all: bool,
    quiet: bool,
    no_trunc: bool,
    filters: &[String],
    format: Option<&str>,
) -> Result<()> {
    let mut map = serde_json::Map::new();
    for filter in filters {
        let (k, v) = filter.split_once('=').unwrap_or((filter, ""));
        if let Some(values) = map
            .entry(k.to_string())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            values.push(json!(v));
        }
    }
    let path = format!(
        "/containers/json?all={}&filters={}",
        all as u8,
        encode(&Value::Object(map).to_string())
    );
    if let Some(format) = format.filter(|f| !quiet && crate::template::is_template(f)) {
        return crate::cli_format::ps(client, &path, no_trunc, format);
    }
    let list = client.call("GET", &path, None)?;
    let list = list.as_array().cloned().unwrap_or_default();
    let short = |id: &str| -> String {
        if no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    if quiet {
        for c in &list {
            println!("{}", short(c["Id"].as_str().unwrap_or_default()));
        }
        return Ok(());
    }
    let now = crate::time::now_nanos() / 1_000_000_000;
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let mut command = c["Command"].as_str().unwrap_or_default().to_string();
            if !no_trunc && command.chars().count() > 19 {
                command = command.chars().take(19).collect::<String>() + "…";
            }
            vec![
                short(c["Id"].as_str().unwrap_or_default()),
                c["Image"].as_str().unwrap_or_default().to_string(),
                format!("\"{command}\""),
                format!(
                    "{} ago",
                    crate::time::human_duration(now - c["Created"].as_i64().unwrap_or(now))
                ),
                c["Status"].as_str().unwrap_or_default().to_string(),
                ports_column(&c["Ports"]),
                c["Names"][0]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES"
            ],
            &rows
        )
    );
    Ok(())
}

/// `images`.
pub fn images(client: &Client, quiet: bool, reference: Option<&str>) -> Result<()> {
    let mut path = "/images/json".to_string();
    if let Some(r) = reference {
        path.push_str(&format!(
            "?filters={}",
            encode(&json!({ "reference": [r] }).to_string())
        ));
    }
    let list = client.call("GET", &path, None)?;
    let now = crate::time::now_nanos() / 1_000_000_000;
    let mut rows = Vec::new();
    for image in list.as_array().cloned().unwrap_or_default() {
        let id = image["Id"].as_str().unwrap_or_default();
        let short: String = id.trim_start_matches("sha256:").chars().take(12).collect();
        let tags: Vec<String> = image["RepoTags"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let tags = if tags.is_empty() {
            vec!["<none>:<none>".to_string()]
        } else {
            tags
        };
        for tag in tags {
            // As docker's: one id a row, so an image with two tags is listed twice.
            if quiet {
                println!("{short}");
                continue;
            }
            let (repo, t) = ch04_images::reference::split(&tag);
            let created = image["Created"].as_i64().unwrap_or(0);
            rows.push(vec![
                repo.to_string(),
                t.to_string(),
                short.clone(),
                format!("{} ago", crate::time::human_duration(now - created)),
                human_size(image["Size"].as_u64().unwrap_or(0)),
            ]);
        }
    }
    if !quiet {
        print!(
            "{}",
            table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
        );
    }
    Ok(())
}

/// `history`.
pub fn history(client: &Client, image: &str) -> Result<()> {
    let list = client.call("GET", &format!("/images/{image}/history"), None)?;
    let now = crate::time::now_nanos() / 1_000_000_000;
    let rows: Vec<Vec<String>> = list
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let id = h["Id"].as_str().unwrap_or_default();
            vec![
                if id.starts_with("sha256:") {
                    id[7..19].to_string()
                } else {
                    id.to_string()
                },
                format!(
                    "{} ago",
                    crate::time::human_duration(now - h["Created"].as_i64().unwrap_or(now))
                ),
                h["CreatedBy"].as_str().unwrap_or_default().to_string(),
                human_size(h["Size"].as_u64().unwrap_or(0)),
                h["Comment"].as_str().unwrap_or_default().to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &rows
        )
    );
    Ok(())
}

/// `inspect`: containers first, then images, as `docker inspect` does.
pub fn inspect(client: &Client, names: &[String]) -> Result<i32> {
    let mut out = Vec::new();
    let mut code = 0;
    for name in names {
        match client.call("GET", &format!("/containers/{}/json", encode(name)), None) {
            Ok(v) => out.push(v),
            Err(_) => match client.call("GET", &format!("/images/{name}/json"), None) {
                Ok(v) => out.push(v),
                Err(_) => {
                    eprintln!("{}", crate::hints::no_such_object(name));
                    code = 1;
                }
            },
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(code)
}

/// `rmi`.
pub fn rmi(client: &Client, names: &[String]) -> Result<()> {
    for name in names {
        let list = client.call("DELETE", &format!("/images/{name}"), None)?;
        for entry in list.as_array().cloned().unwrap_or_default() {
            if let Some(t) = entry["Untagged"].as_str() {
                println!("Untagged: {t}");
            }
            if let Some(d) = entry["Deleted"].as_str() {
                println!("Deleted: {d}");
            }
        }
    }
    Ok(())
}

/// `tag SOURCE TARGET`.
pub fn tag(client: &Client, source: &str, target: &str) -> Result<()> {
    let normal = ch04_images::reference::normalize(target)?;
    let (repo, t) = ch04_images::reference::split(&normal);
    client.call(
        "POST",
        &format!(
            "/images/{source}/tag?repo={}&tag={}",
            encode(repo),
            encode(t)
        ),
        None,
    )?;
    Ok(())
}

/// `info`.
pub fn info(client: &Client) -> Result<()> {
    let i = client.call("GET", "/info", None)?;
    let s = |k: &str| match &i[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "Server:")?;
    for (label, key) in [
        ("Containers", "Containers"),
        (" Running", "ContainersRunning"),
        (" Stopped", "ContainersStopped"),
        ("Images", "Images"),
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
        ("Default Runtime", "DefaultRuntime"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("Architecture", "Architecture"),
        ("CPUs", "NCPU"),
        ("Total Memory", "MemTotal"),
        ("Root Dir", "DockerRootDir"),
    ] {
        writeln!(out, " {label}: {}", s(key))?;
    }
    // As docker info: the daemon's warnings last, on stderr.
    for warning in i["Warnings"].as_array().into_iter().flatten() {
        eprintln!("{}", warning.as_str().unwrap_or_default());
    }
    Ok(())
}

/// `version`.
pub fn version(client: &Client) -> Result<()> {
    println!("Client:");
    println!(" Version:     {}", env!("CARGO_PKG_VERSION"));
    println!(" API version: {}", crate::http::API_VERSION);
    let v = client.call("GET", "/version", None)?;
    println!("Server:");
    println!(
        " Version:     {}",
        v["Version"].as_str().unwrap_or_default()
    );
    println!(
        " API version: {} (minimum {})",
        v["ApiVersion"].as_str().unwrap_or_default(),
        v["MinAPIVersion"].as_str().unwrap_or_default()
    );
    println!(
        " Kernel:      {}",
        v["KernelVersion"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// `exec`: create the exec, start it on a hijacked connection, copy its output, then ask for
/// its exit code, as `docker exec` does.
pub fn exec(
    client: &Client,
    container: &str,
    command: &[String],
    env: &[String],
    (workdir, user): (Option<String>, Option<String>),
    (interactive, tty): (bool, bool),
    detach_keys: Option<&str>,
) -> Result<i32> {
    let body = json!({
        "AttachStdin": interactive,
        "Tty": tty,
        "Cmd": command,
        "Env": env,
        "WorkingDir": workdir.unwrap_or_default(),
        "User": user.unwrap_or_default(),
        "AttachStdout": true,
        "AttachStderr": true,
        // The terminal's first size: set before the command runs, so its first look is right.
        "ConsoleSize": crate::terminal::size().filter(|_| tty).map(|(r, c)| [r, c]),
    });
    let created = client.call(
        "POST",
        &format!("/containers/{}/exec", encode(container)),
        Some(&body),
    )?;
    let id = created["Id"].as_str().unwrap_or_default().to_string();
    let mut started = client.request(
        "POST",
        &format!("/exec/{id}/start"),
        Some(&json!({ "Detach": false, "Tty": tty })),
        true,
    )?;
    if started.status >= 400 {
        started.json()?;
        return Ok(125);
    }
    // Raw mode before anything reads our input: a shell's first question to the terminal
    // (where is the cursor?) must not wait in a line buffer for an Enter.
    let _raw = (tty && interactive)
        .then(crate::terminal::RawMode::enable)
        .flatten();
    let resize = format!("/exec/{id}/resize");
    let session = (tty, interactive);
    if crate::client_terminal::attached_session(
        client,
        &mut started,
        session,
        detach_keys,
        &resize,
    )? {
        return Ok(0);
    }
    let inspect = client.call("GET", &format!("/exec/{id}/json"), None)?;
    Ok(inspect["ExitCode"].as_i64().unwrap_or(125) as i32)
}

/// `top`.
pub fn top(client: &Client, container: &str) -> Result<()> {
    let top = client.call(
        "GET",
        &format!("/containers/{}/top", encode(container)),
        None,
    )?;
    let titles: Vec<&str> = top["Titles"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str())
        .collect();
    let rows: Vec<Vec<String>> = top["Processes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            p.as_array()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect();
    print!("{}", table(&titles, &rows));
    Ok(())
}

/// `volume create|ls|inspect|rm|prune`.
pub fn volume(client: &Client, command: crate::VolumeCommand) -> Result<()> {
    use crate::VolumeCommand as V;
    match command {
        V::Create { name } => {
            let body = json!({ "Name": name.unwrap_or_default() });
            let created = client.call("POST", "/volumes/create", Some(&body))?;
            println!("{}", created["Name"].as_str().unwrap_or_default());
        }
        V::Ls { quiet, .. } => {
            let list = client.call("GET", "/volumes", None)?;
            let volumes = list["Volumes"].as_array().cloned().unwrap_or_default();
            if !quiet {
                println!("{:<10}VOLUME NAME", "DRIVER");
            }
            for volume in volumes {
                let name = volume["Name"].as_str().unwrap_or_default();
                if quiet {
                    println!("{name}");
                } else {
                    println!(
                        "{:<10}{name}",
                        volume["Driver"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        V::Inspect { names } => inspect_each(client, "volumes", &names)?,
        V::Rm { names } => remove_each(client, "volumes", &names)?,
        V::Prune { all, force: _ } => {
            let path = if all {
                format!("/volumes/prune?filters={}", encode(r#"{"all":["true"]}"#))
            } else {
                "/volumes/prune".to_string()
            };
            let pruned = client.call("POST", &path, None)?;
            let deleted = pruned["VolumesDeleted"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Volumes:");
            }
            for name in deleted {
                println!("{}", name.as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// `network create|ls|inspect|rm`.
pub fn network(client: &Client, command: crate::NetworkCommand) -> Result<()> {
    use crate::NetworkCommand as N;
    match command {
        N::Create {
            name,
            subnet,
            options,
        } => {
            let mut opts = serde_json::Map::new();
            for option in options {
                let Some((key, value)) = option.split_once('=') else {
                    bail!("--opt {option:?}: expected KEY=VALUE");
                };
                opts.insert(key.to_string(), json!(value));
            }
            let mut body = json!({ "Name": name, "Driver": "bridge", "Options": opts });
            if let Some(subnet) = subnet {
                body["IPAM"] = json!({ "Config": [{ "Subnet": subnet }] });
            }
            let created = client.call("POST", "/networks/create", Some(&body))?;
            if let Some(warning) = created["Warning"].as_str().filter(|w| !w.is_empty()) {
                eprintln!("WARNING: {warning}");
            }
            println!("{}", created["Id"].as_str().unwrap_or_default());
        }
        N::Ls { quiet, .. } => {
            let list = client.call("GET", "/networks", None)?;
            let networks = list.as_array().cloned().unwrap_or_default();
            if !quiet {
                println!("{:<14}{:<20}{:<10}SCOPE", "NETWORK ID", "NAME", "DRIVER");
            }
            for net in networks {
                let id: String = net["Id"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(12)
                    .collect();
                if quiet {
                    println!("{id}");
                } else {
                    println!(
                        "{id:<14}{:<20}{:<10}{}",
                        net["Name"].as_str().unwrap_or_default(),
                        net["Driver"].as_str().unwrap_or_default(),
                        net["Scope"].as_str().unwrap_or_default()
                    );
                }
            }
        }
        N::Inspect { names } => inspect_each(client, "networks", &names)?,
        N::Rm { names } => remove_each(client, "networks", &names)?,
    }
    Ok(())
}

/// `push NAME[:TAG]`: the daemon pushes (chapter 06); we show its progress, or with `-q`
/// only the full name pushed, as docker does.
pub fn push(client: &Client, reference: &str, quiet: bool) -> Result<()> {
    let (name, tag) = ch04_images::reference::split(reference);
    let path = format!("/images/{name}/push?tag={}", encode(tag));
    let reply = client.request("POST", &path, None, false)?;
    crate::cli_progress::show_transfer(reply, crate::cli_progress::Target::Stdout, quiet, "push")?;
    if quiet {
        println!("{}", crate::cli_progress::full_name(reference));
    }
    Ok(())
}

/// `pull NAME[:TAG|@DIGEST]`: the daemon pulls (chapter 06); we show its progress, then the
/// full name pulled (only that with `-q`), as docker does.
pub fn pull(client: &Client, reference: &str, quiet: bool) -> Result<()> {
    let named = reference.rsplit('/').next().unwrap_or(reference);
    if !quiet && !named.contains(':') && !named.contains('@') {
        println!("Using default tag: latest");
    }
    let reply = client.request("POST", &pull_path(reference), None, false)?;
    crate::cli_progress::show_transfer(reply, crate::cli_progress::Target::Stdout, quiet, "pull")?;
    println!("{}", crate::cli_progress::full_name(reference));
    Ok(())
}

/// `--security-opt seccomp=FILE`: as docker does, the client reads the profile and sends its
/// content (the daemon may not see the client's files). An unreadable file is sent as named,
/// and the daemon says it is not a profile.
/// `--device HOST[:CONTAINER][:PERMISSIONS]` as Docker's CLI reads it: a second part that is
/// only `r`, `w`, `m` letters is the permissions, else the path in the container.
fn parse_device(text: &str) -> Result<api::DeviceMapping, String> {
    let is_mode = |p: &str| !p.is_empty() && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'));
    let parts: Vec<&str> = text.split(':').collect();
    let (host, inside, perms) = match parts[..] {
        [host] => (host, "", "rwm"),
        [host, mode] if is_mode(mode) => (host, "", mode),
        [host, inside] => (host, inside, "rwm"),
        [host, inside, mode] if is_mode(mode) => (host, inside, mode),
        [_, _, mode] => return Err(format!("invalid device mode {mode:?}: some of r, w, m")),
        _ => return Err(format!("invalid device specification {text:?}")),
    };
    if host.is_empty() || !host.starts_with('/') || !(inside.is_empty() || inside.starts_with('/'))
    {
        return Err(format!("{text:?}: device paths are absolute"));
    }
    Ok(api::DeviceMapping {
        path_on_host: Some(host.to_string()),
        path_in_container: Some(if inside.is_empty() { host } else { inside }.to_string()),
        cgroup_permissions: Some(perms.to_string()),
    })
}

fn security_opts(options: &[String]) -> Vec<String> {
    options
        .iter()
        .map(
            |option| match option.replacen(':', "=", 1).split_once('=') {
                Some(("seccomp", file)) if file != "unconfined" => std::fs::read_to_string(file)
                    .map(|json| format!("seccomp={json}"))
                    .unwrap_or_else(|_| option.clone()),
                _ => option.clone(),
            },
        )
        .collect()
}

#[cfg(test)]
mod network_flag_tests {
    use super::*;

    #[test]
    fn publish_and_mount_flags_become_dockers_json() {
        let json = |(key, binding): (String, api::PortBinding)| {
            (key, serde_json::to_value(binding).unwrap())
        };
        assert_eq!(
            json(port_binding("127.0.0.1:8080:80")),
            (
                "80/tcp".to_string(),
                json!({ "HostIp": "127.0.0.1", "HostPort": "8080" })
            )
        );
        assert_eq!(
            json(port_binding("5353:53/udp")),
            (
                "53/udp".to_string(),
                json!({ "HostIp": "", "HostPort": "5353" })
            )
        );
        assert_eq!(
            json(port_binding("80")).1,
            json!({ "HostIp": "", "HostPort": "" })
        );
        let mount = |text| serde_json::to_value(parse_mount(text).unwrap()).unwrap();
        assert_eq!(
            mount("type=bind,src=/srv,dst=/www,readonly"),
            json!({ "Type": "bind", "Source": "/srv", "Target": "/www", "ReadOnly": true })
        );
        assert_eq!(
            mount("type=tmpfs,target=/t,tmpfs-size=64k")["TmpfsOptions"]["SizeBytes"],
            65536
        );
        assert!(parse_mount("type=nfs,target=/t").is_err());
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1x"), None);
    }
}

/// The entries of an `--env-file`, as docker reads one: a line is `NAME=VALUE` (the value
/// taken as it is, quotes included) or `NAME` (taken from the client's environment);
/// blank lines and lines starting with `#` are skipped.
fn env_file_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.trim_start())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| match line.split_once('=') {
            Some(_) => line.to_string(),
            None => line.trim_end().to_string(),
        })
        .collect()
}

#[cfg(test)]
mod device_flag_tests {
    use super::*;

    #[test]
    fn device_flags_read_as_dockers_cli_reads_them() {
        let device = |host: &str, inside: &str, perms: &str| api::DeviceMapping {
            path_on_host: Some(host.into()),
            path_in_container: Some(inside.into()),
            cgroup_permissions: Some(perms.into()),
        };
        assert_eq!(
            parse_device("/dev/kmsg"),
            Ok(device("/dev/kmsg", "/dev/kmsg", "rwm"))
        );
        assert_eq!(
            parse_device("/dev/kmsg:r"),
            Ok(device("/dev/kmsg", "/dev/kmsg", "r"))
        );
        assert_eq!(
            parse_device("/dev/sdb:/dev/xvdb"),
            Ok(device("/dev/sdb", "/dev/xvdb", "rwm"))
        );
        assert_eq!(
            parse_device("/dev/sdb:/dev/xvdb:rw"),
            Ok(device("/dev/sdb", "/dev/xvdb", "rw"))
        );
        assert!(parse_device("/dev/sdb:/dev/xvdb:rx").is_err());
        assert!(parse_device("sdb").is_err());
        assert!(parse_device("/a:/b:r:w").is_err());
    }
}

#[cfg(test)]
mod env_file_tests {
    use super::env_file_lines;

    #[test]
    fn env_files_read_as_docker_reads_them() {
        let text =
            "# a comment\n\nGREETING=hello world\n  PADDED=x \nQUOTED=\"kept\"\nHOME_FROM_CLIENT\n";
        assert_eq!(
            env_file_lines(text),
            [
                "GREETING=hello world",
                "PADDED=x ",
                "QUOTED=\"kept\"",
                "HOME_FROM_CLIENT"
            ]
        );
    }
}

/// `volume inspect` / `network inspect`: `GET /KIND/NAME` for each, printed as one JSON array.
fn inspect_each(client: &Client, kind: &str, names: &[String]) -> Result<()> {
    let mut shown = Vec::new();
    for name in names {
        shown.push(client.call("GET", &format!("/{kind}/{}", encode(name)), None)?);
    }
    println!("{}", serde_json::to_string_pretty(&shown)?);
    Ok(())
}

/// `volume rm` / `network rm`: `DELETE /KIND/NAME` for each, printing each name removed.
fn remove_each(client: &Client, kind: &str, names: &[String]) -> Result<()> {
    for name in names {
        client.call("DELETE", &format!("/{kind}/{}", encode(name)), None)?;
        println!("{name}");
    }
    Ok(())
}
