//! `save` and `load`: images in and out of the store as one tar file, in the two formats other
//! tools read.
//!
//! - **OCI archive**: a tar of an OCI image layout, the same shape as `$ROOT/oci/` (`oci-layout`,
//!   `index.json`, `blobs/sha256/...`). `skopeo copy oci-archive:FILE ...` reads it.
//! - **Docker archive** (`docker save`): `manifest.json` (`[{"Config", "RepoTags", "Layers"}]`),
//!   `repositories`, the config as `<id>.json`, each layer as an *uncompressed* `<dir>/layer.tar`.
//!   `docker load`, `podman load` and `skopeo copy docker-archive:FILE ...` read it.
//!
//! `load` reads either. An archive is hostile input like a layer, but no entry of it is ever
//! written by its name: every file goes into the content store under the digest of its content
//! (checked against the name when the name is a digest), and the images are then rebuilt from
//! the manifests, unpacked (which checks every layer against its diff id), and only then tagged.

use crate::digest::{parse_sha256, HashingWriter};
use crate::error::{Error, Result};
use crate::explain;
use crate::gc;
use crate::image::Image;
use crate::reference;
use crate::snapshot;
use crate::store::{Store, REF_NAME};
use ch01_namespaces::common::Failure;
use oci_spec::image::{
    Descriptor, Digest, ImageIndex, ImageManifest, ImageManifestBuilder, MediaType,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Seek, Write};

/// Which archive format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Oci,
    Docker,
}

/// containerd's (and Docker 25's) annotation for a full image name in an OCI index.
const CONTAINERD_NAME: &str = "io.containerd.image.name";

/// One image in a Docker archive's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Write `images` (with their tags) as one archive.
pub fn save(store: &Store, images: &[Image], format: Format, out: impl Write) -> Result<()> {
    let mut tar = ArchiveWriter {
        builder: tar::Builder::new(out),
    };
    match format {
        Format::Oci => save_oci(store, images, &mut tar)?,
        Format::Docker => save_docker(store, images, &mut tar)?,
    }
    tar.builder
        .into_inner()
        .and_then(|mut out| out.flush())
        .map_err(Error::file("finish archive", "output"))
}

struct ArchiveWriter<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> ArchiveWriter<W> {
    /// A regular file: mode 0644, owner 0, mtime 0, so the same images give the same archive.
    fn file(&mut self, name: &str, size: u64, content: impl Read) -> Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(size);
        header.set_mtime(0);
        self.builder
            .append_data(&mut header, name, content)
            .map_err(Error::file("write archive entry", name))
    }

    fn bytes(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.file(name, bytes.len() as u64, bytes)
    }

    fn dir(&mut self, name: &str) -> Result<()> {
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        header.set_mtime(0);
        self.builder
            .append_data(&mut header, name, io::empty())
            .map_err(Error::file("write archive entry", name))
    }

    fn blob(&mut self, store: &Store, name: &str, digest: &Digest) -> Result<()> {
        let file = store.open_blob(digest)?;
        let size = file
            .metadata()
            .map_err(Error::file("stat", store.blob_path(digest)))?
            .len();
        self.file(name, size, file)
    }
}

fn save_oci<W: Write>(store: &Store, images: &[Image], tar: &mut ArchiveWriter<W>) -> Result<()> {
    let mut manifests = Vec::new();
    let mut blobs: BTreeMap<String, Digest> = BTreeMap::new();
    for image in images {
        let descriptor = image.descriptor(store)?;
        for tag in &image.tags {
            let mut tagged = descriptor.clone();
            tagged.set_annotations(Some(HashMap::from([(REF_NAME.to_string(), tag.clone())])));
            manifests.push(tagged);
        }
        if image.tags.is_empty() {
            manifests.push(descriptor);
        }
        for digest in std::iter::once(&image.manifest_digest)
            .chain(std::iter::once(image.id()))
            .chain(image.layers().iter().map(|l| l.digest()))
        {
            blobs.insert(digest.digest().to_string(), digest.clone());
        }
    }
    let mut index = ImageIndex::default();
    index.set_manifests(manifests);
    tar.bytes(
        "oci-layout",
        &serde_json::to_vec(&crate::store::oci_layout()).expect("oci-layout"),
    )?;
    tar.bytes("index.json", &serde_json::to_vec(&index).expect("index"))?;
    tar.dir("blobs/")?;
    tar.dir("blobs/sha256/")?;
    for (hex, digest) in &blobs {
        explain!("archive: blobs/sha256/{hex}");
        tar.blob(store, &format!("blobs/sha256/{hex}"), digest)?;
    }
    Ok(())
}

