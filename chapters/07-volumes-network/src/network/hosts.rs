//! Name resolution between the containers of one network: each container's `/etc/hosts` lists
//! every member of its network by name, kept up to date as containers come and go.
//!
//! Docker runs a DNS server inside the engine for user networks; a hosts file is the simplest
//! thing that works with every resolver (even a static busybox's), and it needs no process.
//! Chapter 03 bind-mounts the engine's `hosts` file over `/etc/hosts`: a bind mount pins the
//! *inode*, so we rewrite the file in place (truncate and write) rather than replace it.

use crate::error::{Error, Result};
use crate::network::ipam::Lease;
use ch01_namespaces::common::Failure;
use std::io::Write;

/// The hosts file of the container holding `own`, on a network with `members` (itself
/// included), and the lines of its own it asked for.
pub fn render(own: &Lease, members: &[Lease]) -> String {
    let mut text =
        String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let line = |lease: &Lease| {
        let mut names = vec![lease.hostname.clone()];
        if let Some(name) = &lease.name {
            names.insert(0, name.clone());
        }
        format!("{}\t{}\n", lease.address, names.join(" "))
    };
    text.push_str(&line(own));
    for member in members
        .iter()
        .filter(|m| m.container_id != own.container_id)
    {
        text.push_str(&line(member));
    }
    for extra in &own.extra_hosts {
        text.push_str(&format!("{extra}\n"));
    }
    text
}

/// Rewrite every member's hosts file (those whose file is gone are skipped).
pub fn update_all(members: &[Lease]) -> Result<()> {
    for lease in members {
        let path = &lease.hosts_file;
        let Ok(mut file) = std::fs::File::options()
            .write(true)
            .truncate(true)
            .open(path)
        else {
            continue;
        };
        file.write_all(render(lease, members).as_bytes())
            .map_err(Error::file("write", path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn each_member_sees_itself_and_the_others_by_name() {
        let lease = |n: u8, name: Option<&str>| Lease {
            address: Ipv4Addr::new(10, 213, 1, n),
            container_id: format!("id{n}"),
            name: name.map(str::to_string),
            hostname: format!("host{n}"),
            pid: 1,
            start_time: 0,
            host_veth: String::new(),
            hosts_file: Default::default(),
            extra_hosts: Vec::new(),
        };
        let members = [lease(2, Some("web")), lease(3, None)];
        assert_eq!(
            render(&members[1], &members),
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             10.213.1.3\thost3\n10.213.1.2\tweb host2\n"
        );
    }
}
