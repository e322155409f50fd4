//! The HTTP side of the distribution API: one [`Client`] per registry. It picks `http` or
//! `https`, sends requests, narrates them under `--explain`, and answers `401` challenges
//! (see [`crate::auth`]) by getting credentials or a token and trying once more.
//!
//! Every call of the distribution spec (read `spec.md` of opencontainers/distribution-spec)
//! goes through [`Client::send`]: pull, push, tags and the server's own tests.

use crate::auth::{Challenge, Credentials, TokenResponse};
use crate::error::{Error, Result};
use crate::explain;
use crate::redirect;
use ch01_namespaces::common::Failure;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use url::Url;

/// What a request carries.
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset`: a blob, or one chunk of it.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

/// How to reach one registry.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Allow plain HTTP to this registry even though it is not on loopback (`--insecure`).
    pub insecure: bool,
    pub credentials: Option<Credentials>,
}

pub struct Client {
    agent: ureq::Agent,
    /// As the user names it: `localhost:5000`, `docker.io`.
    registry: String,
    /// `http://127.0.0.1:5000`
    base: String,
    credentials: Option<Credentials>,
    /// The `Authorization` header that worked last (Basic, or Bearer with a token).
    authorization: Mutex<Option<String>>,
}

/// Plain HTTP is only for the local machine, as Docker does by default: anything else must
/// be named with `--insecure`.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    name == "localhost"
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How long a registry may stay silent by default (Docker's client waits as long).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The timeout of a new client: `BALEIA_REGISTRY_TIMEOUT` seconds if set (so a daemon started
/// with it gives up on a stalled registry sooner), else [`DEFAULT_TIMEOUT`].
pub fn default_timeout() -> Duration {
    std::env::var("BALEIA_REGISTRY_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64)
}

/// The HTTP agent: timeouts, our user agent, no redirects of its own.
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(timeout.min(Duration::from_secs(10)))
        .timeout_read(timeout)
        .timeout_write(timeout)
        .user_agent(concat!("baleia/", env!("CARGO_PKG_VERSION")))
        // Redirects are ours to follow, after checking where they go (see `redirect`).
        .redirects(0)
        .build()
}

impl Client {
    /// A client for `registry` (as it appears in references); `api_host` is where its API
    /// answers (`registry-1.docker.io` for `docker.io`).
    pub fn new(registry: &str, api_host: &str, options: &ClientOptions) -> Client {
        let scheme = if options.insecure || is_loopback(api_host) {
            "http"
        } else {
            "https"
        };
        Client {
            agent: agent(default_timeout()),
            registry: registry.to_string(),
            base: format!("{scheme}://{api_host}"),
            credentials: options.credentials.clone(),
            authorization: Mutex::new(None),
        }
    }

    /// The same client, giving up on a registry that stays silent for `timeout` (one read or
    /// write; connecting gets at most 10 s). A stalled download is retried like a dropped one,
    /// so a registry that hangs for good costs a few timeouts, then a clear error.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.agent = agent(timeout);
        self
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// `/v2/...` → `http://host:port/v2/...`; absolute URLs (a `Location`) stay as they are.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Send a request and return the response whatever its status, after answering at most
    /// one authentication challenge.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<ureq::Response> {
        let url = self.url(url);
        let mut challenged = false;
        loop {
            let authorization = self.authorization.lock().expect("auth lock").clone();
            let response = self.call(method, &url, headers, authorization.as_deref(), &body)?;
            if response.status() != 401 {
                return Ok(response);
            }
            let header = response
                .header("www-authenticate")
                .unwrap_or("")
                .to_string();
            if challenged {
                return Err(self.refused(response));
            }
            challenged = true;
            let new_authorization = match Challenge::parse(&header) {
                Some(Challenge::Basic) => match &self.credentials {
                    Some(credentials) => credentials.basic_header(),
                    None => return Err(self.needs_login()),
                },
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope,
                }) => format!(
                    "Bearer {}",
                    self.token(&realm, service.as_deref(), scope.as_deref())?
                ),
                None => return Err(self.refused(response)),
            };
            *self.authorization.lock().expect("auth lock") = Some(new_authorization);
        }
    }

    /// Send, then insist on one of the `ok` statuses; anything else becomes an error that
    /// carries the registry's own message (`MANIFEST_UNKNOWN: manifest unknown`).
    pub fn expect(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
        ok: &[u16],
    ) -> Result<ureq::Response> {
        let response = self.send(method, url, headers, body)?;
        if ok.contains(&response.status()) {
            Ok(response)
        } else {
            Err(status_error(method, &self.url(url), response))
        }
    }

    /// The token flow: `GET realm?service=...&scope=...`, with our credentials if we have
    /// some (anonymous pulls of public images get a token too).
    fn token(&self, realm: &str, service: Option<&str>, scope: Option<&str>) -> Result<String> {
        // exercise 06.4: the token dance: ask the realm for a token, with our credentials if any
        // The realm is where the registry sends our credentials: the same rules as a redirect.
        let registry = Url::parse(&self.base)
            .map_err(|e| Error::Protocol(format!("{}: not a URL: {e}", self.base)))?;
        let realm_url = Url::parse(realm)
            .map_err(|e| Error::Protocol(format!("token realm {realm:?}: not a URL: {e}")))?;
        redirect::check(&registry, &realm_url)
            .map_err(|why| Error::Protocol(format!("token realm: {why}")))?;
        let mut request = self.agent.get(realm);
        if let Some(service) = service {
            request = request.query("service", service);
        }
        if let Some(scope) = scope {
            request = request.query("scope", scope);
        }
        explain!(
            "> GET {realm}?service={}&scope={}  (token request{})",
            service.unwrap_or(""),
            scope.unwrap_or(""),
            if self.credentials.is_some() {
                ", with Basic credentials"
            } else {
                ", anonymous"
            }
        );
        if let Some(credentials) = &self.credentials {
            request = request.set("Authorization", &credentials.basic_header());
        }
        let response = match request.call() {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(t)) => {
                return Err(Error::Transport {
                    method: "GET".into(),
                    url: realm.into(),
                    cause: t.to_string(),
                })
            }
        };
        explain!("< {} {}", response.status(), response.status_text());
        match response.status() {
            200 => {}
            401 | 403 if self.credentials.is_some() => return Err(self.wrong_credentials()),
            401 | 403 => return Err(self.needs_login()),
            _ => return Err(status_error("GET", realm, response)),
        }
        let mut text = String::new();
        response
            .into_reader()
            .take(1024 * 1024)
            .read_to_string(&mut text)
            .map_err(Error::file("read the token from", realm))?;
        let answer: TokenResponse = serde_json::from_str(&text)
            .map_err(|e| Error::Protocol(format!("{realm}: not a token answer: {e}")))?;
        answer
            .token
            .or(answer.access_token)
            .ok_or_else(|| Error::Protocol(format!("{realm}: the answer holds no token")))
        // end of exercise 06.4
    }

    fn needs_login(&self) -> Error {
        Error::Unauthorized {
            registry: self.registry.clone(),
            message: format!(
                "authentication required: log in first (ch06-registry login {})",
                self.registry
            ),
        }
    }

    fn wrong_credentials(&self) -> Error {
        Error::Unauthorized {
            registry: self.registry.clone(),
            message: "the registry refused our credentials: wrong user name or password".into(),
        }
    }

    /// A second 401, after we answered the challenge: the credentials (or the token's scope)
    /// were not good enough.
    fn refused(&self, response: ureq::Response) -> Error {
        if self.credentials.is_some() {
            return self.wrong_credentials();
        }
        let _ = response;
        self.needs_login()
    }

    /// One request, following the redirects [`redirect::check`] allows (GET and HEAD only).
    fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        body: &Body<'_>,
    ) -> Result<ureq::Response> {
        let registry = Url::parse(&self.base)
            .map_err(|e| Error::Protocol(format!("{}: not a URL: {e}", self.base)))?;
        let mut current = url.to_string();
        for _ in 0..=redirect::MAX_REDIRECTS {
            let here = Url::parse(&current)
                .map_err(|e| Error::Protocol(format!("{current}: not a URL: {e}")))?;
            // Credentials go to the registry only, never to where it sends us.
            let authorization = authorization.filter(|_| redirect::same_origin(&registry, &here));
            let response = self.call_once(method, &current, headers, authorization, body)?;
            if !redirect::is_redirect(response.status()) || !matches!(method, "GET" | "HEAD") {
                return Ok(response);
            }
            let location = response.header("Location").unwrap_or("").to_string();
            let next = here.join(&location).map_err(|e| {
                Error::Protocol(format!(
                    "{current}: redirect to {location:?}: not a URL: {e}"
                ))
            })?;
            redirect::check(&registry, &next).map_err(Error::Protocol)?;
            explain!("  (redirect followed: {next})");
            current = next.to_string();
        }
        Err(Error::Protocol(format!(
            "{url}: more than {} redirects",
            redirect::MAX_REDIRECTS
        )))
    }

    fn call_once(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        body: &Body<'_>,
    ) -> Result<ureq::Response> {
        let mut request = self.agent.request(method, url);
        explain!("> {method} {url}");
        for (name, value) in headers {
            explain!(">     {name}: {value}");
            request = request.set(name, value);
        }
        if let Some(authorization) = authorization {
            let scheme = authorization.split(' ').next().unwrap_or("");
            explain!(">     Authorization: {scheme} <redacted>");
            request = request.set("Authorization", authorization);
        }
        let result = match body {
            Body::Empty if matches!(method, "GET" | "HEAD" | "DELETE") => request.call(),
            Body::Empty => request.send_bytes(&[]),
            Body::Bytes(bytes) => {
                explain!(">     ({} bytes)", bytes.len());
                request.send_bytes(bytes)
            }
            Body::File { path, offset, len } => {
                explain!(
                    ">     ({len} bytes from {} at offset {offset})",
                    path.display()
                );
                let mut file = std::fs::File::open(path).map_err(Error::file("open", *path))?;
                file.seek(SeekFrom::Start(*offset))
                    .map_err(Error::file("seek", *path))?;
                request
                    .set("Content-Length", &len.to_string())
                    .send(file.take(*len))
            }
        };
        let response = match result {
            Ok(response) => response,
            Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(t)) => {
                explain!("< (no answer: {t})");
                return Err(Error::Transport {
                    method: method.into(),
                    url: url.into(),
                    cause: t.to_string(),
                });
            }
        };
        explain!("< {} {}", response.status(), response.status_text());
        for name in [
            "Content-Type",
            "Content-Length",
            "Docker-Content-Digest",
            "Location",
            "Range",
            "Content-Range",
            "WWW-Authenticate",
            "Link",
        ] {
            if let Some(value) = response.header(name) {
                explain!("<     {name}: {value}");
            }
        }
        Ok(response)
    }
}

/// An error status as an [`Error`], with the first entry of the OCI error body if there is one.
pub fn status_error(method: &str, url: &str, response: ureq::Response) -> Error {
    let status = response.status();
    let text = response.status_text().to_string();
    let mut body = String::new();
    let _ = response
        .into_reader()
        .take(64 * 1024)
        .read_to_string(&mut body);
    let message = serde_json::from_str::<oci_spec::distribution::ErrorResponse>(&body)
        .ok()
        .and_then(|e| {
            e.detail().first().map(|info| {
                format!(
                    "{}: {}",
                    info.code(),
                    info.message().clone().unwrap_or_default()
                )
            })
        })
        .unwrap_or(text);
    Error::Status {
        method: method.into(),
        url: url.into(),
        status,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_gets_plain_http_by_default() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.8.9.1",
            "[::1]:5000",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1:5000",
            "registry-1.docker.io",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
        let remote = Client::new("ghcr.io", "ghcr.io", &ClientOptions::default());
        assert_eq!(remote.url("/v2/"), "https://ghcr.io/v2/");
        let local = Client::new(
            "localhost:5000",
            "localhost:5000",
            &ClientOptions::default(),
        );
        assert_eq!(local.url("/v2/"), "http://localhost:5000/v2/");
    }
}
