//! The Engine API's bodies: what the client sends and the daemon answers, as Docker's own
//! swagger file defines them. The types are `bollard-stubs`' (generated from that file, see
//! docs/decisions.md), so a field has the name, the type and the nesting dockerd gives it, and
//! the client and the daemon cannot disagree about either.
//!
//! Generated types read leniently: a key they have no field for is dropped without a word.
//! A request that sets something baleia has never heard of must not get a 201 as if it had
//! been honoured, so the daemon reads request bodies with [`parse_strict`], which names the
//! first such key.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

pub use bollard_stubs::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerPruneResponse, DeviceMapping,
    EndpointSettings, ErrorResponse, ExecConfig, ExecStartConfig, HostConfig, HostConfigLogConfig,
    IdResponse, ImageDeleteResponseItem, ImagePruneResponse, LocalNodeState, Mount,
    MountTmpfsOptions, MountType, NetworkConnectRequest, NetworkCreateRequest,
    NetworkCreateResponse, NetworkDisconnectRequest, NetworkPruneResponse, NetworkingConfig,
    PluginsInfo, PortBinding, PortMap, RestartPolicy, RestartPolicyNameEnum, Runtime, SwarmInfo,
    SystemInfo, SystemInfoCgroupDriverEnum, SystemInfoCgroupVersionEnum, SystemInfoIsolationEnum,
    SystemVersion, SystemVersionComponents, SystemVersionPlatform, Volume, VolumeCreateRequest,
    VolumeListResponse, VolumePruneResponse, VolumeScopeEnum, VolumeUsageData,
};

/// `{"Id": ...}`, what `commit` and `exec` create answer. bollard's `IdResponse` reads that
/// but writes `{"id": ...}` (its generator lowercases the key), which docker's CLI does not
/// read; so this one is ours.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Id {
    #[serde(rename = "Id")]
    pub id: String,
}

/// `POST /containers/{id}/wait`'s answer. bollard's `ContainerWaitResponse` leaves `Error`
/// out when there is none; dockerd writes `"Error": null`, and clients of older APIs look for
/// the key.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Wait {
    #[serde(rename = "StatusCode")]
    pub status_code: i64,
    #[serde(rename = "Error")]
    pub error: Option<bollard_stubs::models::ContainerWaitExitError>,
}

/// Read a request body as `T`, refusing any key `T` has no field for: `Err` names it (as a
/// path, `HostConfig.Foo` or `Mounts[0].Bar`). `legacy` lists paths older versions of the
/// API had and the swagger no longer lists; they pass (their values are checked elsewhere).
///
/// How: `T` drops what it does not know, so a key that is in the body but not in `T` written
/// back out is a key `T` does not know. Keys whose value is `null` say nothing and pass.
pub fn parse_strict<T: DeserializeOwned + Serialize>(
    raw: &Value,
    legacy: &[&str],
) -> Result<T, String> {
    let typed: T =
        serde_json::from_value(raw.clone()).map_err(|e| format!("invalid JSON body: {e}"))?;
    let known = serde_json::to_value(&typed).map_err(|e| format!("invalid JSON body: {e}"))?;
    match unknown_field(raw, &known, "", legacy) {
        Some(field) => Err(format!(
            "unknown field {field}: not in Docker's Engine API, so baleia cannot honour it"
        )),
        None => Ok(typed),
    }
}

/// The first key (as a path below `at`) set in `raw` that `known` lacks.
fn unknown_field(raw: &Value, known: &Value, at: &str, legacy: &[&str]) -> Option<String> {
    match (raw, known) {
        (Value::Object(raw), Value::Object(known)) => raw.iter().find_map(|(key, value)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            match known.get(key) {
                _ if value.is_null() || legacy.contains(&path.as_str()) => None,
                None => Some(path),
                Some(inner) => unknown_field(value, inner, &path, legacy),
            }
        }),
        (Value::Array(raw), Value::Array(known)) => {
            raw.iter()
                .zip(known)
                .enumerate()
                .find_map(|(i, (value, inner))| {
                    unknown_field(value, inner, &format!("{at}[{i}]"), legacy)
                })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_keys_are_named_known_ones_and_nulls_pass() {
        let body = json!({
            "Image": "busybox",
            "Labels": { "any.key": "is data, not a field" },
            "ExposedPorts": { "80/tcp": {} },
            "Healthcheck": null,
            "HostConfig": { "Memory": 0, "Mounts": [{ "Type": "bind", "Target": "/x" }] },
        });
        parse_strict::<ContainerCreateBody>(&body, &[]).unwrap();

        let body = json!({ "Image": "busybox", "Colour": "blue" });
        let error = parse_strict::<ContainerCreateBody>(&body, &[]).unwrap_err();
        assert!(error.contains("unknown field Colour"), "{error}");

        let body = json!({ "HostConfig": { "Mounts": [{ "Target": "/x", "Shiny": true }] } });
        let error = parse_strict::<ContainerCreateBody>(&body, &[]).unwrap_err();
        assert!(error.contains("HostConfig.Mounts[0].Shiny"), "{error}");

        let body = json!({ "MacAddress": "" });
        parse_strict::<ContainerCreateBody>(&body, &["MacAddress"]).unwrap();
    }

    #[test]
    fn a_wrong_type_is_serdes_words() {
        let body = json!({ "Image": 7 });
        let error = parse_strict::<ContainerCreateBody>(&body, &[]).unwrap_err();
        assert!(
            error.starts_with("invalid JSON body: invalid type"),
            "{error}"
        );
    }
}
