//! What root inside a container may still do: capabilities, `no_new_privs`, seccomp, and the
//! file descriptors it inherits.
//!
//! Namespaces decide what a process can *see*. A process that is root (uid 0) inside them still
//! holds every capability (capabilities(7)): it could load a kernel module, reboot the machine,
//! mount file systems, or trace other processes. Docker narrows that down, and so do we:
//!
//! - **capabilities**: only Docker's default fourteen stay, in every set: the *bounding* set
//!   (the most any `execve` can ever grant again), *permitted*, *effective*, and none
//!   *inheritable* or *ambient*;
//! - **no_new_privs** (prctl(2), `PR_SET_NO_NEW_PRIVS`): a setuid binary or file capabilities
//!   can no longer raise privileges across `execve`;
//! - **seccomp** (seccomp(2)): a filter the kernel runs on every system call; ours refuses, with
//!   EPERM, the calls a container has no business making (see [`crate::seccomp`]);
//! - **file descriptors**: every descriptor above 2 is marked close-on-exec, so nothing the
//!   engine had open (a directory of the host, a socket) survives into the container: the
//!   runc CVE-2024-21626 class of escape.
//!
//! The order matters. The bounding set is narrowed first, while we are still all-powerful and
//! before the child-side steps: it does not touch the *effective* set, so chapter 03 can still
//! mount and `pivot_root`, and chapter 04 can still `setuid` to the image's user. Then, last of
//! all before `execve`, the effective and permitted sets are narrowed, `no_new_privs` is set and
//! the seccomp filter is loaded (loading one needs either `no_new_privs` or CAP_SYS_ADMIN).

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use caps::{CapSet, Capability, CapsHashSet};
use std::str::FromStr;

/// Docker's default capabilities (moby's `oci/caps/defaults.go`; docker-run(1) "Runtime
/// privilege and Linux capabilities").
pub const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FSETID,
    Capability::CAP_FOWNER,
    Capability::CAP_MKNOD,
    Capability::CAP_NET_RAW,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_SETFCAP,
    Capability::CAP_SETPCAP,
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_SYS_CHROOT,
    Capability::CAP_KILL,
    Capability::CAP_AUDIT_WRITE,
];

/// What the container's processes are allowed, beyond what their namespaces show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// The capabilities kept; `None` keeps all of them (`--privileged`).
    pub capabilities: Option<CapsHashSet>,
    /// Inheritable capabilities (of the kept ones): passed through `execve` only to a program
    /// file that has them inheritable too. Docker leaves this empty.
    pub inheritable: CapsHashSet,
    /// Ambient capabilities: what a non-root program keeps through `execve` (an OCI spec's
    /// `process.capabilities.ambient`). Docker leaves this empty: non-root programs get none.
    pub ambient: CapsHashSet,
    pub no_new_privileges: bool,
    /// Which seccomp filter to load, if any.
    pub seccomp: Seccomp,
}

/// The seccomp filter a container gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seccomp {
    /// None (`--security-opt seccomp=unconfined`, `--privileged`).
    Unconfined,
    /// The default deny list of [`crate::seccomp`].
    Default,
    /// A profile given as data (`seccomp=FILE`, an OCI spec's `linux.seccomp`).
    Profile(crate::seccomp_profile::Profile),
}

impl Seccomp {
    fn load(&self) -> Result<()> {
        match self {
            Seccomp::Unconfined => Ok(()),
            Seccomp::Default => crate::seccomp::load_default(),
            Seccomp::Profile(profile) => profile.load(),
        }
    }
}

impl Security {
    /// Docker's defaults, and `no_new_privs` on.
    pub fn docker_default() -> Self {
        Security {
            capabilities: Some(DOCKER_DEFAULT.into_iter().collect()),
            inheritable: CapsHashSet::new(),
            ambient: CapsHashSet::new(),
            no_new_privileges: true,
            seccomp: Seccomp::Default,
        }
    }

    /// Nothing taken away (`--privileged`): every capability, no filter.
    pub fn privileged() -> Self {
        Security {
            capabilities: None,
            inheritable: CapsHashSet::new(),
            ambient: CapsHashSet::new(),
            no_new_privileges: false,
            seccomp: Seccomp::Unconfined,
        }
    }

    /// `--cap-add` and `--cap-drop`, as Docker reads them: names with or without `CAP_`, any
    /// case, and `ALL`. Drops are applied first, then adds (so `--cap-drop ALL --cap-add X`
    /// keeps only X).
    pub fn with_capability_changes(mut self, add: &[String], drop: &[String]) -> Result<Self> {
        let Some(mut kept) = self.capabilities.take() else {
            return Ok(self);
        };
        for name in drop {
            match parse_capability(name)? {
                None => kept.clear(),
                Some(cap) => {
                    kept.remove(&cap);
                }
            }
        }
        for name in add {
            match parse_capability(name)? {
                None => kept.extend(caps::all()),
                Some(cap) => {
                    kept.insert(cap);
                }
            }
        }
        self.capabilities = Some(kept);
        Ok(self)
    }

