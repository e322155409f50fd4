//! Which cgroup version this host runs, and where each controller lives.
//!
//! Linux has two cgroup file systems (read `cgroups(7)`):
//! - **v1** (`cgroup`): one mounted hierarchy per controller, or per group of controllers
//!   (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/cpu`, ...). A process has one cgroup *in each*.
//! - **v2** (`cgroup2`): one single hierarchy, usually mounted at `/sys/fs/cgroup` itself, where
//!   a parent enables controllers for its children in `cgroup.subtree_control`.
//!
//! A **hybrid** host mounts v1 controllers at `/sys/fs/cgroup/*` *and* an (often empty) cgroup2
//! at `/sys/fs/cgroup/unified`, so that systemd can track processes with v2 while the resource
//! controllers stay on v1. There the controllers we need are v1 ones: seeing a cgroup2 mount
//! somewhere proves nothing. What decides is the file system mounted *at* `/sys/fs/cgroup`:
//! `cgroup2` means v2; anything else (a tmpfs holding the v1 mounts) means v1 or hybrid.

use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the cgroup file systems are mounted, by convention.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// The cgroup version of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Only v1 hierarchies.
    V1,
    /// v1 controllers, plus a cgroup2 mount (e.g. `/sys/fs/cgroup/unified`) that we leave
    /// alone: the controllers we need live on v1.
    Hybrid,
    /// The unified hierarchy is mounted at `/sys/fs/cgroup`.
    V2,
}

impl Mode {
    /// Decide from what is mounted *at* the cgroup root (is it `cgroup2`?) and from the mount
    /// table (`/proc/self/mountinfo`, read `proc(5)`): is there a cgroup2 mount elsewhere?
    pub fn classify(root_is_cgroup2: bool, mountinfo: &str) -> Mode {
        if root_is_cgroup2 {
            return Mode::V2;
        }
        let cgroup2_elsewhere = mountinfo.lines().any(|line| {
            line.split_once(" - ")
                .and_then(|(_, fs)| fs.split(' ').next())
                .is_some_and(|fs_type| fs_type == "cgroup2")
        });
        if cgroup2_elsewhere {
            Mode::Hybrid
        } else {
            Mode::V1
        }
    }

    pub fn is_v2(self) -> bool {
        self == Mode::V2
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
            Mode::V2 => "v2",
        })
    }
}

/// The controllers this chapter uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Controller {
    /// Memory limit, usage and peak, OOM kills.
    Memory,
    /// CPU bandwidth (quota per period) and weight. On v2 it also accounts CPU time.
    Cpu,
    /// CPU time accounting: a controller of its own on v1 only (v2 has `cpu.stat` everywhere).
    CpuAcct,
    /// How many processes (and threads) may exist.
    Pids,
}

impl Controller {
    pub const ALL: [Controller; 4] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::CpuAcct,
        Controller::Pids,
    ];

    /// The controller's name, as in `/proc/cgroups` and `cgroup.controllers`.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::CpuAcct => "cpuacct",
            Controller::Pids => "pids",
        }
    }
}

/// One mounted hierarchy: its directory and the controllers attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub dir: PathBuf,
    pub controllers: Vec<Controller>,
}

