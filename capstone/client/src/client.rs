//! The client's side of the API: HTTP/1.1 over the daemon's unix socket, by hand (a request
//! is a few lines of text; `ureq` and friends speak TCP only). One connection per request,
//! `Connection: close`, so a body simply ends where the connection does.
//!
//! If no daemon answers on the socket, the client starts one in the background, says so, and
//! waits for it: a newcomer's first `baleia run hello-world` just works.

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// An error the daemon answered with: its status and message.
#[derive(Debug, thiserror::Error)]
#[error("Error response from daemon: {message}")]
pub struct DaemonError {
    pub status: u16,
    pub message: String,
}

pub struct Client {
    pub socket: PathBuf,
    pub host: String,
    /// The state root a daemon started by us uses.
    pub root: PathBuf,
}

/// A response whose head has been read; the body is still in `reader`.
pub struct Reply {
    pub status: u16,
    pub reader: BufReader<UnixStream>,
    pub content_length: Option<usize>,
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

    pub fn body(mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        match self.content_length {
            Some(n) => {
                body.resize(n, 0);
                self.reader.read_exact(&mut body)?;
            }
            None => {
                self.reader.read_to_end(&mut body)?;
            }
        }
        Ok(body)
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
                if !self.may_start_daemon() {
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
        self.send(method, path, "application/json", body.as_bytes(), upgrade)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
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
        if !body.is_empty() {
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
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut reader = BufReader::new(stream);
        let mut raw = Vec::new();
        loop {
            let before = raw.len();
            if reader.read_until(b'\n', &mut raw)? == 0 {
                bail!("the daemon closed the connection without answering {method} {path}");
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
        let content_length = response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("Content-Length"))
            .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok());
        let raw_stream = response.headers.iter().any(|h| {
            h.name.eq_ignore_ascii_case("Content-Type")
                && h.value == b"application/vnd.docker.raw-stream"
        });
        let headers = crate::http::owned_headers(response.headers);
        Ok(Reply {
            status: response.code.unwrap_or(500),
            reader,
            content_length,
            raw_stream,
            headers,
        })
    }

    /// A request with a raw body (an archive for `load`).
    pub fn request_bytes(&self, method: &str, path: &str, body: &[u8]) -> Result<Reply> {
        self.send(method, path, "application/x-tar", body, false)
    }

    /// A request with a JSON answer.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        self.request(method, path, body, false)?.json()
    }
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
