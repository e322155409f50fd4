//! Instruction flags: `COPY --from=build --chown=1000:1000 ...`, `RUN --mount=type=cache,...`.
//!
//! Flags come right after the instruction name, each one word: `--name=value`, or `--name`
//! alone for a true/false flag. The first word not starting with `--` (or a lone `--`) ends
//! them. Every instruction is checked, so `CMD --help` is an "unknown flag" error, as in
//! Docker. Values are kept as written; substitution happens later, with the variables in
//! scope.

use crate::words::split_shell_words;

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--name=value`, at most once.
    Value,
    /// `--name=value`, any number of times (`--mount`, `--exclude`).
    Repeated,
    /// `--name`, `--name=true` or `--name=false`.
    Bool,
}

/// One flag as written, with the byte offset of its `--` in the logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: String,
    pub offset: usize,
}

/// The flags of one instruction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags(pub Vec<Flag>);

impl Flags {
    /// The value of a `Value` flag.
    pub fn value(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone())
    }

    /// All values of a `Repeated` flag, in order, with their offsets.
    pub fn all(&self, name: &str) -> Vec<&Flag> {
        self.0.iter().filter(|f| f.name == name).collect()
    }

    /// A `Bool` flag: absent is false.
    pub fn enabled(&self, name: &str) -> bool {
        self.value(name).is_some_and(|v| v == "true")
    }
}

/// A flag problem at a byte offset of the logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagProblem {
    pub offset: usize,
    pub message: String,
}

/// Take the leading flags of `args` (which starts at byte `base` of the logical line).
/// Returns them and the byte offset (in the logical line) where the other arguments start.
/// A flag's value may be quoted (`--chown="app user"`); the quotes are removed later, with
/// substitution.
pub fn extract(
    args: &str,
    base: usize,
    escape: char,
    instruction: &str,
    accepted: &[(&str, Kind)],
) -> Result<(Flags, usize), FlagProblem> {
    let mut flags = Flags::default();
    let mut rest = base + args.len();
    for word in split_shell_words(args, base, escape) {
        let Some(body) = word.text.strip_prefix("--") else {
            rest = word.offset;
            break;
        };
        if body.is_empty() {
            rest = word.offset + 2;
            break;
        }
        let problem = |message: String| FlagProblem {
            offset: word.offset,
            message,
        };
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(&(_, kind)) = accepted.iter().find(|(n, _)| *n == name) else {
            let known = if accepted.is_empty() {
                format!("{instruction} takes no flags")
            } else {
                let names: Vec<String> = accepted.iter().map(|(n, _)| format!("--{n}")).collect();
                format!("{instruction} accepts {}", names.join(", "))
            };
            return Err(problem(format!("unknown flag --{name} ({known})")));
        };
        let value = match (kind, value) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v @ ("true" | "false"))) => v.to_string(),
            (Kind::Bool, Some(v)) => {
                return Err(problem(format!(
                    "flag --{name} takes true or false, not {v:?}"
                )))
            }
            (_, None) => {
                return Err(problem(format!(
                    "flag --{name} needs a value: --{name}=VALUE"
                )))
            }
            (_, Some(v)) => v.to_string(),
        };
        if kind != Kind::Repeated && flags.0.iter().any(|f| f.name == name) {
            return Err(problem(format!("flag --{name} is given twice")));
        }
        flags.0.push(Flag {
            name: name.to_string(),
            value,
            offset: word.offset,
        });
    }
    Ok((flags, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COPY: &[(&str, Kind)] = &[
        ("from", Kind::Value),
        ("link", Kind::Bool),
        ("exclude", Kind::Repeated),
    ];

    #[test]
    fn flags_then_arguments() {
        let args = "--from=build --link --exclude=a --exclude=b src dst";
        let (flags, rest) = extract(args, 5, '\\', "COPY", COPY).unwrap();
        assert_eq!(flags.value("from").as_deref(), Some("build"));
        assert!(flags.enabled("link"));
        assert_eq!(flags.all("exclude").len(), 2);
        assert_eq!(&args[rest - 5..], "src dst");
    }

    #[test]
    fn flag_values_may_be_quoted() {
        let (flags, rest) = extract(
            r#"--chown="a b" src dst"#,
            0,
            '\\',
            "COPY",
            &[("chown", Kind::Value)],
        )
        .unwrap();
        assert_eq!(flags.value("chown").as_deref(), Some("\"a b\""));
        assert_eq!(rest, 14);
    }

    #[test]
    fn a_lone_double_dash_ends_the_flags() {
        let (flags, rest) = extract("-- --x y", 0, '\\', "COPY", COPY).unwrap();
        assert!(flags.0.is_empty());
        assert_eq!(rest, 2);
    }

    #[test]
    fn bad_flags_are_refused_with_their_offset() {
        let err = extract("a --nope", 0, '\\', "COPY", COPY).map(|(_, r)| r);
        assert_eq!(err, Ok(0));
        let err = extract(" --nope x", 10, '\\', "COPY", COPY).unwrap_err();
        assert_eq!(err.offset, 11);
        assert!(err
            .message
            .contains("unknown flag --nope (COPY accepts --from"));
        assert!(extract("--from x", 0, '\\', "COPY", COPY)
            .unwrap_err()
            .message
            .contains("needs a value"));
        assert!(extract("--link=yes x", 0, '\\', "COPY", COPY)
            .unwrap_err()
            .message
            .contains("true or false"));
        assert!(extract("--from=a --from=b x", 0, '\\', "COPY", COPY)
            .unwrap_err()
            .message
            .contains("twice"));
        assert!(extract("--help", 0, '\\', "CMD", &[])
            .unwrap_err()
            .message
            .contains("CMD takes no flags"));
    }
}
