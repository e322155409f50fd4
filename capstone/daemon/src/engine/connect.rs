//! `POST /networks/{id}/connect` and `/disconnect` (`docker network connect/disconnect`).
//!
//! compose 1.29 calls them on every container it creates: it disconnects a container whose
//! aliases on the network lack its short id, and connects it again with its aliases. A
//! created container is on one network or none, as the plan `create` wrote says
//! ([`super::attachments::Plan`]): connecting and disconnecting it rewrite that plan, and its
//! supervisor attaches it when it starts. A running container would need an interface
//! plugged into its namespace by the daemon, and unplugged when it ends by its supervisor:
//! not done yet, refused with 501, as is a second network.

use super::attachments::{Plan, PLAN_FILE};
use super::record::write_json;
use super::{ApiError, ApiResult, Engine, Found};
use serde_json::Value;

/// `EndpointConfig` of a connect body: its aliases, and 400 for what baleia does not do.
fn endpoint_aliases(body: &Value) -> ApiResult<Vec<String>> {
    let endpoint = &body["EndpointConfig"];
    for field in [
        "IPAMConfig",
        "Links",
        "MacAddress",
        "DriverOpts",
        "IPAddress",
    ] {
        let value = &endpoint[field];
        let set = match value {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        };
        if set {
            return Err(ApiError::bad_request(format!(
                "EndpointConfig.{field} is not supported by baleia"
            )));
        }
    }
    Ok(endpoint["Aliases"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default())
}

impl Engine {
    fn container_of(&self, body: &Value) -> ApiResult<Found> {
        let wanted = body["Container"]
            .as_str()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ApiError::bad_request("a Container is required"))?;
        self.find(wanted)
    }

    /// Write a created container's new network choice: its plan and `HostConfig.NetworkMode`.
    fn set_network(&self, found: &Found, plan: &Plan, mode: &str) -> ApiResult<()> {
        write_json(&found.dir.0.join(PLAN_FILE), plan)?;
        let mut record = found.record.clone();
        record.host_config.network_mode = mode.to_string();
        write_json(&found.dir.record(), &record)?;
        Ok(())
    }

    fn refuse_running(found: &Found, what: &str) -> ApiResult<()> {
        if found.running() {
            return Err(ApiError::not_implemented(format!(
                "{what} a running container is not supported by baleia yet (container {}): stop it first",
                found.record.name
            )));
        }
        Ok(())
    }

    /// `POST /networks/{id}/connect`: `{"Container": ..., "EndpointConfig": {"Aliases": [...]}}`.
    pub fn network_connect(&self, network: &str, body: &Value) -> ApiResult<()> {
        let aliases = endpoint_aliases(body)?;
        if matches!(network, "host" | "none") {
            return Err(ApiError::bad_request(format!(
                "container cannot be connected to the {network} network"
            )));
        }
        let config = self.network(network)?;
        let _names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let found = self.container_of(body)?;
        let mut plan = Plan::load(&found.dir.0);
        match plan.network.as_deref() {
            Some(current) if current == config.name => {
                return Err(ApiError::new(
                    403,
                    format!(
                        "endpoint with name {} already exists in network {}",
                        found.record.name, config.name
                    ),
                ))
            }
            Some(current) => {
                return Err(ApiError::not_implemented(format!(
                    "container {} is on network {current}: baleia puts a container on one network at a time (disconnect it first)",
                    found.record.name
                )))
            }
            None => {}
        }
        if found.record.host_config.network_mode == "host" {
            return Err(ApiError::bad_request(
                "container sharing network namespace with host cannot be connected to any other network",
            ));
        }
        Self::refuse_running(&found, "connecting")?;
        if !aliases.is_empty() && config.name == ch07_volumes_network::network::DEFAULT_NETWORK {
            return Err(ApiError::bad_request(
                "network-scoped alias is supported only for containers in user defined networks",
            ));
        }
        plan.network = Some(config.name.clone());
        plan.aliases = aliases;
        self.set_network(&found, &plan, &config.name)?;
        self.network_event("connect", &config.name, found.id());
        Ok(())
    }

    /// `POST /networks/{id}/disconnect`: `{"Container": ..., "Force": false}`.
    pub fn network_disconnect(&self, network: &str, body: &Value) -> ApiResult<()> {
        let config = self.network(network)?;
        let _names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let found = self.container_of(body)?;
        let mut plan = Plan::load(&found.dir.0);
        if plan.network.as_deref() != Some(config.name.as_str()) {
            return Err(ApiError::new(
                403,
                format!(
                    "container {} is not connected to network {}",
                    found.id(),
                    config.name
                ),
            ));
        }
        Self::refuse_running(&found, "disconnecting")?;
        // The published ports stay in the plan: they come back with the next connect.
        plan.network = None;
        plan.aliases.clear();
        self.set_network(&found, &plan, "none")?;
        self.network_event("disconnect", &config.name, found.id());
        Ok(())
    }
}
