//! From the file's bytes to *logical lines*: one per instruction.
//!
//! Docker reads a Dockerfile line by line (Dockerfile reference, "Format"):
//! - blank lines and lines whose first non-blank character is `#` are skipped (a `#` later in
//!   a line is not a comment: `RUN echo # hi` echoes `# hi`);
//! - a line ending with the escape character (`\`, or `` ` `` after `# escape=\``), possibly
//!   followed by spaces, continues on the next line. The escape character is removed and the
//!   next line is appended *as is*, leading spaces included, with no separator;
//! - inside a continuation, comment lines are dropped and blank lines are skipped (Docker warns
//!   that empty continuation lines are deprecated; we narrate it with `--explain`);
//! - heredoc bodies (`RUN <<EOF`) are taken raw, line by line, until the delimiter line.
//!
//! A [`LogicalLine`] remembers where each piece came from, so an error in the joined text can
//! still name the original line and column.

use crate::error::Pos;
use ch01_namespaces::explain;

/// One instruction's text with continuations joined, and a map back to the source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogicalLine {
    pub text: String,
    /// Where each piece starts: (byte offset in `text`, source line, source column).
    pieces: Vec<(usize, usize, usize)>,
}

impl LogicalLine {
    fn push(&mut self, piece: &str, line: usize, column: usize) {
        self.pieces.push((self.text.len(), line, column));
        self.text.push_str(piece);
    }

    /// The source position of byte `offset` of [`text`](Self::text).
    pub fn pos(&self, offset: usize) -> Pos {
        let Some(&(start, line, column)) = self
            .pieces
            .iter()
            .rev()
            .find(|(start, _, _)| *start <= offset)
        else {
            return Pos::new(1, 1);
        };
        let chars = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(0, |s| s.chars().count());
        Pos::new(line, column + chars)
    }

    /// Where the instruction starts.
    pub fn start(&self) -> Pos {
        self.pos(0)
    }

    /// The last source line the instruction's text came from.
    pub fn last_line(&self) -> usize {
        self.pieces.last().map_or(1, |&(_, line, _)| line)
    }
}

/// Reads physical lines and hands out logical lines and heredoc bodies, in file order.
pub struct LineReader<'a> {
    lines: Vec<&'a str>,
    next: usize,
    escape: char,
}

impl<'a> LineReader<'a> {
    pub fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines = text
            .split('\n')
            .map(|line| line.strip_suffix('\r').unwrap_or(line))
            .collect();
        LineReader {
            lines,
            next: 0,
            escape: '\\',
        }
    }

    /// Use this escape character from now on (after the `escape` directive).
    pub fn set_escape(&mut self, escape: char) {
        self.escape = escape;
    }

    /// The next physical line and its 1-based number, without consuming it.
    pub fn peek(&self) -> Option<(usize, &'a str)> {
        self.lines.get(self.next).map(|line| (self.next + 1, *line))
    }

    /// The next physical line and its 1-based number.
    pub fn take(&mut self) -> Option<(usize, &'a str)> {
        let line = self.peek()?;
        self.next += 1;
        Some(line)
    }

    /// How many physical lines have been read (the number of the last one read).
    pub fn consumed(&self) -> usize {
        self.next
    }

    /// The next instruction, continuations joined; `None` at the end of the file.
    pub fn next_logical(&mut self) -> Option<LogicalLine> {
        // exercise 05.1: join continuation lines into one logical line
        let (mut number, raw) = self.next_instruction_start()?;
        let indent = raw.len() - trim_blank_start(raw).len();
        let mut piece = &raw[indent..];
        let mut column = indent + 1;
        let mut logical = LogicalLine::default();
        loop {
            let (content, continues) = split_continuation(piece, self.escape);
            logical.push(content, number, column);
            if !continues {
                break;
            }
            match self.next_continuation_line() {
                Some((n, text)) => {
                    explain!(
                        "line {n}: joined to line {} (continuation)",
                        logical.start().line
                    );
                    (number, piece, column) = (n, text, 1);
                }
                None => break,
            }
        }
        Some(logical)
        // end of exercise 05.1
    }

    /// Skip blank and comment lines up to the first line of an instruction.
    fn next_instruction_start(&mut self) -> Option<(usize, &'a str)> {
        while let Some((number, raw)) = self.take() {
            let trimmed = trim_blank_start(raw);
            if trimmed.is_empty() {
                continue;
            }
            if trimmed.starts_with('#') {
                explain!("line {number}: comment");
                continue;
            }
            return Some((number, raw));
        }
        None
    }

    /// The next line that continues an instruction: comments inside a continuation are
    /// dropped, blank lines skipped.
    fn next_continuation_line(&mut self) -> Option<(usize, &'a str)> {
        while let Some((number, raw)) = self.take() {
            let trimmed = trim_blank_start(raw);
            if trimmed.starts_with('#') {
                explain!("line {number}: comment inside a continuation, dropped");
            } else if trimmed.is_empty() {
                explain!(
                    "line {number}: empty continuation line skipped (Docker warns: deprecated)"
                );
            } else {
                return Some((number, raw));
            }
        }
        None
    }

    /// A heredoc body: the lines up to (not including) the one equal to `delimiter`. With
    /// `strip_tabs` (`<<-EOF`) leading tabs are removed from the body and the delimiter line.
    /// `None` when the file ends first.
    pub fn read_heredoc(&mut self, delimiter: &str, strip_tabs: bool) -> Option<String> {
        let mut body = String::new();
        while let Some((_, raw)) = self.take() {
            let line = if strip_tabs {
                raw.trim_start_matches('\t')
            } else {
                raw
            };
            if line == delimiter {
                return Some(body);
            }
            body.push_str(line);
            body.push('\n');
        }
        None
    }
}

