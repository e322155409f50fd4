//! Which containers exist, by id and by name, in memory: `GET /containers/{name}/...` finds
//! its container without reading every container's directory. Built from disk once when the
//! daemon starts (every directory with a `container.json`; the daemon is the only one that
//! makes or removes them), then kept by the calls that change it: create, rename, remove.
//! The records themselves stay on disk (each is read when its container is asked for), so
//! the index holds nothing a supervisor could change behind its back.

use super::record::{Dir, Record};
use super::{ApiError, ApiResult, Engine};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

#[derive(Debug, Default)]
pub struct Index {
    /// id → name.
    names: BTreeMap<String, String>,
    /// name → id.
    ids: HashMap<String, String>,
}

impl Index {
    /// Every complete container under `containers` (those without a record are creates a
    /// crash interrupted; the daemon removes them at start).
    pub fn load(containers: &Path) -> Index {
        let mut index = Index::default();
        for entry in std::fs::read_dir(containers)
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(record) = Dir(entry.path()).read_record() {
                index.insert(&record.id, &record.name);
            }
        }
        index
    }

    fn insert(&mut self, id: &str, name: &str) {
        self.names.insert(id.to_string(), name.to_string());
        self.ids.insert(name.to_string(), id.to_string());
    }

    fn remove(&mut self, id: &str) {
        if let Some(name) = self.names.remove(id) {
            self.ids.remove(&name);
        }
    }

    /// Docker's lookup: a full id, then a name (with or without its `/`), then a unique id
    /// prefix.
    pub fn resolve(&self, wanted: &str) -> ApiResult<String> {
        if self.names.contains_key(wanted) {
            return Ok(wanted.to_string());
        }
        if let Some(id) = self.ids.get(wanted.trim_start_matches('/')) {
            return Ok(id.clone());
        }
        let mut prefixed = self
            .names
            .range(wanted.to_string()..)
            .map(|(id, _)| id)
            .take_while(|id| !wanted.is_empty() && id.starts_with(wanted));
        match (prefixed.next(), prefixed.next()) {
            (Some(one), None) => Ok(one.clone()),
            (None, _) => Err(ApiError::not_found(format!("No such container: {wanted}"))),
            _ => Err(ApiError::bad_request(format!(
                "multiple IDs found with provided prefix: {wanted}"
            ))),
        }
    }

    /// The id of the container called `name`, if any.
    pub fn named(&self, name: &str) -> Option<&str> {
        self.ids.get(name).map(String::as_str)
    }

    /// Every id, in no particular order.
    pub fn ids(&self) -> Vec<String> {
        self.names.keys().cloned().collect()
    }
}

impl Engine {
    pub(super) fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn index_insert(&self, record: &Record) {
        self.index().insert(&record.id, &record.name);
    }

    pub(super) fn index_remove(&self, record: &Record) {
        self.index().remove(&record.id);
    }

    pub(super) fn index_rename(&self, old_name: &str, record: &Record) {
        let mut index = self.index();
        index.ids.remove(old_name);
        index.insert(&record.id, &record.name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_then_names_then_unique_prefixes() {
        let mut index = Index::default();
        index.insert("abc123", "web");
        index.insert("abd456", "db");
        assert_eq!(index.resolve("abc123").unwrap(), "abc123");
        assert_eq!(index.resolve("/web").unwrap(), "abc123");
        assert_eq!(index.resolve("abd").unwrap(), "abd456");
        assert_eq!(index.resolve("ab").unwrap_err().status, 400);
        assert_eq!(index.resolve("zz").unwrap_err().status, 404);
        assert_eq!(index.resolve("").unwrap_err().status, 404);
        index.remove("abc123");
        assert_eq!(index.resolve("web").unwrap_err().status, 404);
        assert_eq!(index.resolve("ab").unwrap(), "abd456");
    }
}
