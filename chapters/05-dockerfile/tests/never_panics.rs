//! Parsing never panics, whatever the input: arbitrary bytes, and "line soup" made of the
//! pieces that make parsers stumble (escapes at line ends, half-open quotes and `${`, heredoc
//! markers without bodies, JSON fragments, directives in odd places), with stray characters
//! dropped anywhere and any build arguments. Every error must point into the file
//! (`Dockerfile:LINE:COL:` on a real line and column). Any crash case the property tests find
//! is to be kept below as a plain unit test. `BALEIA_FUZZ_CASES=2000000` runs a long hunt
//! (2 million cases a property: about 80 s here; none found). (So far they found none; the
//! cases below are the edges that were easy to get wrong while writing the parser: slicing
//! at multibyte characters, an escape as the very last byte, a heredoc as the only path.)

use ch05_dockerfile::dockerignore::DockerIgnore;
use ch05_dockerfile::{parse, resolve};
use proptest::prelude::*;

/// Parse and, when that works, resolve: both must return, never panic, and an error must
/// point into the file.
fn parse_and_resolve(text: &str) {
    let error = match parse("Dockerfile", text) {
        Ok(dockerfile) => match resolve(&dockerfile, &[("A".into(), "1".into())]) {
            Ok(_) => return,
            Err(error) => error,
        },
        Err(error) => error,
    };
    assert_points_into(&error, text);
}

/// An error says `Dockerfile:LINE:COL:` first, with a line of the file (or the one just past
/// its end, for "the file ended too soon") and a column on that line or just after it; the
/// rendering (caret and all) must not panic either.
fn assert_points_into(error: &ch05_dockerfile::ParseError, text: &str) {
    let lines: Vec<&str> = text.split('\n').collect();
    let (line, column) = (error.pos.line, error.pos.column);
    assert!(
        line >= 1 && line <= lines.len() + 1,
        "line {line} of {}: {error}",
        lines.len()
    );
    let length = lines.get(line - 1).map_or(0, |l| l.chars().count());
    assert!(
        column >= 1 && column <= length + 1,
        "column {column} of a {length}-character line: {error}"
    );
    let rendered = error.to_string();
    assert!(
        rendered.starts_with(&format!("Dockerfile:{line}:{column}: ")),
        "{rendered}"
    );
}

const PIECES: &[&str] = &[
    "FROM busybox",
    "FROM ",
    "from a AS b",
    "FROM ${X:-a} AS 1",
    "RUN ",
    "RUN echo hi",
    "run",
    "CMD",
    "ENTRYPOINT [",
    "[\"a\", \"b\"]",
    "[\"a\",",
    "'x'",
    "\"",
    "'",
    "\\",
    "`",
    "$",
    "${",
    "${A",
    "${A:-",
    "${A:?}",
    "}",
    "$A",
    "\\$",
    "<<EOF",
    "<<-EOF",
    "<<'EOF'",
    "3<<X",
    "EOF",
    "\tEOF",
    "COPY <<EOF /x",
    "COPY --from=",
    "COPY --from=0 a b",
    "COPY --from=a",
    "ADD",
    "--mount=type=cache",
    "--mount=",
    "--",
    "--link=maybe",
    "--chown",
    "ENV",
    "ENV a",
    "ENV a=",
    "=",
    "ENV =b",
    "LABEL \"a\"=\"b",
    "ARG",
    "ARG 1=2",
    "ARG A=${B}",
    "EXPOSE 80/x",
    "EXPOSE 0-",
    "EXPOSE $P",
    "WORKDIR",
    "USER a b",
    "VOLUME []",
    "VOLUME [1]",
    "STOPSIGNAL 99",
    "HEALTHCHECK",
    "HEALTHCHECK NONE x",
    "HEALTHCHECK --interval=1.5.5s CMD x",
    "HEALTHCHECK --retries=-1 CMD",
    "SHELL",
    "SHELL [",
    "SHELL []",
    "ONBUILD",
    "ONBUILD ONBUILD",
    "ONBUILD RUN <<EOF",
    "MAINTAINER",
    "# escape=`",
    "# escape=x",
    "# syntax=a",
    "#",
    " ",
    "\t",
    "é",
    "ß∂",
    "\u{feff}",
    "\r",
    "\u{0}",
    "🐳",
    "#  check = x",
];

fn line_soup() -> impl Strategy<Value = String> {
    let line = prop::collection::vec(prop::sample::select(PIECES), 0..6)
        .prop_map(|pieces| pieces.join(""));
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

/// 2000 cases a property in a test run; `BALEIA_FUZZ_CASES=200000` for a long hunt.
fn cases() -> u32 {
    std::env::var("BALEIA_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        parse_and_resolve(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn line_soup_never_panics(text in line_soup()) {
        parse_and_resolve(&text);
    }

    #[test]
    fn line_soup_after_a_from_never_panics(text in line_soup()) {
        parse_and_resolve(&format!("FROM busybox AS a\n{text}"));
    }

    #[test]
    fn soup_with_stray_characters_and_any_build_args_never_panics(
        text in line_soup(),
        stray in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 0..8),
        args in prop::collection::vec(("[A-Za-z_$:{}-]{0,4}", any::<String>()), 0..4),
    ) {
        // Stray characters dropped anywhere into the soup (at character boundaries).
        let mut chars: Vec<char> = format!("FROM busybox\n{text}").chars().collect();
        for (at, c) in stray {
            let at = at.index(chars.len() + 1);
            chars.insert(at, c);
        }
        let text: String = chars.into_iter().collect();
        let error = match parse("Dockerfile", &text) {
            Ok(dockerfile) => match resolve(&dockerfile, &args) {
                Ok(_) => return Ok(()),
                Err(error) => error,
            },
            Err(error) => error,
        };
        assert_points_into(&error, &text);
    }

    #[test]
    fn dockerignore_never_panics(
        patterns in prop::collection::vec("[!*?/\\[\\]\\\\a-c.^ -]{0,8}", 0..6),
        path in "[a-c/.*]{0,12}",
    ) {
        if let Ok(ignore) = DockerIgnore::parse(&patterns.join("\n")) {
            let _ = ignore.is_ignored(&path);
        }
    }
}

// Regression cases.

#[test]
fn a_heredoc_marker_as_the_only_copy_argument() {
    assert!(parse("Dockerfile", "FROM a\nCOPY <<EOF\nx\nEOF\n").is_err());
}

#[test]
fn an_escape_at_the_very_end_of_the_file() {
    parse_and_resolve("FROM a\nRUN x \\");
    parse_and_resolve("FROM a\nENV A=\\");
}

#[test]
fn multibyte_characters_around_errors() {
    let error = parse("Dockerfile", "FROM a\né ENV A=\"ß").unwrap_err();
    assert_eq!(error.pos.column, 1);
    let error = parse("Dockerfile", "FROM a\nENV ß=\"é").unwrap_err();
    assert_eq!((error.pos.line, error.pos.column), (2, 7));
}
