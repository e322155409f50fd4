//! Which API calls are events, and what they record: a hook around [`crate::api::handle`].
//! What a call is about is looked up *before* it runs (after a `DELETE` it is gone), the
//! event written *after* it succeeded. See [`super::events`] for the journal.

use super::events::{append, container, event};
use super::Engine;
use crate::http::{Request, Response};
use serde_json::{json, Value};

/// What a request is about, looked up before it runs (after a `DELETE` it is gone).
pub struct Before {
    container: Option<super::Found>,
    image_id: Option<String>,
}

pub fn before(engine: &Engine, req: &Request) -> Before {
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let container = match parts.as_slice() {
        ["containers", id, ..] if !matches!(*id, "json" | "create" | "prune") => {
            engine.find(id).ok()
        }
        _ => None,
    };
    let image_id = match (req.method.as_str(), parts.as_slice()) {
        ("DELETE", ["images", rest @ ..]) if !rest.is_empty() => engine
            .image(&rest.join("/"))
            .ok()
            .map(|i| i.id().to_string()),
        _ => None,
    };
    Before {
        container,
        image_id,
    }
}

/// Record the event a successful request caused, as Docker's daemon does.
pub fn after(engine: &Engine, req: &Request, before: Before, response: &Response) {
    // The answer's JSON: a full body, or the first message of a stream of them (import's id).
    let reply: Value = match response {
        Response::Full { status, body, .. } if *status < 300 => {
            serde_json::from_slice(body).unwrap_or_default()
        }
        Response::Messages(messages) => messages.first().cloned().unwrap_or_default(),
        _ => return,
    };
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let root = &engine.root;
    let for_container = |action: &str, found: &super::Found| {
        container(
            root,
            action,
            found.id(),
            &found.record.name,
            &found.record.config.image,
            // Docker's container events carry the container's labels (`--filter label=`).
            json!(found.record.config.labels.clone().unwrap_or_default()),
        )
    };
    match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["containers", "create"]) => {
            if let Some(found) = reply["Id"].as_str().and_then(|id| engine.find(id).ok()) {
                for_container("create", &found);
            }
        }
        // `start` is the supervisor's to record (before the `die` it also writes).
        (
            "POST",
            ["containers", _, action @ ("stop" | "kill" | "restart" | "pause" | "unpause")],
        ) => {
            if let Some(found) = &before.container {
                for_container(action, found);
            }
        }
        ("DELETE", ["containers", _]) => {
            if let Some(found) = &before.container {
                for_container("destroy", found);
            }
        }
        ("POST", ["images", "create"]) => {
            if let Some(image) = req.query("fromImage") {
                let name = match req.query("tag").filter(|t| !t.is_empty()) {
                    Some(tag) => format!("{image}:{tag}"),
                    None => image.to_string(),
                };
                append(
                    root,
                    &event("image", "pull", &name, json!({ "name": name })),
                );
            } else if let Some(id) = reply["status"].as_str() {
                append(root, &event("image", "import", id, json!({ "name": id })));
            }
        }
        ("POST", ["images", rest @ ..]) if rest.last() == Some(&"tag") => {
            let name = rest[..rest.len() - 1].join("/");
            let new = match req.query("tag").filter(|t| !t.is_empty()) {
                Some(tag) => format!("{}:{tag}", req.query("repo").unwrap_or_default()),
                None => req.query("repo").unwrap_or_default().to_string(),
            };
            if let Ok(image) = engine.image(&new) {
                let id = image.id().to_string();
                append(
                    root,
                    &event("image", "tag", &id, json!({ "name": new, "from": name })),
                );
            }
        }
        ("DELETE", ["images", rest @ ..]) => {
            let id = before.image_id.unwrap_or_else(|| rest.join("/"));
            let name = rest.join("/");
            let deleted = reply
                .as_array()
                .is_some_and(|l| l.iter().any(|e| e.get("Deleted").is_some()));
            let action = if deleted { "delete" } else { "untag" };
            append(root, &event("image", action, &id, json!({ "name": name })));
        }
        ("POST", ["volumes", "create"]) => {
            let name = reply["Name"].as_str().unwrap_or_default();
            append(
                root,
                &event("volume", "create", name, json!({ "driver": "local" })),
            );
        }
        ("DELETE", ["volumes", name]) => {
            append(
                root,
                &event("volume", "destroy", name, json!({ "driver": "local" })),
            );
        }
        ("POST", ["networks", "create"]) => {
            let request: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let id = reply["Id"].as_str().unwrap_or_default();
            let name = request["Name"].as_str().unwrap_or_default();
            append(
                root,
                &event(
                    "network",
                    "create",
                    id,
                    json!({ "name": name, "type": "bridge" }),
                ),
            );
        }
        ("DELETE", ["networks", id]) => {
            append(
                root,
                &event(
                    "network",
                    "destroy",
                    id,
                    json!({ "name": id, "type": "bridge" }),
                ),
            );
        }
        _ => {}
    }
}
