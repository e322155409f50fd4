//! Fields of `POST /containers/create` that baleia does not implement: refused with 400
//! naming the field, never dropped. A client that set `Healthcheck` or `OomScoreAdj` and got a
//! 201 would believe its container had them.
//!
//! The check reads the raw JSON body, before it becomes Docker's typed request
//! ([`baleia_wire::api::ContainerCreateBody`]): a field counts as set when it is not `null`
//! and not its zero value (`""`, `0`, `false`, `[]`, `{}`): clients send zero values for
//! everything they leave alone. A key Docker's API does not have at all is refused whatever
//! its value ([`baleia_wire::api::parse_strict`]).

use super::containers::CreateRequest;
use super::record::{Config, HostConfig};
use super::{ApiError, ApiResult};
use baleia_wire::api;
use serde_json::Value;

/// `Config` fields refused when set. `ArgsEscaped` is Windows' (the CLI sets it only there).
const CONFIG: &[&str] = &[
    "ArgsEscaped",
    "Healthcheck",
    "MacAddress",
    "NetworkDisabled",
    "OnBuild",
    "Shell",
];

/// `HostConfig` fields refused when set.
const HOST_CONFIG: &[&str] = &[
    "Annotations",
    "BlkioDeviceReadBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceWriteIOps",
    "BlkioWeight",
    "BlkioWeightDevice",
    "Capabilities",
    "Cgroup",
    "CgroupParent",
    "CgroupnsMode",
    "ContainerIDFile",
    "CpuCount",
    "CpuPercent",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "DnsOptions",
    "DnsSearch",
    "IOMaximumBandwidth",
    "IOMaximumIOps",
    "Init",
    "IpcMode",
    "Isolation",
    "KernelMemory",
    "KernelMemoryTCP",
    "Links",
    "MaskedPaths",
    "MemoryReservation",
    "MemorySwappiness",
    "OomKillDisable",
    "OomScoreAdj",
    "PidMode",
    "ReadonlyPaths",
    "Runtime",
    "StorageOpt",
    "UsernsMode",
    "UTSMode",
    "VolumeDriver",
    "VolumesFrom",
];

/// Keys older versions of Docker's API had, which its swagger (and so the typed request) no
/// longer lists: old clients still send them, empty. Set, [`check_create`] refuses them.
const LEGACY: &[&str] = &[
    "MacAddress",
    "HostConfig.KernelMemory",
    "HostConfig.KernelMemoryTCP",
    "HostConfig.Capabilities",
];

/// `POST /containers/create`'s body → the engine's request: fields baleia does not do are
/// refused by name ([`check_create`]), keys the API does not have too, then Docker's typed
/// request becomes the record's `Config` and `HostConfig`.
pub fn read_create(raw: &Value) -> ApiResult<CreateRequest> {
    check_create(raw)?;
    let body: api::ContainerCreateBody =
        api::parse_strict(raw, LEGACY).map_err(ApiError::bad_request)?;
    Ok(CreateRequest {
        config: Config::from_api(&body),
        host_config: HostConfig::from_api(&body.host_config.unwrap_or_default())
            .map_err(ApiError::bad_request)?,
        aliases: aliases(raw)?,
    })
}

/// Is `value` something a client set (not null, not a zero value)?
pub fn is_set(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn refuse(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("{field} is not supported by baleia{why}"))
}

/// Refuse a create body that sets a field baleia would otherwise ignore.
pub fn check_create(body: &Value) -> ApiResult<()> {
    for field in CONFIG {
        if is_set(&body[field]) {
            return Err(refuse(field, ""));
        }
    }
    let host = &body["HostConfig"];
    for field in HOST_CONFIG {
        // The docker CLI sends `MemorySwappiness: -1` for "the default".
        if *field == "MemorySwappiness" && host[field].as_i64() == Some(-1) {
            continue;
        }
        if is_set(&host[field]) {
            return Err(refuse(&format!("HostConfig.{field}"), ""));
        }
    }
    // The memory swap limit: -1 (unlimited) or the memory limit itself is what Docker does
    // without swap accounting; anything else needs a swap limit baleia does not set.
    if let Some(swap) = host["MemorySwap"].as_i64() {
        if swap != 0 && swap != -1 && Some(swap) != host["Memory"].as_i64() {
            return Err(refuse("HostConfig.MemorySwap", ""));
        }
    }
    if is_set(&host["LogConfig"]["Config"]) {
        return Err(refuse(
            "HostConfig.LogConfig.Config",
            " (log options: the json-file log is not rotated)",
        ));
    }
    if let Some(kind) = host["LogConfig"]["Type"].as_str() {
        if !matches!(kind, "" | "json-file") {
            return Err(refuse(
                &format!("HostConfig.LogConfig.Type {kind:?}"),
                " (json-file only)",
            ));
        }
    }
    if host["GroupAdd"].as_array().is_some_and(|g| {
        g.iter()
            .any(|g| g.as_str().is_none_or(|g| g.parse::<u32>().is_err()))
    }) {
        return Err(refuse(
            "HostConfig.GroupAdd with a group name",
            " (give numeric group ids)",
        ));
    }
    check_networking(body)
}

