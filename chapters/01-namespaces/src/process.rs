//! Starting a process inside namespaces: the process model every later chapter builds on.
//!
//! Three processes take part (the parent, a short-lived *setup process*, and the container's
//! *first process*), and they take turns over a [`channel`](crate::channel):
//!
//! ```text
//!  parent                     setup process                  first process (PID 1 inside)
//!  ──────                     ─────────────                  ────────────────────────────
//!  fork() ──────────────────► unshare(CLONE_NEW...)
//!                             or setns() into a target
//!                             clone(CLONE_PARENT) ─────────► waits for "go"
//!  ◄── "spawned PID" ──────── exits
//!  parent-side steps on PID:                                      │
//!  uid/gid maps, cgroup, veth...                                  │
//!  ─── "go" ────────────────────────────────────────────────────► child-side steps:
//!                                                                 hostname, mounts, /proc,
//!                                                                 lo up, pivot_root...
//!  ◄── end-of-file (execve closed the channel) ────────────────── execve(command)
//! ```
//!
//! Why a setup process? `unshare(CLONE_NEWPID)` and `setns()` into a PID namespace do not move
//! the caller: only its *next child* lands in the new PID namespace (read
//! `pid_namespaces(7)`). So something has to enter the namespaces and then fork. We use `fork`
//! for that first step rather than a raw `clone`, because it is the one call that is safe in a
//! multi-threaded parent (glibc resets its locks in the child); the setup process is
//! single-threaded, so it may then use `clone(CLONE_PARENT)`, which makes the first process a
//! child of *our* parent, who can `waitpid` for it, signal it and read its exit code directly.

use crate::channel::{self, Channel, Message};
use crate::common::Failure;
use crate::error::{Error, Result, StepError};
use crate::exec::exec_command;
use crate::explain;
use crate::idmap::IdMappings;
use crate::init::run_as_init;
use crate::inside;
use crate::namespace::{Namespace, NamespaceSet};
use crate::security::Security;
use crate::signals;
use nix::errno::Errno;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{fork, ForkResult, Pid};
use std::ffi::CString;
use std::fs::File;

/// A parent-side step: runs in the parent after the container's first process exists and
/// before it continues. It gets that process's pid (as the host sees it).
pub type ParentStep = Box<dyn FnMut(Pid) -> std::result::Result<(), StepError>>;

/// A child-side step: runs inside the new namespaces, in the container's first process, just
/// before the command is executed.
pub type ChildStep = Box<dyn FnMut() -> std::result::Result<(), StepError>>;

/// How the setup process gets into namespaces.
enum Entry {
    /// Create new namespaces of these kinds (`docker run`).
    Create(NamespaceSet),
    /// Join the namespaces of a running process (`docker exec`).
    Join(Pid),
}

/// A command to run in namespaces, built step by step, then [`spawn`](Container::spawn)ed.
pub struct Container {
    argv: Vec<CString>,
    entry: Entry,
    hostname: Option<String>,
    id_mappings: Option<IdMappings>,
    mount_proc: bool,
    init: bool,
    kill_with_parent: bool,
    /// Set when joining a process whose user namespace differs from ours.
    joins_user_namespace: bool,
    parent_steps: Vec<(String, ParentStep)>,
    child_steps: Vec<(String, ChildStep)>,
    /// Child-side steps run first, before a new user namespace's root is taken on.
    early_child_steps: Vec<(String, ChildStep)>,
    /// Existing namespaces to enter by path (`/proc/PID/ns/net`, a bind-mounted netns), with
    /// the new ones created.
    namespace_paths: Vec<(Namespace, std::path::PathBuf)>,
    /// The last step before `execve`, after which `spawn` does not wait (see `start_gate`).
    start_gate: Option<(String, ChildStep)>,
    /// Capabilities, no_new_privs, seccomp (see [`crate::security`]): Docker's defaults unless
    /// the caller says otherwise (`--privileged`).
    security: Security,
    /// Descriptors 3 .. 3+N the command gets from us (every other one above 2 is closed).
    preserve_fds: u32,
}

