//! Checks and normal forms of the values the builder will rely on: ports (`EXPOSE`), mounts
//! (`RUN --mount`), stop signals, stage names, and what kind of source an ADD path is.

use crate::ast::{AddKind, AddSource, KeyValue, Mount};

/// Stage names: a letter, then letters, digits, `-`, `_`, `.` (lowercased first).
pub fn is_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// What kind of ADD source a path is: a URL or a Git repository is fetched, not read from the
/// context.
pub fn add_source(path: String) -> AddSource {
    let lower = path.to_ascii_lowercase();
    let kind = if lower.starts_with("git@")
        || lower.starts_with("git://")
        || (lower.starts_with("http") && (lower.ends_with(".git") || lower.contains(".git#")))
    {
        AddKind::Git
    } else if lower.starts_with("http://") || lower.starts_with("https://") {
        AddKind::Url
    } else {
        AddKind::Local
    };
    AddSource { kind, path }
}

/// `80` → `80/tcp`, `8000-8010/UDP` → `8000-8010/udp`; an error for anything else.
pub fn normalize_port(spec: &str) -> Result<String, String> {
    let (ports, protocol) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let protocol = protocol.to_ascii_lowercase();
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "EXPOSE {spec}: the protocol must be tcp, udp or sctp"
        ));
    }
    let number = |text: &str| {
        text.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("EXPOSE {spec}: {text:?} is not a port number (1-65535)"))
    };
    let range = match ports.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return Err(format!("EXPOSE {spec}: the range ends before it starts"));
            }
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        }
        None => number(ports)?.to_string(),
    };
    Ok(format!("{range}/{protocol}"))
}

/// `type=cache,target=/root/.cache,sharing=locked` (Dockerfile reference, "RUN --mount").
pub fn parse_mount(spec: &str) -> Result<Mount, String> {
    const TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];
    const KEYS: [&str; 17] = [
        "target",
        "dst",
        "destination",
        "source",
        "src",
        "from",
        "readonly",
        "ro",
        "rw",
        "readwrite",
        "id",
        "sharing",
        "mode",
        "uid",
        "gid",
        "size",
        "required",
    ];
    let mut kind = "bind".to_string();
    let mut options = Vec::new();
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        let key = key.to_ascii_lowercase();
        if key == "type" {
            if !TYPES.contains(&value) {
                return Err(format!(
                    "--mount type={value}: use one of {}",
                    TYPES.join(", ")
                ));
            }
            kind = value.to_string();
        } else if KEYS.contains(&key.as_str()) || key == "env" {
            options.push(KeyValue {
                key,
                value: value.to_string(),
            });
        } else {
            return Err(format!("--mount: unknown option {key:?}"));
        }
    }
    let has_target = options
        .iter()
        .any(|o| matches!(o.key.as_str(), "target" | "dst" | "destination"));
    if matches!(kind.as_str(), "bind" | "cache" | "tmpfs") && !has_target {
        return Err(format!("--mount type={kind} needs target=PATH"));
    }
    Ok(Mount { kind, options })
}

/// `SIGTERM`, `TERM`, `15` (1 to 64), or `SIGRTMIN+3`.
pub fn is_signal(signal: &str) -> bool {
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR",
    ];
    if let Ok(n) = signal.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    NAMES.contains(&name) || name == "SYS" || name.starts_with("RTMIN") || name.starts_with("RTMAX")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_normalise() {
        assert_eq!(normalize_port("80").unwrap(), "80/tcp");
        assert_eq!(normalize_port("53/UDP").unwrap(), "53/udp");
        assert_eq!(normalize_port("8000-8010/tcp").unwrap(), "8000-8010/tcp");
        for bad in ["0", "65536", "80/icmp", "10-5", "http", "80-", ""] {
            assert!(normalize_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mounts_parse_and_refuse_unknowns() {
        let m = parse_mount("type=cache,target=/root/.cache,sharing=locked").unwrap();
        assert_eq!(m.kind, "cache");
        assert_eq!(m.options.len(), 2);
        assert_eq!(parse_mount("target=/x,ro").unwrap().kind, "bind");
        assert!(parse_mount("type=nfs,target=/x")
            .unwrap_err()
            .contains("type=nfs"));
        assert!(parse_mount("type=cache")
            .unwrap_err()
            .contains("needs target"));
        assert!(parse_mount("type=secret,id=x,bogus=1")
            .unwrap_err()
            .contains("bogus"));
        assert!(parse_mount("type=secret,id=npmrc").is_ok());
    }

    #[test]
    fn add_sources_are_classified() {
        assert_eq!(add_source("a.tar.gz".into()).kind, AddKind::Local);
        assert_eq!(
            add_source("https://example.com/x".into()).kind,
            AddKind::Url
        );
        assert_eq!(
            add_source("https://github.com/x/y.git#main".into()).kind,
            AddKind::Git
        );
        assert_eq!(add_source("git@github.com:x/y".into()).kind, AddKind::Git);
        assert_eq!(
            add_source("https://example.com/.github/x.tar".into()).kind,
            AddKind::Url
        );
    }

    #[test]
    fn signals() {
        for good in ["SIGTERM", "term", "9", "64", "SIGRTMIN+3"] {
            assert!(is_signal(good), "{good}");
        }
        for bad in ["SIGNOPE", "0", "65", ""] {
            assert!(!is_signal(bad), "{bad}");
        }
    }

    #[test]
    fn stage_names() {
        assert!(is_stage_name("build-2.x_y"));
        assert!(!is_stage_name("2build"));
        assert!(!is_stage_name("a/b"));
    }
}
