//! Disk use and clean-up: `GET /system/df`, `POST /containers/prune`, `/images/prune`,
//! `/networks/prune` (`/volumes/prune` is in [`super::volumes`]), and `docker import`
//! (`POST /images/create?fromSrc=-`).
//!
//! Sizes are what the files take as the store keeps them: an image is its layer blobs
//! (compressed, chapter 04's `Size`), a container its write layer (the overlay's `upper/`,
//! chapter 03), a volume its directory. Prunes only take what nothing uses: a running
//! container, an image a container was made from, a network with containers attached, and the
//! networks every engine has (`bridge`, `host`, `none`) are kept.

use super::filters::Filters;
use super::{ApiError, ApiResult, Engine};
use baleia_wire::api;
use ch04_images::{containers, gc, image};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// The bytes under `path` (apparent sizes; a symlink counts as itself).
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

impl Engine {
    /// How many containers were made from each image (by image id).
    fn image_users(&self) -> std::collections::HashMap<String, i64> {
        let mut users = std::collections::HashMap::new();
        for found in self.all() {
            *users.entry(found.record.image_id.clone()).or_insert(0) += 1;
        }
        users
    }

    /// `GET /system/df`.
    pub fn system_df(&self) -> ApiResult<Value> {
        let images = {
            let _lock = self.store.lock()?;
            image::list(&self.store)?
        };
        let users = self.image_users();
        let mut layers: BTreeSet<String> = BTreeSet::new();
        let mut layers_size = 0u64;
        let mut image_list = Vec::new();
        for image in &images {
            for layer in image.layers() {
                if layers.insert(layer.digest().to_string()) {
                    layers_size += layer.size();
                }
            }
            let mut summary = super::images::summary(image);
            summary["Containers"] = json!(users.get(&image.id().to_string()).copied().unwrap_or(0));
            summary["SharedSize"] = json!(0);
            image_list.push(summary);
        }
        let containers: Vec<Value> = self
            .all()
            .iter()
            .map(|found| {
                let mut summary = found.summary(self);
                summary["SizeRw"] = json!(disk_usage(&found.dir.0.join("upper")));
                summary["SizeRootFs"] = json!(0);
                summary
            })
            .collect();
        let store = ch07_volumes_network::volumes::store::VolumeStore::new(&self.root);
        let mut volumes = self
            .volume_list(&Filters::default())?
            .volumes
            .unwrap_or_default();
        for volume in volumes.iter_mut() {
            volume.usage_data = Some(api::VolumeUsageData {
                size: disk_usage(Path::new(&volume.mountpoint)) as i64,
                ref_count: store.users(&volume.name).len() as i64,
            });
        }
        Ok(json!({
            "LayersSize": layers_size,
            "Images": image_list,
            "Containers": containers,
            "Volumes": volumes,
            "BuildCache": self.build_cache()?,
        }))
    }

    /// The build cache (chapter 05's pins, group `build-cache`): one entry a cached step, its
    /// size the layer that step added (0 for a step that only changed the config).
    fn build_cache(&self) -> ApiResult<Vec<Value>> {
        let dir = self
            .root
            .join("pins")
            .join(ch05_dockerfile::build::cache::PIN_GROUP);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let _lock = self.store.lock()?;
        let mut cache = Vec::new();
        let mut seen_layers: BTreeSet<String> = BTreeSet::new();
        for entry in entries.flatten() {
            let key = entry.file_name().to_string_lossy().into_owned();
            let Ok(text) = std::fs::read_to_string(entry.path()) else {
                continue;
            };
            let Ok(digest) = text.trim().parse::<oci_spec::image::Digest>() else {
                continue;
            };
            let Ok(image) = ch04_images::Image::load(&self.store, &digest) else {
                continue;
            };
            let size = match image.layers().last() {
                Some(layer) if seen_layers.insert(layer.digest().to_string()) => layer.size(),
                _ => 0,
            };
            cache.push(json!({
                "ID": key,
                "Type": "regular",
                "Description": image.config.history().clone().unwrap_or_default().last()
                    .and_then(|h| h.created_by().clone()).unwrap_or_default(),
                "InUse": false,
                "Shared": false,
                "Size": size,
                "UsageCount": 1,
            }));
        }
        Ok(cache)
    }

