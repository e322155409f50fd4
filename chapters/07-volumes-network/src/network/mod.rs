//! Networks: a Linux bridge per network, a veth pair per container, addresses from a small
//! IPAM, NAT for egress, names in /etc/hosts, published ports.
//!
//! ```text
//! $ROOT/networks/.lock                  flock(2): network changes take turns
//! $ROOT/networks/<name>/network.json    name, bridge, subnet, gateway, whether it has its rules
//! $ROOT/networks/<name>/leases/<addr>   see ipam
//! ```
//!
//! The bridges are the host's, the state is the root's. Each bridge carries its state root in
//! its alias (`baleia:/var/lib/baleia`, see [`owner_mark`]): a bridge with our mark that our
//! state does not know is a leftover of our own crashed run, and is cleaned away before the
//! network is made again; a bridge with another mark is another root's, and never touched.
//! Making a network that fails part-way removes what it made (rules, bridge, state) before
//! it returns the error.
//!
//! The capstone's entry points: [`create`], [`remove`], [`list`], [`ensure_default`],
//! [`attach`] (a parent-side step: the container's process exists, it waits) and
//! [`Attachment::detach`] (after it ended).

pub mod hosts;
pub mod ipam;
pub mod link;
pub mod nat;
pub mod ports;
pub mod proxy;
pub mod subnet;

use crate::error::{Error, Result};
use crate::lock::Lock;
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use ipam::{Lease, Leases};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use subnet::Subnet;

/// The network containers join when none is named.
pub const DEFAULT_NETWORK: &str = "bridge";
/// Its bridge for the default state root (Docker's is docker0); other roots get their own,
/// see [`default_bridge`].
pub const DEFAULT_BRIDGE: &str = "baleia0";
/// Its subnet when free; else the first free one of [`default_subnets`].
pub const DEFAULT_SUBNET: &str = "10.77.0.0/16";

/// Which network a container gets (`--network`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Its own network namespace with only `lo`.
    None,
    /// The host's network namespace: no isolation at all.
    Host,
    /// Its own namespace, plugged into this network's bridge.
    Bridge(String),
}

impl std::str::FromStr for NetworkMode {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Ok(match text {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "" => return Err(Error::Invalid("--network needs a value".into())),
            name => NetworkMode::Bridge(name.to_string()),
        })
    }
}

/// What `network inspect` shows (plus the containers).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NetworkConfig {
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
    /// Whether its forwarding, isolation and NAT rules were made: `false` when iptables was
    /// missing or broken then (see [`nat::check`]); its next container start tries again.
    #[serde(default = "yes")]
    pub nat: bool,
}

fn yes() -> bool {
    true
}

impl NetworkConfig {
    pub fn subnet(&self) -> Result<Subnet> {
        self.subnet.parse()
    }
}

fn networks_dir(state_root: &Path) -> PathBuf {
    state_root.join("networks")
}

fn network_dir(state_root: &Path, name: &str) -> PathBuf {
    networks_dir(state_root).join(name)
}

/// What our bridges carry in their alias: `baleia:` and the state root's canonical path.
/// (An alias is at most 255 bytes, IFALIASZ - 1: a longer path is cut, still telling roots
/// apart in all but pathological cases.)
pub fn owner_mark(state_root: &Path) -> Result<String> {
    let path = std::fs::canonicalize(state_root).map_err(Error::file("resolve", state_root))?;
    let mut mark = format!("baleia:{}", path.display());
    while mark.len() > 255 {
        mark.pop();
    }
    Ok(mark)
}

/// The default network's bridge for a state root: `baleia0` for the default root
/// (`/var/lib/baleia`), `baleia-` and 8 hex digits of the root path's SHA-256 for any other.
/// Two roots never share a bridge: each has its own leases, and two IPAMs handing out
/// addresses on one bridge would give two containers the same one.
pub fn default_bridge(state_root: &Path) -> String {
    let path = std::fs::canonicalize(state_root).unwrap_or_else(|_| state_root.to_path_buf());
    if path == Path::new(ch03_overlayfs::cli::DEFAULT_ROOT) {
        return DEFAULT_BRIDGE.to_string();
    }
    let digest = ch04_images::digest::sha256(path.as_os_str().as_encoded_bytes());
    format!("baleia-{}", &digest.digest()[..8])
}

