//! `POST /containers/{id}/rename?name=NEW` (`docker rename`; compose renames a container
//! it recreates to a temporary name first, then creates the new one under the old name).

use super::record::write_json;
use super::{ApiError, ApiResult, Engine};

impl Engine {
    /// Give a container a new name: its record (`container.json`) and chapter 03's `name`
    /// file. Names stay unique: checked under the same lock as `create`. A running
    /// container's network peers know it by its old name until its next start (chapter 07
    /// writes the hosts files when it joins).
    pub fn rename(&self, wanted: &str, new_name: &str) -> ApiResult<()> {
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        if !super::containers::valid_name(new_name) {
            return Err(ApiError::bad_request(format!(
                "Invalid container name ({}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                new_name.escape_debug()
            )));
        }
        let _names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        let found = self.find(wanted)?;
        if found.record.name == new_name {
            return Err(ApiError::conflict(format!(
                "Renaming a container with the same name as its current name: {new_name}"
            )));
        }
        if let Some(other) = self.index().named(new_name) {
            return Err(ApiError::conflict(format!(
                "Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". You have to remove (or rename) that container to be able to reuse that name."
            )));
        }
        let old_name = found.record.name.clone();
        let mut record = found.record.clone();
        record.name = new_name.to_string();
        write_json(&found.dir.record(), &record)?;
        let name_file = found.dir.0.join("name");
        std::fs::write(&name_file, format!("{new_name}\n"))
            .map_err(|e| ApiError::internal(format!("write {}: {e}", name_file.display())))?;
        self.index_rename(&old_name, &record);
        let old_name = serde_json::json!({ "oldName": format!("/{old_name}") });
        self.container_event("rename", &record, old_name);
        Ok(())
    }
}