impl Container {
    /// Run `argv` in new namespaces of the given kinds. A new user namespace gets
    /// [`IdMappings::for_caller`] (its warning is the caller's to show).
    pub fn new(argv: &[String], namespaces: NamespaceSet) -> Result<Self> {
        let id_mappings = namespaces
            .contains(Namespace::User)
            .then(|| IdMappings::for_caller().0);
        Self::with_entry(argv, Entry::Create(namespaces), id_mappings)
    }

    /// Run `argv` inside the namespaces of the running process `target`.
    pub fn join(target: Pid, argv: &[String]) -> Result<Self> {
        Self::with_entry(argv, Entry::Join(target), None)
    }

    fn with_entry(argv: &[String], entry: Entry, id_mappings: Option<IdMappings>) -> Result<Self> {
        if argv.is_empty() {
            return Err(Error::Invalid("no command given".into()));
        }
        let argv = argv
            .iter()
            .map(|arg| CString::new(arg.as_bytes()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::Invalid("a command argument contains a NUL byte".into()))?;
        Ok(Container {
            argv,
            entry,
            hostname: None,
            id_mappings,
            mount_proc: true,
            init: false,
            kill_with_parent: false,
            joins_user_namespace: false,
            parent_steps: Vec::new(),
            child_steps: Vec::new(),
            early_child_steps: Vec::new(),
            namespace_paths: Vec::new(),
            start_gate: None,
            security: Security::docker_default(),
            preserve_fds: 0,
        })
    }

    /// What the container's processes may do beyond what their namespaces show: which
    /// capabilities, `no_new_privs`, the seccomp filter ([`Security::docker_default`] is what
    /// Docker gives).
    pub fn security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// Let the command have our descriptors 3 .. 3+`count` (an OCI runtime's
    /// `--preserve-fds`: the caller opened them for it); every other one above 2 is closed at
    /// `execve`.
    pub fn preserve_fds(mut self, count: u32) -> Self {
        self.preserve_fds = count;
        self
    }

    /// The host name inside; needs a new UTS namespace.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.hostname = Some(name.into());
        self
    }

    /// Replace the default uid/gid maps (the caller as root) of a new user namespace.
    pub fn id_mappings(mut self, mappings: IdMappings) -> Self {
        self.id_mappings = Some(mappings);
        self
    }

    /// Whether to mount a fresh `/proc` when the container has its own PID and mount
    /// namespaces (the default). A chapter that changes the root file system turns this off
    /// and mounts `/proc` inside the new root instead.
    pub fn mount_proc(mut self, yes: bool) -> Self {
        self.mount_proc = yes;
        self
    }

    /// Run a minimal init as PID 1 that reaps zombies and forwards signals (`docker run
    /// --init`). Needs a new PID namespace.
    pub fn init(mut self, yes: bool) -> Self {
        self.init = yes;
        self
    }

    /// Kill the container (SIGKILL) if the process that spawned it dies, so a crashed or killed
    /// parent leaves nothing running (`prctl(PR_SET_PDEATHSIG)`).
    pub fn kill_with_parent(mut self, yes: bool) -> Self {
        self.kill_with_parent = yes;
        self
    }

    /// Add a parent-side step (see [`ParentStep`]); steps run in the order they are added.
    pub fn parent_step(
        mut self,
        name: impl Into<String>,
        step: impl FnMut(Pid) -> std::result::Result<(), StepError> + 'static,
    ) -> Self {
        self.parent_steps.push((name.into(), Box::new(step)));
        self
    }

    /// Add a child-side step (see [`ChildStep`]); they run after this chapter's own steps.
    pub fn child_step(
        mut self,
        name: impl Into<String>,
        step: impl FnMut() -> std::result::Result<(), StepError> + 'static,
    ) -> Self {
        self.child_steps.push((name.into(), Box::new(step)));
        self
    }

    /// Add a child-side step that runs before all others, while the process still has the
    /// host's user and group ids even in a new user namespace (it becomes that namespace's
    /// root right after): the one moment it can open what only the host's user may reach,
    /// such as a bind mount's source in a directory closed to others.
    pub fn early_child_step(
        mut self,
        name: impl Into<String>,
        step: impl FnMut() -> std::result::Result<(), StepError> + 'static,
    ) -> Self {
        self.early_child_steps.push((name.into(), Box::new(step)));
        self
    }

