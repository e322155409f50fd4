//! Chapter 05 — the Dockerfile.
//!
//! The parser: each test runs `ch05-dockerfile` over the corpus in `tests/fixtures/dockerfiles/`:
//! every valid Dockerfile must parse to its JSON snapshot, every broken one must fail with
//! `file:line:column`, the line and a caret. Parsing needs no root, so those tests do not use
//! `TestEnv`.
//!
//! The builder (the tests after `// The builder`): `ch05-dockerfile build` on the busybox
//! fixture image, as root, in a `TestEnv`: the image runs and shows what the Dockerfile said,
//! the cache hits and misses where it should, multi-stage builds keep only what is copied, and
//! a failing RUN leaves nothing behind.
//! Run: `cargo test -p baleia-tests --test ch05_dockerfile`.

use harness::{assert_snapshot, busybox_tar, chapter_binary, report, snapshot_text, TestEnv};
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

// The builder.

/// 2025-11-28T17:00:00Z: image times are pinned, so configs (and ids) are repeatable.
const EPOCH: &str = "1764349200";

fn build_env() -> TestEnv {
    let env = TestEnv::new();
    let tar = busybox_tar(&env);
    built(
        &env,
        &[
            "import",
            tar.to_str().unwrap(),
            "busybox:latest",
            "--change",
            r#"CMD ["/bin/sh"]"#,
            "--change",
            "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        ],
    );
    std::fs::create_dir_all(context(&env)).unwrap();
    env
}

fn context(env: &TestEnv) -> PathBuf {
    env.path().join("context")
}

fn write(env: &TestEnv, name: &str, text: &str) {
    let path = context(env).join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Run `ch05-dockerfile` in the context directory.
fn build_cmd(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd(BIN)
        .current_dir(context(env))
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(args)
        .output()
        .expect("run ch05-dockerfile")
}

/// Run, insist on success, return standard output.
fn built(env: &TestEnv, args: &[&str]) -> String {
    std::fs::create_dir_all(context(env)).unwrap();
    let output = build_cmd(env, args);
    assert!(output.status.success(), "{args:?}\n{}", report(&output));
    stdout(&output)
}

/// `142 B` → `### B`: sizes in bytes of small layers, which vary with file times.
fn blur_byte_sizes(text: &str) -> String {
    text.lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let mut out = Vec::new();
            for (i, word) in words.iter().enumerate() {
                let is_size = words.get(i + 1) == Some(&"B")
                    && *word != "0"
                    && word.chars().all(|c| c.is_ascii_digit())
                    && !word.is_empty();
                out.push(if is_size {
                    "###".to_string()
                } else {
                    word.to_string()
                });
            }
            out.join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn cache_hits(output: &str) -> usize {
    output.matches("---> Using cache").count()
}

const APP: &str = r#"FROM busybox
LABEL course=baleia
ENV GREETING=hello
WORKDIR /app
COPY hello.txt ./
COPY conf/ /etc/app/
RUN echo "$GREETING from RUN in $(pwd)" > made.txt
EXPOSE 8000
CMD ["sh", "-c", "cat /app/hello.txt /app/made.txt /etc/app/app.conf; echo $GREETING; pwd"]
"#;

#[test]
fn a_built_image_runs_and_shows_every_instruction() {
    let env = build_env();
    write(&env, "Dockerfile", APP);
    write(&env, "hello.txt", "hello from the context\n");
    write(&env, "conf/app.conf", "port=8000\n");
    let output = built(&env, &["build", "-t", "app:v1", "."]);
    assert_snapshot!("build_output", snapshot_text(&output));

    let ran = built(&env, &["run", "app:v1"]);
    assert_eq!(
        ran,
        "hello from the context\nhello from RUN in /app\nport=8000\nhello\n/app\n"
    );
    let inspect = built(&env, &["inspect", "app:v1"]);
    assert_snapshot!("build_inspect", snapshot_text(&inspect));
    // Layer sizes depend on the files' times (gzip of a tar): blurred.
    let history = built(&env, &["history", "app:v1"]);
    assert_snapshot!("build_history", blur_byte_sizes(&snapshot_text(&history)));
}

#[test]
fn the_cache_hits_on_a_rebuild_and_on_touch_and_misses_from_a_changed_copy() {
    let env = build_env();
    write(&env, "Dockerfile", APP);
    write(&env, "hello.txt", "hello from the context\n");
    write(&env, "conf/app.conf", "port=8000\n");
    let first = built(&env, &["build", "-t", "app:v1", "."]);
    assert_eq!(cache_hits(&first), 0, "{first}");

    let again = built(&env, &["build", "-t", "app:v1", "."]);
    assert_eq!(
        cache_hits(&again),
        8,
        "every step after FROM hits:\n{again}"
    );
    assert_snapshot!("rebuild_output", snapshot_text(&again));
    assert_eq!(again.lines().last(), first.lines().last(), "the same image");

    // A new mtime, the same bytes: still the same files, still a hit.
    let file = context(&env).join("hello.txt");
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let touched = built(&env, &["build", "-t", "app:v1", "."]);
    assert_eq!(
        cache_hits(&touched),
        8,
        "touch alone must not miss:\n{touched}"
    );

    // New bytes: the COPY of that file misses, and so does every step after it.
    write(&env, "hello.txt", "changed\n");
    let changed = built(&env, &["build", "-t", "app:v2", "."]);
    assert_eq!(
        cache_hits(&changed),
        3,
        "LABEL, ENV, WORKDIR hit:\n{changed}"
    );
    let after_copy = changed.split("Step 5/9").nth(1).unwrap();
    assert!(!after_copy.contains("Using cache"), "{changed}");
    assert!(built(&env, &["run", "app:v2"]).starts_with("changed\n"));

    // --no-cache does every step again.
    let fresh = built(&env, &["build", "--no-cache", "."]);
    assert_eq!(cache_hits(&fresh), 0, "{fresh}");
}

#[test]
fn a_changed_build_arg_misses_where_it_is_used() {
    let env = build_env();
    write(
        &env,
        "Dockerfile",
        "FROM busybox\nARG FLAVOUR=plain\nRUN echo base > /base\nENV KEPT=yes\n\
         RUN echo $FLAVOUR > /flavour\nCMD [\"cat\", \"/flavour\"]\n",
    );
    built(&env, &["build", "-t", "f:1", "."]);
    assert_eq!(built(&env, &["run", "f:1"]), "plain\n");
    let other = built(
        &env,
        &["build", "--build-arg", "FLAVOUR=spicy", "-t", "f:2", "."],
    );
    // ARG itself hits; the first RUN sees the value in its environment, so it misses, and all
    // after it.
    let steps: Vec<&str> = other.split("Step ").skip(1).collect();
    let hit = |n: usize| steps[n - 1].contains("Using cache");
    assert!(!hit(3) && !hit(4) && !hit(5) && !hit(6), "{other}");
    assert_eq!(built(&env, &["run", "f:2"]), "spicy\n");
    let same = built(&env, &["build", "--build-arg", "FLAVOUR=spicy", "."]);
    assert_eq!(cache_hits(&same), 4, "{same}");
}

#[test]
fn a_multi_stage_build_keeps_only_what_it_copies() {
    let env = build_env();
    write(
        &env,
        "Dockerfile",
        "FROM busybox AS builder\nRUN mkdir /out && echo made in stage one > /out/artifact \\\n    && echo junk > /junk\n\
         FROM busybox AS unused\nRUN exit 1\n\
         FROM scratch\nCOPY --from=builder /out/artifact /artifact\n",
    );
    let output = built(&env, &["build", "-t", "ms:1", "."]);
    assert!(
        !output.contains("exit 1"),
        "the unused stage is skipped:\n{output}"
    );
    let lowerdirs = built(&env, &["lowerdirs", "ms:1"]);
    let dirs: Vec<&str> = lowerdirs.trim().split(':').collect();
    assert_eq!(dirs.len(), 1, "one layer: {lowerdirs}");
    let names: Vec<String> = std::fs::read_dir(dirs[0])
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["artifact"]);
    let content = std::fs::read_to_string(Path::new(dirs[0]).join("artifact")).unwrap();
    assert_eq!(content, "made in stage one\n");

    // --target builds a stage of its own.
    let target = built(
        &env,
        &["build", "--target", "builder", "-t", "ms:builder", "."],
    );
    assert_eq!(cache_hits(&target), 1, "{target}");
    assert_eq!(
        built(&env, &["run", "ms:builder", "--", "cat", "/junk"]),
        "junk\n"
    );
}

#[test]
fn a_failing_run_names_its_step_and_leaves_nothing() {
    let env = build_env();
    write(
        &env,
        "Dockerfile",
        "FROM busybox\nRUN echo fine\nRUN echo about to fail >&2 && exit 3\nCMD [\"true\"]\n",
    );
    let images_before = built(&env, &["images"]);
    let output = build_cmd(&env, &["build", "-t", "broken:1", "."]);
    assert_eq!(output.status.code(), Some(1), "{}", report(&output));
    assert_snapshot!("failing_run", snapshot_text(&report(&output)));
    assert_eq!(built(&env, &["images"]), images_before, "no tag made");
    let containers = env.path().join("root/containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "containers left: {left:?}");
    let tmp: Vec<_> = std::fs::read_dir(env.path().join("root/tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "half-written files left: {tmp:?}");
}

#[test]
fn sources_outside_the_context_or_ignored_are_refused() {
    let env = build_env();
    write(&env, ".dockerignore", "secret.txt\n");
    write(&env, "secret.txt", "do not copy\n");
    write(&env, "Dockerfile.up", "FROM busybox\nCOPY ../outside /x\n");
    write(
        &env,
        "Dockerfile.ignored",
        "FROM busybox\nCOPY secret.txt /\n",
    );
    write(
        &env,
        "Dockerfile.all",
        "FROM busybox\nCOPY . /ctx/\nCMD [\"ls\", \"/ctx\"]\n",
    );
    write(
        &env,
        "Dockerfile.url",
        "FROM busybox\nADD https://example.invalid/x.tar /\n",
    );
    std::os::unix::fs::symlink("/etc", context(&env).join("hostetc")).unwrap();
    write(
        &env,
        "Dockerfile.link",
        "FROM busybox\nCOPY hostetc/passwd /x\n",
    );
    let mut errors = String::new();
    for file in [
        "Dockerfile.up",
        "Dockerfile.ignored",
        "Dockerfile.url",
        "Dockerfile.link",
    ] {
        let output = build_cmd(&env, &["build", "-f", file, "."]);
        assert_eq!(output.status.code(), Some(1), "{file}: {}", report(&output));
        errors.push_str(&stderr(&output));
    }
    assert_snapshot!("refused_sources", errors);
    built(&env, &["build", "-f", "Dockerfile.all", "-t", "all:1", "."]);
    let listed = built(&env, &["run", "all:1"]);
    assert!(!listed.contains("secret.txt"), "{listed}");
    assert!(
        listed.contains("Dockerfile.all") && listed.contains("hostetc"),
        "{listed}"
    );
}

#[test]
fn add_unpacks_a_local_tar_and_copy_sets_owner_and_mode() {
    let env = build_env();
    write(&env, "payload/inside.txt", "from the archive\n");
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(context(&env).join("payload"))
        .args(["-czf"])
        .arg(context(&env).join("payload.tar.gz"))
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    write(&env, "script.sh", "echo hi\n");
    write(
        &env,
        "Dockerfile",
        "FROM busybox\nADD payload.tar.gz /opt/\nCOPY --chown=nobody:nogroup --chmod=750 script.sh /bin/\n\
         CMD [\"sh\", \"-c\", \"cat /opt/inside.txt; stat -c '%U:%G %a' /bin/script.sh\"]\n",
    );
    built(&env, &["build", "-t", "add:1", "."]);
    assert_eq!(
        built(&env, &["run", "add:1"]),
        "from the archive\nnobody:nogroup 750\n"
    );
}

#[test]
fn removing_the_image_keeps_the_build_cache() {
    let env = build_env();
    write(
        &env,
        "Dockerfile",
        "FROM busybox\nRUN echo cached > /c\nENV A=1\n",
    );
    built(&env, &["build", "-t", "c:1", "."]);
    built(&env, &["rmi", "c:1"]);
    let again = built(&env, &["build", "-t", "c:1", "."]);
    assert_eq!(
        cache_hits(&again),
        2,
        "the cache's pins kept its images:\n{again}"
    );
}

#[test]
fn run_network_none_gets_only_loopback_and_mounts_are_refused() {
    let env = build_env();
    write(
        &env,
        "Dockerfile",
        "FROM busybox\nRUN --network=none ls /sys/class/net > /nets\nCMD [\"cat\", \"/nets\"]\n",
    );
    built(&env, &["build", "-t", "n:1", "."]);
    assert_eq!(built(&env, &["run", "n:1"]), "lo\n");
    write(
        &env,
        "Dockerfile.mount",
        "FROM busybox\nRUN --mount=type=cache,target=/c true\n",
    );
    let output = build_cmd(&env, &["build", "-f", "Dockerfile.mount", "."]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("RUN --mount and --security=insecure are not supported"),
        "{}",
        report(&output)
    );
}
