//! Chapter 07 in the engine: what `create` decides about a container's volumes, network and
//! published ports, and how `inspect`, `ps` and `port` show them.
//!
//! ```text
//! create (the daemon)                       start (the supervisor, crate::wiring)
//! ───────────────────                       ─────────────────────────────────────
//! --network → which chapter 07 network      volumes::prepare: open_tree every source
//!   (the default `bridge` made on first use)  proxy::bind: the host ports, now
//! -p/-P → port specs                        network::attach (parent-side step): veth, lease
//! -v/--mount/VOLUME → volumes, created now,  proxy serve → the container's address
//!   anonymous ones named now; recorded as   after it ended: stop the proxy, detach
//!   used by the container (volume rm: 409)
//! all of it → attachments.json              → endpoint.json, ports.json (while it runs)
//! ```
//!
//! Why decide at create? Docker does: a created container already holds its volumes (an
//! anonymous volume keeps its name across restarts, `volume rm` is refused for a stopped
//! container's volume), and a bad `-v` or an unknown network is a 4xx at `create`, not a
//! failed start. What needs the container's process (the veth, the lease, the proxy's
//! target) can only happen at start, in the supervisor.

use super::record::{read_json, write_json, Config, Dir, HostConfig};
use super::{ApiError, ApiResult, Engine, Found};
use ch07_volumes_network::network::ports::{PortSpec, Protocol};
use ch07_volumes_network::network::proxy::Published;
use ch07_volumes_network::network::{self, DEFAULT_NETWORK};
use ch07_volumes_network::volumes::spec::{clean_absolute, Source, VolumeSpec};
use ch07_volumes_network::volumes::store::{record_uses, VolumeStore};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

pub use baleia_wire::attachments::{
    Endpoint, MountPlan, Plan, ENDPOINT_FILE, PLAN_FILE, PORTS_FILE,
};

/// `80/tcp` → (80, tcp).
fn port_key(key: &str) -> ApiResult<(u16, Protocol)> {
    let spec: PortSpec = key
        .parse()
        .map_err(|e: ch07_volumes_network::Error| ApiError::bad_request(e.to_string()))?;
    Ok((spec.container_port, spec.protocol))
}

fn key_of(spec: &PortSpec) -> String {
    format!("{}/{}", spec.container_port, spec.protocol)
}

/// `-p`: HostConfig.PortBindings `{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}`;
/// `-P`: every exposed port not bound already, on a free port. Without an address, the
/// daemon's `--ip` (default 0.0.0.0, every address, as Docker's).
fn ports(host: &HostConfig, exposed: &[String], default_ip: IpAddr) -> ApiResult<Vec<PortSpec>> {
    let mut specs = Vec::new();
    for (key, bindings) in host.port_bindings.iter().flatten() {
        let (container_port, protocol) = port_key(key)?;
        for binding in bindings.as_array().into_iter().flatten() {
            let host_ip = match binding["HostIp"].as_str().unwrap_or_default() {
                "" => default_ip,
                ip => ip.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid host IP {ip:?} for port {key}"))
                })?,
            };
            let host_port = match binding["HostPort"].as_str().unwrap_or_default() {
                "" => 0,
                port => port.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid host port {port:?} for port {key}"))
                })?,
            };
            specs.push(PortSpec {
                host_ip,
                host_port,
                container_port,
                protocol,
            });
        }
    }
    if host.publish_all_ports {
        for key in exposed {
            let (container_port, protocol) = port_key(key)?;
            if !specs
                .iter()
                .any(|s| s.container_port == container_port && s.protocol == protocol)
            {
                specs.push(PortSpec {
                    host_ip: default_ip,
                    host_port: 0,
                    container_port,
                    protocol,
                });
            }
        }
    }
    Ok(specs)
}

