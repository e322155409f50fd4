//! `ch06-registry serve`: a registry of our own, over the chapter 04 store.
//!
//! One thread per request (`tiny_http` accepts and parses; we answer), each route a short
//! function. The routes, from the OCI distribution spec (`spec.md`, "Endpoints"):
//!
//! ```text
//! GET          /v2/                                 "yes, I speak the API" (and: who are you?)
//! GET/HEAD     /v2/<name>/blobs/<digest>            Range: bytes=a-b → 206
//! DELETE       /v2/<name>/blobs/<digest>
//! POST         /v2/<name>/blobs/uploads/            202 Location: .../uploads/<id>
//! POST         /v2/<name>/blobs/uploads/?digest=    monolithic, in one request
//! POST         /v2/<name>/blobs/uploads/?mount=<digest>&from=<other>   201 if linked
//! PATCH        /v2/<name>/blobs/uploads/<id>        a chunk (Content-Range: a-b)
//! PUT          /v2/<name>/blobs/uploads/<id>?digest=   the last chunk; verified, stored
//! GET/DELETE   /v2/<name>/blobs/uploads/<id>        progress / abandon
//! GET/HEAD/PUT/DELETE /v2/<name>/manifests/<tag or digest>
//! GET          /v2/<name>/tags/list?n=&last=        paginated, Link: <...>; rel="next"
//! GET          /v2/_catalog?n=&last=
//! GET          /token?service=&scope=               (with --token-auth)
//! ```
//!
//! Errors have the spec's body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":...}]}`.

pub mod access;
pub mod repos;

use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::explain;
use crate::manifest::{is_index, MAX_MANIFEST, OCI_MANIFEST};
use crate::reference::{valid_component, valid_tag};
use access::{Access, Need, Verdict};
use ch04_images::digest::{parse_sha256, sha256};
use ch04_images::Store;
use oci_spec::distribution::ErrorCode;
use oci_spec::image::Digest;
use repos::Repos;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tiny_http::{Header, Method, Request, Response, StatusCode};

/// Uploads untouched for this long are abandoned: deleted.
const UPLOAD_EXPIRY: Duration = Duration::from_secs(3600);

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub addr: String,
    /// Require these credentials (USER:PASSWORD, repeatable): HTTP Basic authentication.
    #[arg(long = "user")]
    pub users: Vec<String>,
    /// With --user: the token flow instead of Basic (GET /token trades credentials for a token).
    #[arg(long, requires = "users")]
    pub token_auth: bool,
}

struct Registry {
    repos: Repos,
    access: Access,
}

/// Listen and answer until killed.
pub fn serve(store: Store, args: &ServeArgs) -> Result<()> {
    let server = tiny_http::Server::http(&args.addr).map_err(|e| Error::Io {
        action: "listen on",
        path: args.addr.clone().into(),
        cause: std::io::Error::other(e.to_string()),
    })?;
    let addr = server
        .server_addr()
        .to_ip()
        .map(|a| a.to_string())
        .unwrap_or_else(|| args.addr.clone());
    let users = args
        .users
        .iter()
        .map(|u| Credentials::parse(u))
        .collect::<Result<Vec<_>>>()?;
    let realm = args.token_auth.then(|| format!("http://{addr}/token"));
    let repos = Repos::new(store)?;
    // Uploads left by an earlier run can never be finished: their clients are gone.
    sweep_uploads(&repos, Duration::ZERO);
    let registry = Arc::new(Registry {
        repos,
        access: Access::new(users, realm),
    });
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    for request in server.incoming_requests() {
        let registry = Arc::clone(&registry);
        std::thread::spawn(move || registry.handle(request));
    }
    Ok(())
}

