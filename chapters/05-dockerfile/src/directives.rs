//! Parser directives: `# escape=\``, `# syntax=...`, `# check=...`.
//!
//! They look like comments and are only directives at the very top of the file: once a
//! comment, a blank line or an instruction has been seen, a line like `# escape=\`` is an
//! ordinary comment again (Dockerfile reference, "Parser directives"). An unknown directive
//! is a comment too, and it ends the directive block like any comment. A directive may
//! appear only once.

use crate::error::{Pos, Problem};
use serde::Serialize;

/// The directives found at the top of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directives {
    /// The escape character: `\` (the default) or `` ` `` (handy on Windows paths).
    pub escape: char,
    /// The frontend image BuildKit would use (`docker/dockerfile:1`). Recorded, not acted on:
    /// this parser *is* our frontend.
    pub syntax: Option<String>,
    /// Build check configuration (`skip=...;error=true`). Recorded, not acted on.
    pub check: Option<String>,
    /// Whether `escape` was written (the default `\` alone cannot tell us).
    #[serde(skip)]
    escape_given: bool,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
            escape_given: false,
        }
    }
}

/// A `# key=value` line split into its key and value, if it has that shape.
pub fn directive_shape(line: &str) -> Option<(String, String)> {
    let rest = line.trim_start_matches([' ', '\t']).strip_prefix('#')?;
    let (key, value) = rest.split_once('=')?;
    let key = key.trim_matches([' ', '\t']);
    let value = value.trim_matches([' ', '\t']);
    let mut chars = key.chars();
    let starts_alpha = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_alpha || !chars.all(|c| c.is_ascii_alphanumeric()) || value.is_empty() {
        return None;
    }
    Some((key.to_ascii_lowercase(), value.to_string()))
}

impl Directives {
    /// Record one known directive found on line `line`. Returns `Ok(false)` if `key` is not a
    /// directive we know (then the line is a comment and the directive block is over).
    pub fn record(&mut self, key: &str, value: &str, line: usize) -> Result<bool, Problem> {
        let seen_twice = || {
            Problem::new(
                Pos::new(line, 1),
                format!("only one {key} parser directive can be used"),
            )
        };
        match key {
            "escape" => {
                if self.escape_given {
                    return Err(seen_twice());
                }
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    other => {
                        return Err(Problem::new(
                            Pos::new(line, 1),
                            format!("invalid escape token '{other}': it must be \\ or `"),
                        ))
                    }
                };
                self.escape_given = true;
            }
            "syntax" if self.syntax.is_some() => return Err(seen_twice()),
            "syntax" => self.syntax = Some(value.to_string()),
            "check" if self.check.is_some() => return Err(seen_twice()),
            "check" => self.check = Some(value.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }
}
