//! The JSON-array ("exec") form: `CMD ["nginx", "-g", "daemon off;"]`.
//!
//! RUN, CMD, ENTRYPOINT, HEALTHCHECK CMD and VOLUME take either a JSON array of strings or
//! plain text. Docker tries JSON when the arguments start with `[`; if that is not a valid
//! array of strings (single quotes, a missing comma, text after `]`), it silently treats the
//! whole thing as the shell form, because it might be valid shell (moby/moby#32074). SHELL
//! has no shell form, so for SHELL bad JSON is an error.

/// Why text starting with `[` is not a JSON array of strings, and where (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonProblem {
    pub offset: usize,
    pub message: String,
}

/// `None` if `text` does not look like JSON (no leading `[`); otherwise the parsed array or
/// what is wrong with it.
pub fn parse_string_array(text: &str) -> Option<Result<Vec<String>, JsonProblem>> {
    let trimmed = text.trim();
    if !trimmed.starts_with('[') {
        return None;
    }
    let lead = text.len() - text.trim_start().len();
    Some(
        serde_json::from_str::<Vec<serde_json::Value>>(trimmed)
            .map_err(|e| JsonProblem {
                offset: lead + offset_of(trimmed, e.line(), e.column()),
                message: format!("invalid JSON: {e}"),
            })
            .and_then(|values| {
                values
                    .into_iter()
                    .map(|value| match value {
                        serde_json::Value::String(s) => Ok(s),
                        other => Err(JsonProblem {
                            offset: lead,
                            message: format!("a JSON array of strings is needed, found {other}"),
                        }),
                    })
                    .collect()
            }),
    )
}

/// serde_json's 1-based line/column to a byte offset (the text is one logical line, but may
/// hold newlines from a heredoc-free continuation; handle it anyway).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let in_line = text[line_start..]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(text.len() - line_start, |(i, _)| i);
    (line_start + in_line).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_of_strings_parse() {
        assert_eq!(
            parse_string_array(r#" ["a", "b c"] "#),
            Some(Ok(vec!["a".to_string(), "b c".to_string()]))
        );
        assert_eq!(parse_string_array("echo [x]"), None);
    }

    #[test]
    fn bad_json_says_where() {
        let problem = parse_string_array("['a']").unwrap().unwrap_err();
        assert_eq!(problem.offset, 1);
        let problem = parse_string_array(r#"["a", 1]"#).unwrap().unwrap_err();
        assert!(problem.message.contains("array of strings"), "{problem:?}");
        assert!(parse_string_array(r#"["a"] x"#).unwrap().is_err());
    }
}