fn save_docker<W: Write>(
    store: &Store,
    images: &[Image],
    tar: &mut ArchiveWriter<W>,
) -> Result<()> {
    let mut entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut written: Vec<String> = Vec::new();
    for image in images {
        let config_name = format!("{}.json", image.id().digest());
        if !written.contains(&config_name) {
            tar.blob(store, &config_name, image.id())?;
            written.push(config_name.clone());
        }
        let mut layer_names = Vec::new();
        for (layer, diff_id) in image.layers().iter().zip(image.diff_ids()?) {
            let name = format!("{}/layer.tar", diff_id.digest());
            if !written.contains(&name) {
                tar.dir(&format!("{}/", diff_id.digest()))?;
                tar.bytes(&format!("{}/VERSION", diff_id.digest()), b"1.0")?;
                write_uncompressed_layer(store, layer, &diff_id, &name, tar)?;
                written.push(name.clone());
            }
            layer_names.push(name);
        }
        let top = image
            .diff_ids()?
            .last()
            .map(|d| d.digest().to_string())
            .unwrap_or_default();
        for tag in &image.tags {
            let (name, t) = reference::split(tag);
            repositories
                .entry(name.to_string())
                .or_default()
                .insert(t.to_string(), top.clone());
        }
        entries.push(DockerManifest {
            config: config_name,
            repo_tags: Some(image.tags.clone()),
            layers: layer_names,
        });
    }
    tar.bytes(
        "manifest.json",
        &serde_json::to_vec(&entries).expect("manifest.json"),
    )?;
    tar.bytes(
        "repositories",
        &serde_json::to_vec(&repositories).expect("repositories"),
    )
}

/// Docker archives hold layers uncompressed: decompress into a temporary file (a tar entry needs
/// its size up front), checking the result against the diff id on the way.
fn write_uncompressed_layer<W: Write>(
    store: &Store,
    layer: &Descriptor,
    diff_id: &Digest,
    name: &str,
    tar: &mut ArchiveWriter<W>,
) -> Result<()> {
    let tmp = store.tmp_dir();
    let scratch =
        tempfile::tempfile_in(&tmp).map_err(Error::file("create temporary file in", &tmp))?;
    let mut writer = HashingWriter::new(io::BufWriter::new(scratch));
    let blob = io::BufReader::new(store.open_blob(layer.digest())?);
    let mut plain: Box<dyn Read> = if layer.media_type() == &MediaType::ImageLayer {
        Box::new(blob)
    } else {
        Box::new(flate2::read::MultiGzDecoder::new(blob))
    };
    let failed = || Error::file("decompress", store.blob_path(layer.digest()));
    io::copy(&mut plain, &mut writer).map_err(failed())?;
    let (actual, size, buffered) = writer.finish();
    if &actual != diff_id {
        return Err(Error::DigestMismatch {
            expected: diff_id.to_string(),
            actual: actual.to_string(),
        });
    }
    let mut scratch = buffered
        .into_inner()
        .map_err(|e| failed()(e.into_error()))?;
    scratch.seek(io::SeekFrom::Start(0)).map_err(failed())?;
    tar.file(name, size, scratch)
}

/// Read an archive (OCI or Docker format) into the store; returns the names (or ids) of the
/// images loaded. Call with the store locked. On failure, what was stored is collected again.
pub fn load(store: &Store, input: impl Read) -> Result<Vec<String>> {
    let result = load_inner(store, input);
    if result.is_err() {
        let _ = gc::collect(store);
    }
    result
}

