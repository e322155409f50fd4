//! What the daemon decides at `create` about a container's volumes, network and published
//! ports (`attachments.json`), and where the supervisor found the container on its network
//! (`endpoint.json`, `ports.json`). Shared because the daemon writes the plan and reads the
//! endpoint, and the supervisor reads the plan and writes the endpoint (see the daemon's
//! `engine::attachments` and the supervisor's `wiring`).

use crate::record::read_json;
use ch07_volumes_network::network::ports::PortSpec;
use ch07_volumes_network::volumes::spec::{Source, VolumeSpec};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The file in the container's directory that holds the [`Plan`].
pub const PLAN_FILE: &str = "attachments.json";
/// Written by the supervisor once the container is on its network; removed when it ends.
pub const ENDPOINT_FILE: &str = "endpoint.json";
/// The published ports as bound (the real host port of `-P`); removed when it ends.
pub const PORTS_FILE: &str = "ports.json";

/// One volume or bind mount, decided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MountPlan {
    /// A host path (bind) or a volume name (named or anonymous).
    pub source: String,
    pub destination: PathBuf,
    pub read_only: bool,
    /// `bind` or `volume`.
    pub kind: String,
    /// Made for this container alone (`-v /dst`, an image's VOLUME): `rm -v` and `--rm` remove it.
    pub anonymous: bool,
}

impl MountPlan {
    /// Chapter 07's spec: every volume has a name by now, so `volumes::prepare` only finds them.
    pub fn spec(&self) -> VolumeSpec {
        VolumeSpec {
            source: match self.kind.as_str() {
                "bind" => Source::Host(PathBuf::from(&self.source)),
                _ => Source::Named(self.source.clone()),
            },
            destination: self.destination.clone(),
            read_only: self.read_only,
        }
    }
}

/// What `create` decided (`attachments.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    /// The chapter 07 network to join; `None` for `none`, `host`, or a daemon without a
    /// default bridge (`--bridge none`).
    pub network: Option<String>,
    pub ports: Vec<PortSpec>,
    /// `80/tcp`: the image's and the user's EXPOSEd ports (shown even when not published).
    pub exposed: Vec<String>,
    pub mounts: Vec<MountPlan>,
    /// `--network-alias` (`NetworkingConfig.EndpointsConfig.<network>.Aliases`, or
    /// `POST /networks/{id}/connect`): more names the container answers to on its network.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--add-host` (`HostConfig.ExtraHosts`), resolved at create: hosts(5) lines
    /// (`ADDRESS\tNAME`) for the container's /etc/hosts.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
}

impl Plan {
    pub fn load(dir: &Path) -> Plan {
        read_json(&dir.join(PLAN_FILE)).unwrap_or_default()
    }

    pub fn volumes(&self) -> Vec<String> {
        self.mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| m.source.clone())
            .collect()
    }

    pub fn anonymous(&self) -> Vec<String> {
        self.mounts
            .iter()
            .filter(|m| m.anonymous)
            .map(|m| m.source.clone())
            .collect()
    }
}

/// Where the container is on its network, as its supervisor found it (`endpoint.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: String,
    pub address: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    pub mac: String,
}
