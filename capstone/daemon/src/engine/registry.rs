//! `docker pull` and `docker push` through the API (`POST /images/create?fromImage=…&tag=…`,
//! `POST /images/{name}/push?tag=…`): chapter 06's client on the engine's store, its report
//! sent back as Docker's JSON progress messages.

use super::{ApiError, ApiResult, Engine};
use ch06_registry::auth::{AuthFile, Credentials};
use ch06_registry::client::{Client, ClientOptions};
use ch06_registry::progress::Progress;
use ch06_registry::pull::{self, PullOptions};
use ch06_registry::push::{self, PushOptions};
use ch06_registry::reference::Reference;
use serde_json::{json, Value};

impl From<ch06_registry::Error> for ApiError {
    fn from(error: ch06_registry::Error) -> Self {
        use ch06_registry::Error as E;
        let status = match &error {
            E::Reference(_) | E::NoPlatform { .. } => 400,
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
            reference.api_host(),
            &ClientOptions {
                insecure: false,
                credentials,
            },
        ))
    }

    /// Push the local image `name:tag` to the registry its name says.
    pub fn push(
        &self,
        name: &str,
        tag: Option<&str>,
        registry_auth: Option<&str>,
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
            progress: Progress::off(),
        };
        let pushed = push::push(&client, &self.store, &local, &target, &options)?;
        self.event("image", "push", &text, json!({ "name": text }));
        Ok(push::report(&target, &pushed)
            .lines()
            .map(|line| json!({ "status": line }))
            .collect())
    }

    /// Pull `image[:tag]` (or `@digest`). Returns the lines `docker pull` shows, as JSON
    /// messages.
    pub fn pull(
        &self,
        image: &str,
        tag: Option<&str>,
        platform: Option<&str>,
        registry_auth: Option<&str>,
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
            progress: Progress::off(),
        };
        let pulled = pull::pull(&client, &self.store, &reference, &options)?;
        self.event("image", "pull", &text, json!({ "name": text }));
        Ok(pull::report(&reference, &pulled)
            .lines()
            .map(|line| json!({ "status": line }))
            .collect())
    }
}
