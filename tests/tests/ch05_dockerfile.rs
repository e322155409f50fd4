//! Chapter 05 — the Dockerfile (the parser half). Each test runs `ch05-dockerfile` over the
//! corpus in `tests/fixtures/dockerfiles/`: every valid Dockerfile must parse to its JSON
//! snapshot, every broken one must fail with `file:line:column`, the line and a caret.
//! Parsing needs no root, so these tests do not use `TestEnv`.
//! Run: `cargo test -p baleia-tests --test ch05_dockerfile`.

use harness::{assert_snapshot, chapter_binary, report};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

const BIN: &str = "ch05-dockerfile";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dockerfiles")
}

/// Run the binary in `dir` (so file names in the output are relative and stable).
fn run_in(dir: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::new(chapter_binary(BIN))
        .current_dir(dir)
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .expect("run ch05-dockerfile")
}

/// The `*.Dockerfile` names in `fixtures/dockerfiles/<kind>`, sorted.
fn corpus(kind: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join(kind))
        .expect("read the fixture corpus")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".Dockerfile"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 8,
        "the {kind} corpus is missing files: {names:?}"
    );
    names
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_valid_dockerfile_parses_to_its_json_snapshot() {
    let dir = fixtures().join("valid");
    for name in corpus("valid") {
        let output = run_in(&dir, &["parse", &name]);
        assert!(output.status.success(), "{name}: {}", report(&output));
        assert_eq!(stderr(&output), "", "{name}: no warnings expected");
        let json: serde_json::Value =
            serde_json::from_str(&stdout(&output)).expect("the output is JSON");
        assert!(
            !json["stages"].as_array().unwrap().is_empty(),
            "{name} has a stage"
        );
        let stem = name.trim_end_matches(".Dockerfile");
        assert_snapshot!(format!("valid__{stem}"), stdout(&output));
    }
}

#[test]
fn every_broken_dockerfile_fails_with_line_column_and_a_caret() {
    let dir = fixtures().join("invalid");
    let mut all = String::new();
    for name in corpus("invalid") {
        let output = run_in(&dir, &["parse", &name]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", report(&output));
        assert_eq!(stdout(&output), "", "{name}: nothing on stdout");
        let message = stderr(&output);
        let location = format!("ch05-dockerfile: {name}:");
        assert!(message.starts_with(&location), "{name}: {message}");
        assert!(
            message.trim_end().ends_with('^'),
            "{name}: a caret ends it: {message}"
        );
        all.push_str(&format!("== {name}\n{message}\n"));
    }
    assert_snapshot!(all);
}

#[test]
fn build_args_override_defaults_and_unused_ones_are_warned_about() {
    let dir = fixtures().join("valid");
    let output = run_in(
        &dir,
        &[
            "parse",
            "substitution.Dockerfile",
            "--build-arg",
            "VERSION=1.37",
            "--build-arg",
            "REGISTRY=registry.example.com",
            "--build-arg",
            "NOBODY_DECLARES_THIS=1",
        ],
    );
    assert!(output.status.success(), "{}", report(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let stage = &json["stages"][0];
    assert_eq!(
        stage["base"]["reference"],
        "registry.example.com/library/busybox:1.37"
    );
    // `ARG VERSION` inside the stage takes the build argument, even over its own default.
    let label = &stage["instructions"][6]["pairs"][0];
    assert_eq!(label["key"], "version");
    assert_eq!(label["value"], "1.37");
    assert_eq!(
        stderr(&output),
        "warning: build arguments not consumed by any ARG: NOBODY_DECLARES_THIS\n"
    );
}

#[test]
fn a_required_build_arg_is_an_error_until_it_is_given() {
    let dir = fixtures().join("invalid");
    let missing = run_in(&dir, &["parse", "required-arg.Dockerfile"]);
    assert_eq!(missing.status.code(), Some(1));
    // A bare NAME takes the value from the environment, as docker build does.
    let from_env = assert_cmd::Command::new(chapter_binary(BIN))
        .current_dir(&dir)
        .env("VERSION", "1.35")
        .args(["parse", "required-arg.Dockerfile", "--build-arg", "VERSION"])
        .output()
        .unwrap();
    assert!(from_env.status.success(), "{}", report(&from_env));
    assert!(stdout(&from_env).contains("\"reference\": \"busybox:1.35\""));
    let given = run_in(
        &dir,
        &[
            "parse",
            "required-arg.Dockerfile",
            "--build-arg",
            "VERSION=1.36",
        ],
    );
    assert!(given.status.success(), "{}", report(&given));
    assert!(stdout(&given).contains("\"reference\": \"busybox:1.36\""));
}

#[test]
fn raw_shows_the_dockerfile_as_written() {
    let output = run_in(
        &fixtures().join("valid"),
        &["parse", "--raw", "substitution.Dockerfile"],
    );
    assert!(output.status.success(), "{}", report(&output));
    assert_snapshot!(stdout(&output));
}

#[test]
fn explain_narrates_directives_continuations_heredocs_and_substitutions() {
    let dir = fixtures().join("valid");
    let mut narration = String::new();
    for name in [
        "directives.Dockerfile",
        "continuations.Dockerfile",
        "heredocs.Dockerfile",
        "exec-forms.Dockerfile",
    ] {
        let output = run_in(&dir, &["--explain", "parse", name]);
        assert!(output.status.success(), "{}", report(&output));
        narration.push_str(&format!("== {name}\n{}", stderr(&output)));
    }
    assert!(narration.contains("parser directive escape=\\"));
    assert!(narration.contains("taken as the shell form"));
    assert_snapshot!(narration);
}

#[test]
fn dockerignore_patterns_decide_what_the_context_holds() {
    let paths = [
        "target/debug/app",
        "web/node_modules/x/index.js",
        "build.log",
        "keep.log",
        "secrets/key.pem",
        "docs/guide.md",
        "docs/README.md",
        "docs/sub/deep.md",
        "src/main.rs",
    ];
    let mut args = vec!["ignore", "example.dockerignore"];
    args.extend(paths);
    let output = run_in(&fixtures(), &args);
    assert!(output.status.success(), "{}", report(&output));
    assert_snapshot!(stdout(&output));
}

#[test]
fn a_missing_file_is_one_clear_line() {
    let output = run_in(&fixtures(), &["parse", "no-such.Dockerfile"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "ch05-dockerfile: read no-such.Dockerfile: No such file or directory (os error 2)\n"
    );
}
