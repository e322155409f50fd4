//! `linux.sysctl`: kernel parameters set for the container alone.
//!
//! Only the parameters a namespace keeps its own copy of can be set: writing any other file
//! under /proc/sys would change the host for everybody. The namespaced ones (the kernel's
//! per-namespace sysctl tables; Docker and runc allow the same list):
//! - `net.*`, kept per network namespace (so refused without one: it would be the host's);
//! - `kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`, `kernel.sem`, `kernel.shmall`,
//!   `kernel.shmmax`, `kernel.shmmni`, `kernel.shm_rmid_forced` and `fs.mqueue.*`, kept per
//!   IPC namespace (sysvipc(7), mq_overview(7)).
//!
//! They are written by a child-side step, once the process is in its new namespaces and
//! before it pivots into its root: the /proc/sys files it opens then belong to the namespaces
//! of the process that opens them (proc_sys(5)), not to whoever mounted /proc.

use anyhow::{bail, Result};
use std::collections::HashMap;
use std::path::PathBuf;

/// The IPC namespace's parameters (sysvipc(7)); `fs.mqueue.*` are its too.
const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace that keeps `key`'s value, or why it cannot be set in a container.
fn namespace_of(key: &str) -> Result<&'static str> {
    if key.starts_with("net.") {
        Ok("network")
    } else if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Ok("IPC")
    } else {
        bail!(
            "sysctl {key:?} is not namespaced: setting it would change the host (allowed: \
             net.*, fs.mqueue.*, {})",
            IPC_KEYS.join(", ")
        )
    }
}

/// Check `key` can be set in a container with its own network namespace (`own_net`) and IPC
/// namespace (`own_ipc`); answer its file under /proc/sys.
pub fn check(key: &str, own_net: bool, own_ipc: bool) -> Result<PathBuf> {
    let namespace = namespace_of(key)?;
    let own = match namespace {
        "network" => own_net,
        _ => own_ipc,
    };
    if !own {
        bail!(
            "sysctl {key:?} needs the container's own {namespace} namespace (it shares the host's)"
        );
    }
    let parts: Vec<&str> = key.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == ".." || p.contains('/'))
    {
        bail!("sysctl {key:?}: not a parameter name");
    }
    Ok(PathBuf::from("/proc/sys").join(parts.join("/")))
}

/// The spec's `linux.sysctl`, checked, as (file, value) pairs.
pub fn sysctls_of(
    sysctl: &HashMap<String, String>,
    own_net: bool,
    own_ipc: bool,
) -> Result<Vec<(PathBuf, String)>> {
    let mut files = Vec::new();
    for (key, value) in sysctl {
        let file =
            check(key, own_net, own_ipc).map_err(|e| anyhow::anyhow!("linux.sysctl: {e}"))?;
        files.push((file, value.clone()));
    }
    files.sort();
    Ok(files)
}

/// Write the values (a child-side step, in the container's namespaces).
pub fn apply(files: &[(PathBuf, String)]) -> Result<()> {
    for (file, value) in files {
        ch01_namespaces::explain!("write {value:?} to {}", file.display());
        if let Err(e) = std::fs::write(file, value) {
            bail!("write {value:?} to {}: {e}", file.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_keys_only_and_in_their_own_namespace() {
        assert_eq!(
            check("net.ipv4.ip_forward", true, true).unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert!(check("kernel.shmmax", false, true).is_ok());
        assert!(check("fs.mqueue.msg_max", false, true).is_ok());
        let error = check("kernel.hostname_x", true, true)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not namespaced"), "{error}");
        assert!(check("vm.swappiness", true, true).is_err());
        let error = check("net.ipv4.ip_forward", false, true)
            .unwrap_err()
            .to_string();
        assert!(error.contains("own network namespace"), "{error}");
        assert!(check("net..ipv4", true, true).is_err());
        assert!(check("net.ipv4/../../x", true, true).is_err());
    }
}
