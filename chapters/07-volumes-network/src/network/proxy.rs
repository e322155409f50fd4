//! Publishing ports with a userland proxy, as `docker-proxy` does: the engine listens on the
//! host's port and copies every connection (or datagram) to the container's address.
//!
//! Why not DNAT? A `-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to 10.77.0.2:80` rule is
//! faster (the kernel rewrites packets, nothing is copied), but it does not apply to packets
//! that the host sends to itself on 127.0.0.1: those skip PREROUTING and need an OUTPUT rule
//! plus `route_localnet`, and the container sees the client's real address only with DNAT.
//! Docker uses both: DNAT for traffic from outside, the proxy for the loopback cases. A
//! proxy is a plain program we can read and test; its cost is a copy per byte and that the
//! container sees the host's bridge address as the client.
//!
//! The proxy binds its listening socket *before* the container starts, so a port already in
//! use is an error at `run`, not a silent failure later. It runs as threads of the engine and
//! stops when [`Proxy`] is dropped.
//!
//! Its threads block in `accept(2)` and `recvfrom(2)`: an idle proxy costs no CPU (a
//! supervisor may hold one for weeks). To stop them, the drop calls `shutdown(2)` on their
//! sockets, which wakes a blocked `accept` or `recvfrom` with an error (for an unconnected UDP
//! socket too: Linux does it on purpose, see `inet_shutdown`).

use crate::error::{Error, Result};
use crate::network::ports::{PortSpec, Protocol};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use std::collections::HashMap;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A published port: where the host listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub spec: PortSpec,
    /// The real host address and port (the port is chosen by the kernel for port 0).
    pub host: SocketAddr,
}

enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Listening sockets, bound but not serving yet (the container's address is not known).
pub struct Bound {
    sockets: Vec<(Published, Socket)>,
}

/// Bind every published port on the host.
pub fn bind(specs: &[PortSpec]) -> Result<Bound> {
    let mut sockets = Vec::new();
    for spec in specs {
        let address = SocketAddr::new(spec.host_ip, spec.host_port);
        let in_use = |e: std::io::Error| {
            Error::InUse(format!(
                "-p {}:{}:{}/{}: cannot listen on {address}: {e}",
                spec.host_ip, spec.host_port, spec.container_port, spec.protocol
            ))
        };
        explain!(
            "bind({address}/{}): the userland proxy listens on the host",
            spec.protocol
        );
        let socket = match spec.protocol {
            Protocol::Tcp => Socket::Tcp(TcpListener::bind(address).map_err(in_use)?),
            Protocol::Udp => Socket::Udp(UdpSocket::bind(address).map_err(in_use)?),
        };
        let host = match &socket {
            Socket::Tcp(s) => s.local_addr(),
            Socket::Udp(s) => s.local_addr(),
        }
        .map_err(Error::file("getsockname", address.to_string()))?;
        sockets.push((Published { spec: *spec, host }, socket));
    }
    Ok(Bound { sockets })
}

impl Bound {
    pub fn published(&self) -> Vec<Published> {
        self.sockets.iter().map(|(p, _)| *p).collect()
    }

    /// Start copying to `container` (its address on its network).
    pub fn serve(self, container: IpAddr) -> Result<Proxy> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut sockets = Vec::new();
        for (published, socket) in self.sockets {
            let target = SocketAddr::new(container, published.spec.container_port);
            explain!(
                "proxy {} -> {target}/{}",
                published.host,
                published.spec.protocol
            );
            let stop = stop.clone();
            threads.push(match socket {
                Socket::Tcp(listener) => {
                    let listener = Arc::new(listener);
                    sockets.push(Shared::Tcp(listener.clone()));
                    std::thread::spawn(move || serve_tcp(&listener, target, &stop))
                }
                Socket::Udp(socket) => {
                    let socket = Arc::new(socket);
                    sockets.push(Shared::Udp(socket.clone()));
                    std::thread::spawn(move || serve_udp(socket, target, &stop))
                }
            });
        }
        Ok(Proxy {
            stop,
            threads,
            sockets,
        })
    }
}

/// A listening socket, held by its thread and by the [`Proxy`] (which shuts it down).
enum Shared {
    Tcp(Arc<TcpListener>),
    Udp(Arc<UdpSocket>),
}