    /// Enter the existing namespace at `path` (of kind `ns`) instead of creating one: the
    /// setup process `setns(2)`s into it before it `unshare`s the others (an OCI spec's
    /// `linux.namespaces[].path`; `docker run --network container:NAME`).
    pub fn join_namespace(mut self, ns: Namespace, path: impl Into<std::path::PathBuf>) -> Self {
        self.namespace_paths.push((ns, path.into()));
        self
    }

    /// A gate the container's first process waits at once it is completely set up (every
    /// step done, capabilities dropped, seccomp loaded), just before `execve`. [`spawn`]
    /// returns as soon as the process reaches the gate, not when the command runs: this is
    /// the OCI runtime's `create`, whose `start` later opens the gate (runc's `exec.fifo`).
    /// What happens after the gate (the command not found, say) is no longer reported to the
    /// caller: the process just exits with Docker's code.
    ///
    /// [`spawn`]: Container::spawn
    pub fn start_gate(
        mut self,
        name: impl Into<String>,
        gate: impl FnMut() -> std::result::Result<(), StepError> + 'static,
    ) -> Self {
        self.start_gate = Some((name.into(), Box::new(gate)));
        self
    }

    fn validate(&self) -> Result<()> {
        let namespaces = match &self.entry {
            Entry::Create(namespaces) => *namespaces,
            Entry::Join(_) => return Ok(()),
        };
        if self.hostname.is_some() && !namespaces.contains(Namespace::Uts) {
            return Err(Error::Invalid(
                "a hostname needs a new UTS namespace: without one it would rename the host".into(),
            ));
        }
        if self.init && !namespaces.contains(Namespace::Pid) {
            return Err(Error::Invalid(
                "an init needs a new PID namespace to be PID 1 of".into(),
            ));
        }
        Ok(())
    }

    /// Start the container. Returns once the command is running (its `execve` succeeded), or
    /// with the error that stopped it; nothing is left running when this fails.
    pub fn spawn(mut self) -> Result<ContainerProcess> {
        self.validate()?;
        let joined = match self.entry {
            Entry::Join(target) => {
                let joined = namespaces_to_join(target)?;
                self.joins_user_namespace = joined.iter().any(|(ns, _)| *ns == Namespace::User);
                joined
            }
            Entry::Create(_) => open_namespace_paths(&self.namespace_paths)?,
        };
        let (parent_end, child_end) = channel::pair()?;
        // runc's debug log calls this step "nsexec container setup": its C part, nsexec, forks
        // the same way before Go's runtime could start threads.
        explain!(
            "fork(): a setup process that will enter the namespaces (runc: nsexec container setup)"
        );
        // SAFETY: the child only runs code that is safe after fork in a multi-threaded program
        // (glibc's fork makes malloc usable) and never returns from this function.
        match unsafe { fork() }.map_err(|errno| Error::syscall("fork", "setup process", errno))? {
            ForkResult::Child => {
                drop(parent_end);
                self.setup_process(&joined, child_end)
            }
            ForkResult::Parent { child } => {
                drop(child_end);
                drop(joined);
                self.parent_side(child, parent_end)
            }
        }
    }

    // ---- in the parent -------------------------------------------------------------------

    fn parent_side(mut self, setup: Pid, channel: Channel) -> Result<ContainerProcess> {
        let first = channel.recv();
        // The setup process exits as soon as it has reported; collect it.
        signals::wait_for_exit(setup)?;
        let pid = match first? {
            Some(Message::Spawned(pid)) => pid,
            Some(Message::Failed {
                step,
                message,
                exit_code,
            }) => {
                return Err(Error::InContainer {
                    step,
                    message,
                    exit_code,
                })
            }
            other => {
                return Err(Error::Protocol(format!(
                    "expected the first process's pid, got {other:?}"
                )))
            }
        };
        let process = ContainerProcess { pid };
        match self.finish_start(&process, &channel) {
            Ok(()) => Ok(process),
            Err(error) => {
                process.kill_and_reap();
                Err(error)
            }
        }
    }

