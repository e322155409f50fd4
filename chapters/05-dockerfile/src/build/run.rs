//! RUN: the command runs in a container of chapter 03 on the image built so far, configured
//! as the image says (Env, WorkingDir, User; chapter 04's `RunConfig`), with the build's ARGs
//! in its environment. What it writes lands in the container's overlay upper directory, and
//! that directory *is* the new layer (chapter 04's `pack::from_upper_dir`, as in `commit`).
//!
//! The container has no network namespace of its own: it uses the host's network, as
//! `docker build --network=host` does (chapter 07 brings container networks), unless the
//! instruction says `RUN --network=none`: then it gets an empty one (only `lo`).
//!
//! What the command prints goes to the build's sink, not to the builder's own stdout: its
//! standard output and error are both the write end of one pipe (`pipe2(2)`, `dup2(2)` in the
//! container before `execve`), and a thread copies the read end into the sink until the last
//! writer is gone. One stream, in the order it was written, as Docker's classic builder shows
//! it; and a caller whose sink is an HTTP response (the capstone's `POST /build`) streams it.

use super::error::{BuildError, Result};
use ch01_namespaces::cli::RunArgs;
use ch02_cgroups::cli::CgroupArgs;
use ch03_overlayfs::cli::{run_container, LayerArgs};
use ch03_overlayfs::dirs::ContainerDirs;
use ch04_images::pack::{self, NewLayer};
use ch04_images::run::RunConfig;
use ch04_images::store::StoreLock;
use ch04_images::{containers, snapshot, Image, Store};
use nix::fcntl::OFlag;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

/// A flag struct with every flag at its default, as if given no arguments.
pub fn defaults<T: clap::Args>() -> T {
    #[derive(clap::Parser)]
    struct Wrap<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    <Wrap<T> as clap::Parser>::parse_from(["build"]).inner
}

/// Run `config.argv` on `image`; the layer of what it changed, and the store's lock, still
/// held so that no garbage collection takes the new layer before an image lists it.
pub fn run_step(
    store: &Store,
    image: &Image,
    config: RunConfig,
    (no_network, cgroup_parent): (bool, Option<&str>),
    out: &mut (dyn Write + Send),
) -> Result<(NewLayer, StoreLock)> {
    let lock = store.lock()?;
    let lowers = snapshot::prepare(store, image)?;
    if lowers.is_empty() {
        return Err(BuildError::Invalid(
            "RUN needs a file system with a program to run: this stage is FROM scratch with \
             nothing copied into it yet"
                .into(),
        ));
    }
    let mut run: RunArgs = defaults();
    run.command = config.argv.clone();
    run.net = no_network;
    let layer = LayerArgs {
        keep: true,
        read_only: false,
        tmpfs: Vec::new(),
    };
    let mut cgroup: CgroupArgs = defaults();
    if let Some(parent) = cgroup_parent {
        cgroup.cgroup_parent = parent.to_string();
    }
    let mut lock = Some(lock);
    let manifest = image.manifest_digest.clone();
    let (output, output_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|errno| BuildError::Invalid(format!("pipe2(O_CLOEXEC): {errno}")))?;
    let out = Mutex::new(out);
    let ended = std::thread::scope(|scope| {
        let copier = scope.spawn(|| copy_output(output, &out));
        let writer = output_w.as_raw_fd();
        let ended = run_container(
            store.root(),
            &lowers,
            &layer,
            &cgroup,
            &run,
            |dirs, container| {
                // As chapter 04's run: recorded before mounting, so gc keeps the layers we
                // run on.
                containers::record_image(store, &dirs.id, &manifest)
                    .map_err(|e| ch03_overlayfs::Error::Invalid(e.to_string()))?;
                drop(lock.take());
                if let Ok(mut out) = out.lock() {
                    let _ = writeln!(out, " ---> Running in {}", &dirs.id[..12]);
                    let _ = out.flush();
                }
                let hostname = dirs.hostname()?;
                Ok(container
                    .child_step("apply the build step's config", move || {
                        config.apply_inside(&hostname).map_err(Into::into)
                    })
                    .child_step("send stdout and stderr to the build's output", move || {
                        nix::unistd::dup2(writer, 1)?;
                        nix::unistd::dup2(writer, 2)?;
                        Ok(())
                    }))
            },
        );
        // Our copy of the write end goes; the copier ends when the container's do too.
        drop(output_w);
        let _ = copier.join();
        ended
    })?;
    let out = out
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let dirs = ContainerDirs::at(store.root(), &ended.id);
    let result = match ended.finished.exit_code {
        0 => store
            .lock()
            .map_err(BuildError::from)
            .and_then(|lock| Ok((pack::from_upper_dir(store, &dirs.upper())?, lock))),
        code => Err(BuildError::RunFailed {
            command: run.command.clone(),
            code,
        }),
    };
    let _ = writeln!(out, "Removing intermediate container {}", &ended.id[..12]);
    dirs.remove()?;
    result
}

/// Copy what RUN prints into the sink as it comes. The thread blocks every signal: they are
/// for the builder's waiting thread, which forwards them to the container (chapter 01), and
/// one taken here (SIGCHLD above all) would be lost to it.
fn copy_output(output: OwnedFd, out: &Mutex<&mut (dyn Write + Send)>) {
    let _ = nix::sys::signal::SigSet::all().thread_block();
    let mut output = std::fs::File::from(output);
    let mut buffer = [0u8; 8192];
    loop {
        match output.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => {
                if let Ok(mut out) = out.lock() {
                    let _ = out.write_all(&buffer[..n]);
                    let _ = out.flush();
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}
