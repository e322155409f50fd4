//! Networks through the API: chapter 07's bridges, in Docker's JSON shapes
//! (`docker network create/ls/inspect/rm`). Containers join them with `run --network`
//! (see [`super::attachments`] and [`crate::wiring`]).

use super::filters::Filters;
use super::meta::{self, Meta};
use super::{ApiError, ApiResult, Engine};
use ch07_volumes_network::network::{self, NetworkConfig};
use serde_json::{json, Value};

/// Docker's network ids are 64 hex digits; chapter 07 names networks only, so the id is
/// derived from the name (stable across daemon restarts).
pub fn network_id(name: &str) -> String {
    let digest = ch04_images::digest::sha256(format!("baleia network {name}").as_bytes());
    digest.digest().to_string()
}

fn network_json(engine: &Engine, config: &NetworkConfig) -> Value {
    let containers: serde_json::Map<String, Value> = network::leases(&engine.root, &config.name)
        .unwrap_or_default()
        .into_iter()
        .map(|lease| {
            // The MAC address, as the container's supervisor found it (see wiring.rs).
            let endpoint = engine
                .dir_of(&lease.container_id)
                .0
                .join(super::attachments::ENDPOINT_FILE);
            let mac = super::record::read_json::<super::attachments::Endpoint>(&endpoint)
                .map(|e| e.mac)
                .unwrap_or_default();
            let value = json!({
                // The lease's name is "name alias..." (see wiring.rs): the name comes first.
                "Name": lease.name.as_deref().unwrap_or_default().split(' ').next().unwrap_or_default(),
                "EndpointID": lease.container_id,
                "MacAddress": mac,
                "IPv4Address": format!("{}/{}", lease.address, prefix_of(&config.subnet)),
                "IPv6Address": "",
            });
            (lease.container_id, value)
        })
        .collect();
    let mut meta = meta::read(&engine.root, "networks", &config.name);
    if config.name == network::DEFAULT_NETWORK {
        // The default network's options, as dockerd shows its docker0's.
        meta.options.insert(
            "com.docker.network.bridge.name".into(),
            config.bridge.clone(),
        );
        // false when iptables was missing: no egress NAT, no isolation.
        meta.options.insert(
            "com.docker.network.bridge.enable_ip_masquerade".into(),
            config.nat.to_string(),
        );
    }
    json!({
        "Name": config.name,
        "Id": network_id(&config.name),
        "Created": crate::time::rfc3339_nanos(meta.created * 1_000_000_000),
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [{ "Subnet": config.subnet, "Gateway": config.gateway.to_string() }],
        },
        "Containers": containers,
        // Only what the user set, as Docker: compose compares these with its file and
        // recreates the network on any difference. (The bridge's name is in `docker network
        // inspect` of the default network through `--bridge`; chapter 07 has it in its record.)
        "Options": meta.options,
        "Labels": meta.labels,
    })
}

/// Docker's two networks that are modes, not bridges: `host` (the host's namespace) and
/// `none` (a loopback only). They are listed and inspected, never created or removed.
const PREDEFINED: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

fn predefined_json(name: &str, driver: &str) -> Value {
    json!({
        "Name": name,
        "Id": network_id(name),
        "Scope": "local",
        "Driver": driver,
        "EnableIPv6": false,
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "IPAM": { "Driver": "default", "Options": null, "Config": [] },
        "Containers": {},
        "Options": {},
        "Labels": {},
    })
}

fn predefined(wanted: &str) -> Option<(&'static str, &'static str)> {
    PREDEFINED.into_iter().find(|(name, _)| {
        *name == wanted || (wanted.len() >= 3 && network_id(name).starts_with(wanted))
    })
}

fn prefix_of(subnet: &str) -> &str {
    subnet.split_once('/').map_or("32", |(_, p)| p)
}

