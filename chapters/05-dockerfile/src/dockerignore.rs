//! `.dockerignore`: which files of the build context a build may see.
//!
//! The rules (Dockerfile reference, ".dockerignore file"):
//! - one pattern per line; blank lines and lines starting with `#` are skipped;
//! - patterns are cleaned like paths (`./a//b/` is `a/b`) and a leading `/` is dropped: every
//!   pattern is relative to the context root;
//! - Go `filepath.Match` syntax: `*` (any characters but `/`), `?` (one character but `/`),
//!   `[a-z]`, `[^a-z]` (classes), `\` (escape); plus `**`, which matches any number of
//!   directories, zero included (`**/*.go`);
//! - a pattern that matches a directory also ignores everything inside it;
//! - `!pattern` is an exception: it brings matching files back;
//! - the *last* pattern that matches a path decides.
//!
//! The Dockerfile and `.dockerignore` themselves are always read by the builder, even when
//! ignored (they are just not copied by `COPY .`).

/// A line of `.dockerignore` that is not a valid pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".dockerignore:{line}: {message}")]
pub struct IgnoreError {
    pub line: usize,
    pub message: String,
}

/// One pattern, cleaned, and whether it is an exception (`!`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub pattern: String,
    pub exception: bool,
    pub line: usize,
}

/// The patterns of a `.dockerignore` file, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    pub rules: Vec<Rule>,
}

impl DockerIgnore {
    /// Read the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            validate(&pattern).map_err(|message| IgnoreError {
                line: index + 1,
                message: format!("{pattern:?}: {message}"),
            })?;
            rules.push(Rule {
                pattern,
                exception,
                line: index + 1,
            });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether `path` (relative to the context root, `/`-separated) is left out of the build.
    pub fn is_ignored(&self, path: &str) -> bool {
        let path = clean(path);
        let mut ignored = false;
        for rule in &self.rules {
            if matches_or_parent_matches(&rule.pattern, &path) {
                ignored = !rule.exception;
            }
        }
        ignored
    }
}

/// `./a//b/../c/` → `a/c`; a leading `/` is removed. Like Go's `filepath.Clean`, lexically.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn matches_or_parent_matches(pattern: &str, path: &str) -> bool {
    if glob_match(pattern, path) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| glob_match(pattern, &path[..i]))
}

/// Check a pattern's syntax: classes closed, no dangling escape.
fn validate(pattern: &str) -> Result<(), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 >= chars.len() => return Err("ends with an escape".into()),
            '\\' => i += 2,
            '[' => {
                i = class_end(&chars, i).ok_or("unterminated character class [")?;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The index after the `]` closing the class that starts at `start`.
fn class_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if matches!(chars.get(i), Some('^') | Some('!')) {
        i += 1;
    }
    let mut first = true;
    while i < chars.len() {
        match chars[i] {
            ']' if !first => return Some(i + 1),
            '\\' => i += 2,
            _ => i += 1,
        }
        first = false;
    }
    None
}

/// Whether the whole of `text` matches `pattern`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_at(&p, &t)
}

fn match_at(p: &[char], t: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return t.is_empty();
    };
    match first {
        '*' if p.get(1) == Some(&'*') => {
            // `**/` matches zero or more whole directories; `**` alone anything at all.
            let (rest, whole_dirs) = if p.get(2) == Some(&'/') {
                (&p[3..], true)
            } else {
                (&p[2..], false)
            };
            (0..=t.len()).any(|i| {
                let boundary = !whole_dirs || i == 0 || t[i - 1] == '/';
                boundary && match_at(rest, &t[i..])
            })
        }
        '*' => {
            let rest = &p[1..];
            (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| match_at(rest, &t[i..]))
        }
        '?' => t.first().is_some_and(|c| *c != '/') && match_at(&p[1..], &t[1..]),
        '[' => {
            let Some(end) = class_end(p, 0) else {
                return false;
            };
            t.first()
                .is_some_and(|c| *c != '/' && class_matches(&p[1..end - 1], *c))
                && match_at(&p[end..], &t[1..])
        }
        '\\' => p.get(1).is_some_and(|c| t.first() == Some(c)) && match_at(&p[2..], &t[1..]),
        c => t.first() == Some(&c) && match_at(&p[1..], &t[1..]),
    }
}

/// `class` is what is between `[` and `]`.
fn class_matches(class: &[char], c: char) -> bool {
    let (negated, class) = match class.first() {
        Some('^') | Some('!') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut i = 0;
    let mut found = false;
    while i < class.len() {
        let mut low = class[i];
        if low == '\\' && i + 1 < class.len() {
            i += 1;
            low = class[i];
        }
        if class.get(i + 1) == Some(&'-') && i + 2 < class.len() {
            let mut high = class[i + 2];
            if high == '\\' && i + 3 < class.len() {
                i += 1;
                high = class[i + 2];
            }
            found |= low <= c && c <= high;
            i += 3;
        } else {
            found |= low == c;
            i += 1;
        }
    }
    found != negated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn globs_follow_go_filepath_match() {
        assert!(glob_match("*.md", "README.md"));
        assert!(!glob_match("*.md", "docs/README.md"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "a/c"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("[!a-c]x", "dx"));
        assert!(glob_match(r"\*x", "*x"));
        assert!(!glob_match(r"\*x", "ax"));
    }

    #[test]
    fn double_star_matches_any_number_of_directories() {
        assert!(glob_match("**/*.go", "main.go"));
        assert!(glob_match("**/*.go", "a/b/main.go"));
        assert!(glob_match("a/**/b", "a/b"));
        assert!(glob_match("a/**/b", "a/x/y/b"));
        assert!(!glob_match("a/**/b", "a/xb"));
        assert!(glob_match("**", "anything/at/all"));
    }

    #[test]
    fn comments_blank_lines_and_cleaning() {
        let rules = ignore("# comment\n\n  /dist/  \n./build//out\n!  keep.txt\n").rules;
        let patterns: Vec<_> = rules
            .iter()
            .map(|r| (r.pattern.as_str(), r.exception))
            .collect();
        assert_eq!(
            patterns,
            [("dist", false), ("build/out", false), ("keep.txt", true)]
        );
        assert_eq!(clean("a/../../b/./c"), "b/c");
    }

    #[test]
    fn a_matched_directory_ignores_what_is_inside() {
        let di = ignore("node_modules\n");
        assert!(di.is_ignored("node_modules"));
        assert!(di.is_ignored("node_modules/x/y.js"));
        assert!(!di.is_ignored("src/node_modules_list.txt"));
        assert!(
            !di.is_ignored("src/node_modules"),
            "patterns are relative to the root"
        );
    }

    #[test]
    fn exceptions_and_last_match_wins() {
        let di = ignore("*.md\n!README.md\n");
        assert!(di.is_ignored("CHANGES.md"));
        assert!(!di.is_ignored("README.md"));
        let di = ignore("!README.md\n*.md\n");
        assert!(
            di.is_ignored("README.md"),
            "the last matching pattern decides"
        );
        let di = ignore("docs\n!docs/keep.md\n");
        assert!(di.is_ignored("docs/other.md"));
        assert!(!di.is_ignored("docs/keep.md"));
        let di = ignore("**/*.log\n");
        assert!(di.is_ignored("a/b/c.log") && di.is_ignored("top.log"));
        assert!(ignore("/secret\n").is_ignored("./secret"));
    }

    #[test]
    fn bad_patterns_name_their_line() {
        let err = DockerIgnore::parse("ok\n[abc\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.to_string().contains("unterminated character class"));
        assert!(DockerIgnore::parse("a\\").is_err());
    }
}