/// `--mount type=bind|volume|tmpfs,...` as Docker's API carries it. tmpfs mounts join
/// HostConfig.Tmpfs (the runtime mounts those); the others become [`MountPlan`]s.
fn from_mount(
    mount: &Value,
    host_tmpfs: &mut BTreeMap<String, String>,
) -> ApiResult<Option<MountPlan>> {
    let target = mount["Target"]
        .as_str()
        .or(mount["Destination"].as_str())
        .unwrap_or_default();
    let destination = clean_absolute(Path::new(target)).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid mount config: the target {target:?} must be an absolute path without `..`"
        ))
    })?;
    let source = mount["Source"].as_str().unwrap_or_default().to_string();
    let read_only = mount["ReadOnly"].as_bool().unwrap_or(false);
    let kind = mount["Type"].as_str().unwrap_or("volume");
    Ok(match kind {
        "tmpfs" => {
            let mut options = Vec::new();
            if let Some(size) = mount["TmpfsOptions"]["SizeBytes"]
                .as_i64()
                .filter(|s| *s > 0)
            {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = mount["TmpfsOptions"]["Mode"].as_u64().filter(|m| *m > 0) {
                options.push(format!("mode={mode:o}"));
            }
            host_tmpfs.insert(destination.display().to_string(), options.join(","));
            None
        }
        "bind" => Some(MountPlan {
            source,
            destination,
            read_only,
            kind: "bind".into(),
            anonymous: false,
        }),
        "volume" => Some(MountPlan {
            anonymous: source.is_empty(),
            source,
            destination,
            read_only,
            kind: "volume".into(),
        }),
        other => {
            return Err(ApiError::bad_request(format!(
                "invalid mount config: type {other:?} (bind, volume, tmpfs)"
            )))
        }
    })
}

impl Engine {
    /// The chapter 07 network a `NetworkMode` names: `(mode shown in HostConfig, network)`.
    fn network_for(&self, mode: &str) -> ApiResult<(String, Option<String>)> {
        // An ordinary user may make no bridge, veth or iptables rule (they need CAP_NET_ADMIN
        // over the host's network namespace): said before anything is made, not as netlink's
        // EPERM halfway through.
        if !nix::unistd::geteuid().is_root() && !matches!(mode, "none" | "host") {
            return Err(ApiError::not_implemented(format!(
                "network '{}': a daemon run by an ordinary user cannot make bridges (that needs                  CAP_NET_ADMIN on the host); use --network none or --network host (a user-mode                  network, pasta or slirp4netns, is not implemented yet)",
                if mode.is_empty() { "default" } else { mode }
            )));
        }
        Ok(match mode {
            "" | "default" | "bridge" => match &self.default_bridge {
                // dockerd -b none: no `bridge` network; containers without --network get a
                // loopback only, and asking for it by name finds nothing.
                None if mode == "bridge" => {
                    return Err(ApiError::not_found(
                        "network bridge not found (the daemon runs with --bridge none)",
                    ))
                }
                None => ("none".into(), None),
                Some((bridge, subnet)) => {
                    network::ensure_default_with(&self.root, bridge, subnet.as_deref())?;
                    ("bridge".into(), Some(DEFAULT_NETWORK.into()))
                }
            },
            "none" | "host" => (mode.into(), None),
            m if m.starts_with("container:") => {
                return Err(ApiError::not_implemented(
                    "--network container:ID (sharing another container's network namespace) is not supported",
                ))
            }
            name => {
                let config = self.network(name)?;
                (config.name.clone(), Some(config.name))
            }
        })
    }