    /// `POST /build/prune` (`docker builder prune -a`): unpin the whole build cache, then
    /// collect what only it kept (chapter 04's collector; layers images use stay).
    pub fn build_prune(&self) -> ApiResult<Value> {
        let keys: Vec<String> = self
            .build_cache()?
            .iter()
            .filter_map(|e| e["ID"].as_str().map(String::from))
            .collect();
        let _lock = self.store.lock()?;
        let sizes: Vec<(oci_spec::image::Digest, u64)> = self
            .store
            .blobs()?
            .into_iter()
            .map(|b| {
                let size = std::fs::metadata(self.store.blob_path(&b)).map_or(0, |m| m.len());
                (b, size)
            })
            .collect();
        ch04_images::pins::unpin_group(&self.store, ch05_dockerfile::build::cache::PIN_GROUP)?;
        let removed = gc::collect(&self.store)?;
        let reclaimed: u64 = sizes
            .iter()
            .filter(|(b, _)| removed.blobs.contains(b))
            .map(|(_, size)| size)
            .sum();
        Ok(json!({ "CachesDeleted": keys, "SpaceReclaimed": reclaimed }))
    }

    /// `POST /containers/prune`: every container that is not running and passes the filters
    /// (`label`, `label!`, `until`).
    pub fn containers_prune(&self, filters: &Filters) -> ApiResult<api::ContainerPruneResponse> {
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        let all = self.all();
        let mut chosen = Vec::new();
        for found in all.iter().filter(|f| !f.running()) {
            if super::views::matches(found, filters, &all)? {
                chosen.push(found);
            }
        }
        for found in chosen {
            let size = disk_usage(&found.dir.0.join("upper"));
            self.remove(found.id(), false)?;
            deleted.push(found.id().to_string());
            reclaimed += size;
        }
        Ok(api::ContainerPruneResponse {
            containers_deleted: Some(deleted),
            space_reclaimed: Some(reclaimed as i64),
        })
    }

