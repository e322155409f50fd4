//! The capstone's later API calls — build, cp, events, system df / prune, import — through
//! `baleia` (and the real `docker` CLI where it speaks the same API), against a daemon each
//! test starts. Run: `cargo test -p baleia-tests --test capstone_more` (as root).

use harness::capstone::ok;
use harness::capstone::{redact, Daemon};
use harness::stdout;
use harness::{assert_snapshot, report, TestEnv};
use std::path::{Path, PathBuf};
use std::process::Output;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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

/// The Dockerfile most build tests use (`capstone_docker_cli` builds the same).
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

/// A host directory with a secret in it, for containers to try to reach through symlinks.
fn host_dir(env: &TestEnv) -> PathBuf {
    let dir = env.path().join("host-only");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "host secret\n").unwrap();
    dir
}

fn cp_both_ways(daemon: &Daemon, cp: &dyn Fn(&str, &str) -> Output, running: bool) {
    let env = daemon.env;
    let host = host_dir(env);
    let host_s = host.to_str().unwrap();
    let name = if running { "live" } else { "done" };
    let links = format!("echo made inside > /made && mkdir -p /d/sub && echo deep > /d/sub/f && ln -s / /escape && ln -s {host_s} /hostlink");
    if running {
        ok(
            daemon,
            &[
                "run",
                "-d",
                "--name",
                name,
                "busybox",
                "sh",
                "-c",
                &format!("{links} && sleep 60"),
            ],
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while daemon
            .baleia(&["exec", name, "test", "-L", "/hostlink"])
            .status
            .code()
            != Some(0)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the container did not set up"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    } else {
        ok(
            daemon,
            &["run", "--name", name, "busybox", "sh", "-c", &links],
        );
    }
    let out = env.path().join(format!("out-{name}"));
    std::fs::create_dir_all(&out).unwrap();
    let out_s = out.to_str().unwrap();

    // Out: a file under a new name, a directory into an existing one.
    let got = cp(&format!("{name}:/made"), &format!("{out_s}/made.txt"));
    assert!(got.status.success(), "{}", report(&got));
    assert_eq!(
        std::fs::read_to_string(out.join("made.txt")).unwrap(),
        "made inside\n"
    );
    let got = cp(&format!("{name}:/d"), out_s);
    assert!(got.status.success(), "{}", report(&got));
    assert_eq!(
        std::fs::read_to_string(out.join("d/sub/f")).unwrap(),
        "deep\n"
    );

    // In: a file into a directory, then read back.
    let file = env.path().join("from-host.txt");
    std::fs::write(&file, "from the host\n").unwrap();
    let got = cp(file.to_str().unwrap(), &format!("{name}:/d/"));
    assert!(got.status.success(), "{}", report(&got));
    let got = cp(
        &format!("{name}:/d/from-host.txt"),
        &format!("{out_s}/back.txt"),
    );
    assert!(got.status.success(), "{}", report(&got));
    assert_eq!(
        std::fs::read_to_string(out.join("back.txt")).unwrap(),
        "from the host\n"
    );

    // Symlinks stay inside: /escape is the container's own /, /hostlink a path that does not
    // exist in the container. The host's directory is neither read nor written.
    let got = cp(
        &format!("{name}:/escape/made"),
        &format!("{out_s}/via-escape"),
    );
    assert!(got.status.success(), "{}", report(&got));
    assert_eq!(
        std::fs::read_to_string(out.join("via-escape")).unwrap(),
        "made inside\n"
    );
    let got = cp(
        &format!("{name}:/hostlink/secret"),
        &format!("{out_s}/stolen"),
    );
    assert!(
        !got.status.success(),
        "read through a symlink: {}",
        report(&got)
    );
    assert!(!out.join("stolen").exists());
    let got = cp(file.to_str().unwrap(), &format!("{name}:/hostlink/"));
    assert!(
        !got.status.success(),
        "wrote through a symlink: {}",
        report(&got)
    );
    let got = cp(file.to_str().unwrap(), &format!("{name}:/hostlink/planted"));
    assert!(
        !got.status.success(),
        "wrote through a symlink: {}",
        report(&got)
    );
    let mut left: Vec<String> = std::fs::read_dir(&host)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["secret"], "the host directory is untouched");
    // The symlink itself comes out as a symlink.
    let got = cp(&format!("{name}:/hostlink"), &format!("{out_s}/link"));
    assert!(got.status.success(), "{}", report(&got));
    assert_eq!(std::fs::read_link(out.join("link")).unwrap(), host);
}

