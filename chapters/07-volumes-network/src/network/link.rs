//! Links, addresses and routes over netlink (`rtnetlink(7)`), with the `rtnetlink` crate:
//! what `ip link add ... type bridge`, `ip link add ... type veth peer ...`, `ip link set ...
//! netns PID`, `ip addr add` and `ip route add default via ...` do, without running `ip`.
//!
//! A netlink socket talks to the network stack of the namespace it was *created* in. To set
//! up the container's end of a veth pair we make the socket from a thread that first joined
//! the container's network namespace (`setns(2)` changes only the calling thread's).

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use futures::TryStreamExt;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};

/// Run `work` with a fresh netlink connection in the calling thread's network namespace.
fn with_netlink<T, F>(work: impl FnOnce(Handle) -> F) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .map_err(Error::file("start the netlink runtime", "tokio"))?;
    runtime.block_on(async {
        let (connection, handle, _) =
            rtnetlink::new_connection().map_err(Error::file("open", "netlink socket"))?;
        tokio::spawn(connection);
        work(handle).await
    })
}

fn exists_already(error: &rtnetlink::Error) -> bool {
    matches!(error, rtnetlink::Error::NetlinkError(m) if m.raw_code().abs() == libc::EEXIST)
}

async fn index_of(handle: &Handle, name: &str) -> Result<Option<u32>> {
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        // ENODEV: no such link.
        Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code().abs() == libc::ENODEV => Ok(None),
        Err(e) => Err(Error::netlink(format!("get link {name}"))(e)),
    }
}

/// Whether a link called `name` exists (in our network namespace).
pub fn exists(name: &str) -> Result<bool> {
    with_netlink(|handle| async move { Ok(index_of(&handle, name).await?.is_some()) })
}

/// The alias of link `name` (`IFLA_IFALIAS`, what `ip link show` prints after `alias`):
/// `None` if there is no such link, `Some("")` if it has no alias. Our bridges carry their
/// owner's mark there (see `network::owner_mark`).
pub fn alias(name: &str) -> Result<Option<String>> {
    with_netlink(|handle| async move {
        let mut links = handle.link().get().match_name(name.to_string()).execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(Some(
                link.attributes
                    .into_iter()
                    .find_map(|a| match a {
                        LinkAttribute::IfAlias(alias) => Some(alias),
                        _ => None,
                    })
                    .unwrap_or_default(),
            )),
            Ok(None) => Ok(None),
            Err(rtnetlink::Error::NetlinkError(m)) if m.raw_code().abs() == libc::ENODEV => {
                Ok(None)
            }
            Err(e) => Err(Error::netlink(format!("get link {name}"))(e)),
        }
    })
}

/// The bridge `name` with `gateway/prefix` on it, up, its alias `alias`; created if missing
/// (idempotent). The alias says whose bridge it is, so that a later start can tell a bridge
/// its own crashed run left from another state root's.
pub fn ensure_bridge(name: &str, gateway: Ipv4Addr, prefix: u8, alias: &str) -> Result<()> {
    let alias = alias.to_string();
    with_netlink(|handle| async move {
        let index = match index_of(&handle, name).await? {
            Some(index) => index,
            None => {
                explain!("netlink RTM_NEWLINK {name} type bridge (ip link add {name} type bridge)");
                handle
                    .link()
                    .add(LinkBridge::new(name).build())
                    .execute()
                    .await
                    .map_err(Error::netlink(format!("add bridge {name}")))?;
                index_of(&handle, name).await?.ok_or_else(|| {
                    Error::Invalid(format!("bridge {name} vanished after creation"))
                })?
            }
        };
        explain!("netlink RTM_NEWADDR {gateway}/{prefix} dev {name}: the containers' gateway");
        if let Err(e) = handle
            .address()
            .add(index, IpAddr::V4(gateway), prefix)
            .execute()
            .await
        {
            if !exists_already(&e) {
                return Err(Error::netlink(format!("add {gateway}/{prefix} to {name}"))(
                    e,
                ));
            }
        }
        explain!("netlink RTM_NEWLINK {name} alias {alias:?} up");
        handle
            .link()
            .set(
                LinkUnspec::new_with_index(index)
                    .append_extra_attribute(LinkAttribute::IfAlias(alias))
                    .up()
                    .build(),
            )
            .execute()
            .await
            .map_err(Error::netlink(format!("set {name} up")))
    })
}