/// The files of an archive once read: small metadata in memory, everything else as blobs.
#[derive(Default)]
struct ArchiveFiles {
    metadata: HashMap<String, Vec<u8>>,
    blobs: HashMap<String, (Digest, u64)>,
    symlinks: HashMap<String, String>,
}

impl ArchiveFiles {
    /// The blob stored for a path of the archive (following symlinks, as Docker's archives use).
    fn blob(&self, path: &str) -> Result<&(Digest, u64)> {
        let mut path = clean(path);
        for _ in 0..8 {
            if let Some(found) = self.blobs.get(&path) {
                return Ok(found);
            }
            let Some(target) = self.symlinks.get(&path) else {
                break;
            };
            let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            path = clean(&format!("{dir}/{target}"));
        }
        Err(Error::Invalid(format!("archive: {path} is missing")))
    }
}

/// `./a/b` → `a/b`, and `x/../y` → `y` (names only; nothing is written by name).
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

const METADATA: [&str; 4] = ["index.json", "oci-layout", "manifest.json", "repositories"];

fn read_archive(store: &Store, input: impl Read) -> Result<ArchiveFiles> {
    let mut files = ArchiveFiles::default();
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(crate::unpack::not_a_tar)? {
        let mut entry = entry.map_err(crate::unpack::not_a_tar)?;
        let path = clean(&String::from_utf8_lossy(&entry.path_bytes()));
        match entry.header().entry_type() {
            tar::EntryType::Symlink => {
                if let Some(target) = entry.link_name_bytes() {
                    files
                        .symlinks
                        .insert(path, String::from_utf8_lossy(&target).into_owned());
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if METADATA.contains(&path.as_str()) {
                    let mut bytes = Vec::new();
                    entry
                        .by_ref()
                        .take(64 << 20)
                        .read_to_end(&mut bytes)
                        .map_err(Error::file("read archive entry", &path))?;
                    files.metadata.insert(path, bytes);
                    continue;
                }
                // blobs/sha256/<hex> must hash to <hex>; anything else is stored by its hash.
                let expected = match path.strip_prefix("blobs/sha256/") {
                    Some(hex) => Some(parse_sha256(&format!("sha256:{hex}"))?),
                    None => None,
                };
                let stored = store.put_blob(&mut entry, expected.as_ref())?;
                explain!("archive: {path} -> {}", stored.0);
                files.blobs.insert(path, stored);
            }
            _ => {} // directories and the rest carry nothing we need
        }
    }
    Ok(files)
}

fn load_inner(store: &Store, input: impl Read) -> Result<Vec<String>> {
    let files = read_archive(store, input)?;
    let json = |name: &str| -> Result<Option<serde_json::Value>> {
        files
            .metadata
            .get(name)
            .map(|bytes| {
                serde_json::from_slice(bytes).map_err(|cause| Error::Json {
                    what: format!("archive {name}"),
                    cause,
                })
            })
            .transpose()
    };
    if files.metadata.contains_key("oci-layout") && files.metadata.contains_key("index.json") {
        let index: ImageIndex = serde_json::from_value(json("index.json")?.expect("checked"))
            .map_err(|cause| Error::Json {
                what: "archive index.json".into(),
                cause,
            })?;
        load_oci(store, &index)
    } else if let Some(manifest) = json("manifest.json")? {
        let entries: Vec<DockerManifest> =
            serde_json::from_value(manifest).map_err(|cause| Error::Json {
                what: "archive manifest.json".into(),
                cause,
            })?;
        load_docker(store, &files, &entries)
    } else {
        Err(Error::Invalid(
            "not an image archive: it has neither oci-layout + index.json nor manifest.json".into(),
        ))
    }
}

/// Docker's short names: `docker.io/library/busybox:1` is `busybox:1`.
fn friendly_name(name: &str) -> &str {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
}

fn load_oci(store: &Store, index: &ImageIndex) -> Result<Vec<String>> {
    let mut loaded = Vec::new();
    for descriptor in index.manifests() {
        let manifest_descriptor = match descriptor.media_type() {
            MediaType::ImageIndex => {
                // A multi-platform index: take the entry for this platform, or the first.
                let nested: ImageIndex = store.read_json(descriptor.digest())?;
                let ours = oci_spec::image::Arch::default();
                nested
                    .manifests()
                    .iter()
                    .find(|m| {
                        m.platform()
                            .as_ref()
                            .is_some_and(|p| p.architecture() == &ours)
                    })
                    .or_else(|| nested.manifests().first())
                    .cloned()
                    .ok_or_else(|| Error::Invalid("archive: an empty nested index".into()))?
            }
            _ => descriptor.clone(),
        };
        let image = checked_image(store, manifest_descriptor.digest())?;
        snapshot::prepare(store, &image)?;
        let annotations = descriptor.annotations().clone().unwrap_or_default();
        let name = annotations
            .get(CONTAINERD_NAME)
            .or_else(|| annotations.get(REF_NAME))
            .and_then(|n| reference::normalize(friendly_name(n)).ok());
        loaded.push(publish(store, &image, name)?);
    }
    Ok(loaded)
}

fn load_docker(
    store: &Store,
    files: &ArchiveFiles,
    entries: &[DockerManifest],
) -> Result<Vec<String>> {
    let mut loaded = Vec::new();
    for entry in entries {
        let (config_digest, config_size) = files.blob(&entry.config)?.clone();
        let config: oci_spec::image::ImageConfiguration = store.read_json(&config_digest)?;
        let mut layers = Vec::new();
        for (i, path) in entry.layers.iter().enumerate() {
            let (digest, size) = files.blob(path)?.clone();
            let mut magic = [0u8; 2];
            let _ = store.open_blob(&digest)?.read(&mut magic);
            let media_type = if magic == crate::unpack::GZIP_MAGIC {
                MediaType::ImageLayerGzip
            } else {
                // An uncompressed layer's digest is its diff id: check it against the config.
                let promised = config.rootfs().diff_ids().get(i);
                if promised != Some(&digest.to_string()) {
                    return Err(Error::DigestMismatch {
                        expected: promised.cloned().unwrap_or_else(|| "(no diff id)".into()),
                        actual: digest.to_string(),
                    });
                }
                MediaType::ImageLayer
            };
            layers.push(Descriptor::new(media_type, size, digest));
        }
        let manifest: ImageManifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(
                MediaType::ImageConfig,
                config_size,
                config_digest,
            ))
            .layers(layers)
            .build()
            .map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
        let manifest_descriptor = store.put_json(MediaType::ImageManifest, &manifest)?;
        let image = checked_image(store, manifest_descriptor.digest())?;
        snapshot::prepare(store, &image)?;
        let tags = entry.repo_tags.clone().unwrap_or_default();
        if tags.is_empty() {
            loaded.push(publish(store, &image, None)?);
        }
        for tag in tags {
            let name = reference::normalize(friendly_name(&tag))?;
            loaded.push(publish(store, &image, Some(name))?);
        }
    }
    Ok(loaded)
}