#[test]
fn cp_copies_both_ways_and_symlinks_never_lead_out_of_the_container() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let baleia = |src: &str, dest: &str| daemon.baleia(&["cp", src, dest]);
    cp_both_ways(&daemon, &baleia, true);
    cp_both_ways(&daemon, &baleia, false);
}

#[test]
fn docker_cp_copies_both_ways_and_symlinks_never_lead_out_of_the_container() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let docker = |src: &str, dest: &str| daemon.docker(&["cp", src, dest]);
    cp_both_ways(&daemon, &docker, true);
    cp_both_ways(&daemon, &docker, false);
}

fn now_seconds() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// `TYPE ACTION name=…` of each event line, for comparing.
fn event_summary(lines: &str) -> Vec<String> {
    lines
        .lines()
        .map(|line| {
            let words: Vec<&str> = line.split(' ').collect();
            let name = line
                .split("name=")
                .nth(1)
                .map(|n| n.trim_end_matches(')').split(',').next().unwrap_or(""))
                .unwrap_or("");
            format!("{} {} {name}", words[1], words[2])
        })
        .collect()
}

#[test]
fn events_record_a_run_and_since_works_across_a_daemon_restart() {
    let env = TestEnv::new();
    let mut daemon = Daemon::start(&env);
    daemon.import_busybox();
    let since = now_seconds();
    ok(&daemon, &["run", "--name", "ev", "busybox", "true"]);
    ok(&daemon, &["rm", "ev"]);
    ok(&daemon, &["volume", "create", "vol-ev"]);
    ok(&daemon, &["volume", "rm", "vol-ev"]);
    ok(&daemon, &["tag", "busybox", "other:1"]);
    ok(&daemon, &["network", "create", "evnet"]);
    ok(&daemon, &["network", "rm", "evnet"]);
    ok(&daemon, &["rmi", "other:1"]);
    let until = now_seconds();
    // As dockerd's: `run` attaches before it starts.
    let expected = [
        "container create ev",
        "container attach ev",
        "container start ev",
        "container die ev",
        "container destroy ev",
        "volume create ",
        "volume destroy ",
        "image tag other:1",
        "network create evnet",
        "network destroy evnet",
        "image untag other:1",
    ];
    let seen = ok(&daemon, &["events", "--since", &since, "--until", &until]);
    assert_eq!(event_summary(&seen), expected, "{seen}");
    assert!(seen.contains("exitCode=0"), "{seen}");

    daemon.kill();
    daemon.restart();
    let again = ok(&daemon, &["events", "--since", &since, "--until", &until]);
    assert_eq!(again, seen, "the journal outlives the daemon");
    let filtered = ok(
        &daemon,
        &[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "event=die",
        ],
    );
    assert_eq!(event_summary(&filtered), ["container die ev"]);
    let docker = daemon.docker(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "type=container",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert!(docker.status.success(), "{}", report(&docker));
    assert_eq!(
        stdout(&docker),
        "container create ev\ncontainer attach ev\ncontainer start ev\ncontainer die ev\ncontainer destroy ev\n"
    );
}

/// `system df`'s row for `kind`: TOTAL, ACTIVE.
fn df_row(daemon: &Daemon, kind: &str) -> (String, String) {
    let table = ok(daemon, &["system", "df"]);
    let line = table
        .lines()
        .find(|l| l.starts_with(kind))
        .unwrap_or_else(|| panic!("no {kind} in {table}"));
    let words: Vec<&str> = line[kind.len()..].split_whitespace().collect();
    (words[0].to_string(), words[1].to_string())
}

#[test]
fn import_df_and_prunes_take_only_what_nothing_uses() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let tar = harness::busybox_tar(&env);
    let tar = tar.to_str().unwrap();

    // import: a root file system tar becomes an image that runs.
    let id = ok(
        &daemon,
        &["import", tar, "imp:1", "-c", "CMD [\"echo\", \"imported\"]"],
    );
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(ok(&daemon, &["run", "--rm", "imp:1"]), "imported\n");
    // Without a name: a dangling image.
    ok(&daemon, &["import", tar]);
    assert_eq!(df_row(&daemon, "Images"), ("3".into(), "0".into()));

    ok(
        &daemon,
        &[
            "run",
            "--name",
            "stopped",
            "busybox",
            "sh",
            "-c",
            "echo data > /file",
        ],
    );
    ok(
        &daemon,
        &["run", "-d", "--name", "live", "busybox", "sleep", "60"],
    );
    ok(&daemon, &["network", "create", "prunable"]);
    assert_eq!(df_row(&daemon, "Containers"), ("2".into(), "1".into()));
    assert_eq!(df_row(&daemon, "Images"), ("3".into(), "1".into()));
    assert_snapshot!("system_df", redact(&ok(&daemon, &["system", "df"])));

    let pruned = ok(&daemon, &["container", "prune", "-f"]);
    assert!(pruned.contains("Deleted Containers:"), "{pruned}");
    let left = ok(&daemon, &["ps", "-a"]);
    assert!(left.contains("live") && !left.contains("stopped"), "{left}");

    let pruned = ok(&daemon, &["image", "prune", "-f"]);
    assert_eq!(
        pruned.matches("deleted: sha256:").count(),
        1,
        "only the dangling one: {pruned}"
    );
    let images = ok(&daemon, &["images"]);
    assert!(
        images.contains("busybox") && images.contains("imp"),
        "{images}"
    );

    let pruned = ok(&daemon, &["system", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted Networks:\nprunable\n"), "{pruned}");
    assert!(pruned.contains("untagged: imp:1"), "{pruned}");
    assert!(
        !pruned.contains("busybox"),
        "busybox is used by a container: {pruned}"
    );
    assert!(pruned.contains("Total reclaimed space:"), "{pruned}");
    assert_eq!(df_row(&daemon, "Images"), ("1".into(), "1".into()));
    assert_eq!(df_row(&daemon, "Containers"), ("1".into(), "1".into()));
}

/// Chapter 06's registry on a free loopback port, `alice:secret` needed to push and pull;
/// killed when dropped.
fn registry(env: &TestEnv) -> harness::registry::Server {
    use std::io::BufRead;
    let mut child = env
        .std_cmd("ch06-registry")
        .arg("--root")
        .arg(env.path().join("served"))
        .args(["serve", "--addr", "127.0.0.1:0", "--user", "alice:secret"])
        .arg("--token-auth")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start ch06-registry serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    harness::registry::Server { child, addr }
}

#[test]
fn login_checks_credentials_and_a_build_pulls_its_missing_base() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    let server = registry(&env);
    let config = env.path().join("client-config");
    let login = |password: &str| {
        env.cmd("baleia")
            .env("BALEIA_HOST", daemon.host())
            .env("DOCKER_CONFIG", &config)
            .args(["login", "-u", "alice", "--password-stdin", &server.addr])
            .write_stdin(format!("{password}\n"))
            .output()
            .unwrap()
    };
    let wrong = login("guess");
    assert!(!wrong.status.success(), "{}", report(&wrong));
    assert!(stderr(&wrong).contains("401"), "{}", report(&wrong));
    assert!(!config.join("config.json").exists(), "nothing stored");
    let right = login("secret");
    assert!(right.status.success(), "{}", report(&right));
    assert_eq!(stdout(&right), "Login Succeeded\n");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(config.join("config.json")).unwrap()).unwrap();
    assert_eq!(stored["auths"][&server.addr]["auth"], "YWxpY2U6c2VjcmV0");

    // The real docker CLI logs in through the same `POST /auth`.
    let docker_config = env.path().join("docker-login-config");
    let docker = assert_cmd::Command::new("docker")
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", &docker_config)
        .args(["login", "-u", "alice", "--password-stdin", &server.addr])
        .write_stdin("secret\n")
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert!(docker.status.success(), "{}", report(&docker));
    assert!(
        stdout(&docker).contains("Login Succeeded"),
        "{}",
        report(&docker)
    );

    // The stored login goes with a push (`X-Registry-Auth`), which needs it.
    daemon.import_busybox();
    let mine = format!("{}/mine/busybox:v1", server.addr);
    let client = |args: &[&str]| {
        env.cmd("baleia")
            .env("BALEIA_HOST", daemon.host())
            .env("DOCKER_CONFIG", &config)
            .args(args)
            .output()
            .unwrap()
    };
    let tagged = client(&["tag", "busybox", &mine]);
    assert!(tagged.status.success(), "{}", report(&tagged));
    let pushed = client(&["push", &mine]);
    assert!(pushed.status.success(), "{}", report(&pushed));
    let anonymous = env
        .cmd("baleia")
        .env("BALEIA_HOST", daemon.host())
        .env("DOCKER_CONFIG", env.path().join("nobody"))
        .args(["push", &mine])
        .output()
        .unwrap();
    assert!(!anonymous.status.success(), "{}", report(&anonymous));
    ok(&daemon, &["rmi", &mine]);

    // A base image only the registry has: the build pulls it first, as Docker's does.
    let base = format!("{}/lib/busybox:v1", server.addr);
    let pushed = env
        .cmd("ch06-registry")
        .args(["push", "--creds", "alice:secret", "busybox", &base])
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", report(&pushed));
    ok(&daemon, &["rmi", "busybox"]);
    let dir = context(&env);
    write(
        &dir,
        "Dockerfile",
        &format!("FROM {base}\nRUN echo built on the pulled base > /x\nCMD [\"cat\", \"/x\"]\n"),
    );
    // Without a login the pull is refused; with one, the client's `X-Registry-Config` lets
    // the daemon pull.
    let refused = daemon.baleia(&["build", "-t", "pulled", dir.to_str().unwrap()]);
    assert!(!refused.status.success(), "{}", report(&refused));
    assert!(
        stderr(&refused).contains("authentication required"),
        "{}",
        report(&refused)
    );
    let built = client(&["build", "-t", "pulled", dir.to_str().unwrap()]);
    assert!(built.status.success(), "{}", report(&built));
    let built = stdout(&built);
    assert!(
        built.contains("Pulling from lib/busybox") || built.contains("Downloaded"),
        "{built}"
    );
    assert_eq!(
        ok(&daemon, &["run", "--rm", "pulled"]),
        "built on the pulled base\n"
    );
}

