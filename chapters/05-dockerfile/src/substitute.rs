//! Variable substitution, the way the Dockerfile frontend does it (Dockerfile reference,
//! "Environment replacement"): `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}`, `${VAR?message}`; quotes are removed as a
//! shell would (`'...'` is literal, `"..."` still substitutes); the escape character makes the
//! next character literal (`\$HOME` is the text `$HOME`).
//!
//! With the colon, "unset" and "empty" are treated alike; without it, only "unset" counts:
//!
//! | form | VAR unset | VAR empty | VAR=x |
//! |---|---|---|---|
//! | `${VAR:-d}` | d | d | x |
//! | `${VAR-d}`  | d | (empty) | x |
//! | `${VAR:+a}` | (empty) | (empty) | a |
//! | `${VAR+a}`  | (empty) | a | a |
//!
//! And the pattern forms of newer Dockerfile syntax: `${VAR#pat}` / `${VAR##pat}` remove the
//! shortest / longest matching prefix, `${VAR%pat}` / `${VAR%%pat}` a suffix,
//! `${VAR/pat/rep}` replaces the first match and `${VAR//pat/rep}` all of them (`*`, `?`,
//! `[...]` as in the shell; a quoted `*` in a pattern is still a wildcard here).
//!
//! The Dockerfile substitutes in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME,
//! WORKDIR (and in their flags); *not* in RUN, CMD or ENTRYPOINT: there the shell does it
//! when the container runs.

use crate::glob::word_match;

/// A variable used during a substitution, and the value it had (`None`: unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub name: String,
    pub value: Option<String>,
}

/// A substitution that failed, `offset` bytes into the word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordError {
    pub offset: usize,
    pub message: String,
}

/// How quotes are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quotes {
    /// Remove them as a shell would (instruction arguments).
    Process,
    /// Keep them as text; only `$` forms and `\$` are processed (heredoc bodies of COPY/ADD).
    Keep,
}

/// The result of substituting one word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    pub used: Vec<Use>,
}

/// Substitute the variables of `word`, looking names up with `lookup`.
pub fn expand(
    word: &str,
    escape: char,
    quotes: Quotes,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, WordError> {
    let mut lexer = Lexer {
        chars: word.char_indices().collect(),
        end: word.len(),
        i: 0,
        escape,
        quotes,
        lookup,
        used: Vec::new(),
        depth: 0,
    };
    let text = lexer.word(&[])?;
    Ok(Expanded {
        text,
        used: lexer.used,
    })
}

/// Check `word`'s syntax (quotes closed, `${...}` well formed) without knowing any value.
pub fn check(word: &str, escape: char) -> Result<(), WordError> {
    expand(word, escape, Quotes::Process, &|_| Some("x".to_string())).map(|_| ())
}

struct Lexer<'a> {
    chars: Vec<(usize, char)>,
    end: usize,
    i: usize,
    escape: char,
    quotes: Quotes,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    used: Vec<Use>,
    /// How many `${...:-` we are inside: bounded, so no input can exhaust the stack.
    depth: usize,
}