    /// Decide a container's network, ports and mounts (see the module's notes). Rewrites
    /// `host.network_mode` to the mode it resolved, and adds `--mount type=tmpfs` to
    /// `host.tmpfs`. Creates nothing yet: [`Engine::make_volumes`] does, once the container's
    /// directory exists.
    pub fn plan(
        &self,
        config: &Config,
        host: &mut HostConfig,
        image: &oci_spec::image::ImageConfiguration,
    ) -> ApiResult<Plan> {
        let (mode, network) = self.network_for(&host.network_mode)?;
        host.network_mode = mode;
        let image_config = image.config().clone().unwrap_or_default();
        let mut exposed: Vec<String> = image_config.exposed_ports().clone().unwrap_or_default();
        if let Some(mine) = config.exposed_ports.as_ref().and_then(Value::as_object) {
            exposed.extend(mine.keys().cloned());
        }
        for key in host.port_bindings.iter().flatten().map(|(k, _)| k) {
            exposed.push(key.clone());
        }
        let mut exposed: Vec<String> = exposed
            .iter()
            .map(|k| port_key(k).map(|(p, proto)| format!("{p}/{proto}")))
            .collect::<ApiResult<_>>()?;
        exposed.sort();
        exposed.dedup();
        let ports = ports(host, &exposed, self.default_bind_ip)?;
        if network.is_none() && !ports.is_empty() {
            return Err(ApiError::bad_request(format!(
                "publishing ports (-p, -P) needs a bridge network; this container's network is {}",
                host.network_mode
            )));
        }

        let mut mounts: Vec<MountPlan> = Vec::new();
        for bind in host.binds.iter().flatten() {
            let spec: VolumeSpec = bind
                .parse()
                .map_err(|e: ch07_volumes_network::Error| ApiError::bad_request(e.to_string()))?;
            mounts.push(match spec.source {
                Source::Host(path) => MountPlan {
                    source: path.display().to_string(),
                    destination: spec.destination,
                    read_only: spec.read_only,
                    kind: "bind".into(),
                    anonymous: false,
                },
                Source::Named(name) => MountPlan {
                    source: name,
                    destination: spec.destination,
                    read_only: spec.read_only,
                    kind: "volume".into(),
                    anonymous: false,
                },
                Source::Anonymous => MountPlan {
                    source: String::new(),
                    destination: spec.destination,
                    read_only: spec.read_only,
                    kind: "volume".into(),
                    anonymous: true,
                },
            });
        }
        let mut tmpfs = host.tmpfs.clone().unwrap_or_default();
        for mount in host.mounts.iter().flatten() {
            mounts.extend(from_mount(mount, &mut tmpfs)?);
        }
        if !tmpfs.is_empty() {
            host.tmpfs = Some(tmpfs);
        }
        // `-v /dst` (Docker's CLI sends it in Config.Volumes), then the image's VOLUMEs: an
        // anonymous volume each, unless a mount of the user's covers that path already.
        let user_anonymous = config
            .volumes
            .as_ref()
            .and_then(Value::as_object)
            .map(|v| v.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        let image_volumes = image_config.volumes().clone().unwrap_or_default();
        for dir in user_anonymous.iter().chain(&image_volumes) {
            let Some(destination) = clean_absolute(Path::new(dir)) else {
                return Err(ApiError::bad_request(format!(
                    "invalid volume {dir:?}: an absolute path without `..`"
                )));
            };
            let covered = mounts.iter().any(|m| m.destination == destination)
                || host
                    .tmpfs
                    .iter()
                    .flatten()
                    .any(|(t, _)| Path::new(t) == destination);
            if !covered {
                mounts.push(MountPlan {
                    source: String::new(),
                    destination,
                    read_only: false,
                    kind: "volume".into(),
                    anonymous: true,
                });
            }
        }
        for mount in &mounts {
            if mounts
                .iter()
                .filter(|m| m.destination == mount.destination)
                .count()
                > 1
            {
                return Err(ApiError::bad_request(format!(
                    "Duplicate mount point: {}",
                    mount.destination.display()
                )));
            }
            if mount.kind == "bind" && std::fs::metadata(&mount.source).is_err() {
                // Docker creates a missing -v host path; chapter 07 refuses it (a typo should
                // not make a directory as root somewhere), as Docker's --mount does.
                return Err(ApiError::bad_request(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    mount.source
                )));
            }
        }
        ch01_namespaces::explain!(
            "chapter 07 plan: network {}, {} published port(s), {} mount(s) ({} anonymous)",
            network.as_deref().unwrap_or(host.network_mode.as_str()),
            ports.len(),
            mounts.len(),
            mounts.iter().filter(|m| m.anonymous).count()
        );
        Ok(Plan {
            network,
            ports,
            exposed,
            mounts,
            aliases: Vec::new(),
            extra_hosts: Vec::new(),
        })
    }

    /// Create the plan's volumes (anonymous ones get their random name now), record them as
    /// used by the container in `dir`, and write the plan there.
    pub fn make_volumes(&self, dir: &Dir, plan: &mut Plan) -> ApiResult<()> {
        let store = VolumeStore::new(&self.root);
        let _lock = store.lock()?;
        for mount in plan.mounts.iter_mut().filter(|m| m.kind == "volume") {
            if mount.anonymous {
                mount.source = ch03_overlayfs::dirs::random_id().map_err(ApiError::internal)?;
            }
            store.create(&mount.source, mount.anonymous)?;
        }
        record_uses(&dir.0, &plan.volumes())?;
        write_json(&dir.0.join(PLAN_FILE), plan)?;
        Ok(())
    }

