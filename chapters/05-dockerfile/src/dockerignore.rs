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

use crate::glob::{path_match, validate};

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
    if path_match(pattern, path) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| path_match(pattern, &path[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn globs_follow_go_filepath_match() {
        assert!(path_match("*.md", "README.md"));
        assert!(!path_match("*.md", "docs/README.md"));
        assert!(path_match("a?c", "abc"));
        assert!(!path_match("a?c", "a/c"));
        assert!(path_match("[a-c]x", "bx"));
        assert!(!path_match("[^a-c]x", "bx"));
        assert!(path_match("[!a-c]x", "dx"));
        assert!(path_match(r"\*x", "*x"));
        assert!(!path_match(r"\*x", "ax"));
    }

    #[test]
    fn double_star_matches_any_number_of_directories() {
        assert!(path_match("**/*.go", "main.go"));
        assert!(path_match("**/*.go", "a/b/main.go"));
        assert!(path_match("a/**/b", "a/b"));
        assert!(path_match("a/**/b", "a/x/y/b"));
        assert!(!path_match("a/**/b", "a/xb"));
        assert!(path_match("**", "anything/at/all"));
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
