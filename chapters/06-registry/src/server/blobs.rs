//! Blobs and uploads: `/v2/<name>/blobs/<digest>` and `/v2/<name>/blobs/uploads/...`.
//!
//! An upload is a file in `$ROOT/registry/uploads/<id>`: POST creates it, PATCH appends to it,
//! PUT `?digest=` appends the last bytes and hands the file to the store, which hashes it and
//! renames it into `blobs/sha256/` only if it matches. The upload file goes whatever happens.

use super::http::{digest_of, internal, parse_range, valid_name, Call, Handled, Reply};
use super::repos::Repos;
use super::{access, Registry};
use crate::error::Error;
use crate::explain;
use ch01_namespaces::common::Failure;
use oci_spec::distribution::ErrorCode;
use oci_spec::image::Digest;
use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, SystemTime};

/// Uploads untouched for this long are abandoned: deleted.
const UPLOAD_EXPIRY: Duration = Duration::from_secs(3600);

/// Delete uploads not written to for `age`.
pub(super) fn sweep_uploads(repos: &Repos, age: Duration) {
    let now = SystemTime::now();
    for entry in std::fs::read_dir(repos.uploads_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() >= age);
        if old {
            explain!("removing abandoned upload {}", entry.path().display());
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Registry {
    pub(super) fn get_blob(&self, call: &Call, name: &str, digest: &str) -> Handled {
        let digest = digest_of(digest)?;
        if !self.repos.has_blob(name, &digest) {
            return Err(Reply::error(
                404,
                ErrorCode::BlobUnknown,
                "blob unknown to registry",
            ));
        }
        let mut file = self.repos.store.open_blob(&digest).map_err(internal)?;
        let size = file.metadata().map_err(internal)?.len();
        let common = |r: Reply| {
            r.header("Content-Type", "application/octet-stream")
                .header("Docker-Content-Digest", digest.to_string())
                .header("Accept-Ranges", "bytes")
        };
        if let Some(range) = call.header("Range") {
            let Some((start, end)) = parse_range(range, size) else {
                return Err(Reply::new(416).header("Content-Range", format!("bytes */{size}")));
            };
            file.seek(SeekFrom::Start(start)).map_err(internal)?;
            let length = end - start + 1;
            let mut reply = common(Reply::new(206))
                .header("Content-Range", format!("bytes {start}-{end}/{size}"));
            reply.body = Box::new(file.take(length));
            reply.length = length as usize;
            return Ok(reply);
        }
        let mut reply = common(Reply::new(200));
        reply.body = Box::new(file);
        reply.length = size as usize;
        Ok(reply)
    }

    pub(super) fn upload_path(&self, id: &str) -> std::path::PathBuf {
        self.repos.uploads_dir().join(id)
    }

    pub(super) fn upload_size(&self, id: &str) -> std::result::Result<u64, Reply> {
        let unknown = || {
            Reply::error(
                404,
                ErrorCode::BlobUploadUnknown,
                "blob upload unknown to registry",
            )
        };
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        std::fs::metadata(self.upload_path(id))
            .map(|m| m.len())
            .map_err(|_| unknown())
    }

    pub(super) fn start_upload(&self, call: &Call, name: &str, body: &mut dyn Read) -> Handled {
        sweep_uploads(&self.repos, UPLOAD_EXPIRY);
        if let (Some(mount), Some(from)) = (call.query("mount"), call.query("from")) {
            let digest = digest_of(mount)?;
            if valid_name(from) && self.repos.has_blob(from, &digest) {
                explain!("mount {digest} from {from} into {name}: one more link, no copy");
                self.repos.link_blob(name, &digest).map_err(internal)?;
                return Ok(blob_created(name, &digest));
            }
            // Not there (or not visible): fall through to a normal upload session, as the
            // spec says.
        }
        let id = access::random_hex();
        let path = self.upload_path(&id);
        std::fs::File::create(&path).map_err(|e| internal(Error::file("create", &path)(e)))?;
        if let Some(digest) = call.query("digest") {
            // Monolithic: the whole blob in this one POST.
            let digest = digest_of(digest)?;
            self.append(&id, body)?;
            return self.complete(name, &id, &digest);
        }
        Ok(upload_reply(202, name, &id, 0))
    }

    /// Append the request body to the upload file.
    pub(super) fn append(&self, id: &str, body: &mut dyn Read) -> std::result::Result<u64, Reply> {
        let path = self.upload_path(id);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|_| Reply::error(404, ErrorCode::BlobUploadUnknown, "blob upload unknown"))?;
        std::io::copy(body, &mut file).map_err(|e| {
            // A body that broke off: the session stays, at the size it had before is not
            // known any more, so it is abandoned.
            let _ = std::fs::remove_file(&path);
            Reply::error(
                400,
                ErrorCode::BlobUploadInvalid,
                format!("reading the upload: {e}"),
            )
        })?;
        file.metadata()
            .map(|m| m.len())
            .map_err(|e| internal(Error::file("stat", &path)(e)))
    }

    pub(super) fn patch_upload(
        &self,
        call: &Call,
        name: &str,
        id: &str,
        body: &mut dyn Read,
    ) -> Handled {
        let size = self.upload_size(id)?;
        if let Some(range) = call.header("Content-Range") {
            let start = range
                .trim_start_matches("bytes ")
                .split('-')
                .next()
                .and_then(|s| s.parse::<u64>().ok());
            if start != Some(size) {
                return Err(Reply::error(
                    416,
                    ErrorCode::BlobUploadInvalid,
                    format!(
                        "the upload has {size} bytes; Content-Range {range} does not follow them"
                    ),
                )
                .header("Range", format!("0-{}", size.saturating_sub(1))));
            }
        }
        let size = self.append(id, body)?;
        Ok(upload_reply(202, name, id, size))
    }

    pub(super) fn finish_upload(
        &self,
        call: &Call,
        name: &str,
        id: &str,
        body: &mut dyn Read,
    ) -> Handled {
        self.upload_size(id)?;
        let digest = call
            .query("digest")
            .ok_or_else(|| Reply::error(400, ErrorCode::DigestInvalid, "PUT needs ?digest="))?;
        let digest = digest_of(digest)?;
        self.append(id, body)?;
        self.complete(name, id, &digest)
    }

    /// Verify the upload against its digest, move it into the store, link it. The upload file
    /// goes, whatever happens.
    pub(super) fn complete(&self, name: &str, id: &str, digest: &Digest) -> Handled {
        let path = self.upload_path(id);
        let result = std::fs::File::open(&path)
            .map_err(|e| Error::file("open", &path)(e))
            .and_then(|mut file| Ok(self.repos.store.put_blob(&mut file, Some(digest))?));
        let _ = std::fs::remove_file(&path);
        match result {
            Ok(_) => {
                self.repos.link_blob(name, digest).map_err(internal)?;
                Ok(blob_created(name, digest))
            }
            Err(Error::Store(ch04_images::Error::DigestMismatch { actual, .. })) => {
                Err(Reply::error(
                    400,
                    ErrorCode::DigestInvalid,
                    format!("the upload hashes to {actual}, not {digest}"),
                ))
            }
            Err(other) => Err(internal(other)),
        }
    }
}

pub(super) fn blob_created(name: &str, digest: &Digest) -> Reply {
    Reply::new(201)
        .header("Location", format!("/v2/{name}/blobs/{digest}"))
        .header("Docker-Content-Digest", digest.to_string())
}

pub(super) fn upload_reply(status: u16, name: &str, id: &str, size: u64) -> Reply {
    // `Range: 0-<last byte>`; an empty upload says 0-0, as the CNCF registry does.
    Reply::new(status)
        .header("Location", format!("/v2/{name}/blobs/uploads/{id}"))
        .header("Range", format!("0-{}", size.saturating_sub(1)))
        .header("Docker-Upload-UUID", id)
}