    /// First step in the container's first process: narrow the bounding set (and empty the
    /// ambient one). The effective set, which the child-side steps still need, is untouched.
    pub(crate) fn limit_bounding_set(&self) -> Result<()> {
        let Some(kept) = &self.capabilities else {
            return Ok(());
        };
        if !caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).unwrap_or(false) {
            // An ordinary user outside any user namespace of its own: it holds no capability
            // to give up, and may not narrow the bounding set (that takes CAP_SETPCAP). What a
            // setuid program could grant it, no_new_privs withholds.
            explain!(
                "no CAP_SETPCAP (an ordinary user, no user namespace): the bounding set stays"
            );
            return Ok(());
        }
        explain!(
            "prctl(PR_CAPBSET_DROP) for every capability but {}: the most any execve can grant",
            names(kept)
        );
        for cap in caps::all() {
            if !kept.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(|e| Error::Invalid(format!("prctl(PR_CAPBSET_DROP, {cap}): {e}")))?;
            }
        }
        caps::clear(None, CapSet::Ambient)
            .map_err(|e| Error::Invalid(format!("prctl(PR_CAP_AMBIENT_CLEAR_ALL): {e}")))?;
        if !self.ambient.is_empty() || !self.inheritable.is_empty() {
            // setuid(2) to a non-root user empties the permitted set, unless told to keep it:
            // the ambient capabilities must still be there to raise (see `lock_down`).
            explain!("prctl(PR_SET_KEEPCAPS, 1): keep the permitted capabilities across setuid");
            nix::sys::prctl::set_keepcaps(true)
                .map_err(|errno| Error::syscall("prctl", "PR_SET_KEEPCAPS, 1", errno))?;
        }
        Ok(())
    }

    /// Last step before `execve`: descriptors, capabilities, `no_new_privs`, seccomp.
    /// Last before `execve`: descriptors, seccomp, capabilities, `no_new_privs`. Descriptors
    /// 3 .. 3+`preserve_fds` are the caller's to pass on (an OCI runtime's `--preserve-fds`).
    pub(crate) fn lock_down(&self, preserve_fds: u32) -> Result<()> {
        close_inherited_descriptors(3 + preserve_fds)?;
        if !self.no_new_privileges {
            // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we
            // still have it.
            self.seccomp.load()?;
        }
        if let Some(kept) = &self.capabilities {
            let permitted = caps::read(None, CapSet::Permitted)
                .map_err(|e| Error::Invalid(format!("capget: {e}")))?;
            let now: CapsHashSet = permitted.intersection(kept).copied().collect();
            explain!(
                "capset(): effective and permitted = {}, inheritable = none",
                names(&now)
            );
            for set in [CapSet::Effective, CapSet::Permitted] {
                caps::set(None, set, &now)
                    .map_err(|e| Error::Invalid(format!("capset({set:?}): {e}")))?;
            }
            let inheritable: CapsHashSet = self.inheritable.intersection(&now).copied().collect();
            caps::set(None, CapSet::Inheritable, &inheritable)
                .map_err(|e| Error::Invalid(format!("capset(Inheritable): {e}")))?;
            self.raise_ambient();
        }
        if self.no_new_privileges {
            explain!("prctl(PR_SET_NO_NEW_PRIVS, 1): no execve can raise privileges again");
            nix::sys::prctl::set_no_new_privs()
                .map_err(|errno| Error::syscall("prctl", "PR_SET_NO_NEW_PRIVS, 1", errno))?;
            self.seccomp.load()?;
        }
        Ok(())
    }
}

/// `CAP_SYS_ADMIN`, `sys_admin`, `SYS_ADMIN` → the capability; `ALL` → `None`.
pub fn parse_capability(name: &str) -> Result<Option<Capability>> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(None);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full)
        .map(Some)
        .map_err(|_| Error::Invalid(format!("unknown capability {name:?} (see capabilities(7))")))
}

fn names(set: &CapsHashSet) -> String {
    let mut names: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    names.sort();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(",")
    }
}

/// Mark every descriptor above 2 close-on-exec (`close_range(2)` with `CLOSE_RANGE_CLOEXEC`):
/// they stay usable until `execve` (the setup channel needs that) and are gone after it.
fn close_inherited_descriptors(first: u32) -> Result<()> {
    explain!(
        "close_range({first}, ~0, CLOSE_RANGE_CLOEXEC): no descriptor of ours reaches the command"
    );
    // SAFETY: close_range only changes descriptor flags; no memory is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    nix::errno::Errno::result(ret).map(drop).map_err(|errno| {
        Error::syscall(
            "close_range",
            format!("{first}, ~0, CLOSE_RANGE_CLOEXEC"),
            errno,
        )
    })
}

impl Security {
    /// Raise the ambient capabilities (`PR_CAP_AMBIENT_RAISE`): the only ones a non-root
    /// program keeps through `execve` (capabilities(7), "Ambient capability set"). The kernel
    /// raises a capability only if it is both permitted and inheritable; one that is not
    /// stays down, as runc leaves it (a spec may list ambient capabilities it did not make
    /// inheritable).
    fn raise_ambient(&self) {
        for cap in &self.ambient {
            match caps::raise(None, CapSet::Ambient, *cap) {
                Ok(()) => explain!("prctl(PR_CAP_AMBIENT_RAISE, {cap})"),
                Err(e) => explain!("prctl(PR_CAP_AMBIENT_RAISE, {cap}): {e}: left down"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_changes_read_like_docker_flags() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let sec = Security::docker_default()
            .with_capability_changes(&s(&["sys_admin"]), &s(&["CAP_NET_RAW", "mknod"]))
            .unwrap();
        let kept = sec.capabilities.unwrap();
        assert!(kept.contains(&Capability::CAP_SYS_ADMIN));
        assert!(!kept.contains(&Capability::CAP_NET_RAW));
        assert!(!kept.contains(&Capability::CAP_MKNOD));
        assert_eq!(kept.len(), 13);
        let only = Security::docker_default()
            .with_capability_changes(&s(&["chown"]), &s(&["ALL"]))
            .unwrap();
        assert_eq!(only.capabilities.unwrap().len(), 1);
        assert!(Security::docker_default()
            .with_capability_changes(&s(&["CAP_FLY"]), &[])
            .is_err());
    }
}
