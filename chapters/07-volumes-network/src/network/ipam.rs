//! IP address management: which container has which address, kept on disk.
//!
//! ```text
//! $ROOT/networks/<name>/leases/<address>     one JSON file per address handed out
//! ```
//!
//! The file's name *is* the address, and it is created with `O_EXCL` (`create_new`): even if
//! two engines raced past the network lock, only one could create it. A lease records the
//! container's first process (pid and its start time, from `/proc/PID/stat`): a lease whose
//! process is gone belongs to a container that crashed before it could clean up, and is
//! reclaimed at the next start on that network ([`Lease::is_stale`]).

use crate::error::{Error, Result};
use crate::network::subnet::Subnet;
use ch01_namespaces::common::Failure;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub container_id: String,
    /// The container's --name, if any: resolvable by the other containers.
    pub name: Option<String>,
    pub hostname: String,
    pub pid: u32,
    /// Field 22 of /proc/PID/stat: tells a reused pid from the original process.
    pub start_time: u64,
    /// Our end of the veth pair.
    pub host_veth: String,
    /// The container's /etc/hosts, as the host sees it (rewritten when members change).
    pub hosts_file: PathBuf,
    /// More lines for that file (hosts(5): `ADDRESS\tNAME`), the engine's `--add-host`.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
}

/// The start time of process `pid` (clock ticks since boot), if it exists and has not exited.
/// A zombie (state `Z`) has exited already, its namespaces are gone: it counts as gone, or a
/// crashed engine's container that nobody has reaped yet would keep its lease forever.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    if rest.starts_with('Z') {
        return None;
    }
    // After "pid (comm) ", field 3 is the state; the start time is field 22.
    rest.split(' ').nth(22 - 3)?.parse().ok()
}

impl Lease {
    /// Its process is gone (or the pid now belongs to another process).
    pub fn is_stale(&self) -> bool {
        start_time(self.pid) != Some(self.start_time)
    }
}

/// The leases of one network.
pub struct Leases {
    dir: PathBuf,
}

impl Leases {
    pub fn at(network_dir: &Path) -> Self {
        Leases {
            dir: network_dir.join("leases"),
        }
    }

    pub fn list(&self) -> Result<Vec<Lease>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::file("read directory", &self.dir)(e)),
        };
        let mut leases: Vec<Lease> = entries
            .flatten()
            .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
            .collect();
        leases.sort_by_key(|l: &Lease| l.address);
        Ok(leases)
    }

    /// Take the lowest free address of `subnet` for `lease` (its `address` is filled in).
    /// Call with the network lock held.
    pub fn allocate(&self, subnet: &Subnet, mut lease: Lease) -> Result<Lease> {
        // exercise 07.3: an IPAM lease: the lowest free address, taken with an exclusive create
        std::fs::create_dir_all(&self.dir).map_err(Error::file("create", &self.dir))?;
        let mut taken: Vec<Ipv4Addr> = self.list()?.iter().map(|l| l.address).collect();
        loop {
            let address = subnet
                .first_free(&taken)
                .ok_or_else(|| Error::InUse(format!("no free address left in {subnet}")))?;
            lease.address = address;
            let path = self.dir.join(address.to_string());
            let json = serde_json::to_vec_pretty(&lease).expect("a lease serializes");
            match std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, &json)
                        .map_err(Error::file("write", &path))?;
                    return Ok(lease);
                }
                // Someone else has it (a file we could not parse, say): try the next one.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => taken.push(address),
                Err(e) => return Err(Error::file("create", &path)(e)),
            }
        }
        // end of exercise 07.3
    }

    pub fn release(&self, address: Ipv4Addr) -> Result<()> {
        let path = self.dir.join(address.to_string());
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::file("remove", &path)(e))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(id: &str) -> Lease {
        Lease {
            address: Ipv4Addr::UNSPECIFIED,
            container_id: id.into(),
            name: None,
            hostname: id.into(),
            pid: std::process::id(),
            start_time: start_time(std::process::id()).unwrap(),
            host_veth: format!("bv{id}"),
            hosts_file: PathBuf::from("/nonexistent"),
            extra_hosts: Vec::new(),
        }
    }

    #[test]
    fn addresses_are_never_handed_out_twice_and_come_back_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let leases = Leases::at(dir.path());
        let subnet: Subnet = "10.213.200.0/29".parse().unwrap();
        let a = leases.allocate(&subnet, lease("a")).unwrap();
        let b = leases.allocate(&subnet, lease("b")).unwrap();
        assert_eq!(a.address, Ipv4Addr::new(10, 213, 200, 2));
        assert_eq!(b.address, Ipv4Addr::new(10, 213, 200, 3));
        leases.release(a.address).unwrap();
        let c = leases.allocate(&subnet, lease("c")).unwrap();
        assert_eq!(c.address, a.address);
        for id in ["d", "e", "f"] {
            leases.allocate(&subnet, lease(id)).unwrap();
        }
        assert!(
            leases.allocate(&subnet, lease("g")).is_err(),
            "/29 holds five"
        );
        assert!(!c.is_stale(), "our own process is alive");
        let mut dead = c.clone();
        dead.start_time += 1;
        assert!(dead.is_stale());
    }

    #[test]
    fn an_exited_process_not_yet_reaped_counts_as_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let stat = format!("/proc/{pid}/stat");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        // Not waited for: it stays a zombie (state Z) until we reap it.
        while !std::fs::read_to_string(&stat).is_ok_and(|s| s.contains(") Z ")) {
            assert!(std::time::Instant::now() < deadline, "{pid} did not exit");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(start_time(pid), None);
        child.wait().unwrap();
    }
}
