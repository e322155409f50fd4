//! `GET /events` (`docker events`): what happened to containers, images, volumes and networks,
//! as Docker's JSON messages, one a line.
//!
//! **The journal is the bus.** Every event is one line appended (`O_APPEND`, one `write(2)`,
//! so lines from several processes never interleave) to `ROOT/events.jsonl`. The engine writes
//! each event where it makes the change ([`Engine::container_event`], [`Engine::event`]: in
//! `create`, `kill`, `remove`, `tag`...), so a change made without an API call of its own
//! (`--rm`'s removal, a prune's removals) is recorded too; each supervisor writes its
//! container's `start` and `die` (the daemon may not even be running then). A `GET /events` reads the journal from `since` and,
//! without `until` in the past, keeps following it as `logs --follow` does (a poll every
//! 100 ms). So `since` works across a daemon restart, and no event of a shim is missed.
//!
//! **Bounded:** when the journal passes 1 MiB the daemon renames it `events.jsonl.1` (the one
//! before is dropped) and starts a new one: at most ~2 MiB, the latest few thousand events.
//! Readers of `since` read both; a follower that sees the file replaced starts on the new one.

use super::filters::{keys, Filters};
use super::{ApiError, ApiResult, Engine};
use crate::http::{Request, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub use baleia_wire::journal::{append, container, event, journal, previous, MAX_BYTES};

impl Engine {
    /// Record an event of a container (its labels, name and image are its attributes, with
    /// `extra`), as Docker's daemon does.
    pub fn container_event(&self, action: &str, record: &super::record::Record, extra: Value) {
        container(&self.root, action, record, extra);
    }

    /// Record an event of an image, a volume or a network.
    pub fn event(&self, kind: &str, action: &str, id: &str, attributes: Value) {
        append(&self.root, &event(kind, action, id, attributes));
    }

    /// A network's event (`container`: the container connected or disconnected, if any).
    pub fn network_event(&self, action: &str, network: &str, container: &str) {
        let mut attributes = json!({ "name": network, "type": "bridge" });
        if !container.is_empty() {
            attributes["container"] = json!(container);
        }
        let id = super::networks::network_id(network);
        self.event("network", action, &id, attributes);
    }
}

/// What `GET /events` asked for.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Nanoseconds since the epoch.
    pub since: Option<i64>,
    pub until: Option<i64>,
    /// `filters` (see [`super::filters::keys::EVENTS`]).
    pub filters: Filters,
}

/// `1700000000`, `1700000000.5`: Docker's clients send seconds (with a fraction).
pub fn parse_time(text: &str) -> Option<i64> {
    let (secs, fraction) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    let mut nanos = 0i64;
    if !fraction.is_empty() {
        let digits: String = fraction.chars().take(9).collect();
        nanos = format!("{digits:0<9}").parse().ok()?;
    }
    // A time too far off to count in nanoseconds is no time (not an overflow).
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

impl Query {
    pub fn from_filters(
        since: Option<&str>,
        until: Option<&str>,
        filters: &Value,
    ) -> ApiResult<Query> {
        Ok(Query {
            since: since.and_then(parse_time),
            until: until.and_then(parse_time),
            filters: Filters::from_value(filters, keys::EVENTS)?,
        })
    }

    /// Does this event pass the time window and every filter?
    pub fn matches(&self, event: &Value) -> bool {
        let time = event["timeNano"].as_i64().unwrap_or(0);
        if self.since.is_some_and(|s| time < s) || self.until.is_some_and(|u| time > u) {
            return false;
        }
        let kind = event["Type"].as_str().unwrap_or_default();
        let id = event["Actor"]["ID"].as_str().unwrap_or_default();
        let name = event["Actor"]["Attributes"]["name"]
            .as_str()
            .unwrap_or_default();
        let attribute = |key: &str| {
            event["Actor"]["Attributes"][key]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let attributes: std::collections::BTreeMap<String, String> = event["Actor"]["Attributes"]
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let f = &self.filters;
        f.labels(&attributes)
            && f.any("type", |v| v == kind)
            && f.any("event", |v| event["Action"].as_str() == Some(v))
            && f.any("container", |v| {
                kind == "container" && (v == name || (!v.is_empty() && id.starts_with(v)))
            })
            && f.any("image", |v| {
                attribute("image") == v || (kind == "image" && (id == v || name == v))
            })
            && f.any("volume", |v| kind == "volume" && (v == id || v == name))
            && f.any("network", |v| kind == "network" && (v == id || v == name))
    }
}

/// A follower of the journal: where it is in which file.
pub struct Follower {
    root: PathBuf,
    inode: u64,
    offset: u64,
}

impl Follower {
    /// Start at the beginning of what is kept (the previous file, then the current one),
    /// handing every event to `send`.
    pub fn from_start(root: &Path, send: &mut dyn FnMut(Value) -> bool) -> Follower {
        let _ = read_from(&previous(root), 0, send);
        let mut follower = Follower {
            root: root.to_path_buf(),
            inode: 0,
            offset: 0,
        };
        follower.poll(send);
        follower
    }

    /// Hand on what was appended since the last poll. `false` when `send` wants no more.
    pub fn poll(&mut self, send: &mut dyn FnMut(Value) -> bool) -> bool {
        let path = journal(&self.root);
        let Ok(meta) = std::fs::metadata(&path) else {
            return true;
        };
        if meta.ino() != self.inode {
            // A new file (the first look, or the journal was rotated).
            self.inode = meta.ino();
            self.offset = 0;
        }
        match read_from(&path, self.offset, send) {
            Some((offset, more)) => {
                self.offset = offset;
                more
            }
            None => true,
        }
    }
}

/// Read whole lines of `path` from `offset`; the offset after the last whole line.
fn read_from(path: &Path, offset: u64, send: &mut dyn FnMut(Value) -> bool) -> Option<(u64, bool)> {
    let mut file = std::fs::File::open(path).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut reader = BufReader::new(file);
    let mut offset = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).ok()?;
        if n == 0 || !line.ends_with('\n') {
            return Some((offset, true)); // a half-written line is read next time
        }
        offset += n as u64;
        if let Ok(event) = serde_json::from_str::<Value>(&line) {
            if !send(event) {
                return Some((offset, false));
            }
        }
    }
}

