//! Volumes through the API: chapter 07's volume store, in Docker's JSON shapes
//! (`docker volume create/ls/inspect/rm/prune`).

use super::filters::Filters;
use super::meta::{self, Meta};
use super::{ApiError, ApiResult, Engine};
use baleia_wire::api;
use ch07_volumes_network::volumes::store::{VolumeInfo, VolumeStore};
use serde_json::json;

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

/// A volume as the API shows it: its labels as the user set them (see [`super::meta`]).
fn volume_json(engine: &Engine, info: &VolumeInfo) -> api::Volume {
    let meta = meta::read(&engine.root, "volumes", &info.name);
    api::Volume {
        name: info.name.clone(),
        driver: info.driver.clone(),
        mountpoint: info.mountpoint.to_string_lossy().into_owned(),
        created_at: Some(info.created_at.clone()),
        labels: meta.labels.into_iter().collect(),
        scope: Some(api::VolumeScopeEnum::LOCAL),
        options: meta.options.into_iter().collect(),
        ..Default::default()
    }
}

impl Engine {
    fn volumes(&self) -> VolumeStore {
        VolumeStore::new(&self.root)
    }

    /// `POST /volumes/create`: `{"Name": ...}`; without a name, a random 64-hex one (as
    /// Docker). Creating an existing volume returns it.
    pub fn volume_create(&self, body: &api::VolumeCreateRequest) -> ApiResult<api::Volume> {
        if body.cluster_volume_spec.is_some() {
            return Err(ApiError::bad_request(
                "ClusterVolumeSpec is not supported by baleia (no swarm)",
            ));
        }
        if let Some(driver) = body
            .driver
            .as_deref()
            .filter(|d| !d.is_empty() && *d != "local")
        {
            return Err(ApiError::bad_request(format!(
                "volume driver {driver:?}: only \"local\" volumes exist in baleia"
            )));
        }
        let name = match body.name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => name.to_string(),
            None => ch03_overlayfs::dirs::random_id().map_err(ApiError::internal)?,
        };
        // The local driver's options mount a device or NFS share: not done here.
        let options: std::collections::BTreeMap<String, String> = body
            .driver_opts
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if let Some(option) = options.keys().next() {
            return Err(ApiError::bad_request(format!(
                "volume DriverOpts {option:?} is not supported by baleia"
            )));
        }
        let labels = body
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let store = self.volumes();
        let _lock = store.lock()?;
        let existed = store.get(&name).is_ok();
        let info = store.create(&name, false)?;
        if !existed {
            let created = crate::time::now_nanos() / 1_000_000_000;
            let meta = Meta {
                labels,
                options,
                created,
            };
            meta::write(&self.root, "volumes", &name, &meta)?;
            self.event("volume", "create", &name, json!({ "driver": "local" }));
        }
        Ok(volume_json(self, &info))
    }

    /// `GET /volumes`, filtered (see [`super::filters`]): `name` (part of the name),
    /// `label`, `driver`, `dangling` (no container uses it).
    pub fn volume_list(&self, filters: &Filters) -> ApiResult<api::VolumeListResponse> {
        let store = self.volumes();
        let dangling = filters.boolean("dangling")?;
        let volumes: Vec<api::Volume> = store
            .list()?
            .iter()
            .filter(|v| {
                filters.labels(&meta::read(&self.root, "volumes", &v.name).labels)
                    && filters.any("name", |n| v.name.contains(n))
                    && filters.any("driver", |d| d == v.driver)
                    && dangling.is_none_or(|d| d == store.users(&v.name).is_empty())
            })
            .map(|v| volume_json(self, v))
            .collect();
        Ok(api::VolumeListResponse {
            volumes: Some(volumes),
            warnings: Some(Vec::new()),
        })
    }

    /// `GET /volumes/{name}`
    pub fn volume_inspect(&self, name: &str) -> ApiResult<api::Volume> {
        Ok(volume_json(self, &self.volumes().get(name)?))
    }

    /// `DELETE /volumes/{name}`: refused (409) while a container uses it.
    pub fn volume_remove(&self, name: &str) -> ApiResult<()> {
        let store = self.volumes();
        let _lock = store.lock()?;
        store.remove(name)?;
        meta::remove(&self.root, "volumes", name);
        self.event("volume", "destroy", name, json!({ "driver": "local" }));
        Ok(())
    }

    /// `POST /volumes/prune`: unused anonymous volumes, or all unused ones with the filter
    /// `all=true` (Docker 23+); only those that pass `label` and `label!`.
    pub fn volume_prune(&self, filters: &Filters) -> ApiResult<api::VolumePruneResponse> {
        let all = filters.boolean("all")? == Some(true);
        let store = self.volumes();
        let _lock = store.lock()?;
        let mut removed = Vec::new();
        for volume in store.list()? {
            let labels = meta::read(&self.root, "volumes", &volume.name).labels;
            if (all || volume.anonymous)
                && store.users(&volume.name).is_empty()
                && filters.labels(&labels)
            {
                store.remove(&volume.name)?;
                meta::remove(&self.root, "volumes", &volume.name);
                self.event(
                    "volume",
                    "destroy",
                    &volume.name,
                    json!({ "driver": "local" }),
                );
                removed.push(volume.name);
            }
        }
        Ok(api::VolumePruneResponse {
            volumes_deleted: Some(removed),
            space_reclaimed: Some(0),
        })
    }
}
