//! Just enough HTTP/1.1 for the Docker Engine API over a unix socket, written out so it can be
//! read: one thread per connection, requests parsed with `httparse`, three kinds of responses.
//!
//! - **Full**: a status, a content type and a body with its `Content-Length`; the connection
//!   stays open for the next request (keep-alive), as Go's client expects.
//! - **Stream**: headers first (sent at once, which matters: `docker run` waits for the headers
//!   of `POST /wait` before it starts the container), then a body of unknown length that ends
//!   when the connection closes (`Connection: close`), e.g. `logs --follow`.
//! - **Upgrade**: the connection is *hijacked* for `attach`: `101 UPGRADED` (when the client
//!   asked with `Upgrade: tcp`), then raw bytes both ways, no more HTTP.
//!
//! Read RFC 9112 (HTTP/1.1 message syntax) for the framing rules used here.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

/// The API version this daemon speaks (and the newest path prefix it accepts).
pub const API_VERSION: &str = "1.47";
/// The oldest API version it accepts (Debian's docker.io client speaks 1.41).
pub const MIN_API_VERSION: &str = "1.24";

/// A parsed request.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, percent-decoded, with any `/v1.NN` prefix removed.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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
    /// A full response with headers of its own (`X-Docker-Container-Path-Stat` for `cp`).
    WithHeaders {
        headers: Vec<(&'static str, String)>,
        inner: Box<Response>,
    },
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response::Full {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// A stream of JSON messages, one a line, as Docker answers pull, push and load.
    pub fn json_lines(messages: &[serde_json::Value]) -> Response {
        let body: String = messages.iter().map(|m| format!("{m}\n")).collect();
        Response::Full {
            status: 200,
            content_type: "application/json",
            body: body.into_bytes(),
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
pub fn serve(stream: UnixStream, handle: &(dyn Fn(Request) -> Response + Sync)) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(error) => {
                let body = serde_json::json!({ "message": format!("bad request: {error}") });
                let _ = write_response(&mut writer, "GET", Response::json(400, &body), false);
                return;
            }
        };
        let keep_alive = !request
            .header("Connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let method = request.method.clone();
        let wants_upgrade = request.header("Upgrade").is_some();
        let response = handle(request);
        let reusable = matches!(
            response,
            Response::Full { .. } | Response::WithHeaders { .. }
        ) && keep_alive;
        let result = match response {
            Response::Upgrade { content_type, body } => {
                let _ = upgrade(&mut writer, wants_upgrade, &content_type, body, reader);
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            other => write_response(&mut writer, &method, other, keep_alive),
        };
        if result.is_err() || !reusable {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

/// Read one request; `None` when the client closed the connection between requests.
fn read_request(reader: &mut BufReader<UnixStream>) -> io::Result<Option<Request>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = reader.read_until(b'\n', &mut head)?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated request",
                ))
            };
        }
        if head.len() > 64 * 1024 {
            return Err(io::Error::other("request head too large"));
        }
        if &head[before..] == b"\r\n" || &head[before..] == b"\n" {
            if before == 0 {
                head.clear(); // stray blank line between requests
                continue;
            }
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed
        .parse(&head)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/");
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if header("Transfer-Encoding").is_some_and(|t| t.contains("chunked")) {
        read_chunked(reader)?
    } else {
        let length: usize = header("Content-Length")
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
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
    }))
}

/// A `Transfer-Encoding: chunked` body: hex size line, data, CRLF; a zero size ends it.
fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
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
        409 => "Conflict",
        500 => "Internal Server Error",
        501 => "Not Implemented",
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
) -> io::Result<()> {
    match response {
        full @ Response::Full { .. } => write_full(out, method, full, keep_alive, ""),
        Response::Stream {
            status,
            content_type,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\n{}Content-Type: {content_type}\r\nConnection: close\r\n\r\n",
                reason(status),
                common_headers()
            );
            out.write_all(head.as_bytes())?;
            out.flush()?;
            body(out)
        }
        Response::WithHeaders { headers, inner } => {
            let extra: String = headers
                .iter()
                .map(|(name, value)| format!("{name}: {value}\r\n"))
                .collect();
            write_full(out, method, *inner, keep_alive, &extra)
        }
        Response::Upgrade { .. } => unreachable!("upgrades are written by upgrade()"),
    }
}

/// A response with a length, and `extra` header lines.
fn write_full(
    out: &mut UnixStream,
    method: &str,
    response: Response,
    keep_alive: bool,
    extra: &str,
) -> io::Result<()> {
    let Response::Full {
        status,
        content_type,
        body,
    } = response
    else {
        return write_response(out, method, response, keep_alive);
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stripped_and_escapes_decoded() {
        assert_eq!(strip_version("/v1.41/containers/json"), "/containers/json");
        assert_eq!(strip_version("/containers/json"), "/containers/json");
        assert_eq!(strip_version("/volumes/v1.x"), "/volumes/v1.x");
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