/// The host's cgroup layout: its mode, and the hierarchies that hold our controllers (one per
/// mount on v1, which may carry several controllers like `cpu,cpuacct`; exactly one on v2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub mode: Mode,
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    /// Look at this host: `statfs(2)` on `/sys/fs/cgroup` (is it a cgroup2 file system?), then
    /// where the controllers are mounted.
    pub fn detect() -> Result<Layout> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(Error::file("read", "/proc/self/mountinfo"))?;
        let root_is_cgroup2 = nix::sys::statfs::statfs(CGROUP_ROOT)
            .map_err(|errno| Error::Mode(format!("statfs({CGROUP_ROOT}): {errno}")))?
            .filesystem_type()
            == nix::sys::statfs::CGROUP2_SUPER_MAGIC;
        let mode = Mode::classify(root_is_cgroup2, &mountinfo);
        match mode {
            Mode::V2 => Layout::v2_at(Path::new(CGROUP_ROOT)),
            Mode::V1 | Mode::Hybrid => Layout::v1_from_mounts(mode, &mountinfo),
        }
    }

    /// A v2 layout rooted at `root`, offering the controllers its `cgroup.controllers` lists.
    /// (`CpuAcct` is not a v2 controller: CPU time is in every cgroup's `cpu.stat`.)
    pub fn v2_at(root: &Path) -> Result<Layout> {
        let list = root.join("cgroup.controllers");
        let available =
            std::fs::read_to_string(&list).map_err(Error::file("read", list.clone()))?;
        let controllers = Controller::ALL
            .into_iter()
            .filter(|c| *c != Controller::CpuAcct)
            .filter(|c| available.split_whitespace().any(|name| name == c.name()))
            .collect();
        Ok(Layout {
            mode: Mode::V2,
            hierarchies: vec![Hierarchy {
                dir: root.to_path_buf(),
                controllers,
            }],
        })
    }

    /// A v1 layout from the controllers' mount points in the mount table. Controllers mounted
    /// together (`cpu,cpuacct`) share one hierarchy.
    fn v1_from_mounts(mode: Mode, mountinfo: &str) -> Result<Layout> {
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        for controller in Controller::ALL {
            let Some(mount_point) = v1_mount_point(mountinfo, controller) else {
                continue;
            };
            match hierarchies.iter_mut().find(|h| h.dir == mount_point) {
                Some(shared) => shared.controllers.push(controller),
                None => hierarchies.push(Hierarchy {
                    dir: mount_point,
                    controllers: vec![controller],
                }),
            }
        }
        if hierarchies.is_empty() {
            return Err(Error::Mode(format!(
                "no memory, cpu, cpuacct or pids controller is mounted, and {CGROUP_ROOT} is not \
                 cgroup2"
            )));
        }
        Ok(Layout { mode, hierarchies })
    }

    /// The hierarchy that carries `controller`, if any.
    pub fn hierarchy_of(&self, controller: Controller) -> Option<&Hierarchy> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.contains(&controller))
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.mode)?;
        if self.mode == Mode::Hybrid {
            write!(
                f,
                " (our controllers are on v1; the cgroup2 mount is left alone)"
            )?;
        }
        let hierarchies: Vec<String> = self
            .hierarchies
            .iter()
            .map(|h| {
                let names: Vec<_> = h.controllers.iter().map(|c| c.name()).collect();
                format!("{} [{}]", h.dir.display(), names.join(","))
            })
            .collect();
        write!(f, "; hierarchies: {}", hierarchies.join(", "))
    }
}

/// Where a v1 controller's hierarchy is mounted: the first line of `/proc/self/mountinfo` (read
/// `proc(5)`) whose file system type, after the ` - ` separator, is `cgroup` and whose super
/// options name the controller (`rw,cpu,cpuacct`). The mount point is the fifth field.
fn v1_mount_point(mountinfo: &str, controller: Controller) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (mount, filesystem) = line.split_once(" - ")?;
        let mut filesystem = filesystem.split_whitespace();
        let (kind, _source, options) = (filesystem.next()?, filesystem.next()?, filesystem.next()?);
        if kind != "cgroup" || !options.split(',').any(|o| o == controller.name()) {
            return None;
        }
        mount.split_whitespace().nth(4).map(PathBuf::from)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn a_cgroup2_mount_elsewhere_makes_a_hybrid_host_not_a_v2_one() {
        assert_eq!(Mode::classify(false, HYBRID), Mode::Hybrid);
        assert!(!Mode::classify(false, HYBRID).is_v2());
    }

    #[test]
    fn only_cgroup2_at_the_root_means_v2() {
        let v2 = "25 23 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(Mode::classify(true, v2), Mode::V2);
    }

    #[test]
    fn v1_without_any_cgroup2_mount() {
        let v1: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(Mode::classify(false, &v1), Mode::V1);
    }

    #[test]
    fn v2_layout_offers_the_controllers_the_root_lists() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory hugetlb\n",
        )
        .unwrap();
        let layout = Layout::v2_at(root.path()).unwrap();
        assert_eq!(layout.mode, Mode::V2);
        assert_eq!(
            layout.hierarchies[0].controllers,
            [Controller::Memory, Controller::Cpu]
        );
        assert!(layout.hierarchy_of(Controller::Pids).is_none());
    }

    #[test]
    fn v1_hierarchies_come_from_the_mount_table_and_joint_mounts_are_shared() {
        let layout = Layout::v1_from_mounts(Mode::Hybrid, HYBRID).unwrap();
        assert_eq!(layout.hierarchies.len(), 4, "{layout:?}");
        let joint: String = HYBRID
            .lines()
            .filter(|l| !l.contains("rw,cpuacct"))
            .map(|l| {
                l.replace(
                    "cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
                    "cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let layout = Layout::v1_from_mounts(Mode::Hybrid, &joint).unwrap();
        let cpu = &layout.hierarchies[1];
        assert_eq!(cpu.dir, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.controllers, [Controller::Cpu, Controller::CpuAcct]);
        assert!(Layout::v1_from_mounts(Mode::V1, "").is_err());
    }
}
