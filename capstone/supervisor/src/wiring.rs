//! The supervisor's wiring of chapter 07 around the runtime: a container's volumes, its place
//! on a network, and the userland proxy of its published ports (the plan `create` made, see
//! the daemon's `engine::attachments`).
//!
//! Why in the supervisor, not in the daemon or the runtime?
//! - **The network attach is a parent-side step** (chapter 01): it needs the container's
//!   process to exist (its network namespace is `/proc/PID/ns/net`) and to wait until its
//!   `eth0` is up, so the program starts with its network ready. Only the process that
//!   clones the container can run such a step: that is the supervisor, through
//!   [`runtime::start_with`](baleia_runtime::start_with). (Docker does it at the same moment
//!   with runc's prestart hook.)
//! - **Tearing down must not need the daemon.** The supervisor is the one that learns, with
//!   `waitpid(2)`, that the container has ended: it releases the lease and the veth then,
//!   whether or not a daemon is running. If the supervisor itself is killed, the lease names
//!   a process that is gone: chapter 07 reclaims it at the next start on that network, and
//!   the daemon reclaims every network's stale leases when it starts.
//! - **The proxy must live as long as the container**, not as long as the daemon: it is a
//!   set of threads in the supervisor, so a published port keeps answering while the daemon
//!   is stopped, killed or restarted, and closes when the container ends (or when its
//!   supervisor dies: the kernel closes the sockets).
//! - **Volumes are open_tree(2) file descriptors** the container's process inherits through
//!   `clone`: they must be opened by its parent, just before it starts.

