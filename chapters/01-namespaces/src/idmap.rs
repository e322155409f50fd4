//! User namespaces: who is who inside.
//!
//! A new user namespace starts with no ids mapped: everyone shows up as the "overflow" id 65534.
//! The parent writes `/proc/PID/uid_map` and `/proc/PID/gid_map` once, each line being
//! `ID-INSIDE ID-OUTSIDE COUNT` (read `user_namespaces(7)`). Mapping the caller's own uid to 0
//! makes the process root *inside*: it holds every capability over the namespaces its user
//! namespace owns, and none over the host.
//!
//! An ordinary user may write one line only, mapping its own id. More (the subordinate ranges
//! of `/etc/subuid`, see [`crate::subids`]) is written by the setuid helpers `newuidmap` and
//! `newgidmap`, which check the ranges are the caller's before writing.

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use crate::subids::{self, SubordinateRange};
use nix::unistd::{getegid, geteuid, Pid, User};
use std::fmt;
use std::path::PathBuf;

/// One line of a uid or gid map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// First id as seen inside the namespace.
    pub inside: u32,
    /// First id as seen outside (in the parent's user namespace).
    pub outside: u32,
    /// How many consecutive ids the line maps.
    pub count: u32,
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// The uid and gid maps for a new user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMappings {
    pub uids: Vec<IdMap>,
    pub gids: Vec<IdMap>,
}

impl IdMappings {
    /// Map the calling user and group to root inside, one id each. This works without privilege,
    /// which is what makes rootless containers possible.
    pub fn caller_as_root() -> Self {
        IdMappings {
            uids: vec![IdMap {
                inside: 0,
                outside: geteuid().as_raw(),
                count: 1,
            }],
            gids: vec![IdMap {
                inside: 0,
                outside: getegid().as_raw(),
                count: 1,
            }],
        }
    }

    /// The maps an ordinary user's container gets: its own uid and gid as root, then the
    /// subordinate ranges `/etc/subuid` and `/etc/subgid` give it, from id 1 up, so that an
    /// image's files of other owners map too. Without ranges (or without the helpers that
    /// write them), the one-id map of [`caller_as_root`](Self::caller_as_root), and a
    /// warning (the second value) saying why and what that costs. Root gets the one-id map
    /// and no warning: it may write any map itself, but has no range to use by default.
    pub fn for_caller() -> (Self, Option<String>) {
        let own = Self::caller_as_root();
        let uid = geteuid();
        if uid.is_root() {
            return (own, None);
        }
        let name = User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| uid.to_string(), |user| user.name);
        match subordinate_ranges(&name, uid.as_raw()) {
            Ok((uids, gids)) => (
                IdMappings {
                    uids: own.uids.iter().copied().chain(from_one(&uids)).collect(),
                    gids: own.gids.iter().copied().chain(from_one(&gids)).collect(),
                },
                None,
            ),
            Err(why) => (
                own,
                Some(format!(
                    "{why}; only your own uid and gid map (to root inside): files of other \
                     owners show as nobody (65534), and chown to any other id fails (EINVAL)"
                )),
            ),
        }
    }

    /// Write the maps of process `pid`, which has just created its user namespace: ourselves
    /// if we may (root, or the one line of our own ids), through `newuidmap` and `newgidmap`
    /// otherwise.
    pub fn write_for(&self, pid: Pid) -> Result<()> {
        let privileged = geteuid().is_root();
        if !privileged && !self.maps_only_the_caller() {
            run_helper("newuidmap", pid, &self.uids)?;
            return run_helper("newgidmap", pid, &self.gids);
        }
        for (file, content) in self.proc_writes(privileged) {
            write_proc(pid, file, &content)?;
        }
        Ok(())
    }

    /// One line each, of the caller's own uid and gid: what the kernel lets an unprivileged
    /// process write itself.
    fn maps_only_the_caller(&self) -> bool {
        let single =
            |maps: &[IdMap], own: u32| matches!(maps, [m] if m.outside == own && m.count == 1);
        single(&self.uids, geteuid().as_raw()) && single(&self.gids, getegid().as_raw())
    }

    /// The files of `/proc/PID/` to write, in order, and what to write in each. `privileged`:
    /// the writer is root in the parent namespace.
    pub fn proc_writes(&self, privileged: bool) -> Vec<(&'static str, String)> {
        // exercise 01.1: the user-namespace maps: which /proc files, in which order
        // An unprivileged writer may only map its gid after giving up setgroups(2) in the child
        // namespace, or a process could drop a supplementary group that was denying it access.
        let mut writes = Vec::new();
        if !privileged {
            writes.push(("setgroups", "deny".to_string()));
        }
        writes.push(("uid_map", lines(&self.uids)));
        writes.push(("gid_map", lines(&self.gids)));
        writes
        // end of exercise 01.1
    }
}

