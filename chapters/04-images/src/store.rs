//! The content store: an OCI image layout (read the OCI image spec's `image-layout.md`).
//!
//! ```text
//! $ROOT/oci/oci-layout            {"imageLayoutVersion": "1.0.0"}
//! $ROOT/oci/index.json            the entry points: one descriptor per tagged manifest, the tag
//!                                 in the annotation org.opencontainers.image.ref.name
//! $ROOT/oci/blobs/sha256/<hex>    every manifest, config and layer, named by its own digest
//! ```
//!
//! Because a blob's name *is* the hash of its content, the store cannot hold two copies of the
//! same layer (dedup for free), and anything read back can be checked against its name
//! (integrity for free). The one rule that keeps this true: a blob only ever appears under its
//! name complete and verified. [`BlobWriter`] streams into a temporary file in `$ROOT/tmp/`,
//! hashing as it goes; [`BlobWriter::commit`] compares the digest, `fsync`s, and `rename(2)`s
//! the file into place (rename is atomic: the name points at the old state or the new, never at
//! half a file). A blob that does not match its announced digest is deleted, not stored.

use crate::digest::{parse_sha256, HashingWriter};
use crate::error::{Error, Result};
use crate::explain;
use ch01_namespaces::common::Failure;
use oci_spec::image::{Descriptor, Digest, ImageIndex, MediaType, OciLayout};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The annotation that carries a tag in `index.json` (OCI image spec, `annotations.md`).
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The state root and the paths inside it that this chapter uses.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Open the store under a state root, creating an empty OCI layout the first time.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        for dir in [store.blobs_dir(), store.tmp_dir(), store.layers_dir()] {
            std::fs::create_dir_all(&dir).map_err(Error::file("create directory", &dir))?;
        }
        let layout = store.layout_dir().join("oci-layout");
        if !layout.exists() {
            let text = serde_json::to_vec(&oci_layout()).expect("serialize oci-layout");
            write_atomically(&layout, &text, &store.tmp_dir())?;
        }
        if !store.index_path().exists() {
            store.write_index(&ImageIndex::default())?;
        }
        Ok(store)
    }

    /// The state root (`--root`, `BALEIA_ROOT`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `$ROOT/oci`: the OCI image layout.
    pub fn layout_dir(&self) -> PathBuf {
        self.root.join("oci")
    }

    fn blobs_dir(&self) -> PathBuf {
        self.layout_dir().join("blobs/sha256")
    }

    /// `$ROOT/tmp`: partial blobs and partial unpacks, on the same file system as their final
    /// places so that `rename(2)` can move them there.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `$ROOT/layers`: unpacked layers, one directory per chain id (see `snapshot`).
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// `$ROOT/containers`: chapter 03's containers (see `containers`).
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    fn index_path(&self) -> PathBuf {
        self.layout_dir().join("index.json")
    }

    /// Where the blob with this digest lives (whether or not it is there).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.digest())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The digests of every blob in the store.
    pub fn blobs(&self) -> Result<Vec<Digest>> {
        let dir = self.blobs_dir();
        let entries = std::fs::read_dir(&dir).map_err(Error::file("read directory", &dir))?;
        let mut digests: Vec<Digest> = entries
            .flatten()
            .filter_map(|e| parse_sha256(&format!("sha256:{}", e.file_name().to_str()?)).ok())
            .collect();
        digests.sort_by(|a, b| a.digest().cmp(b.digest()));
        Ok(digests)
    }

    /// Start writing a blob whose digest will be known at the end.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let dir = self.tmp_dir();
        let file = tempfile::Builder::new()
            .prefix("blob-")
            .tempfile_in(&dir)
            .map_err(Error::file("create temporary file in", &dir))?;
        Ok(BlobWriter {
            store: self.clone(),
            file: HashingWriter::new(file),
        })
    }

    /// Copy `reader` into the store. With `expected`, refuse (and store nothing) unless the
    /// content hashes to it.
    pub fn put_blob(
        &self,
        reader: &mut dyn Read,
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64)> {
        let mut writer = self.blob_writer()?;
        io::copy(reader, &mut writer).map_err(Error::file("write blob", self.tmp_dir()))?;
        writer.commit(expected)
    }

    /// Store a JSON document (a config, a manifest) and describe it.
    pub fn put_json(&self, media_type: MediaType, value: &impl Serialize) -> Result<Descriptor> {
        let bytes = serde_json::to_vec(value).map_err(|cause| Error::Json {
            what: format!("serialize {media_type}"),
            cause,
        })?;
        let (digest, size) = self.put_blob(&mut &bytes[..], None)?;
        Ok(Descriptor::new(media_type, size, digest))
    }

    /// Open a blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(Error::file("open blob", &path))
    }

    /// Read a small blob whole, checking it still hashes to its name.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let bytes = std::fs::read(&path).map_err(Error::file("read blob", &path))?;
        let actual = crate::digest::sha256(&bytes);
        if &actual != digest {
            return Err(Error::DigestMismatch {
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    /// Read and parse a JSON blob (a manifest, a config).
    pub fn read_json<T: DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|cause| Error::Json {
            what: format!("blob {digest}"),
            cause,
        })
    }

    /// Delete a blob (garbage collection only).
    pub fn remove_blob(&self, digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        explain!("unlink({})", path.display());
        std::fs::remove_file(&path).map_err(Error::file("remove blob", &path))
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.index_path();
        let bytes = std::fs::read(&path).map_err(Error::file("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|cause| Error::Json {
            what: path.display().to_string(),
            cause,
        })
    }

    /// Replace `index.json` atomically (temporary file, fsync, rename).
    pub fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(index).expect("serialize index.json");
        write_atomically(&self.index_path(), &bytes, &self.tmp_dir())
    }

    /// Every tag, as `(name:tag, manifest descriptor)`, in `index.json` order.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        Ok(self
            .index()?
            .manifests()
            .iter()
            .filter_map(|d| Some((tag_of(d)?.to_string(), d.clone())))
            .collect())
    }

    /// Point `name:tag` at a manifest (moving it if it pointed elsewhere).
    pub fn set_tag(&self, tag: &str, manifest: &Descriptor) -> Result<()> {
        let mut index = self.index()?;
        let mut manifests: Vec<Descriptor> = index
            .manifests()
            .iter()
            .filter(|d| tag_of(d) != Some(tag))
            .cloned()
            .collect();
        let mut entry = manifest.clone();
        entry.set_annotations(Some(HashMap::from([(
            REF_NAME.to_string(),
            tag.to_string(),
        )])));
        manifests.push(entry);
        index.set_manifests(manifests);
        explain!("index.json: {tag} -> {}", manifest.digest());
        self.write_index(&index)
    }

    /// Record a manifest in `index.json` without a tag (an image shown as `<none>`).
    pub fn add_untagged(&self, manifest: &Descriptor) -> Result<()> {
        let mut index = self.index()?;
        if index
            .manifests()
            .iter()
            .any(|d| d.digest() == manifest.digest())
        {
            return Ok(());
        }
        let mut manifests = index.manifests().clone();
        manifests.push(manifest.clone());
        index.set_manifests(manifests);
        self.write_index(&index)
    }

    /// Remove every `index.json` entry for which `drop` says so.
    pub fn remove_entries(&self, drop: impl Fn(&Descriptor) -> bool) -> Result<()> {
        let mut index = self.index()?;
        let kept: Vec<Descriptor> = index
            .manifests()
            .iter()
            .filter(|d| !drop(d))
            .cloned()
            .collect();
        index.set_manifests(kept);
        self.write_index(&index)
    }

    /// Take the store's lock (`flock(2)` on `$ROOT/images.lock`) for a change that must not
    /// interleave with another process's (tagging, garbage collection). Released on drop.
    pub fn lock(&self) -> Result<StoreLock> {
        let path = self.root.join("images.lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::file("open", &path))?;
        explain!("flock({}, LOCK_EX)", path.display());
        let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, errno)| Error::file("flock(LOCK_EX)", path)(errno.into()))?;
        Ok(StoreLock { _lock: lock })
    }
}

