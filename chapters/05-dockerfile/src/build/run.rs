//! RUN: the command runs in a container of chapter 03 on the image built so far, configured
//! as the image says (Env, WorkingDir, User; chapter 04's `RunConfig`), with the build's ARGs
//! in its environment. What it writes lands in the container's overlay upper directory, and
//! that directory *is* the new layer (chapter 04's `pack::from_upper_dir`, as in `commit`).
//!
//! The container has no network namespace of its own: it uses the host's network, as
//! `docker build --network=host` does (chapter 07 brings container networks), unless the
//! instruction says `RUN --network=none`: then it gets an empty one (only `lo`).

use super::error::{BuildError, Result};
use ch01_namespaces::cli::RunArgs;
use ch02_cgroups::cli::CgroupArgs;
use ch03_overlayfs::cli::{run_container, LayerArgs};
use ch03_overlayfs::dirs::ContainerDirs;
use ch04_images::pack::{self, NewLayer};
use ch04_images::run::RunConfig;
use ch04_images::store::StoreLock;
use ch04_images::{containers, snapshot, Image, Store};
use std::io::Write;

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
    no_network: bool,
    out: &mut dyn Write,
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
    let cgroup: CgroupArgs = defaults();
    let mut lock = Some(lock);
    let manifest = image.manifest_digest.clone();
    let ended = run_container(
        store.root(),
        &lowers,
        &layer,
        &cgroup,
        &run,
        |dirs, container| {
            // As chapter 04's run: recorded before mounting, so gc keeps the layers we run on.
            containers::record_image(store, &dirs.id, &manifest)
                .map_err(|e| ch03_overlayfs::Error::Invalid(e.to_string()))?;
            drop(lock.take());
            let _ = writeln!(out, " ---> Running in {}", &dirs.id[..12]);
            let _ = out.flush();
            let hostname = dirs.hostname()?;
            Ok(
                container.child_step("apply the build step's config", move || {
                    config.apply_inside(&hostname).map_err(Into::into)
                }),
            )
        },
    )?;
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
