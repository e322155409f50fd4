//! Is a string a valid image reference (`alpine`, `alpine:3.19`, `ghcr.io/o/img@sha256:...`)?
//! Chapter 04's [`Reference`] grammar decides. `COPY --from=NAME` uses it: a NAME that is not a
//! stage and not a valid reference can only be a mistake.

use ch04_images::reference::Reference;
use ch04_images::Error;

/// `Ok(())` or why `reference` is not one.
pub fn validate(reference: &str) -> Result<(), String> {
    match Reference::parse(reference) {
        Ok(_) => Ok(()),
        Err(Error::Reference { why, .. }) => Err(why.to_string()),
        Err(other) => Err(other.to_string()),
    }
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
            "repository names must be lowercase"
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
