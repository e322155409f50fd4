//! What the API keeps about networks and volumes beyond chapter 07's records: the labels and
//! options the user set, and when the object was made. Chapter 07's `network.json` and
//! volume store know neither labels nor creation times of networks, and the course's chapters
//! stay as they are: the engine keeps these beside them, one small JSON file per object.
//!
//! ```text
//! $ROOT/meta/networks/<name>.json
//! $ROOT/meta/volumes/<name>.json
//! ```
//!
//! Labels matter beyond display: compose and the SDKs find their objects by label filters
//! (see [`super::filters`]); options are reported exactly as given, so compose's comparison
//! of what it asked for with what exists finds no difference that the user did not make.

use super::record::{read_json, write_json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Seconds since the epoch (0: made before this file existed).
    pub created: i64,
}

/// `networks` or `volumes`.
fn path(root: &Path, kind: &str, name: &str) -> PathBuf {
    root.join("meta").join(kind).join(format!("{name}.json"))
}

/// The object's record, or an empty one (made by an older baleia, or by chapter 07 alone).
pub fn read(root: &Path, kind: &str, name: &str) -> Meta {
    read_json(&path(root, kind, name)).unwrap_or_default()
}

pub fn write(root: &Path, kind: &str, name: &str, meta: &Meta) -> anyhow::Result<()> {
    let path = path(root, kind, name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("mkdir {}: {e}", dir.display()))?;
    }
    write_json(&path, meta)
}

/// Forget the object's record (it was removed); a missing file is no error.
pub fn remove(root: &Path, kind: &str, name: &str) {
    let _ = std::fs::remove_file(path(root, kind, name));
}

/// A JSON object of strings (`Labels`, `Options`, `DriverOpts`) as a map; anything else in
/// it is refused with the field's name.
pub fn string_map(
    value: &serde_json::Value,
    field: &str,
) -> super::ApiResult<BTreeMap<String, String>> {
    match value {
        serde_json::Value::Null => Ok(BTreeMap::new()),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v.as_str() {
                Some(v) => Ok((k.clone(), v.to_string())),
                None => Err(super::ApiError::bad_request(format!(
                    "{field}.{k}: not a string"
                ))),
            })
            .collect(),
        _ => Err(super::ApiError::bad_request(format!(
            "{field}: not an object of strings"
        ))),
    }
}