    /// After the container's directory is gone: its anonymous volumes (`rm -v`, `--rm`).
    pub fn remove_anonymous_volumes(&self, anonymous: &[String]) -> ApiResult<()> {
        Ok(ch07_volumes_network::volumes::release(
            &self.root, anonymous, false,
        )?)
    }
}

/// The published ports of a running container, as its supervisor bound them.
pub fn published(found: &Found) -> Vec<Published> {
    if !found.running() {
        return Vec::new();
    }
    read_json(&found.dir.0.join(PORTS_FILE)).unwrap_or_default()
}

fn endpoint(found: &Found) -> Option<Endpoint> {
    found
        .running()
        .then(|| read_json(&found.dir.0.join(ENDPOINT_FILE)).ok())
        .flatten()
}

/// `NetworkSettings.Ports`: every exposed port, with its host bindings (null if unpublished);
/// empty while the container is not running, as Docker shows it.
fn ports_json(found: &Found, plan: &Plan) -> Value {
    if !found.running() {
        return json!({});
    }
    let published = published(found);
    let mut map = serde_json::Map::new();
    for key in &plan.exposed {
        map.insert(key.clone(), Value::Null);
    }
    for p in &published {
        let entry = map.entry(key_of(&p.spec)).or_insert_with(|| json!([]));
        if entry.is_null() {
            *entry = json!([]);
        }
        if let Some(list) = entry.as_array_mut() {
            list.push(
                json!({ "HostIp": p.host.ip().to_string(), "HostPort": p.host.port().to_string() }),
            );
        }
    }
    Value::Object(map)
}

/// `NetworkSettings` of `GET /containers/{id}/json`. As Docker: the top-level `IPAddress`,
/// `Gateway`, `MacAddress` describe the default `bridge` network only; every network is in
/// `Networks`, its addresses filled while the container runs.
pub fn network_settings(found: &Found) -> Value {
    let plan = Plan::load(&found.dir.0);
    let mode = found.record.host_config.network_mode.as_str();
    let name = plan.network.clone().unwrap_or_else(|| match mode {
        "host" => "host".to_string(),
        _ => "none".to_string(),
    });
    let endpoint = endpoint(found);
    let (address, gateway, prefix, mac) = match &endpoint {
        Some(e) => (
            e.address.to_string(),
            e.gateway.to_string(),
            e.prefix,
            e.mac.clone(),
        ),
        None => (String::new(), String::new(), 0, String::new()),
    };
    let id = &found.record.id;
    // As Docker (API < 1.45): on a user-defined network the short id is an alias too; compose
    // looks for it to know the container is connected with its aliases.
    let aliases = match plan.network.as_deref() {
        Some(network) if network != DEFAULT_NETWORK => {
            let mut aliases = plan.aliases.clone();
            if !aliases.iter().any(|a| a == &id[..12]) {
                aliases.push(id[..12].to_string());
            }
            json!(aliases)
        }
        _ => Value::Null,
    };
    let network = json!({
        "IPAMConfig": null,
        "Links": null,
        "Aliases": aliases,
        "MacAddress": mac,
        "NetworkID": super::networks::network_id(&name),
        "EndpointID": if endpoint.is_some() { id.clone() } else { String::new() },
        "Gateway": gateway,
        "IPAddress": address,
        "IPPrefixLen": prefix,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DriverOpts": null,
        "DNSNames": if plan.network.is_some() {
            let mut names = vec![found.record.name.clone()];
            for alias in plan.aliases.iter().chain(std::iter::once(&id[..12].to_string())) {
                if !names.contains(alias) {
                    names.push(alias.clone());
                }
            }
            json!(names)
        } else {
            Value::Null
        },
    });
    let default = plan.network.as_deref() == Some(DEFAULT_NETWORK);
    let top = |v: &Value| if default { v.clone() } else { json!("") };
    json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": if found.running() && mode != "host" { format!("/proc/{}/ns/net", found.state.pid) } else { String::new() },
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "Ports": ports_json(found, &plan),
        "EndpointID": top(&network["EndpointID"]),
        "Gateway": top(&network["Gateway"]),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": top(&network["IPAddress"]),
        "IPPrefixLen": if default { network["IPPrefixLen"].clone() } else { json!(0) },
        "IPv6Gateway": "",
        "MacAddress": top(&network["MacAddress"]),
        "Networks": { name: network },
    })
}

