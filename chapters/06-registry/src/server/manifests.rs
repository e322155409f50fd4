//! Manifests, tags and the catalog: `/v2/<name>/manifests/<reference>`,
//! `/v2/<name>/tags/list`, `/v2/_catalog`.

use super::http::{digest_of, internal, Call, Handled, Reply};
use super::Registry;
use crate::manifest::{is_index, MAX_MANIFEST, OCI_MANIFEST};
use crate::reference::valid_tag;
use ch04_images::digest::{parse_sha256, sha256};
use oci_spec::distribution::ErrorCode;
use oci_spec::image::Digest;
use std::io::Read;

impl Registry {
    /// `?n=&last=` over a sorted list, with a `Link` to the next page.
    pub(super) fn page(call: &Call, path: &str, all: Vec<String>) -> (Vec<String>, Option<String>) {
        let after: Vec<String> = match call.query("last") {
            Some(last) => all.into_iter().filter(|t| t.as_str() > last).collect(),
            None => all,
        };
        let n = call.query("n").and_then(|n| n.parse::<usize>().ok());
        match n {
            Some(n) if n < after.len() => {
                let page: Vec<String> = after.into_iter().take(n).collect();
                let link = format!(
                    "<{path}?n={n}&last={}>; rel=\"next\"",
                    page.last().cloned().unwrap_or_default()
                );
                (page, Some(link))
            }
            _ => (after, None),
        }
    }

    pub(super) fn catalog(&self, call: &Call) -> Handled {
        let (page, link) = Self::page(call, "/v2/_catalog", self.repos.catalog());
        let mut reply = Reply::new(200).json(&serde_json::json!({ "repositories": page }));
        if let Some(link) = link {
            reply = reply.header("Link", link);
        }
        Ok(reply)
    }

    pub(super) fn tags(&self, call: &Call, name: &str) -> Handled {
        if !self.repos.exists(name) {
            return Err(Reply::error(
                404,
                ErrorCode::NameUnknown,
                "repository name not known to registry",
            ));
        }
        let path = format!("/v2/{name}/tags/list");
        let (page, link) = Self::page(call, &path, self.repos.tags(name));
        let mut reply = Reply::new(200).json(&serde_json::json!({ "name": name, "tags": page }));
        if let Some(link) = link {
            reply = reply.header("Link", link);
        }
        Ok(reply)
    }

    /// A tag or a digest → the manifest's digest, if this repository has it.
    pub(super) fn resolve(
        &self,
        name: &str,
        reference: &str,
    ) -> std::result::Result<Digest, Reply> {
        let unknown = || {
            Reply::error(
                404,
                ErrorCode::ManifestUnknown,
                format!("manifest unknown: {name}:{reference}"),
            )
        };
        let digest = if reference.starts_with("sha256:") {
            digest_of(reference)?
        } else {
            self.repos.tag(name, reference).ok_or_else(unknown)?
        };
        if self.repos.manifest_type(name, &digest).is_none() || !self.repos.store.has_blob(&digest)
        {
            return Err(unknown());
        }
        Ok(digest)
    }

    pub(super) fn get_manifest(&self, name: &str, reference: &str) -> Handled {
        let digest = self.resolve(name, reference)?;
        let media_type = self.repos.manifest_type(name, &digest).unwrap_or_default();
        let bytes = self.repos.store.read_blob(&digest).map_err(internal)?;
        Ok(Reply::new(200)
            .header("Content-Type", media_type)
            .header("Docker-Content-Digest", digest.to_string())
            .header("ETag", format!("\"{digest}\""))
            .bytes(bytes))
    }

    pub(super) fn put_manifest(
        &self,
        call: &Call,
        name: &str,
        reference: &str,
        body: &mut dyn Read,
    ) -> Handled {
        let mut bytes = Vec::new();
        body.take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Reply::error(400, ErrorCode::ManifestInvalid, e.to_string()))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(Reply::error(
                413,
                ErrorCode::SizeInvalid,
                "manifest too large",
            ));
        }
        let digest = sha256(&bytes);
        let by_digest = reference.starts_with("sha256:");
        if by_digest && digest_of(reference)? != digest {
            return Err(Reply::error(
                400,
                ErrorCode::DigestInvalid,
                format!("the manifest hashes to {digest}, not {reference}"),
            ));
        }
        if !by_digest && !valid_tag(reference) {
            return Err(Reply::error(
                400,
                ErrorCode::ManifestInvalid,
                format!("invalid tag {reference:?}"),
            ));
        }
        let json: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| Reply::error(400, ErrorCode::ManifestInvalid, format!("not JSON: {e}")))?;
        let declared = json.get("mediaType").and_then(|m| m.as_str());
        let header = call
            .header("Content-Type")
            .map(|t| t.split(';').next().unwrap_or("").trim())
            .filter(|t| t.starts_with("application/vnd."));
        let media_type = header.or(declared).unwrap_or(OCI_MANIFEST).to_string();
        if let (Some(declared), Some(header)) = (declared, header) {
            if declared != header {
                return Err(Reply::error(
                    400,
                    ErrorCode::ManifestInvalid,
                    format!("Content-Type {header} but mediaType {declared}"),
                ));
            }
        }
        // Everything the manifest names must be here already.
        let missing = |code, what: &str, d: &str| {
            Reply::error(400, code, format!("{what} {d} is not in {name}"))
        };
        if is_index(&media_type) || json.get("manifests").is_some() {
            for child in json["manifests"].as_array().into_iter().flatten() {
                let d = child["digest"].as_str().unwrap_or("");
                let ok =
                    parse_sha256(d).is_ok_and(|d| self.repos.manifest_type(name, &d).is_some());
                if !ok {
                    return Err(missing(ErrorCode::ManifestBlobUnknown, "manifest", d));
                }
            }
        } else {
            let config = json.get("config").into_iter();
            let layers = json["layers"].as_array().into_iter().flatten();
            for blob in config.chain(layers) {
                let d = blob["digest"].as_str().unwrap_or("");
                let ok = parse_sha256(d).is_ok_and(|d| self.repos.has_blob(name, &d));
                if !ok {
                    return Err(missing(ErrorCode::ManifestBlobUnknown, "blob", d));
                }
            }
        }
        self.repos
            .store
            .put_blob(&mut &bytes[..], Some(&digest))
            .map_err(internal)?;
        self.repos
            .put_manifest(name, &digest, &media_type)
            .map_err(internal)?;
        if !by_digest {
            self.repos
                .set_tag(name, reference, &digest)
                .map_err(internal)?;
        }
        Ok(Reply::new(201)
            .header("Location", format!("/v2/{name}/manifests/{digest}"))
            .header("Docker-Content-Digest", digest.to_string()))
    }

    pub(super) fn delete_manifest(&self, name: &str, reference: &str) -> Handled {
        if reference.starts_with("sha256:") {
            let digest = digest_of(reference)?;
            if self.repos.delete_manifest(name, &digest) {
                return Ok(Reply::new(202));
            }
        } else if self.repos.delete_tag(name, reference) {
            return Ok(Reply::new(202));
        }
        Err(Reply::error(
            404,
            ErrorCode::ManifestUnknown,
            "manifest unknown",
        ))
    }
}
