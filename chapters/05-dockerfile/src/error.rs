//! Errors that point at the source: `Dockerfile:3:5: unknown instruction: RUNN`, then the line
//! and a caret under the column, the way compilers do it. A learner (and a CI log) can see at
//! once *where* the Dockerfile is wrong, not just *that* it is.

use serde::Serialize;
use std::fmt;

/// A place in the Dockerfile: 1-based line and column (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }
}

/// What went wrong and where, before we know the file name. The parser's inner functions
/// return these; [`ParseError`] adds the file name and the offending line for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
}

impl Problem {
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        Problem {
            pos,
            message: message.into(),
        }
    }
}

/// A Dockerfile that cannot be parsed (or resolved): the file, the position, the message, and
/// the text of the offending line so the error can show it with a caret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    pub file: String,
    pub pos: Pos,
    pub message: String,
    pub source_line: String,
}

impl ParseError {
    /// Attach the file name and the offending line (taken from `source`) to a [`Problem`].
    pub fn from_problem(file: &str, source: &str, problem: Problem) -> Self {
        let source_line = source
            .split('\n')
            .nth(problem.pos.line.saturating_sub(1))
            .unwrap_or("")
            .trim_end_matches('\r')
            .trim_start_matches('\u{feff}')
            .to_string();
        ParseError {
            file: file.to_string(),
            pos: problem.pos,
            message: problem.message,
            source_line,
        }
    }
}

impl fmt::Display for ParseError {
    /// ```text
    /// Dockerfile:3:1: unknown instruction: RUNN (did you mean RUN?)
    ///   |
    /// 3 | RUNN echo hi
    ///   | ^
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.pos.line.to_string();
        let gutter = " ".repeat(number.len());
        // Keep tabs as tabs under the line so the caret lines up in any terminal.
        let under: String = self
            .source_line
            .chars()
            .take(self.pos.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(
            f,
            "{}:{}:{}: {}\n{gutter} |\n{number} | {}\n{gutter} | {under}^",
            self.file, self.pos.line, self.pos.column, self.message, self.source_line
        )
    }
}