/// `Ports` of `GET /containers/json` (what `ps` prints): published ports with their host
/// side, exposed ones without.
pub fn port_summary(found: &Found) -> Value {
    if !found.running() {
        return json!([]);
    }
    let plan = Plan::load(&found.dir.0);
    let published = published(found);
    let mut list: Vec<Value> = published
        .iter()
        .map(|p| {
            json!({
                "IP": p.host.ip().to_string(),
                "PrivatePort": p.spec.container_port,
                "PublicPort": p.host.port(),
                "Type": p.spec.protocol.to_string(),
            })
        })
        .collect();
    for key in &plan.exposed {
        if !published.iter().any(|p| key_of(&p.spec) == *key) {
            if let Ok((port, protocol)) = port_key(key) {
                list.push(json!({ "PrivatePort": port, "Type": protocol.to_string() }));
            }
        }
    }
    Value::Array(list)
}

/// `Networks` of one `GET /containers/json` entry.
pub fn summary_networks(found: &Found) -> Value {
    network_settings(found)["Networks"].clone()
}

/// `Mounts` of inspect and of the list: volumes and bind mounts, in Docker's shape.
pub fn mounts_json(found: &Found, engine: &Engine) -> Value {
    let plan = Plan::load(&found.dir.0);
    let store = VolumeStore::new(&engine.root);
    Value::Array(
        plan.mounts
            .iter()
            .map(|m| {
                let mode = if m.read_only { "ro" } else { "" };
                match m.kind.as_str() {
                    "bind" => json!({
                        "Type": "bind",
                        "Source": m.source,
                        "Destination": m.destination,
                        "Mode": mode,
                        "RW": !m.read_only,
                        "Propagation": "rprivate",
                    }),
                    _ => json!({
                        "Type": "volume",
                        "Name": m.source,
                        "Source": store.get(&m.source).map(|v| v.mountpoint).unwrap_or_default(),
                        "Destination": m.destination,
                        "Driver": "local",
                        "Mode": mode,
                        "RW": !m.read_only,
                        "Propagation": "",
                    }),
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn port_bindings_and_publish_all_become_port_specs() {
        let mut host = HostConfig {
            port_bindings: Some(BTreeMap::from([(
                "80/tcp".to_string(),
                json!([{ "HostIp": "127.0.0.1", "HostPort": "8080" }, { "HostIp": "", "HostPort": "" }]),
            )])),
            publish_all_ports: true,
            ..HostConfig::default()
        };
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let specs = ports(&host, &["80/tcp".into(), "53/udp".into()], any).unwrap();
        let shown: Vec<String> = specs
            .iter()
            .map(|s| {
                format!(
                    "{}:{}:{}/{}",
                    s.host_ip, s.host_port, s.container_port, s.protocol
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                "127.0.0.1:8080:80/tcp",
                "0.0.0.0:0:80/tcp",
                "0.0.0.0:0:53/udp"
            ],
            "-P adds only what -p did not bind"
        );
        host.port_bindings = Some(BTreeMap::from([(
            "80/tcp".to_string(),
            json!([{ "HostIp": "nope", "HostPort": "1" }]),
        )]));
        assert_eq!(ports(&host, &[], any).unwrap_err().status, 400);
    }

    #[test]
    fn mounts_of_each_type() {
        let mut tmpfs = BTreeMap::new();
        let bind = from_mount(
            &json!({ "Type": "bind", "Source": "/srv", "Target": "/www", "ReadOnly": true }),
            &mut tmpfs,
        )
        .unwrap()
        .unwrap();
        assert_eq!((bind.kind.as_str(), bind.read_only), ("bind", true));
        let anonymous = from_mount(&json!({ "Type": "volume", "Target": "/cache" }), &mut tmpfs)
            .unwrap()
            .unwrap();
        assert!(anonymous.anonymous);
        let none = from_mount(
            &json!({ "Type": "tmpfs", "Target": "/run/x", "TmpfsOptions": { "SizeBytes": 65536 } }),
            &mut tmpfs,
        )
        .unwrap();
        assert!(none.is_none());
        assert_eq!(tmpfs["/run/x"], "size=65536");
        assert!(from_mount(&json!({ "Type": "npipe", "Target": "/x" }), &mut tmpfs).is_err());
        assert!(from_mount(&json!({ "Type": "bind", "Target": "rel" }), &mut tmpfs).is_err());
    }
}
