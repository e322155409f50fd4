//! Volumes through the API: chapter 07's volume store, in Docker's JSON shapes
//! (`docker volume create/ls/inspect/rm/prune`).

use super::{ApiError, ApiResult, Engine};
use ch07_volumes_network::volumes::store::{VolumeInfo, VolumeStore};
use serde_json::{json, Value};

impl From<ch07_volumes_network::Error> for ApiError {
    fn from(error: ch07_volumes_network::Error) -> Self {
        use ch07_volumes_network::Error as E;
        let status = match &error {
            E::NotFound { .. } => 404,
            E::InUse(_) => 409,
            E::Invalid(_) => 400,
            _ => 500,
        };
        ApiError::new(status, error.to_string())
    }
}

/// A volume as the API shows it.
fn volume_json(info: &VolumeInfo) -> Value {
    json!({
        "Name": info.name,
        "Driver": info.driver,
        "Mountpoint": info.mountpoint,
        "CreatedAt": info.created_at,
        "Labels": {},
        "Scope": "local",
        "Options": {},
    })
}

impl Engine {
    fn volumes(&self) -> VolumeStore {
        VolumeStore::new(&self.root)
    }

    /// `POST /volumes/create`: `{"Name": ...}`; without a name, a random 64-hex one (as
    /// Docker). Creating an existing volume returns it.
    pub fn volume_create(&self, body: &Value) -> ApiResult<Value> {
        if let Some(driver) = body["Driver"]
            .as_str()
            .filter(|d| !d.is_empty() && *d != "local")
        {
            return Err(ApiError::bad_request(format!(
                "volume driver {driver:?}: only \"local\" volumes exist in baleia"
            )));
        }
        let name = match body["Name"].as_str().filter(|n| !n.is_empty()) {
            Some(name) => name.to_string(),
            None => ch03_overlayfs::dirs::random_id().map_err(ApiError::internal)?,
        };
        let store = self.volumes();
        let _lock = store.lock()?;
        Ok(volume_json(&store.create(&name, false)?))
    }

    /// `GET /volumes`
    pub fn volume_list(&self) -> ApiResult<Value> {
        let volumes: Vec<Value> = self.volumes().list()?.iter().map(volume_json).collect();
        Ok(json!({ "Volumes": volumes, "Warnings": [] }))
    }

    /// `GET /volumes/{name}`
    pub fn volume_inspect(&self, name: &str) -> ApiResult<Value> {
        Ok(volume_json(&self.volumes().get(name)?))
    }

    /// `DELETE /volumes/{name}`: refused (409) while a container uses it.
    pub fn volume_remove(&self, name: &str) -> ApiResult<()> {
        let store = self.volumes();
        let _lock = store.lock()?;
        Ok(store.remove(name)?)
    }

    /// `POST /volumes/prune`: unused anonymous volumes, or all unused ones with the filter
    /// `all=true` (Docker 23+).
    pub fn volume_prune(&self, all: bool) -> ApiResult<Value> {
        let store = self.volumes();
        let _lock = store.lock()?;
        let removed = store.prune(all)?;
        Ok(json!({ "VolumesDeleted": removed, "SpaceReclaimed": 0 }))
    }
}
