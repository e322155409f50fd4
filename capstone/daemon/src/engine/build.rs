//! `POST /build` (`docker build` with the classic builder): chapter 05's builder behind the
//! API.
//!
//! ```text
//! client ──tar of the context──► daemon: unpack into ROOT/builds/ID/, pull missing FROM images
//!                                   │ (chapter 06, as Docker does)
//!                                   ▼
//!                      baleia build-process (a helper process: chapter 05's `build`)
//!                                   │ its sink: one JSON message a write, on its stdout
//!                                   ▼
//! client ◄── {"stream":"Step 1/3 : FROM busybox\n"} … {"aux":{"ID":"sha256:…"}} ──┘
//! ```
//!
//! Why a helper process: RUN waits for its container with `sigwait(2)` on SIGCHLD (chapter
//! 01's signal forwarding), which only works when every thread of the process blocks that
//! signal. The daemon has a thread per connection that does not; a child of its own, started
//! with a clean signal mask, does (and a builder that crashes takes no daemon down with it).
//!
//! The context's `.dockerignore` is applied twice, as Docker does: by the client, which does
//! not send what is ignored, and by chapter 05's builder, which refuses to COPY it.

use super::registry::Reporter;
use super::{ApiError, ApiResult, Engine};
use crate::http::{Request, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

/// What `POST /build` was asked (its query parameters).
#[derive(Debug, Clone)]
pub struct BuildQuery {
    pub tags: Vec<String>,
    pub dockerfile: String,
    pub build_args: Vec<(String, String)>,
    pub no_cache: bool,
    pub target: Option<String>,
    pub quiet: bool,
    /// `X-Registry-Config`: base64url JSON, registry → `{username, password}`, the logins the
    /// client has (to pull FROM images with).
    pub registry_config: Option<String>,
}

impl BuildQuery {
    pub fn from_request(req: &Request) -> ApiResult<BuildQuery> {
        let dockerfile = req
            .query("dockerfile")
            .filter(|d| !d.is_empty())
            .unwrap_or("Dockerfile")
            .to_string();
        let inside = Path::new(&dockerfile)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
        if !inside {
            return Err(ApiError::bad_request(format!(
                "dockerfile {dockerfile:?}: give a path inside the build context"
            )));
        }
        let build_args = match req.query("buildargs").filter(|b| !b.is_empty()) {
            None => Vec::new(),
            Some(text) => {
                let map: serde_json::Map<String, Value> = serde_json::from_str(text)
                    .map_err(|e| ApiError::bad_request(format!("invalid buildargs: {e}")))?;
                // A null value (`--build-arg NAME` with NAME unset) gives no value.
                map.into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_string())))
                    .collect()
            }
        };
        Ok(BuildQuery {
            tags: req
                .query_all("t")
                .into_iter()
                .filter(|t| !t.is_empty())
                .map(|t| super::images::familiar(t).to_string())
                .collect(),
            dockerfile,
            build_args,
            no_cache: req.flag("nocache"),
            target: req
                .query("target")
                .filter(|t| !t.is_empty())
                .map(String::from),
            quiet: req.flag("q"),
            registry_config: req.header("X-Registry-Config").map(String::from),
        })
    }
}

