//! The engine's half of "engine + runtime": turn an image's config and the create options
//! (Docker's `Config` + `HostConfig`) into an OCI runtime spec, `config.json`, the one input
//! the runtime takes. Everything Docker decides above the runtime is decided here: which
//! program runs (Entrypoint + Cmd), its environment, working directory and user (looked up in
//! the image's own /etc/passwd), the namespaces, the cgroup and its limits.
//!
//! Read the OCI runtime spec's `config.md` and `config-linux.md` for the fields.

use super::record::{Config, HostConfig};
use super::ApiError;
use ch01_namespaces::exec::DEFAULT_PATH;
use ch04_images::run::Identity;
use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{
    LinuxBuilder, LinuxCpuBuilder, LinuxIdMapping, LinuxIdMappingBuilder, LinuxMemoryBuilder,
    LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResourcesBuilder, Mount,
    MountBuilder, ProcessBuilder, RootBuilder, Spec, UserBuilder,
};
use std::path::{Path, PathBuf};

/// What the spec is made from.
pub struct Inputs<'a> {
    pub id: &'a str,
    pub config: &'a Config,
    pub host: &'a HostConfig,
    pub image: &'a ImageConfiguration,
    /// The image's unpacked layers, top first: where /etc/passwd is looked up.
    pub lowers: &'a [PathBuf],
    /// The container's directory (the bundle): `merged/` is the root, the /etc files are here.
    pub bundle: &'a Path,
    pub hostname: &'a str,
    /// The cgroup parent of every container of this daemon (`--cgroup-parent`).
    pub cgroup_parent: &'a str,
    /// Whether the host's cgroups are v2 (then the container gets a cgroup namespace too, as
    /// Docker does; on v1 it sees the host's).
    pub cgroup_v2: bool,
}

/// Docker's rule for the command: the user's Entrypoint replaces the image's and then drops
/// the image's Cmd; the user's Cmd replaces the image's Cmd.
pub fn command(config: &Config, image: &ImageConfiguration) -> Result<Vec<String>, ApiError> {
    let args = config.cmd.as_deref().unwrap_or_default();
    let argv = ch04_images::run::command_line(image, config.entrypoint.as_deref(), args);
    if argv.is_empty() || argv[0].is_empty() {
        return Err(ApiError::bad_request("no command specified"));
    }
    Ok(argv)
}

/// Refuse what this engine does not do yet, with a clear message, instead of ignoring it.
pub fn check_supported(host: &HostConfig) -> Result<(), ApiError> {
    match host.restart_policy.name.as_str() {
        "" | "no" | "on-failure" => {}
        "always" | "unless-stopped" if host.auto_remove => {
            return Err(ApiError::bad_request(
                "Conflicting options: --restart and --rm",
            ))
        }
        "always" | "unless-stopped" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid restart policy '{other}'"
            )))
        }
    }
    if host.restart_policy.maximum_retry_count != 0 && host.restart_policy.name != "on-failure" {
        return Err(ApiError::bad_request(
            "maximum retry count can only be used with 'on-failure'",
        ));
    }
    if host.device_requests.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(
            "HostConfig.DeviceRequests (--gpus) is not supported",
        ));
    }
    Ok(())
}

/// The environment: the image's `Env`, the user's `-e` over it (same name wins), then the
/// defaults Docker adds: PATH, HOSTNAME, HOME.
fn environment(inputs: &Inputs, home: &str) -> Vec<String> {
    let image_env = inputs
        .image
        .config()
        .as_ref()
        .and_then(|c| c.env().clone())
        .unwrap_or_default();
    let mut env: Vec<String> = Vec::new();
    let user_env = inputs.config.env.clone().unwrap_or_default();
    for pair in image_env.into_iter().chain(user_env) {
        let key = pair.split('=').next().unwrap_or_default().to_string();
        if !pair.contains('=') {
            // `-e NAME` without a value: the client fills it in from its own environment; a
            // bare name left here means it was unset there, and Docker drops it.
            continue;
        }
        env.retain(|p| p.split('=').next() != Some(key.as_str()));
        env.push(pair);
    }
    let has = |env: &[String], key: &str| env.iter().any(|p| p.starts_with(&format!("{key}=")));
    for (key, value) in [
        ("PATH", DEFAULT_PATH),
        ("HOSTNAME", inputs.hostname),
        ("HOME", home),
    ] {
        if !has(&env, key) {
            env.push(format!("{key}={value}"));
        }
    }
    env
}

