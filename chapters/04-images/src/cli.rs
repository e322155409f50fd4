//! Chapter 04's command line, as a library: `ch04-images` is this, and later chapters' binaries
//! include these commands (`images`, `run`, `commit`...) beside their own.

use crate::archive::{self, Format};
use crate::commit::{self, CommitOptions};
use crate::create::{self, Change, Provenance};
use crate::{explain, gc, hello, image, pack, reference, report, snapshot, Store};
use anyhow::Context;
use ch01_namespaces::cli::RunArgs;
use ch01_namespaces::ExitCode;
use ch02_cgroups::cli::CgroupArgs;
use ch03_overlayfs::cli::LayerArgs;
use clap::{Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The flags every binary from chapter 04 on shares: where the state is, and whether to narrate.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// State root: images in ROOT/oci, unpacked layers in ROOT/layers, containers in
    /// ROOT/containers (and, in later chapters, volumes, networks, the build cache's pins).
    /// An ordinary user's default is $XDG_DATA_HOME/baleia (~/.local/share/baleia).
    #[arg(
        long,
        global = true,
        env = "BALEIA_ROOT",
        default_value_os_t = ch03_overlayfs::cli::default_root()
    )]
    pub root: PathBuf,
    /// Narrate every step (system calls, mounts, blobs, HTTP requests...) on standard error.
    #[arg(long, global = true)]
    pub explain: bool,
}

impl StateArgs {
    /// Turn on `--explain`'s narration if it was asked for.
    pub fn enable_explain(&self) {
        if self.explain {
            ch01_namespaces::explain::enable();
        }
    }
}

