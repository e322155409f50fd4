//! Making a new image: one more layer on top of a base (or on nothing), a new config with a
//! history entry, a new manifest, a tag. This is what `import`, `commit` and the built-in
//! `hello-world` share.
//!
//! Nothing about the base is copied: the new manifest lists the base's layer blobs by digest,
//! so the new image *shares* them, in the store and (by chain id) on disk.

use crate::error::{Error, Result};
use crate::explain;
use crate::gc;
use crate::image::Image;
use crate::pack::NewLayer;
use crate::snapshot;
use crate::store::Store;
use oci_spec::image::{
    Config, HistoryBuilder, ImageConfiguration, ImageManifestBuilder, MediaType,
};

/// What the history entry of the new layer says.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// When (seconds since the epoch); `None`: now, or `SOURCE_DATE_EPOCH` if set.
    pub created: Option<i64>,
    /// What made the layer: `import busybox.tar`, `commit 3f2a...`.
    pub created_by: String,
    /// Who made it (`commit --author`).
    pub author: Option<String>,
    /// Why (`commit --message`).
    pub comment: Option<String>,
}

/// A change to the run configuration, from `--change` (a few Dockerfile instructions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Cmd(Vec<String>),
    Entrypoint(Vec<String>),
    Env(String),
    WorkingDir(String),
    User(String),
    /// `VOLUME /data` or `VOLUME ["/a", "/b"]`: directories that get an anonymous volume.
    Volume(Vec<String>),
    /// `EXPOSE 80` or `EXPOSE 53/udp`: ports the image says it listens on (`run -P` publishes them).
    Expose(Vec<String>),
}

impl std::str::FromStr for Change {
    type Err = Error;

    /// `CMD ["/bin/sh"]`, `CMD echo hi` (shell form: `/bin/sh -c "echo hi"`), `ENTRYPOINT ...`,
    /// `ENV KEY=VALUE`, `WORKDIR /path`, `USER name`.
    fn from_str(text: &str) -> Result<Change> {
        let (instruction, argument) = text
            .trim()
            .split_once(char::is_whitespace)
            .unwrap_or((text, ""));
        let argument = argument.trim();
        let command = || -> Result<Vec<String>> {
            if argument.starts_with('[') {
                serde_json::from_str(argument).map_err(|cause| Error::Json {
                    what: format!("--change {text:?}"),
                    cause,
                })
            } else {
                Ok(vec!["/bin/sh".into(), "-c".into(), argument.into()])
            }
        };
        // VOLUME and EXPOSE take a JSON array or words.
        let words = || -> Result<Vec<String>> {
            if argument.starts_with('[') {
                serde_json::from_str(argument).map_err(|cause| Error::Json {
                    what: format!("--change {text:?}"),
                    cause,
                })
            } else {
                Ok(argument.split_whitespace().map(str::to_string).collect())
            }
        };
        match instruction.to_ascii_uppercase().as_str() {
            "CMD" => Ok(Change::Cmd(command()?)),
            "ENTRYPOINT" => Ok(Change::Entrypoint(command()?)),
            "ENV" if argument.contains('=') => Ok(Change::Env(argument.into())),
            "WORKDIR" if argument.starts_with('/') => Ok(Change::WorkingDir(argument.into())),
            "USER" if !argument.is_empty() => Ok(Change::User(argument.into())),
            "VOLUME" if !argument.is_empty() => Ok(Change::Volume(words()?)),
            "EXPOSE" if !argument.is_empty() => Ok(Change::Expose(
                words()?
                    .into_iter()
                    .map(|p| if p.contains('/') { p } else { format!("{p}/tcp") })
                    .collect(),
            )),
            _ => Err(Error::Invalid(format!(
                "--change {text:?}: expected CMD, ENTRYPOINT, ENV KEY=VALUE, WORKDIR /path, USER name, VOLUME /path or EXPOSE port"
            ))),
        }
    }
}

fn apply(config: &mut Config, change: &Change) {
    match change {
        Change::Cmd(cmd) => config.set_cmd(Some(cmd.clone())),
        Change::Entrypoint(entrypoint) => config.set_entrypoint(Some(entrypoint.clone())),
        Change::Env(pair) => {
            let key = pair.split('=').next().unwrap_or_default();
            let mut env: Vec<String> = config.env().clone().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(pair.clone());
            config.set_env(Some(env))
        }
        Change::WorkingDir(dir) => config.set_working_dir(Some(dir.clone())),
        Change::User(user) => config.set_user(Some(user.clone())),
        Change::Volume(dirs) => {
            let mut volumes = config.volumes().clone().unwrap_or_default();
            volumes.extend(dirs.iter().cloned());
            volumes.sort();
            volumes.dedup();
            config.set_volumes(Some(volumes))
        }
        Change::Expose(ports) => {
            let mut exposed = config.exposed_ports().clone().unwrap_or_default();
            exposed.extend(ports.iter().cloned());
            exposed.sort();
            exposed.dedup();
            config.set_exposed_ports(Some(exposed))
        }
    };
}

