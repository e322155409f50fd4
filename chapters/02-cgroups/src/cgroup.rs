//! One cgroup per container: create it, put processes in it, remove it.
//!
//! A cgroup is a directory in a cgroup file system; `mkdir` creates one and the kernel fills it
//! with the controllers' files, writing a pid to its `cgroup.procs` moves that process (and
//! its future children) in, and `rmdir` removes it once no process is left (read `cgroups(7)`).
//! On v1 the container gets one such directory in each hierarchy we use (memory, cpu, cpuacct,
//! pids); on v2 a single one, after its parents enabled the controllers for their children in
//! `cgroup.subtree_control`.
//!
//! [`ContainerCgroup`] is a guard: dropping it kills whatever still runs in the cgroup and
//! removes the directories, so a runner that returns early, fails or panics leaves nothing.

use crate::attach::Attacher;
use crate::error::{Error, Result};
use crate::mode::{Controller, Hierarchy, Layout, Mode};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The parent of every container's cgroup unless `--cgroup-parent` says otherwise, relative to
/// the root of each hierarchy (as Docker's `/docker`).
pub const DEFAULT_PARENT: &str = "baleia";

/// The container's directory in one hierarchy, and the controllers that hierarchy carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupDir {
    pub path: PathBuf,
    pub controllers: Vec<Controller>,
}

/// A container's cgroup (one directory per hierarchy on v1, one on v2).
#[derive(Debug)]
pub struct ContainerCgroup {
    name: String,
    /// `PARENT/NAME`, the same under every hierarchy.
    relative: PathBuf,
    mode: Mode,
    dirs: Vec<CgroupDir>,
    /// Parent directories removed with the container if nobody else uses them by then: those
    /// it had to make, and the engine's own default parent (`baleia`) in any case, so the last
    /// container out leaves no empty `baleia` cgroup behind whoever made it.
    created_parents: Vec<PathBuf>,
    /// Whether dropping this handle removes the cgroup (true for one we created).
    owned: bool,
    /// Take a `PARENT/NAME` that exists already as ours (see [`Self::create_or_join`]).
    join_existing: bool,
}

impl ContainerCgroup {
    /// Create the cgroup `PARENT/NAME` in every hierarchy of `layout`. Fails with
    /// [`Error::NameInUse`] if it exists already. Nothing is left behind if this fails.
    pub fn create(layout: &Layout, parent: &str, name: &str) -> Result<ContainerCgroup> {
        Self::make(layout, parent, name, false)
    }

    /// [`create`](Self::create), but a `PARENT/NAME` that exists already (in some or all
    /// hierarchies) is joined instead of refused: an OCI runtime is told which cgroup to use,
    /// and its caller may have made it (a pod's), or put a limit on it first. Removed with
    /// the container all the same.
    pub fn create_or_join(layout: &Layout, parent: &str, name: &str) -> Result<ContainerCgroup> {
        Self::make(layout, parent, name, true)
    }

    fn make(layout: &Layout, parent: &str, name: &str, join: bool) -> Result<ContainerCgroup> {
        check_name("container name", name)?;
        let parent = clean_parent(parent)?;
        let mut cgroup = ContainerCgroup {
            name: name.to_string(),
            relative: parent.join(name),
            mode: layout.mode,
            dirs: Vec::new(),
            created_parents: Vec::new(),
            owned: true,
            join_existing: join,
        };
        explain!("cgroup mode: {layout}");
        for hierarchy in &layout.hierarchies {
            let path = cgroup.create_in(hierarchy, &parent)?;
            cgroup.dirs.push(CgroupDir {
                path,
                controllers: hierarchy.controllers.clone(),
            });
        }
        Ok(cgroup)
    }

