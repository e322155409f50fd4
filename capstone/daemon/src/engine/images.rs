//! Images through the API, from chapter 04's store: list, inspect, history, tag, remove.
//! Sizes are the layers as stored (compressed), as chapter 04 reports them.

use super::filters::Filters;
use super::{ApiError, ApiResult, Engine};
use baleia_wire::api;
use ch04_images::{gc, image, reference, Image};
use serde_json::{json, Value};

/// Seconds since the epoch of an RFC 3339 time (`2026-11-28T17:00:00Z`), 0 if unparsable.
fn unix_seconds(text: Option<&str>) -> i64 {
    let Some(text) = text else { return 0 };
    let num = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<i64>().ok());
    let (Some(y), Some(m), Some(d), Some(h), Some(mi), Some(s)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return 0;
    };
    // Days from civil (Howard Hinnant's algorithm), the inverse of chapter 04's.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + h * 3600 + mi * 60 + s
}

fn config_labels(image: &Image) -> Value {
    json!(image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .unwrap_or_default())
}

/// One entry of `GET /images/json`.
pub fn summary(image: &Image) -> Value {
    json!({
        "Id": image.id().to_string(),
        "ParentId": "",
        "RepoTags": image.tags,
        "RepoDigests": [],
        "Created": unix_seconds(image.config.created().as_deref()),
        "Size": image.size(),
        "VirtualSize": image.size(),
        "SharedSize": -1,
        "Labels": config_labels(image),
        "Containers": -1,
    })
}

/// `GET /images/{name}/json`.
pub fn inspect(image: &Image) -> Value {
    let run = image.config.config().clone().unwrap_or_default();
    let config = json!({
        "Hostname": "", "Domainname": "", "User": run.user().clone().unwrap_or_default(),
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": run.env().clone(),
        "Cmd": run.cmd().clone(),
        "Entrypoint": run.entrypoint().clone(),
        "Image": "",
        "Volumes": run.volumes().clone().map(|v| v.into_iter().map(|k| (k, json!({}))).collect::<serde_json::Map<_, _>>()),
        "WorkingDir": run.working_dir().clone().unwrap_or_default(),
        "Labels": config_labels(image),
        "StopSignal": run.stop_signal().clone(),
        "ExposedPorts": run.exposed_ports().clone().map(|v| v.into_iter().map(|k| (k, json!({}))).collect::<serde_json::Map<_, _>>()),
    });
    json!({
        "Id": image.id().to_string(),
        "RepoTags": image.tags,
        "RepoDigests": [],
        "Parent": "",
        "Comment": "",
        "Created": image.config.created().clone().unwrap_or_default(),
        "DockerVersion": "",
        "Author": image.config.author().clone().unwrap_or_default(),
        // As Docker before 25 (API 1.43 and older) still shows it: compose 1.29 reads
        // `ContainerConfig.Volumes` when it recreates a container, and fails without it.
        "ContainerConfig": config.clone(),
        "Config": config,
        "Architecture": image.config.architecture().to_string(),
        "Os": image.config.os().to_string(),
        "Size": image.size(),
        "VirtualSize": image.size(),
        "GraphDriver": { "Name": "overlay", "Data": null },
        "RootFS": { "Type": "layers", "Layers": image.config.rootfs().diff_ids() },
        "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
        "Descriptor": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.manifest_digest.to_string(),
        },
    })
}

/// `GET /images/{name}/history`: newest first, as Docker lists it.
pub fn history(image: &Image) -> Value {
    let entries = image.config.history().clone().unwrap_or_default();
    let mut layer = image.layers().len();
    let mut out = Vec::new();
    for (i, entry) in entries.iter().rev().enumerate() {
        let size = if entry.empty_layer().unwrap_or(false) || layer == 0 {
            0
        } else {
            layer -= 1;
            image.layers()[layer].size()
        };
        out.push(json!({
            "Id": if i == 0 { image.id().to_string() } else { "<missing>".to_string() },
            "Created": unix_seconds(entry.created().as_deref()),
            "CreatedBy": entry.created_by().clone().unwrap_or_default(),
            "Tags": if i == 0 { json!(image.tags) } else { Value::Null },
            "Size": size,
            "Comment": entry.comment().clone().unwrap_or_default(),
        }));
    }
    json!(out)
}

/// Docker's clients may send the full name of a Docker Hub image (`docker.io/library/busybox`);
/// the store keeps the familiar one (`busybox`), as `docker images` shows it.
pub fn familiar(reference: &str) -> &str {
    reference
        .strip_prefix("docker.io/library/")
        .or_else(|| reference.strip_prefix("docker.io/"))
        .unwrap_or(reference)
}

impl Engine {
    /// `GET /images/json`, filtered (see [`super::filters`]): `reference` (as `docker images
    /// busybox`), `dangling`, `label`, `before`, `since` (an image), `until`.
    pub fn images(&self, filters: &Filters) -> ApiResult<Value> {
        let images = image::list(&self.store)?;
        let created_of = |wanted: &str| -> ApiResult<i64> {
            let _lock = self.store.lock()?;
            Ok(created_secs(&self.resolve_image(wanted)?))
        };
        let mut bounds = (i64::MIN, i64::MAX);
        for before in filters.values("before") {
            bounds.1 = bounds.1.min(created_of(before)?);
        }
        for since in filters.values("since") {
            bounds.0 = bounds.0.max(created_of(since)?);
        }
        let dangling = filters.boolean("dangling")?;
        let mut list = Vec::new();
        for i in &images {
            let created = created_secs(i);
            let reference = filters.any("reference", |w| {
                i.tags.iter().any(|t| {
                    reference::normalize(w).is_ok_and(|n| n == *t)
                        || reference::split(t).0 == w
                        || reference::split(familiar(t)).0 == w
                })
            });
            if reference
                && dangling.is_none_or(|d| d == i.tags.is_empty())
                && filters.labels(&labels(i))
                && filters.until(created)?
                && (!filters.has("before") || created < bounds.1)
                && (!filters.has("since") || created > bounds.0)
            {
                list.push(summary(i));
            }
        }
        Ok(json!(list))
    }