/// Read `etc/NAME` from the topmost layer that has it, as the container will see it. Only a
/// regular file counts: a symlink in an image must never make the engine read a host file.
fn image_file(lowers: &[PathBuf], name: &str) -> String {
    for lower in lowers {
        let path = lower.join("etc").join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_file() => {
                return std::fs::read_to_string(&path).unwrap_or_default()
            }
            // A whiteout (character device) or anything else hides lower layers' copies.
            Ok(_) => return String::new(),
            Err(_) => continue,
        }
    }
    String::new()
}

/// A user as Docker takes it (`name`, `uid`, `name:group`, `uid:gid`; empty is root), looked
/// up in the image's own /etc/passwd and /etc/group (the layers `lowers`, top first).
pub fn resolve_user(lowers: &[PathBuf], user: &str) -> Result<Identity, ApiError> {
    if user.is_empty() {
        return Ok(Identity {
            uid: 0,
            gid: 0,
            home: "/root".into(),
        });
    }
    Identity::resolve_in(
        user,
        &image_file(lowers, "passwd"),
        &image_file(lowers, "group"),
    )
    .map_err(|e| ApiError::bad_request(format!("unable to find user {user}: {e}")))
}

/// Build the spec.
pub fn build(inputs: &Inputs) -> Result<Spec, ApiError> {
    let argv = command(inputs.config, inputs.image)?;
    let image_run = inputs.image.config().clone().unwrap_or_default();
    let user = match inputs.config.user.as_str() {
        "" => image_run.user().clone().unwrap_or_default(),
        mine => mine.to_string(),
    };
    let identity = resolve_user(inputs.lowers, &user)?;
    let cwd = match inputs.config.working_dir.as_str() {
        "" => image_run
            .working_dir()
            .clone()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/".into()),
        mine => mine.to_string(),
    };
    if !cwd.starts_with('/') {
        return Err(ApiError::bad_request(format!(
            "the working directory '{cwd}' is invalid, it needs to be an absolute path"
        )));
    }
    let process = ProcessBuilder::default()
        .args(argv)
        .env(environment(inputs, &identity.home))
        .cwd(cwd)
        .user(
            UserBuilder::default()
                .uid(identity.uid)
                .gid(identity.gid)
                // `--group-add`: numeric ids (names are refused before, see unsupported.rs).
                .additional_gids(
                    inputs
                        .host
                        .group_add
                        .iter()
                        .flatten()
                        .filter_map(|g| g.parse::<u32>().ok())
                        .collect::<Vec<u32>>(),
                )
                .build()
                .map_err(ApiError::internal)?,
        )
        .terminal(inputs.config.tty)
        .build()
        .map_err(ApiError::internal)?;
    let security = security(inputs.host)?;
    let mut process = process;
    // The terminal's first size, set before the program runs (its first look is right).
    if let Some([rows, cols]) = inputs.host.console_size.filter(|[r, c]| *r > 0 && *c > 0) {
        if inputs.config.tty {
            process.set_console_size(Some(
                oci_spec::runtime::BoxBuilder::default()
                    .height(rows as u64)
                    .width(cols as u64)
                    .build()
                    .map_err(ApiError::internal)?,
            ));
        }
    }
    let rlimits = super::run_limits::rlimits(inputs.host)?;
    if !rlimits.is_empty() {
        process.set_rlimits(Some(rlimits));
    }
    process.set_capabilities(Some(security.capabilities));
    process.set_no_new_privileges(Some(security.no_new_privileges));

    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Ipc,
    ];
    if inputs.host.network_mode != "host" {
        kinds.push(LinuxNamespaceType::Network);
    }
    if inputs.cgroup_v2 {
        kinds.push(LinuxNamespaceType::Cgroup);
    }
    let rootless = !nix::unistd::geteuid().is_root();
    if rootless {
        kinds.push(LinuxNamespaceType::User);
    }
    let namespaces = kinds
        .into_iter()
        .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;

    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(resources(inputs.host)?)
        .masked_paths(security.masked)
        .readonly_paths(security.read_only)
        .cgroups_path(PathBuf::from(format!(
            "/{}/{}",
            inputs.cgroup_parent.trim_matches('/'),
            inputs.id
        )))
        .build()
        .map_err(ApiError::internal)?;
    let mut linux = linux;
    linux.set_seccomp(security.seccomp);
    linux.set_sysctl(super::run_limits::sysctls(
        inputs.host,
        inputs.host.network_mode != "host",
    )?);
    let (nodes, rules) = super::devices::of(inputs.host)?;
    if !nodes.is_empty() {
        linux.set_devices(Some(nodes));
    }
    if rootless {
        // No device rules: they need CAP_SYS_ADMIN over the host (a v1 devices cgroup, a v2
        // eBPF program), and a user namespace's root may not create device nodes anyway
        // (mknod(2)); runc's rootless mode does the same.
        let (uids, gids) = user_mappings()?;
        linux.set_uid_mappings(Some(uids));
        linux.set_gid_mappings(Some(gids));
    } else if let Some(resources) = linux.resources_mut() {
        resources.set_devices(Some(rules));
    }

    let mut spec = Spec::default();
    spec.set_process(Some(process));
    spec.set_hostname(Some(inputs.hostname.to_string()));
    spec.set_root(Some(
        RootBuilder::default()
            .path(inputs.bundle.join("merged"))
            .readonly(inputs.host.readonly_rootfs)
            .build()
            .map_err(ApiError::internal)?,
    ));
    spec.set_mounts(Some(mounts(inputs)?));
    spec.set_linux(Some(linux));
    spec.set_annotations(None);
    Ok(spec)
}

