//! The steps the container's first process takes inside its new namespaces, before it runs the
//! command. Each is one system call or two; each only makes sense in the namespace it names.

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use nix::mount::{mount, MsFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use nix::unistd::{sethostname, setresgid, setresuid, Gid, Uid};
use std::os::fd::AsRawFd;

/// Become uid 0 and gid 0 of the user namespace we are in. After `setns(2)` into a container's
/// user namespace we keep our old ids, which may not be mapped there at all (we would show up as
/// 65534, "nobody"); root *of that namespace* is who a `docker exec` user expects to be.
pub fn become_root() -> Result<()> {
    explain!("setresgid(0, 0, 0) and setresuid(0, 0, 0): become root of the user namespace");
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0)).map_err(|errno| {
        Error::syscall("setresgid", "0, 0, 0 (is gid 0 mapped in gid_map?)", errno)
    })?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).map_err(|errno| {
        Error::syscall("setresuid", "0, 0, 0 (is uid 0 mapped in uid_map?)", errno)
    })
}

/// Name the UTS namespace. Only this namespace sees it: the host keeps its own name.
pub fn set_hostname(name: &str) -> Result<()> {
    explain!("sethostname({name:?}) in the new UTS namespace");
    sethostname(name).map_err(|errno| Error::syscall("sethostname", format!("{name:?}"), errno))
}

/// Stop mount events from travelling between the host and the container.
///
/// A new mount namespace starts as a *copy* of the parent's mount table, and mounts marked
/// "shared" keep propagating in both directions (read `mount_namespaces(7)`, "Shared subtrees").
/// Making every mount private, recursively, is what really gives the container its own table:
/// what it mounts stays inside, and nothing it does can unmount the host's file systems.
pub fn make_mounts_private() -> Result<()> {
    // exercise 01.4: make every mount private, so no mount event crosses to or from the host
    explain!(
        "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE): no mount propagates to or from the host"
    );
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|errno| Error::syscall("mount", "\"/\", MS_REC|MS_PRIVATE", errno))
    // end of exercise 01.4
}

/// Mount a fresh `/proc`. procfs shows the PID namespace of whoever mounts it, so the host's
/// `/proc` would still list every host process; ours lists only the container's.
pub fn mount_proc() -> Result<()> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    explain!("mount(\"proc\", \"/proc\", \"proc\", MS_NOSUID|MS_NODEV|MS_NOEXEC): a /proc for the new PID namespace");
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>)
        .map_err(|errno| Error::syscall("mount", "proc on /proc", errno))
}

/// A new network namespace has one interface, `lo`, and it is down: even 127.0.0.1 does not
/// work until we raise the IFF_UP flag with the SIOCSIFFLAGS ioctl (read `netdevice(7)`).
pub fn bring_up_loopback() -> Result<()> {
    // exercise 01.3: bring up the loopback interface of a new network namespace
    explain!("ioctl(SIOCSIFFLAGS, \"lo\", IFF_UP): bring up the loopback interface");
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|errno| Error::syscall("socket", "AF_INET, SOCK_DGRAM", errno))?;
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: the request is a valid ifreq naming "lo"; the kernel fills in ifru_flags.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(Error::syscall(
            "ioctl",
            "SIOCGIFFLAGS, \"lo\"",
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: reading and writing the flags member of the union the kernel just filled in.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: as above; the kernel only reads the request.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(Error::syscall(
            "ioctl",
            "SIOCSIFFLAGS, \"lo\", IFF_UP",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
    // end of exercise 01.3
}