use anyhow::{Context, Result};
use baleia_runtime::Extra;
use baleia_wire::attachments::{Endpoint, Plan, ENDPOINT_FILE, PORTS_FILE};
use baleia_wire::record::{write_json, Record};
use ch03_overlayfs::ContainerDirs;
use ch07_volumes_network::network::proxy::{self, Proxy};
use ch07_volumes_network::network::{self, Attachment};
use ch07_volumes_network::volumes;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What was set up for one run of the container; dropping it undoes the network part (the
/// proxy first, so no new connection goes to an address being released).
pub struct Wiring {
    dir: PathBuf,
    attachment: Rc<RefCell<Option<Attachment>>>,
    proxy: Rc<RefCell<Option<Proxy>>>,
}

/// Prepare the container in `dir` for a start: its mounts (opened now) and, on a network, its
/// host ports (bound now: a busy port fails the start before anything runs) and the
/// parent-side step that attaches it and starts the proxy.
pub fn prepare(root: &Path, dir: &Path, record: &Record) -> Result<(Extra, Wiring)> {
    let plan = Plan::load(dir);
    let dirs = ContainerDirs {
        id: record.id.clone(),
        dir: dir.to_path_buf(),
    };
    let wiring = Wiring {
        dir: dir.to_path_buf(),
        attachment: Rc::default(),
        proxy: Rc::default(),
    };
    let mut extra = Extra::default();
    if !plan.mounts.is_empty() {
        let specs: Vec<_> = plan.mounts.iter().map(|m| m.spec()).collect();
        // Every volume has its name already: this finds them, fills new ones from the image
        // (inside, after pivot_root), and makes the mount points in the init layer.
        let prepared = volumes::prepare(root, &dirs, &[], &specs)?;
        extra.after_root.push((
            "mount the volumes".into(),
            Box::new(prepared.into_child_step()),
        ));
    }
    let Some(name) = plan.network.clone() else {
        return Ok((extra, wiring));
    };
    let mut bound = Some(proxy::bind(&plan.ports)?);
    // The lease's name is written as one line of the network's hosts files (chapter 07's
    // hosts.rs): the aliases follow the name, space-separated, as hosts(5) allows.
    let names = std::iter::once(record.name.clone())
        .chain(plan.aliases.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let endpoint = network::Endpoint {
        container_id: record.id.clone(),
        name: Some(names),
        hostname: dirs.hostname()?,
        hosts_file: dir.join("hosts"),
        extra_hosts: plan.extra_hosts.clone(),
    };
    let (root, dir) = (root.to_path_buf(), dir.to_path_buf());
    let (attachment, proxy) = (wiring.attachment.clone(), wiring.proxy.clone());
    extra.parent.push((
        format!("attach to network {name}"),
        Box::new(move |pid| {
            let pid = pid.as_raw();
            let attached = network::attach(&root, &name, pid as u32, &endpoint)?;
            let config = network::get(&root, &name)?;
            let address = attached.address;
            attachment.replace(Some(attached.clone()));
            let shown = Endpoint {
                network: name.clone(),
                address,
                gateway: attached.gateway,
                prefix: config.subnet()?.prefix,
                mac: mac_address(pid, "eth0").unwrap_or_default(),
            };
            write_json(&dir.join(ENDPOINT_FILE), &shown)?;
            if let Some(bound) = bound.take() {
                write_json(&dir.join(PORTS_FILE), &bound.published())?;
                proxy.replace(Some(bound.serve(std::net::IpAddr::V4(address))?));
            }
            Ok(())
        }),
    ));
    Ok((extra, wiring))
}

impl Drop for Wiring {
    fn drop(&mut self) {
        if let Some(proxy) = self.proxy.take() {
            ch01_namespaces::explain!("the container has ended: stop its port proxy");
            drop(proxy);
        }
        for file in [PORTS_FILE, ENDPOINT_FILE] {
            let _ = std::fs::remove_file(self.dir.join(file));
        }
        if let Some(attached) = self.attachment.take() {
            if let Err(error) = attached.detach() {
                eprintln!("shim: detach from {}: {error}", attached.network);
            }
        }
        remove_v1_freezer(&self.dir);
    }
}

/// The v1 freezer cgroup `docker pause` made (see `engine/pause.rs`), once the container
/// has ended: its last processes may take a moment to leave it (rmdir(2) says EBUSY).
fn remove_v1_freezer(dir: &Path) {
    let spec: serde_json::Value =
        baleia_wire::record::read_json(&dir.join("config.json")).unwrap_or_default();
    let Some(path) = spec["linux"]["cgroupsPath"].as_str() else {
        return;
    };
    let Some(freezer) =
        baleia_runtime::oci::pause::freezer_v1_dir(Path::new(path.trim_start_matches('/')))
    else {
        return;
    };
    for _ in 0..100 {
        match std::fs::remove_dir(&freezer) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => return,
        }
    }
    eprintln!("shim: rmdir {}: still busy", freezer.display());
}

/// The hardware address of interface `name` in the network namespace of `pid`
/// (`SIOCGIFHWADDR`, see netdevice(7), on a socket made from a thread that joined it).
fn mac_address(pid: i32, name: &str) -> Result<String> {
    let path = format!("/proc/{pid}/ns/net");
    let netns = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
    let name = name.to_string();
    std::thread::spawn(move || -> Result<String> {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        // SAFETY: a plain socket(2); closed below.
        let socket =
            unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        anyhow::ensure!(socket >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: ifreq is plain data; all zeroes is a valid value.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes().take(15)) {
            *slot = byte as libc::c_char;
        }
        // SAFETY: SIOCGIFHWADDR reads the name and writes the address into `request`.
        let result = unsafe { libc::ioctl(socket, libc::SIOCGIFHWADDR, &mut request) };
        let error = std::io::Error::last_os_error();
        // SAFETY: our socket, closed once.
        unsafe { libc::close(socket) };
        anyhow::ensure!(result == 0, "SIOCGIFHWADDR {name}: {error}");
        // SAFETY: after SIOCGIFHWADDR the union holds the hardware address.
        let data = unsafe { request.ifr_ifru.ifru_hwaddr.sa_data };
        Ok(data[..6]
            .iter()
            .map(|b| format!("{:02x}", *b as u8))
            .collect::<Vec<_>>()
            .join(":"))
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the netns helper thread panicked"))?
}
