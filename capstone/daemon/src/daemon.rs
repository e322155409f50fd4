//! `baleia daemon`: the engine behind a unix socket.
//!
//! On start it re-adopts the containers whose supervisors kept them running while no daemon
//! was there (and marks the ones that ended), then serves the API, one thread per connection.
//! Stopping the daemon (SIGTERM, SIGINT, even SIGKILL) leaves the containers running: they
//! belong to their supervisors, not to the daemon.

use crate::engine::Engine;
use anyhow::{bail, Context, Result};
use ch04_images::Store;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `unix:///run/baleia/baleia.sock` or a plain path → the path.
pub use baleia_wire::socket_path;

pub struct Options {
    pub root: PathBuf,
    pub socket: PathBuf,
    pub cgroup_parent: String,
    /// The default network's bridge (`none`: no default network; `None`: the root's own, see
    /// chapter 07's `network::default_bridge`), and its address/prefix (`None`: a free one).
    pub bridge: Option<String>,
    pub bip: Option<String>,
    pub ip: std::net::IpAddr,
    /// The group that may use the socket besides root (`baleia`, as dockerd's `docker`):
    /// used when it exists.
    pub group: String,
    /// What a client may send and how long it may take (see [`crate::http::Limits`]).
    pub limits: crate::http::Limits,
}

/// `--cgroup-driver`: only `cgroupfs`. The daemon makes each container's cgroup itself, at
/// `/PARENT/ID` from the root of the hierarchy, as dockerd's cgroupfs driver does
/// (`/docker/ID`); systemd leaves cgroups it did not make alone (docs/decisions.md, "Real
/// hosts"). dockerd's `systemd` driver asks systemd over D-Bus for a transient scope per
/// container instead: not done here, so asking for it fails rather than being ignored.
pub fn check_cgroup_driver(driver: &str) -> Result<()> {
    match driver {
        "cgroupfs" => Ok(()),
        "systemd" => bail!(
            "--cgroup-driver systemd is not supported: baleia makes containers' cgroups itself \
             (--cgroup-driver cgroupfs, under --cgroup-parent); systemd leaves them alone"
        ),
        other => bail!("--cgroup-driver {other}: unknown driver (the one supported is cgroupfs)"),
    }
}

/// `--bridge IF --bip 10.77.0.1/16` → Some((IF, Some("10.77.0.0/16"))); `--bridge none` →
/// None; no `--bridge`: the state root's own bridge (`baleia0` for the default root); no
/// `--bip`: `None`, a free subnet chosen when the network is made. As dockerd's `--bip`, the
/// address is the bridge's own with the subnet's prefix; chapter 07 gives the bridge the
/// subnet's first address.
pub fn default_bridge(
    root: &Path,
    bridge: Option<&str>,
    bip: Option<&str>,
) -> Result<Option<(String, Option<String>)>> {
    let bridge = match bridge {
        Some("none") => return Ok(None),
        Some(bridge) => bridge.to_string(),
        None => ch07_volumes_network::network::default_bridge(root),
    };
    let Some(bip) = bip else {
        return Ok(Some((bridge, None)));
    };
    let bad = || anyhow::anyhow!("--bip {bip}: expected an address and prefix, like 10.77.0.1/16");
    let (address, prefix) = bip.split_once('/').ok_or_else(bad)?;
    let address: std::net::Ipv4Addr = address.parse().map_err(|_| bad())?;
    let prefix: u32 = prefix.parse().map_err(|_| bad())?;
    if !(8..=30).contains(&prefix) {
        bail!("--bip {bip}: the prefix must be between /8 and /30");
    }
    let network = std::net::Ipv4Addr::from(u32::from(address) & (u32::MAX << (32 - prefix)));
    Ok(Some((bridge, Some(format!("{network}/{prefix}")))))
}

/// At most this many connections at once: each holds a thread. Beyond it a client gets `503`
/// at once instead of a thread.
const MAX_CONNECTIONS: usize = 1024;

