//! The capstone's later API calls — build, cp, events, system df / prune, import — through
//! `baleia` (and the real `docker` CLI where it speaks the same API), against a daemon each
//! test starts. Run: `cargo test -p baleia-tests --test capstone_more` (as root).

use harness::capstone::{redact, Daemon};
use harness::{assert_snapshot, report, TestEnv};
use std::path::{Path, PathBuf};
use std::process::Output;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Run, insist on success, return standard output.
fn ok(daemon: &Daemon, args: &[&str]) -> String {
    let output = daemon.baleia(args);
    assert!(output.status.success(), "{args:?}\n{}", report(&output));
    stdout(&output)
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn context(env: &TestEnv) -> PathBuf {
    let dir = env.path().join("context");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const APP: &str = "FROM busybox\n\
ENV GREETING=hello\n\
COPY hello.txt /app/\n\
RUN echo \"$GREETING from RUN\" > /app/made.txt && echo RUN says hi && echo to stderr >&2\n\
CMD [\"cat\", \"/app/hello.txt\", \"/app/made.txt\"]\n";

#[test]
fn build_streams_its_steps_the_image_runs_and_a_rebuild_uses_the_cache() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = context(&env);
    write(&dir, "Dockerfile", APP);
    write(&dir, "hello.txt", "hello from the context\n");
    write(&dir, "secret.txt", "never sent\n");
    write(&dir, ".dockerignore", "secret.txt\n");
    let ctx = dir.to_str().unwrap();

    let first = ok(&daemon, &["build", "-t", "app:v1", ctx]);
    assert!(first.contains("RUN says hi\n"), "{first}");
    assert!(
        first.contains("to stderr\n"),
        "RUN's stderr is streamed: {first}"
    );
    assert_snapshot!("build_first", redact(&first));
    assert_eq!(
        ok(&daemon, &["run", "--rm", "app:v1"]),
        "hello from the context\nhello from RUN\n"
    );

    let again = ok(&daemon, &["build", "-t", "app:v1", ctx]);
    assert_eq!(again.matches("Using cache").count(), 4, "{again}");
    assert!(
        !again.contains("\nRUN says hi\n"),
        "the RUN did not run: {again}"
    );

    let quiet = ok(&daemon, &["build", "-q", "--no-cache", "-t", "app:v2", ctx]);
    assert!(
        quiet.starts_with("sha256:") && quiet.lines().count() == 1,
        "{quiet}"
    );

    // The ignored file was not sent: COPY of it fails (the builder sees no such file).
    write(
        &dir,
        "Dockerfile.secret",
        "FROM busybox\nCOPY secret.txt /\n",
    );
    let refused = daemon.baleia(&["build", "-f", &format!("{ctx}/Dockerfile.secret"), ctx]);
    assert_eq!(refused.status.code(), Some(1), "{}", report(&refused));
    assert!(
        stderr(&refused).contains("secret.txt"),
        "{}",
        report(&refused)
    );
}

#[test]
fn a_failing_run_reports_an_error_detail_and_tags_nothing() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = context(&env);
    write(
        &dir,
        "Dockerfile",
        "FROM busybox\nRUN echo about to fail && exit 3\n",
    );
    let output = daemon.baleia(&["build", "-t", "broken:1", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", report(&output));
    assert!(
        stdout(&output).contains("about to fail\n"),
        "{}",
        report(&output)
    );
    assert!(
        stderr(&output).contains("returned a non-zero code: 3"),
        "{}",
        report(&output)
    );
    let images = ok(&daemon, &["images", "-q", "broken"]);
    assert_eq!(images, "", "no tag made");
    assert!(
        std::fs::read_dir(env.path().join("root/builds"))
            .map(|d| d.count() == 0)
            .unwrap_or(true),
        "the context is removed"
    );
}

#[test]
fn the_docker_cli_builds_with_the_classic_builder() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = context(&env);
    write(&dir, "Dockerfile", APP);
    write(&dir, "hello.txt", "hello from the context\n");
    let output = daemon.docker_with(
        &[("DOCKER_BUILDKIT", "0")],
        &["build", "-t", "app:docker", dir.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", report(&output));
    assert!(stdout(&output).contains("Successfully tagged app:docker"));
    assert_eq!(
        ok(&daemon, &["run", "--rm", "app:docker"]),
        "hello from the context\nhello from RUN\n"
    );
}
