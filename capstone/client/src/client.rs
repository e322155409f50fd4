//! The client's side of the API: HTTP/1.1 over the daemon's unix socket, by hand (a request
//! is a few lines of text; `ureq` and friends speak TCP only). One connection per request,
//! `Connection: close`. A body is read by its framing (`Content-Length` or chunks, see
//! `baleia_wire::body`), and an archive is sent in chunks as it is read or made, so neither
//! end holds a 1 GiB `load`, `import` or `cp` whole.
//!
//! If no daemon answers on the socket, the client starts one in the background, says so, and
//! waits for it: a newcomer's first `baleia run hello-world` just works.

use crate::body::{BodyReader, ChunkedWriter, Framing};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An error the daemon answered with: its status and message, then what to do next when
/// [`crate::hints`] knows.
#[derive(Debug)]
pub struct DaemonError {
    pub status: u16,
    pub message: String,
}

impl std::fmt::Display for DaemonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Error response from daemon: {}", self.message)?;
        match crate::hints::next_step(self.status, &self.message) {
            Some(hint) => write!(f, "; {hint}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DaemonError {}

#[derive(Clone)]
pub struct Client {
    pub socket: PathBuf,
    pub host: String,
    /// The state root a daemon started by us uses.
    pub root: PathBuf,
    /// Start a daemon when none answers (a follower waiting for a restart must not).
    pub autostart: bool,
}

/// A response whose head has been read; the body is still in `reader`, which ends where the
/// body does (chunks decoded).
pub struct Reply {
    pub status: u16,
    pub reader: BodyReader<BufReader<UnixStream>>,
    /// The body is one raw stream (a container with a terminal), not multiplexed frames.
    pub raw_stream: bool,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole body (for small answers; archives are read from `reader` as they come).
    pub fn body(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.reader.read_to_end(&mut body)?;
        Ok(body)
    }

    /// Write the body to the file at `path` as it arrives. A body cut short (the daemon
    /// failed half-way) is an error, and the partial file is removed.
    pub fn save_to(mut self, path: &std::path::Path) -> Result<()> {
        let mut file =
            std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
        let copied = std::io::copy(&mut self.reader, &mut file);
        if let Err(e) = copied {
            let _ = std::fs::remove_file(path);
            return Err(e).with_context(|| format!("write {}", path.display()));
        }
        Ok(())
    }

    /// The connection itself, to write to once it is hijacked (`attach`'s standard input).
    pub fn socket(&self) -> &UnixStream {
        self.reader.get_ref().get_ref()
    }

    /// The body as a stream of JSON messages, each as soon as it arrives (pull, push, load,
    /// build, events, stats): Docker separates them with newlines, but a reader of JSON needs
    /// no separator at all. The stream ends where the body does; one cut short is an error.
    pub fn messages(self) -> impl Iterator<Item = Result<Value>> {
        serde_json::Deserializer::from_reader(self.reader)
            .into_iter::<Value>()
            .map(|message| message.map_err(|e| anyhow!("reading the daemon's answer: {e}")))
    }

    /// The reply itself if its status is a success; else its [`DaemonError`].
    pub fn success(self) -> Result<Reply> {
        if self.status < 400 {
            return Ok(self);
        }
        let status = self.status;
        Err(self
            .json()
            .err()
            .unwrap_or_else(|| anyhow!("the daemon answered {status}")))
    }

    /// The body as JSON; an error status becomes a [`DaemonError`].
    pub fn json(self) -> Result<Value> {
        let status = self.status;
        let body = self.body()?;
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&body).trim().to_string())
            })
        };
        if status >= 400 {
            let message = value["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| value.to_string());
            return Err(DaemonError { status, message }.into());
        }
        Ok(value)
    }
}