/// The subnets a default network may take, in order: 10.77.0.0/16, then 10.79.0.0/16 to
/// 10.99.0.0/16 (10.78 is user networks' pool). The first that no network of this root and
/// no route of the host (another root's bridge is one) overlaps is taken, as Docker takes a
/// free pool for docker0.
pub fn default_subnets() -> impl Iterator<Item = Subnet> {
    std::iter::once(77).chain(79..=99).map(|n| Subnet {
        network: Ipv4Addr::new(10, n, 0, 0),
        prefix: 16,
    })
}

/// How many interfaces are plugged into bridge `bridge` (`/sys/class/net/<bridge>/brif/`
/// holds one entry per port, see the kernel's Documentation/ABI/testing/sysfs-class-net).
fn ports(bridge: &str) -> usize {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif")).map_or(0, |d| d.count())
}

/// Taken by every state root while it picks a free subnet and makes the bridge with it.
const HOST_LOCK: &str = "/run/baleia/subnets.lock";

/// Take the networks lock.
pub fn lock(state_root: &Path) -> Result<Lock> {
    Lock::acquire(&networks_dir(state_root).join(".lock"))
}

fn valid_name(name: &str) -> bool {
    crate::volumes::spec::is_volume_name(name) && !["none", "host"].contains(&name)
}

/// Interface names are at most 15 bytes (IFNAMSIZ - 1).
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
}

