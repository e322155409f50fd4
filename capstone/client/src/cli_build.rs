//! `baleia build`: the context directory as a tar (what `.dockerignore` excludes left out, as
//! the docker CLI does), sent to `POST /build`; the daemon's JSON messages printed as they come.

use crate::client::{encode, Client};
use anyhow::{bail, Context, Result};
use ch05_dockerfile::dockerignore::DockerIgnore;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct BuildFlags {
    /// NAME[:TAG], repeatable.
    #[arg(short, long = "tag")]
    tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile).
    #[arg(short, long)]
    file: Option<PathBuf>,
    /// NAME=VALUE (or NAME: its value from our environment).
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    #[arg(long)]
    no_cache: bool,
    /// Build up to this stage.
    #[arg(long)]
    target: Option<String>,
    /// Print only the image id.
    #[arg(short, long)]
    quiet: bool,
    context: PathBuf,
}

/// The name the Dockerfile gets in the tar when it lives outside the context.
const OUTSIDE_DOCKERFILE: &str = ".baleia-dockerfile";

pub fn build(client: &Client, flags: &BuildFlags) -> Result<i32> {
    let context = &flags.context;
    if !context.is_dir() {
        bail!(
            "unable to prepare context: path {:?} not found; give the directory to build \
             from, e.g. `baleia build -t NAME .`",
            context
        );
    }
    let dockerfile = flags
        .file
        .clone()
        .unwrap_or_else(|| context.join("Dockerfile"));
    let canonical_context = context.canonicalize()?;
    let canonical_file = dockerfile
        .canonicalize()
        .with_context(|| format!("Cannot locate Dockerfile: {}", dockerfile.display()))?;
    let (name_in_tar, extra) = match canonical_file.strip_prefix(&canonical_context) {
        Ok(relative) => (relative.to_string_lossy().into_owned(), None),
        Err(_) => (OUTSIDE_DOCKERFILE.to_string(), Some(canonical_file.clone())),
    };

    let mut path = format!("/build?dockerfile={}", encode(&name_in_tar));
    for tag in &flags.tags {
        path.push_str(&format!("&t={}", encode(tag)));
    }
    if !flags.build_args.is_empty() {
        let mut args = serde_json::Map::new();
        for arg in &flags.build_args {
            match arg.split_once('=') {
                Some((k, v)) => args.insert(k.into(), Value::from(v)),
                None => args.insert(
                    arg.clone(),
                    std::env::var(arg).map(Value::from).unwrap_or(Value::Null),
                ),
            };
        }
        path.push_str(&format!(
            "&buildargs={}",
            encode(&Value::Object(args).to_string())
        ));
    }
    if flags.no_cache {
        path.push_str("&nocache=1");
    }
    if flags.quiet {
        path.push_str("&q=1");
    }
    if let Some(target) = &flags.target {
        path.push_str(&format!("&target={}", encode(target)));
    }
    // The context is made as it is sent: no copy of a large context in memory.
    let reply = client.request_streamed("POST", &path, &mut |out| {
        context_tar(&canonical_context, &name_in_tar, extra.as_deref(), out)
            .map_err(|e| std::io::Error::other(format!("{e:#}")))
    })?;
    if reply.status >= 400 {
        reply.json()?;
        return Ok(1);
    }
    // The steps' output as it comes (with `-q` the daemon sends only the image's id). A build
    // ends with the image's id (`aux`) or an error: a stream that stops before either is a
    // daemon gone in the middle, not a success.
    match crate::cli_progress::show(reply, crate::cli_progress::Target::Stdout, false) {
        Ok(Some(aux)) if aux["ID"].is_string() => Ok(0),
        Ok(_) => bail!(
            "the daemon closed the connection before the build ended; its log says why \
             (`daemon.log` in its state root when the client started it)"
        ),
        Err(error) => match error.downcast_ref::<crate::cli_progress::StreamError>() {
            Some(failed) => {
                eprintln!("{failed}");
                Ok(1)
            }
            None => Err(error),
        },
    }
}

/// The context as a tar: every file `.dockerignore` does not exclude, plus the Dockerfile and
/// `.dockerignore` themselves (the builder reads them even when ignored), written to `out`.
fn context_tar(
    context: &Path,
    dockerfile: &str,
    outside: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => DockerIgnore::parse(&text)?,
        Err(_) => DockerIgnore::parse("")?,
    };
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let dir = context.join(&relative);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("read {}", dir.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = relative.join(entry.file_name());
            let text = name.to_string_lossy();
            let always = text == dockerfile || text == ".dockerignore";
            let kind = entry.file_type()?;
            if kind.is_dir() {
                // An ignored directory may still hold exceptions (`!dir/keep`): look inside.
                if !ignore.is_ignored(&text) {
                    builder.append_dir(&name, entry.path())?;
                }
                pending.push(name);
            } else if always || !ignore.is_ignored(&text) {
                builder
                    .append_path_with_name(entry.path(), &name)
                    .with_context(|| format!("add {} to the context", name.display()))?;
            }
        }
    }
    if let Some(file) = outside {
        builder.append_path_with_name(file, OUTSIDE_DOCKERFILE)?;
    }
    builder.into_inner()?.flush()?;
    Ok(())
}
