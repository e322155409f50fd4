//! One logical line to one typed [`Command`]: the rules of each instruction.
//!
//! Values are kept as written (with `$VAR`), but their syntax is checked here (quotes closed,
//! `${...}` well formed), so those errors point at the exact column. Substitution itself
//! happens when the Dockerfile is resolved (see `resolve.rs`), because the values depend on
//! the ARGs and ENVs in scope.

use crate::ast::*;
use crate::duration::parse_go_duration;
use crate::error::{Pos, Problem};
use crate::flags::{self, Flags};
use crate::heredoc::{Heredoc, Marker};
use crate::json_form::parse_string_array;
use crate::keyword::Keyword;
use crate::lines::LogicalLine;
use crate::substitute;
use crate::values::{add_source, is_stage_name, normalize_port, parse_mount};
use crate::words::{split_blanks, split_shell_words, Word};
use ch01_namespaces::explain;

/// What the parser hands over for one instruction.
pub struct Input<'a> {
    pub line: &'a LogicalLine,
    pub keyword: Keyword,
    /// Byte offset in `line.text` where the arguments (flags included) start.
    pub args_offset: usize,
    pub escape: char,
    /// Heredocs announced in the line, with their bodies, in order.
    pub heredocs: Vec<(Marker, Heredoc)>,
}

/// Parse one instruction's arguments.
pub fn parse(input: &Input<'_>) -> Result<Command, Problem> {
    let p = Parser { input };
    p.command()
}

struct Parser<'a, 'b> {
    input: &'b Input<'a>,
}

impl Parser<'_, '_> {
    fn text(&self) -> &str {
        &self.input.line.text
    }

    fn at(&self, offset: usize) -> Pos {
        self.input.line.pos(offset)
    }

    fn problem(&self, offset: usize, message: impl Into<String>) -> Problem {
        Problem::new(self.at(offset), message)
    }