/// The content of the `oci-layout` file: `{"imageLayoutVersion":"1.0.0"}`.
pub fn oci_layout() -> OciLayout {
    oci_spec::image::OciLayoutBuilder::default()
        .image_layout_version("1.0.0")
        .build()
        .expect("oci-layout")
}

/// Held while the store is being changed; see [`Store::lock`].
pub struct StoreLock {
    _lock: nix::fcntl::Flock<File>,
}

/// The tag a descriptor of `index.json` carries, if any.
pub fn tag_of(descriptor: &Descriptor) -> Option<&str> {
    descriptor
        .annotations()
        .as_ref()?
        .get(REF_NAME)
        .map(String::as_str)
}

/// A blob being written: hashes while it writes, lands in the store only on [`commit`].
/// Dropped without a commit, its temporary file is deleted.
///
/// [`commit`]: BlobWriter::commit
pub struct BlobWriter {
    store: Store,
    file: HashingWriter<tempfile::NamedTempFile>,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Verify, fsync, and rename into `blobs/sha256/<hex>`. If the blob is there already (the
    /// same content was stored before), the copy is simply dropped: that is deduplication.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let (digest, size, file) = self.file.finish();
        if let Some(expected) = expected {
            if expected != &digest {
                // `file` is dropped here, which deletes the temporary file: nothing is stored.
                return Err(Error::DigestMismatch {
                    expected: expected.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        let target = self.store.blob_path(&digest);
        if target.exists() {
            return Ok((digest, size));
        }
        file.as_file()
            .sync_all()
            .map_err(Error::file("fsync", file.path()))?;
        explain!(
            "fsync, rename({}, {})",
            file.path().display(),
            target.display()
        );
        file.persist(&target)
            .map_err(|e| Error::file("rename blob into", target.clone())(e.error))?;
        sync_dir(target.parent().expect("blob has a parent"))?;
        Ok((digest, size))
    }
}

/// Write a small file so that readers see the old content or the new, never a mix.
pub fn write_atomically(path: &Path, bytes: &[u8], tmp_dir: &Path) -> Result<()> {
    let mut file = tempfile::NamedTempFile::new_in(tmp_dir)
        .map_err(Error::file("create temporary file in", tmp_dir))?;
    file.write_all(bytes)
        .and_then(|_| file.as_file().sync_all())
        .map_err(Error::file("write", file.path()))?;
    file.persist(path)
        .map_err(|e| Error::file("rename into", path.to_path_buf())(e.error))?;
    sync_dir(path.parent().unwrap_or(Path::new("/")))
}

/// `fsync(2)` a directory, so a rename into it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::file("fsync directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_is_stored_under_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (digest, size) = store.put_blob(&mut &b"hello"[..], None).unwrap();
        assert_eq!(size, 5);
        assert_eq!(store.read_blob(&digest).unwrap(), b"hello");
        assert_eq!(store.blobs().unwrap(), vec![digest]);
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let claimed = crate::digest::sha256(b"something else");
        let error = store
            .put_blob(&mut &b"hello"[..], Some(&claimed))
            .unwrap_err();
        assert!(matches!(error, Error::DigestMismatch { .. }), "{error}");
        assert!(store.blobs().unwrap().is_empty());
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    }

    #[test]
    fn an_unfinished_blob_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut writer = store.blob_writer().unwrap();
        writer.write_all(b"half a layer").unwrap();
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 1);
        drop(writer); // as if the copy failed half way
        assert_eq!(std::fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
        assert!(store.blobs().unwrap().is_empty());
    }

    #[test]
    fn storing_the_same_content_twice_keeps_one_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let first = store.put_blob(&mut &b"layer"[..], None).unwrap();
        let second = store.put_blob(&mut &b"layer"[..], None).unwrap();
        assert_eq!(first, second);
        assert_eq!(store.blobs().unwrap().len(), 1);
    }

    #[test]
    fn tags_live_in_index_json_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let manifest = store.put_json(MediaType::ImageManifest, &"{}").unwrap();
        store.set_tag("busybox:latest", &manifest).unwrap();
        store.set_tag("busybox:v1", &manifest).unwrap();
        store.set_tag("busybox:latest", &manifest).unwrap();
        let tags: Vec<String> = store.tags().unwrap().into_iter().map(|(t, _)| t).collect();
        assert_eq!(tags, ["busybox:v1", "busybox:latest"]);
        let index = std::fs::read_to_string(dir.path().join("oci/index.json")).unwrap();
        assert!(index.contains(r#""org.opencontainers.image.ref.name": "busybox:v1""#));
    }
}