/// Deeper nesting than this is refused rather than recursed into.
const MAX_DEPTH: usize = 32;

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).map(|&(_, c)| c)
    }

    fn offset(&self) -> usize {
        self.chars.get(self.i).map_or(self.end, |&(o, _)| o)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn error(offset: usize, message: impl Into<String>) -> WordError {
        WordError {
            offset,
            message: message.into(),
        }
    }

    /// Text up to the end, or up to (not including) one of `stops`, for the words inside
    /// `${VAR:-...}` (stop at `}`) or `${VAR/pattern/...}` (stop at `/` or `}`).
    fn word(&mut self, stops: &[char]) -> Result<String, WordError> {
        let mut out = String::new();
        loop {
            let offset = self.offset();
            let Some(c) = self.peek() else {
                return match stops.is_empty() {
                    false => Err(Self::error(offset, "missing '}' in ${...}")),
                    true => Ok(out),
                };
            };
            if stops.contains(&c) {
                return Ok(out);
            }
            self.i += 1;
            match c {
                c if c == self.escape => self.escaped(&mut out),
                '\'' if self.quotes == Quotes::Process => self.single_quoted(offset, &mut out)?,
                '"' if self.quotes == Quotes::Process => self.double_quoted(offset, &mut out)?,
                '$' => out.push_str(&self.dollar(offset)?),
                c => out.push(c),
            }
        }
    }

    fn escaped(&mut self, out: &mut String) {
        match self.bump() {
            // An escape character at the very end is dropped, as Docker does.
            None => {}
            Some(next) => {
                if self.quotes == Quotes::Keep && next != '$' {
                    out.push(self.escape);
                }
                out.push(next);
            }
        }
    }

    fn single_quoted(&mut self, open: usize, out: &mut String) -> Result<(), WordError> {
        loop {
            match self.bump() {
                None => return Err(Self::error(open, "unterminated single quote")),
                Some('\'') => return Ok(()),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self, open: usize, out: &mut String) -> Result<(), WordError> {
        loop {
            let offset = self.offset();
            match self.bump() {
                None => return Err(Self::error(open, "unterminated double quote")),
                Some('"') => return Ok(()),
                Some('$') => out.push_str(&self.dollar(offset)?),
                Some(c) if c == self.escape => match self.peek() {
                    // Inside double quotes only `"`, `$` and the escape itself are escapable.
                    Some(n) if n == '"' || n == '$' || n == self.escape => {
                        self.i += 1;
                        out.push(n);
                    }
                    _ => out.push(c),
                },
                Some(c) => out.push(c),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            // `$1`: positional parameters are one digit, as in sh.
            name.push(self.bump().unwrap_or('0'));
            return name;
        }
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        {
            name.push(c);
            self.i += 1;
        }
        name
    }

    fn value_of(&mut self, name: &str) -> Option<String> {
        let value = (self.lookup)(name);
        self.used.push(Use {
            name: name.to_string(),
            value: value.clone(),
        });
        value
    }

    /// After a `$` at `dollar`: `$NAME`, `${...}`, or a lone `$`.
    fn dollar(&mut self, dollar: usize) -> Result<String, WordError> {
        match self.peek() {
            Some('{') => {
                self.i += 1;
                self.braced(dollar)
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let name = self.name();
                Ok(self.value_of(&name).unwrap_or_default())
            }
            _ => Ok("$".to_string()),
        }
    }

    fn braced(&mut self, dollar: usize) -> Result<String, WordError> {
        let name = self.name();
        if name.is_empty() {
            return Err(Self::error(
                dollar,
                "bad substitution: ${ must be followed by a name",
            ));
        }
        match self.bump() {
            None => Err(Self::error(dollar, format!("missing '}}' in ${{{name}"))),
            Some('}') => Ok(self.value_of(&name).unwrap_or_default()),
            Some(':') => match self.bump() {
                Some(op @ ('-' | '+' | '?')) => {
                    self.default_or_alternative(dollar, &name, true, op)
                }
                other => Err(Self::unsupported(dollar, &name, ":", other)),
            },
            Some(op @ ('-' | '+' | '?')) => self.default_or_alternative(dollar, &name, false, op),
            Some(op @ ('#' | '%')) => {
                let longest = self.peek() == Some(op);
                if longest {
                    self.i += 1;
                }
                self.remove_affix(dollar, &name, op, longest)
            }
            Some('/') => {
                let all = self.peek() == Some('/');
                if all {
                    self.i += 1;
                }
                self.replace(dollar, &name, all)
            }
            other => Err(Self::unsupported(dollar, &name, "", other)),
        }
    }

    fn unsupported(dollar: usize, name: &str, colon: &str, op: Option<char>) -> WordError {
        let shown = op.map(String::from).unwrap_or_default();
        Self::error(
            dollar,
            format!(
                "unsupported modifier '{colon}{shown}' in ${{{name}...}}: use :- - :+ + :? ? # ## % %% / or //"
            ),
        )
    }

    /// The word inside `${...}`, up to one of `stops` (not consumed); nesting is bounded.
    fn nested(&mut self, dollar: usize, stops: &[char]) -> Result<String, WordError> {
        if self.depth >= MAX_DEPTH {
            return Err(Self::error(dollar, "substitutions nested too deeply"));
        }
        self.depth += 1;
        let word = self.word(stops);
        self.depth -= 1;
        word
    }

    /// `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`, `${VAR:?word}`, `${VAR?word}`.
    fn default_or_alternative(
        &mut self,
        dollar: usize,
        name: &str,
        colon: bool,
        operator: char,
    ) -> Result<String, WordError> {
        // exercise 05.2: the ${VAR:-word} family: default, alternative, required
        let word = self.nested(dollar, &['}'])?;
        self.i += 1; // the closing brace
        let value = self.value_of(name);
        let counts_as_set = if colon {
            value.as_deref().is_some_and(|v| !v.is_empty())
        } else {
            value.is_some()
        };
        Ok(match (operator, counts_as_set) {
            ('-', true) => value.unwrap_or_default(),
            ('-', false) => word,
            ('+', true) => word,
            ('+', false) => String::new(),
            ('?', true) => value.unwrap_or_default(),
            _ => {
                let message = if word.is_empty() {
                    "parameter not set or null".to_string()
                } else {
                    word
                };
                return Err(Self::error(dollar, format!("{name}: {message}")));
            }
        })
        // end of exercise 05.2
    }

    /// `${VAR#pattern}` / `${VAR##pattern}` remove the shortest / longest prefix matching the
    /// pattern; `%` and `%%` do the same with a suffix.
    fn remove_affix(
        &mut self,
        dollar: usize,
        name: &str,
        operator: char,
        longest: bool,
    ) -> Result<String, WordError> {
        let pattern: Vec<char> = self.nested(dollar, &['}'])?.chars().collect();
        self.i += 1; // the closing brace
        let value: Vec<char> = self.value_of(name).unwrap_or_default().chars().collect();
        let n = value.len();
        let mut lengths: Vec<usize> = (0..=n).collect();
        if longest {
            lengths.reverse();
        }
        for length in lengths {
            let (removed, kept) = if operator == '#' {
                (&value[..length], &value[length..])
            } else {
                (&value[n - length..], &value[..n - length])
            };
            if word_match(&pattern, removed) {
                return Ok(kept.iter().collect());
            }
        }
        Ok(value.iter().collect())
    }

    /// `${VAR/pattern/replacement}` replaces the first longest match; `//` replaces them all.
    fn replace(&mut self, dollar: usize, name: &str, all: bool) -> Result<String, WordError> {
        let pattern: Vec<char> = self.nested(dollar, &['/', '}'])?.chars().collect();
        let replacement = if self.peek() == Some('/') {
            self.i += 1;
            self.nested(dollar, &['}'])?
        } else {
            String::new()
        };
        self.i += 1; // the closing brace
        let value: Vec<char> = self.value_of(name).unwrap_or_default().chars().collect();
        if pattern.is_empty() {
            return Ok(value.iter().collect());
        }
        let mut out = String::new();
        let mut i = 0;
        let mut replaced = false;
        while i < value.len() {
            let found = (!replaced || all)
                .then(|| {
                    (1..=value.len() - i)
                        .rev()
                        .find(|&l| word_match(&pattern, &value[i..i + l]))
                })
                .flatten();
            match found {
                Some(length) => {
                    out.push_str(&replacement);
                    i += length;
                    replaced = true;
                }
                None => {
                    out.push(value[i]);
                    i += 1;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "X" => Some("x".into()),
            "EMPTY" => Some(String::new()),
            "SPACE" => Some("a b".into()),
            _ => None,
        }
    }

    fn sub(word: &str) -> String {
        expand(word, '\\', Quotes::Process, &env).unwrap().text
    }

    fn fail(word: &str) -> WordError {
        expand(word, '\\', Quotes::Process, &env).unwrap_err()
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(sub("$X/${X}y$NOPE."), "x/xy.");
        assert_eq!(sub("$ $"), "$ $");
        assert_eq!(sub("$1"), "");
    }

    #[test]
    fn the_modifier_table() {
        for (word, want) in [
            ("${NOPE:-d}", "d"),
            ("${EMPTY:-d}", "d"),
            ("${X:-d}", "x"),
            ("${NOPE-d}", "d"),
            ("${EMPTY-d}", ""),
            ("${X-d}", "x"),
            ("${NOPE:+a}", ""),
            ("${EMPTY:+a}", ""),
            ("${X:+a}", "a"),
            ("${NOPE+a}", ""),
            ("${EMPTY+a}", "a"),
            ("${X+a}", "a"),
            ("${X:?m}", "x"),
            ("${EMPTY?m}", ""),
            ("${NOPE:-${X}z}", "xz"),
            ("${NOPE:-'a}b'}", "a}b"),
        ] {
            assert_eq!(sub(word), want, "{word}");
        }
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        assert_eq!(fail("ab${NOPE:?set NOPE}").message, "NOPE: set NOPE");
        assert_eq!(fail("ab${NOPE:?set NOPE}").offset, 2);
        assert_eq!(
            fail("${EMPTY:?}").message,
            "EMPTY: parameter not set or null"
        );
        assert!(expand("${EMPTY?}", '\\', Quotes::Process, &env).is_ok());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(sub(r#""$X y" '$X y' \$X a\ b"#), "x y $X y $X a b");
        assert_eq!(sub(r#""a\"b\$X\n""#), r#"a"b$X\n"#);
        assert_eq!(sub("\"$SPACE\""), "a b");
        assert_eq!(sub("trailing\\"), "trailing");
        assert_eq!(
            expand("`$X ``", '`', Quotes::Process, &env).unwrap().text,
            "$X `"
        );
    }

    #[test]
    fn keep_quotes_mode_only_substitutes() {
        let text = expand(r#"echo "$X" '$X' \$X \n"#, '\\', Quotes::Keep, &env)
            .unwrap()
            .text;
        assert_eq!(text, r#"echo "x" 'x' $X \n"#);
    }

    #[test]
    fn syntax_errors_point_at_their_start() {
        assert_eq!(fail("ab\"cd").offset, 2);
        assert_eq!(fail("ab\"cd").message, "unterminated double quote");
        assert_eq!(fail("'x").message, "unterminated single quote");
        assert_eq!(fail("a${X").message, "missing '}' in ${X");
        assert_eq!(fail("a${}").offset, 1);
        assert!(fail("${X^^}").message.contains("unsupported modifier '^'"));
        assert!(fail("${X:#}").message.contains("unsupported modifier ':#'"));
        assert!(fail("${X/a").message.contains("missing '}'"));
        assert!(fail("${X:-abc").message.contains("missing '}'"));
    }

    #[test]
    fn pattern_modifiers() {
        let path = |name: &str| match name {
            "P" => Some("/usr/local/bin/app.tar.gz".to_string()),
            _ => None,
        };
        let sub = |word: &str| expand(word, '\\', Quotes::Process, &path).unwrap().text;
        assert_eq!(sub("${P#*/}"), "usr/local/bin/app.tar.gz");
        assert_eq!(sub("${P##*/}"), "app.tar.gz");
        assert_eq!(sub("${P%.*}"), "/usr/local/bin/app.tar");
        assert_eq!(sub("${P%%.*}"), "/usr/local/bin/app");
        assert_eq!(sub("${P/local/opt}"), "/usr/opt/bin/app.tar.gz");
        assert_eq!(sub("${P//[.\\/]/_}"), "_usr_local_bin_app_tar_gz");
        assert_eq!(
            sub("${P/l*l/L}"),
            "/usr/L/bin/app.tar.gz",
            "the longest match"
        );
        assert_eq!(sub("${P/a}"), "/usr/locl/bin/app.tar.gz");
        assert_eq!(sub("${P#nomatch}"), "/usr/local/bin/app.tar.gz");
        assert_eq!(sub("${NOPE##*}"), "");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = "${A:-".repeat(10_000) + &"}".repeat(10_000);
        assert_eq!(fail(&deep).message, "substitutions nested too deeply");
        let fine = "${A:-".repeat(5) + "x" + &"}".repeat(5);
        assert_eq!(sub(&fine), "x");
    }

    #[test]
    fn the_uses_are_recorded() {
        let used = expand("$X ${NOPE:-d}", '\\', Quotes::Process, &env)
            .unwrap()
            .used;
        assert_eq!(used.len(), 2);
        assert_eq!(used[1].value, None);
    }
}