impl Client {
    fn connect(&self) -> Result<UnixStream> {
        match UnixStream::connect(&self.socket) {
            Ok(stream) => Ok(stream),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                Err(anyhow!(self.permission_denied()))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                if !self.autostart || !self.may_start_daemon() {
                    bail!(
                        "Cannot connect to the baleia daemon at unix://{}: is the daemon running? (root starts it: baleia daemon)",
                        self.socket.display()
                    );
                }
                self.start_daemon()?;
                UnixStream::connect(&self.socket)
                    .with_context(|| format!("connect to {}", self.socket.display()))
            }
            Err(e) => Err(e).with_context(|| format!("connect to {}", self.socket.display())),
        }
    }

    /// What to tell a user the socket refused (connect(2) needs write permission on it): who
    /// may use it, and how to become one of them.
    fn permission_denied(&self) -> String {
        use std::os::unix::fs::MetadataExt;
        let who = match std::fs::metadata(&self.socket) {
            Ok(meta) => {
                let group = nix::unistd::Group::from_gid(meta.gid().into())
                    .ok()
                    .flatten()
                    .map_or_else(|| meta.gid().to_string(), |g| g.name);
                format!(
                    " (owned by root:{group}, mode {:04o}): run as root or as a member of the group {group:?}",
                    meta.mode() & 0o7777
                )
            }
            Err(_) => ": its directory is closed to this user; run as root".into(),
        };
        format!(
            "permission denied while trying to connect to the baleia daemon socket at unix://{}{who}",
            self.socket.display()
        )
    }

    /// Whether this client may start the daemon it did not find: root may; an ordinary user
    /// may start its own, whose socket lies in a directory of its own (its runtime directory,
    /// the default), never one in a directory of root's.
    fn may_start_daemon(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let me = nix::unistd::geteuid();
        me.is_root()
            || self
                .socket
                .ancestors()
                .skip(1)
                .find_map(|dir| std::fs::metadata(dir).ok())
                .is_some_and(|meta| meta.uid() == me.as_raw())
    }

    /// Start `baleia daemon` in its own session, logging to `ROOT/daemon.log`, and wait (up to
    /// 10 s) until it answers.
    fn start_daemon(&self) -> Result<()> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("create {}", self.root.display()))?;
        let log_path = self.root.join("daemon.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("open {}", log_path.display()))?;
        let mut command = daemon_command(std::env::current_exe()?);
        command
            .arg("--root")
            .arg(&self.root)
            .args(["daemon", "-H", &self.host])
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = command.spawn().context("start baleia daemon")?;
        eprintln!(
            "baleia: no daemon was running on {}; started one in the background (pid {}, log {})",
            self.socket.display(),
            child.id(),
            log_path.display()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if UnixStream::connect(&self.socket).is_ok() {
                // Whoever starts the engine hears, once, what it lacks on this host (its
                // `info` warnings: no iptables, say); later runs stay quiet, `info` repeats it.
                if let Ok(info) = self.call("GET", "/info", None) {
                    for warning in info["Warnings"].as_array().into_iter().flatten() {
                        eprintln!("baleia: {}", warning.as_str().unwrap_or_default());
                    }
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "the daemon did not come up on {}: see {}",
            self.socket.display(),
            log_path.display()
        )
    }

    /// Whether a daemon answers on the socket now (without starting one): a follower whose
    /// stream broke asks, to tell a daemon restarting from a container that ended.
    pub fn daemon_answers(&self) -> bool {
        UnixStream::connect(&self.socket).is_ok()
    }

    /// Send a request and read the response head. `upgrade` asks to hijack the connection
    /// (`attach`).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        upgrade: bool,
    ) -> Result<Reply> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let body = Upload::Bytes(body.as_bytes());
        self.send(method, path, "application/json", body, upgrade)
    }

    /// A request whose body (an archive) is written by `body` as it goes, and sent in chunks:
    /// a file read as it is sent, or a tar made as it is sent.
    pub fn request_streamed(
        &self,
        method: &str,
        path: &str,
        body: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<Reply> {
        self.send(
            method,
            path,
            "application/x-tar",
            Upload::Writer(body),
            false,
        )
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Upload,
        upgrade: bool,
    ) -> Result<Reply> {
        let mut stream = self.connect()?;
        let mut head = format!(
            "{method} /v{}{path} HTTP/1.1\r\nHost: baleia\r\nUser-Agent: baleia-cli/{}\r\n",
            crate::http::API_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        if upgrade {
            head.push_str("Connection: Upgrade\r\nUpgrade: tcp\r\n");
        } else {
            head.push_str("Connection: close\r\n");
        }
        if !matches!(body, Upload::Bytes(b"")) {
            head.push_str(&format!("Content-Type: {content_type}\r\n"));
        }
        if let Some(auth) = crate::cli_login::registry_auth(path) {
            head.push_str(&format!("X-Registry-Auth: {auth}\r\n"));
        }
        if path.starts_with("/build?") {
            if let Some(config) = crate::cli_login::registry_config() {
                head.push_str(&format!("X-Registry-Config: {config}\r\n"));
            }
        }
        let sent = match body {
            Upload::Bytes(bytes) => {
                head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
                stream
                    .write_all(head.as_bytes())
                    .and_then(|()| stream.write_all(bytes))
            }
            Upload::Writer(write_body) => {
                head.push_str("Transfer-Encoding: chunked\r\n\r\n");
                stream.write_all(head.as_bytes())?;
                let mut chunked = ChunkedWriter::new(&stream);
                write_body(&mut chunked).and_then(|()| chunked.finish().map(|_| ()))
            }
        };
        if let Err(e) = &sent {
            if !matches!(
                e.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            ) {
                // Our side failed (a file we read): the daemon sees the body cut short.
                return Err(sent.unwrap_err()).with_context(|| format!("send {method} {path}"));
            }
        }
        let reply = read_reply(stream, method);
        match (sent, reply) {
            (_, Ok(reply)) => Ok(reply),
            // The daemon stopped reading and answered (a 404, a full disk): that answer says
            // why, and the write that failed (EPIPE) does not.
            (Err(e), Err(_)) => Err(e).with_context(|| format!("send {method} {path}")),
            (Ok(()), Err(e)) => Err(e.context(format!("{method} {path}"))),
        }
    }

    /// A request whose body is the file at `file` (`-`: standard input), read as it is sent.
    pub fn send_file(&self, method: &str, path: &str, file: &std::path::Path) -> Result<Reply> {
        let mut input: Box<dyn Read> = if file == std::path::Path::new("-") {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(file).with_context(|| format!("open {}", file.display()))?)
        };
        self.request_streamed(method, path, &mut |out| {
            std::io::copy(&mut input, out).map(|_| ())
        })
    }

    /// A request with a JSON answer.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        self.request(method, path, body, false)?.json()
    }
}

