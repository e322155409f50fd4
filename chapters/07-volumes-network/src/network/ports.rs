//! What `-p` says: `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]`, or
//! `[HOST_IP:]:CONTAINER_PORT` / `CONTAINER_PORT` for "any free host port".

use crate::error::{Error, Result};
use std::net::{IpAddr, Ipv4Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One published port. `host_port` 0 means "the kernel picks a free one".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortSpec {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

fn port(text: &str, whole: &str) -> Result<u16> {
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(Error::Invalid(format!(
            "-p {whole}: {text:?} is not a port (1-65535)"
        ))),
    }
}

impl std::str::FromStr for PortSpec {
    type Err = Error;

    fn from_str(whole: &str) -> Result<Self> {
        // exercise 07.4: -p's forms: [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]
        let (rest, protocol) = match whole.rsplit_once('/') {
            Some((rest, "tcp")) => (rest, Protocol::Tcp),
            Some((rest, "udp")) => (rest, Protocol::Udp),
            Some((_, other)) => {
                return Err(Error::Invalid(format!(
                    "-p {whole}: unknown protocol {other:?} (tcp, udp)"
                )))
            }
            None => (whole, Protocol::Tcp),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let (host_ip, host_port, container_port) = match parts.as_slice() {
            [c] => (any, "", *c),
            [h, c] => (any, *h, *c),
            [ip, h, c] => (
                ip.parse::<IpAddr>().map_err(|_| {
                    Error::Invalid(format!("-p {whole}: {ip:?} is not an IP address"))
                })?,
                *h,
                *c,
            ),
            _ => {
                return Err(Error::Invalid(format!(
                    "-p {whole}: expected [HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp]"
                )))
            }
        };
        Ok(PortSpec {
            host_ip,
            host_port: if host_port.is_empty() {
                0
            } else {
                port(host_port, whole)?
            },
            container_port: port(container_port, whole)?,
            protocol,
        })
        // end of exercise 07.4
    }
}

/// The image's `ExposedPorts` (`80/tcp`), as `-P` publishes them: any free host port.
pub fn from_exposed(exposed: &[String]) -> Result<Vec<PortSpec>> {
    exposed
        .iter()
        .map(|e| {
            let mut spec: PortSpec = e.parse()?;
            spec.host_port = 0;
            Ok(spec)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_of_p() {
        let full: PortSpec = "127.0.0.1:8080:80/tcp".parse().unwrap();
        assert_eq!(full.host_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!((full.host_port, full.container_port), (8080, 80));
        let udp: PortSpec = "5353:53/udp".parse().unwrap();
        assert_eq!(udp.protocol, Protocol::Udp);
        assert!(udp.host_ip.is_unspecified());
        let any: PortSpec = "80".parse().unwrap();
        assert_eq!((any.host_port, any.container_port), (0, 80));
        for bad in [
            "0:80",
            "80:70000",
            "x:80",
            "1.2.3:80:80",
            "80/sctp",
            "a:b:c:d",
        ] {
            assert!(bad.parse::<PortSpec>().is_err(), "{bad}");
        }
        assert_eq!(
            from_exposed(&["8080/tcp".into()]).unwrap()[0].container_port,
            8080
        );
    }
}
