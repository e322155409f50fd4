//! `--add-host NAME:ADDRESS` (`HostConfig.ExtraHosts`): more lines in the container's
//! /etc/hosts (hosts(5)). `host-gateway` as the address means "the host, as the container
//! reaches it": the gateway of the container's bridge network, as Docker maps it (to its
//! default bridge's gateway, `docker0`'s address, unless `--host-gateway-ip` says otherwise).
//!
//! The lines are resolved once, at create, and travel in the plan: chapter 07 rewrites a
//! networked container's hosts file whenever its network's members change, and writes them
//! each time; a container without a network gets them in the file chapter 03 made.

use super::attachments::Plan;
use super::record::HostConfig;
use super::{ApiError, ApiResult, Engine};
use ch07_volumes_network::network::{self, DEFAULT_NETWORK};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// The hosts(5) lines `HostConfig.ExtraHosts` asks for (`NAME:ADDRESS`, or `NAME=ADDRESS`
/// as newer clients write it); `gateway` answers `host-gateway`, asked only when used.
pub fn lines(
    host: &HostConfig,
    gateway: impl Fn() -> ApiResult<Ipv4Addr>,
) -> ApiResult<Vec<String>> {
    let mut lines = Vec::new();
    for entry in host.extra_hosts.iter().flatten() {
        let bad = |why: &str| {
            ApiError::bad_request(format!(
                "invalid ExtraHosts entry {entry:?} (--add-host NAME:ADDRESS): {why}"
            ))
        };
        // The name cannot hold ':' or '=', an IPv6 address can: split at the first.
        let (name, address) = entry
            .split_once(['=', ':'])
            .ok_or_else(|| bad("no ':' between the name and the address"))?;
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('#') {
            return Err(bad("the name is empty or has blanks or '#'"));
        }
        let address: IpAddr = match address {
            "host-gateway" => IpAddr::V4(gateway()?),
            // Docker accepts an IPv6 address in brackets too.
            other => other
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| bad("the address is not an IP address (or host-gateway)"))?,
        };
        lines.push(format!("{address}\t{name}"));
    }
    Ok(lines)
}

/// Add `lines` to the hosts file at `path` (the one chapter 03 wrote at create).
pub fn append(path: &Path, lines: &[String]) -> ApiResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut file = std::fs::File::options()
        .append(true)
        .open(path)
        .map_err(|e| ApiError::internal(format!("open {}: {e}", path.display())))?;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    file.write_all(text.as_bytes())
        .map_err(|e| ApiError::internal(format!("write {}: {e}", path.display())))
}

impl Engine {
    /// `host-gateway`: the gateway of the container's network, or of the default bridge for
    /// a container on `none` or `host` (Docker's choice too).
    pub fn host_gateway(&self, plan: &Plan) -> ApiResult<Ipv4Addr> {
        let name = match (&plan.network, &self.default_bridge) {
            (Some(name), _) => name.as_str(),
            (None, Some(_)) => DEFAULT_NETWORK,
            (None, None) => return Err(ApiError::bad_request(
                "--add-host NAME:host-gateway needs a bridge (the daemon runs with --bridge none)",
            )),
        };
        Ok(network::get(&self.root, name)?.gateway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(entries: &[&str]) -> HostConfig {
        HostConfig {
            extra_hosts: Some(entries.iter().map(|e| e.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn names_and_addresses_become_hosts_lines() {
        let gateway = || Ok(Ipv4Addr::new(10, 88, 0, 1));
        assert_eq!(
            lines(
                &host(&["db:10.0.0.5", "v6:fd00::1", "gw=host-gateway", "b:[::1]"]),
                gateway
            )
            .unwrap(),
            ["10.0.0.5\tdb", "fd00::1\tv6", "10.88.0.1\tgw", "::1\tb"]
        );
        for (bad, words) in [
            ("nocolon", "no ':'"),
            ("db:not-an-ip", "not an IP address"),
            (":1.2.3.4", "the name is empty"),
        ] {
            let error = lines(&host(&[bad]), gateway).unwrap_err();
            assert_eq!(error.status, 400);
            assert!(error.message.contains(words), "{}", error.message);
            assert!(error.message.contains(bad), "{}", error.message);
        }
    }
}