/// `run`'s flags: the image, and chapters 03, 02 and 01's flags.
#[derive(clap::Args)]
pub struct RunFlags {
    /// The image: NAME[:TAG], id, or unique id prefix.
    image: String,
    #[command(flatten)]
    layer: LayerArgs,
    #[command(flatten)]
    cgroup: CgroupArgs,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run an image: its layers as the overlay's lower layers, its config (Env, Entrypoint +
    /// Cmd, WorkingDir, User) applied. The command after `--` replaces the image's Cmd.
    Run(Box<RunFlags>),
    /// Make a one-layer image from a root file system tar (like `docker import`).
    Import {
        /// The tar file (`-` for standard input).
        file: PathBuf,
        /// NAME[:TAG] for the new image (untagged without it).
        reference: Option<String>,
        /// Set run configuration: 'CMD ["/bin/sh"]', 'ENTRYPOINT ...', 'ENV K=V', 'WORKDIR /d', 'USER u'.
        #[arg(long = "change", short = 'c', value_name = "INSTRUCTION")]
        changes: Vec<String>,
        /// A comment for the history entry.
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// List images: repository, tag, id, created, size (shared with other images, unique).
    Images,
    /// Show how an image was made, one row per layer, newest first.
    History { image: String },
    /// Draw every image's layers as one tree: which images share which layers.
    Tree,
    /// Print an image's config (or its manifest) as JSON.
    Inspect {
        image: String,
        /// The manifest instead of the config.
        #[arg(long)]
        manifest: bool,
    },
    /// Make a new image from a container's changes (its overlay upper directory).
    Commit {
        /// The container: its id, a unique prefix of it, or its name.
        container: String,
        /// NAME[:TAG] of the new image.
        reference: String,
        /// Who made the change.
        #[arg(long, short = 'a')]
        author: Option<String>,
        /// Why.
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// Make a new image from an overlay upper directory on top of an image (commit without a
    /// container: the directory can be made by hand).
    CommitDir {
        /// The image the directory was an overlay on.
        base: String,
        /// The upper directory.
        upper: PathBuf,
        /// NAME[:TAG] of the new image.
        reference: String,
        /// Who made the change.
        #[arg(long, short = 'a')]
        author: Option<String>,
        /// Why.
        #[arg(long, short = 'm')]
        message: Option<String>,
    },
    /// Write images to a tar archive.
    Save {
        /// The archive to write.
        #[arg(long, short = 'o')]
        output: PathBuf,
        /// oci: an OCI image layout (skopeo's oci-archive); docker: `docker save`'s format.
        #[arg(long, value_enum, default_value = "oci")]
        format: ArchiveFormat,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Read images from a tar archive (OCI or Docker format).
    Load {
        /// The archive to read.
        #[arg(long, short = 'i')]
        input: PathBuf,
    },
    /// Remove image tags, and every blob and unpacked layer no image (or container) needs.
    Rmi {
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Unpack an image's layers if needed and print its overlay lowerdir= list (top first).
    Lowerdirs { image: String },
    /// Create the built-in hello-world image (offline).
    HelloWorld,
    /// Check that the store is whole: every blob hashes to its name, every image has all its
    /// blobs, every unpacked layer belongs to an image. Exits 1 if anything is damaged.
    Check,
    /// Unpack one layer file (a tar, gzip'd or not) into a new directory, with the same
    /// defenses as every layer the store unpacks (no `..`, no absolute names, no writing
    /// through symlinks, no device nodes). For learning, and for the unpack benchmark.
    Unpack {
        /// The layer: a `.tar` or `.tar.gz` file.
        layer: PathBuf,
        /// The directory to create and fill (it must not exist).
        target: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ArchiveFormat {
    Oci,
    Docker,
}

fn run_image(program: &str, root: &Path, flags: &RunFlags) -> anyhow::Result<i32> {
    let store = Store::open(root)?;
    let ended = crate::run::run_image(
        &store,
        &flags.image,
        &flags.layer,
        &flags.cgroup,
        &flags.run,
    )
    .map_err(|e| e.into_anyhow())?;
    for line in ended.finished.usage.events_report(ended.finished.exit_code) {
        eprintln!("{program}: {line}");
    }
    if flags.layer.keep {
        eprintln!("{program}: kept container {}", ended.id);
    }
    Ok(ended.finished.exit_code)
}

fn run(root: &Path, command: Command) -> anyhow::Result<()> {
    let store = Store::open(root)?;
    let mut out = std::io::stdout().lock();
    match command {
        Command::Run(_) | Command::Check => unreachable!("handled by execute"),
        Command::Import {
            file,
            reference,
            changes,
            message,
        } => {
            let tag = reference.as_deref().map(reference::normalize).transpose()?;
            let changes = changes
                .iter()
                .map(|c| c.parse::<Change>())
                .collect::<Result<Vec<_>, _>>()?;
            let _lock = store.lock()?;
            let mut input: Box<dyn std::io::Read> = if file == Path::new("-") {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(
                    std::fs::File::open(&file)
                        .with_context(|| format!("open {}", file.display()))?,
                )
            };
            let source = file.file_name().map_or("-".into(), |n| n.to_string_lossy());
            explain!("import {}: gzip it into a layer blob", file.display());
            let layer = pack::from_tar(&store, &mut input)?;
            let file_name = file.display().to_string();
            let provenance = Provenance {
                created_by: format!("import {source}"),
                comment: message,
                ..Provenance::default()
            };
            let image =
                create::add_layer(&store, None, layer, provenance, &changes, tag.as_deref())
                    .with_context(|| format!("import {file_name}"))?;
            writeln!(out, "{}", image.id())?;
        }
        Command::Images => write!(out, "{}", report::images(&image::list(&store)?))?,
        Command::History { image } => write!(
            out,
            "{}",
            report::history(&image::resolve(&store, &image)?)?
        )?,
        Command::Tree => write!(out, "{}", report::tree(&image::list(&store)?)?)?,
        Command::Inspect { image, manifest } => {
            let image = image::resolve(&store, &image)?;
            let json = if manifest {
                serde_json::to_string_pretty(&image.manifest)?
            } else {
                serde_json::to_string_pretty(&image.config)?
            };
            writeln!(out, "{json}")?;
        }
        Command::Commit {
            container,
            reference,
            author,
            message,
        } => {
            let tag = reference::normalize(&reference)?;
            let _lock = store.lock()?;
            let options = CommitOptions { author, message };
            let image = commit::commit_container(&store, &container, &tag, &options)?;
            writeln!(out, "{}", image.id())?;
        }
        Command::CommitDir {
            base,
            upper,
            reference,
            author,
            message,
        } => {
            let tag = reference::normalize(&reference)?;
            let _lock = store.lock()?;
            let base = commit::base_image(&store, &base)?;
            let options = CommitOptions { author, message };
            let created_by = format!(
                "commit {}",
                upper
                    .file_name()
                    .map_or("-".into(), |n| n.to_string_lossy())
            );
            let image =
                commit::commit_upper_dir(&store, &base, &upper, created_by, &tag, &options)?;
            writeln!(out, "{}", image.id())?;
        }
        Command::Save {
            output,
            format,
            images,
        } => {
            let mut chosen: Vec<crate::Image> = Vec::new();
            for wanted in &images {
                let image = image::resolve(&store, wanted)?;
                if !chosen
                    .iter()
                    .any(|c| c.manifest_digest == image.manifest_digest)
                {
                    chosen.push(image);
                }
            }
            let images = chosen;
            let format = match format {
                ArchiveFormat::Oci => Format::Oci,
                ArchiveFormat::Docker => Format::Docker,
            };
            // Written beside the destination and renamed: never half an archive under its name.
            let dir = output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            let file = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("create a temporary file in {}", dir.display()))?;
            archive::save(
                &store,
                &images,
                format,
                std::io::BufWriter::new(file.as_file()),
            )?;
            file.as_file().sync_all()?;
            file.persist(&output)
                .with_context(|| format!("rename into {}", output.display()))?;
        }
        Command::Load { input } => {
            let file =
                std::fs::File::open(&input).with_context(|| format!("open {}", input.display()))?;
            let _lock = store.lock()?;
            let loaded = archive::load(&store, std::io::BufReader::new(file))
                .with_context(|| format!("load {}", input.display()))?;
            for name in loaded {
                writeln!(out, "Loaded image: {name}")?;
            }
        }
        Command::Rmi { images } => {
            let _lock = store.lock()?;
            for wanted in images {
                for line in gc::remove_image(&store, &wanted)?.lines() {
                    writeln!(out, "{line}")?;
                }
            }
        }
        Command::Lowerdirs { image } => {
            let _lock = store.lock()?;
            let image = image::resolve(&store, &image)?;
            let dirs: Vec<String> = snapshot::prepare(&store, &image)?
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            writeln!(out, "{}", dirs.join(":"))?;
        }
        Command::Unpack { layer, target } => {
            let file =
                std::fs::File::open(&layer).with_context(|| format!("open {}", layer.display()))?;
            let stream = crate::unpack::plain_tar(std::io::BufReader::new(file))?;
            std::fs::create_dir(&target)
                .with_context(|| format!("mkdir {} (it must not exist)", target.display()))?;
            // A refused layer leaves nothing behind: the directory goes with what was written.
            let stats = crate::unpack::unpack(stream, &target).inspect_err(|_| {
                let _ = std::fs::remove_dir_all(&target);
            })?;
            writeln!(
                out,
                "{} entries, {} bytes, {} whiteouts, {} opaque directories",
                stats.entries, stats.bytes, stats.whiteouts, stats.opaque_dirs
            )?;
        }
        Command::HelloWorld => {
            let _lock = store.lock()?;
            let image = hello::create(&store)?;
            writeln!(out, "{}", image.id())?;
        }
    }
    Ok(())
}

/// Run one of chapter 04's commands on the state root `root`; the exit code (a container's,
/// for `run`). `program` names the binary in messages.
pub fn execute(program: &str, root: &Path, command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Run(flags) => run_image(program, root, &flags),
        Command::Check => check_store(root),
        command => run(root, command).map(|()| 0),
    }
}

/// `check`: print the report; exit code 1 if the store is damaged, 0 if whole.
fn check_store(root: &Path) -> anyhow::Result<i32> {
    let store = Store::open(root)?;
    let _lock = store.lock()?;
    let report = crate::check::check(&store)?;
    let mut out = std::io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "damaged: {problem}")?;
    }
    for leftover in &report.leftovers {
        writeln!(out, "leftover: {leftover} (the next rmi collects it)")?;
    }
    writeln!(
        out,
        "checked {} blobs, {} images, {} unpacked layers: {}",
        report.blobs,
        report.images,
        report.layers,
        if report.is_whole() {
            "whole"
        } else {
            "DAMAGED"
        }
    )?;
    Ok(if report.is_whole() { 0 } else { 1 })
}