#[test]
fn events_follows_what_happens_from_now_on() {
    use std::io::BufRead;
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(&daemon, &["run", "--rm", "busybox", "true"]); // before: not shown
                                                      // From this instant on (read from the journal: no race with the follower's connection).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let since = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    let mut follower = env
        .std_cmd("baleia")
        .env("BALEIA_HOST", daemon.host())
        .args(["events", "--since", &since, "--filter", "type=container"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = follower.stdout.take().unwrap();
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    ok(
        &daemon,
        &["run", "--rm", "--name", "followed", "busybox", "true"],
    );
    let until_destroyed = |name: &str| {
        let mut seen = Vec::new();
        while !seen.iter().any(|l: &String| l.contains(" destroy ")) {
            match lines.recv_timeout(std::time::Duration::from_secs(10)) {
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        let expected: Vec<String> = ["create", "attach", "start", "die", "destroy"]
            .iter()
            .map(|action| format!("container {action} {name}"))
            .collect();
        assert_eq!(event_summary(&seen.join("\n")), expected, "{seen:?}");
    };
    until_destroyed("followed");
    // The follower has delivered: it is connected now, and what comes next arrives live.
    ok(
        &daemon,
        &["run", "--rm", "--name", "followed-live", "busybox", "true"],
    );
    until_destroyed("followed-live");
    let _ = follower.kill();
    let _ = follower.wait();
}

#[test]
fn build_args_target_and_a_dockerfile_outside_the_context_go_through_the_api() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = context(&env);
    write(&dir, "note.txt", "from the context\n");
    let outside = env.path().join("elsewhere/Dockerfile.multi");
    write(
        &env.path().join("elsewhere"),
        "Dockerfile.multi",
        "FROM busybox AS first\nARG FLAVOUR=plain\nCOPY note.txt /\nRUN echo $FLAVOUR >> /note.txt\n\
         CMD [\"cat\", \"/note.txt\"]\nFROM busybox AS second\nRUN exit 1\n",
    );
    let built = ok(
        &daemon,
        &[
            "build",
            "-f",
            outside.to_str().unwrap(),
            "--build-arg",
            "FLAVOUR=spicy",
            "--target",
            "first",
            "-t",
            "multi",
            dir.to_str().unwrap(),
        ],
    );
    assert!(
        built.contains("Successfully tagged multi:latest"),
        "{built}"
    );
    assert_eq!(
        ok(&daemon, &["run", "--rm", "multi"]),
        "from the context\nspicy\n"
    );
}

/// `POST PATH` with `body` on the daemon's socket: the response's head and body.
fn raw_post(daemon: &Daemon, path: &str, body: &[u8]) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(&daemon.socket).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\nContent-Type: application/x-tar\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut body = answer[split + 4..].to_vec();
    if head.contains("Transfer-Encoding: chunked") {
        body = harness::http::dechunk(&body);
    }
    (head, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn the_build_api_speaks_docker_json_messages() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = context(&env);
    write(&dir, "Dockerfile", "FROM busybox\nRUN echo streamed\n");
    write(
        &dir,
        "Dockerfile.bad",
        "FROM busybox\nRUN echo doomed; exit 7\n",
    );
    let tar = env.path().join("context.tar");
    let made = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(made.success());
    let tar = std::fs::read(tar).unwrap();

    let (head, body) = raw_post(&daemon, "/v1.41/build?t=api%3A1", &tar);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let messages: Vec<serde_json::Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert_eq!(messages[0]["stream"], "Step 1/2 : FROM busybox\n");
    assert!(
        messages.iter().any(|m| m["stream"] == "streamed\n"),
        "RUN's output is its own message: {body}"
    );
    let id = messages.last().unwrap()["aux"]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.starts_with("sha256:"), "{body}");
    assert!(ok(&daemon, &["inspect", "api:1"]).contains(&id));

    let (_, body) = raw_post(&daemon, "/build?t=bad&dockerfile=Dockerfile.bad", &tar);
    let last: serde_json::Value = serde_json::from_str(body.lines().last().unwrap()).unwrap();
    let message = last["errorDetail"]["message"].as_str().unwrap();
    assert!(message.contains("returned a non-zero code: 7"), "{body}");
    assert_eq!(last["error"], message);
    assert!(body.contains("doomed"), "{body}");

    let (head, _) = raw_post(&daemon, "/build?dockerfile=../etc/passwd", &tar);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[test]
fn the_build_cache_shows_in_df_and_system_prune_all_empties_it() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = context(&env);
    write(&dir, "Dockerfile", APP);
    write(&dir, "hello.txt", "hello from the context\n");
    ok(&daemon, &["build", "-t", "app:v1", dir.to_str().unwrap()]);
    let (cached, _) = df_row(&daemon, "Build Cache");
    assert_eq!(cached, "4", "one entry a step after FROM");
    let pruned = ok(&daemon, &["system", "prune", "-a", "-f"]);
    assert!(pruned.contains("Deleted build cache objects:"), "{pruned}");
    assert_eq!(df_row(&daemon, "Build Cache"), ("0".into(), "0".into()));
    assert_eq!(
        ok(&daemon, &["images", "-q"]),
        "",
        "nothing uses the images: all gone"
    );
    daemon.import_busybox(); // (else the build would pull it from Docker Hub)
    let rebuilt = ok(&daemon, &["build", "-t", "app:v1", dir.to_str().unwrap()]);
    assert!(!rebuilt.contains("Using cache"), "{rebuilt}");
}
