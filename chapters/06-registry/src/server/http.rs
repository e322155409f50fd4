//! The HTTP plumbing of the server: the answer ([`Reply`]), the request's parts ([`Call`]),
//! which endpoint a path names ([`route`]), query strings, and `Range` headers.

use crate::reference::valid_component;
use ch04_images::digest::parse_sha256;
use oci_spec::distribution::ErrorCode;
use oci_spec::image::Digest;
use std::io::Read;
use tiny_http::{Header, Method};

/// An answer: status, headers, body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Box<dyn Read + Send>,
    pub(super) length: usize,
}

impl Reply {
    pub(super) fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Box::new(std::io::empty()),
            length: 0,
        }
    }
    pub(super) fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    pub(super) fn bytes(mut self, bytes: Vec<u8>) -> Reply {
        self.length = bytes.len();
        self.body = Box::new(std::io::Cursor::new(bytes));
        self
    }
    pub(super) fn json(self, value: &impl serde::Serialize) -> Reply {
        self.header("Content-Type", "application/json")
            .bytes(serde_json::to_vec(value).expect("json"))
    }
    /// `{"errors":[{"code":...,"message":...}]}`
    pub(super) fn error(status: u16, code: ErrorCode, message: impl Into<String>) -> Reply {
        let body = serde_json::json!({
            "errors": [{"code": code, "message": message.into()}]
        });
        Reply::new(status).json(&body)
    }
}

pub(super) type Handled = std::result::Result<Reply, Reply>;

/// The parts of a request the handlers need (tiny_http's `Request` is consumed to answer).
pub(super) struct Call<'a> {
    pub(super) method: Method,
    pub(super) query: Vec<(String, String)>,
    pub(super) headers: &'a [Header],
}

impl Call<'_> {
    pub(super) fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// What the path names.
pub(super) enum Route {
    Base,
    Catalog,
    Token,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
}

pub(super) fn route(path: &str) -> Option<Route> {
    if path == "/token" {
        return Some(Route::Token);
    }
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags(name.into()));
    }
    if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        return Some(Route::Manifest(name.into(), reference.into()));
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::UploadStart(name.into()));
    }
    if let Some((name, id)) = rest.rsplit_once("/blobs/uploads/") {
        return Some(Route::Upload(name.into(), id.into()));
    }
    if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        return Some(Route::Blob(name.into(), digest.into()));
    }
    None
}

impl Route {
    pub(super) fn name(&self) -> Option<&str> {
        match self {
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _) => Some(n),
            _ => None,
        }
    }
}

/// `%3A` → `:`; `+` → space (paths and query strings; the capstone's daemon uses it too).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(super) fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

pub(super) fn digest_of(text: &str) -> std::result::Result<Digest, Reply> {
    parse_sha256(text).map_err(|_| {
        Reply::error(
            400,
            ErrorCode::DigestInvalid,
            format!("{text:?} is not a sha256 digest"),
        )
    })
}

pub(super) fn internal(error: impl std::fmt::Display) -> Reply {
    eprintln!("ch06-registry serve: {error}");
    Reply::error(500, ErrorCode::Unsupported, error.to_string())
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → (first, last) inside `size`.
pub(super) fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (size.checked_sub(n)?, size.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, size.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(size.checked_sub(1)?),
        ),
    };
    (start <= end && end < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn ranges_are_clamped_to_the_blob() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    pub(super) fn routes_split_names_that_contain_slashes() {
        assert!(matches!(route("/v2/"), Some(Route::Base)));
        match route("/v2/a/b/manifests/v1") {
            Some(Route::Manifest(n, r)) => assert_eq!((n.as_str(), r.as_str()), ("a/b", "v1")),
            _ => panic!(),
        }
        match route("/v2/a/blobs/uploads/ab12") {
            Some(Route::Upload(n, id)) => assert_eq!((n.as_str(), id.as_str()), ("a", "ab12")),
            _ => panic!(),
        }
        assert!(matches!(
            route("/v2/a/blobs/uploads/"),
            Some(Route::UploadStart(_))
        ));
        assert!(matches!(route("/v2/x/tags/list"), Some(Route::Tags(_))));
        assert!(route("/v3/").is_none());
    }

    #[test]
    pub(super) fn queries_are_percent_decoded() {
        assert_eq!(
            parse_query("scope=repository%3Ax%2Fy%3Apull%2Cpush&n=2"),
            vec![
                ("scope".to_string(), "repository:x/y:pull,push".to_string()),
                ("n".to_string(), "2".to_string())
            ]
        );
    }
}