pub fn run(options: Options) -> Result<()> {
    limit_malloc_arenas();
    // Whatever our parent left open (a terminal's pipes...) would otherwise pass on to every
    // exec helper we start.
    crate::shim::close_inherited_fds(2);
    let exe = std::env::current_exe().context("find our own executable")?;
    std::fs::create_dir_all(&options.root)
        .with_context(|| format!("create {}", options.root.display()))?;
    let store = Store::open(&options.root)?;
    let layout = ch02_cgroups::Layout::detect()?;
    let engine = Arc::new(Engine {
        root: options.root.clone(),
        store,
        cgroup_parent: options.cgroup_parent,
        exe,
        cgroup_v2: layout.mode.is_v2(),
        default_bridge: default_bridge(
            &options.root,
            options.bridge.as_deref(),
            options.bip.as_deref(),
        )?,
        default_bind_ip: options.ip,
        names: Mutex::new(()),
        starting: Mutex::new(()),
        removed: Mutex::new(HashMap::new()),
        execs: Mutex::new(HashMap::new()),
        changes: Default::default(),
        index: Mutex::new(crate::engine::index::Index::load(
            &options.root.join("containers"),
        )),
    });
    // Before serving: a crashed supervisor's lease must not hold an address a new container
    // could have.
    engine.reclaim_networks();
    // Once, where an administrator looks: what the networks lack without iptables. (Clients
    // see it in `info`, and the client that starts this daemon prints it.)
    if let Err(unavailable) = ch07_volumes_network::network::nat::check() {
        eprintln!("baleia daemon: WARNING: {unavailable}");
    }
    let listener = listen(&options.socket, &options.group)?;
    stop_on_signals(options.socket.clone())?;
    engine.reclaim_half_made();
    engine.adopt();
    eprintln!(
        "baleia daemon: API {} on unix://{} (state in {})",
        crate::http::API_VERSION,
        options.socket.display(),
        options.root.display()
    );
    let open = Arc::new(AtomicUsize::new(0));
    let limits = options.limits;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let (slot, before) = Slot::take(&open);
        if before >= MAX_CONNECTIONS {
            let _ = stream.write_all(crate::http::TOO_BUSY);
            continue;
        }
        let engine = engine.clone();
        std::thread::spawn(move || {
            let _slot = slot;
            crate::http::serve(stream, &limits, &|request| answer(&engine, request));
        });
    }
    Ok(())
}

/// One open connection, counted while it lives. Given back when dropped: at the end of the
/// connection's thread, and also when a panic unwinds it, so no panic ever uses up one of the
/// MAX_CONNECTIONS slots for good.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    /// A slot, and how many were open before it.
    fn take(open: &Arc<AtomicUsize>) -> (Slot, usize) {
        let before = open.fetch_add(1, Ordering::SeqCst);
        (Slot(open.clone()), before)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The handler boundary: a request whose handler panics (a bug) is answered `500` and the
/// panic logged, and the daemon serves on. std::panic::catch_unwind stops the unwinding here;
/// the locks a panicking handler held are poisoned, and the engine takes them anyway (the
/// data behind each is valid between statements).
fn answer(engine: &Arc<Engine>, request: crate::http::Request) -> crate::http::Response {
    let what = format!("{} {}", request.method, request.path);
    guarded(&what, || crate::api::handle(engine, request))
}

/// Run `handler`; its panic becomes a 500 (see [`answer`]).
fn guarded(what: &str, handler: impl FnOnce() -> crate::http::Response) -> crate::http::Response {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(handler))
        .unwrap_or_else(|panic| internal_error(what, panic.as_ref()))
}

/// The 500 of a handler that panicked; the panic's message goes to the daemon's log (the
/// default hook has printed where it happened already).
fn internal_error(what: &str, panic: &(dyn std::any::Any + Send)) -> crate::http::Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    eprintln!("baleia daemon: {what}: the handler panicked ({message}); answered 500");
    crate::http::Response::json(
        500,
        &serde_json::json!({ "message": format!("internal error in {what}: {message}") }),
    )
}