/// The user's subordinate uid and gid ranges, or why there are none to use.
fn subordinate_ranges(
    name: &str,
    uid: u32,
) -> std::result::Result<(Vec<SubordinateRange>, Vec<SubordinateRange>), String> {
    let mut found = Vec::new();
    for (file, kind) in [(subids::SUBUID_FILE, "uid"), (subids::SUBGID_FILE, "gid")] {
        // subgid(5): /etc/subgid lists ranges by *user* too, not by group.
        let ranges = subids::ranges_for(file.as_ref(), name, uid).map_err(|e| e.to_string())?;
        if ranges.is_empty() {
            return Err(format!(
                "no subordinate {kind} range for {name} in {file}: add one as root with \
                 `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {name}`"
            ));
        }
        found.push(ranges);
    }
    for helper in ["newuidmap", "newgidmap"] {
        if subids::find_helper(helper).is_none() {
            return Err(format!(
                "{name} has subordinate ranges, but {helper} is not installed (Debian's uidmap \
                 package writes maps with them)"
            ));
        }
    }
    let gids = found.pop().unwrap_or_default();
    let uids = found.pop().unwrap_or_default();
    Ok((uids, gids))
}

/// Map `ranges` one after the other from id 1 inside (0 is the caller).
fn from_one(ranges: &[SubordinateRange]) -> Vec<IdMap> {
    let mut inside = 1u32;
    ranges
        .iter()
        .map(|range| {
            let map = IdMap {
                inside,
                outside: range.start,
                count: range.count,
            };
            inside = inside.saturating_add(range.count);
            map
        })
        .collect()
}

/// Run `newuidmap` or `newgidmap` (`program`) for `pid`: `program PID INSIDE OUTSIDE COUNT...`
/// (read newuidmap(1)). It is setuid root; it writes the map only if every range is ours in
/// /etc/subuid (or /etc/subgid) or is our own id.
fn run_helper(program: &str, pid: Pid, maps: &[IdMap]) -> Result<()> {
    let path = subids::find_helper(program).ok_or_else(|| {
        Error::Invalid(format!(
            "{program} is not installed: a map beyond your own id needs it (Debian's uidmap \
             package)"
        ))
    })?;
    let mut args = vec![pid.to_string()];
    for map in maps {
        args.extend([map.inside, map.outside, map.count].map(|n| n.to_string()));
    }
    explain!(
        "{program} {}: the setuid helper writes /proc/{pid}/{}_map with our subordinate ids",
        args.join(" "),
        &program[3..6]
    );
    let output = std::process::Command::new(&path)
        .args(&args)
        .output()
        .map_err(Error::file("run", &path))?;
    if !output.status.success() {
        return Err(Error::Invalid(format!(
            "{} {}: {} ({}); check your ranges in /etc/subuid and /etc/subgid",
            path.display(),
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim(),
            output.status
        )));
    }
    Ok(())
}

fn lines(maps: &[IdMap]) -> String {
    maps.iter().map(|m| format!("{m}\n")).collect()
}

fn write_proc(pid: Pid, file: &str, content: &str) -> Result<()> {
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    explain!("write {:?} to {}", content.trim_end(), path.display());
    std::fs::write(&path, content).map_err(Error::file("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_are_inside_outside_count() {
        let maps = [
            IdMap {
                inside: 0,
                outside: 1000,
                count: 1,
            },
            IdMap {
                inside: 1,
                outside: 100000,
                count: 65536,
            },
        ];
        assert_eq!(lines(&maps), "0 1000 1\n1 100000 65536\n");
    }

    #[test]
    fn an_unprivileged_writer_denies_setgroups_before_the_maps() {
        let maps = IdMappings {
            uids: vec![IdMap {
                inside: 0,
                outside: 1000,
                count: 1,
            }],
            gids: vec![IdMap {
                inside: 0,
                outside: 100,
                count: 1,
            }],
        };
        let files = |privileged| -> Vec<(&str, String)> { maps.proc_writes(privileged) };
        assert_eq!(
            files(false),
            [
                ("setgroups", "deny".to_string()),
                ("uid_map", "0 1000 1\n".to_string()),
                ("gid_map", "0 100 1\n".to_string())
            ]
        );
        assert_eq!(
            files(true),
            [
                ("uid_map", "0 1000 1\n".to_string()),
                ("gid_map", "0 100 1\n".to_string())
            ]
        );
    }
}