/// Delete link `name` if it exists (a bridge, or a veth: deleting one end deletes both).
pub fn delete(name: &str) -> Result<()> {
    with_netlink(|handle| async move {
        let Some(index) = index_of(&handle, name).await? else {
            explain!(
                "netlink RTM_DELLINK {name}: not needed, it is gone already (a veth goes with \
                 its container's network namespace)"
            );
            return Ok(());
        };
        explain!("netlink RTM_DELLINK {name}");
        let deleted = handle.link().del(index).execute().await;
        // A veth goes with its peer when the container's network namespace is destroyed,
        // which the kernel does asynchronously after the last process exits: it may vanish
        // between our lookup and our delete (ENODEV). Gone is what we wanted.
        if let Err(error) = deleted {
            if index_of(&handle, name).await?.is_some() {
                return Err(Error::netlink(format!("delete link {name}"))(error));
            }
        }
        Ok(())
    })
}

/// A veth pair `host` <-> `peer`: `host` joins `bridge` and goes up, `peer` is made directly
/// in the network namespace of process `pid`.
///
/// Made there, not moved there: moving a device between namespaces (`ip link set ... netns`)
/// makes the kernel wait for every CPU to let go of it (an RCU grace period, tens of
/// milliseconds here), while creating the peer in its namespace costs nothing extra. One
/// RTM_NEWLINK does it all: the pair, the peer's namespace, our end's bridge and state.
pub fn create_veth(host: &str, peer: &str, bridge: &str, pid: u32) -> Result<()> {
    // exercise 07.5: a veth pair, one end on the bridge, the other made inside the container's namespace
    with_netlink(|handle| async move {
        let bridge_index = index_of(&handle, bridge)
            .await?
            .ok_or_else(|| Error::Invalid(format!("bridge {bridge} does not exist")))?;
        explain!(
            "netlink RTM_NEWLINK {host} type veth peer {peer} netns {pid}, {host} master \
             {bridge} up: the pair, one end already in the container"
        );
        let peer_in_container = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_string())
            .setns_by_pid(pid)
            .build();
        let pair = LinkVeth::new(host, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_in_container)))
            .controller(bridge_index)
            .up()
            .build();
        handle
            .link()
            .add(pair)
            .execute()
            .await
            .map_err(Error::netlink(format!(
                "add veth pair {host} (bridge {bridge}) / {peer} (netns of {pid})"
            )))
    })
    // end of exercise 07.5
}

/// Inside the network namespace of `pid`: rename `peer` to `eth0`, give it `address/prefix`,
/// bring it up, and route everything else through `gateway`.
pub fn configure_inside(
    pid: u32,
    peer: &str,
    address: Ipv4Addr,
    prefix: u8,
    gateway: Ipv4Addr,
) -> Result<()> {
    let netns_path = format!("/proc/{pid}/ns/net");
    let netns = std::fs::File::open(&netns_path).map_err(Error::file("open", &netns_path))?;
    let peer = peer.to_string();
    let worker = std::thread::spawn(move || -> Result<()> {
        explain!("setns({netns_path}, CLONE_NEWNET) in a helper thread; netlink from there");
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
            .map_err(|errno| Error::syscall("setns", netns_path.clone(), errno))?;
        with_netlink(|handle| async move {
            let index = index_of(&handle, &peer)
                .await?
                .ok_or_else(|| Error::Invalid(format!("{peer} is not in the container")))?;
            explain!("netlink (container) RTM_NEWLINK {peer} name eth0");
            handle
                .link()
                .set(
                    LinkUnspec::new_with_index(index)
                        .name("eth0".to_string())
                        .build(),
                )
                .execute()
                .await
                .map_err(Error::netlink(format!("rename {peer} to eth0")))?;
            explain!("netlink (container) RTM_NEWADDR {address}/{prefix} dev eth0");
            handle
                .address()
                .add(index, IpAddr::V4(address), prefix)
                .execute()
                .await
                .map_err(Error::netlink(format!("add {address}/{prefix} to eth0")))?;
            explain!("netlink (container) RTM_NEWLINK eth0 up");
            handle
                .link()
                .set(LinkUnspec::new_with_index(index).up().build())
                .execute()
                .await
                .map_err(Error::netlink("set eth0 up"))?;
            explain!("netlink (container) RTM_NEWROUTE default via {gateway}");
            handle
                .route()
                .add(
                    RouteMessageBuilder::<Ipv4Addr>::new()
                        .gateway(gateway)
                        .build(),
                )
                .execute()
                .await
                .map_err(Error::netlink(format!("add default route via {gateway}")))
        })
    });
    worker
        .join()
        .map_err(|_| Error::Invalid("the netns helper thread panicked".into()))?
}
