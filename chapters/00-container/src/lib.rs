//! A container in about a hundred lines: the whole idea of the course before its chapters.
//!
//! A container is an ordinary process that the kernel shows a world of its own: its own process
//! numbers, host name and mounts (namespaces, chapter 01), its own root file system (chapter
//! 03), and a ceiling on what it may use (cgroups, chapter 02). It shares the host's kernel,
//! which is why it starts in milliseconds where a virtual machine boots a kernel of its own.
//!
//! Three steps, each one exercise: [`spawn`] clones the process into new namespaces,
//! [`enter_root`] moves it into the image's root with pivot_root(2), [`limit_memory`] makes a
//! cgroup with a memory limit that the process joins before it runs the command.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{chdir, execv, pivot_root, sethostname, Pid};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// What to run, and how.
pub struct Container {
    /// The command and its arguments (the program is looked up by its path, no PATH search).
    pub argv: Vec<String>,
    pub hostname: String,
    /// A directory holding the image's files (a busybox root); `None` keeps the host's files.
    pub rootfs: Option<PathBuf>,
    /// A memory limit in bytes.
    pub memory: Option<u64>,
}

type Result<T> = std::result::Result<T, String>;

/// Run the container to its end; its exit code as a shell reports it (128 + N if signal N).
pub fn run(container: &Container) -> Result<i32> {
    let cgroup = match container.memory {
        Some(bytes) => Some(limit_memory(
            &format!("ch00-{}", std::process::id()),
            bytes,
        )?),
        None => None,
    };
    let status = spawn(container, cgroup.as_deref())
        .and_then(|pid| waitpid(pid, None).map_err(|e| format!("waitpid: {e}")));
    if let Some(dir) = cgroup {
        // Empty once the container is reaped; the kernel may take a moment to agree.
        let removed = (0..50).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            std::fs::remove_dir(&dir).is_ok()
        });
        if !removed {
            return Err(format!("rmdir {}: still busy", dir.display()));
        }
    }
    match status? {
        WaitStatus::Exited(_, code) => Ok(code),
        WaitStatus::Signaled(_, signal, _) => Ok(128 + signal as i32),
        other => Err(format!("waitpid: unexpected {other:?}")),
    }
}

/// clone(2) the container's process into new namespaces; it runs [`inside`].
pub fn spawn(container: &Container, cgroup: Option<&Path>) -> Result<Pid> {
    // exercise 00.1: clone with new namespaces: PID, mount, UTS, IPC, network
    let mut stack = vec![0u8; 1024 * 1024];
    let flags = CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWNET;
    let child = Box::new(|| match inside(container, cgroup) {
        Ok(never) => match never {},
        Err(message) => {
            eprintln!("ch00-container: {message}");
            125
        }
    });
    // SAFETY: the child gets a copy of our memory (no CLONE_VM) and its own stack; it only
    // runs `inside`, which ends in execv or an exit.
    unsafe { nix::sched::clone(child, &mut stack, flags, Some(Signal::SIGCHLD as i32)) }
        .map_err(|e| format!("clone: {e} (are you root?)"))
    // end of exercise 00.1
}

/// In the new process: join the cgroup, take the host name, change root, run the command.
fn inside(container: &Container, cgroup: Option<&Path>) -> Result<std::convert::Infallible> {
    if let Some(dir) = cgroup {
        std::fs::write(dir.join("cgroup.procs"), "0").map_err(|e| format!("join cgroup: {e}"))?;
    }
    sethostname(&container.hostname).map_err(|e| format!("sethostname: {e}"))?;
    if let Some(rootfs) = &container.rootfs {
        enter_root(rootfs)?;
    }
    let argv: Vec<CString> = (container.argv.iter().cloned().map(CString::new))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| "an argument holds a NUL byte".to_string())?;
    execv(&argv[0], &argv).map_err(|e| format!("execv {}: {e}", container.argv[0]))
}

/// Make `rootfs` the root of this mount namespace, with a /proc of the new PID namespace.
pub fn enter_root(rootfs: &Path) -> Result<()> {
    // exercise 00.2: pivot_root into the busybox root, then mount /proc
    let none = None::<&str>;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("make / private: {e}"))?;
    mount(
        Some(rootfs),
        rootfs,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(|e| format!("bind {}: {e}", rootfs.display()))?;
    chdir(rootfs).map_err(|e| format!("chdir {}: {e}", rootfs.display()))?;
    pivot_root(".", ".").map_err(|e| format!("pivot_root: {e}"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| format!("detach the old root: {e}"))?;
    chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    mount(Some("proc"), "/proc", Some("proc"), MsFlags::empty(), none)
        .map_err(|e| format!("mount /proc: {e}"))
    // end of exercise 00.2
}

/// Make cgroup `name` with a memory limit of `bytes` (no swap beyond it); its directory.
pub fn limit_memory(name: &str, bytes: u64) -> Result<PathBuf> {
    // exercise 00.3: one memory limit: a cgroup directory and the limit file (v2 or v1)
    let v2 = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let dir = match v2 {
        true => Path::new("/sys/fs/cgroup").join(name),
        false => Path::new("/sys/fs/cgroup/memory").join(name),
    };
    std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let (limit, swap, swap_value) = match v2 {
        true => ("memory.max", "memory.swap.max", "0".to_string()),
        false => (
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            bytes.to_string(),
        ),
    };
    let write = |file: &str, value: &str| {
        std::fs::write(dir.join(file), value).map_err(|e| format!("write {file}: {e}"))
    };
    if let Err(e) = write(limit, &bytes.to_string()) {
        let _ = std::fs::remove_dir(&dir);
        return Err(e);
    }
    if dir.join(swap).exists() {
        write(swap, &swap_value)?;
    }
    Ok(dir)
    // end of exercise 00.3
}
