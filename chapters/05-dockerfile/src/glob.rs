//! Glob patterns, two flavours: paths (`.dockerignore`: Go's `filepath.Match` syntax plus `**`,
//! where `*` stops at `/`), and shell words (`${VAR#pattern}`, where `*` matches anything).
//! `*`, `?`, `[a-z]`, `[^a-z]` (or `[!a-z]`), and `\` to escape.

/// Check a pattern's syntax: classes closed, no dangling escape.
pub fn validate(pattern: &str) -> Result<(), String> {
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

/// Whether the whole of `text` matches `pattern`, as a path (Go's `filepath.Match` plus `**`):
/// `*`, `?` and classes never match `/`.
pub fn path_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_at(&p, &t, true)
}

/// Whether the whole of `text` matches `pattern`, as a shell word (`${VAR#pattern}`): `*`
/// matches any characters, `/` included.
pub fn word_match(pattern: &[char], text: &[char]) -> bool {
    match_at(pattern, text, false)
}

fn match_at(p: &[char], t: &[char], paths: bool) -> bool {
    let Some(&first) = p.first() else {
        return t.is_empty();
    };
    match first {
        '*' if paths && p.get(1) == Some(&'*') => {
            // `**/` matches zero or more whole directories; `**` alone anything at all.
            let (rest, whole_dirs) = if p.get(2) == Some(&'/') {
                (&p[3..], true)
            } else {
                (&p[2..], false)
            };
            (0..=t.len()).any(|i| {
                let boundary = !whole_dirs || i == 0 || t[i - 1] == '/';
                boundary && match_at(rest, &t[i..], paths)
            })
        }
        '*' => {
            let rest = &p[1..];
            (0..=t.len())
                .take_while(|&i| !paths || i == 0 || t[i - 1] != '/')
                .any(|i| match_at(rest, &t[i..], paths))
        }
        '?' => t.first().is_some_and(|c| !paths || *c != '/') && match_at(&p[1..], &t[1..], paths),
        '[' => {
            let Some(end) = class_end(p, 0) else {
                return false;
            };
            t.first()
                .is_some_and(|c| (!paths || *c != '/') && class_matches(&p[1..end - 1], *c))
                && match_at(&p[end..], &t[1..], paths)
        }
        '\\' => p.get(1).is_some_and(|c| t.first() == Some(c)) && match_at(&p[2..], &t[1..], paths),
        c => t.first() == Some(&c) && match_at(&p[1..], &t[1..], paths),
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

    fn word(p: &str, t: &str) -> bool {
        let p: Vec<char> = p.chars().collect();
        let t: Vec<char> = t.chars().collect();
        word_match(&p, &t)
    }

    #[test]
    fn in_words_a_star_crosses_slashes() {
        assert!(word("*/", "a/b/"));
        assert!(!path_match("*/", "a/b/"));
        assert!(word("?", "/"));
        assert!(word("**", "a/b"));
    }
}