/// Delete uploads not written to for `age`.
fn sweep_uploads(repos: &Repos, age: Duration) {
    let now = SystemTime::now();
    for entry in std::fs::read_dir(repos.uploads_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= age);
        if old {
            explain!("removing abandoned upload {}", entry.path().display());
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// An answer: status, headers, body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Box<dyn Read + Send>,
    length: usize,
}

impl Reply {
    fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Box::new(std::io::empty()),
            length: 0,
        }
    }
    fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
    fn bytes(mut self, bytes: Vec<u8>) -> Reply {
        self.length = bytes.len();
        self.body = Box::new(std::io::Cursor::new(bytes));
        self
    }
    fn json(self, value: &impl serde::Serialize) -> Reply {
        self.header("Content-Type", "application/json")
            .bytes(serde_json::to_vec(value).expect("json"))
    }
    /// `{"errors":[{"code":...,"message":...}]}`
    fn error(status: u16, code: ErrorCode, message: impl Into<String>) -> Reply {
        let body = serde_json::json!({
            "errors": [{"code": code, "message": message.into()}]
        });
        Reply::new(status).json(&body)
    }
}

type Handled = std::result::Result<Reply, Reply>;

/// The parts of a request the handlers need (tiny_http's `Request` is consumed to answer).
struct Call<'a> {
    method: Method,
    query: Vec<(String, String)>,
    headers: &'a [Header],
}

impl Call<'_> {
    fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// What the path names.
enum Route {
    Base,
    Catalog,
    Token,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
}