pub fn get(state_root: &Path, name: &str) -> Result<NetworkConfig> {
    let not_found = || Error::NotFound {
        kind: "network",
        name: name.to_string(),
    };
    if !valid_name(name) {
        return Err(not_found());
    }
    let path = network_dir(state_root, name).join("network.json");
    let text = std::fs::read(&path).map_err(|_| not_found())?;
    serde_json::from_slice(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

pub fn list(state_root: &Path) -> Result<Vec<NetworkConfig>> {
    let Ok(entries) = std::fs::read_dir(networks_dir(state_root)) else {
        return Ok(Vec::new());
    };
    let mut networks: Vec<NetworkConfig> = entries
        .flatten()
        .filter_map(|e| get(state_root, &e.file_name().to_string_lossy()).ok())
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(networks)
}

/// The containers on a network (stale leases included until the next cleanup).
pub fn leases(state_root: &Path, name: &str) -> Result<Vec<Lease>> {
    Leases::at(&network_dir(state_root, name)).list()
}

/// `network create NAME [--subnet CIDR] [--bridge IFNAME]`: the bridge with the gateway
/// address, and the NAT and forwarding rules. Without `--subnet`, the first free 10.78.N.0/24.
pub fn create(
    state_root: &Path,
    name: &str,
    subnet: Option<&str>,
    bridge: Option<&str>,
) -> Result<NetworkConfig> {
    let _lock = lock(state_root)?;
    create_locked(state_root, name, subnet, bridge)
}

fn create_locked(
    state_root: &Path,
    name: &str,
    subnet: Option<&str>,
    bridge: Option<&str>,
) -> Result<NetworkConfig> {
    let user_pool = (0..=255u8).map(|n| Subnet {
        network: Ipv4Addr::new(10, 78, n, 0),
        prefix: 24,
    });
    create_in(state_root, name, subnet, bridge, user_pool, "10.78.0.0/16")
}

/// [`create_locked`] with the subnets to choose from when none is given.
fn create_in(
    state_root: &Path,
    name: &str,
    subnet: Option<&str>,
    bridge: Option<&str>,
    mut pool: impl Iterator<Item = Subnet>,
    pool_text: &str,
) -> Result<NetworkConfig> {
    if !valid_name(name) {
        return Err(Error::Invalid(format!(
            "{name:?} is not a valid network name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, not none or host"
        )));
    }
    if get(state_root, name).is_ok() {
        return Err(Error::InUse(format!("network {name} exists already")));
    }
    let existing = list(state_root)?;
    let bridge = match bridge {
        Some(b) => b.to_string(),
        None => format!("br-{}", &ch03_overlayfs::dirs::random_id()?[..12]),
    };
    if !valid_ifname(&bridge) {
        return Err(Error::Invalid(format!(
            "bridge name {bridge:?}: at most 15 letters, digits, - _ ."
        )));
    }
    if let Some(other) = existing.iter().find(|n| n.bridge == bridge) {
        return Err(Error::InUse(format!(
            "bridge {bridge} belongs to network {} already",
            other.name
        )));
    }
    let mark = owner_mark(state_root)?;
    match link::alias(&bridge)? {
        None => {}
        Some(alias) if alias == mark => {
            // Ours, but no network of ours has it: a run that crashed between making the
            // bridge and recording the network. Clean it, then make it anew.
            explain!(
                "bridge {bridge} has our mark ({mark}) but no network: a crashed run's; clean it"
            );
            nat::remove_mentioning(&bridge)?;
            link::delete(&bridge)?;
        }
        Some(alias)
            if alias.is_empty()
                && name == DEFAULT_NETWORK
                && bridge == default_bridge(state_root)
                && ports(&bridge) == 0 =>
        {
            // This root's own default bridge name, unmarked and unused: left by a failed
            // first run of a baleia that did not mark its bridges yet. Nobody else would
            // choose that name; clean it rather than send the user to `ip link del`.
            explain!("bridge {bridge}: unmarked, unused, this root's default name: an earlier run's; clean it");
            nat::remove_mentioning(&bridge)?;
            link::delete(&bridge)?;
        }
        Some(alias) => {
            let whose = if alias.is_empty() {
                "it has no alias: not made by this state root".to_string()
            } else {
                format!("its alias says {alias:?}, this state root is {mark:?}")
            };
            return Err(Error::InUse(format!(
                "a link named {bridge} exists already on this host and is not this state \
                 root's ({whose}): choose another bridge name, or delete that link if nothing \
                 uses it (ip link del {bridge})"
            )));
        }
    }
    // Two roots choosing a free subnet at once would both see 10.77 free: the choice and the
    // bridge that takes it (its route is what the next chooser sees) are made under a lock
    // of the host's, not only of this root. Best effort: without /run, the choice still works.
    let _host_lock = subnet
        .is_none()
        .then(|| Lock::acquire(Path::new(HOST_LOCK)).ok())
        .flatten();
    // Routes read after a leftover bridge of ours went: its subnet is free again.
    let routed = subnet::host_routes();
    let subnet: Subnet = match subnet {
        Some(text) => text.parse()?,
        None => pool
            .find(|candidate| {
                !existing
                    .iter()
                    .any(|n| n.subnet().is_ok_and(|s| s.overlaps(candidate)))
                    && !routed.iter().any(|r| r.overlaps(candidate))
            })
            .ok_or_else(|| Error::InUse(format!("no free subnet in {pool_text}")))?,
    };
    if let Some(other) = existing
        .iter()
        .find(|n| n.subnet().is_ok_and(|s| s.overlaps(&subnet)))
    {
        return Err(Error::InUse(format!(
            "subnet {subnet} overlaps network {} ({})",
            other.name, other.subnet
        )));
    }
    if let Some(route) = routed.iter().find(|r| r.overlaps(&subnet)) {
        return Err(Error::InUse(format!(
            "subnet {subnet} overlaps {route}, which the host routes already"
        )));
    }
    let mut config = NetworkConfig {
        name: name.to_string(),
        bridge,
        subnet: subnet.to_string(),
        gateway: subnet.gateway(),
        nat: false,
    };
    let dir = network_dir(state_root, name);
    let made = bring_up(&config, &mark).and_then(|nat| {
        config.nat = nat;
        save(&dir, &config)
    });
    if let Err(error) = made {
        explain!("making network {name} failed ({error}): remove what was made");
        tear_down(&config);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(error);
    }
    Ok(config)
}

fn save(dir: &Path, config: &NetworkConfig) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::file("create", dir))?;
    let path = dir.join("network.json");
    let json = serde_json::to_vec_pretty(config).expect("network config serializes");
    std::fs::write(&path, json).map_err(Error::file("write", &path))
}

