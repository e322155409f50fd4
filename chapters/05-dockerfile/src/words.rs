//! Splitting an instruction's arguments into words, the two ways Docker does it:
//! - [`split_blanks`]: on whitespace only, quotes mean nothing (COPY, ADD, EXPOSE, FROM,
//!   VOLUME's plain form). This is why the reference asks for the JSON form for paths with
//!   spaces: `COPY "a b" /x` is the two words `"a` and `b"`.
//! - [`split_shell_words`]: on whitespace outside quotes, escapes kept (ENV, LABEL, ARG,
//!   heredoc markers). Quotes stay in the words; substitution removes them later.

/// A word and the byte offset in the logical line where it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub offset: usize,
}

/// Words separated by whitespace. `base` is the offset of `text` in its logical line.
pub fn split_blanks(text: &str, base: usize) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                words.push(Word {
                    text: &text[s..i],
                    offset: base + s,
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    words
}

/// Words separated by whitespace outside single or double quotes; the escape character keeps
/// the character after it in the word (so `a\ b` is one word).
pub fn split_shell_words(text: &str, base: usize, escape: char) -> Vec<Word<'_>> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if start.is_none() {
            if c.is_whitespace() {
                continue;
            }
            start = Some(i);
        }
        if quote.is_none() && c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(Word {
                    text: &text[s..i],
                    offset: base + s,
                });
            }
            continue;
        }
        if c == escape {
            chars.next();
        } else if quote == Some(c) {
            quote = None;
        } else if quote.is_none() && (c == '\'' || c == '"') {
            quote = Some(c);
        }
    }
    if let Some(s) = start {
        words.push(Word {
            text: &text[s..],
            offset: base + s,
        });
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(words: Vec<Word<'_>>) -> Vec<&str> {
        words.into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn blanks_ignore_quotes() {
        assert_eq!(texts(split_blanks(" \"a b\"  c\t", 0)), ["\"a", "b\"", "c"]);
        assert_eq!(split_blanks("x  y", 10)[1].offset, 13);
    }

    #[test]
    fn shell_words_respect_quotes_and_escapes() {
        assert_eq!(
            texts(split_shell_words(r#"a="b c" d=e\ f 'g h'"#, 0, '\\')),
            [r#"a="b c""#, r"d=e\ f", "'g h'"]
        );
        assert_eq!(texts(split_shell_words("a=`  b", 0, '`')), ["a=` ", "b"]);
        assert_eq!(
            texts(split_shell_words("\"unterminated x", 0, '\\')),
            ["\"unterminated x"]
        );
    }
}