fn route(path: &str) -> Option<Route> {
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
    fn name(&self) -> Option<&str> {
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

/// `%3A` → `:`; `+` → space.
fn percent_decode(text: &str) -> String {
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

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && name.split('/').all(valid_component)
}

fn digest_of(text: &str) -> std::result::Result<Digest, Reply> {
    parse_sha256(text).map_err(|_| {
        Reply::error(
            400,
            ErrorCode::DigestInvalid,
            format!("{text:?} is not a sha256 digest"),
        )
    })
}

impl Registry {
    fn handle(&self, mut request: Request) {
        let url = request.url().to_string();
        let (path, query) = url.split_once('?').unwrap_or((&url, ""));
        let path = percent_decode(path);
        let method = request.method().clone();
        explain!("< {method} {url}");
        let headers = request.headers().to_vec();
        let call = Call {
            method: method.clone(),
            query: parse_query(query),
            headers: &headers,
        };
        let reply = match self.dispatch(&call, &path, request.as_reader()) {
            Ok(reply) | Err(reply) => reply,
        };
        explain!("> {} for {method} {path}", reply.status);
        let mut headers: Vec<Header> = reply
            .headers
            .iter()
            .filter_map(|(k, v)| Header::from_bytes(k.as_bytes(), v.as_bytes()).ok())
            .collect();
        headers.push(
            Header::from_bytes("Docker-Distribution-API-Version", "registry/2.0").expect("header"),
        );
        let response = Response::new(
            StatusCode(reply.status),
            headers,
            reply.body,
            Some(reply.length),
            None,
        );
        let _ = request.respond(response);
    }

    fn dispatch(&self, call: &Call, path: &str, body: &mut dyn Read) -> Handled {
        let route = route(path)
            .ok_or_else(|| Reply::error(404, ErrorCode::Unsupported, "no such endpoint"))?;
        if let Some(name) = route.name() {
            if !valid_name(name) {
                return Err(Reply::error(
                    400,
                    ErrorCode::NameInvalid,
                    format!("invalid repository name {name:?}"),
                ));
            }
        }
        if let Route::Manifest(_, reference) = &route {
            // A tag becomes a file name under _tags/: nothing but a valid tag (no '/', no
            // leading '.') may get there, or `DELETE .../manifests/..%2F..` would reach out.
            if !reference.starts_with("sha256:") && !valid_tag(reference) {
                return Err(Reply::error(
                    400,
                    ErrorCode::ManifestInvalid,
                    format!("{reference:?} is neither a tag nor a digest"),
                ));
            }
        }
        if let Route::Token = route {
            return self.token(call);
        }
        self.authorize(call, &route)?;
        match (&call.method, route) {
            (Method::Get | Method::Head, Route::Base) => {
                Ok(Reply::new(200).json(&serde_json::json!({})))
            }
            (Method::Get, Route::Catalog) => self.catalog(call),
            (Method::Get, Route::Tags(name)) => self.tags(call, &name),
            (Method::Get | Method::Head, Route::Manifest(name, reference)) => {
                self.get_manifest(&name, &reference)
            }
            (Method::Put, Route::Manifest(name, reference)) => {
                self.put_manifest(call, &name, &reference, body)
            }
            (Method::Delete, Route::Manifest(name, reference)) => {
                self.delete_manifest(&name, &reference)
            }
            (Method::Get | Method::Head, Route::Blob(name, digest)) => {
                self.get_blob(call, &name, &digest)
            }
            (Method::Delete, Route::Blob(name, digest)) => {
                let digest = digest_of(&digest)?;
                if self.repos.unlink_blob(&name, &digest) {
                    Ok(Reply::new(202))
                } else {
                    Err(Reply::error(
                        404,
                        ErrorCode::BlobUnknown,
                        "blob unknown to registry",
                    ))
                }
            }
            (Method::Post, Route::UploadStart(name)) => self.start_upload(call, &name, body),
            (Method::Patch, Route::Upload(name, id)) => self.patch_upload(call, &name, &id, body),
            (Method::Put, Route::Upload(name, id)) => self.finish_upload(call, &name, &id, body),
            (Method::Get, Route::Upload(name, id)) => {
                let size = self.upload_size(&id)?;
                Ok(upload_reply(204, &name, &id, size))
            }
            (Method::Delete, Route::Upload(_, id)) => {
                self.upload_size(&id)?;
                let _ = std::fs::remove_file(self.upload_path(&id));
                Ok(Reply::new(204))
            }
            _ => Err(Reply::error(
                405,
                ErrorCode::Unsupported,
                "the method is not allowed here",
            )),
        }
    }

    /// 401 with a challenge unless the request carries what the route needs.
    fn authorize(&self, call: &Call, route: &Route) -> std::result::Result<(), Reply> {
        let scope = match route {
            Route::Base => None,
            Route::Catalog => Some("registry:catalog:*".to_string()),
            other => {
                let action = if matches!(call.method, Method::Get | Method::Head) {
                    "pull"
                } else {
                    "pull,push"
                };
                Some(format!(
                    "repository:{}:{action}",
                    other.name().unwrap_or("")
                ))
            }
        };
        match self
            .access
            .check(call.header("Authorization"), &Need { scope })
        {
            Verdict::Allowed => Ok(()),
            Verdict::Challenge(challenge) => {
                Err(
                    Reply::error(401, ErrorCode::Unauthorized, "authentication required")
                        .header("WWW-Authenticate", challenge),
                )
            }
        }
    }

    fn token(&self, call: &Call) -> Handled {
        let scopes: Vec<String> = call
            .query
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        match self.access.issue(call.header("Authorization"), scopes) {
            Some(token) => Ok(Reply::new(200).json(&serde_json::json!({
                "token": token, "access_token": token, "expires_in": 300
            }))),
            None => Err(
                Reply::error(401, ErrorCode::Unauthorized, "wrong user name or password")
                    .header("WWW-Authenticate", r#"Basic realm="baleia""#),
            ),
        }
    }

    /// `?n=&last=` over a sorted list, with a `Link` to the next page.
    fn page(call: &Call, path: &str, all: Vec<String>) -> (Vec<String>, Option<String>) {
        let after: Vec<String> = match call.query("last") {
            Some(last) => all.into_iter().filter(|t| t.as_str() > last).collect(),
            None => all,
        };
        let n = call.query("n").and_then(|n| n.parse::<usize>().ok());
        match n {
            Some(n) if n < after.len() => {
                let page: Vec<String> = after.into_iter().take(n).collect();
                let link = format!(
                    "<{path}?n={n}&last={}>; rel=\"next\"",
                    page.last().cloned().unwrap_or_default()
                );
                (page, Some(link))
            }
            _ => (after, None),
        }
    }

    fn catalog(&self, call: &Call) -> Handled {
        let (page, link) = Self::page(call, "/v2/_catalog", self.repos.catalog());
        let mut reply = Reply::new(200).json(&serde_json::json!({ "repositories": page }));
        if let Some(link) = link {
            reply = reply.header("Link", link);
        }
        Ok(reply)
    }

    fn tags(&self, call: &Call, name: &str) -> Handled {
        if !self.repos.exists(name) {
            return Err(Reply::error(
                404,
                ErrorCode::NameUnknown,
                "repository name not known to registry",
            ));
        }
        let path = format!("/v2/{name}/tags/list");
        let (page, link) = Self::page(call, &path, self.repos.tags(name));
        let mut reply = Reply::new(200).json(&serde_json::json!({ "name": name, "tags": page }));
        if let Some(link) = link {
            reply = reply.header("Link", link);
        }
        Ok(reply)
    }

    /// A tag or a digest → the manifest's digest, if this repository has it.
    fn resolve(&self, name: &str, reference: &str) -> std::result::Result<Digest, Reply> {
        let unknown = || {
            Reply::error(
                404,
                ErrorCode::ManifestUnknown,
                format!("manifest unknown: {name}:{reference}"),
            )
        };
        let digest = if reference.starts_with("sha256:") {
            digest_of(reference)?
        } else {
            self.repos.tag(name, reference).ok_or_else(unknown)?
        };
        if self.repos.manifest_type(name, &digest).is_none() || !self.repos.store.has_blob(&digest)
        {
            return Err(unknown());
        }
        Ok(digest)
    }

    fn get_manifest(&self, name: &str, reference: &str) -> Handled {
        let digest = self.resolve(name, reference)?;
        let media_type = self.repos.manifest_type(name, &digest).unwrap_or_default();
        let bytes = self.repos.store.read_blob(&digest).map_err(internal)?;
        Ok(Reply::new(200)
            .header("Content-Type", media_type)
            .header("Docker-Content-Digest", digest.to_string())
            .header("ETag", format!("\"{digest}\""))
            .bytes(bytes))
    }

    fn put_manifest(
        &self,
        call: &Call,
        name: &str,
        reference: &str,
        body: &mut dyn Read,
    ) -> Handled {
        let mut bytes = Vec::new();
        body.take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Reply::error(400, ErrorCode::ManifestInvalid, e.to_string()))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(Reply::error(
                413,
                ErrorCode::SizeInvalid,
                "manifest too large",
            ));
        }
        let digest = sha256(&bytes);
        let by_digest = reference.starts_with("sha256:");
        if by_digest && digest_of(reference)? != digest {
            return Err(Reply::error(
                400,
                ErrorCode::DigestInvalid,
                format!("the manifest hashes to {digest}, not {reference}"),
            ));
        }
        if !by_digest && !valid_tag(reference) {
            return Err(Reply::error(
                400,
                ErrorCode::ManifestInvalid,
                format!("invalid tag {reference:?}"),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Reply::error(400, ErrorCode::ManifestInvalid, format!("not JSON: {e}")))?;
        let declared = json.get("mediaType").and_then(|m| m.as_str());
        let header = call
            .header("Content-Type")
            .map(|t| t.split(';').next().unwrap_or("").trim())
            .filter(|t| t.starts_with("application/vnd."));
        let media_type = header.or(declared).unwrap_or(OCI_MANIFEST).to_string();
        if let (Some(declared), Some(header)) = (declared, header) {
            if declared != header {
                return Err(Reply::error(
                    400,
                    ErrorCode::ManifestInvalid,
                    format!("Content-Type {header} but mediaType {declared}"),
                ));
            }
        }
        // Everything the manifest names must be here already.
        let missing = |code, what: &str, d: &str| {
            Reply::error(400, code, format!("{what} {d} is not in {name}"))
        };
        if is_index(&media_type) || json.get("manifests").is_some() {
            for child in json["manifests"].as_array().into_iter().flatten() {
                let d = child["digest"].as_str().unwrap_or("");
                let ok =
                    parse_sha256(d).is_ok_and(|d| self.repos.manifest_type(name, &d).is_some());
                if !ok {
                    return Err(missing(ErrorCode::ManifestBlobUnknown, "manifest", d));
                }
            }
        } else {
            let config = json.get("config").into_iter();
            let layers = json["layers"].as_array().into_iter().flatten();
            for blob in config.chain(layers) {
                let d = blob["digest"].as_str().unwrap_or("");
                let ok = parse_sha256(d).is_ok_and(|d| self.repos.has_blob(name, &d));
                if !ok {
                    return Err(missing(ErrorCode::ManifestBlobUnknown, "blob", d));
                }
            }
        }
        self.repos
            .store
            .put_blob(&mut &bytes[..], Some(&digest))
            .map_err(internal)?;
        self.repos
            .put_manifest(name, &digest, &media_type)
            .map_err(internal)?;
        if !by_digest {
            self.repos
                .set_tag(name, reference, &digest)
                .map_err(internal)?;
        }
        Ok(Reply::new(201)
            .header("Location", format!("/v2/{name}/manifests/{digest}"))
            .header("Docker-Content-Digest", digest.to_string()))
    }

    fn delete_manifest(&self, name: &str, reference: &str) -> Handled {
        if reference.starts_with("sha256:") {
            let digest = digest_of(reference)?;
            if self.repos.delete_manifest(name, &digest) {
                return Ok(Reply::new(202));
            }
        } else if self.repos.delete_tag(name, reference) {
            return Ok(Reply::new(202));
        }
        Err(Reply::error(
            404,
            ErrorCode::ManifestUnknown,
            "manifest unknown",
        ))
    }

    fn get_blob(&self, call: &Call, name: &str, digest: &str) -> Handled {
        let digest = digest_of(digest)?;
        if !self.repos.has_blob(name, &digest) {
            return Err(Reply::error(
                404,
                ErrorCode::BlobUnknown,
                "blob unknown to registry",
            ));
        }
        let mut file = self.repos.store.open_blob(&digest).map_err(internal)?;
        let size = file.metadata().map_err(internal)?.len();
        let common = |r: Reply| {
            r.header("Content-Type", "application/octet-stream")
                .header("Docker-Content-Digest", digest.to_string())
                .header("Accept-Ranges", "bytes")
        };
        if let Some(range) = call.header("Range") {
            let Some((start, end)) = parse_range(range, size) else {
                return Err(Reply::new(416).header("Content-Range", format!("bytes */{size}")));
            };
            file.seek(SeekFrom::Start(start)).map_err(internal)?;
            let length = end - start + 1;
            let mut reply = common(Reply::new(206))
                .header("Content-Range", format!("bytes {start}-{end}/{size}"));
            reply.body = Box::new(file.take(length));
            reply.length = length as usize;
            return Ok(reply);
        }
        let mut reply = common(Reply::new(200));
        reply.body = Box::new(file);
        reply.length = size as usize;
        Ok(reply)
    }

    fn upload_path(&self, id: &str) -> std::path::PathBuf {
        self.repos.uploads_dir().join(id)
    }

    fn upload_size(&self, id: &str) -> std::result::Result<u64, Reply> {
        let unknown = || {
            Reply::error(
                404,
                ErrorCode::BlobUploadUnknown,
                "blob upload unknown to registry",
            )
        };
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        std::fs::metadata(self.upload_path(id))
            .map(|m| m.len())
            .map_err(|_| unknown())
    }

    fn start_upload(&self, call: &Call, name: &str, body: &mut dyn Read) -> Handled {
        sweep_uploads(&self.repos, UPLOAD_EXPIRY);
        if let (Some(mount), Some(from)) = (call.query("mount"), call.query("from")) {
            let digest = digest_of(mount)?;
            if valid_name(from) && self.repos.has_blob(from, &digest) {
                explain!("mount {digest} from {from} into {name}: one more link, no copy");
                self.repos.link_blob(name, &digest).map_err(internal)?;
                return Ok(blob_created(name, &digest));
            }
            // Not there (or not visible): fall through to a normal upload session, as the
            // spec says.
        }
        let id = access::random_hex();
        let path = self.upload_path(&id);
        std::fs::File::create(&path).map_err(|e| internal(Error::io("create", &path)(e)))?;
        if let Some(digest) = call.query("digest") {
            // Monolithic: the whole blob in this one POST.
            let digest = digest_of(digest)?;
            self.append(&id, body)?;
            return self.complete(name, &id, &digest);
        }
        Ok(upload_reply(202, name, &id, 0))
    }

    /// Append the request body to the upload file.
    fn append(&self, id: &str, body: &mut dyn Read) -> std::result::Result<u64, Reply> {
        let path = self.upload_path(id);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|_| Reply::error(404, ErrorCode::BlobUploadUnknown, "blob upload unknown"))?;
        std::io::copy(body, &mut file).map_err(|e| {
            // A body that broke off: the session stays, at the size it had before is not
            // known any more, so it is abandoned.
            let _ = std::fs::remove_file(&path);
            Reply::error(
                400,
                ErrorCode::BlobUploadInvalid,
                format!("reading the upload: {e}"),
            )
        })?;
        file.metadata()
            .map(|m| m.len())
            .map_err(|e| internal(Error::io("stat", &path)(e)))
    }

    fn patch_upload(&self, call: &Call, name: &str, id: &str, body: &mut dyn Read) -> Handled {
        let size = self.upload_size(id)?;
        if let Some(range) = call.header("Content-Range") {
            let start = range
                .trim_start_matches("bytes ")
                .split('-')
                .next()
                .and_then(|s| s.parse::<u64>().ok());
            if start != Some(size) {
                return Err(Reply::error(
                    416,
                    ErrorCode::BlobUploadInvalid,
                    format!(
                        "the upload has {size} bytes; Content-Range {range} does not follow them"
                    ),
                )
                .header("Range", format!("0-{}", size.saturating_sub(1))));
            }
        }
        let size = self.append(id, body)?;
        Ok(upload_reply(202, name, id, size))
    }

    fn finish_upload(&self, call: &Call, name: &str, id: &str, body: &mut dyn Read) -> Handled {
        self.upload_size(id)?;
        let digest = call
            .query("digest")
            .ok_or_else(|| Reply::error(400, ErrorCode::DigestInvalid, "PUT needs ?digest="))?;
        let digest = digest_of(digest)?;
        self.append(id, body)?;
        self.complete(name, id, &digest)
    }

    /// Verify the upload against its digest, move it into the store, link it. The upload file
    /// goes, whatever happens.
    fn complete(&self, name: &str, id: &str, digest: &Digest) -> Handled {
        let path = self.upload_path(id);
        let result = std::fs::File::open(&path)
            .map_err(|e| Error::io("open", &path)(e))
            .and_then(|mut file| Ok(self.repos.store.put_blob(&mut file, Some(digest))?));
        let _ = std::fs::remove_file(&path);
        match result {
            Ok(_) => {
                self.repos.link_blob(name, digest).map_err(internal)?;
                Ok(blob_created(name, digest))
            }
            Err(Error::Store(ch04_images::Error::DigestMismatch { actual, .. })) => {
                Err(Reply::error(
                    400,
                    ErrorCode::DigestInvalid,
                    format!("the upload hashes to {actual}, not {digest}"),
                ))
            }
            Err(other) => Err(internal(other)),
        }
    }
}

fn blob_created(name: &str, digest: &Digest) -> Reply {
    Reply::new(201)
        .header("Location", format!("/v2/{name}/blobs/{digest}"))
        .header("Docker-Content-Digest", digest.to_string())
}

fn upload_reply(status: u16, name: &str, id: &str, size: u64) -> Reply {
    // `Range: 0-<last byte>`; an empty upload says 0-0, as the CNCF registry does.
    Reply::new(status)
        .header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
        .header("Range", format!("0-{}", size.saturating_sub(1)))
        .header("Docker-Upload-UUID", id)
}

fn internal(error: impl std::fmt::Display) -> Reply {
    eprintln!("ch06-registry serve: {error}");
    Reply::error(500, ErrorCode::Unsupported, error.to_string())
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` → (first, last) inside `size`.
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
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
    fn ranges_are_clamped_to_the_blob() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn routes_split_names_that_contain_slashes() {
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
    fn queries_are_percent_decoded() {
        assert_eq!(
            parse_query("scope=repository%3Ax%2Fy%3Apull%2Cpush&n=2"),
            vec![
                ("scope".to_string(), "repository:x/y:pull,push".to_string()),
                ("n".to_string(), "2".to_string())
            ]
        );
    }
}
