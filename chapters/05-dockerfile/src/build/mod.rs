//! # The builder: a Dockerfile becomes an image
//!
//! ```text
//! Dockerfile ─parse─► stages ─┬─ FROM      the base image (or scratch, or an earlier stage)
//!                             ├─ RUN       a container on the image so far → its upper dir is a layer   (run.rs)
//!                             ├─ COPY/ADD  files from the context (or a stage) → a layer          (copy.rs)
//!                             └─ ENV, CMD… the config only, a history entry marked empty_layer   (config.rs)
//! ```
//!
//! After every step the image so far is written to the store (config + manifest, chapter 04)
//! and remembered under the step's cache key ([`cache`]). A rebuild computes the same keys and
//! takes those images instead of doing the work again, until the first step whose key changed.
//! Only the final image gets a tag.

pub mod cache;
pub mod config;
pub mod copy;
pub mod error;
pub mod merged;
pub mod run;
pub mod tree;

use crate::ast::{AddKind, Command, CopyFrom, Instruction, Run};
use crate::resolve::{resolve_with_base_env, Base, Stage};
use cache::CacheKey;
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use ch04_images::digest::short;
use ch04_images::pack::NewLayer;
use ch04_images::run::{Identity, RunConfig};
use ch04_images::{create, image, reference, snapshot, Image, Store};
use config::Extras;
use copy::Overrides;
pub use error::{BuildError, Result};
use merged::MergedView;
use oci_spec::image::{HistoryBuilder, ImageConfiguration};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use tree::{Context, Tree};