    fn name(&self) -> &'static str {
        self.input.keyword.name()
    }

    /// Check the substitution syntax of a word that starts at `offset`.
    fn check(&self, word: &str, offset: usize) -> Result<(), Problem> {
        substitute::check(word, self.input.escape)
            .map_err(|e| self.problem(offset + e.offset, e.message))
    }

    fn command(&self) -> Result<Command, Problem> {
        let (flags, rest) = flags::extract(
            &self.text()[self.input.args_offset..],
            self.input.args_offset,
            self.input.escape,
            self.name(),
            self.input.keyword.flags(),
        )
        .map_err(|e| self.problem(e.offset, e.message))?;
        for flag in &flags.0 {
            self.check(&flag.value, flag.offset)?;
        }
        let args = &self.text()[rest..];
        let trimmed = args.trim();
        let needs_arguments = !matches!(self.input.keyword, Keyword::Cmd | Keyword::Entrypoint);
        if trimmed.is_empty() && needs_arguments {
            return Err(self.problem(
                rest.min(self.text().len()),
                format!("{} needs arguments", self.name()),
            ));
        }
        Ok(match self.input.keyword {
            Keyword::From => Command::From(self.from(args, rest, &flags)?),
            Keyword::Run => Command::Run(self.run(args, rest, &flags)?),
            Keyword::Cmd => Command::Cmd(Cmd {
                command: self.command_line(args),
            }),
            Keyword::Entrypoint => Command::Entrypoint(Cmd {
                command: self.command_line(args),
            }),
            Keyword::Env => Command::Env(self.key_values(args, rest)?),
            Keyword::Label => Command::Label(self.key_values(args, rest)?),
            Keyword::Arg => Command::Arg(self.arg(args, rest)?),
            Keyword::Maintainer => Command::Maintainer(Maintainer {
                name: trimmed.to_string(),
            }),
            Keyword::Expose => Command::Expose(self.expose(args, rest)?),
            Keyword::Copy => Command::Copy(self.copy(args, rest, &flags)?),
            Keyword::Add => Command::Add(self.add(args, rest, &flags)?),
            Keyword::Workdir => Command::Workdir(Workdir {
                path: self.one_string(args, rest)?,
            }),
            Keyword::User => Command::User(User {
                user: self.one_word(args, rest)?,
            }),
            Keyword::Volume => Command::Volume(self.volume(args, rest)?),
            Keyword::Stopsignal => Command::Stopsignal(Stopsignal {
                signal: self.one_word(args, rest)?,
            }),
            Keyword::Healthcheck => Command::Healthcheck(self.healthcheck(args, rest, &flags)?),
            Keyword::Shell => Command::Shell(self.shell(args, rest)?),
            Keyword::Onbuild => Command::Onbuild(self.onbuild(args, rest)?),
        })
    }

    /// The exec form if the arguments are a JSON array of strings, else the shell form.
    fn command_line(&self, args: &str) -> CommandLine {
        match parse_string_array(args) {
            Some(Ok(argv)) => CommandLine::Exec { argv },
            Some(Err(problem)) => {
                explain!(
                    "line {}: {} starts with [ but is not a JSON array of strings ({}): taken as \
                     the shell form, as Docker does",
                    self.input.line.start().line,
                    self.name(),
                    problem.message
                );
                CommandLine::Shell {
                    text: args.trim().to_string(),
                }
            }
            None => CommandLine::Shell {
                text: args.trim().to_string(),
            },
        }
    }

    fn from(&self, args: &str, base: usize, flags: &Flags) -> Result<From, Problem> {
        let words = split_blanks(args, base);
        let image = words[0];
        self.check(image.text, image.offset)?;
        let name = match &words[1..] {
            [] => None,
            [as_word, name] if as_word.text.eq_ignore_ascii_case("as") => {
                let lower = name.text.to_ascii_lowercase();
                if !is_stage_name(&lower) {
                    return Err(self.problem(
                        name.offset,
                        format!(
                            "invalid stage name {:?}: it must start with a letter and hold only \
                             letters, digits, '-', '_' and '.'",
                            name.text
                        ),
                    ));
                }
                Some(lower)
            }
            [extra, ..] => return Err(self.problem(
                extra.offset,
                "FROM takes an image and optionally AS NAME: FROM [--platform=P] IMAGE [AS NAME]",
            )),
        };
        Ok(From {
            image: image.text.to_string(),
            name,
            platform: flags.value("platform"),
        })
    }

    fn run(&self, args: &str, _base: usize, flags: &Flags) -> Result<Run, Problem> {
        let mounts = flags
            .all("mount")
            .into_iter()
            .map(|flag| parse_mount(&flag.value).map_err(|m| self.problem(flag.offset, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let network = flags.value("network");
        if let Some(n) = network
            .as_deref()
            .filter(|n| !matches!(*n, "default" | "none" | "host"))
        {
            let offset = flags
                .0
                .iter()
                .find(|f| f.name == "network")
                .map_or(0, |f| f.offset);
            return Err(self.problem(offset, format!("--network={n}: use default, none or host")));
        }
        let security = flags.value("security");
        if let Some(s) = security
            .as_deref()
            .filter(|s| !matches!(*s, "sandbox" | "insecure"))
        {
            let offset = flags
                .0
                .iter()
                .find(|f| f.name == "security")
                .map_or(0, |f| f.offset);
            return Err(self.problem(offset, format!("--security={s}: use sandbox or insecure")));
        }
        // With heredocs the line is a shell script fragment, never JSON.
        let command = if self.input.heredocs.is_empty() {
            self.command_line(args)
        } else {
            CommandLine::Shell {
                text: args.trim().to_string(),
            }
        };
        Ok(Run {
            command,
            mounts,
            network,
            security,
            heredocs: self.input.heredocs.iter().map(|(_, h)| h.clone()).collect(),
        })
    }

    /// ENV and LABEL: `K=V K2="V 2"` or the legacy `K the rest of the line`.
    fn key_values(&self, args: &str, base: usize) -> Result<KeyValues, Problem> {
        let words = split_shell_words(args, base, self.input.escape);
        if !words[0].text.contains('=') {
            let first = words[0];
            let value_start = args[first.offset - base + first.text.len()..]
                .find(|c: char| !c.is_whitespace())
                .map(|i| first.offset + first.text.len() + i);
            let Some(value_start) = value_start else {
                return Err(self.problem(
                    first.offset,
                    format!(
                        "{} {} has no value: write {0} {1}=VALUE",
                        self.name(),
                        first.text
                    ),
                ));
            };
            let value = self.text()[value_start..].trim_end();
            self.check(first.text, first.offset)?;
            self.check(value, value_start)?;
            return Ok(KeyValues {
                pairs: vec![KeyValue {
                    key: first.text.to_string(),
                    value: value.to_string(),
                }],
                legacy_form: true,
            });
        }
        let mut pairs = Vec::new();
        for word in words {
            let Some((key, value)) = word.text.split_once('=') else {
                return Err(self.problem(
                    word.offset,
                    format!("{} expects NAME=VALUE, found {:?}", self.name(), word.text),
                ));
            };
            if key.is_empty() {
                return Err(self.problem(
                    word.offset,
                    format!("{} NAME=VALUE with an empty name", self.name()),
                ));
            }
            self.check(key, word.offset)?;
            self.check(value, word.offset + key.len() + 1)?;
            pairs.push(KeyValue {
                key: key.to_string(),
                value: value.to_string(),
            });
        }
        Ok(KeyValues {
            pairs,
            legacy_form: false,
        })
    }

    fn arg(&self, args: &str, base: usize) -> Result<Arg, Problem> {
        let mut decls = Vec::new();
        for word in split_shell_words(args, base, self.input.escape) {
            let (name, default) = match word.text.split_once('=') {
                Some((name, default)) => (name, Some(default)),
                None => (word.text, None),
            };
            if !is_variable_name(name) {
                return Err(self.problem(
                    word.offset,
                    format!("ARG {name:?}: a name is letters, digits and '_', not starting with a digit"),
                ));
            }
            if let Some(default) = default {
                self.check(default, word.offset + name.len() + 1)?;
            }
            decls.push(ArgDecl {
                name: name.to_string(),
                default: default.map(str::to_string),
                value: None,
            });
        }
        Ok(Arg { args: decls })
    }

    fn expose(&self, args: &str, base: usize) -> Result<Expose, Problem> {
        let mut ports = Vec::new();
        for word in split_blanks(args, base) {
            self.check(word.text, word.offset)?;
            if !word.text.contains('$') {
                normalize_port(word.text).map_err(|m| self.problem(word.offset, m))?;
            }
            ports.push(word.text.to_string());
        }
        Ok(Expose { ports })
    }

    /// The paths of COPY/ADD: a JSON array (needed for paths with spaces) or plain words,
    /// heredoc markers taken out (their bodies are in `heredocs`).
    fn paths(&self, args: &str, base: usize) -> Result<(Vec<String>, String), Problem> {
        let words: Vec<(String, usize)> = match parse_string_array(args) {
            Some(Ok(list)) => list.into_iter().map(|s| (s, base)).collect(),
            _ => split_blanks(args, base)
                .iter()
                .map(|w| (w.text.to_string(), w.offset))
                .collect(),
        };
        let is_heredoc = |word: &str, offset: usize| {
            self.input
                .heredocs
                .iter()
                .any(|(m, _)| m.offset == offset && m.word == word)
        };
        let Some((destination, destination_offset)) = words.last().cloned() else {
            return Err(self.problem(
                base,
                format!("{} needs a source and a destination", self.name()),
            ));
        };
        if is_heredoc(&destination, destination_offset) {
            return Err(self.problem(
                destination_offset,
                format!("{}: a heredoc cannot be the destination", self.name()),
            ));
        }
        if words.len() < 2 {
            return Err(self.problem(
                base,
                format!(
                    "{} needs at least one source and a destination",
                    self.name()
                ),
            ));
        }
        self.check(&destination, destination_offset)?;
        let mut sources = Vec::new();
        for (word, offset) in &words[..words.len() - 1] {
            if !is_heredoc(word, *offset) {
                self.check(word, *offset)?;
                sources.push(word.clone());
            }
        }
        Ok((sources, destination))
    }

    fn copy(&self, args: &str, base: usize, flags: &Flags) -> Result<Copy, Problem> {
        let (sources, destination) = self.paths(args, base)?;
        Ok(Copy {
            sources,
            destination,
            from: match flags.value("from") {
                Some(from) => CopyFrom::Unresolved { from },
                None => CopyFrom::Context,
            },
            chown: flags.value("chown"),
            chmod: flags.value("chmod"),
            link: flags.enabled("link"),
            parents: flags.enabled("parents"),
            exclude: flags
                .all("exclude")
                .iter()
                .map(|f| f.value.clone())
                .collect(),
            heredocs: self.input.heredocs.iter().map(|(_, h)| h.clone()).collect(),
        })
    }

    fn add(&self, args: &str, base: usize, flags: &Flags) -> Result<Add, Problem> {
        let (sources, destination) = self.paths(args, base)?;
        Ok(Add {
            sources: sources.into_iter().map(add_source).collect(),
            destination,
            chown: flags.value("chown"),
            chmod: flags.value("chmod"),
            link: flags.enabled("link"),
            checksum: flags.value("checksum"),
            keep_git_dir: flags.enabled("keep-git-dir"),
            unpack: flags.value("unpack").map(|v| v == "true"),
            exclude: flags
                .all("exclude")
                .iter()
                .map(|f| f.value.clone())
                .collect(),
            heredocs: self.input.heredocs.iter().map(|(_, h)| h.clone()).collect(),
        })
    }

    /// WORKDIR: the rest of the line is one path (it may contain spaces).
    fn one_string(&self, args: &str, base: usize) -> Result<String, Problem> {
        let lead = args.len() - args.trim_start().len();
        let value = args.trim();
        self.check(value, base + lead)?;
        Ok(value.to_string())
    }

    /// USER, STOPSIGNAL: exactly one word.
    fn one_word(&self, args: &str, base: usize) -> Result<String, Problem> {
        let words = split_blanks(args, base);
        if let Some(extra) = words.get(1) {
            return Err(self.problem(
                extra.offset,
                format!("{} takes exactly one argument", self.name()),
            ));
        }
        self.check(words[0].text, words[0].offset)?;
        Ok(words[0].text.to_string())
    }

    fn volume(&self, args: &str, base: usize) -> Result<Volume, Problem> {
        let paths: Vec<(String, usize)> = match parse_string_array(args) {
            Some(Ok(list)) => list.into_iter().map(|s| (s, base)).collect(),
            _ => split_blanks(args, base)
                .iter()
                .map(|w| (w.text.to_string(), w.offset))
                .collect(),
        };
        if paths.is_empty() || paths.iter().any(|(p, _)| p.trim().is_empty()) {
            return Err(self.problem(base, "VOLUME needs non-empty paths"));
        }
        for (path, offset) in &paths {
            self.check(path, *offset)?;
        }
        Ok(Volume {
            paths: paths.into_iter().map(|(p, _)| p).collect(),
        })
    }

    fn healthcheck(&self, args: &str, base: usize, flags: &Flags) -> Result<Healthcheck, Problem> {
        let words = split_blanks(args, base);
        let kind = words[0];
        if kind.text.eq_ignore_ascii_case("none") {
            if let Some(extra) = words.get(1) {
                return Err(self.problem(extra.offset, "HEALTHCHECK NONE takes no arguments"));
            }
            if let Some(flag) = flags.0.first() {
                return Err(self.problem(flag.offset, "HEALTHCHECK NONE takes no flags"));
            }
            return Ok(Healthcheck {
                disable: true,
                command: None,
                interval: None,
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: None,
            });
        }
        if !kind.text.eq_ignore_ascii_case("cmd") {
            return Err(self.problem(
                kind.offset,
                format!("HEALTHCHECK {}: expected NONE or CMD", kind.text),
            ));
        }
        let command_text = &self.text()[kind.offset + kind.text.len()..];
        if command_text.trim().is_empty() {
            return Err(self.problem(kind.offset, "HEALTHCHECK CMD needs a command"));
        }
        let duration = |name: &str| -> Result<Option<Duration>, Problem> {
            let Some(flag) = flags.0.iter().find(|f| f.name == name) else {
                return Ok(None);
            };
            let nanoseconds = parse_go_duration(&flag.value)
                .map_err(|m| self.problem(flag.offset, format!("--{name}: {m}")))?;
            if nanoseconds != 0 && nanoseconds < 1_000_000 {
                return Err(self.problem(flag.offset, format!("--{name} cannot be less than 1ms")));
            }
            Ok(Some(Duration {
                text: flag.value.clone(),
                nanoseconds,
            }))
        };
        let retries = match flags.0.iter().find(|f| f.name == "retries") {
            Some(flag) => Some(flag.value.parse::<u32>().map_err(|_| {
                self.problem(
                    flag.offset,
                    format!("--retries={}: a whole number is needed", flag.value),
                )
            })?),
            None => None,
        };
        Ok(Healthcheck {
            disable: false,
            command: Some(self.command_line(command_text)),
            interval: duration("interval")?,
            timeout: duration("timeout")?,
            start_period: duration("start-period")?,
            start_interval: duration("start-interval")?,
            retries,
        })
    }

    fn shell(&self, args: &str, base: usize) -> Result<Shell, Problem> {
        match parse_string_array(args) {
            Some(Ok(shell)) if !shell.is_empty() => Ok(Shell { shell }),
            Some(Ok(_)) => Err(self.problem(base, "SHELL needs at least the shell's executable")),
            Some(Err(problem)) => Err(self.problem(
                base + problem.offset,
                format!("SHELL requires a JSON array: {}", problem.message),
            )),
            None => {
                let lead = args.len() - args.trim_start().len();
                Err(self.problem(
                    base + lead,
                    r#"SHELL requires a JSON array, e.g. SHELL ["/bin/sh", "-c"]"#,
                ))
            }
        }
    }

    fn onbuild(&self, args: &str, base: usize) -> Result<Onbuild, Problem> {
        let first = split_blanks(args, base)[0];
        let keyword = Keyword::parse(first.text).ok_or_else(|| self.unknown(first))?;
        if matches!(
            keyword,
            Keyword::Onbuild | Keyword::From | Keyword::Maintainer
        ) {
            return Err(self.problem(
                first.offset,
                format!("{} is not allowed as an ONBUILD trigger", keyword.name()),
            ));
        }
        let inner = Input {
            line: self.input.line,
            keyword,
            args_offset: first.offset + first.text.len(),
            escape: self.input.escape,
            heredocs: Vec::new(),
        };
        Ok(Onbuild {
            trigger: args.trim().to_string(),
            command: Box::new(parse(&inner)?),
        })
    }

    fn unknown(&self, word: Word<'_>) -> Problem {
        unknown_instruction(self.input.line, word)
    }
}

/// "unknown instruction: RUNN (did you mean RUN?)".
pub fn unknown_instruction(line: &LogicalLine, word: Word<'_>) -> Problem {
    let hint = Keyword::suggest(word.text)
        .map(|k| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
    Problem::new(
        line.pos(word.offset),
        format!("unknown instruction: {}{hint}", word.text),
    )
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
