//! Image references as users type them: `busybox`, `busybox:1.36`, `localhost:5000/team/app:v2`.
//! A reference without a tag means `:latest`, as in Docker.

use crate::error::{Error, Result};

/// Parse and normalise `NAME[:TAG]` into `name:tag`.
pub fn normalize(reference: &str) -> Result<String> {
    // exercise 04.1: ImageName: NAME[:TAG] checked and completed to name:tag
    let bad = |why: &str| Error::Invalid(format!("invalid reference {reference:?}: {why}"));
    // The tag is after the last ':', unless a '/' follows it (then that ':' was a port).
    let (name, tag) = match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    };
    if name.is_empty() {
        return Err(bad("empty name"));
    }
    let name_ok = name.split('/').all(|component| {
        component.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && component
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-:".contains(c))
    });
    if !name_ok {
        return Err(bad(
            "a name is lowercase letters, digits, '.', '_', '-' (starting with a letter or \
             digit), separated by '/'",
        ));
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !tag.starts_with(['.', '-']);
    if !tag_ok {
        return Err(bad("a tag is up to 128 letters, digits, '.', '_', '-'"));
    }
    Ok(format!("{name}:{tag}"))
    // end of exercise 04.1
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
    }

    #[test]
    fn bad_references_are_refused() {
        for bad in ["", ":v1", "Busybox", "a//b", "a:", "a:-x", "a:b c", "../x"] {
            assert!(normalize(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn ids_are_hex_prefixes() {
        assert_eq!(as_id_prefix("sha256:abcd12"), Some("abcd12"));
        assert_eq!(as_id_prefix("abc"), None);
        assert_eq!(as_id_prefix("busybox"), None);
    }
}