/// An ordinary user's daemon: the container's root is the user, and the user's subordinate
/// ids (`/etc/subuid`, `/etc/subgid`) map from 1 up, so that images of several owners keep
/// them (chapter 01's [`IdMappings::for_caller`]; the runtime writes them through
/// newuidmap/newgidmap). Without ranges, the one-id map, and its cost said in the daemon's log.
///
/// [`IdMappings::for_caller`]: ch01_namespaces::idmap::IdMappings::for_caller
fn user_mappings() -> Result<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>), ApiError> {
    let (mappings, warning) = ch01_namespaces::idmap::IdMappings::for_caller();
    if let Some(warning) = warning {
        eprintln!("baleia daemon: warning: {warning}");
    }
    let convert = |maps: &[ch01_namespaces::idmap::IdMap]| {
        maps.iter()
            .map(|m| {
                LinuxIdMappingBuilder::default()
                    .container_id(m.inside)
                    .host_id(m.outside)
                    .size(m.count)
                    .build()
                    .map_err(ApiError::internal)
            })
            .collect::<Result<Vec<_>, _>>()
    };
    Ok((convert(&mappings.uids)?, convert(&mappings.gids)?))
}

/// What the container's processes may do: Docker's secure defaults, and the flags that
/// change them.
struct SpecSecurity {
    capabilities: oci_spec::runtime::LinuxCapabilities,
    no_new_privileges: bool,
    seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    masked: Vec<String>,
    read_only: Vec<String>,
}

/// Docker's defaults (chapter 01's capabilities and seccomp filter, `no_new_privs`, chapter
/// 03's masked and read-only paths), changed by `--cap-add`, `--cap-drop`, `--privileged`
/// and `--security-opt`: written into the spec, where the runtime reads them.
fn security(host: &HostConfig) -> Result<SpecSecurity, ApiError> {
    use ch01_namespaces::Security;
    let bad = |e: ch01_namespaces::Error| ApiError::bad_request(e.to_string());
    let mut kept = Security::docker_default()
        .with_capability_changes(
            host.cap_add.as_deref().unwrap_or_default(),
            host.cap_drop.as_deref().unwrap_or_default(),
        )
        .map_err(bad)?
        .capabilities
        .unwrap_or_default();
    let mut no_new_privileges = true;
    let mut seccomp = Some(
        crate::runtime::security::spec_seccomp_of(&ch01_namespaces::seccomp::default_profile())
            .map_err(ApiError::internal)?,
    );
    let mut masked: Vec<String> = ch03_overlayfs::masked::MASKED
        .iter()
        .map(|p| p.to_string())
        .collect();
    let mut read_only: Vec<String> = ch03_overlayfs::masked::READ_ONLY
        .iter()
        .map(|p| p.to_string())
        .collect();
    if host.privileged {
        kept = caps::all();
        no_new_privileges = false;
        seccomp = None;
        masked.clear();
        read_only.clear();
    }
    for option in host.security_opt.iter().flatten() {
        let (key, value) = option
            .split_once(['=', ':'])
            .unwrap_or((option.as_str(), ""));
        match (key, value) {
            ("seccomp", "unconfined") => seccomp = None,
            ("seccomp", json) if host.privileged => {
                let _ = json; // Docker ignores profiles for privileged containers too
            }
            ("seccomp", json) => {
                seccomp = Some(
                    crate::runtime::security::docker_profile(json, &kept)
                        .map_err(|e| ApiError::bad_request(format!("{e:#}")))?,
                )
            }
            ("no-new-privileges", "" | "true") => no_new_privileges = true,
            ("no-new-privileges", "false") => no_new_privileges = false,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "--security-opt {option}: expected seccomp=unconfined|PROFILE or \
                     no-new-privileges[=true|false]"
                )))
            }
        }
    }
    let names: oci_spec::runtime::Capabilities = kept
        .iter()
        .map(|cap| serde_json::from_value(serde_json::Value::String(cap.to_string())))
        .collect::<Result<_, _>>()
        .map_err(ApiError::internal)?;
    let capabilities = oci_spec::runtime::LinuxCapabilitiesBuilder::default()
        .bounding(names.clone())
        .effective(names.clone())
        .permitted(names)
        .inheritable(oci_spec::runtime::Capabilities::new())
        .ambient(oci_spec::runtime::Capabilities::new())
        .build()
        .map_err(ApiError::internal)?;
    Ok(SpecSecurity {
        capabilities,
        no_new_privileges,
        seccomp,
        masked,
        read_only,
    })
}