    /// Make the missing parent directories, then `PARENT/NAME`, in one hierarchy. A plain
    /// `mkdir` for the last one: if it exists, the name is taken. If another runner removed a
    /// parent it had made just before our `mkdir` (ENOENT), make the parent again.
    fn create_in(&mut self, hierarchy: &Hierarchy, parent: &Path) -> Result<PathBuf> {
        let path = hierarchy.dir.join(&self.relative);
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.make_parents(hierarchy, parent)?;
            explain!(
                "mkdir {}: a new cgroup, the kernel fills it with files",
                path.display()
            );
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(path),
                Err(e) if e.kind() == ErrorKind::AlreadyExists && self.join_existing => {
                    explain!("{} exists already: joined", path.display());
                    return Ok(path);
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    return Err(Error::NameInUse {
                        name: self.name.clone(),
                        path,
                    })
                }
                Err(e) if e.kind() == ErrorKind::NotFound && attempts < 3 => continue,
                Err(e) => return Err(Error::file("mkdir", path)(e)),
            }
        }
    }

    /// Walk from the hierarchy's root down to `parent`, making the directories that are
    /// missing (and remembering them, to remove them with the container if they are empty by
    /// then). On v2, each level must also enable our controllers for its children.
    fn make_parents(&mut self, hierarchy: &Hierarchy, parent: &Path) -> Result<()> {
        let mut level = hierarchy.dir.clone();
        let mut levels = vec![level.clone()];
        for component in parent.components() {
            level.push(component);
            levels.push(level.clone());
        }
        for (depth, level) in levels.into_iter().enumerate() {
            if depth > 0 && !level.is_dir() {
                explain!(
                    "mkdir {}: the parent of containers' cgroups",
                    level.display()
                );
                match std::fs::create_dir(&level) {
                    Ok(()) => self.created_parents.push(level.clone()),
                    Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(Error::file("mkdir", level)(e)),
                }
            }
            if depth == 1
                && parent == Path::new(DEFAULT_PARENT)
                && !self.created_parents.contains(&level)
            {
                self.created_parents.push(level.clone());
            }
            if self.mode.is_v2() {
                enable_controllers(&level, &hierarchy.controllers)?;
            }
        }
        Ok(())
    }

    /// The existing cgroup of a running container, to read it (`stats`). Dropping it removes
    /// nothing.
    pub fn open(layout: &Layout, parent: &str, name: &str) -> Result<ContainerCgroup> {
        check_name("container name", name)?;
        let relative = clean_parent(parent)?.join(name);
        let mut dirs = Vec::new();
        for hierarchy in &layout.hierarchies {
            let path = hierarchy.dir.join(&relative);
            if !path.is_dir() {
                return Err(Error::NotRunning {
                    name: name.to_string(),
                    path,
                });
            }
            dirs.push(CgroupDir {
                path,
                controllers: hierarchy.controllers.clone(),
            });
        }
        Ok(ContainerCgroup {
            name: name.to_string(),
            relative,
            mode: layout.mode,
            dirs,
            created_parents: Vec::new(),
            owned: false,
            join_existing: false,
        })
    }

    /// The existing cgroup of a container someone else created, to own it from now on:
    /// dropping this handle removes it (an OCI runtime's `delete`, in another process than
    /// the `create` that made it).
    pub fn adopt(layout: &Layout, parent: &str, name: &str) -> Result<ContainerCgroup> {
        let mut cgroup = Self::open(layout, parent, name)?;
        cgroup.owned = true;
        Ok(cgroup)
    }

    /// Stop owning the cgroup: dropping the handle leaves it in place (the process that made
    /// it exits while the container runs on; a later [`adopt`](Self::adopt) removes it).
    pub fn release(mut self) {
        self.owned = false;
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `PARENT/NAME`, as it appears under each hierarchy.
    pub fn relative_path(&self) -> &Path {
        &self.relative
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn dirs(&self) -> &[CgroupDir] {
        &self.dirs
    }

    /// The directory that holds `controller`'s files, if this host has that controller.
    pub fn dir_of(&self, controller: Controller) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.controllers.contains(&controller))
            .map(|d| d.path.as_path())
    }

    /// What moves a process into this cgroup; it can be handed to a parent-side step.
    pub fn attacher(&self) -> Attacher {
        Attacher::into_dirs(self.dirs.iter().map(|d| d.path.as_path()))
    }

    /// The pids in the cgroup (from every hierarchy, without duplicates).
    pub fn pids(&self) -> Vec<i32> {
        let mut pids: Vec<i32> = self
            .dirs
            .iter()
            .filter_map(|d| std::fs::read_to_string(d.path.join("cgroup.procs")).ok())
            .flat_map(|text| {
                text.lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// Kill whatever still runs in the cgroup, then remove its directories. Without a PID
    /// namespace a container's children outlive it, and a cgroup with processes cannot be
    /// removed: so they go too (as `docker stop` does).
    pub fn remove(&mut self) -> Result<()> {
        if !self.owned {
            return Ok(());
        }
        self.kill_remaining()?;
        while let Some(dir) = self.dirs.pop() {
            explain!("rmdir {}: remove the cgroup", dir.path.display());
            if let Err(error) = rmdir_when_released(&dir.path) {
                self.dirs.push(dir);
                return Err(error);
            }
        }
        while let Some(parent) = self.created_parents.pop() {
            // Another container may live there by now (ENOTEMPTY, EBUSY), or another runner
            // removed it already (ENOENT): either way it is not ours to worry about.
            if std::fs::remove_dir(&parent).is_ok() {
                explain!("rmdir {}: a parent of ours, now empty", parent.display());
            }
        }
        self.owned = false;
        Ok(())
    }

    fn kill_remaining(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut told = false;
        loop {
            let pids = self.pids();
            if pids.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Invalid(format!(
                    "cgroup {}: processes {pids:?} survived SIGKILL for 5 seconds",
                    self.relative.display()
                )));
            }
            if !told {
                explain!(
                    "{} process(es) left in the cgroup: kill(SIGKILL) each",
                    pids.len()
                );
                told = true;
            }
            for pid in pids {
                // ESRCH: it died meanwhile.
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        if let Err(error) = self.remove() {
            eprintln!(
                "warning: cgroup {} not removed: {error}",
                self.relative.display()
            );
        }
    }
}

/// `rmdir` a cgroup. Right after its last process died the kernel may still hold it for a
/// moment (EBUSY), so try again for a little while, as runc does.
pub fn rmdir_when_released(path: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(Error::file("rmdir", path)(e)),
        }
    }
}

