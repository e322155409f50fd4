//! IPv4 subnets in CIDR notation (`10.213.1.0/24`): parsing, and the addresses inside one.

use crate::error::{Error, Result};
use std::net::Ipv4Addr;

/// A network address and prefix length, the host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl std::str::FromStr for Subnet {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("{text:?} is not a subnet like 10.213.1.0/24"));
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(Error::Invalid(format!(
                "subnet {text}: the prefix must be between /8 and /30"
            )));
        }
        let subnet = Subnet {
            network: Ipv4Addr::from(u32::from(address) & mask(prefix)),
            prefix,
        };
        if subnet.network != address {
            return Err(Error::Invalid(format!(
                "subnet {text}: host bits set (did you mean {subnet}?)"
            )));
        }
        Ok(subnet)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    u32::MAX << (32 - prefix as u32)
}

impl Subnet {
    /// The first host address: the bridge's own (the containers' gateway), as Docker does.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !mask(self.prefix))
    }

    pub fn contains(&self, address: Ipv4Addr) -> bool {
        u32::from(address) & mask(self.prefix) == u32::from(self.network)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let shorter = self.prefix.min(other.prefix);
        u32::from(self.network) & mask(shorter) == u32::from(other.network) & mask(shorter)
    }

    /// The lowest address for a container: not the network, gateway or broadcast address, and
    /// not in `taken`.
    pub fn first_free(&self, taken: &[Ipv4Addr]) -> Option<Ipv4Addr> {
        let first = u32::from(self.gateway()) + 1;
        let last = u32::from(self.broadcast()) - 1;
        (first..=last)
            .map(Ipv4Addr::from)
            .find(|address| !taken.contains(address))
    }
}

/// The IPv4 subnets the host routes to already (`/proc/net/route`: hex, little-endian): a new
/// network must not shadow one of them.
pub fn host_routes() -> Vec<Subnet> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    parse_routes(&text)
}

fn parse_routes(text: &str) -> Vec<Subnet> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let destination = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            let prefix = u32::from_be(mask.swap_bytes()).count_ones() as u8;
            // The default route (0.0.0.0/0) overlaps everything and says nothing.
            (prefix > 0).then(|| Subnet {
                network: Ipv4Addr::from(u32::from_le(destination).swap_bytes()),
                prefix,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_addresses() {
        let subnet: Subnet = "10.213.7.0/24".parse().unwrap();
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 213, 7, 1));
        assert_eq!(subnet.broadcast(), Ipv4Addr::new(10, 213, 7, 255));
        assert!(subnet.contains(Ipv4Addr::new(10, 213, 7, 9)));
        assert!(!subnet.contains(Ipv4Addr::new(10, 213, 8, 9)));
        assert!(subnet.overlaps(&"10.213.0.0/16".parse().unwrap()));
        assert!(!subnet.overlaps(&"10.213.8.0/24".parse().unwrap()));
        assert!("10.213.7.5/24".parse::<Subnet>().is_err());
        assert!("10.213.7.0".parse::<Subnet>().is_err());
        assert!("10.0.0.0/31".parse::<Subnet>().is_err());
    }

    #[test]
    fn host_routes_are_read_from_proc_net_route() {
        let text = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\n\
                    eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n";
        assert_eq!(
            parse_routes(text),
            ["192.0.2.0/24".parse::<Subnet>().unwrap()]
        );
    }

    #[test]
    fn the_allocator_skips_taken_addresses_and_never_hands_out_the_broadcast() {
        let subnet: Subnet = "10.213.9.0/30".parse().unwrap();
        assert_eq!(subnet.first_free(&[]), Some(Ipv4Addr::new(10, 213, 9, 2)));
        assert_eq!(subnet.first_free(&[Ipv4Addr::new(10, 213, 9, 2)]), None);
        let wide: Subnet = "10.213.10.0/24".parse().unwrap();
        let taken = [Ipv4Addr::new(10, 213, 10, 2), Ipv4Addr::new(10, 213, 10, 3)];
        assert_eq!(wide.first_free(&taken), Some(Ipv4Addr::new(10, 213, 10, 4)));
    }
}