/// Read an image and check every blob it needs is in the store.
fn checked_image(store: &Store, manifest: &Digest) -> Result<Image> {
    let image = Image::load(store, manifest)?;
    for layer in image.layers() {
        if !store.has_blob(layer.digest()) {
            return Err(Error::Invalid(format!(
                "archive: layer {} of image {} is missing",
                layer.digest(),
                manifest
            )));
        }
    }
    Ok(image)
}

fn publish(store: &Store, image: &Image, name: Option<String>) -> Result<String> {
    let descriptor = image.descriptor(store)?;
    match name {
        Some(name) => {
            store.set_tag(&name, &descriptor)?;
            Ok(name)
        }
        None => {
            store.add_untagged(&descriptor)?;
            Ok(image.id().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_are_cleaned() {
        assert_eq!(clean("./blobs/sha256/ab"), "blobs/sha256/ab");
        assert_eq!(clean("abc/../def/layer.tar"), "def/layer.tar");
        assert_eq!(clean("/../../x"), "x");
    }

    #[test]
    fn docker_hub_names_are_shortened() {
        assert_eq!(
            friendly_name("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(friendly_name("docker.io/me/app:v1"), "me/app:v1");
        assert_eq!(
            friendly_name("localhost/busybox:latest"),
            "localhost/busybox:latest"
        );
    }
}