fn trim_blank_start(line: &str) -> &str {
    line.trim_start_matches([' ', '\t'])
}

/// `("RUN a ", true)` for `RUN a \` followed by blanks: the escape character and what follows
/// it are removed; what comes before is kept.
fn split_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    match trimmed.strip_suffix(escape) {
        Some(content) => (content, true),
        None => (line, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logical(text: &str) -> Vec<String> {
        let mut reader = LineReader::new(text);
        std::iter::from_fn(|| reader.next_logical())
            .map(|l| l.text)
            .collect()
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        assert_eq!(
            logical("# c\n\nFROM a\n   # indented comment\nRUN b # not a comment\n"),
            ["FROM a", "RUN b # not a comment"]
        );
    }

    #[test]
    fn continuations_keep_the_next_lines_leading_blanks() {
        assert_eq!(
            logical("RUN apt-get update && \\\n    apt-get install x\n"),
            ["RUN apt-get update &&     apt-get install x"]
        );
    }

    #[test]
    fn comments_and_blank_lines_inside_a_continuation_are_dropped() {
        assert_eq!(
            logical("RUN a \\\n# comment\n\n  b \\  \n c\nEXPOSE 1"),
            ["RUN a   b  c", "EXPOSE 1"]
        );
    }

    #[test]
    fn a_continuation_at_the_end_of_the_file_just_ends() {
        assert_eq!(logical("RUN a \\"), ["RUN a "]);
    }

    #[test]
    fn positions_map_back_through_continuations() {
        let mut reader = LineReader::new("\n  RUN a \\\n  b");
        let line = reader.next_logical().unwrap();
        assert_eq!(line.start(), Pos::new(2, 3));
        let b = line.text.find('b').unwrap();
        assert_eq!(line.pos(b), Pos::new(3, 3));
        assert_eq!(line.last_line(), 3);
    }

    #[test]
    fn crlf_and_bom_are_ignored() {
        assert_eq!(logical("\u{feff}FROM a\r\nRUN b\r\n"), ["FROM a", "RUN b"]);
    }

    #[test]
    fn heredoc_bodies_are_raw_and_can_strip_tabs() {
        let mut reader = LineReader::new("# x\n\t\tline\n\tEOF\nnext");
        assert_eq!(reader.read_heredoc("EOF", true).unwrap(), "# x\nline\n");
        let mut reader = LineReader::new("a\nEOFX\n");
        assert_eq!(reader.read_heredoc("EOF", false), None);
    }
}
