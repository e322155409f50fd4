//! `--ulimit`, `--shm-size` and `--sysctl`: what Docker sets on a container beside its cgroup
//! limits.
//!
//! - `HostConfig.Ulimits` become the spec's `process.rlimits`, which the runtime sets with
//!   setrlimit(2) before the program runs. A hard limit can only be raised by a process with
//!   CAP_SYS_RESOURCE: without it, a container can never get a hard limit above the daemon's
//!   own (the runtime inherits the daemon's limits). That is checked here, at create, with the
//!   runtime's own check, so `create` answers 400 naming the limit instead of a start that
//!   fails later.
//! - `HostConfig.ShmSize` is the `size=` of the /dev/shm tmpfs (tmpfs(5)); 0 keeps Docker's
//!   64 MiB.
//! - `HostConfig.Sysctls` become the spec's `linux.sysctl`, namespaced parameters only (the
//!   runtime's [`crate::runtime::sysctl`] says which, and writes them): anything else is a 400
//!   naming the key, as is a `net.*` key for a container on the host's network.

use super::record::HostConfig;
use super::ApiError;
use oci_spec::runtime::{Mount, PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

/// The names Docker's `--ulimit` takes (setrlimit(2)'s `RLIMIT_*`, lower case, without the
/// prefix).
const NAMES: [&str; 15] = [
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// A limit from the API (`-1`: unlimited, RLIM_INFINITY) as setrlimit(2) takes it.
fn limit_value(name: &str, which: &str, value: i64) -> Result<u64, ApiError> {
    match value {
        -1 => Ok(libc::RLIM_INFINITY),
        value => u64::try_from(value).map_err(|_| {
            ApiError::bad_request(format!(
                "HostConfig.Ulimits {name}: {which} limit {value} is negative (-1 is unlimited)"
            ))
        }),
    }
}

/// `HostConfig.Ulimits` as the spec's `process.rlimits`, checked as the runtime will check
/// them (soft at most hard; hard at most the daemon's own unless it has CAP_SYS_RESOURCE).
pub fn rlimits(host: &HostConfig) -> Result<Vec<PosixRlimit>, ApiError> {
    let mut rlimits = Vec::new();
    let mut seen = Vec::new();
    for ulimit in host.ulimits.iter().flatten() {
        let name = ulimit.name.as_str();
        if !NAMES.contains(&name) {
            return Err(ApiError::bad_request(format!(
                "HostConfig.Ulimits: unknown limit {name:?} (one of {})",
                NAMES.join(", ")
            )));
        }
        if seen.contains(&name) {
            return Err(ApiError::bad_request(format!(
                "HostConfig.Ulimits: {name} is given twice"
            )));
        }
        seen.push(name);
        rlimits.push(
            PosixRlimitBuilder::default()
                .typ(rlimit_type(name)?)
                .soft(limit_value(name, "soft", ulimit.soft)?)
                .hard(limit_value(name, "hard", ulimit.hard)?)
                .build()
                .map_err(ApiError::internal)?,
        );
    }
    // The runtime's check, run here in the daemon whose limits the runtime inherits.
    let mut process = oci_spec::runtime::Process::default();
    process.set_rlimits(Some(rlimits.clone()));
    crate::runtime::security::rlimits_of(&process).map_err(|e| {
        ApiError::bad_request(format!("HostConfig.Ulimits: {e:#} (the daemon's limits)"))
    })?;
    Ok(rlimits)
}

fn rlimit_type(name: &str) -> Result<PosixRlimitType, ApiError> {
    let word = format!("RLIMIT_{}", name.to_ascii_uppercase());
    serde_json::from_value(serde_json::Value::String(word)).map_err(ApiError::internal)
}

/// Give the /dev/shm tmpfs among `mounts` the size `HostConfig.ShmSize` asks for.
pub fn size_shm(mounts: &mut [Mount], host: &HostConfig) -> Result<(), ApiError> {
    if host.shm_size < 0 {
        return Err(ApiError::bad_request(format!(
            "HostConfig.ShmSize: {} is negative (give bytes, or 0 for 64 MiB)",
            host.shm_size
        )));
    }
    if host.shm_size == 0 {
        return Ok(());
    }
    let size = format!("size={}", host.shm_size);
    for mount in mounts
        .iter_mut()
        .filter(|m| m.destination().as_os_str() == "/dev/shm")
    {
        let mut options: Vec<String> = mount.options().clone().unwrap_or_default();
        options.retain(|o| !o.starts_with("size="));
        options.push(size.clone());
        mount.set_options(Some(options));
    }
    Ok(())
}

/// `HostConfig.Sysctls`, checked as the runtime will (`own_net`: the container gets its own
/// network namespace; it always gets its own IPC namespace).
pub fn sysctls(
    host: &HostConfig,
    own_net: bool,
) -> Result<Option<std::collections::HashMap<String, String>>, ApiError> {
    let Some(wanted) = host.sysctls.as_ref().filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    for key in wanted.keys() {
        crate::runtime::sysctl::check(key, own_net, true)
            .map_err(|e| ApiError::bad_request(format!("HostConfig.Sysctls: {e}")))?;
    }
    Ok(Some(wanted.clone().into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::super::record::Ulimit;
    use super::*;

    fn ulimit(name: &str, soft: i64, hard: i64) -> Ulimit {
        Ulimit {
            name: name.into(),
            soft,
            hard,
        }
    }

    #[test]
    fn ulimits_become_rlimits_and_bad_ones_are_named() {
        let host = HostConfig {
            ulimits: Some(vec![ulimit("nofile", 100, 200), ulimit("core", 0, 0)]),
            ..Default::default()
        };
        let made = rlimits(&host).unwrap();
        assert_eq!(made[0].typ(), PosixRlimitType::RlimitNofile);
        assert_eq!((made[0].soft(), made[0].hard()), (100, 200));
        for (bad, words) in [
            (ulimit("files", 1, 1), "unknown limit \"files\""),
            (
                ulimit("nofile", 300, 200),
                "soft limit 300 is above the hard limit 200",
            ),
            (ulimit("nofile", -5, 10), "soft limit -5 is negative"),
        ] {
            let host = HostConfig {
                ulimits: Some(vec![bad]),
                ..Default::default()
            };
            let error = rlimits(&host).unwrap_err();
            assert_eq!(error.status, 400);
            assert!(error.message.contains(words), "{}", error.message);
        }
    }

    #[test]
    fn shm_size_replaces_the_default_size() {
        let mut mounts = oci_spec::runtime::get_default_mounts();
        let host = HostConfig {
            shm_size: 8 << 20,
            ..Default::default()
        };
        size_shm(&mut mounts, &host).unwrap();
        let shm = mounts
            .iter()
            .find(|m| m.destination().as_os_str() == "/dev/shm")
            .unwrap();
        let sizes: Vec<&String> = shm
            .options()
            .iter()
            .flatten()
            .filter(|o| o.starts_with("size="))
            .collect();
        assert_eq!(sizes, ["size=8388608"]);
        let host = HostConfig {
            shm_size: -1,
            ..Default::default()
        };
        assert!(size_shm(&mut mounts, &host).is_err());
    }

    #[test]
    fn sysctls_are_namespaced_ones_and_named_when_not() {
        let host = HostConfig {
            sysctls: Some([("net.ipv4.ip_forward".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        let set = sysctls(&host, true).unwrap().unwrap();
        assert_eq!(set["net.ipv4.ip_forward"], "1");
        let error = sysctls(&host, false).unwrap_err();
        assert!(
            error.message.contains("net.ipv4.ip_forward"),
            "{}",
            error.message
        );
        let host = HostConfig {
            sysctls: Some([("vm.swappiness".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        let error = sysctls(&host, true).unwrap_err();
        assert_eq!(error.status, 400);
        assert!(
            error
                .message
                .contains("\"vm.swappiness\" is not namespaced"),
            "{}",
            error.message
        );
    }
}