    fn finish_start(&mut self, process: &ContainerProcess, channel: &Channel) -> Result<()> {
        // exercise 01.2: clone with the parent's steps: write the maps, run the steps, say go, wait for execve
        let pid = process.pid;
        if let Some(mappings) = &self.id_mappings {
            mappings.write_for(pid)?;
        }
        for (name, step) in &mut self.parent_steps {
            explain!("parent-side step: {name}");
            step(pid).map_err(|source| Error::ParentStep {
                step: name.clone(),
                source,
            })?;
        }
        channel.send(&Message::Go)?;
        match channel.recv()? {
            // end-of-file: execve closed the channel; `Waiting`: at the start gate.
            None | Some(Message::Waiting) => Ok(()),
            Some(Message::Failed {
                step,
                message,
                exit_code,
            }) => Err(Error::InContainer {
                step,
                message,
                exit_code,
            }),
            Some(other) => Err(Error::Protocol(format!(
                "expected the command to start, got {other:?}"
            ))),
        }
        // end of exercise 01.2
    }

    // ---- in the setup process ------------------------------------------------------------

    fn setup_process(&mut self, joined: &[(Namespace, File)], channel: Channel) -> ! {
        if matches!(self.entry, Entry::Join(_)) {
            // Joining a running container: its processes must not get at us (see
            // `not_dumpable`) from the moment we are in its PID namespace.
            if let Err(error) = not_dumpable() {
                fail(&channel, error)
            }
        }
        if let Err(error) = self.enter_namespaces(joined) {
            fail(&channel, error)
        }
        explain!("clone(CLONE_PARENT): the container's first process, a child of our parent");
        match clone_parent() {
            Ok(None) => self.first_process(channel),
            Ok(Some(pid)) => match channel.send(&Message::Spawned(pid)) {
                Ok(()) => exit_now(0),
                Err(_) => exit_now(1),
            },
            Err(error) => fail(&channel, error),
        }
    }

    fn enter_namespaces(&self, joined: &[(Namespace, File)]) -> Result<()> {
        match &self.entry {
            Entry::Create(namespaces) => {
                for (ns, file) in joined {
                    explain!(
                        "setns({file:?}, {}): enter an existing {ns} namespace",
                        ns.flag_name()
                    );
                    setns(file, ns.clone_flag()).map_err(|errno| {
                        Error::syscall("setns", format!("{ns} namespace {file:?}"), errno)
                    })?;
                }
                // The cgroup namespace comes later, in the first process: its root is the cgroup
                // the process is in when it unshares, and the parent has not placed it yet.
                let now = namespaces.without(Namespace::Cgroup);
                if now.is_empty() {
                    return Ok(());
                }
                explain!("unshare({}): create the new namespaces", now.flag_names());
                unshare(now.clone_flags())
                    .map_err(|errno| Error::syscall("unshare", now.flag_names(), errno))
            }
            Entry::Join(target) => {
                for (ns, file) in joined {
                    explain!(
                        "setns(/proc/{target}/ns/{ns}, {}): join its {ns} namespace",
                        ns.flag_name()
                    );
                    setns(file, ns.clone_flag()).map_err(|errno| {
                        Error::syscall("setns", format!("/proc/{target}/ns/{ns}"), errno)
                    })?;
                }
                Ok(())
            }
        }
    }

    // ---- in the container's first process ------------------------------------------------

