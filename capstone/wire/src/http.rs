//! Just enough HTTP/1.1 for the Docker Engine API over a unix socket, written out so it can be
//! read: one thread per connection, requests parsed with `httparse`, three kinds of responses.
//!
//! - **Full**: a status, a content type and a body with its `Content-Length`; the connection
//!   stays open for the next request (keep-alive), as Go's client expects.
//! - **Stream**: headers first (sent at once, which matters: `docker run` waits for the headers
//!   of `POST /wait` before it starts the container), then a body of unknown length in chunks
//!   (`Transfer-Encoding: chunked`, see [`crate::body`]), e.g. `logs --follow`, `docker save`.
//!   A stream that fails half-way is cut off without its last chunk, so the client knows.
//! - **Messages**: a list of JSON messages already made (pull, push, load), sent as a stream.
//! - **Upgrade**: the connection is *hijacked* for `attach`: `101 UPGRADED` (when the client
//!   asked with `Upgrade: tcp`), then raw bytes both ways, no more HTTP.
//!
//! Read RFC 9112 (HTTP/1.1 message syntax) for the framing rules used here.
//!
//! **Bodies that stream** ([`streams_body`]): an archive (`docker load`, `import`, `cp` in,
//! `build`'s context) is not read before the handler runs; the handler reads it from the
//! connection as it goes ([`Request::take_upload`]), so a 1 GiB image passes through the
//! daemon in small pieces. Every other body is small JSON and is read whole first.
//!
//! **What a client may not do** ([`Limits`]): the socket is root's, but what arrives on it is
//! still input. A request head (request line and headers) larger than [`Limits::head`] gets
//! `431`, a JSON body larger than [`Limits::body`] gets `413` (checked on `Content-Length`
//! before a byte of it is read, and while reading a chunked one), a head that is not HTTP gets
//! `400`. A streamed body has no limit of its own: it goes to disk, and the disk is its limit.
//! A client that goes quiet in the middle of a request gets `408` after
//! [`Limits::timeout`], one that trickles its head a byte at a time is cut off at the same
//! deadline (a read timeout alone would not do: every byte restarts it), and an idle
//! keep-alive connection is closed. Each connection has its own thread, so none of this ever
//! holds up another client; the timeouts make sure the threads do not pile up.

use crate::body::{BodyReader, ChunkedWriter, Framing};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The API version this daemon speaks (and the newest path prefix it accepts).
pub const API_VERSION: &str = "1.47";
/// The oldest API version it accepts (Debian's docker.io client speaks 1.41).
pub const MIN_API_VERSION: &str = "1.24";

/// How much a client may send, and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The request line and headers together (Go's `http.Server` allows 1 MiB; Docker's
    /// clients send well under 8 KiB).
    pub head: usize,
    /// A body of JSON or form data: container configs, exec configs, networks. (Archives
    /// are not held in memory: see [`streams_body`].)
    pub body: usize,
    /// How long one read may wait, and how long a whole request head may take.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            head: 64 * 1024,
            body: 4 * 1024 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The slowest a body may arrive once it has started: a unix socket carries gigabytes a
/// second, so a client below this is stalling, not slow.
const MIN_BODY_RATE: u64 = 1024 * 1024;

/// The whole answer to a connection beyond the daemon's limit.
pub const TOO_BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 45\r\nConnection: close\r\n\r\n{\"message\":\"too many connections, try again\"}";

/// Why a request was refused before it reached the API: the status and Docker's message.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub message: String,
}

impl Refused {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Refused {
            status,
            message: message.into(),
        }
    }
}

/// Is this an I/O error of a read that timed out (`SO_RCVTIMEO` gives `EAGAIN`)?
fn timed_out(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The routes whose bodies are archives, read by their handlers as they arrive instead of
/// whole beforehand.
pub fn streams_body(method: &str, path: &str) -> bool {
    let path = strip_version(path);
    matches!(
        (method, path.as_str()),
        ("POST", "/images/load" | "/build" | "/images/create")
    ) || (method == "PUT" && path.ends_with("/archive"))
}

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, with any `/v1.NN` prefix removed.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// The body of a route that does not stream it (JSON, small); empty for the others.
    pub body: Vec<u8>,
    /// The body of a route that streams it ([`streams_body`]), still on the connection.
    pub upload: Upload,
}

/// A streamed request body: what a handler reads, straight off the connection.
pub type UploadReader = BodyReader<BufReader<io::Chain<io::Cursor<Vec<u8>>, UnixStream>>>;

/// A streamed request body, taken once by its handler ([`Request::take_upload`]).
#[derive(Default)]
pub struct Upload(Mutex<Option<Draining>>);

/// At most this much of a body its handler left unread is read and dropped before the
/// connection closes.
const DRAIN_LIMIT: u64 = 1024 * 1024;