/// Running proxies; dropping this stops them and closes the listening sockets.
pub struct Proxy {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    sockets: Vec<Shared>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for socket in self.sockets.drain(..) {
            let fd = match &socket {
                Shared::Tcp(s) => s.as_raw_fd(),
                Shared::Udp(s) => s.as_raw_fd(),
            };
            // SAFETY: the socket is ours (held by `socket` until the end of this iteration);
            // shutdown only wakes its blocked readers, the close comes with the last Arc.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

fn serve_tcp(listener: &TcpListener, target: SocketAddr, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((client, _)) => {
                std::thread::spawn(move || {
                    if let Ok(upstream) =
                        TcpStream::connect_timeout(&target, Duration::from_secs(5))
                    {
                        splice(client, upstream);
                    }
                });
            }
            // Shut down by the drop (the loop ends), or out of file descriptors: wait a bit.
            Err(_) if stop.load(Ordering::Relaxed) => break,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Copy both ways until each side has closed its half.
fn splice(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut client_read), Ok(mut upstream_read)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let (mut client_write, mut upstream_write) = (client, upstream);
    let there = std::thread::spawn(move || {
        let _ = std::io::copy(&mut client_read, &mut upstream_write);
        let _ = upstream_write.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut upstream_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    let _ = there.join();
}

fn serve_udp(socket: Arc<UdpSocket>, target: SocketAddr, stop: &AtomicBool) {
    // One upstream socket per client, so replies find their way back.
    let clients: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buffer = [0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let received = socket.recv_from(&mut buffer);
        if stop.load(Ordering::Relaxed) {
            break; // woken by the drop's shutdown
        }
        let Ok((len, client)) = received else {
            continue;
        };
        let upstream = {
            let mut map = clients.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(up) = map.get(&client) {
                up.clone()
            } else {
                let bind_any = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);
                let Ok(up) = UdpSocket::bind(bind_any) else {
                    continue;
                };
                if up.connect(target).is_err() {
                    continue;
                }
                let _ = up.set_read_timeout(Some(Duration::from_secs(30)));
                let up = Arc::new(up);
                map.insert(client, up.clone());
                let (reply_to, back, replies) = (socket.clone(), up.clone(), clients.clone());
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 65536];
                    while let Ok(n) = back.recv(&mut buffer) {
                        let _ = reply_to.send_to(&buffer[..n], client);
                    }
                    replies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&client);
                });
                up
            }
        };
        let _ = upstream.send(&buffer[..len]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::Ipv4Addr;

    const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn spec(protocol: Protocol, container_port: u16) -> PortSpec {
        PortSpec {
            host_ip: LOCALHOST,
            host_port: 0,
            container_port,
            protocol,
        }
    }

    #[test]
    fn tcp_connections_are_copied_both_ways_and_stop_with_the_proxy() {
        // The "container": an upper-casing echo server on loopback.
        let server = TcpListener::bind((LOCALHOST, 0)).unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut conn, _) = server.accept().unwrap();
            let mut text = String::new();
            conn.read_to_string(&mut text).unwrap();
            conn.write_all(text.to_uppercase().as_bytes()).unwrap();
        });
        let bound = bind(&[spec(Protocol::Tcp, port)]).unwrap();
        let host = bound.published()[0].host;
        assert_ne!(host.port(), 0, "the kernel chose a port");
        let proxy = bound.serve(LOCALHOST).unwrap();
        let mut client = TcpStream::connect(host).unwrap();
        client.write_all(b"hello").unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "HELLO");
        drop(proxy);
        assert!(TcpStream::connect(host).is_err(), "closed with the proxy");
    }

    #[test]
    fn udp_datagrams_are_relayed_and_replies_come_back() {
        let server = UdpSocket::bind((LOCALHOST, 0)).unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 64];
            let (n, from) = server.recv_from(&mut buffer).unwrap();
            server
                .send_to(&buffer[..n].to_ascii_uppercase(), from)
                .unwrap();
        });
        let bound = bind(&[spec(Protocol::Udp, port)]).unwrap();
        let host = bound.published()[0].host;
        let proxy = bound.serve(LOCALHOST).unwrap();
        let client = UdpSocket::bind((LOCALHOST, 0)).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.send_to(b"ping", host).unwrap();
        let mut buffer = [0u8; 64];
        let n = client.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..n], b"PING");
        // The drop wakes the thread blocked in recvfrom at once (it has no timeout).
        let started = std::time::Instant::now();
        drop(proxy);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_busy_port_is_an_error_before_anything_starts() {
        let taken = TcpListener::bind((LOCALHOST, 0)).unwrap();
        let mut busy = spec(Protocol::Tcp, 80);
        busy.host_port = taken.local_addr().unwrap().port();
        assert!(matches!(bind(&[busy]), Err(Error::InUse(_))));
    }
}