    fn first_process(&mut self, channel: Channel) -> ! {
        let ready = self
            .wait_for_go(&channel)
            .and_then(|()| {
                // After "go": the parent says nothing more until we report, so this line
                // never interleaves with its own.
                explain!("the container's first process goes on (runc: child process in init())");
                not_dumpable()
            })
            .and_then(|()| self.security.limit_bounding_set())
            .and_then(|()| self.run_child_steps_caught())
            .and_then(|()| signals::reset_for_exec())
            .and_then(|()| self.security.lock_down(self.preserve_fds));
        if let Err(error) = ready {
            fail(&channel, error)
        }
        if let Some((name, gate)) = &mut self.start_gate {
            explain!("start gate: {name}");
            let _ = channel.send(&Message::Waiting);
            if let Err(source) = gate() {
                fail(
                    &channel,
                    Error::InContainer {
                        step: name.clone(),
                        message: source.to_string(),
                        exit_code: crate::common::exit::ENGINE,
                    },
                )
            }
        }
        if self.init {
            run_as_init(&self.argv, channel)
        }
        match self.entry {
            Entry::Create(_) => explain!(
                "execve: its success closes the channel, which tells the parent the command \
                 runs (runc: init: closing the pipe to signal completion)"
            ),
            Entry::Join(_) => {
                explain!("execve in the joined namespaces (runc: setns_init: about to exec)")
            }
        }
        let error = exec_command(&self.argv);
        fail(&channel, error)
    }

    /// The child-side steps, with a panic in one (a bug, or a learner's `todo!()`) reported
    /// like an error. Unwinding further would return into the caller's code, which belongs to
    /// the parent and must never run in the container.
    fn run_child_steps_caught(&mut self) -> Result<()> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_child_steps()))
            .unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a child-side step panicked".into());
                Err(Error::InContainer {
                    step: "child-side steps".into(),
                    message: format!("panicked: {message}"),
                    exit_code: crate::common::exit::ENGINE,
                })
            })
    }

    fn wait_for_go(&self, channel: &Channel) -> Result<()> {
        if self.kill_with_parent {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
                .map_err(|errno| Error::syscall("prctl", "PR_SET_PDEATHSIG, SIGKILL", errno))?;
            // Had the parent died before the line above, no signal would come; but then its
            // end of the channel is closed too, and the recv below returns end-of-file.
        }
        match channel.recv()? {
            Some(Message::Go) => Ok(()),
            // The parent gave up (a parent-side step failed) and closed its end: just leave.
            None => exit_now(1),
            Some(other) => Err(Error::Protocol(format!("expected go, got {other:?}"))),
        }
    }

    fn run_child_steps(&mut self) -> Result<()> {
        for (name, step) in &mut self.early_child_steps {
            explain!("child-side step: {name}");
            step().map_err(|source| Error::InContainer {
                step: name.clone(),
                message: source.to_string(),
                exit_code: crate::common::exit::ENGINE,
            })?;
        }
        match self.entry {
            Entry::Create(namespaces) => self.builtin_steps(namespaces)?,
            Entry::Join(_) => {
                if self.joins_user_namespace {
                    inside::become_root()?;
                }
            }
        }
        for (name, step) in &mut self.child_steps {
            explain!("child-side step: {name}");
            step().map_err(|source| Error::InContainer {
                step: name.clone(),
                message: source.to_string(),
                exit_code: crate::common::exit::ENGINE,
            })?;
        }
        Ok(())
    }

    fn builtin_steps(&self, namespaces: NamespaceSet) -> Result<()> {
        if namespaces.contains(Namespace::User) {
            // Our ids are the host's until now, and the maps may not map them at all (we
            // would be "nobody", and the kernel would refuse to create files as us).
            inside::become_root()?;
        }
        if namespaces.contains(Namespace::Cgroup) {
            explain!("unshare(CLONE_NEWCGROUP): our current cgroup becomes the root we see");
            unshare(CloneFlags::CLONE_NEWCGROUP)
                .map_err(|errno| Error::syscall("unshare", "CLONE_NEWCGROUP", errno))?;
        }
        if let Some(name) = &self.hostname {
            inside::set_hostname(name)?;
        }
        if namespaces.contains(Namespace::Mount) {
            inside::make_mounts_private()?;
            if namespaces.contains(Namespace::Pid) && self.mount_proc {
                inside::mount_proc()?;
            }
        }
        if namespaces.contains(Namespace::Net) {
            inside::bring_up_loopback()?;
        }
        Ok(())
    }
}

