//! What `-v` says: `-v /host/path:/ctr/path[:ro]` (a bind mount), `-v NAME:/ctr/path[:ro]` (a
//! named volume), `-v /ctr/path` (an anonymous volume). Parsing only; nothing is touched.

use crate::error::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host path, bind-mounted (absolute).
    Host(PathBuf),
    /// A named volume under the state root (created on first use).
    Named(String),
    /// A fresh volume with a random name, for this container only.
    Anonymous,
}

/// One `-v`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: Source,
    /// Absolute, as the container sees it.
    pub destination: PathBuf,
    pub read_only: bool,
}

impl std::str::FromStr for VolumeSpec {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        // exercise 07.1: -v's three forms: a host path, a named volume, an anonymous one
        let parts: Vec<&str> = text.split(':').collect();
        let (source, destination, options) = match parts.as_slice() {
            [destination] => (None, *destination, ""),
            [source, destination] => (Some(*source), *destination, ""),
            [source, destination, options] => (Some(*source), *destination, *options),
            _ => return Err(invalid(text, "expected SOURCE:DESTINATION[:ro]")),
        };
        let source = match source {
            None => Source::Anonymous,
            Some(s) if s.starts_with('/') => Source::Host(
                clean_absolute(Path::new(s))
                    .ok_or_else(|| invalid(text, "the host path must not contain `..`"))?,
            ),
            Some(s) if is_volume_name(s) => Source::Named(s.to_string()),
            Some(s) => {
                return Err(invalid(
                    text,
                    &format!(
                        "{s:?} is neither an absolute host path nor a volume name \
                         ([a-zA-Z0-9][a-zA-Z0-9_.-]*); relative host paths are refused"
                    ),
                ))
            }
        };
        let destination = clean_absolute(Path::new(destination)).ok_or_else(|| {
            invalid(
                text,
                "the destination must be an absolute path without `..`",
            )
        })?;
        if destination == Path::new("/") {
            return Err(invalid(text, "the destination cannot be `/`"));
        }
        let mut read_only = false;
        for option in options.split(',').filter(|o| !o.is_empty()) {
            match option {
                "ro" => read_only = true,
                "rw" => read_only = false,
                other => return Err(invalid(text, &format!("unknown option {other:?} (ro, rw)"))),
            }
        }
        Ok(VolumeSpec {
            source,
            destination,
            read_only,
        })
        // end of exercise 07.1
    }
}

fn invalid(text: &str, why: &str) -> Error {
    Error::Invalid(format!("-v {text}: {why}"))
}

/// Docker's rule for volume names.
pub fn is_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `path` if it is absolute, with `.` and repeated slashes dropped; `None` if it has `..`.
pub fn clean_absolute(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => clean.push(name),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<VolumeSpec> {
        text.parse()
    }

    #[test]
    fn the_three_kinds_of_v() {
        let bind = parse("/srv/site:/usr/share/www:ro").unwrap();
        assert_eq!(bind.source, Source::Host("/srv/site".into()));
        assert_eq!(bind.destination, PathBuf::from("/usr/share/www"));
        assert!(bind.read_only);
        let named = parse("data:/var/lib/data").unwrap();
        assert_eq!(named.source, Source::Named("data".into()));
        assert!(!named.read_only);
        let anonymous = parse("/cache/").unwrap();
        assert_eq!(anonymous.source, Source::Anonymous);
        assert_eq!(anonymous.destination, PathBuf::from("/cache"));
    }

    #[test]
    fn bad_specs_are_refused_with_a_reason() {
        for bad in [
            "./relative:/x",
            "rel/path:/x",
            "/host:relative",
            "/host:/a/../b",
            "/host/../etc:/x",
            "/host:/",
            "/host:/x:rx",
            "a:b:c:d",
            "-bad:/x",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
