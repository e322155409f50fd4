//! The seven kinds of namespace a container is made of, and sets of them.
//!
//! Every process points at exactly one namespace of each kind; you can see which in
//! `/proc/PID/ns/` (read `namespaces(7)`). Two processes whose links there are equal share that
//! part of the system's view; a container is simply a process whose links differ from the host's.

use nix::sched::CloneFlags;
use std::fmt;

/// One kind of namespace: what part of the system it gives a private copy of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// Process ids: the first process inside is PID 1 and sees only its descendants.
    Pid,
    /// Host name and NIS domain name (UTS = "UNIX Time-sharing System").
    Uts,
    /// System V IPC objects and POSIX message queues.
    Ipc,
    /// The mount table: mounts made inside are not seen outside.
    Mount,
    /// Network devices, addresses, routes, firewall rules, ports.
    Net,
    /// User and group ids: root inside can be an ordinary user outside.
    User,
    /// The view of the cgroup tree: the container's own cgroup looks like the root.
    Cgroup,
}

impl Namespace {
    /// All kinds, in the order they are joined by `setns` (user first, so that the namespaces it
    /// owns can be entered with the capabilities it grants; mount last, because entering it
    /// changes the root directory and later `/proc` lookups would resolve inside the container).
    pub const ALL: [Namespace; 7] = [
        Namespace::User,
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Uts,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Mount,
    ];

    /// The `CLONE_NEW*` flag that `unshare(2)` and `setns(2)` take for this kind.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        }
    }

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Pid => "pid",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Mount => "mnt",
            Namespace::Net => "net",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
        }
    }

    /// The name of the kernel flag, for `--explain` and error messages.
    pub fn flag_name(self) -> &'static str {
        match self {
            Namespace::Pid => "CLONE_NEWPID",
            Namespace::Uts => "CLONE_NEWUTS",
            Namespace::Ipc => "CLONE_NEWIPC",
            Namespace::Mount => "CLONE_NEWNS",
            Namespace::Net => "CLONE_NEWNET",
            Namespace::User => "CLONE_NEWUSER",
            Namespace::Cgroup => "CLONE_NEWCGROUP",
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

/// A set of namespace kinds, e.g. "new PID, mount and UTS namespaces".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NamespaceSet {
    bits: u8,
}

impl NamespaceSet {
    /// No new namespaces: the process shares everything with its parent.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every kind: what Docker gives a container (Docker leaves the user namespace out unless
    /// userns-remap is on; we include it so the course can show it).
    pub fn all() -> Self {
        Namespace::ALL.into_iter().collect()
    }

    pub fn insert(&mut self, ns: Namespace) {
        self.bits |= 1 << ns as u8;
    }

    pub fn with(mut self, ns: Namespace) -> Self {
        self.insert(ns);
        self
    }

    pub fn without(mut self, ns: Namespace) -> Self {
        self.bits &= !(1 << ns as u8);
        self
    }

    pub fn contains(&self, ns: Namespace) -> bool {
        self.bits & (1 << ns as u8) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The kinds in the set, in [`Namespace::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = Namespace> + '_ {
        Namespace::ALL.into_iter().filter(|ns| self.contains(*ns))
    }

    /// The `CLONE_NEW*` flags of every kind in the set, OR-ed together.
    pub fn clone_flags(&self) -> CloneFlags {
        self.iter()
            .fold(CloneFlags::empty(), |flags, ns| flags | ns.clone_flag())
    }

    /// `CLONE_NEWPID|CLONE_NEWNS`, the way the flags are written in C.
    pub fn flag_names(&self) -> String {
        let names: Vec<_> = self.iter().map(Namespace::flag_name).collect();
        if names.is_empty() {
            "0".to_string()
        } else {
            names.join("|")
        }
    }
}

impl FromIterator<Namespace> for NamespaceSet {
    fn from_iter<I: IntoIterator<Item = Namespace>>(iter: I) -> Self {
        let mut set = NamespaceSet::empty();
        for ns in iter {
            set.insert(ns);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keeps_what_was_inserted_and_nothing_else() {
        let set = NamespaceSet::empty()
            .with(Namespace::Pid)
            .with(Namespace::Mount);
        assert!(set.contains(Namespace::Pid));
        assert!(set.contains(Namespace::Mount));
        assert!(!set.contains(Namespace::Net));
        assert!(!set.without(Namespace::Pid).contains(Namespace::Pid));
        assert!(set.without(Namespace::Pid).contains(Namespace::Mount));
        assert_eq!(
            set.clone_flags(),
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS
        );
        assert_eq!(set.flag_names(), "CLONE_NEWPID|CLONE_NEWNS");
    }

    #[test]
    fn all_has_seven_kinds_with_user_first_and_mount_last() {
        let kinds: Vec<_> = NamespaceSet::all().iter().collect();
        assert_eq!(kinds.len(), 7);
        assert_eq!(kinds.first(), Some(&Namespace::User));
        assert_eq!(kinds.last(), Some(&Namespace::Mount));
        assert_eq!(NamespaceSet::empty().flag_names(), "0");
    }
}
