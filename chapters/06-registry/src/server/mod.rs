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
mod blobs;
mod http;
pub use http::percent_decode;
mod manifests;
pub mod repos;

use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::explain;
use crate::reference::valid_tag;
use access::{Access, Need, Verdict};
use blobs::{sweep_uploads, upload_reply};
use ch01_namespaces::common::Failure;
use ch04_images::Store;
use http::{digest_of, parse_query, route, valid_name, Call, Handled, Reply, Route};
use oci_spec::distribution::ErrorCode;
use repos::Repos;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response, StatusCode};

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
    /// With --user: let anyone pull without credentials (pushes still need them).
    #[arg(long, requires = "users")]
    pub anonymous_pull: bool,
}

struct Registry {
    repos: Repos,
    access: Access,
}

/// Listen and answer until killed.
pub fn serve(store: Store, args: &ServeArgs) -> Result<()> {
    let server = tiny_http::Server::http(&args.addr).map_err(|e| {
        Error::file("listen on", args.addr.clone())(std::io::Error::other(e.to_string()))
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
        access: Access::new(users, realm, args.anonymous_pull),
    });
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
    for request in server.incoming_requests() {
        let registry = Arc::clone(&registry);
        std::thread::spawn(move || registry.handle(request));
    }
    Ok(())
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
}