/// Docker's default mounts (oci-spec's defaults are runc's: /proc, /dev, /dev/pts, /dev/shm,
/// /dev/mqueue, /sys, /sys/fs/cgroup; /dev/shm sized by `--shm-size`), the engine's /etc
/// files, and the `--tmpfs` mounts.
fn mounts(inputs: &Inputs) -> Result<Vec<Mount>, ApiError> {
    let mut mounts = oci_spec::runtime::get_default_mounts();
    super::run_limits::size_shm(&mut mounts, inputs.host)?;
    for file in ["hostname", "hosts", "resolv.conf"] {
        mounts.push(
            MountBuilder::default()
                .destination(format!("/etc/{file}"))
                .typ("bind")
                .source(inputs.bundle.join(file))
                .options(vec!["rbind".to_string(), "rprivate".to_string()])
                .build()
                .map_err(ApiError::internal)?,
        );
    }
    for (dir, options) in inputs.host.tmpfs.iter().flatten() {
        if !dir.starts_with('/') || dir.split('/').any(|c| c == "..") {
            return Err(ApiError::bad_request(format!(
                "--tmpfs {dir}: give an absolute path inside the container, without `..`"
            )));
        }
        mounts.push(
            MountBuilder::default()
                .destination(dir)
                .typ("tmpfs")
                .source("tmpfs")
                .options(
                    ["nosuid", "nodev"]
                        .into_iter()
                        .map(String::from)
                        .chain(
                            options
                                .split(',')
                                .filter(|o| !o.is_empty())
                                .map(String::from),
                        )
                        .collect::<Vec<_>>(),
                )
                .build()
                .map_err(ApiError::internal)?,
        );
    }
    Ok(mounts)
}

/// `-m`, `--cpus` (or `--cpu-quota`/`--cpu-period`), `--cpu-shares`, `--pids-limit`.
pub fn resources(host: &HostConfig) -> Result<oci_spec::runtime::LinuxResources, ApiError> {
    let mut resources = LinuxResourcesBuilder::default();
    if host.memory > 0 {
        if (host.memory as u64) < ch02_cgroups::limits::MIN_MEMORY {
            return Err(ApiError::bad_request("Minimum memory limit allowed is 6MB"));
        }
        // Swap is limited with memory (memory + swap = the limit), as chapter 02 does.
        resources = resources.memory(
            LinuxMemoryBuilder::default()
                .limit(host.memory)
                .swap(host.memory)
                .build()
                .map_err(ApiError::internal)?,
        );
    }
    let mut cpu = LinuxCpuBuilder::default();
    let mut any_cpu = false;
    if host.nano_cpus > 0 {
        let period = ch02_cgroups::limits::CPU_PERIOD_US;
        // Checked: the number comes from the request, and an overflow would panic.
        let quota = host
            .nano_cpus
            .checked_mul(period as i64)
            .map(|q| q / 1_000_000_000)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "HostConfig.NanoCpus: {} is out of range (at most {} CPUs)",
                    host.nano_cpus,
                    i64::MAX / period as i64 / 1_000_000_000
                ))
            })?;
        cpu = cpu.quota(quota).period(period);
        any_cpu = true;
    } else if host.cpu_quota > 0 {
        let period = if host.cpu_period > 0 {
            host.cpu_period as u64
        } else {
            ch02_cgroups::limits::CPU_PERIOD_US
        };
        cpu = cpu.quota(host.cpu_quota).period(period);
        any_cpu = true;
    }
    if host.cpu_shares > 0 {
        cpu = cpu.shares(host.cpu_shares as u64);
        any_cpu = true;
    }
    if any_cpu {
        resources = resources.cpu(cpu.build().map_err(ApiError::internal)?);
    }
    if let Some(limit) = host.pids_limit.filter(|l| *l > 0) {
        resources = resources.pids(
            LinuxPidsBuilder::default()
                .limit(limit)
                .build()
                .map_err(ApiError::internal)?,
        );
    }
    resources.build().map_err(ApiError::internal)
}
