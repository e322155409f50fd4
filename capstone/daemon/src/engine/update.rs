//! `POST /containers/{id}/update` (`docker update`): new resource limits and restart policy
//! for a container, created or running.
//!
//! The new limits go three places: the running container's cgroup (the runtime's
//! [`resources::apply`](crate::runtime::resources::apply), as `baleia runtime update` writes
//! them: chapter 02's files, in the order lowering and raising each need), the spec's
//! `linux.resources` (what the next start makes), and the record's `HostConfig` (what
//! inspect shows, and what the restart policy is read from). The spec is made by the same
//! [`spec::resources`](super::spec) as at create, so a limit means the same thing either way.
//!
//! Only the fields below are taken; any other one that is set answers 400 naming it, never
//! ignored (the docker CLI sends every field of its update body, the unused ones as zero).

use super::record::{write_json, HostConfig, RestartPolicy};
use super::unsupported::is_set;
use super::{ApiError, ApiResult, Engine};
use serde::Deserialize;
use serde_json::Value;

/// The fields `update` takes (`Resources` and `RestartPolicy` in Docker's API).
const UPDATABLE: [&str; 8] = [
    "Memory",
    "MemorySwap",
    "NanoCpus",
    "CpuShares",
    "CpuQuota",
    "CpuPeriod",
    "PidsLimit",
    "RestartPolicy",
];

/// The update body, the fields [`UPDATABLE`] lists: 0 (or absent) leaves a limit as it is.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    memory: i64,
    memory_swap: i64,
    nano_cpus: i64,
    cpu_shares: i64,
    cpu_quota: i64,
    cpu_period: i64,
    pids_limit: Option<i64>,
    restart_policy: Option<RestartPolicy>,
}

/// Refuse a body that sets a field `update` does not take, naming every such field.
fn check_fields(body: &Value) -> ApiResult<()> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request(
            "the update body must be a JSON object",
        ));
    };
    let refused: Vec<&str> = fields
        .iter()
        .filter(|(name, value)| !UPDATABLE.contains(&name.as_str()) && is_set(value))
        .map(|(name, _)| name.as_str())
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::bad_request(format!(
            "update: {} cannot be updated by baleia (it takes {})",
            refused.join(", "),
            UPDATABLE.join(", ")
        )));
    }
    Ok(())
}

/// `host` with the body's changes, checked as create checks them.
fn updated(host: &HostConfig, body: &Value) -> ApiResult<HostConfig> {
    let wanted: UpdateBody = serde_json::from_value(body.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid update body: {e}")))?;
    let mut host = host.clone();
    if wanted.memory != 0 {
        host.memory = wanted.memory;
    }
    // As at create: no swap beyond the memory limit (-1 or the limit itself).
    if wanted.memory_swap != 0 && wanted.memory_swap != -1 && wanted.memory_swap != host.memory {
        return Err(ApiError::bad_request(
            "MemorySwap other than -1 or the memory limit is not supported by baleia (swap is \
             limited with memory)",
        ));
    }
    if wanted.nano_cpus != 0 && wanted.cpu_quota != 0 {
        return Err(ApiError::bad_request(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set",
        ));
    }
    if wanted.nano_cpus != 0 {
        host.nano_cpus = wanted.nano_cpus;
        host.cpu_quota = 0;
    }
    if wanted.cpu_quota != 0 {
        host.cpu_quota = wanted.cpu_quota;
        host.nano_cpus = 0;
    }
    if wanted.cpu_period != 0 {
        host.cpu_period = wanted.cpu_period;
    }
    if wanted.cpu_shares != 0 {
        host.cpu_shares = wanted.cpu_shares;
    }
    if let Some(limit) = wanted.pids_limit.filter(|l| *l != 0) {
        host.pids_limit = Some(limit);
    }
    if let Some(policy) = wanted.restart_policy.filter(|p| !p.name.is_empty()) {
        host.restart_policy = policy;
    }
    super::spec::check_supported(&host)?;
    Ok(host)
}

impl Engine {
    /// Apply an update body to container `wanted` (see the module's notes).
    pub fn update(&self, wanted: &str, body: &Value) -> ApiResult<()> {
        check_fields(body)?;
        let found = self.find(wanted)?;
        let host = updated(&found.record.host_config, body)?;
        let resources = super::spec::resources(&host)?;
        let spec_path = found.dir.spec();
        let mut spec: oci_spec::runtime::Spec =
            super::record::read_json(&spec_path).map_err(ApiError::internal)?;
        let linux = spec
            .linux_mut()
            .as_mut()
            .ok_or_else(|| ApiError::internal("the container's spec has no linux section"))?;
        // The device rules stay as create made them.
        let mut resources = resources;
        resources.set_devices(linux.resources().as_ref().and_then(|r| r.devices().clone()));
        if found.running() {
            let (parent, name) =
                crate::runtime::cgroup_path(&spec, None).map_err(ApiError::internal)?;
            let target =
                crate::runtime::resources::Target::new(&std::path::Path::new(&parent).join(name))
                    .map_err(ApiError::internal)?;
            crate::runtime::resources::apply(
                &target,
                &resources,
                crate::runtime::resources::Phase::Update,
            )
            .map_err(|e| ApiError::bad_request(format!("update: {e:#}")))?;
        }
        if let Some(linux) = spec.linux_mut().as_mut() {
            linux.set_resources(Some(resources));
        }
        write_json(&spec_path, &spec)?;
        let mut record = found.record.clone();
        record.host_config = host;
        write_json(&found.dir.record(), &record)?;
        self.container_event("update", &record, serde_json::json!({}));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_zero_ones_pass() {
        check_fields(&json!({ "Memory": 1 << 26, "BlkioWeight": 0, "CpusetCpus": "" })).unwrap();
        let error = check_fields(&json!({ "BlkioWeight": 300, "CpusetCpus": "0" })).unwrap_err();
        assert_eq!(error.status, 400);
        assert!(
            error.message.contains("BlkioWeight, CpusetCpus"),
            "{}",
            error.message
        );
    }

    #[test]
    fn changes_are_merged_and_checked() {
        let host = HostConfig {
            memory: 64 << 20,
            cpu_shares: 512,
            ..Default::default()
        };
        let new = updated(
            &host,
            &json!({ "Memory": 128 << 20, "MemorySwap": -1, "PidsLimit": 10,
                     "RestartPolicy": { "Name": "on-failure", "MaximumRetryCount": 3 } }),
        )
        .unwrap();
        assert_eq!(new.memory, 128 << 20);
        assert_eq!(new.cpu_shares, 512, "what is not given stays");
        assert_eq!(new.pids_limit, Some(10));
        assert_eq!(new.restart_policy.maximum_retry_count, 3);
        assert!(updated(&host, &json!({ "MemorySwap": 1 << 30 })).is_err());
        assert!(updated(&host, &json!({ "NanoCpus": 1, "CpuQuota": 1000 })).is_err());
        assert!(updated(&host, &json!({ "RestartPolicy": { "Name": "sometimes" } })).is_err());
    }
}
