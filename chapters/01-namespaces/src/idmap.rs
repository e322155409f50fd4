//! User namespaces: who is who inside.
//!
//! A new user namespace starts with no ids mapped: everyone shows up as the "overflow" id 65534.
//! The parent writes `/proc/PID/uid_map` and `/proc/PID/gid_map` once, each line being
//! `ID-INSIDE ID-OUTSIDE COUNT` (read `user_namespaces(7)`). Mapping the caller's own uid to 0
//! makes the process root *inside*: it holds every capability over the namespaces its user
//! namespace owns, and none over the host.

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use nix::unistd::{getegid, geteuid, Pid};
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

    /// Write the maps of process `pid`, which has just created its user namespace.
    pub fn write_for(&self, pid: Pid) -> Result<()> {
        for (file, content) in self.proc_writes(geteuid().is_root()) {
            write_proc(pid, file, &content)?;
        }
        Ok(())
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