/// `prctl(PR_SET_DUMPABLE, 0)`: until `execve`, this process is the engine's own binary,
/// running inside the container. A dumpable process's `/proc/PID/exe` can be opened by other
/// processes of the same user, and root in the container is the same user: it could open the
/// engine's binary through it and overwrite it (runc's CVE-2019-5736). A process that is not
/// dumpable has its `/proc/PID` files owned by root and closed to anyone without
/// CAP_SYS_PTRACE. `execve` of the command makes it dumpable again, as it should be; `--init`,
/// which never execs, stays closed. (Set after the parent-side steps: an unprivileged parent
/// must still be able to write the uid map of a process that is dumpable.)
fn not_dumpable() -> Result<()> {
    nix::sys::prctl::set_dumpable(false)
        .map_err(|errno| Error::syscall("prctl", "PR_SET_DUMPABLE, 0", errno))
}

/// `clone(CLONE_PARENT | SIGCHLD)`, with no new stack: like `fork`, both processes continue
/// from here. Returns `None` in the new process and `Some(pid)` in the caller.
fn clone_parent() -> Result<Option<Pid>> {
    // exercise 01.2: clone with the parent's steps: clone(CLONE_PARENT) makes the first process
    // SAFETY: a raw clone without CLONE_VM gives the child a copy of our memory, exactly like
    // fork. The caller is single-threaded, so no lock can be held by a thread that the child
    // lacks.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::CLONE_PARENT | libc::SIGCHLD,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match Errno::result(ret) {
        Ok(0) => Ok(None),
        Ok(pid) => Ok(Some(Pid::from_raw(pid as i32))),
        Err(errno) => Err(Error::syscall("clone", "CLONE_PARENT|SIGCHLD", errno)),
    }
    // end of exercise 01.2
}

/// Open `/proc/TARGET/ns/*` for every namespace `target` does not share with us, in the order
/// they must be joined.
fn namespaces_to_join(target: Pid) -> Result<Vec<(Namespace, File)>> {
    let mut joined = Vec::new();
    for ns in Namespace::ALL {
        let theirs = format!("/proc/{target}/ns/{ns}");
        let link = std::fs::read_link(&theirs).map_err(Error::file("read link", &theirs))?;
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).ok();
        if ours.as_ref() == Some(&link) {
            continue;
        }
        let file = File::open(&theirs).map_err(Error::file("open", theirs))?;
        joined.push((ns, file));
    }
    Ok(joined)
}

/// Open the namespaces to enter by path, in [`Namespace::ALL`] order (user first, mount last).
fn open_namespace_paths(
    paths: &[(Namespace, std::path::PathBuf)],
) -> Result<Vec<(Namespace, File)>> {
    let mut opened = Vec::new();
    for ns in Namespace::ALL {
        for (_, path) in paths.iter().filter(|(kind, _)| *kind == ns) {
            let file = File::open(path).map_err(Error::file("open", path))?;
            opened.push((ns, file));
        }
    }
    Ok(opened)
}

/// Tell the parent what went wrong before the command could start, and exit with the code
/// Docker would use for it.
pub(crate) fn fail(channel: &Channel, error: Error) -> ! {
    let exit_code = error.exit_code();
    let (step, message) = match error {
        Error::InContainer { step, message, .. } => (step, message),
        other => ("setup".to_string(), other.to_string()),
    };
    let _ = channel.send(&Message::Failed {
        step,
        message,
        exit_code,
    });
    exit_now(exit_code)
}

/// A running container's first process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerProcess {
    pid: Pid,
}

impl ContainerProcess {
    /// Its pid as the host sees it (inside its own PID namespace it is 1).
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Wait for it to exit; returns the Docker-style exit code.
    pub fn wait(&self) -> Result<i32> {
        signals::wait_for_exit(self.pid)
    }

    /// Kill it with SIGKILL and collect it (used when a start fails half way).
    pub fn kill_and_reap(&self) {
        let _ = kill(self.pid, Signal::SIGKILL);
        let _ = signals::wait_for_exit(self.pid);
    }
}

/// End a forked process at once with `_exit(2)`. Not `std::process::exit`: that runs the
/// exit handlers and flushes buffers the process inherited from its parent, which would then
/// be written twice.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions; it never returns.
    unsafe { libc::_exit(code) }
}
