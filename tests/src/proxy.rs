//! A TCP proxy on 127.0.0.1 that forwards to a server (a test registry) and can *stall*: after
//! a number of bytes in one direction on a connection it stops forwarding, as a network that
//! hangs would. Tests use it to catch a client in the middle of a blob (to kill the daemon
//! there, or to see the client's timeout), then [`Proxy::unstall`] to let the next attempt
//! through.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Which way the budget counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Server to client (a download).
    Down,
    /// Client to server (an upload).
    Up,
}

pub struct Proxy {
    pub addr: String,
    /// Bytes a connection may carry in the counted direction before it stalls; usize::MAX
    /// for none.
    budget: Arc<AtomicUsize>,
    stalled: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(upstream: &str, direction: Direction, budget: usize) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let proxy = Proxy {
            addr: listener.local_addr().unwrap().to_string(),
            budget: Arc::new(AtomicUsize::new(budget)),
            stalled: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let upstream = upstream.to_string();
        let (budget, stalled, stop) = (
            proxy.budget.clone(),
            proxy.stalled.clone(),
            proxy.stop.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let limit = budget.load(Ordering::SeqCst);
                let done = Arc::new(AtomicBool::new(false));
                for (from, to, counted) in [
                    (
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        direction == Direction::Up,
                    ),
                    (server, client, direction == Direction::Down),
                ] {
                    let (stalled, stop, done) = (stalled.clone(), stop.clone(), done.clone());
                    let limit = if counted { limit } else { usize::MAX };
                    std::thread::spawn(move || {
                        pump(from, to, limit, &stalled, &stop, &done);
                        done.store(true, Ordering::SeqCst);
                    });
                }
            }
        });
        proxy
    }

    /// How many connections are stalled now.
    pub fn stalled(&self) -> usize {
        self.stalled.load(Ordering::SeqCst)
    }

    /// New connections are not stalled any more.
    pub fn unstall(&self) {
        self.budget.store(usize::MAX, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Copy until either side closes; past `limit` bytes, hold on (carrying nothing more) until
/// the proxy stops or the other direction ends (`done`: the client gave up).
fn pump(
    mut from: TcpStream,
    mut to: TcpStream,
    limit: usize,
    stalled: &AtomicUsize,
    stop: &AtomicBool,
    done: &AtomicBool,
) {
    let mut carried = 0usize;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let room = limit.saturating_sub(carried).min(buf.len());
        if room == 0 {
            stalled.fetch_add(1, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) && !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            stalled.fetch_sub(1, Ordering::SeqCst);
            break;
        }
        match from.read(&mut buf[..room]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
                carried += n;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}
