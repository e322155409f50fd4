//! Heredocs: `RUN <<EOF`, `COPY <<EOF /etc/motd` (Dockerfile reference, "Here-Documents").
//!
//! A word of the form `[N]<<[-]NAME` in a RUN, COPY or ADD line announces a here-document:
//! the lines after the instruction, up to a line that is exactly `NAME`, are its content.
//! Several heredocs in one line are read one after the other. `<<-` strips leading tabs.
//! A quoted name (`<<"EOF"` or `<<'EOF'`) turns substitution off in the content.

use crate::words::split_shell_words;
use serde::Serialize;

/// A heredoc announced in an instruction line (before its body is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// The delimiter, quotes removed.
    pub name: String,
    /// `<<-`: leading tabs are stripped from the body and the delimiter line.
    pub strip_tabs: bool,
    /// False when the name was quoted: the content is taken literally.
    pub expand: bool,
    /// `3<<EOF` redirects file descriptor 3 (RUN only); `None` for plain `<<EOF`.
    pub fd: Option<u32>,
    /// The word as written (`<<-"EOF"`), and its byte offset in the logical line.
    pub word: String,
    pub offset: usize,
}

/// A heredoc with its body: part of the instruction in the AST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    pub name: String,
    pub strip_tabs: bool,
    pub expand: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<u32>,
    pub content: String,
}

/// The heredoc markers among the words of `args` (at byte `base` of the logical line).
pub fn markers(args: &str, base: usize, escape: char) -> Vec<Marker> {
    split_shell_words(args, base, escape)
        .into_iter()
        .filter_map(|word| {
            let digits = word.text.len()
                - word
                    .text
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            let rest = word.text[digits..].strip_prefix("<<")?;
            let (strip_tabs, spec) = match rest.strip_prefix('-') {
                Some(spec) => (true, spec),
                None => (false, rest),
            };
            if spec.is_empty() || spec.contains('<') {
                return None;
            }
            let quoted = spec.contains(['"', '\'']);
            let name: String = spec.chars().filter(|c| *c != '"' && *c != '\'').collect();
            if name.is_empty() {
                return None;
            }
            Some(Marker {
                name,
                strip_tabs,
                expand: !quoted,
                fd: word.text[..digits].parse().ok(),
                word: word.text.to_string(),
                offset: word.offset,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_with_their_options() {
        let found = markers(r#"<<EOF 3<<-"END" cat "<<NOT" <<'lit' a<<b"#, 4, '\\');
        let names: Vec<_> = found
            .iter()
            .map(|m| (m.name.as_str(), m.strip_tabs, m.expand, m.fd))
            .collect();
        assert_eq!(
            names,
            [
                ("EOF", false, true, None),
                ("END", true, false, Some(3)),
                ("lit", false, false, None)
            ]
        );
        assert_eq!(found[0].offset, 4);
    }

    #[test]
    fn not_markers() {
        assert!(markers("<< EOF <<<here <<", 0, '\\').is_empty());
    }
}
