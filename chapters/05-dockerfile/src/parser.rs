//! The parser's driver: directives, then one instruction per logical line.
//!
//! ```text
//! bytes ─► physical lines ─► directives (top only) ─► logical lines (continuations joined,
//!          comments dropped) ─► keyword + flags + arguments ─► heredoc bodies ─► Instruction
//! ```
//!
//! The result is the Dockerfile *as written*. [`crate::resolve`] then substitutes variables
//! and binds stages, which needs the build arguments.

use crate::ast::{Command, Instruction};
use crate::directives::{directive_shape, Directives};
use crate::error::{ParseError, Pos, Problem};
use crate::heredoc;
use crate::instruction::{self, unknown_instruction, Input};
use crate::keyword::Keyword;
use crate::lines::LineReader;
use crate::words::split_blanks;
use ch01_namespaces::explain;
use serde::Serialize;

/// A parsed Dockerfile: its directives and instructions, values as written.
#[derive(Debug, Clone, Serialize)]
pub struct Dockerfile {
    pub file: String,
    pub directives: Directives,
    pub instructions: Vec<Instruction>,
    /// The text, kept to show the offending line of errors found later.
    #[serde(skip)]
    pub source: String,
}

impl Dockerfile {
    /// An error at `problem.pos` in this file, with its line for display.
    pub fn error(&self, problem: Problem) -> ParseError {
        ParseError::from_problem(&self.file, &self.source, problem)
    }
}

/// Parse the text of a Dockerfile; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    parse_text(text)
        .map(|(directives, instructions)| Dockerfile {
            file: file.to_string(),
            directives,
            instructions,
            source: text.to_string(),
        })
        .map_err(|problem| ParseError::from_problem(file, text, problem))
}

fn parse_text(text: &str) -> Result<(Directives, Vec<Instruction>), Problem> {
    let mut reader = LineReader::new(text);
    let directives = read_directives(&mut reader)?;
    reader.set_escape(directives.escape);
    let mut instructions = Vec::new();
    while let Some(line) = reader.next_logical() {
        let Some(&first) = split_blanks(&line.text, 0).first() else {
            continue;
        };
        let keyword =
            Keyword::parse(first.text).ok_or_else(|| unknown_instruction(&line, first))?;
        let args_offset = first.offset + first.text.len();
        let mut heredocs = Vec::new();
        if keyword.allows_heredocs() {
            for marker in
                heredoc::markers(&line.text[args_offset..], args_offset, directives.escape)
            {
                let body = reader
                    .read_heredoc(&marker.name, marker.strip_tabs)
                    .ok_or_else(|| {
                        Problem::new(
                            line.pos(marker.offset),
                            format!(
                                "unterminated heredoc {}: no line {:?} before the end of the file",
                                marker.word, marker.name
                            ),
                        )
                    })?;
                let count = body.lines().count();
                explain!(
                    "line {}: heredoc {} read ({count} line{}){}",
                    line.start().line,
                    marker.word,
                    if count == 1 { "" } else { "s" },
                    if marker.expand {
                        ""
                    } else {
                        ", quoted: no substitution"
                    }
                );
                let body = heredoc::Heredoc {
                    name: marker.name.clone(),
                    strip_tabs: marker.strip_tabs,
                    expand: marker.expand,
                    fd: marker.fd,
                    content: body,
                };
                heredocs.push((marker, body));
            }
        }
        let had_heredocs = !heredocs.is_empty();
        let command = instruction::parse(&Input {
            line: &line,
            keyword,
            args_offset,
            escape: directives.escape,
            heredocs,
        })?;
        let start = line.start();
        explain!("line {}: {} instruction", start.line, keyword.name());
        instructions.push(Instruction {
            line: start.line,
            column: start.column,
            end_line: if had_heredocs {
                reader.consumed()
            } else {
                line.last_line()
            },
            effect: command.effect(),
            command,
            source: line.text.trim_end().to_string(),
            logical: line,
        });
    }
    check_stage_order(&instructions)?;
    Ok((directives, instructions))
}

/// Read the parser directives at the top of the file (and nothing else).
fn read_directives(reader: &mut LineReader<'_>) -> Result<Directives, Problem> {
    let mut directives = Directives::default();
    while let Some((number, line)) = reader.peek() {
        let Some((key, value)) = directive_shape(line) else {
            break;
        };
        if !directives.record(&key, &value, number)? {
            explain!(
                "line {number}: unknown directive {key:?}: a comment, and the end of directives"
            );
            break;
        }
        explain!("line {number}: parser directive {key}={value}");
        reader.take();
    }
    Ok(directives)
}

