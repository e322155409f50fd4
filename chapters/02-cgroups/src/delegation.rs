//! cgroups for an ordinary user: only in a subtree that systemd *delegates* to it.
//!
//! The cgroup tree belongs to root: `mkdir` under `/sys/fs/cgroup` needs write access to the
//! directory, and moving a process needs write access to `cgroup.procs` of the closest cgroup
//! that holds both where it is and where it goes (read `cgroups(7)`, "Cgroups v2 delegation").
//! On a cgroup v2 host, systemd gives each logged-in user a service, `user@UID.service`, whose
//! directory (and everything below) it `chown`s to that user: a *delegated* subtree, with the
//! controllers its `Delegate=` setting names enabled for it. A process running there (a
//! `systemd-run --user --scope`, a user service) may make cgroups below and move itself into
//! them. A login shell is in `session-N.scope`, which stays root's: from there nothing moves.
//!
//! On v1 and hybrid hosts the controllers live in v1 hierarchies, which systemd never
//! delegates to users: an ordinary user gets no cgroup there at all.

use crate::error::{Error, Result};
use crate::mode::{Layout, CGROUP_ROOT};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the caller may make cgroups, or why it may not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delegation {
    /// A v2 layout rooted at the delegated directory (`…/user@UID.service`), offering the
    /// controllers delegated there.
    Delegated(Layout),
    /// No delegated subtree; the text says what is missing and what to do.
    Missing(String),
}

/// What the caller may use: root may use the whole tree (`host`); an ordinary user only the
/// delegated subtree its own cgroup sits in.
pub fn for_caller(host: &Layout) -> Result<Delegation> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return Ok(Delegation::Delegated(host.clone()));
    }
    if !host.mode.is_v2() {
        return Ok(Delegation::Missing(format!(
            "no delegated cgroup v2 subtree: this host's cgroups are {} (its memory, cpu and \
             pids controllers are in v1 hierarchies only root may write); an ordinary user gets \
             cgroups on a cgroup v2 host whose systemd delegates user@{uid}.service",
            host.mode
        )));
    }
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(Error::file("read", "/proc/self/cgroup"))?;
    let Some(own) = v2_path(&text) else {
        return Err(Error::Parse {
            path: "/proc/self/cgroup".into(),
            content: text,
        });
    };
    let root = Path::new(CGROUP_ROOT);
    match delegated_root(root, &own, uid.as_raw()) {
        Some(top) if top != root.join(&own) => {
            explain!("delegated cgroup subtree: {}", top.display());
            Ok(Delegation::Delegated(Layout::v2_at(&top)?))
        }
        Some(top) => Ok(Delegation::Missing(format!(
            "your cgroup {} is delegated to you but holds your own processes, so it may not \
             enable controllers for children (cgroups(7), \"no internal processes\"): run under \
             `systemd-run --user --scope`",
            top.display()
        ))),
        None => Ok(Delegation::Missing(format!(
            "no delegated cgroup v2 subtree: your cgroup /{own} is not yours (a login session's \
             scope stays root's); run under `systemd-run --user --scope`, inside \
             user@{uid}.service, which systemd delegates to you (it needs a running user \
             manager: a login, or `loginctl enable-linger`)"
        ))),
    }
}

/// The layout the caller makes its cgroups in: the host's for root, the delegated subtree
/// for an ordinary user. Without one, an error naming what is missing (never a bare EACCES
/// from a `mkdir` under a tree that is root's).
pub fn layout_for_caller() -> Result<Layout> {
    match for_caller(&Layout::detect()?)? {
        Delegation::Delegated(layout) => Ok(layout),
        Delegation::Missing(why) => Err(Error::Mode(why)),
    }
}

/// The path of the v2 line (`0::/PATH`) of `/proc/self/cgroup`, without its leading `/`.
fn v2_path(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(|path| path.trim_start_matches('/').to_string())
}

/// The topmost directory on the way from `root` down to `own` that belongs to `uid`, with
/// everything below it down to `own` belonging to `uid` too: the delegated subtree.
fn delegated_root(root: &Path, own: &str, uid: u32) -> Option<PathBuf> {
    let mut levels = vec![root.to_path_buf()];
    for component in Path::new(own).components() {
        let next = levels.last()?.join(component);
        levels.push(next);
    }
    let owned = |dir: &PathBuf| std::fs::metadata(dir).is_ok_and(|m| m.uid() == uid);
    let mut top = None;
    for dir in levels.iter().rev() {
        if !owned(dir) {
            break;
        }
        top = Some(dir.clone());
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_line_names_the_cgroup() {
        let text = "12:pids:/user.slice\n0::/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope\n";
        assert_eq!(
            v2_path(text).as_deref(),
            Some("user.slice/user-1000.slice/user@1000.service/app.slice/x.scope")
        );
        assert_eq!(v2_path("4:memory:/\n"), None);
    }

    #[test]
    fn the_delegated_root_is_the_topmost_of_the_owned_chain() {
        let tree = tempfile::tempdir().unwrap();
        let own = "user.slice/user@1000.service/app.slice";
        std::fs::create_dir_all(tree.path().join(own)).unwrap();
        let me = nix::unistd::geteuid().as_raw();
        // Everything here is ours: the chain goes up to the root itself.
        assert_eq!(
            delegated_root(tree.path(), own, me).as_deref(),
            Some(tree.path())
        );
        // Nothing belongs to another uid.
        assert_eq!(delegated_root(tree.path(), own, me + 1), None);
    }
}