/// What `build` was asked for (`docker build`'s flags).
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile (default: `CONTEXT/Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// `-t NAME[:TAG]`, repeatable.
    pub tags: Vec<String>,
    pub build_args: Vec<(String, String)>,
    /// Do not look in the cache (results are still recorded for next time).
    pub no_cache: bool,
    /// Build up to this stage (`--target`) instead of the last.
    pub target: Option<String>,
    /// The cgroup parent of RUN's containers (chapter 02's default when `None`): an engine
    /// puts them with its other containers.
    pub cgroup_parent: Option<String>,
}

/// Build an image, narrating each step to `out` as `docker build` does. `out` is the build's
/// one sink: RUN's standard output and error go there too (see [`run`]), so a caller that is
/// not a terminal (the capstone's API streams it to a client) gets the whole story.
pub fn build(store: &Store, options: &BuildOptions, out: &mut (dyn Write + Send)) -> Result<Image> {
    let path = options
        .dockerfile
        .clone()
        .unwrap_or_else(|| options.context.join("Dockerfile"));
    let text = std::fs::read_to_string(&path).map_err(BuildError::file("read", &path))?;
    let shown = path
        .strip_prefix(".")
        .unwrap_or(&path)
        .display()
        .to_string();
    let tags = options
        .tags
        .iter()
        .map(|t| reference::normalize(t))
        .collect::<ch04_images::Result<Vec<_>>>()?;
    let dockerfile = crate::parse(&shown, &text)?;
    let base_env = |base: &Base| match base {
        Base::Image { reference } => image::resolve(store, reference)
            .ok()
            .and_then(|image| image.config.config().clone())
            .and_then(|run| run.env().clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let plan = resolve_with_base_env(&dockerfile, &options.build_args, &base_env)?;
    for name in &plan.unused_build_args {
        writeln!(
            out,
            "[Warning] One or more build-args [{name}] were not consumed"
        )
        .ok();
    }
    let target = match &options.target {
        Some(name) => plan
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(name.to_ascii_lowercase().as_str()))
            .ok_or_else(|| {
                BuildError::Invalid(format!("target stage {name:?} could not be found"))
            })?,
        None => plan.stages.len() - 1,
    };
    let needed = needed_stages(&plan.stages, target);
    let mut builder = Builder {
        store,
        context: Context::open(&options.context)?,
        no_cache: options.no_cache,
        cgroup_parent: options.cgroup_parent.as_deref(),
        out,
        step: 0,
        steps: needed
            .iter()
            .map(|&i| plan.stages[i].instructions.len())
            .sum(),
        file: shown,
        results: vec![None; plan.stages.len()],
    };
    for index in needed {
        let state = builder.stage(&plan.stages[index])?;
        builder.results[index] = Some(state);
    }
    let last = builder.results[target]
        .take()
        .expect("the target stage was built");
    let image = match last.image {
        Some(image) => image,
        None => {
            let _lock = store.lock()?;
            create::write_manifest(store, &config::to_json(&last.config, &last.extras), vec![])?
        }
    };
    let _lock = store.lock()?;
    let descriptor = image.descriptor(store)?;
    writeln!(
        builder.out,
        "Successfully built {}",
        &short(image.id())[..12]
    )
    .ok();
    for tag in &tags {
        store.set_tag(tag, &descriptor)?;
        writeln!(builder.out, "Successfully tagged {tag}").ok();
    }
    Ok(Image { tags, ..image })
}

/// The stages the target needs (its base stages and `COPY --from` stages, transitively), in
/// order. Others are skipped, as BuildKit does.
fn needed_stages(stages: &[Stage], target: usize) -> Vec<usize> {
    let mut needed = vec![false; stages.len()];
    let mut pending = vec![target];
    while let Some(index) = pending.pop() {
        if std::mem::replace(&mut needed[index], true) {
            continue;
        }
        if let Base::Stage { index, .. } = stages[index].base {
            pending.push(index);
        }
        for instruction in &stages[index].instructions {
            if let Command::Copy(copy) = &instruction.command {
                if let CopyFrom::Stage { index, .. } = copy.from {
                    pending.push(index);
                }
            }
        }
    }
    (0..stages.len()).filter(|&i| needed[i]).collect()
}

/// A stage as built so far.
#[derive(Clone)]
struct State {
    /// `None` only for `FROM scratch` before any step wrote an image.
    image: Option<Image>,
    config: ImageConfiguration,
    extras: Extras,
    key: CacheKey,
    /// ARG values in scope: RUN sees them in its environment; they are not kept in the image.
    args: Vec<(String, String)>,
}

impl State {
    fn adopt(&mut self, store: &Store, image: Image) -> Result<()> {
        let raw: Value = store.read_json(image.id())?;
        self.extras = config::extras_of(&raw);
        self.config = image.config.clone();
        self.image = Some(image);
        Ok(())
    }

    fn id(&self) -> String {
        match &self.image {
            Some(image) => short(image.id())[..12].to_string(),
            None => "scratch".into(),
        }
    }

    /// The image's layers, unpacked, as a merged view (empty for scratch).
    fn view(&self, store: &Store) -> Result<MergedView> {
        let layers = match &self.image {
            Some(image) => {
                let _lock = store.lock()?;
                snapshot::prepare(store, image)?
            }
            None => Vec::new(),
        };
        Ok(MergedView {
            layers,
            name: "the image".into(),
        })
    }
}

struct Builder<'a> {
    store: &'a Store,
    context: Context,
    no_cache: bool,
    cgroup_parent: Option<&'a str>,
    out: &'a mut (dyn Write + Send),
    step: usize,
    steps: usize,
    file: String,
    results: Vec<Option<State>>,
}

impl Builder<'_> {
    fn stage(&mut self, stage: &Stage) -> Result<State> {
        let mut instructions = stage.instructions.iter();
        let from = instructions.next().expect("a stage starts with FROM");
        let mut state = self.numbered(from, |b| b.from(stage))?;
        writeln!(self.out, " ---> {}", state.id()).ok();
        for instruction in instructions {
            self.numbered(instruction, |b| b.step(&mut state, instruction))?;
        }
        Ok(state)
    }

    /// Print `Step N/M : ...`, run the step, and give a failure its place in the Dockerfile.
    fn numbered<T>(
        &mut self,
        instruction: &Instruction,
        work: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        self.step += 1;
        writeln!(
            self.out,
            "Step {}/{} : {}",
            self.step, self.steps, instruction.source
        )
        .ok();
        work(self).map_err(|cause| BuildError::Step {
            step: self.step,
            steps: self.steps,
            file: self.file.clone(),
            line: instruction.line,
            column: instruction.column,
            instruction: instruction.source.clone(),
            cause: Box::new(cause),
        })
    }

    fn from(&mut self, stage: &Stage) -> Result<State> {
        let mut state = State {
            image: None,
            config: ImageConfiguration::default(),
            extras: Extras::new(),
            key: CacheKey::derive(None, &["FROM scratch"]),
            args: Vec::new(),
        };
        match &stage.base {
            Base::Scratch => {}
            Base::Image { reference } => {
                let image = image::resolve(self.store, reference).map_err(|e| match e {
                    ch04_images::Error::NoSuchImage(_) => BuildError::Invalid(format!(
                        "FROM {reference}: no such image in the local store (import, load or \
                         build it first; chapter 06 adds pull)"
                    )),
                    other => other.into(),
                })?;
                state.key = CacheKey::derive(None, &["FROM", image.manifest_digest.as_ref()]);
                state.adopt(self.store, image)?;
            }
            Base::Stage { index, .. } => {
                state = self.results[*index].clone().ok_or_else(|| {
                    BuildError::Invalid(format!("stage {index} was not built before it is used"))
                })?;
                state.args.clear();
            }
        }
        Ok(state)
    }

    fn step(&mut self, state: &mut State, instruction: &Instruction) -> Result<()> {
        let command = &instruction.command;
        if let Command::Arg(arg) = command {
            let names: Vec<&str> = arg.args.iter().map(|a| a.name.as_str()).collect();
            for decl in &arg.args {
                state.args.retain(|(n, _)| n != &decl.name);
                if let Some(value) = &decl.value {
                    state.args.push((decl.name.clone(), value.clone()));
                }
            }
            // The value is not in the key: a changed --build-arg misses where it is *used*.
            state.key = CacheKey::derive(Some(&state.key), &["ARG", &names.join(" ")]);
            writeln!(self.out, " ---> {}", state.id()).ok();
            return Ok(());
        }
        // exercise 05.4: one build step: its cache key, a hit or the work, then commit
        let work = self.prepare(state, command)?;
        let parts = work.key_parts(command);
        let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
        let key = CacheKey::derive(Some(&state.key), &parts);
        // The parts hold NULs (between a RUN's arguments): shown as `\0`, not as raw bytes.
        explain!(
            "cache key {}: {}",
            &key.0[..12],
            parts.join(" | ").replace('\0', "\\0")
        );
        if !self.no_cache {
            if let Some(hit) = cache::lookup(self.store, &key) {
                writeln!(self.out, " ---> Using cache").ok();
                state.adopt(self.store, hit)?;
                state.key = key;
                writeln!(self.out, " ---> {}", state.id()).ok();
                return Ok(());
            }
        }
        let created_by = instruction.source.clone();
        match work {
            Work::Config => {
                config::apply(command, &mut state.config, &mut state.extras);
                let _lock = self.store.lock()?;
                self.commit(state, None, created_by, &key)?;
            }
            Work::Run {
                run_config,
                no_network,
            } => {
                let image = state.image.clone().ok_or_else(|| {
                    BuildError::Invalid(
                        "RUN on an empty image (FROM scratch): nothing to run".into(),
                    )
                })?;
                let (layer, _lock) = run::run_step(
                    self.store,
                    &image,
                    run_config,
                    (no_network, self.cgroup_parent),
                    self.out,
                )?;
                self.commit(state, Some(layer), created_by, &key)?;
            }
            Work::Copy {
                entries,
                overrides,
                view,
                ..
            } => {
                let _lock = self.store.lock()?;
                let layer = copy::write_layer(self.store, &entries, overrides, &view)?;
                self.commit(state, Some(layer), created_by, &key)?;
            }
        }
        state.key = key;
        writeln!(self.out, " ---> {}", state.id()).ok();
        Ok(())
        // end of exercise 05.4
    }

    /// Work out what a step will do, as far as its cache key needs.
    fn prepare(&self, state: &State, command: &Command) -> Result<Work> {
        match command {
            Command::Run(run) => {
                if !run.mounts.is_empty() || run.security.as_deref() == Some("insecure") {
                    return Err(BuildError::Invalid(
                        "RUN --mount and --security=insecure are not supported by baleia's \
                         builder"
                            .into(),
                    ));
                }
                Ok(Work::Run {
                    run_config: run_config(state, run),
                    no_network: run.network.as_deref() == Some("none"),
                })
            }
            Command::Copy(copy) => {
                if copy.parents || !copy.exclude.is_empty() {
                    return Err(BuildError::Invalid(
                        "COPY --parents and --exclude are not supported by baleia's builder".into(),
                    ));
                }
                let source_view;
                let tree: &dyn Tree = match &copy.from {
                    CopyFrom::Context => &self.context,
                    CopyFrom::Stage { index, .. } => {
                        let stage = self.results[*index].as_ref().ok_or_else(|| {
                            BuildError::Invalid(format!("COPY --from: stage {index} is not built"))
                        })?;
                        source_view = stage.view(self.store)?;
                        &source_view
                    }
                    CopyFrom::Image { reference } => {
                        let image = image::resolve(self.store, reference)?;
                        let layers = {
                            let _lock = self.store.lock()?;
                            snapshot::prepare(self.store, &image)?
                        };
                        source_view = MergedView {
                            layers,
                            name: format!("image {reference}"),
                        };
                        &source_view
                    }
                    CopyFrom::Unresolved { from } => {
                        return Err(BuildError::Invalid(format!(
                            "COPY --from={from}: unresolved"
                        )))
                    }
                };
                self.copy_work(
                    state,
                    "COPY",
                    tree,
                    &copy.sources,
                    CopyLike::from(copy),
                    false,
                )
            }
            Command::Add(add) => {
                let mut sources = Vec::new();
                for source in &add.sources {
                    if source.kind != AddKind::Local {
                        return Err(BuildError::Source(format!(
                            "ADD {}: baleia does not fetch remote sources; download it into the \
                             build context and ADD the file",
                            source.path
                        )));
                    }
                    sources.push(source.path.clone());
                }
                let unpack = add.unpack.unwrap_or(true);
                let request = CopyLike {
                    heredocs: &add.heredocs,
                    destination: &add.destination,
                    chown: add.chown.as_deref(),
                    chmod: add.chmod.as_deref(),
                };
                self.copy_work(state, "ADD", &self.context, &sources, request, unpack)
            }
            other if is_config(other) => Ok(Work::Config),
            other => Err(BuildError::Invalid(format!(
                "{} is not something a build step can do",
                other.keyword()
            ))),
        }
    }

    fn copy_work(
        &self,
        state: &State,
        keyword: &str,
        tree: &dyn Tree,
        sources: &[String],
        request: CopyLike<'_>,
        unpack: bool,
    ) -> Result<Work> {
        let view = state.view(self.store)?;
        let workdir = state
            .config
            .config()
            .as_ref()
            .and_then(|c| c.working_dir().clone())
            .unwrap_or_else(|| "/".into());
        let entries = copy::plan(
            &copy::Request {
                keyword,
                sources,
                heredocs: request.heredocs,
                destination: request.destination,
                workdir: &workdir,
                unpack_archives: unpack,
            },
            tree,
            &view,
        )?;
        let mut overrides = Overrides::default();
        if let Some(chown) = request.chown {
            let identity = Identity::resolve_in(
                chown,
                &merged::read_text(&view, "etc/passwd"),
                &merged::read_text(&view, "etc/group"),
            )
            .map_err(|e| BuildError::Invalid(format!("--chown={chown}: {e}")))?;
            (overrides.uid, overrides.gid) = (identity.uid, identity.gid);
        }
        if let Some(chmod) = request.chmod {
            overrides.mode = Some(copy::parse_chmod(chmod)?);
        }
        let hash = copy::content_hash(&entries)?;
        Ok(Work::Copy {
            description: format!(
                "{keyword} {} chown={:?} chmod={:?} content={hash}",
                request.destination, request.chown, request.chmod
            ),
            entries,
            overrides,
            view,
        })
    }

    /// Write the image after a step: the config with a new history entry (and the layer, if
    /// any) on top of the image so far; remember it under `key`. Call with the store locked.
    fn commit(
        &mut self,
        state: &mut State,
        layer: Option<NewLayer>,
        created_by: String,
        key: &CacheKey,
    ) -> Result<()> {
        let mut config = state.config.clone();
        let now = ch04_images::time::rfc3339(ch04_images::time::now());
        config.set_created(Some(now.clone()));
        let mut entry = HistoryBuilder::default()
            .created(now)
            .created_by(created_by)
            .build()
            .expect("history entry");
        let mut layers = state
            .image
            .as_ref()
            .map(|i| i.layers().to_vec())
            .unwrap_or_default();
        match layer {
            Some(layer) => {
                config
                    .rootfs_mut()
                    .diff_ids_mut()
                    .push(layer.diff_id.to_string());
                layers.push(layer.descriptor);
            }
            None => {
                entry.set_empty_layer(Some(true));
            }
        }
        let mut history = config.history().clone().unwrap_or_default();
        history.push(entry);
        config.set_history(Some(history));
        let image =
            create::write_manifest(self.store, &config::to_json(&config, &state.extras), layers)?;
        snapshot::prepare(self.store, &image)?;
        cache::record(self.store, key, &image)?;
        state.config = image.config.clone();
        state.image = Some(image);
        Ok(())
    }
}

/// The parts of COPY and ADD the copy code needs.
struct CopyLike<'a> {
    heredocs: &'a [crate::heredoc::Heredoc],
    destination: &'a str,
    chown: Option<&'a str>,
    chmod: Option<&'a str>,
}

impl<'a> From<&'a crate::ast::Copy> for CopyLike<'a> {
    fn from(copy: &'a crate::ast::Copy) -> Self {
        CopyLike {
            heredocs: &copy.heredocs,
            destination: &copy.destination,
            chown: copy.chown.as_deref(),
            chmod: copy.chmod.as_deref(),
        }
    }
}

fn is_config(command: &Command) -> bool {
    command.effect() == crate::ast::Effect::Config
}

/// What a step will do.
enum Work {
    Config,
    Run {
        run_config: RunConfig,
        /// `RUN --network=none`: a network namespace of its own, with only `lo`.
        no_network: bool,
    },
    Copy {
        description: String,
        entries: Vec<copy::Entry>,
        overrides: Overrides,
        view: MergedView,
    },
}

impl Work {
    /// What the cache key of this step covers, beside the key before it.
    fn key_parts(&self, command: &Command) -> Vec<String> {
        match self {
            Work::Config => vec![serde_json::to_string(command).unwrap_or_default()],
            Work::Run {
                run_config,
                no_network,
            } => vec![
                format!("RUN network={}", if *no_network { "none" } else { "host" }),
                run_config.argv.join("\0"),
                run_config.env.join("\0"),
                run_config.user.clone().unwrap_or_default(),
                run_config.working_dir.clone().unwrap_or_default(),
            ],
            Work::Copy { description, .. } => vec![description.clone()],
        }
    }
}

/// How RUN runs: the shell form through the stage's SHELL; a heredoc as its script; the
/// image's Env with the ARGs in scope added (an ENV of the same name wins, as in Docker).
fn run_config(state: &State, run: &Run) -> RunConfig {
    let image = state.config.config().clone().unwrap_or_default();
    let argv = match (&run.command, run.heredocs.as_slice()) {
        (crate::ast::CommandLine::Shell { text }, [only])
            if text.trim().starts_with("<<") && !text.trim().contains(' ') =>
        {
            let mut argv = config::shell(&state.extras);
            argv.push(only.content.clone());
            argv
        }
        (crate::ast::CommandLine::Shell { text }, heredocs) if !heredocs.is_empty() => {
            // The shell reads the heredocs itself: give it the line and the bodies.
            let mut script = text.clone();
            for heredoc in heredocs {
                script.push('\n');
                script.push_str(&heredoc.content);
                if !heredoc.content.ends_with('\n') {
                    script.push('\n');
                }
                script.push_str(&heredoc.name);
            }
            let mut argv = config::shell(&state.extras);
            argv.push(script);
            argv
        }
        (command, _) => config::argv(command, &state.extras),
    };
    let mut env = image.env().clone().unwrap_or_default();
    for (name, value) in &state.args {
        if !env
            .iter()
            .any(|e| e.split('=').next() == Some(name.as_str()))
        {
            env.push(format!("{name}={value}"));
        }
    }
    RunConfig {
        argv,
        env,
        working_dir: image.working_dir().clone().filter(|d| !d.is_empty()),
        user: image.user().clone().filter(|u| !u.is_empty()),
    }
}