/// Write the config and manifest of `base` + `layer`, unpack the new layer, and only then make
/// the image visible in `index.json` (under `tag`, or untagged). Call with the store locked.
/// If anything fails, blobs this left behind are collected.
pub fn add_layer(
    store: &Store,
    base: Option<&Image>,
    layer: NewLayer,
    provenance: Provenance,
    changes: &[Change],
    tag: Option<&str>,
) -> Result<Image> {
    let result = (|| {
        let image = write_image(store, base, layer, provenance, changes)?;
        snapshot::prepare(store, &image)?;
        let descriptor = image.descriptor(store)?;
        match tag {
            Some(tag) => store.set_tag(tag, &descriptor)?,
            None => store.add_untagged(&descriptor)?,
        }
        Ok(Image {
            tags: tag.map(str::to_string).into_iter().collect(),
            ..image
        })
    })();
    if result.is_err() {
        let _ = gc::collect(store);
    }
    result
}

fn write_image(
    store: &Store,
    base: Option<&Image>,
    layer: NewLayer,
    provenance: Provenance,
    changes: &[Change],
) -> Result<Image> {
    let created = crate::time::rfc3339(provenance.created.unwrap_or_else(crate::time::now));
    let mut config: ImageConfiguration = match base {
        Some(base) => base.config.clone(),
        None => ImageConfiguration::default(),
    };
    config.set_created(Some(created.clone()));
    if provenance.author.is_some() {
        config.set_author(provenance.author.clone());
    }
    let mut run_config = config.config().clone().unwrap_or_default();
    for change in changes {
        apply(&mut run_config, change);
    }
    config.set_config(Some(run_config));
    config
        .rootfs_mut()
        .diff_ids_mut()
        .push(layer.diff_id.to_string());
    let mut entry = HistoryBuilder::default()
        .created(created)
        .created_by(provenance.created_by)
        .build()
        .expect("history entry");
    entry.set_author(provenance.author);
    entry.set_comment(provenance.comment);
    let mut history = config.history().clone().unwrap_or_default();
    history.push(entry);
    config.set_history(Some(history));

    let mut layers = base.map(|b| b.layers().to_vec()).unwrap_or_default();
    layers.push(layer.descriptor);
    write_manifest(store, &config, layers)
}

/// Store `config` and a manifest listing `layers` (bottom first), and load the image they
/// make. The image is in no tag and no index entry yet: the caller decides what keeps it.
pub fn write_manifest(
    store: &Store,
    config: &impl serde::Serialize,
    layers: Vec<oci_spec::image::Descriptor>,
) -> Result<Image> {
    let config_descriptor = store.put_json(MediaType::ImageConfig, config)?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_descriptor)
        .layers(layers)
        .build()
        .map_err(|e| Error::Invalid(format!("manifest: {e}")))?;
    let manifest_descriptor = store.put_json(MediaType::ImageManifest, &manifest)?;
    explain!(
        "new image: config {} (the image id), manifest {}",
        manifest.config().digest(),
        manifest_descriptor.digest()
    );
    Image::load(store, manifest_descriptor.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_parse_like_dockerfile_instructions() {
        assert_eq!(
            r#"CMD ["/bin/sh"]"#.parse::<Change>().unwrap(),
            Change::Cmd(vec!["/bin/sh".into()])
        );
        assert_eq!(
            "CMD echo hi".parse::<Change>().unwrap(),
            Change::Cmd(vec!["/bin/sh".into(), "-c".into(), "echo hi".into()])
        );
        assert_eq!(
            "ENV PATH=/bin".parse::<Change>().unwrap(),
            Change::Env("PATH=/bin".into())
        );
        assert_eq!(
            "EXPOSE 80 53/udp".parse::<Change>().unwrap(),
            Change::Expose(vec!["80/tcp".into(), "53/udp".into()])
        );
        assert_eq!(
            r#"VOLUME ["/data"]"#.parse::<Change>().unwrap(),
            Change::Volume(vec!["/data".into()])
        );
        assert!("HEALTHCHECK NONE".parse::<Change>().is_err());
        assert!("WORKDIR relative".parse::<Change>().is_err());
    }

    #[test]
    fn env_changes_replace_the_same_key() {
        let mut config = Config::default();
        apply(&mut config, &Change::Env("A=1".into()));
        apply(&mut config, &Change::Env("B=2".into()));
        apply(&mut config, &Change::Env("A=3".into()));
        assert_eq!(config.env().clone().unwrap(), ["B=2", "A=3"]);
    }
}