impl Follower {
    /// Start at the end: only what happens from now on (`docker events` without `--since`).
    pub fn at_end(root: &Path) -> Follower {
        let meta = std::fs::metadata(journal(root)).ok();
        Follower {
            root: root.to_path_buf(),
            inode: meta.as_ref().map_or(0, |m| m.ino()),
            offset: meta.map_or(0, |m| m.len()),
        }
    }
}

/// `GET /events`: the journal from `since` (or from now), following it until `until` passes
/// or the client goes.
pub fn stream(engine: &std::sync::Arc<Engine>, req: &Request) -> ApiResult<Response> {
    let filters: Value = match req.query("filters").filter(|f| !f.is_empty()) {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("invalid filters: {e}")))?,
        None => json!({}),
    };
    let query = Query::from_filters(req.query("since"), req.query("until"), &filters)?;
    let root = engine.root.clone();
    Ok(Response::Stream {
        status: 200,
        content_type: "application/json".into(),
        body: Box::new(move |out| {
            // `false` once the client is gone: the follower stops there.
            let mut send = |event: Value| {
                !(query.matches(&event)
                    && writeln!(out, "{event}").and_then(|()| out.flush()).is_err())
            };
            let mut follower = if query.since.is_some() {
                Follower::from_start(&root, &mut send)
            } else {
                Follower::at_end(&root)
            };
            loop {
                if !follower.poll(&mut send) {
                    return Ok(());
                }
                if query.until.is_some_and(|u| crate::time::now_nanos() > u) {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_filters() {
        assert_eq!(parse_time("12"), Some(12_000_000_000));
        assert_eq!(parse_time("12.5"), Some(12_500_000_000));
        assert_eq!(parse_time("soon"), None);
        let start = event(
            "container",
            "start",
            "abc123",
            json!({ "name": "web", "image": "busybox" }),
        );
        let filters = json!({ "type": ["container"], "container": ["web"] });
        assert!(Query::from_filters(None, None, &filters)
            .unwrap()
            .matches(&start));
        let filters = json!({ "event": { "die": true } });
        assert!(!Query::from_filters(None, None, &filters)
            .unwrap()
            .matches(&start));
        assert!(
            Query::from_filters(None, None, &json!({ "container": ["abc"] }))
                .unwrap()
                .matches(&start)
        );
        assert!(!Query::from_filters(Some("4000000000"), None, &json!({}))
            .unwrap()
            .matches(&start));
        assert_eq!(parse_time("99999999999999"), None);
        let labelled = event(
            "container",
            "create",
            "abc123",
            json!({ "name": "web", "image": "busybox", "p": "a", "s": "web" }),
        );
        let both = json!({ "label": ["p=a", "s=web"] });
        assert!(Query::from_filters(None, None, &both)
            .unwrap()
            .matches(&labelled));
        let other = json!({ "label": ["p=a", "s=db"] });
        assert!(!Query::from_filters(None, None, &other)
            .unwrap()
            .matches(&labelled));
        assert!(Query::from_filters(None, None, &json!({ "colour": ["red"] })).is_err());
    }

    #[test]
    fn the_journal_is_rotated_and_both_files_are_read() {
        let root = std::env::temp_dir().join(format!("baleia-events-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let padding = "x".repeat(4096);
        let total = (MAX_BYTES / 4096 + 10) as usize;
        for i in 0..total {
            append(
                &root,
                &event(
                    "volume",
                    "create",
                    &format!("{i}"),
                    json!({ "pad": padding }),
                ),
            );
        }
        assert!(previous(&root).exists(), "rotated");
        assert!(std::fs::metadata(journal(&root)).unwrap().len() < MAX_BYTES);
        let mut seen = Vec::new();
        Follower::from_start(&root, &mut |e| {
            seen.push(e["Actor"]["ID"].as_str().unwrap().parse::<usize>().unwrap());
            true
        });
        assert_eq!(seen.last(), Some(&(total - 1)));
        assert!(
            seen.windows(2).all(|w| w[1] == w[0] + 1),
            "in order, none lost"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
