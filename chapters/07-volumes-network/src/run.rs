//! `run`: chapter 04's image run, plus this chapter's volumes, network and published ports.
//!
//! ```text
//! customize (before the container exists):  volumes::prepare  -> child step "mount the volumes"
//!                                           proxy::bind (the host ports, so a busy port fails now)
//! parent-side step (its process exists):    network::attach   -> veth, eth0, address, route, hosts
//!                                           proxy serve       -> to the container's address
//! child-side steps (inside, after pivot_root): attach the volumes; then the image's config
//! after it ended:                           detach (veth, lease, hosts), stop the proxy,
//!                                           remove anonymous volumes (unless --keep)
//! ```

use crate::error::{Error, Result};
use crate::network::ports::{self, PortSpec};
use crate::network::proxy::{self, Bound, Proxy, Published};
use crate::network::{self, Attachment, Endpoint, NetworkMode, DEFAULT_NETWORK};
use crate::volumes::{self, spec::VolumeSpec};
use ch01_namespaces::cli::RunArgs;
use ch01_namespaces::common::Failure;
use ch02_cgroups::cli::CgroupArgs;
use ch03_overlayfs::cli::{Ended, LayerArgs};
use ch04_images::Store;
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

/// This chapter's `run` flags, parsed.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub volumes: Vec<VolumeSpec>,
    pub network: NetworkMode,
    pub publish: Vec<PortSpec>,
    /// `-P`: publish every port the image EXPOSEs on a free host port.
    pub publish_all: bool,
    /// `--dns`: the name servers of the container's /etc/resolv.conf (default: the host's).
    pub dns: Vec<std::net::IpAddr>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            volumes: Vec::new(),
            network: NetworkMode::Bridge(DEFAULT_NETWORK.into()),
            publish: Vec::new(),
            publish_all: false,
            dns: Vec::new(),
        }
    }
}

/// What this chapter cannot give an ordinary user yet, refused before anything is made, with
/// what works instead. A bridge, its veth pairs and NAT rules are the host's network: making
/// them takes CAP_NET_ADMIN over the host's network namespace (netlink answers EPERM). A
/// volume is mounted from the host's mount namespace (`open_tree`, `move_mount`), which only
/// root may change.
fn refuse_what_a_user_cannot_have_yet(options: &RunOptions) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    if let NetworkMode::Bridge(name) = &options.network {
        return Err(Error::Invalid(format!(
            "network {name:?}: a bridge network needs root (creating a bridge and veth pairs in \
             the host's network namespace takes CAP_NET_ADMIN there: netlink answers EPERM); as \
             an ordinary user, run with --network none (a loopback of its own) or --network host"
        )));
    }
    if !options.volumes.is_empty() {
        return Err(Error::Invalid(
            "-v: volumes for an ordinary user are not supported yet (they are mounted from the \
             host's mount namespace, which only root may change)"
                .into(),
        ));
    }
    Ok(())
}

fn to_rootfs_error(error: Error) -> ch03_overlayfs::Error {
    ch03_overlayfs::Error::Invalid(error.to_string())
}