/// A Dockerfile must have instructions, and only ARG may come before the first FROM.
fn check_stage_order(instructions: &[Instruction]) -> Result<(), Problem> {
    let Some(first) = instructions.first() else {
        return Err(Problem::new(
            Pos::new(1, 1),
            "the Dockerfile has no instructions (it needs at least a FROM)",
        ));
    };
    match instructions.iter().find(|i| !matches!(i.command, Command::Arg(_))) {
        Some(i) if matches!(i.command, Command::From(_)) => Ok(()),
        Some(i) => Err(Problem::new(
            i.pos(),
            format!(
                "{} before the first FROM: a build stage starts with FROM (only ARG may come before it)",
                i.command.keyword()
            ),
        )),
        None => Err(Problem::new(
            first.pos(),
            "no FROM: the Dockerfile declares ARGs but no build stage",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::CommandLine;

    fn commands(text: &str) -> Vec<Command> {
        parse("Dockerfile", text)
            .unwrap()
            .instructions
            .into_iter()
            .map(|i| i.command)
            .collect()
    }

    fn error(text: &str) -> (usize, usize, String) {
        let e = parse("Dockerfile", text).unwrap_err();
        (e.pos.line, e.pos.column, e.message)
    }

    #[test]
    fn directives_count_only_at_the_top() {
        let df = parse("Dockerfile", "# escape=`\nFROM a\nRUN x `\n  y\n").unwrap();
        assert_eq!(df.directives.escape, '`');
        let df = parse("Dockerfile", "\n# escape=`\nFROM a\n").unwrap();
        assert_eq!(
            df.directives.escape, '\\',
            "a blank line ends the directives"
        );
        let df = parse("Dockerfile", "FROM a\n# escape=`\n").unwrap();
        assert_eq!(df.directives.escape, '\\');
    }

    #[test]
    fn positions_and_end_lines() {
        let df = parse(
            "Dockerfile",
            "FROM a\n\n  RUN <<EOF\nx\nEOF\nCMD b \\\n  c\n",
        )
        .unwrap();
        let spans: Vec<_> = df
            .instructions
            .iter()
            .map(|i| (i.line, i.column, i.end_line))
            .collect();
        assert_eq!(spans, [(1, 1, 1), (3, 3, 5), (6, 1, 7)]);
    }

    #[test]
    fn onbuild_stores_its_trigger_and_refuses_some() {
        let Command::Onbuild(onbuild) = &commands("FROM a\nONBUILD RUN make\n")[1] else {
            panic!("not ONBUILD");
        };
        assert_eq!(onbuild.trigger, "RUN make");
        assert!(matches!(*onbuild.command, Command::Run(_)));
        for bad in ["ONBUILD", "FROM", "MAINTAINER"] {
            let (_, column, message) = error(&format!("FROM a\nONBUILD {bad} x\n"));
            assert_eq!(column, 9);
            assert!(
                message.contains("not allowed as an ONBUILD trigger"),
                "{message}"
            );
        }
    }

    #[test]
    fn only_arg_may_come_before_from() {
        assert!(parse("Dockerfile", "ARG A\nARG B=1\nFROM a\n").is_ok());
        assert_eq!(error("ENV A=1\nFROM a\n").0, 1);
        assert_eq!(
            error("").2,
            "the Dockerfile has no instructions (it needs at least a FROM)"
        );
    }

    #[test]
    fn env_forms() {
        let Command::Env(env) = &commands("FROM a\nENV A \"b c\"  d\n")[1] else {
            panic!("not ENV");
        };
        assert!(env.legacy_form);
        assert_eq!(env.pairs[0].value, "\"b c\"  d");
        assert_eq!(
            error("FROM a\nENV A\n").2,
            "ENV A has no value: write ENV A=VALUE"
        );
    }

    #[test]
    fn exec_and_shell_forms() {
        let cmds = commands("FROM a\nCMD [\"a\"]\nCMD [a]\nRUN <<X [\"no\"]\nbody\nX\n");
        let forms: Vec<_> = cmds[1..]
            .iter()
            .map(|c| match c {
                Command::Cmd(c) => c.command.clone(),
                Command::Run(r) => r.command.clone(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            forms[0],
            CommandLine::Exec {
                argv: vec!["a".into()]
            }
        );
        assert_eq!(forms[1], CommandLine::Shell { text: "[a]".into() });
        assert!(
            matches!(forms[2], CommandLine::Shell { .. }),
            "heredoc lines are shell"
        );
    }

    #[test]
    fn heredoc_as_copy_destination_is_refused() {
        let (line, column, message) = error("FROM a\nCOPY x <<EOF\nbody\nEOF\n");
        assert_eq!((line, column), (2, 8));
        assert!(message.contains("cannot be the destination"));
    }
}
