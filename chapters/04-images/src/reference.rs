//! Image references as Docker reads them (the grammar is in distribution's `reference` package,
//! `reference.go`), for every chapter that names images: this one's store, chapter 05's
//! `FROM` and `COPY --from`, chapter 06's pulls and pushes.
//!
//! ```text
//! [REGISTRY/]PATH[:TAG][@DIGEST]
//! busybox                        → docker.io/library/busybox:latest
//! user/app:1.0                   → docker.io/user/app:1.0
//! localhost:5000/x/y:tag         → registry localhost:5000, repository x/y, tag "tag"
//! busybox@sha256:<64 hex>        → pinned by digest (the tag, if any, is only informative)
//! ```
//!
//! The first component is a registry only if it *looks like a host*: it contains a `.` or a
//! `:` (a port), or it is `localhost`. Otherwise the image is on Docker Hub, and a one-component
//! name there lives under `library/` (the "official images"). That rule is why `user/app` is on
//! Docker Hub but `my.host/app` is not.
//!
//! The local store names images the way `docker images` shows them: the *familiar* name and a
//! tag (`busybox:latest`, `localhost:5000/team/app:v2`); [`normalize`] gives that form.

use crate::digest::parse_sha256;
use crate::error::{Error, Result};
use oci_spec::image::Digest;
use std::fmt;

/// Docker Hub's canonical name.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `localhost:5000`, `ghcr.io`...
    pub registry: String,
    /// `library/busybox`, `x/y`.
    pub repository: String,
    /// `latest` when neither a tag nor a digest was given.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parse `text` the way `docker pull` does.
    pub fn parse(text: &str) -> Result<Reference> {
        // exercise 04.1: ImageName as docker reads it: registry, repository, tag, digest
        let bad = |why: &'static str| Error::Reference {
            reference: text.to_string(),
            why,
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        // Split off the digest first: it is after the only '@'.
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                let digest = parse_sha256(digest)
                    .map_err(|_| bad("a digest is sha256: followed by 64 lowercase hex digits"))?;
                (rest, Some(digest))
            }
            None => (text, None),
        };
        // The tag is after the last ':' unless a '/' follows it (then that ':' was a port).
        let (name, tag) = match rest.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
            _ => (rest, None),
        };
        if name.is_empty() {
            return Err(bad("the name is empty"));
        }
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(bad(
                    "a tag is 1 to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'",
                ));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if looks_like_host(first) => (first.to_string(), path.to_string()),
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        if !valid_host(&registry) {
            return Err(bad(
                "a registry is a host name (labels of letters, digits and '-' joined by '.'), maybe with a :port",
            ));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad("repository names must be lowercase"));
        }
        if !path.split('/').all(path_component_ok) {
            return Err(bad(
                "a repository is lowercase components of letters and digits, separated by \
                 '/' and joined inside by '.', '_', '__' or dashes",
            ));
        }
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if registry.len() + 1 + repository.len() > 255 {
            return Err(bad("the name is longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
        // end of exercise 04.1
    }

    /// What names the manifest in a registry (after `/manifests/`): the digest if pinned, else
    /// the tag.
    pub fn object(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The short name Docker shows: `busybox`, `user/app`, `localhost:5000/x/y`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }

    /// `name:tag` as the store tags images (`busybox:latest`), if there is a tag.
    pub fn local_tag(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|tag| format!("{}:{tag}", self.familiar_name()))
    }

    /// The same image in another repository or under another tag: `push busybox
    /// localhost:5000/bb` keeps the source's content and takes the target's name.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(text: &str) -> Result<Reference> {
        Reference::parse(text)
    }
}

/// The store's name for `reference`: familiar name and tag, `busybox` → `busybox:latest`. A
/// reference pinned by digest alone has no tag to store under, and is refused.
pub fn normalize(reference: &str) -> Result<String> {
    Reference::parse(reference)?
        .local_tag()
        .ok_or_else(|| Error::Reference {
            reference: reference.to_string(),
            why: "a local image name needs a tag, not only a digest",
        })
}

/// Split a normalised `name:tag` into its repository and tag.
pub fn split(tag: &str) -> (&str, &str) {
    match tag.rsplit_once(':') {
        Some((name, t)) if !t.contains('/') => (name, t),
        _ => (tag, "latest"),
    }
}

