//! Credentials and the two ways a registry asks for them.
//!
//! A registry that wants credentials answers `401 Unauthorized` with a challenge
//! (RFC 7235 `WWW-Authenticate`):
//!
//! ```text
//! WWW-Authenticate: Basic realm="baleia"
//!     → send `Authorization: Basic base64(user:password)` with every request.
//! WWW-Authenticate: Bearer realm="http://auth.example/token",service="registry",scope="repository:x/y:pull"
//!     → GET realm?service=registry&scope=repository:x/y:pull (with Basic credentials if we
//!       have some, anonymously if not), receive {"token": "..."}, and send
//!       `Authorization: Bearer <token>` (the distribution spec's "token authentication").
//! ```
//!
//! `login` checks credentials against the registry and stores them the way Docker does in
//! `~/.docker/config.json`: `{"auths": {"registry:port": {"auth": base64("user:password")}}}`.
//! Our file is `$ROOT/auth.json` (or `--auth-file`, `BALEIA_AUTH`), never Docker's own.

use crate::error::{Error, Result};
use base64::Engine;
use ch01_namespaces::common::Failure;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}:***)", self.user)
    }
}

impl Credentials {
    /// `user:password` (as `--creds` takes it).
    pub fn parse(text: &str) -> Result<Credentials> {
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| Error::Reference("credentials are USER:PASSWORD".to_string()))?;
        Ok(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    /// The value of an `Authorization: Basic` header.
    pub fn basic_header(&self) -> String {
        format!("Basic {}", self.encoded())
    }

    fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.user, self.password))
    }

    /// The Docker Engine API's `X-Registry-Auth` header: base64url of a JSON object with
    /// `username` and `password` (what `docker pull` sends when it has a login). `None` for
    /// anything else, an empty object included.
    pub fn from_registry_auth(header: &str) -> Option<Credentials> {
        use base64::Engine as _;
        let trimmed = header.trim().trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .ok()?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let user = value["username"].as_str().filter(|u| !u.is_empty())?;
        Some(Credentials {
            user: user.to_string(),
            password: value["password"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Decode `base64(user:password)` (from a config file or a Basic header).
    pub fn decode(encoded: &str) -> Option<Credentials> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?;
        Credentials::parse(std::str::from_utf8(&bytes).ok()?).ok()
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parse `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
    pub fn parse(header: &str) -> Option<Challenge> {
        let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parse_params(params);
        Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        })
    }
}

/// `a="x",b="y,z",c=w` → {a: x, b: "y,z", c: w}. Quoted values may contain commas (scopes do).
fn parse_params(text: &str) -> BTreeMap<String, String> {
    // exercise 06.1: the challenge's parameters: a="x",b="y,z" with commas inside quotes
    let mut params = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, after)) => (value.to_string(), after),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((value, after)) => (value.trim().to_string(), after),
                None => (after.trim().to_string(), ""),
            }
        };
        params.insert(key, value);
        rest = after.trim_start_matches([',', ' ']);
    }
    params
    // end of exercise 06.1
}

/// The token endpoint's answer (docker's token spec: `token`, or OAuth2's `access_token`).
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
}

/// The credentials file: Docker's `config.json` shape, only the `auths` part.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AuthFile {
    #[serde(default)]
    pub auths: BTreeMap<String, AuthEntry>,
    /// Whatever else a Docker config holds, kept as it was.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AuthEntry {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
}

impl AuthFile {
    /// Read the file; a missing file is an empty one.
    pub fn load(path: &Path) -> Result<AuthFile> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::file("parse", path.to_path_buf())(e.into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
            Err(e) => Err(Error::file("read", path)(e)),
        }
    }

    /// Write it back, readable by its owner only (it holds passwords, merely base64'd).
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(Error::file("create directory", dir))?;
        let bytes = serde_json::to_vec_pretty(self).expect("serialize auth file");
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(Error::file("create", &tmp))?;
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(Error::file("write", &tmp))?;
        std::fs::rename(&tmp, path).map_err(Error::file("rename into", path))
    }

    pub fn get(&self, registry: &str) -> Option<Credentials> {
        Credentials::decode(&self.auths.get(registry)?.auth)
    }

    pub fn set(&mut self, registry: &str, credentials: &Credentials) {
        self.auths.insert(
            registry.to_string(),
            AuthEntry {
                auth: credentials.encoded(),
            },
        );
    }

    /// Forget a registry's credentials; false if there were none.
    pub fn remove(&mut self, registry: &str) -> bool {
        self.auths.remove(registry).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_keep_commas_inside_quotes() {
        let c = Challenge::parse(
            r#"Bearer realm="http://127.0.0.1:5000/token",service="baleia",scope="repository:x/y:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "http://127.0.0.1:5000/token".into(),
                service: Some("baleia".into()),
                scope: Some("repository:x/y:pull,push".into()),
            }
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
    }

    #[test]
    fn credentials_round_trip_through_the_docker_encoding() {
        let c = Credentials::parse("alice:s3:cret").unwrap();
        assert_eq!(c.password, "s3:cret", "only the first ':' splits");
        // `printf alice:s3:cret | base64`
        assert_eq!(c.basic_header(), "Basic YWxpY2U6czM6Y3JldA==");
        assert_eq!(Credentials::decode("YWxpY2U6czM6Y3JldA=="), Some(c));
    }

    #[test]
    fn the_auth_file_keeps_what_it_does_not_know() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"auths":{},"credsStore":"desktop"}"#).unwrap();
        let mut file = AuthFile::load(&path).unwrap();
        file.set("localhost:5000", &Credentials::parse("a:b").unwrap());
        file.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("credsStore") && text.contains("YTpi"),
            "{text}"
        );
    }
}
