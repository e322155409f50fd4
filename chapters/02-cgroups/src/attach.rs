//! Moving processes into a cgroup: write the pid to `cgroup.procs` (in each hierarchy on v1).
//!
//! `run` moves the container's first process into the cgroup it made; `exec` moves the new
//! process into whatever cgroups its target is in, found in `/proc/PID/cgroup`, so that an
//! exec'd shell is held to the container's limits too.

use crate::error::{Error, Result};
use crate::mode::Layout;
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::unistd::Pid;
use std::path::{Path, PathBuf};

/// Moves processes into a cgroup by writing their pid to each of its `cgroup.procs` files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attacher {
    procs_files: Vec<PathBuf>,
}

impl Attacher {
    /// Into the cgroup whose directories (one per hierarchy) are `dirs`.
    pub fn into_dirs<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Attacher {
        Attacher {
            procs_files: dirs.into_iter().map(|d| d.join("cgroup.procs")).collect(),
        }
    }

    /// The cgroup(s) process `pid` is in, as `/proc/PID/cgroup` lists them, for `exec`: the
    /// new process joins the target's cgroup in each hierarchy of `layout`.
    pub fn of_process(layout: &Layout, pid: Pid) -> Result<Attacher> {
        let path = format!("/proc/{pid}/cgroup");
        let text = std::fs::read_to_string(&path).map_err(Error::file("read", path.clone()))?;
        let dirs = cgroup_dirs_of(layout, &text).ok_or_else(|| Error::Parse {
            path: path.into(),
            content: text.clone(),
        })?;
        Ok(Attacher::into_dirs(dirs.iter().map(PathBuf::as_path)))
    }

    /// Move `pid` in.
    pub fn attach(&self, pid: Pid) -> Result<()> {
        for file in &self.procs_files {
            explain!(
                "move pid {pid} into the cgroup: write it to {}",
                file.display()
            );
            std::fs::write(file, pid.to_string()).map_err(|e| Error::Write {
                path: file.clone(),
                value: pid.to_string(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// Read `/proc/PID/cgroup` (lines `ID:CONTROLLERS:PATH`, read `cgroups(7)`): the directory of
/// the process's cgroup in each hierarchy of `layout`. On v2 the line is `0::PATH`; on v1 the
/// line whose controller list has one of the hierarchy's controllers.
pub fn cgroup_dirs_of(layout: &Layout, proc_cgroup: &str) -> Option<Vec<PathBuf>> {
    let lines: Vec<(&str, &str)> = proc_cgroup
        .lines()
        .filter_map(|line| {
            let mut fields = line.splitn(3, ':');
            let _id = fields.next()?;
            Some((fields.next()?, fields.next()?))
        })
        .collect();
    layout
        .hierarchies
        .iter()
        .map(|hierarchy| {
            let (_, path) = lines.iter().find(|(controllers, _)| {
                if layout.mode.is_v2() {
                    controllers.is_empty()
                } else {
                    controllers
                        .split(',')
                        .any(|c| hierarchy.controllers.iter().any(|h| h.name() == c))
                }
            })?;
            Some(hierarchy.dir.join(path.trim_start_matches('/')))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mode::{Controller, Hierarchy, Mode};

    fn hybrid() -> Layout {
        let h = |dir: &str, controllers: &[Controller]| Hierarchy {
            dir: dir.into(),
            controllers: controllers.to_vec(),
        };
        Layout {
            mode: Mode::Hybrid,
            hierarchies: vec![
                h("/sys/fs/cgroup/memory", &[Controller::Memory]),
                h("/sys/fs/cgroup/cpu", &[Controller::Cpu]),
                h("/sys/fs/cgroup/cpuacct", &[Controller::CpuAcct]),
                h("/sys/fs/cgroup/pids", &[Controller::Pids]),
            ],
        }
    }

    #[test]
    fn proc_cgroup_gives_the_directory_in_each_v1_hierarchy() {
        let text = "\
9:name=systemd:/
8:pids:/baleia/box
4:memory:/baleia/box
2:cpuacct:/baleia/box
1:cpu:/baleia/box
0::/
";
        let dirs = cgroup_dirs_of(&hybrid(), text).unwrap();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/memory/baleia/box",
                "/sys/fs/cgroup/cpu/baleia/box",
                "/sys/fs/cgroup/cpuacct/baleia/box",
                "/sys/fs/cgroup/pids/baleia/box"
            ]
            .map(PathBuf::from)
        );
    }

    #[test]
    fn proc_cgroup_on_v2_is_the_single_0_line() {
        let layout = Layout {
            mode: Mode::V2,
            hierarchies: vec![Hierarchy {
                dir: "/sys/fs/cgroup".into(),
                controllers: vec![Controller::Memory],
            }],
        };
        let dirs = cgroup_dirs_of(&layout, "0::/baleia/box\n").unwrap();
        assert_eq!(dirs, [PathBuf::from("/sys/fs/cgroup/baleia/box")]);
        assert!(cgroup_dirs_of(&hybrid(), "0::/\n").is_none());
    }
}
