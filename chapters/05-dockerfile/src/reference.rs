//! Is a string a valid image reference (`alpine`, `alpine:3.19`, `ghcr.io/o/img@sha256:...`)?
//!
//! The grammar is the distribution project's (docker/distribution "reference" package), in
//! short: `[DOMAIN[:PORT]/]PATH[:TAG][@DIGEST]`, path components lowercase `[a-z0-9]` joined
//! by `.`, `_`, `__` or dashes. `COPY --from=NAME` uses it: a NAME that is not a stage and not
//! a valid reference can only be a mistake.

use ch04_images::reference::path_component_ok;

/// `Ok(())` or why `reference` is not one.
pub fn validate(reference: &str) -> Result<(), String> {
    if reference.is_empty() {
        return Err("it is empty".into());
    }
    if reference.chars().any(char::is_whitespace) {
        return Err("it contains whitespace".into());
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let (algorithm, hex) = digest
            .split_once(':')
            .ok_or("the digest has no algorithm")?;
        let algorithm_ok = !algorithm.is_empty()
            && algorithm
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
        if !algorithm_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("invalid digest {digest:?}"));
        }
    }
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag {
        let mut chars = tag.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
        if !first_ok
            || tag.len() > 128
            || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!("invalid tag {tag:?}"));
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    let first = components[0];
    let has_domain = components.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if has_domain {
        let (host, port) = first.split_once(':').unwrap_or((first, "0"));
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !host_ok || port.parse::<u16>().is_err() {
            return Err(format!("invalid registry {first:?}"));
        }
        components.remove(0);
    }
    for component in components {
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository name must be lowercase".into());
        }
        if !path_component_ok(component) {
            return Err(format!("invalid repository name component {component:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn valid_references() {
        for r in [
            "alpine",
            "alpine:3.19",
            "library/busybox:1.36.1",
            "ghcr.io/owner/img:v1",
            "localhost:5000/x",
            "my-registry.example.com:443/a/b__c.d-e:tag_1",
            "busybox@sha256:6d9ac9237a84afe1516540f40a0fafdc86859b2141954b4d643af7066d598b74",
        ] {
            assert_eq!(validate(r), Ok(()), "{r}");
        }
    }

    #[test]
    fn invalid_references() {
        assert_eq!(
            validate("Builder").unwrap_err(),
            "repository name must be lowercase"
        );
        for r in [
            "",
            "a b",
            "a:",
            "a:-x",
            "a..b",
            "-a",
            "a@sha256:12",
            "a/",
            "UP.io/x/Y",
        ] {
            assert!(validate(r).is_err(), "{r}");
        }
    }
}