/// What a request carries.
enum Upload<'a> {
    Bytes(&'a [u8]),
    /// Written as it goes, in chunks.
    Writer(&'a mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>),
}

/// Read the response head; the body stays on the connection, framed as the head says.
fn read_reply(stream: UnixStream, method: &str) -> Result<Reply> {
    let mut reader = BufReader::new(stream);
    let mut raw = Vec::new();
    loop {
        let before = raw.len();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            bail!(
                "the daemon closed the connection without answering {method}; is it still \
                 running? (`baleia version` asks it)"
            );
        }
        if &raw[before..] == b"\r\n" {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    response
        .parse(&raw)
        .map_err(|e| anyhow!("bad response from the daemon: {e}"))?;
    let status = response.code.unwrap_or(500);
    let raw_stream = response.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("Content-Type")
            && h.value == b"application/vnd.docker.raw-stream"
    });
    let headers = crate::http::owned_headers(response.headers);
    // RFC 9112, section 6.3: no body after HEAD, 204 or 304; a hijacked connection is raw.
    let framing = match status {
        101 => Framing::UntilClose,
        204 | 304 => Framing::Length(0),
        _ if method == "HEAD" => Framing::Length(0),
        _ => Framing::from_headers(&headers)
            .ok_or_else(|| anyhow!("bad Content-Length from the daemon"))?,
    };
    Ok(Reply {
        status,
        reader: BodyReader::new(reader, framing),
        raw_stream,
        headers,
    })
}

/// Percent-encode a query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Copy a response's stream to our stdout (and stderr) until it ends: raw from a container
/// with a terminal, else multiplexed frames.
pub fn copy_stream(reply: &mut Reply) -> Result<()> {
    if reply.raw_stream {
        let mut out = std::io::stdout();
        crate::stdin::pump(&mut reply.reader, &mut out)?;
        out.flush()?;
        return Ok(());
    }
    demux(&mut reply.reader)
}

/// Copy a multiplexed stream to our stdout and stderr until it ends.
pub fn demux(reader: &mut impl Read) -> Result<()> {
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    while let Some((stream, payload)) = crate::logs::read_frame(reader)? {
        if stream == 2 {
            err.write_all(&payload)?;
            err.flush()?;
        } else {
            out.write_all(&payload)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// The command that starts `exe` as the daemon. An ordinary user's daemon makes its
/// containers' cgroups in the subtree systemd delegates to the user, `user@UID.service`
/// (cgroups(7), "Cgroups v2 delegation"), which only a process already inside it may use. A
/// login shell is not: its session scope stays root's. So when the caller's own cgroup is not
/// delegated but the user's manager answers (its bus in `$XDG_RUNTIME_DIR`), the daemon starts
/// in a transient scope of that manager, `systemd-run --user --scope` (systemd-run(1)), as
/// podman's daemonless processes do through D-Bus. Elsewhere (a v1 or hybrid host, no user
/// manager) it starts as it is, and says what it lacks when a container asks for limits.
fn daemon_command(exe: std::path::PathBuf) -> std::process::Command {
    let wrap = !nix::unistd::geteuid().is_root()
        && ch02_cgroups::Layout::detect().is_ok_and(|host| {
            host.mode.is_v2()
                && matches!(
                    ch02_cgroups::delegation::for_caller(&host),
                    Ok(ch02_cgroups::delegation::Delegation::Missing(_))
                )
        })
        && std::env::var_os("XDG_RUNTIME_DIR")
            .is_some_and(|dir| std::path::Path::new(&dir).join("bus").exists())
        && std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .any(|dir| dir.join("systemd-run").is_file());
    if !wrap {
        return std::process::Command::new(exe);
    }
    let mut command = std::process::Command::new("systemd-run");
    command
        .args(["--user", "--scope", "--quiet", "--collect", "--"])
        .arg(exe);
    command
}
