//! The events journal, `ROOT/events.jsonl`: one Docker event message a line.
//!
//! Shared because two roles write it: the daemon's engine each change it makes, where it makes
//! it, each supervisor its container's `start` and `die` (the daemon may not be running then). Every
//! event is one `write(2)` with `O_APPEND` (open(2)), so lines from several processes never
//! interleave. The daemon's `GET /events` reads and follows it (see the daemon's
//! `engine::events`).

use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

const JOURNAL: &str = "events.jsonl";
pub const MAX_BYTES: u64 = 1 << 20;

pub fn journal(root: &Path) -> PathBuf {
    root.join(JOURNAL)
}

pub fn previous(root: &Path) -> PathBuf {
    root.join(format!("{JOURNAL}.1"))
}

/// One event in Docker's shape (the old `status`/`id`/`from` fields too: clients of API 1.2x
/// read those).
pub fn event(kind: &str, action: &str, id: &str, attributes: Value) -> Value {
    let nanos = crate::time::now_nanos();
    let mut message = json!({
        "Type": kind,
        "Action": action,
        "Actor": { "ID": id, "Attributes": attributes },
        "scope": "local",
        "time": nanos / 1_000_000_000,
        "timeNano": nanos,
    });
    if kind == "container" {
        message["status"] = json!(action);
        message["id"] = json!(id);
        message["from"] = attributes["image"].clone();
    }
    message
}

/// Append an event to the journal (errors are only reported: an event lost must not fail
/// the call that caused it).
pub fn append(root: &Path, message: &Value) {
    let path = journal(root);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_BYTES) {
        let _ = std::fs::rename(&path, previous(root));
    }
    let line = format!("{message}\n");
    let result = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()));
    if let Err(error) = result {
        eprintln!("baleia: record event in {}: {error}", path.display());
    }
}

/// A container's event: its labels (Docker's events carry them, for `--filter label=`), its
/// name and image, then `extra` (which wins). The caller holds the record already: nothing is
/// read from disk for an event.
pub fn container(root: &Path, action: &str, record: &crate::record::Record, extra: Value) {
    let mut attributes = json!(record.config.labels.clone().unwrap_or_default());
    if let Some(map) = attributes.as_object_mut() {
        map.insert("name".into(), json!(record.name));
        map.insert("image".into(), json!(record.config.image));
        if let Some(more) = extra.as_object() {
            map.extend(more.clone());
        }
    }
    append(root, &event("container", action, &record.id, attributes));
}