/// v2: a controller works in a cgroup only if its parent enabled it for its children, in its
/// `cgroup.subtree_control`, and so on up to the root. Enable at `level` what is missing.
fn enable_controllers(level: &Path, controllers: &[Controller]) -> Result<()> {
    // exercise 02.2: v2: enable the controllers a child needs in cgroup.subtree_control
    let file = level.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&file).map_err(Error::file("read", file.clone()))?;
    let missing: Vec<String> = controllers
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == c.name()))
        .map(|c| format!("+{}", c.name()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let value = missing.join(" ");
    explain!(
        "write \"{value}\" to {}: let the children of this cgroup use them",
        file.display()
    );
    std::fs::write(&file, &value).map_err(|e| Error::Write {
        path: file.clone(),
        value: value.clone(),
        reason: e.to_string(),
    })
    // end of exercise 02.2
}

/// Names follow Docker's rule, `[a-zA-Z0-9][a-zA-Z0-9_.-]*`: no `/`, no `..`, nothing that
/// could climb out of the parent cgroup.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "invalid {what} {name:?}: use letters, digits and _.- (not first)"
        )))
    }
}

/// `--cgroup-parent`: a path of valid names, taken from the root of each hierarchy (a leading
/// `/` changes nothing).
fn clean_parent(parent: &str) -> Result<PathBuf> {
    let trimmed = parent.trim_matches('/');
    if trimmed.is_empty() {
        return Err(Error::Invalid(
            "--cgroup-parent must not be the root cgroup: containers get a parent of their own"
                .into(),
        ));
    }
    for part in trimmed.split('/') {
        check_name("--cgroup-parent component", part)?;
    }
    Ok(PathBuf::from(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_climb_out_of_the_parent() {
        assert!(check_name("n", "box-1_a.b").is_ok());
        for bad in ["", "..", "a/b", ".hidden", "-x", "a b"] {
            assert!(check_name("n", bad).is_err(), "{bad:?}");
        }
        assert_eq!(clean_parent("/baleia/").unwrap(), PathBuf::from("baleia"));
        assert_eq!(clean_parent("a/b").unwrap(), PathBuf::from("a/b"));
        assert!(clean_parent("/").is_err());
        assert!(clean_parent("a/../..").is_err());
    }
}