/// The bridge (marked `mark`), its address and, if iptables works, the rules (idempotent:
/// also repairs after a reboot). Returns whether the rules are there. Without a working
/// iptables the bridge comes up alone, as [`nat::Unavailable`] says (the engine warns once).
fn bring_up(config: &NetworkConfig, mark: &str) -> Result<bool> {
    let subnet = config.subnet()?;
    link::ensure_bridge(&config.bridge, config.gateway, subnet.prefix, mark)?;
    if let Err(unavailable) = nat::check() {
        explain!("no rules for {}: {}", config.bridge, unavailable.reason);
        return Ok(false);
    }
    nat::ensure(&config.bridge, &config.subnet)?;
    Ok(true)
}

/// Undo [`bring_up`] as far as it got: the rules, then the bridge. Errors here would hide the
/// one being returned; whatever stays is cleaned by the next attempt (the mark says it is
/// ours).
fn tear_down(config: &NetworkConfig) {
    let _ = nat::remove(&config.bridge, &config.subnet);
    let _ = link::delete(&config.bridge);
}

/// The default network, created on first use: on [`default_bridge`], in the first free one
/// of [`default_subnets`].
pub fn ensure_default(state_root: &Path) -> Result<NetworkConfig> {
    ensure_default_with(state_root, &default_bridge(state_root), None)
}

/// The default network on a given bridge, in a given subnet (`None`: the first free of
/// [`default_subnets`]). The bridge is the host's, the leases are the state root's: two state
/// roots cannot share one bridge (their addresses would collide), so each has its own.
pub fn ensure_default_with(
    state_root: &Path,
    bridge: &str,
    subnet: Option<&str>,
) -> Result<NetworkConfig> {
    let _lock = lock(state_root)?;
    match get(state_root, DEFAULT_NETWORK) {
        Ok(config) => Ok(config),
        Err(_) => create_in(
            state_root,
            DEFAULT_NETWORK,
            subnet,
            Some(bridge),
            default_subnets(),
            "10.77.0.0/16 and 10.79.0.0/16 to 10.99.0.0/16",
        ),
    }
}

/// What a network made without its rules lacks, for its user; `None` if it has them.
pub fn warning(config: &NetworkConfig) -> Option<String> {
    if config.nat {
        return None;
    }
    Some(match nat::check() {
        Err(unavailable) => format!("network {}: {unavailable}", config.name),
        Ok(()) => format!(
            "network {} has no NAT and isolation rules yet (iptables was missing when it was \
             made): its next container start makes them",
            config.name
        ),
    })
}

/// Forget the leases of containers that are gone without detaching (crashed), deleting
/// their veth if it is still there. Call with the lock held. Returns the live leases.
fn reclaim_stale(state_root: &Path, config: &NetworkConfig) -> Result<Vec<Lease>> {
    let leases = Leases::at(&network_dir(state_root, &config.name));
    let mut live = Vec::new();
    for lease in leases.list()? {
        if lease.is_stale() {
            explain!(
                "lease {} of container {} is stale (its process is gone): reclaim it",
                lease.address,
                &lease.container_id[..lease.container_id.len().min(12)]
            );
            link::delete(&lease.host_veth)?;
            leases.release(lease.address)?;
        } else {
            live.push(lease);
        }
    }
    Ok(live)
}

/// Reclaim the stale leases of network `name` now (an engine does it for every network when
/// it starts, as Docker cleans up its crashed endpoints); returns how many were reclaimed.
pub fn reclaim(state_root: &Path, name: &str) -> Result<usize> {
    let _lock = lock(state_root)?;
    let config = get(state_root, name)?;
    let before = leases(state_root, name)?.len();
    Ok(before - reclaim_stale(state_root, &config)?.len())
}

/// `network rm`: refused while containers are attached; deletes the rules, the bridge, the
/// state.
pub fn remove(state_root: &Path, name: &str) -> Result<()> {
    let _lock = lock(state_root)?;
    let config = get(state_root, name)?;
    let live = reclaim_stale(state_root, &config)?;
    if !live.is_empty() {
        let ids: Vec<&str> = live.iter().map(|l| &l.container_id[..12]).collect();
        return Err(Error::InUse(format!(
            "network {name} has active containers: {}",
            ids.join(", ")
        )));
    }
    nat::remove(&config.bridge, &config.subnet)?;
    link::delete(&config.bridge)?;
    let dir = network_dir(state_root, name);
    std::fs::remove_dir_all(&dir).map_err(Error::file("remove", &dir))
}