/// Run `image` with `options`; `on_start` is told the published ports (host side) once the
/// container is on its network.
pub fn run(
    store: &Store,
    image: &str,
    layer: &LayerArgs,
    cgroup: &CgroupArgs,
    run: &RunArgs,
    options: &RunOptions,
    on_start: impl FnMut(&[Published]) + 'static,
) -> Result<Ended> {
    let root = store.root().to_path_buf();
    refuse_what_a_user_cannot_have_yet(options)?;
    let mut run = run.clone();
    let network = match &options.network {
        NetworkMode::Host => {
            run.net = false;
            None
        }
        NetworkMode::None => {
            run.net = true;
            None
        }
        NetworkMode::Bridge(name) => {
            run.net = true;
            if name == DEFAULT_NETWORK {
                let new = network::get(&root, DEFAULT_NETWORK).is_err();
                let config = network::ensure_default(&root)?;
                // Said once, when the network is made without its rules.
                if let Some(warning) = network::warning(&config).filter(|_| new) {
                    eprintln!("WARNING: {warning}");
                }
            } else {
                network::get(&root, name)?;
            }
            Some(name.clone())
        }
    };
    if network.is_none() && (!options.publish.is_empty() || options.publish_all) {
        return Err(Error::Invalid(
            "-p/-P publish ports of a container on a bridge network: not with --network none or host"
                .into(),
        ));
    }
    let attachment: Rc<RefCell<Option<Attachment>>> = Rc::default();
    let proxy: Rc<RefCell<Option<Proxy>>> = Rc::default();
    let anonymous: Rc<RefCell<Vec<String>>> = Rc::default();
    let on_start = Rc::new(RefCell::new(on_start));
    let result = ch04_images::run::run_image_with(
        store,
        image,
        layer,
        cgroup,
        &run,
        |dirs, image, container| {
            let config = image.config.config().clone().unwrap_or_default();
            let image_volumes = config.volumes().clone().unwrap_or_default();
            let prepared = volumes::prepare(&root, dirs, &image_volumes, &options.volumes)
                .map_err(to_rootfs_error)?;
            anonymous.replace(prepared.anonymous.clone());
            if !options.dns.is_empty() {
                // Written before the container starts: chapter 03 bind-mounts this file.
                let resolv = dirs.dir.join("resolv.conf");
                let text: String = options
                    .dns
                    .iter()
                    .map(|ip| format!("nameserver {ip}\n"))
                    .collect();
                std::fs::write(&resolv, text)
                    .map_err(ch03_overlayfs::Error::file("write", &resolv))?;
            }
            let mut container =
                container.child_step("mount the volumes", prepared.into_child_step());
            let Some(network) = network else {
                return Ok(container);
            };
            let mut specs = options.publish.clone();
            if options.publish_all {
                let exposed = config.exposed_ports().clone().unwrap_or_default();
                specs.extend(ports::from_exposed(&exposed).map_err(to_rootfs_error)?);
            }
            let mut bound: Option<Bound> = Some(proxy::bind(&specs).map_err(to_rootfs_error)?);
            let endpoint = Endpoint {
                container_id: dirs.id.clone(),
                name: std::fs::read_to_string(dirs.dir.join("name"))
                    .ok()
                    .map(|n| n.trim().to_string()),
                hostname: dirs.hostname()?,
                hosts_file: dirs.dir.join("hosts"),
                extra_hosts: Vec::new(),
            };
            let ports_file: PathBuf = dirs.dir.join("ports");
            let (root, attachment, proxy, on_start) = (
                root.clone(),
                attachment.clone(),
                proxy.clone(),
                on_start.clone(),
            );
            container = container.parent_step(format!("attach to network {network}"), move |pid| {
                let attached = network::attach(&root, &network, pid.as_raw() as u32, &endpoint)?;
                let address = std::net::IpAddr::V4(attached.address);
                attachment.replace(Some(attached));
                if let Some(bound) = bound.take() {
                    let published = bound.published();
                    let json = serde_json::to_vec_pretty(&published)?;
                    std::fs::write(&ports_file, json)?;
                    proxy.replace(Some(bound.serve(address)?));
                    (on_start.borrow_mut())(&published);
                }
                Ok(())
            });
            Ok(container)
        },
    );
    // Whatever happened, undo what was done: the proxy first (no new connections), then the
    // network, then the volumes made for this container only.
    drop(proxy.take());
    let detached = match attachment.take() {
        Some(attached) => attached.detach(),
        None => Ok(()),
    };
    let kept = layer.keep && result.is_ok();
    let released = volumes::release(&root, &anonymous.borrow(), kept);
    let ended = result?;
    detached?;
    released?;
    Ok(ended)
}
