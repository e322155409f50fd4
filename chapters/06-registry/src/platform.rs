//! Platforms (`linux/amd64`, `linux/arm64/v8`) and choosing one from an image index.
//!
//! A multi-platform image is an *index* (OCI) or *manifest list* (Docker): a list of manifests,
//! each with a `platform` {os, architecture, variant}. The client picks the one for the
//! machine it will run on — `linux/amd64` unless `--platform` says otherwise.

use crate::error::{Error, Result};
use oci_spec::image::{Descriptor, ImageIndex};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = Error;
    /// `os/arch[/variant]`
    fn from_str(text: &str) -> Result<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: parts
                    .get(2)
                    .filter(|v| !v.is_empty())
                    .map(|v| v.to_string()),
            }),
            _ => Err(Error::Reference(format!(
                "invalid platform {text:?}: expected OS/ARCH[/VARIANT], as linux/amd64"
            ))),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl Platform {
    fn of(descriptor: &Descriptor) -> Option<Platform> {
        let p = descriptor.platform().as_ref()?;
        Some(Platform {
            os: p.os().to_string(),
            architecture: p.architecture().to_string(),
            variant: p.variant().clone(),
        })
    }

    /// Same os and architecture, and the variant if we asked for one.
    fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() || self.variant == other.variant)
    }
}

/// The index's manifest for `wanted`.
pub fn choose<'a>(index: &'a ImageIndex, wanted: &Platform) -> Result<&'a Descriptor> {
    index
        .manifests()
        .iter()
        .find(|d| Platform::of(d).is_some_and(|p| wanted.matches(&p)))
        .ok_or_else(|| Error::NoPlatform {
            wanted: wanted.to_string(),
            available: index
                .manifests()
                .iter()
                .filter_map(Platform::of)
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> ImageIndex {
        serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"manifests":[
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:{a}","platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2,"digest":"sha256:{b}","platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
              {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":3,"digest":"sha256:{c}","platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#,
            a = "a".repeat(64),
            b = "b".repeat(64),
            c = "c".repeat(64)
        ))
        .unwrap()
    }

    #[test]
    fn the_default_is_linux_amd64() {
        let index = index();
        assert_eq!(choose(&index, &Platform::default()).unwrap().size(), 3);
    }

    #[test]
    fn a_platform_without_variant_matches_any_variant() {
        let index = index();
        let arm64: Platform = "linux/arm64".parse().unwrap();
        assert_eq!(choose(&index, &arm64).unwrap().size(), 2);
        let v6: Platform = "linux/arm/v6".parse().unwrap();
        let error = choose(&index, &v6).unwrap_err().to_string();
        assert!(
            error.contains("linux/arm/v7, linux/arm64/v8, linux/amd64"),
            "{error}"
        );
    }

    #[test]
    fn bad_platforms_are_refused() {
        assert!("linux".parse::<Platform>().is_err());
        assert!("/amd64".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
    }
}