impl Engine {
    /// A network by name, or by id or unique id prefix.
    pub fn network(&self, wanted: &str) -> ApiResult<NetworkConfig> {
        if let Ok(config) = network::get(&self.root, wanted) {
            return Ok(config);
        }
        let matches: Vec<NetworkConfig> = network::list(&self.root)?
            .into_iter()
            .filter(|c| !wanted.is_empty() && network_id(&c.name).starts_with(wanted))
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one match")),
            0 => Err(ApiError::not_found(format!("network {wanted} not found"))),
            _ => Err(ApiError::bad_request(format!(
                "network id prefix {wanted} is ambiguous"
            ))),
        }
    }

    /// On daemon start: forget the leases (and veths) of containers whose supervisor was
    /// killed before it could detach them, on every network (chapter 07's stale leases).
    pub fn reclaim_networks(&self) {
        for config in network::list(&self.root).unwrap_or_default() {
            match network::reclaim(&self.root, &config.name) {
                Ok(0) => {}
                Ok(n) => eprintln!(
                    "baleia daemon: reclaimed {n} stale lease(s) on {}",
                    config.name
                ),
                Err(error) => {
                    eprintln!("baleia daemon: reclaim leases on {}: {error}", config.name)
                }
            }
        }
    }

    /// `POST /networks/create`: `Name`, the subnet from `IPAM.Config[0].Subnet`, the bridge's
    /// name from the option `com.docker.network.bridge.name`.
    pub fn network_create(
        &self,
        body: &Value,
    ) -> ApiResult<baleia_wire::api::NetworkCreateResponse> {
        let name = body["Name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::bad_request("a network needs a Name"))?;
        if let Some(driver) = body["Driver"]
            .as_str()
            .filter(|d| !d.is_empty() && *d != "bridge")
        {
            return Err(ApiError::bad_request(format!(
                "network driver {driver:?}: baleia has bridge networks only"
            )));
        }
        for field in [
            "Internal",
            "EnableIPv6",
            "ConfigOnly",
            "ConfigFrom",
            "Ingress",
        ] {
            if body[field].as_bool() == Some(true) || body[field].is_object() {
                return Err(ApiError::bad_request(format!(
                    "network {field} is not supported by baleia"
                )));
            }
        }
        let options = meta::string_map(&body["Options"], "Options")?;
        if let Some(other) = options
            .keys()
            .find(|k| *k != "com.docker.network.bridge.name")
        {
            return Err(ApiError::bad_request(format!(
                "network option {other:?} is not supported by baleia (only com.docker.network.bridge.name)"
            )));
        }
        let labels = meta::string_map(&body["Labels"], "Labels")?;
        let subnet = body["IPAM"]["Config"][0]["Subnet"].as_str();
        let bridge = options
            .get("com.docker.network.bridge.name")
            .map(String::as_str);
        let config = network::create(&self.root, name, subnet, bridge)?;
        let created = crate::time::now_nanos() / 1_000_000_000;
        let meta = Meta {
            labels,
            options,
            created,
        };
        meta::write(&self.root, "networks", &config.name, &meta)?;
        // Docker's field for what the network lacks: no rules without iptables.
        let warning = network::warning(&config).unwrap_or_default();
        let id = network_id(&config.name);
        self.network_event("create", &config.name, "");
        Ok(baleia_wire::api::NetworkCreateResponse { id, warning })
    }

    /// `GET /networks`, filtered (see [`super::filters`]): `name` (part of the name), `id`
    /// (prefix), `label`, `driver`, `scope`, `type` (`builtin` or `custom`), `dangling` (no
    /// container attached).
    pub fn network_list(&self, filters: &Filters) -> ApiResult<Value> {
        let configs = network::list(&self.root)?;
        let mut list: Vec<Value> = configs.iter().map(|c| network_json(self, c)).collect();
        list.extend(PREDEFINED.iter().map(|(n, d)| predefined_json(n, d)));
        list.sort_by(|a, b| a["Name"].as_str().cmp(&b["Name"].as_str()));
        let dangling = filters.boolean("dangling")?;
        list.retain(|network| {
            let text = |key: &str| network[key].as_str().unwrap_or_default().to_string();
            let (name, id) = (text("Name"), text("Id"));
            let builtin = ["bridge", "host", "none"].contains(&name.as_str());
            let labels: std::collections::BTreeMap<String, String> =
                serde_json::from_value(network["Labels"].clone()).unwrap_or_default();
            let empty = network["Containers"]
                .as_object()
                .is_none_or(|c| c.is_empty());
            filters.labels(&labels)
                && filters.any("name", |v| super::list_filters::matches_network(v, &name))
                && filters.any("id", |v| id.starts_with(v))
                && filters.any("driver", |v| v == text("Driver"))
                && filters.any("scope", |v| v == "local")
                && filters.any("type", |v| (v == "builtin") == builtin)
                && dangling.is_none_or(|d| d == (empty && !builtin))
        });
        Ok(Value::Array(list))
    }

    /// `GET /networks/{id}`
    pub fn network_inspect(&self, wanted: &str) -> ApiResult<Value> {
        if let Some((name, driver)) = predefined(wanted) {
            return Ok(predefined_json(name, driver));
        }
        Ok(network_json(self, &self.network(wanted)?))
    }

    /// `DELETE /networks/{id}`: the bridge and its rules go; refused (409) while containers
    /// are attached.
    pub fn network_remove(&self, wanted: &str) -> ApiResult<()> {
        if let Some((name, _)) = predefined(wanted) {
            return Err(ApiError::new(
                403,
                format!("{name} is a pre-defined network and cannot be removed"),
            ));
        }
        let config = self.network(wanted)?;
        if config.name == network::DEFAULT_NETWORK {
            return Err(ApiError::new(
                403,
                "bridge is a pre-defined network and cannot be removed",
            ));
        }
        network::remove(&self.root, &config.name)?;
        meta::remove(&self.root, "networks", &config.name);
        self.network_event("destroy", &config.name, "");
        Ok(())
    }
}