/// One error message of the stream, as Docker writes it.
pub fn error_message(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

impl Engine {
    /// `POST /build`: the answer is a stream of JSON messages; errors after the headers are
    /// messages too (the status is already 200 by then, as with Docker).
    pub fn build(self: &std::sync::Arc<Self>, req: &Request) -> ApiResult<Response> {
        let query = BuildQuery::from_request(req)?;
        // The context is read off the connection as it is unpacked, after the headers.
        let context = req.take_upload();
        let engine = self.clone();
        Ok(Response::Stream {
            status: 200,
            content_type: "application/json".into(),
            body: Box::new(move |out| {
                let dir = engine.root.join("builds").join(
                    ch03_overlayfs::dirs::random_id().unwrap_or_else(|_| "build".to_string()),
                );
                let result = engine.build_in(&dir, context, &query, out);
                // Gone before the last message: a client that stops reading there finds the
                // daemon done.
                let _ = std::fs::remove_dir_all(&dir);
                match result {
                    Ok(Some(last)) => writeln!(out, "{last}")?,
                    Ok(None) => {}
                    Err(message) => writeln!(out, "{}", error_message(&message))?,
                }
                out.flush()
            }),
        })
    }

    fn build_in(
        &self,
        dir: &Path,
        context: Box<dyn std::io::BufRead + Send>,
        query: &BuildQuery,
        out: &mut dyn Write,
    ) -> Result<Option<String>, String> {
        let context_dir = dir.join("context");
        std::fs::create_dir_all(&context_dir)
            .map_err(|e| format!("create {}: {e}", context_dir.display()))?;
        unpack_context(context, &context_dir)?;
        let dockerfile = context_dir.join(&query.dockerfile);
        let text = std::fs::read_to_string(&dockerfile).map_err(|e| {
            format!(
                "Cannot locate specified Dockerfile: {} ({e})",
                query.dockerfile
            )
        })?;
        self.pull_bases(&query.dockerfile, &text, query, out)?;

        let mut command = std::process::Command::new(&self.exe);
        command
            .arg("--root")
            .arg(&self.root)
            .arg("build-process")
            .arg("--context")
            .arg(&context_dir)
            .arg("--file")
            .arg(&dockerfile);
        for tag in &query.tags {
            command.args(["--tag", tag]);
        }
        for (k, v) in &query.build_args {
            command.args(["--build-arg", &format!("{k}={v}")]);
        }
        if query.no_cache {
            command.arg("--no-cache");
        }
        if query.quiet {
            command.arg("--quiet");
        }
        if let Some(target) = &query.target {
            command.args(["--target", target]);
        }
        command.args(["--cgroup-parent", &self.cgroup_parent]);
        // The build belongs to the daemon, as a build inside dockerd does: if the daemon dies,
        // the kernel kills the builder too (PR_SET_PDEATHSIG, prctl(2)), and with it its RUN
        // container; the next daemon start clears what they left (`reclaim_half_made`).
        // SAFETY: prctl is async-signal-safe, the only call between fork and exec here.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .current_dir(&context_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start {} build-process: {e}", self.exe.display()))?;
        let stdout = child.stdout.take().expect("piped");
        // Each line goes on when the next one comes; the last is the caller's to send.
        let mut last: Option<String> = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(previous) = last.replace(line) {
                // The client went away: the build goes on to its end (as Docker's does).
                let _ = writeln!(out, "{previous}");
                let _ = out.flush();
            }
        }
        let status = child
            .wait()
            .map_err(|e| format!("wait for the build: {e}"))?;
        let ended_with_error = last
            .as_deref()
            .is_some_and(|l| l.contains("\"errorDetail\""));
        if !status.success() && !ended_with_error {
            if let Some(previous) = last {
                let _ = writeln!(out, "{previous}");
            }
            return Err(format!("the build process failed: {status}"));
        }
        Ok(last)
    }

    /// Pull the FROM images the store lacks, as Docker's builder does before the step runs.
    fn pull_bases(
        &self,
        file: &str,
        text: &str,
        query: &BuildQuery,
        out: &mut dyn Write,
    ) -> Result<(), String> {
        let parsed = ch05_dockerfile::parse(file, text).map_err(|e| e.to_string())?;
        let plan =
            ch05_dockerfile::resolve(&parsed, &query.build_args).map_err(|e| e.to_string())?;
        for stage in &plan.stages {
            let ch05_dockerfile::Base::Image { reference } = &stage.base else {
                continue;
            };
            let present = {
                let _lock = self.store.lock().map_err(|e| e.to_string())?;
                ch04_images::image::resolve(&self.store, reference).is_ok()
            };
            if present {
                continue;
            }
            let auth = registry_auth_for(query.registry_config.as_deref(), reference);
            // The pull's steps, less the byte counts (a build's output is a log), then its
            // last lines.
            let steps = Arc::new(Mutex::new(Vec::new()));
            let kept = steps.clone();
            let report: Reporter = Arc::new(move |m: Value| {
                if m.get("progressDetail").is_none() {
                    kept.lock().expect("pull steps").push(m);
                }
            });
            let lines = self
                .pull(reference, None, None, auth.as_deref(), &report)
                .map_err(|e| format!("FROM {reference}: {}", e.message))?;
            let steps = std::mem::take(&mut *steps.lock().expect("pull steps"));
            for line in steps.into_iter().chain(lines) {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
        }
        Ok(())
    }
}

/// The `X-Registry-Auth` value for `reference`'s registry, from the build's
/// `X-Registry-Config` (the same JSON object, one per registry).
fn registry_auth_for(config: Option<&str>, reference: &str) -> Option<String> {
    use base64::Engine as _;
    let registry = ch06_registry::reference::Reference::parse(reference)
        .ok()?
        .registry;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(config?.trim().trim_end_matches('='))
        .ok()?;
    let map: Value = serde_json::from_slice(&bytes).ok()?;
    let entry = map.get(&registry).or_else(|| {
        // Docker Hub's key in the docker CLI's config.
        (registry == "docker.io")
            .then(|| map.get("https://index.docker.io/v1/"))
            .flatten()
    })?;
    Some(base64::engine::general_purpose::URL_SAFE.encode(entry.to_string()))
}

/// Unpack the context (a tar, maybe gzip'd) into `dir`. The tar crate refuses entries that
/// would land outside `dir` (`..`, or through a symlink the archive made).
fn unpack_context(mut context: impl std::io::BufRead, dir: &Path) -> Result<(), String> {
    let empty = context
        .fill_buf()
        .map_err(|e| format!("read the build context: {e}"))?
        .is_empty();
    if empty {
        return Ok(());
    }
    let plain = ch04_images::unpack::plain_tar(context)
        .map_err(|e| format!("read the build context: {e}"))?;
    let mut archive = tar::Archive::new(plain);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    archive
        .unpack(dir)
        .map_err(|e| format!("unpack the build context: {e}"))
}

/// `baleia build-process`: chapter 05's build, its sink JSON messages on stdout.
#[derive(Debug, clap::Args)]
pub struct ProcessArgs {
    #[arg(long)]
    context: PathBuf,
    #[arg(long)]
    file: PathBuf,
    #[arg(long = "tag")]
    tags: Vec<String>,
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    #[arg(long)]
    no_cache: bool,
    #[arg(long)]
    quiet: bool,
    #[arg(long)]
    target: Option<String>,
    /// The daemon's `--cgroup-parent`: RUN's containers go with the daemon's others.
    #[arg(long)]
    cgroup_parent: Option<String>,
}

/// The build's sink: each line becomes one `{"stream": …}` message on stdout, as Docker sends
/// them (the builder writes a line in several `write` calls; RUN's output comes in chunks).
/// A flush sends a partial line as it is (a command's prompt or progress).
struct JsonStream<W: Write> {
    out: W,
    quiet: bool,
    pending: Vec<u8>,
}

impl<W: Write> JsonStream<W> {
    fn send(&mut self, text: &[u8]) -> std::io::Result<()> {
        if self.quiet || text.is_empty() {
            return Ok(());
        }
        let message = json!({ "stream": String::from_utf8_lossy(text) });
        writeln!(self.out, "{message}")
    }
}

impl<W: Write> Write for JsonStream<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.send(&line)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.pending);
        self.send(&rest)?;
        self.out.flush()
    }
}

pub fn process(root: &Path, args: ProcessArgs) -> anyhow::Result<i32> {
    let mut sink = JsonStream {
        out: std::io::stdout(),
        quiet: args.quiet,
        pending: Vec::new(),
    };
    let options = ch05_dockerfile::build::BuildOptions {
        context: args.context,
        dockerfile: Some(args.file),
        tags: args.tags,
        build_args: args
            .build_args
            .iter()
            .filter_map(|a| a.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        no_cache: args.no_cache,
        target: args.target,
        cgroup_parent: args.cgroup_parent,
    };
    let result = ch04_images::Store::open(root)
        .map_err(anyhow::Error::from)
        .and_then(|store| {
            ch05_dockerfile::build::build(&store, &options, &mut sink).map_err(Into::into)
        });
    let _ = sink.flush();
    let mut out = std::io::stdout();
    match result {
        Ok(image) => {
            let id = image.id().to_string();
            writeln!(out, "{}", json!({ "aux": { "ID": id } }))?;
            if args.quiet {
                writeln!(out, "{}", json!({ "stream": format!("{id}\n") }))?;
            }
            Ok(0)
        }
        Err(error) => {
            writeln!(out, "{}", error_message(&format!("{error:#}")))?;
            Ok(1)
        }
    }
}
