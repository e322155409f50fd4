//! The instruction keywords, their flags, and a "did you mean" for typos.

use crate::flags::Kind;

/// Every instruction of the Dockerfile reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    From,
    Run,
    Cmd,
    Entrypoint,
    Env,
    Arg,
    Label,
    Maintainer,
    Expose,
    Copy,
    Add,
    Workdir,
    User,
    Volume,
    Stopsignal,
    Healthcheck,
    Shell,
    Onbuild,
}

const ALL: [(Keyword, &str); 18] = [
    (Keyword::From, "FROM"),
    (Keyword::Run, "RUN"),
    (Keyword::Cmd, "CMD"),
    (Keyword::Entrypoint, "ENTRYPOINT"),
    (Keyword::Env, "ENV"),
    (Keyword::Arg, "ARG"),
    (Keyword::Label, "LABEL"),
    (Keyword::Maintainer, "MAINTAINER"),
    (Keyword::Expose, "EXPOSE"),
    (Keyword::Copy, "COPY"),
    (Keyword::Add, "ADD"),
    (Keyword::Workdir, "WORKDIR"),
    (Keyword::User, "USER"),
    (Keyword::Volume, "VOLUME"),
    (Keyword::Stopsignal, "STOPSIGNAL"),
    (Keyword::Healthcheck, "HEALTHCHECK"),
    (Keyword::Shell, "SHELL"),
    (Keyword::Onbuild, "ONBUILD"),
];

impl Keyword {
    /// Keywords are case-insensitive (`run` is `RUN`), by convention written in capitals.
    pub fn parse(word: &str) -> Option<Keyword> {
        ALL.iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(word))
            .map(|(k, _)| *k)
    }

    pub fn name(self) -> &'static str {
        ALL.iter().find(|(k, _)| *k == self).map_or("?", |(_, n)| n)
    }

    /// The flags each instruction accepts (Dockerfile reference, per instruction).
    pub fn flags(self) -> &'static [(&'static str, Kind)] {
        use Kind::*;
        match self {
            Keyword::From => &[("platform", Value)],
            Keyword::Run => &[("mount", Repeated), ("network", Value), ("security", Value)],
            Keyword::Copy => &[
                ("from", Value),
                ("chown", Value),
                ("chmod", Value),
                ("link", Bool),
                ("parents", Bool),
                ("exclude", Repeated),
            ],
            Keyword::Add => &[
                ("chown", Value),
                ("chmod", Value),
                ("link", Bool),
                ("checksum", Value),
                ("keep-git-dir", Bool),
                ("unpack", Bool),
                ("exclude", Repeated),
            ],
            Keyword::Healthcheck => &[
                ("interval", Value),
                ("timeout", Value),
                ("start-period", Value),
                ("start-interval", Value),
                ("retries", Value),
            ],
            _ => &[],
        }
    }

    /// Heredocs are recognised in RUN, COPY and ADD.
    pub fn allows_heredocs(self) -> bool {
        matches!(self, Keyword::Run | Keyword::Copy | Keyword::Add)
    }

    /// The known keyword closest to a misspelt one, if it is close (at most two edits).
    pub fn suggest(word: &str) -> Option<&'static str> {
        let upper = word.to_ascii_uppercase();
        ALL.iter()
            .map(|(_, name)| (edit_distance(&upper, name), *name))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, name)| name)
    }
}

/// Levenshtein distance, small strings only.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive_and_typos_get_suggestions() {
        assert_eq!(Keyword::parse("run"), Some(Keyword::Run));
        assert_eq!(Keyword::parse("Healthcheck"), Some(Keyword::Healthcheck));
        assert_eq!(Keyword::parse("RUNN"), None);
        assert_eq!(Keyword::suggest("RUNN"), Some("RUN"));
        assert_eq!(Keyword::suggest("entrypiont"), Some("ENTRYPOINT"));
        assert_eq!(Keyword::suggest("XYZZYQ"), None);
    }
}
