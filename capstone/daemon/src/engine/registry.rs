//! `docker pull` and `docker push` through the API (`POST /images/create?fromImage=…&tag=…`,
//! `POST /images/{name}/push?tag=…`): chapter 06's client on the engine's store, its report
//! sent back as Docker's JSON progress messages while it happens:
//!
//! ```text
//! {"status":"Pulling from library/busybox","id":"latest"}
//! {"status":"Pulling fs layer","id":"9ad63333ebc9"}
//! {"status":"Downloading","progressDetail":{"current":65536,"total":2152262},"id":"9ad63333ebc9"}
//! {"status":"Pull complete","id":"9ad63333ebc9"}
//! {"status":"Digest: sha256:…"}
//! {"status":"Status: Downloaded newer image for busybox:latest"}
//! ```
//!
//! The client draws them as bars on a terminal, and prints only the lines without byte counts
//! when its output is piped.

use super::{ApiError, ApiResult, Engine};
use crate::engine::build::error_message;
use crate::http::Response;
use ch06_registry::auth::{AuthFile, Credentials};
use ch06_registry::client::{Client, ClientOptions};
use ch06_registry::progress::{Event, Progress};
use ch06_registry::pull::{self, PullOptions};
use ch06_registry::push::{self, PushOptions};
use ch06_registry::reference::Reference;
use serde_json::{json, Value};
use std::sync::{mpsc, Arc};

/// Where a pull or push sends its JSON messages as they happen.
pub type Reporter = Arc<dyn Fn(Value) + Send + Sync>;

/// Chapter 06's progress event as Docker's JSON message.
fn message(event: Event) -> Value {
    match event.bytes {
        Some((current, total)) => json!({
            "status": event.status,
            "progressDetail": { "current": current, "total": total },
            "id": event.id,
        }),
        None => json!({ "status": event.status, "id": event.id }),
    }
}

/// Chapter 06's progress, relayed to `report`.
fn relayed(report: &Reporter) -> Progress {
    let report = report.clone();
    Progress::observed(Arc::new(move |event| report(message(event))))
}

/// Run `work` on its own thread and answer its messages as they come, then its last lines.
/// An error before the first message is the answer's status (404 for an unknown repository,
/// 401 for refused credentials), as Docker's; after it, an error message ends the stream.
pub fn streamed(
    work: impl FnOnce(&Reporter) -> ApiResult<Vec<Value>> + Send + 'static,
) -> ApiResult<Response> {
    enum Item {
        Message(Value),
        Done(ApiResult<Vec<Value>>),
    }
    let (sender, receiver) = mpsc::channel();
    let messages = sender.clone();
    let report: Reporter = Arc::new(move |m| {
        // A client gone mid-pull: the pull still finishes, unheard.
        let _ = messages.send(Item::Message(m));
    });
    std::thread::spawn(move || {
        let result = work(&report);
        let _ = sender.send(Item::Done(result));
    });
    let first = receiver
        .recv()
        .map_err(|_| ApiError::new(500, "the transfer's thread ended without an answer"))?;
    if let Item::Done(Err(error)) = first {
        return Err(error);
    }
    Ok(Response::Stream {
        status: 200,
        content_type: "application/json".into(),
        body: Box::new(move |out| {
            let mut next = Some(first);
            while let Some(item) = next.take().or_else(|| receiver.recv().ok()) {
                match item {
                    Item::Message(m) => writeln!(out, "{m}")?,
                    Item::Done(Ok(last)) => {
                        for m in last {
                            writeln!(out, "{m}")?;
                        }
                        break;
                    }
                    Item::Done(Err(error)) => {
                        writeln!(out, "{}", error_message(&error.message))?;
                        break;
                    }
                }
                out.flush()?;
            }
            out.flush()
        }),
    })
}

impl From<ch06_registry::Error> for ApiError {
    fn from(error: ch06_registry::Error) -> Self {
        use ch06_registry::Error as E;
        let status = match &error {
            E::Reference(_)
            | E::NoPlatform { .. }
            | E::Store(ch04_images::Error::Reference { .. }) => 400,
            E::Status { status: 404, .. } => 404,
            E::Unauthorized { .. } => 401,
            _ => 500,
        };
        ApiError::new(status, error.to_string())
    }
}

impl Engine {
    /// A client for `reference`'s registry: credentials from `X-Registry-Auth` if the client
    /// sent some, else from the engine's `login`s (`$ROOT/auth.json`, chapter 06's file).
    fn registry_client(
        &self,
        reference: &Reference,
        registry_auth: Option<&str>,
    ) -> ApiResult<Client> {
        let credentials = match registry_auth.and_then(Credentials::from_registry_auth) {
            Some(credentials) => Some(credentials),
            None => AuthFile::load(&self.root.join("auth.json"))?.get(&reference.registry),
        };
        Ok(Client::new(
            &reference.registry,
            ch06_registry::reference::api_host(reference),
            &ClientOptions {
                insecure: false,
                credentials,
            },
        ))
    }

    /// Push the local image `name:tag` to the registry its name says, telling `report` each
    /// step. Returns the last lines (the digest and size, and Docker's `aux` with them).
    pub fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        registry_auth: Option<&str>,
        report: &Reporter,
    ) -> ApiResult<Vec<Value>> {
        let text = format!(
            "{name}:{}",
            tag.filter(|t| !t.is_empty()).unwrap_or("latest")
        );
        let target = Reference::parse(&text)?;
        let local = ch04_images::image::resolve(&self.store, &text)?;
        let client = self.registry_client(&target, registry_auth)?;
        let options = PushOptions {
            chunk_size: 16 << 20,
            progress: relayed(report),
        };
        report(json!({
            "status": format!("The push refers to repository [{}]", target.familiar_name())
        }));
        let pushed = push::push(&client, &self.store, &local, &target, &options)?;
        self.event("image", "push", &text, json!({ "name": text }));
        let tag = target.tag.as_deref().unwrap_or("latest");
        Ok(vec![
            json!({ "status": format!("{tag}: digest: {} size: {}", pushed.digest, pushed.size) }),
            json!({
                "progressDetail": {},
                "aux": { "Tag": tag, "Digest": pushed.digest.to_string(), "Size": pushed.size },
            }),
        ])
    }

    /// Pull `image[:tag]` (or `@digest`), telling `report` each step. Returns the last lines
    /// `docker pull` shows (the digest, the status), as JSON messages.
    pub fn pull(
        &self,
        image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        registry_auth: Option<&str>,
        report: &Reporter,
    ) -> ApiResult<Vec<Value>> {
        let text = match tag.filter(|t| !t.is_empty()) {
            Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
            Some(tag) => format!("{image}:{tag}"),
            None => image.to_string(),
        };
        let reference = Reference::parse(&text)?;
        let client = self.registry_client(&reference, registry_auth)?;
        let options = PullOptions {
            platform: match platform.filter(|p| !p.is_empty()) {
                Some(p) => p.parse()?,
                None => Default::default(),
            },
            progress: relayed(report),
        };
        let pulled = pull::pull(&client, &self.store, &reference, &options)?;
        self.event("image", "pull", &text, json!({ "name": text }));
        Ok(pull::summary(&reference, &pulled)
            .into_iter()
            .map(|line| json!({ "status": line }))
            .collect())
    }
}
