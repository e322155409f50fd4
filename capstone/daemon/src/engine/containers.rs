//! The life of a container: create, start (through a supervisor), stop, kill, wait, remove;
//! and, when the daemon starts, re-adopting containers whose supervisors kept them running.

use super::record::{write_json, Config, Dir, HostConfig, Record, Status, RECORD_VERSION};
use super::spec::{self, Inputs};
use super::{changes, extra_hosts, ApiError, ApiResult, Engine, Found};
use crate::time::now_nanos;
use ch03_overlayfs::ContainerDirs;
use ch04_images::{containers as image_records, hello, image, snapshot};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the daemon looks again where no event wakes it: new lines in a log, a supervisor
/// that cannot be watched by pidfd, the backoff of restart policies.
pub const POLL: Duration = Duration::from_millis(20);

/// How long `kill` with SIGKILL waits for the container to end before it says it did not.
const KILL_WAIT: Duration = Duration::from_secs(10);

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// A name like Docker's `brave_whale` for containers created without `--name`.
fn generated_name(id: &str, taken: impl Fn(&str) -> bool) -> String {
    const ADJECTIVES: [&str; 16] = [
        "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
        "nimble", "proud", "quiet", "sharp", "witty", "zen",
    ];
    const NAMES: [&str; 16] = [
        "whale", "orca", "dolphin", "narwhal", "beluga", "manatee", "seal", "otter", "walrus",
        "porpoise", "krill", "squid", "turtle", "marlin", "tuna", "shark",
    ];
    let bytes: Vec<u8> = (0..4)
        .map(|i| u8::from_str_radix(&id[i * 2..i * 2 + 2], 16).unwrap_or(0))
        .collect();
    let base = format!(
        "{}_{}",
        ADJECTIVES[bytes[0] as usize % 16],
        NAMES[bytes[1] as usize % 16]
    );
    if !taken(&base) {
        return base;
    }
    (1..)
        .map(|n| format!("{base}{n}"))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

/// Is this supervisor process alive, and really the supervisor of `id` (not a reused pid)?
pub fn shim_alive(shim_pid: i32, id: &str) -> bool {
    if shim_pid <= 0 {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{shim_pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{shim_pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'));
    !zombie && cmdline.split(|b| *b == 0).any(|arg| arg == id.as_bytes())
}

/// A create request in the engine's terms (read by [`super::unsupported::read_create`]).
pub struct CreateRequest {
    pub config: Config,
    pub host_config: HostConfig,
    /// `NetworkingConfig`'s aliases on the container's network.
    pub aliases: Vec<String>,
}

impl Engine {
    /// `POST /containers/create`.
    pub fn create(&self, name: Option<&str>, body: CreateRequest) -> ApiResult<String> {
        let CreateRequest {
            config,
            mut host_config,
            aliases,
        } = body;
        spec::check_supported(&host_config)?;
        if config.image.is_empty() {
            return Err(ApiError::bad_request(
                "no image given (Config.Image is empty)",
            ));
        }
        let _names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let taken = |n: &str| self.index().named(n).map(String::from);
        let id = ch03_overlayfs::dirs::random_id().map_err(ApiError::internal)?;
        // Docker's `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`: one leading slash at most.
        let name = match name
            .map(|n| n.strip_prefix('/').unwrap_or(n))
            .filter(|n| !n.is_empty())
        {
            Some(name) => {
                if !valid_name(name) {
                    return Err(ApiError::bad_request(format!(
                        "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                        name.escape_debug()
                    )));
                }
                if let Some(other) = taken(name) {
                    return Err(ApiError::conflict(format!(
                        "Conflict. The container name \"/{name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
                    )));
                }
                name.to_string()
            }
            None => generated_name(&id, |n| taken(n).is_some()),
        };

        let lock = self.store.lock()?;
        let image = self.resolve_image(&config.image)?;
        let lowers = snapshot::prepare(&self.store, &image)?;
        // Chapter 07: the network, published ports and mounts (volumes are made below, once
        // the container's directory exists).
        let mut plan = self.plan(&config, &mut host_config, &image.config)?;
        if !aliases.is_empty() && plan.network.is_none() {
            return Err(ApiError::bad_request(format!(
                "network-scoped aliases are only supported for user-defined networks, not {}",
                host_config.network_mode
            )));
        }
        plan.aliases = aliases;
        plan.extra_hosts = extra_hosts::lines(&host_config, || self.host_gateway(&plan))?;
        let hostname = match config.hostname.as_str() {
            "" => id[..12].to_string(),
            mine => mine.to_string(),
        };
        // Mount points and the working directory are made in the init layer, above the image,
        // so they exist even on a --read-only root (Docker creates the working directory too).
        let mut mount_points: Vec<PathBuf> = host_config
            .tmpfs
            .iter()
            .flat_map(|t| t.keys().map(PathBuf::from))
            .collect();
        let cwd = config.working_dir.trim_end_matches('/');
        if cwd.starts_with('/') && !cwd.split('/').any(|c| c == "..") && cwd.len() > 1 {
            mount_points.push(PathBuf::from(cwd));
        }
        let dirs = ContainerDirs::at(&self.root, &id);
        let dir = Dir(dirs.dir.clone());
        let made = (|| -> ApiResult<Record> {
            let spec = spec::build(&Inputs {
                id: &id,
                config: &config,
                host: &host_config,
                image: &image.config,
                lowers: &lowers,
                bundle: &dirs.dir,
                hostname: &hostname,
                cgroup_parent: &self.cgroup_parent,
                cgroup_v2: self.cgroup_v2,
            })?;
            dirs.create(&lowers, Some(&name), &hostname, &mount_points)
                .map_err(ApiError::internal)?;
            extra_hosts::append(&dirs.dir.join("hosts"), &plan.extra_hosts)?;
            if let Some(servers) = host_config.dns.as_ref().filter(|d| !d.is_empty()) {
                // As chapter 07's --dns: the file chapter 03 bind-mounts over /etc/resolv.conf.
                let mut text = String::new();
                for server in servers {
                    let ip: std::net::IpAddr = server.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid --dns {server:?}: not an IP address"
                        ))
                    })?;
                    text.push_str(&format!("nameserver {ip}\n"));
                }
                std::fs::write(dirs.dir.join("resolv.conf"), text).map_err(ApiError::internal)?;
            }
            self.make_volumes(&dir, &mut plan)?;
            image_records::record_image(&self.store, &id, &image.manifest_digest)?;
            write_json(&dir.spec(), &spec)?;
            ch01_namespaces::explain!(
                "container {id} ({name}): OCI runtime spec written to {}",
                dir.spec().display()
            );
            let argv = spec
                .process()
                .as_ref()
                .and_then(|p| p.args().clone())
                .unwrap_or_default();
            let mut config = config.clone();
            config.hostname = hostname.clone();
            config.image = config.image.clone();
            if config.env.is_none() {
                config.env = Some(Vec::new());
            }
            config.env = spec.process().as_ref().and_then(|p| p.env().clone());
            if config.cmd.is_none() {
                config.cmd = image.config.config().as_ref().and_then(|c| c.cmd().clone());
            }
            if config.entrypoint.is_none() {
                config.entrypoint = image
                    .config
                    .config()
                    .as_ref()
                    .and_then(|c| c.entrypoint().clone());
            }
            // As Docker's inspect: the image's EXPOSEd ports and VOLUMEs with the user's.
            let keys = |keys: Vec<String>| {
                let map: serde_json::Map<String, serde_json::Value> = keys
                    .into_iter()
                    .map(|k| (k, serde_json::json!({})))
                    .collect();
                (!map.is_empty()).then_some(serde_json::Value::Object(map))
            };
            config.exposed_ports = keys(plan.exposed.clone());
            let mut volumes: Vec<String> = image
                .config
                .config()
                .as_ref()
                .and_then(|c| c.volumes().clone())
                .unwrap_or_default();
            if let Some(mine) = config.volumes.as_ref().and_then(|v| v.as_object()) {
                volumes.extend(mine.keys().cloned());
            }
            config.volumes = keys(volumes);
            let record = Record {
                version: RECORD_VERSION,
                id: id.clone(),
                name: name.clone(),
                created: now_nanos(),
                image_id: image.id().to_string(),
                path: argv.first().cloned().unwrap_or_default(),
                args: argv.iter().skip(1).cloned().collect(),
                config,
                host_config: host_config.clone(),
            };
            // Written last: a directory without it is a container still being made.
            write_json(&dir.record(), &record)?;
            Ok(record)
        })();
        drop(lock);
        match made {
            Ok(record) => {
                self.index_insert(&record);
                self.container_event("create", &record, serde_json::json!({}));
                Ok(id)
            }
            Err(error) => {
                if dirs.dir.exists() {
                    let _ = dirs.remove();
                }
                let made: Vec<String> = plan
                    .anonymous()
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .collect();
                let _ = self.remove_anonymous_volumes(&made);
                Err(error)
            }
        }
    }

    /// Resolve an image reference; `hello-world` is made on first use, offline (chapter 04).
    /// Call with the store locked.
    pub fn resolve_image(&self, reference: &str) -> ApiResult<ch04_images::Image> {
        let reference = super::images::familiar(reference);
        match image::resolve(&self.store, reference) {
            Ok(image) => Ok(image),
            Err(ch04_images::Error::NoSuchImage(_))
                if ch04_images::reference::normalize(reference).is_ok_and(|r| r == hello::TAG) =>
            {
                Ok(hello::create(&self.store)?)
            }
            Err(ch04_images::Error::NoSuchImage(_)) => {
                let shown = ch04_images::reference::normalize(reference)
                    .unwrap_or_else(|_| reference.to_string());
                Err(ApiError::not_found(format!("No such image: {shown}")))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// `POST /containers/{id}/start`: hand the container to a new supervisor and wait until
    /// it says the program runs (or why it does not). `Ok(false)`: it was running already.
    pub fn start(self: &Arc<Self>, wanted: &str) -> ApiResult<bool> {
        // One start at a time, so two (a user's and a restart policy's) cannot both give the
        // same container a supervisor.
        let _starting = self.starting.lock().unwrap_or_else(|e| e.into_inner());
        let found = self.find(wanted)?;
        if found.running() && shim_alive(found.state.shim_pid, found.id()) {
            return Ok(false);
        }
        // A marker left by a run that ended frozen (its supervisor killed) says nothing now.
        let _ = std::fs::remove_file(super::pause::marker(&found));
        let _ = std::fs::remove_file(found.dir.stopped_by_user());
        let result = self.spawn_shim(&found);
        match result {
            Ok(()) => {
                self.watch(found.id().to_string());
                Ok(true)
            }
            Err(error) => {
                if found.record.host_config.auto_remove {
                    let code = found.dir.read_state().map(|s| s.exit_code).unwrap_or(125);
                    self.remember_removed(found.id(), code);
                    let _ = self.remove(found.id(), true);
                }
                Err(error)
            }
        }
    }

    fn spawn_shim(&self, found: &Found) -> ApiResult<()> {
        // Close-on-exec: a start running at the same time in another thread must not pass our
        // pipe on to its supervisor (only fd 3, made by dup2 below, crosses the exec).
        let (read_end, write_end) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(ApiError::internal)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(found.dir.shim_log())
            .map_err(ApiError::internal)?;
        let mut command = std::process::Command::new(&self.exe);
        command
            .arg("--root")
            .arg(&self.root)
            .args(["shim", found.id()])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().map_err(ApiError::internal)?)
            .stderr(log);
        if ch01_namespaces::explain::enabled() {
            command.arg("--explain");
        }
        let fd = write_end.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; it puts the pipe on fd 3 without close-on-exec.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd, crate::shim::HANDSHAKE_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        ch01_namespaces::explain!(
            "start the supervisor: {} --root {} shim {} (handshake pipe on fd 3)",
            self.exe.display(),
            self.root.display(),
            found.id()
        );
        let mut child = command.spawn().map_err(ApiError::internal)?;
        drop(write_end);
        // The first process forks the supervisor and exits at once.
        let _ = child.wait();
        let mut reply = String::new();
        std::fs::File::from(read_end)
            .read_to_string(&mut reply)
            .map_err(ApiError::internal)?;
        let reply: serde_json::Value = serde_json::from_str(reply.trim()).map_err(|_| {
            let log = std::fs::read_to_string(found.dir.shim_log()).unwrap_or_default();
            ApiError::internal(format!(
                "the supervisor of {} ended without starting it: {}",
                found.id(),
                log.lines().last().unwrap_or("(no message)")
            ))
        })?;
        if let Some(message) = reply["error"].as_str() {
            // Docker answers 400 for a program that is missing or cannot run; its CLI reads
            // the words "executable file not found", "no such file or directory" and
            // "permission denied" in the message to exit with 127 or 126.
            let status = if reply["exit_code"].as_i64().unwrap_or(125) == 125 {
                500
            } else {
                400
            };
            return Err(ApiError::new(status, message.to_lowercase_errno()));
        }
        Ok(())
    }

    /// Follow a running container from the daemon: when its supervisor has recorded its end,
    /// remove it if it was created with `--rm` (AutoRemove). A supervisor that died without
    /// recording the end is marked exited, with Docker's 255.
    pub fn watch(self: &Arc<Self>, id: String) {
        let engine = self.clone();
        std::thread::spawn(move || loop {
            let dir = engine.dir_of(&id);
            let Ok(record) = dir.read_record() else {
                return;
            };
            let Ok(mut state) = dir.read_state() else {
                return;
            };
            if state.status == Status::Running {
                if shim_alive(state.shim_pid, &id) {
                    if !changes::wait_for_exit(state.shim_pid) {
                        std::thread::sleep(POLL);
                    }
                    continue;
                }
                // Read again: it may have written its last state just before it exited.
                state = dir.read_state().unwrap_or(state);
                if state.status == Status::Running {
                    state.status = Status::Exited;
                    state.exit_code = 255;
                    state.error = "the container's supervisor died".into();
                    state.finished_at = now_nanos();
                    let _ = dir.write_state(&state);
                    engine.remove_leftover_cgroup(&id);
                }
            }
            engine.changes.notify();
            if record.host_config.auto_remove {
                engine.remember_removed(&id, state.exit_code);
                let _ = engine.remove(&id, true);
            } else if let Some(delay) = engine.restart_delay(&dir, &record, &state) {
                std::thread::sleep(delay);
                // Stopped or removed by the user while we waited?
                if dir.record().exists() && !dir.stopped_by_user().exists() {
                    let count = dir.restart_count() + 1;
                    if engine.start(&id).is_ok() {
                        let _ = std::fs::write(dir.restart_count_file(), format!("{count}\n"));
                    }
                }
            }
            return;
        });
    }

    /// Docker's restart policies, when a container has ended on its own: `always` and
    /// `unless-stopped` restart it, `on-failure[:N]` when its exit code is not 0 (at most N
    /// times); none restarts a container the user stopped. The delay doubles from 100 ms with
    /// each restart (up to a minute), as Docker's does, so a crashing program cannot spin.
    fn restart_delay(
        &self,
        dir: &Dir,
        record: &Record,
        state: &super::record::State,
    ) -> Option<Duration> {
        let policy = &record.host_config.restart_policy;
        let count = dir.restart_count();
        if dir.stopped_by_user().exists() || state.runs == 0 {
            return None;
        }
        let again = match policy.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                state.exit_code != 0
                    && (policy.maximum_retry_count <= 0
                        || count < policy.maximum_retry_count as u64)
            }
            _ => false,
        };
        again.then(|| {
            (POLL * 5 * 2u32.saturating_pow(count.min(10) as u32)).min(Duration::from_secs(60))
        })
    }

    fn remember_removed(&self, id: &str, code: i32) {
        if let Ok(mut removed) = self.removed.lock() {
            removed.insert(id.to_string(), code);
        }
    }

    /// On daemon start: watch what still runs, mark what ended while no daemon was there,
    /// and remove ended `--rm` containers.
    pub fn adopt(self: &Arc<Self>) {
        for found in self.all() {
            let policy = found.record.host_config.restart_policy.name.as_str();
            let manual = found.dir.stopped_by_user().exists();
            if found.running() {
                self.watch(found.id().to_string());
            } else if found.record.host_config.auto_remove && found.state.runs > 0 {
                let _ = self.remove(found.id(), true);
            } else if found.state.runs > 0
                && (policy == "always" || (policy == "unless-stopped" && !manual))
            {
                // Docker starts `always` containers with the daemon, even ones stopped by hand.
                let _ = self.start(found.id());
            } else if !manual && policy == "on-failure" && found.state.exit_code != 0 {
                self.watch(found.id().to_string());
            }
        }
    }

    /// Send a signal to the container's first process.
    pub fn signal(&self, found: &Found, signal: Signal) -> ApiResult<()> {
        if !found.running() || found.state.pid <= 0 {
            return Err(ApiError::conflict(format!(
                "Container {} is not running",
                found.id()
            )));
        }
        if matches!(signal, Signal::SIGKILL | Signal::SIGTERM) {
            // A frozen (paused) process cannot die: thaw it, as dockerd does.
            self.thaw_if_paused(found)?;
        }
        kill(Pid::from_raw(found.state.pid), signal).map_err(|errno| {
            ApiError::internal(format!("kill({}, {signal}): {errno}", found.state.pid))
        })
    }

    /// `POST /containers/{id}/kill`.
    pub fn kill(&self, wanted: &str, signal: Option<&str>) -> ApiResult<()> {
        let found = self.find(wanted)?;
        let signal = parse_signal(signal.unwrap_or("SIGKILL"))?;
        let running = found.running();
        if running && matches!(signal, Signal::SIGKILL | Signal::SIGTERM) {
            mark_stopped_by_user(&found);
        }
        self.signal(&found, signal)?;
        let number = (signal as i32).to_string();
        self.container_event(
            "kill",
            &found.record,
            serde_json::json!({ "signal": number }),
        );
        // As dockerd's (moby's daemon/kill.go): a SIGKILL is answered once the container has
        // ended, so the client's next inspect already sees it exited, with its exit code.
        if running && signal == Signal::SIGKILL && !self.wait_stopped(found.id(), KILL_WAIT) {
            return Err(ApiError::internal(format!(
                "sent SIGKILL to {}, still running after {}s",
                found.id(),
                KILL_WAIT.as_secs()
            )));
        }
        Ok(())
    }

    /// Wait until the container is not running any more, up to `timeout`; true if it ended.
    fn wait_stopped(&self, id: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.changes.generation();
            let dir = self.dir_of(id);
            match dir.read_state() {
                Ok(state) if state.status == Status::Running => {
                    if !shim_alive(state.shim_pid, id) {
                        return true;
                    }
                }
                _ => return true,
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            self.changes
                .wait_after(seen, changes::FALLBACK.min(deadline - now));
        }
    }

    /// `POST /containers/{id}/stop`: the stop signal (the container's STOPSIGNAL, else
    /// SIGTERM), then after `timeout` seconds (default 10) SIGKILL. `Ok(false)`: it was not
    /// running (Docker answers 304).
    pub fn stop(
        &self,
        wanted: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> ApiResult<bool> {
        let found = self.find(wanted)?;
        if found.running() {
            // The stop signal must reach the process: a frozen one gets nothing.
            self.thaw_if_paused(&found)?;
        }
        // Before anything else: a restart policy must not start it again meanwhile.
        mark_stopped_by_user(&found);
        if !found.running() {
            return Ok(false);
        }
        let config = &found.record.config;
        let signal = parse_signal(
            signal
                .or(config.stop_signal.as_deref())
                .unwrap_or("SIGTERM"),
        )?;
        let timeout = timeout.or(config.stop_timeout).unwrap_or(10);
        let _ = self.signal(&found, signal);
        if timeout < 0 || !self.wait_stopped(found.id(), Duration::from_secs(timeout as u64)) {
            let _ = self.signal(&found, Signal::SIGKILL);
            self.wait_stopped(found.id(), Duration::from_secs(30));
        }
        self.container_event("stop", &found.record, serde_json::json!({}));
        Ok(true)
    }

    /// `POST /containers/{id}/restart`: stop (if running), then start.
    pub fn restart(
        self: &Arc<Self>,
        wanted: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> ApiResult<()> {
        let found = self.find(wanted)?;
        self.stop(found.id(), timeout, signal)?;
        self.start(found.id())?;
        self.container_event("restart", &found.record, serde_json::json!({}));
        Ok(())
    }

    /// `DELETE /containers/{id}`; its anonymous volumes go with it if it was made with `--rm`.
    pub fn remove(&self, wanted: &str, force: bool) -> ApiResult<()> {
        self.remove_with(wanted, force, false)
    }

    /// `DELETE /containers/{id}?v=1`: with `volumes`, its anonymous volumes too (`rm -v`).
    pub fn remove_with(&self, wanted: &str, force: bool, volumes: bool) -> ApiResult<()> {
        let found = self.find(wanted)?;
        let anonymous = super::attachments::Plan::load(&found.dir.0).anonymous();
        if found.running() && shim_alive(found.state.shim_pid, found.id()) {
            if !force {
                return Err(ApiError::conflict(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    found.id()
                )));
            }
            let _ = self.signal(&found, Signal::SIGKILL);
            self.wait_stopped(found.id(), Duration::from_secs(30));
        }
        let _names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let dirs = ContainerDirs {
            id: found.id().to_string(),
            dir: found.dir.0.clone(),
        };
        if found.running() {
            // Marked running, but its supervisor is gone (killed): what it left.
            self.remove_leftover_cgroup(found.id());
        }
        if dirs.dir.exists() {
            dirs.remove().map_err(ApiError::internal)?;
        }
        self.index_remove(&found.record);
        self.container_event("destroy", &found.record, serde_json::json!({}));
        // Its exec instances go with it, as Docker's do (`GET /exec/ID/json` is 404 after).
        self.execs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, exec| exec.container != dirs.id);
        if volumes || found.record.host_config.auto_remove {
            // After the directory: until then the container counts as a user of them.
            self.remove_anonymous_volumes(&anonymous)?;
        }
        self.changes.notify();
        Ok(())
    }

    /// Block until the container is in the state `condition` asks for, and return its exit
    /// code. Conditions as Docker's: `not-running` (default), `next-exit`, `removed`.
    /// `baseline` is the container as it was when the request came (see [`Engine::find`]).
    pub fn wait(&self, baseline: &Found, condition: &str) -> i32 {
        let id = baseline.id().to_string();
        let attempts = baseline.state.attempts;
        let mut last_code = baseline.state.exit_code;
        loop {
            let seen = self.changes.generation();
            let dir = self.dir_of(&id);
            let state = if dir.0.exists() {
                dir.read_state().ok()
            } else {
                None
            };
            let Some(state) = state else {
                // Gone: removed. Its exit code was remembered if it was removed with --rm.
                let removed = self.removed.lock().ok().and_then(|r| r.get(&id).copied());
                return removed.unwrap_or(last_code);
            };
            last_code = state.exit_code;
            let ended = state.status != Status::Running || !shim_alive(state.shim_pid, &id);
            let done = match condition {
                "removed" => false,
                "next-exit" => ended && (state.attempts > attempts || baseline.running()),
                _ => ended,
            };
            if done {
                return state.exit_code;
            }
            self.changes.wait_after(seen, changes::FALLBACK);
        }
    }
}