    pub fn image(&self, name: &str) -> ApiResult<Image> {
        let _lock = self.store.lock()?;
        self.resolve_image(name)
    }

    /// `POST /images/{name}/tag?repo=R&tag=T`.
    pub fn tag(&self, name: &str, repo: &str, tag: &str) -> ApiResult<()> {
        let _lock = self.store.lock()?;
        let image = self.resolve_image(name)?;
        let repo = familiar(repo);
        let full = if tag.is_empty() {
            repo.to_string()
        } else {
            format!("{repo}:{tag}")
        };
        let normal =
            reference::normalize(&full).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let descriptor = image.descriptor(&self.store)?;
        self.store.set_tag(&normal, &descriptor)?;
        let id = image.id().to_string();
        self.event("image", "tag", &id, json!({ "name": full, "from": name }));
        Ok(())
    }

    /// `POST /commit`: the container's write layer (chapter 03's upper dir) as a new layer
    /// on its image (chapter 04's commit). The container keeps running (Docker would pause
    /// it; baleia has no freezer yet).
    pub fn commit(
        &self,
        container: &str,
        repo: &str,
        tag: &str,
        author: Option<&str>,
        comment: Option<&str>,
    ) -> ApiResult<String> {
        let found = self.find(container)?;
        if repo.is_empty() {
            return Err(ApiError::bad_request(
                "commit needs a repository name: untagged commits are not supported yet",
            ));
        }
        let full = match tag {
            "" => familiar(repo).to_string(),
            t => format!("{}:{t}", familiar(repo)),
        };
        let normal =
            reference::normalize(&full).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let _lock = self.store.lock()?;
        let options = ch04_images::commit::CommitOptions {
            author: author.filter(|a| !a.is_empty()).map(String::from),
            message: comment.filter(|c| !c.is_empty()).map(String::from),
        };
        let image =
            ch04_images::commit::commit_container(&self.store, found.id(), &normal, &options)?;
        let id = image.id().to_string();
        let attributes =
            json!({ "imageID": id, "imageRef": full, "comment": comment.unwrap_or_default() });
        self.container_event("commit", &found.record, attributes);
        Ok(id)
    }

    /// `docker save`, before the answer's headers: the images the names name (a name that
    /// names none is a `404` while one can still be answered).
    pub fn save_images(&self, names: &[&str]) -> ApiResult<Vec<Image>> {
        let _lock = self.store.lock()?;
        names.iter().map(|n| self.resolve_image(n)).collect()
    }

    /// `docker save`: `images` as one Docker-format archive, written to `out` as it is made
    /// (chapter 04 reads each blob from the store as it goes).
    pub fn save(&self, images: &[Image], out: &mut dyn std::io::Write) -> ApiResult<()> {
        let _lock = self.store.lock()?;
        ch04_images::archive::save(
            &self.store,
            images,
            ch04_images::archive::Format::Docker,
            out,
        )?;
        Ok(())
    }

    /// `docker load`: an archive (Docker or OCI format) into the store, read as it arrives.
    pub fn load(&self, archive: impl std::io::Read) -> ApiResult<Vec<String>> {
        let _lock = self.store.lock()?;
        let names = ch04_images::archive::load(&self.store, archive)?;
        for name in &names {
            self.event("image", "load", name, json!({ "name": name }));
        }
        Ok(names)
    }

    /// `DELETE /images/{name}`: Docker's list of `Untagged` and `Deleted` entries.
    pub fn remove_image(&self, name: &str) -> ApiResult<Vec<api::ImageDeleteResponseItem>> {
        let _lock = self.store.lock()?;
        let image = self.resolve_image(name)?;
        let removed = gc::remove_image(&self.store, familiar(name)).map_err(|e| match e {
            ch04_images::Error::InUse { container, .. } => ApiError::conflict(format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {container} is using its referenced image {}",
                &image.id().digest()[..12]
            )),
            other => other.into(),
        })?;
        let untagged = |tag: &String| api::ImageDeleteResponseItem {
            untagged: Some(tag.clone()),
            deleted: None,
        };
        let deleted = |id: String| api::ImageDeleteResponseItem {
            untagged: None,
            deleted: Some(id),
        };
        let mut out: Vec<_> = removed.untagged.iter().map(untagged).collect();
        let id = image.id().to_string();
        for tag in &removed.untagged {
            self.event("image", "untag", &id, json!({ "name": familiar(tag) }));
        }
        if removed.blobs.iter().any(|b| b == image.id()) {
            out.push(deleted(id.clone()));
            self.event("image", "delete", &id, json!({ "name": name }));
        }
        for blob in removed.blobs.iter().filter(|b| *b != image.id()) {
            out.push(deleted(blob.to_string()));
        }
        Ok(out)
    }
}

/// An image's labels (its config's `Labels`).
pub fn labels(image: &Image) -> std::collections::BTreeMap<String, String> {
    image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .map(|l| l.into_iter().collect())
        .unwrap_or_default()
}

/// When an image was made (its config's `created`), in seconds since the epoch (0: unknown).
pub fn created_secs(image: &Image) -> i64 {
    image
        .config
        .created()
        .as_deref()
        .and_then(super::filters::rfc3339_secs)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_to_unix() {
        assert_eq!(
            super::unix_seconds(Some("2025-11-28T00:00:00Z")),
            1_764_288_000
        );
        assert_eq!(super::unix_seconds(None), 0);
    }
}