/// `NetworkingConfig.EndpointsConfig`: one network, the one `HostConfig.NetworkMode` names,
/// with aliases only.
fn check_networking(body: &Value) -> ApiResult<()> {
    let Some(endpoints) = body["NetworkingConfig"]["EndpointsConfig"].as_object() else {
        return Ok(());
    };
    if endpoints.len() > 1 {
        return Err(refuse(
            "NetworkingConfig.EndpointsConfig with more than one network",
            " (connect the others after create)",
        ));
    }
    for (network, endpoint) in endpoints {
        for field in [
            "IPAMConfig",
            "Links",
            "MacAddress",
            "DriverOpts",
            "IPAddress",
        ] {
            if is_set(&endpoint[field]) {
                return Err(refuse(
                    &format!("NetworkingConfig.EndpointsConfig.{network}.{field}"),
                    "",
                ));
            }
        }
    }
    Ok(())
}

/// The aliases `NetworkingConfig` asks for on the container's network (`mode`: the
/// network's name as `HostConfig.NetworkMode` gave it, or its id).
pub fn aliases(body: &Value) -> ApiResult<Vec<String>> {
    let Some(endpoints) = body["NetworkingConfig"]["EndpointsConfig"].as_object() else {
        return Ok(Vec::new());
    };
    let mode = body["HostConfig"]["NetworkMode"]
        .as_str()
        .unwrap_or_default();
    let mut aliases = Vec::new();
    for (network, endpoint) in endpoints {
        let wanted: Vec<String> = endpoint["Aliases"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if !wanted.is_empty() && network != mode {
            return Err(ApiError::bad_request(format!(
                "NetworkingConfig.EndpointsConfig.{network}: aliases on a network other than HostConfig.NetworkMode ({mode:?}) are not supported"
            )));
        }
        aliases.extend(wanted);
    }
    Ok(aliases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_values_pass_set_fields_are_named() {
        let body = json!({
            "Image": "busybox",
            "Healthcheck": null,
            "HostConfig": { "ShmSize": 0, "Ulimits": [], "Init": false, "LogConfig": { "Type": "", "Config": {} } },
        });
        check_create(&body).unwrap();
        let body = json!({ "HostConfig": { "OomScoreAdj": 500 } });
        let error = check_create(&body).unwrap_err();
        assert_eq!(error.status, 400);
        assert!(
            error.message.contains("HostConfig.OomScoreAdj"),
            "{}",
            error.message
        );
        let body = json!({ "Healthcheck": { "Test": ["CMD", "true"] } });
        assert!(check_create(&body)
            .unwrap_err()
            .message
            .contains("Healthcheck"));
        let body = json!({ "HostConfig": { "GroupAdd": ["10", "20"] } });
        check_create(&body).unwrap();
        let body = json!({ "HostConfig": { "GroupAdd": ["wheel"] } });
        assert!(check_create(&body).is_err());
    }

    #[test]
    fn aliases_on_the_container_network() {
        let body = json!({
            "HostConfig": { "NetworkMode": "proj_default" },
            "NetworkingConfig": { "EndpointsConfig": { "proj_default": { "Aliases": ["web"] } } },
        });
        check_create(&body).unwrap();
        assert_eq!(aliases(&body).unwrap(), vec!["web".to_string()]);
        let body = json!({
            "NetworkingConfig": { "EndpointsConfig": { "n": { "IPAMConfig": { "IPv4Address": "10.0.0.9" } } } },
        });
        assert!(check_create(&body)
            .unwrap_err()
            .message
            .contains("IPAMConfig"));
    }
}