/// A streamed body that, when dropped, reads what its handler left of it (up to
/// [`DRAIN_LIMIT`]; a tar's zero padding after its end, say) so that the connection does not
/// close with bytes unread: unix(7) sockets, like TCP, then tell the client
/// `ECONNRESET` instead of the end of the answer. A body that failed early with much left
/// is not read through: the client's next write then fails (`EPIPE`) and it reads the answer.
pub struct Draining(UploadReader);

impl Drop for Draining {
    fn drop(&mut self) {
        let _ = io::copy(&mut Read::take(&mut self.0, DRAIN_LIMIT), &mut io::sink());
    }
}

impl Read for Draining {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl BufRead for Draining {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.0.consume(amount)
    }
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Upload")
    }
}

impl Request {
    /// A query parameter's value.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter (`names=a&names=b`).
    pub fn query_all(&self, key: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean query parameter: `1`, `true` (Docker's clients send either).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.query(key), Some("1" | "true" | "True"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The streamed body, for the handler of a route that streams it (once; an empty body
    /// for other routes and after the first call).
    pub fn take_upload(&self) -> Box<dyn BufRead + Send> {
        let taken = self
            .upload
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match taken {
            Some(upload) => Box::new(upload),
            None => Box::new(io::empty()),
        }
    }

    /// Does this request carry a body still on the connection?
    fn has_upload(&self) -> bool {
        self.upload
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// What writes a streamed body.
pub type BodyWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// What talks over a hijacked connection: it writes, and may read what the client sends
/// (standard input for `attach`), starting with any bytes already buffered after the request.
pub type Hijacker = Box<dyn FnOnce(&mut dyn Write, BufReader<UnixStream>) -> io::Result<()> + Send>;

/// A response.
pub enum Response {
    Full {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    Stream {
        status: u16,
        content_type: String,
        body: BodyWriter,
    },
    Upgrade {
        content_type: String,
        body: Hijacker,
    },
    /// JSON messages, one a line, sent as a stream as Docker answers pull, push and load.
    Messages(Vec<serde_json::Value>),
    /// A response with headers of its own (`X-Docker-Container-Path-Stat` for `cp`).
    WithHeaders {
        headers: Vec<(&'static str, String)>,
        inner: Box<Response>,
    },
}

impl Response {
    /// A JSON answer: one of [`crate::api`]'s types (or, where none is typed yet, a `Value`).
    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        Response::Full {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// A stream of JSON messages, one a line, as Docker answers pull, push and load.
    pub fn json_lines(messages: &[serde_json::Value]) -> Response {
        Response::Messages(messages.to_vec())
    }

    /// A streamed body of `content_type` with status 200, written by `body`.
    pub fn stream(
        content_type: &str,
        body: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
    ) -> Response {
        Response::Stream {
            status: 200,
            content_type: content_type.to_string(),
            body: Box::new(body),
        }
    }

    /// Is it a response with a length, after which the connection can carry another?
    fn has_length(&self) -> bool {
        match self {
            Response::Full { .. } => true,
            Response::WithHeaders { inner, .. } => inner.has_length(),
            _ => false,
        }
    }

    pub fn no_content() -> Response {
        Response::Full {
            status: 204,
            content_type: "text/plain",
            body: Vec::new(),
        }
    }

    pub fn text(status: u16, text: &str) -> Response {
        Response::Full {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.as_bytes().to_vec(),
        }
    }
}

/// Serve one connection until the client closes it or a response ends it.
pub fn serve(stream: UnixStream, limits: &Limits, handle: &(dyn Fn(Request) -> Response + Sync)) {
    // SO_RCVTIMEO / SO_SNDTIMEO (socket(7)): a read or write that waits longer fails with
    // EAGAIN instead of holding this thread forever.
    if stream.set_read_timeout(Some(limits.timeout)).is_err()
        || stream.set_write_timeout(Some(limits.timeout)).is_err()
    {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader, limits) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(refused) => {
                let body = serde_json::json!({ "message": refused.message });
                let response = Response::json(refused.status, &body);
                let _ = write_response(&mut writer, "GET", response, false, "");
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        };
        // After a streamed body the connection closes: its handler may have stopped reading
        // half-way (an error), and what is left of the body is not a next request.
        let keep_alive = !request.has_upload()
            && !request
                .header("Connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let method = request.method.clone();
        let wants_upgrade = request.header("Upgrade").is_some();
        let response = handle(request);
        let reusable = response.has_length() && keep_alive;
        if !response.has_length() {
            // Streams and hijacked connections are long-lived by design (`logs -f`, `attach`
            // waiting for standard input): from here on only the client decides when to end.
            let _ = writer.set_read_timeout(None);
            let _ = writer.set_write_timeout(None);
        }
        let result = match response {
            Response::Upgrade { content_type, body } => {
                let _ = upgrade(&mut writer, wants_upgrade, &content_type, body, reader);
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            other => write_response(&mut writer, &method, other, keep_alive, ""),
        };
        if result.is_err() || !reusable {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

/// Read one request; `None` when the client closed the connection (or went idle) between
/// requests.
fn read_request(
    reader: &mut BufReader<UnixStream>,
    limits: &Limits,
) -> Result<Option<Request>, Refused> {
    let Some(head) = read_head(reader, limits)? else {
        return Ok(None);
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(Refused::new(400, "incomplete request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Refused::new(431, "too many request headers (at most 64)"))
        }
        Err(e) => return Err(Refused::new(400, format!("malformed request: {e}"))),
    }
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/");
    let headers = owned_headers(parsed.headers);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let framing = match Framing::from_headers(&headers) {
        Some(Framing::UntilClose) => Framing::Length(0), // a request without either has none
        Some(framing) => framing,
        None => {
            let length = header("Content-Length").unwrap_or_default();
            return Err(Refused::new(
                400,
                format!("invalid Content-Length: {length}"),
            ));
        }
    };
    let (body, upload) = if streams_body(&method, path) {
        (Vec::new(), Some(upload(reader, framing)?))
    } else {
        let body = read_small_body(reader, framing, limits).map_err(|e| match e.kind() {
            io::ErrorKind::FileTooLarge => Refused::new(
                413,
                format!(
                    "request body too large: at most {} bytes for {method} {path}",
                    limits.body
                ),
            ),
            _ => body_refusal(&e),
        })?;
        (body, None)
    };
    Ok(Some(Request {
        method,
        path: strip_version(&percent_decode(path)),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect(),
        headers,
        body,
        upload: Upload(Mutex::new(upload.map(Draining))),
    }))
}

/// The body of a route that streams it, left on the connection for its handler: what the
/// head's reader had buffered already, then the socket.
fn upload(reader: &mut BufReader<UnixStream>, framing: Framing) -> Result<UploadReader, Refused> {
    let buffered = reader.buffer().to_vec();
    reader.consume(buffered.len());
    let socket = reader
        .get_ref()
        .try_clone()
        .map_err(|e| Refused::new(500, format!("dup the connection's socket: {e}")))?;
    let source = io::Cursor::new(buffered).chain(socket);
    Ok(BodyReader::new(
        BufReader::with_capacity(crate::body::CHUNK, source),
        framing,
    ))
}

/// The request line and headers, up to and including the blank line. The deadline starts
/// with the first byte: before it, silence is an idle keep-alive connection (closed quietly).
fn read_head(
    reader: &mut BufReader<UnixStream>,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, Refused> {
    let mut head: Vec<u8> = Vec::new();
    let mut line_start = 0;
    let mut deadline = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(Refused::new(408, "request head not received in time"));
        }
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if timed_out(&e) && head.is_empty() => return Ok(None),
            Err(e) if timed_out(&e) => {
                return Err(Refused::new(408, "request head not received in time"))
            }
            Err(_) => return Ok(None),
        };
        if available.is_empty() {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(Refused::new(400, "truncated request"))
            };
        }
        deadline.get_or_insert_with(|| Instant::now() + limits.timeout);
        let take = available
            .iter()
            .position(|b| *b == b'\n')
            .map_or(available.len(), |i| i + 1);
        head.extend_from_slice(&available[..take]);
        reader.consume(take);
        if head.len() > limits.head {
            return Err(Refused::new(
                431,
                format!("request head too large: at most {} bytes", limits.head),
            ));
        }
        if head.last() != Some(&b'\n') {
            continue;
        }
        let line = &head[line_start..];
        if line == b"\r\n" || line == b"\n" {
            if line_start == 0 {
                head.clear(); // a stray blank line between requests
                continue;
            }
            return Ok(Some(head));
        }
        line_start = head.len();
    }
}

fn body_refusal(error: &io::Error) -> Refused {
    if timed_out(error) {
        Refused::new(408, "request body not received in time")
    } else {
        Refused::new(400, format!("truncated request body: {error}"))
    }
}

/// A small body, read whole: at most [`Limits::body`] bytes (more is `FileTooLarge`), each
/// read within the timeout and the whole at no less than [`MIN_BODY_RATE`] (after a first
/// `timeout` of grace), so a client that trickles it a byte at a time is cut off.
fn read_small_body(
    reader: &mut BufReader<UnixStream>,
    framing: Framing,
    limits: &Limits,
) -> io::Result<Vec<u8>> {
    let mut body_reader = BodyReader::new(reader, framing).with_limit(limits.body as u64);
    let allowed = limits.timeout + Duration::from_secs(limits.body as u64 / MIN_BODY_RATE);
    let deadline = Instant::now() + allowed;
    let mut body = Vec::new();
    let mut piece = vec![0u8; 64 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match body_reader.read(&mut piece) {
            Ok(0) => return Ok(body),
            Ok(n) => body.extend_from_slice(&piece[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `/v1.47/containers/json` → `/containers/json`; unversioned paths stay as they are.
fn strip_version(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some((version, tail)) = rest.split_once('/') {
            if version
                .split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            {
                return format!("/{tail}");
            }
        }
    }
    path.to_string()
}

/// `%7B%22a%22` → `{"a"`, `+` → space: chapter 06's server decodes the same way.
pub use ch06_registry::server::percent_decode;

fn reason(status: u16) -> &'static str {
    match status {
        101 => "UPGRADED",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// The headers every response of the Docker API carries.
fn common_headers() -> String {
    format!(
        "Api-Version: {API_VERSION}\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: baleia/{}\r\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn write_response(
    out: &mut UnixStream,
    method: &str,
    response: Response,
    keep_alive: bool,
    extra: &str,
) -> io::Result<()> {
    match response {
        Response::Full {
            status,
            content_type,
            body,
        } => write_full(out, method, (status, content_type, body), keep_alive, extra),
        Response::Stream {
            status,
            content_type,
            body,
        } => write_stream(out, status, &content_type, extra, body),
        Response::Messages(messages) => {
            let body = move |out: &mut dyn Write| {
                for message in messages {
                    writeln!(out, "{message}")?;
                }
                Ok(())
            };
            write_stream(out, 200, "application/json", extra, Box::new(body))
        }
        Response::WithHeaders { headers, inner } => {
            let extra: String = headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}\r\n"))
                .chain([extra.to_string()])
                .collect();
            write_response(out, method, *inner, keep_alive, &extra)
        }
        Response::Upgrade { .. } => unreachable!("upgrades are written by upgrade()"),
    }
}

/// A streamed response: the head at once, then the body in chunks as `body` writes it. The
/// last chunk is sent only if `body` succeeded: one that fails leaves the body cut short.
fn write_stream(
    out: &mut UnixStream,
    status: u16,
    content_type: &str,
    extra: &str,
    body: BodyWriter,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{}{extra}Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        reason(status),
        common_headers()
    );
    out.write_all(head.as_bytes())?;
    out.flush()?;
    let mut chunked = ChunkedWriter::new(&mut *out);
    body(&mut chunked)?;
    chunked.finish().map(|_| ())
}

/// A response with a length, and `extra` header lines.
fn write_full(
    out: &mut UnixStream,
    method: &str,
    (status, content_type, body): (u16, &str, Vec<u8>),
    keep_alive: bool,
    extra: &str,
) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    // 204 and 304 never have a body (RFC 9110); HEAD gets the headers only.
    let body = if method == "HEAD" || status == 204 || status == 304 {
        Vec::new()
    } else {
        body
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{}{extra}Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        reason(status),
        common_headers(),
        body.len(),
    );
    out.write_all(head.as_bytes())?;
    out.write_all(&body)?;
    out.flush()
}

/// Hijack the connection: `101 UPGRADED` (or, for old clients that did not ask to upgrade,
/// `200 OK` with no length), then the raw stream.
fn upgrade(
    out: &mut UnixStream,
    wants_upgrade: bool,
    content_type: &str,
    body: Hijacker,
    reader: BufReader<UnixStream>,
) -> io::Result<()> {
    let head = if wants_upgrade {
        format!(
            "HTTP/1.1 101 UPGRADED\r\n{}Content-Type: {content_type}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
            common_headers()
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\n{}Content-Type: {content_type}\r\n\r\n",
            common_headers()
        )
    };
    out.write_all(head.as_bytes())?;
    out.flush()?;
    body(out, reader)
}

/// Headers as httparse found them (borrowing the buffer they came in), as owned name/value
/// pairs; a value that is not UTF-8 is kept lossily. Both sides use it: the daemon for a
/// request, the client for a reply.
pub fn owned_headers(headers: &[httparse::Header]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_streamed_and_json_is_read_whole() {
        assert!(streams_body("POST", "/v1.41/images/load"));
        assert!(streams_body("POST", "/build"));
        assert!(streams_body("POST", "/images/create"));
        assert!(streams_body("PUT", "/containers/abc/archive"));
        assert!(!streams_body("POST", "/containers/create"));
        assert!(!streams_body("GET", "/images/load"));
    }

    #[test]
    fn versions_are_stripped_and_escapes_decoded() {
        assert_eq!(strip_version("/v1.41/containers/json"), "/containers/json");
        assert_eq!(strip_version("/containers/json"), "/containers/json");
        assert_eq!(strip_version("/volumes/v1.x"), "/volumes/v1.x");
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