    /// `POST /images/prune`: untagged images no container uses; with the filter
    /// `dangling=false` (`docker image prune -a`), every image no container uses; only those
    /// that pass `label`, `label!` and `until`.
    pub fn images_prune(&self, filters: &Filters) -> ApiResult<api::ImagePruneResponse> {
        let all = filters.boolean("dangling")? == Some(false);
        let _lock = self.store.lock()?;
        let in_use: BTreeSet<String> = containers::images_in_use(&self.store)?
            .into_iter()
            .map(|(_, manifest)| manifest.to_string())
            .collect();
        let size_of = |digest: &oci_spec::image::Digest| {
            std::fs::metadata(self.store.blob_path(digest)).map_or(0, |m| m.len())
        };
        let mut deleted = Vec::new();
        let mut reclaimed = 0u64;
        for image in image::list(&self.store)? {
            let unused = !in_use.contains(&image.manifest_digest.to_string());
            if !unused || !(all || image.tags.is_empty()) {
                continue;
            }
            if !filters.labels(&super::images::labels(&image))
                || !filters.until(super::images::created_secs(&image))?
            {
                continue;
            }
            // Sizes first: the blobs are gone afterwards.
            let sizes: Vec<(oci_spec::image::Digest, u64)> = self
                .store
                .blobs()?
                .into_iter()
                .map(|b| {
                    let size = size_of(&b);
                    (b, size)
                })
                .collect();
            let removed = gc::remove_image(&self.store, image.id().as_ref())?;
            reclaimed += sizes
                .iter()
                .filter(|(b, _)| removed.blobs.contains(b))
                .map(|(_, size)| size)
                .sum::<u64>();
            for tag in &removed.untagged {
                deleted.push(api::ImageDeleteResponseItem {
                    untagged: Some(tag.clone()),
                    deleted: None,
                });
            }
            deleted.push(api::ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(image.id().to_string()),
            });
            let name = image.tags.first().cloned().unwrap_or_default();
            let id = image.id().to_string();
            self.event("image", "delete", &id, json!({ "name": name }));
        }
        Ok(api::ImagePruneResponse {
            images_deleted: Some(deleted),
            space_reclaimed: Some(reclaimed as i64),
        })
    }

    /// `POST /networks/prune`: networks without containers (never the built-in ones) that
    /// pass the filters (`label`, `label!`, `until`).
    pub fn networks_prune(&self, filters: &Filters) -> ApiResult<api::NetworkPruneResponse> {
        let mut deleted = Vec::new();
        let list = self.network_list(&Filters::default())?;
        for network in list.as_array().into_iter().flatten() {
            let name = network["Name"].as_str().unwrap_or_default().to_string();
            if ["bridge", "host", "none"].contains(&name.as_str()) {
                continue;
            }
            let meta = super::meta::read(&self.root, "networks", &name);
            if !filters.labels(&meta.labels) || !filters.until(meta.created)? {
                continue;
            }
            match self.network_remove(&name) {
                Ok(()) => deleted.push(name),
                Err(ApiError { status: 409, .. }) => {} // in use: kept
                Err(other) => return Err(other),
            }
        }
        Ok(api::NetworkPruneResponse {
            networks_deleted: Some(deleted),
        })
    }

    /// `POST /images/create?fromSrc=-` (`docker import`): a root file system tar (plain or
    /// gzip'd) becomes a one-layer image, chapter 04's import; `changes` are Dockerfile
    /// instructions for its config (`CMD ["sh"]`).
    pub fn import(
        &self,
        tar: impl std::io::Read,
        repo: Option<&str>,
        tag: Option<&str>,
        changes: &[&str],
        message: Option<&str>,
    ) -> ApiResult<String> {
        use ch04_images::create::{self, Change, Provenance};
        let reference = match (
            repo.filter(|r| !r.is_empty()),
            tag.filter(|t| !t.is_empty()),
        ) {
            (None, _) => None,
            (Some(repo), None) => Some(super::images::familiar(repo).to_string()),
            (Some(repo), Some(tag)) => Some(format!("{}:{tag}", super::images::familiar(repo))),
        };
        let tag = reference
            .as_deref()
            .map(ch04_images::reference::normalize)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let changes = changes
            .iter()
            .map(|c| c.parse::<Change>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ApiError::bad_request(format!("invalid change: {e}")))?;
        let mut plain = ch04_images::unpack::plain_tar(std::io::BufReader::new(tar))
            .map_err(ApiError::internal)?;
        let _lock = self.store.lock()?;
        let layer = ch04_images::pack::from_tar(&self.store, &mut plain)?;
        let provenance = Provenance {
            created_by: "import -".into(),
            comment: message.filter(|m| !m.is_empty()).map(String::from),
            ..Provenance::default()
        };
        let image = create::add_layer(
            &self.store,
            None,
            layer,
            provenance,
            &changes,
            tag.as_deref(),
        )?;
        let id = image.id().to_string();
        self.event("image", "import", &id, json!({ "name": id }));
        Ok(id)
    }
}

impl Engine {
    /// `POST /auth` (`docker login`): check the credentials against the registry (`GET /v2/`
    /// answers 200 only to a client that passed its challenge, chapter 06). As Docker's
    /// daemon, it keeps nothing: the client stores what worked.
    pub fn login(&self, body: &Value) -> ApiResult<Value> {
        use ch06_registry::auth::Credentials;
        use ch06_registry::client::{Body, Client, ClientOptions};
        let server = body["serveraddress"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("docker.io");
        let host = server
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .trim_end_matches("/v2");
        let reference = ch06_registry::reference::Reference::parse(&format!("{host}/x"))
            .map_err(|e| ApiError::bad_request(format!("invalid registry {server:?}: {e}")))?;
        let credentials = Credentials {
            user: body["username"].as_str().unwrap_or_default().to_string(),
            password: body["password"].as_str().unwrap_or_default().to_string(),
        };
        let options = ClientOptions {
            insecure: false,
            credentials: Some(credentials),
        };
        let client = Client::new(
            &reference.registry,
            ch06_registry::reference::api_host(&reference),
            &options,
        );
        client
            .expect("GET", "/v2/", &[], Body::Empty, &[200])
            .map_err(|e| match ApiError::from(e) {
                ApiError { status: 401, message } => ApiError::new(
                    401,
                    format!("login attempt to {server} failed with status: 401 Unauthorized ({message})"),
                ),
                other => other,
            })?;
        Ok(json!({ "Status": "Login Succeeded", "IdentityToken": "" }))
    }
}