/// Does this look like an image id (or a prefix of one), with or without `sha256:`?
pub fn as_id_prefix(text: &str) -> Option<&str> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    let ok =
        (4..=64).contains(&hex.len()) && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    ok.then_some(hex)
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`: one component of a repository name, as
/// distribution's `reference` grammar has it (chapters 05 and 06 check names with it too).
pub fn path_component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        if !(separator == "."
            || separator == "_"
            || separator == "__"
            || separator.chars().all(|c| c == '-'))
        {
            return false;
        }
    }
    true
}

/// `localhost`, or anything with a dot (a domain) or a colon (a port).
fn looks_like_host(component: &str) -> bool {
    component == "localhost" || component.contains('.') || component.contains(':')
}

/// `host[:port]`: labels of letters, digits and inner '-' separated by '.', and a port that is
/// a 16-bit number (distribution's `domain` rule).
fn valid_host(registry: &str) -> bool {
    let (host, port) = registry.split_once(':').unwrap_or((registry, "0"));
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    host.split('.').all(label_ok) && port.parse::<u16>().is_ok()
}

/// `[\w][\w.-]{0,127}`
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !tag.starts_with(['.', '-'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_latest_when_they_have_no_tag() {
        assert_eq!(normalize("busybox").unwrap(), "busybox:latest");
        assert_eq!(normalize("busy:v2").unwrap(), "busy:v2");
        assert_eq!(
            normalize("localhost:5000/team/app").unwrap(),
            "localhost:5000/team/app:latest"
        );
        assert_eq!(
            normalize("localhost:5000/team/app:v1").unwrap(),
            "localhost:5000/team/app:v1"
        );
        assert_eq!(
            normalize("docker.io/library/busybox:1.36").unwrap(),
            "busybox:1.36",
            "the store keeps the name docker shows"
        );
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in ["", ":v1", "Busybox", "a//b", "a:", "a:-x", "a:b c", "../x"] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
        let pinned = format!("busybox@sha256:{}", "a".repeat(64));
        assert!(normalize(&pinned)
            .unwrap_err()
            .to_string()
            .contains("needs a tag"));
    }

    #[test]
    fn ids_are_hex_prefixes() {
        assert_eq!(as_id_prefix("sha256:abcd12"), Some("abcd12"));
        assert_eq!(as_id_prefix("abc"), None);
        assert_eq!(as_id_prefix("busybox"), None);
    }

    fn full(text: &str) -> String {
        Reference::parse(text).unwrap().to_string()
    }

    #[test]
    fn docker_hub_names_are_completed() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app:1.0"), "docker.io/user/app:1.0");
        assert_eq!(
            full("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("index.docker.io/library/busybox"),
            "docker.io/library/busybox:latest"
        );
    }

    #[test]
    fn a_first_component_that_looks_like_a_host_is_the_registry() {
        let r = Reference::parse("localhost:5000/x/y:tag").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "x/y", Some("tag"))
        );
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("ghcr.io/org/tool"), "ghcr.io/org/tool:latest");
        assert_eq!(full("127.0.0.1:5000/bb"), "127.0.0.1:5000/bb:latest");
        // No dot, no port, not localhost: a Docker Hub user.
        assert_eq!(full("myhost/app"), "docker.io/myhost/app:latest");
    }

    #[test]
    fn digests_pin_the_reference() {
        let hex = "a".repeat(64);
        let r = Reference::parse(&format!("busybox@sha256:{hex}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.object(), format!("sha256:{hex}"));
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/busybox@sha256:{hex}")
        );
        let both = Reference::parse(&format!("localhost:5000/bb:v1@sha256:{hex}")).unwrap();
        assert_eq!(both.object(), format!("sha256:{hex}"), "the digest wins");
        assert_eq!(both.tag.as_deref(), Some("v1"));
    }

    #[test]
    fn familiar_names_are_what_docker_shows() {
        let name = |t: &str| Reference::parse(t).unwrap().local_tag().unwrap();
        assert_eq!(name("docker.io/library/busybox"), "busybox:latest");
        assert_eq!(name("user/app:1"), "user/app:1");
        assert_eq!(name("localhost:5000/x/y:t"), "localhost:5000/x/y:t");
    }

    #[test]
    fn malformed_references_are_refused_with_the_reason() {
        let why = |t: &str| Reference::parse(t).unwrap_err().to_string();
        assert!(why("").contains("empty"));
        assert!(why("Busybox").contains("lowercase"), "{}", why("Busybox"));
        assert!(why("busybox:").contains("tag"));
        assert!(why("busybox:-x").contains("tag"));
        assert!(why("busybox@sha256:abc").contains("digest"));
        assert!(why("busybox@md5:abc").contains("digest"));
        assert!(why("a//b").contains("repository"));
        assert!(why("a/-b").contains("repository"));
        assert!(why("a..b").contains("repository"));
        assert!(why(":v1").contains("empty"));
        assert!(why(&"a".repeat(300)).contains("255"));
        assert!(why("my host.io/x").contains("registry"));
        assert!(why("localhost:99999/x").contains("registry"));
        assert!(why("../x").contains("registry"));
    }

    #[test]
    fn components_follow_the_grammar() {
        for ok in ["a", "a.b", "a_b", "a__b", "a---b", "0x"] {
            assert!(path_component_ok(ok), "{ok}");
        }
        for bad in ["", ".a", "a.", "a___b", "a._b", "A"] {
            assert!(!path_component_ok(bad), "{bad}");
        }
    }
}