/// Who is joining a network.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub container_id: String,
    pub name: Option<String>,
    pub hostname: String,
    /// The container's hosts file, as the host sees it.
    pub hosts_file: PathBuf,
    /// More lines for it (hosts(5): `ADDRESS\tNAME`), kept when it is rewritten.
    pub extra_hosts: Vec<String>,
}

/// A container's place on a network; [`detach`](Attachment::detach) it when the container
/// has ended.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub state_root: PathBuf,
    pub network: String,
    pub address: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub host_veth: String,
}

/// Plug process `pid`'s network namespace into network `name`: lease an address, make the
/// veth pair, configure `eth0` inside, update every member's /etc/hosts.
pub fn attach(state_root: &Path, name: &str, pid: u32, endpoint: &Endpoint) -> Result<Attachment> {
    let _lock = lock(state_root)?;
    let mut config = get(state_root, name)?;
    // After a reboot the bridge (and the rules) are gone while the state says the network
    // exists: bring it all back. Checking every rule on every start would cost ~10 iptables
    // runs per container; Docker too re-checks its rules at daemon start, not per container.
    // A network made without iptables tries again once iptables is installed (the test for
    // the program is a few stat(2)s, no process).
    let bridge_there = link::exists(&config.bridge)?;
    if !bridge_there || (!config.nat && nat::installed()) {
        match bring_up(&config, &owner_mark(state_root)?) {
            Ok(nat) if nat != config.nat => {
                config.nat = nat;
                save(&network_dir(state_root, name), &config)?;
            }
            Ok(_) => {}
            // The bridge was there and has containers: keep it, without the rules.
            Err(error) if bridge_there => {
                explain!("rules for {} still cannot be made: {error}", config.bridge);
                let _ = nat::remove(&config.bridge, &config.subnet);
            }
            Err(error) => {
                tear_down(&config);
                return Err(error);
            }
        }
    }
    reclaim_stale(state_root, &config)?;
    let subnet = config.subnet()?;
    let id = &endpoint.container_id;
    let host_veth = format!("bv{}", &id[..11]);
    let peer = format!("bc{}", &id[..11]);
    let leases = Leases::at(&network_dir(state_root, name));
    let lease = leases.allocate(
        &subnet,
        Lease {
            address: Ipv4Addr::UNSPECIFIED,
            container_id: id.clone(),
            name: endpoint.name.clone(),
            hostname: endpoint.hostname.clone(),
            pid,
            start_time: ipam::start_time(pid)
                .ok_or_else(|| Error::Invalid(format!("the container's process {pid} is gone")))?,
            host_veth: host_veth.clone(),
            hosts_file: endpoint.hosts_file.clone(),
            extra_hosts: endpoint.extra_hosts.clone(),
        },
    )?;
    explain!(
        "IPAM: {} for container {} on {name}",
        lease.address,
        &id[..12]
    );
    let attachment = Attachment {
        state_root: state_root.to_path_buf(),
        network: name.to_string(),
        address: lease.address,
        gateway: config.gateway,
        host_veth: host_veth.clone(),
    };
    let plugged = link::create_veth(&host_veth, &peer, &config.bridge, pid).and_then(|()| {
        link::configure_inside(pid, &peer, lease.address, subnet.prefix, config.gateway)
    });
    if let Err(error) = plugged {
        let _ = link::delete(&host_veth);
        let _ = leases.release(lease.address);
        return Err(error);
    }
    hosts::update_all(&leases.list()?)?;
    Ok(attachment)
}

impl Attachment {
    /// Undo [`attach`]: delete our veth end if the kernel has not already (it does when the
    /// container's network namespace goes), release the address, update the others' hosts.
    pub fn detach(&self) -> Result<()> {
        let _lock = lock(&self.state_root)?;
        link::delete(&self.host_veth)?;
        let leases = Leases::at(&network_dir(&self.state_root, &self.network));
        explain!("IPAM: release {} on {}", self.address, self.network);
        leases.release(self.address)?;
        hosts::update_all(&leases.list()?)
    }
}