/// Bind the socket. A socket file nobody answers on is a leftover of a daemon that was
/// killed: replace it. One that answers belongs to a running daemon: refuse.
///
/// Like /var/run/docker.sock, whoever may connect may run anything as root, so the socket is
/// `root:GROUP` (or `root:root` without that group) with mode 0660 (unix(7): connecting needs
/// write permission on the socket file). It is *born* closed: the umask is 0177 while bind(2)
/// creates it, so there is no moment when it is 0777 for another user to connect. It is bound
/// under a temporary name and renamed into place once its owner and mode are final, so a
/// client that finds the socket never sees it half-made (rename(2) is atomic).
fn listen(socket: &Path, group: &str) -> Result<UnixListener> {
    use nix::sys::stat::{umask, Mode};
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    if socket.exists() {
        if UnixStream::connect(socket).is_ok() {
            bail!("a daemon is already listening on {}", socket.display());
        }
        std::fs::remove_file(socket)
            .with_context(|| format!("remove stale socket {}", socket.display()))?;
    }
    let mut temporary = socket.as_os_str().to_owned();
    temporary.push(format!(".{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    // The umask is the process's: this runs before any other thread exists.
    let old = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&temporary);
    umask(old);
    let listener = bound.with_context(|| format!("bind {}", temporary.display()))?;
    let made = set_owner_and_mode(&temporary, group).and_then(|()| {
        std::fs::rename(&temporary, socket)
            .with_context(|| format!("rename {} to {}", temporary.display(), socket.display()))
    });
    if made.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    made.map(|()| listener)
}

/// `root:GROUP` (`root:root` without that group), mode 0660. An ordinary user's daemon
/// runs containers as that user only: its socket stays the user's own, mode 0600 (as bound),
/// in the user's private runtime directory.
fn set_owner_and_mode(socket: &Path, group: &str) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    let gid = nix::unistd::Group::from_name(group)
        .ok()
        .flatten()
        .map(|g| g.gid);
    std::os::unix::fs::chown(socket, Some(0), gid.map(|g| g.as_raw()))
        .with_context(|| format!("chown {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("chmod 0660 {}", socket.display()))
}

/// SIGTERM and SIGINT: remove the socket and exit. Containers keep running.
fn stop_on_signals(socket: PathBuf) -> Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    // Blocked here, before any other thread exists, so every thread inherits the mask and
    // only the waiting thread below receives them. (Supervisors are started with
    // `Command`, which resets the mask.)
    set.thread_block()?;
    std::thread::spawn(move || {
        let _ = set.wait();
        let _ = std::fs::remove_file(&socket);
        eprintln!("baleia daemon: stopping; containers keep running");
        std::process::exit(0);
    });
    Ok(())
}

/// The daemon serves each connection on a thread of its own, and glibc's allocator gives
/// threads arenas of their own (up to eight per core), each keeping what was freed in it: an
/// idle daemon would keep the memory of its busiest moment spread over many arenas. Two are
/// plenty for an API whose threads mostly wait. (mallopt(3), M_ARENA_MAX; the environment
/// variable MALLOC_ARENA_MAX does the same.)
fn limit_malloc_arenas() {
    // SAFETY: mallopt only changes the allocator's parameters; called before other threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_is_answered_500_and_gives_its_connection_slot_back() {
        let open = Arc::new(AtomicUsize::new(0));
        let (slot, before) = Slot::take(&open);
        assert_eq!(before, 0);
        let thread = std::thread::spawn(move || {
            let _slot = slot;
            let response = guarded("POST /containers/create", || panic!("attempt to multiply"));
            let crate::http::Response::Full { status, body, .. } = response else {
                panic!("a 500 with a JSON body expected");
            };
            assert_eq!(status, 500);
            let body = String::from_utf8_lossy(&body).into_owned();
            assert!(body.contains("POST /containers/create"), "{body}");
            assert!(body.contains("attempt to multiply"), "{body}");
            panic!("the connection's thread dies too");
        });
        assert!(thread.join().is_err());
        assert_eq!(open.load(Ordering::SeqCst), 0, "the slot was given back");
    }

    #[test]
    fn bip_gives_the_default_networks_subnet_and_none_disables_it() {
        let root = Path::new("/var/lib/baleia");
        assert_eq!(
            default_bridge(root, Some("baleia0"), Some("10.77.0.1/16")).unwrap(),
            Some(("baleia0".into(), Some("10.77.0.0/16".into())))
        );
        assert_eq!(
            default_bridge(root, Some("bt1"), Some("10.213.42.1/24"))
                .unwrap()
                .unwrap()
                .1,
            Some("10.213.42.0/24".into())
        );
        assert_eq!(
            default_bridge(root, Some("none"), Some("whatever")).unwrap(),
            None
        );
        for bad in ["10.77.0.1", "10.77.0.1/33", "10.77.0.1/4", "x/16"] {
            assert!(default_bridge(root, Some("b"), Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn without_flags_each_root_has_its_own_bridge_and_a_free_subnet() {
        let default = default_bridge(Path::new("/var/lib/baleia"), None, None).unwrap();
        assert_eq!(default, Some(("baleia0".into(), None)));
        let (a, _) = default_bridge(Path::new("/srv/a"), None, None)
            .unwrap()
            .unwrap();
        let (b, _) = default_bridge(Path::new("/srv/b"), None, None)
            .unwrap()
            .unwrap();
        assert!(a.starts_with("baleia-") && a.len() == 15, "{a}");
        assert_ne!(a, b);
    }
}