impl Engine {
    /// A supervisor killed before it could clean up leaves its container's cgroup (the
    /// container died with it: PR_SET_PDEATHSIG); its network leftovers are chapter 07's
    /// stale leases, reclaimed at the next start. Best effort: gone already is fine.
    pub(super) fn remove_leftover_cgroup(&self, id: &str) {
        super::check::remove_cgroup(&self.cgroup_parent, id);
        // And its devices cgroup (cgroup v1), removed when the handle drops.
        drop(crate::runtime::adopt_devices(
            &std::path::Path::new(&self.cgroup_parent).join(id),
        ));
    }
}

fn mark_stopped_by_user(found: &Found) {
    let _ = std::fs::write(found.dir.stopped_by_user(), "");
}

impl Engine {
    /// `GET /containers/{id}/changes`: what the container changed, from its write layer
    /// (chapter 03's diff). Docker's kinds: 0 changed, 1 added, 2 deleted.
    pub fn changes(&self, wanted: &str) -> ApiResult<serde_json::Value> {
        let found = self.find(wanted)?;
        let dirs = ContainerDirs {
            id: found.id().to_string(),
            dir: found.dir.0.clone(),
        };
        let lowers = dirs.lowers().map_err(ApiError::internal)?;
        let changes =
            ch03_overlayfs::diff::changes(&dirs.upper(), &lowers).map_err(ApiError::internal)?;
        Ok(serde_json::json!(changes
            .iter()
            .map(|c| {
                let kind = match c.kind {
                    ch03_overlayfs::diff::Kind::Changed => 0,
                    ch03_overlayfs::diff::Kind::Added => 1,
                    ch03_overlayfs::diff::Kind::Deleted => 2,
                };
                serde_json::json!({ "Path": c.path, "Kind": kind })
            })
            .collect::<Vec<_>>()))
    }
}

/// `SIGTERM`, `TERM`, `15` (chapter 01's names), or 400 as Docker answers.
pub fn parse_signal(text: &str) -> ApiResult<Signal> {
    ch01_namespaces::common::parse_signal(text)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid signal: {text}")))
}

trait DockerWords {
    fn to_lowercase_errno(&self) -> String;
}

impl DockerWords for str {
    /// nix prints errnos as `EACCES: Permission denied`; Docker's CLI looks for Go's lower-case
    /// "permission denied" to choose exit code 126.
    fn to_lowercase_errno(&self) -> String {
        self.replace("Permission denied", "permission denied")
            .replace("Is a directory", "is a directory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_signals() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-x") && !valid_name("a") && !valid_name("a/b"));
        assert_eq!(parse_signal("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
        let name = generated_name(&"ab".repeat(32), |n| n == "witty_shark");
        assert!(name.contains('_'));
    }
}
