//! `--format` and `inspect -f`: baleia's templates against the real docker CLI's, on the same
//! objects of one `baleia daemon` (`docker -H unix://<its socket>`). Run:
//! `cargo test -p baleia-tests --test capstone_templates` (as root, docker CLI installed).

use harness::capstone::{ok, Daemon};
use harness::{report, TestEnv};

/// Every difference found, reported together at the end of the test.
static DIFFERENCES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// `baleia ARGS` and `docker ARGS` should print the same; a difference is recorded.
fn same(daemon: &Daemon, args: &[&str]) -> String {
    let ours = daemon.baleia(args);
    let theirs = daemon.docker(args);
    assert!(
        theirs.status.success(),
        "docker {args:?}\n{}",
        report(&theirs)
    );
    assert!(ours.status.success(), "baleia {args:?}\n{}", report(&ours));
    let (ours, theirs) = (
        String::from_utf8_lossy(&ours.stdout).into_owned(),
        String::from_utf8_lossy(&theirs.stdout).into_owned(),
    );
    if ours != theirs {
        DIFFERENCES.lock().unwrap().push(format!(
            "{args:?}\n  baleia: {ours:?}\n  docker: {theirs:?}"
        ));
    }
    ours
}

/// Now, as docker's `--since`/`--until` take it: unix seconds and nanoseconds.
fn unix_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

struct RemoveOnDrop<'a>(&'a Daemon<'a>, &'static str);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.baleia(&["network", "rm", self.1]);
    }
}

#[test]
fn templates_print_what_the_docker_cli_prints() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let started = unix_now();
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--label",
            "com.example.role=web",
            "--label",
            "tier=front",
            "busybox",
            "sleep",
            // Long enough for every comparison below under emulation too (scripts/vm).
            "1000",
        ],
    );
    ok(
        &daemon,
        &[
            "create", "--name", "idle", "--label", "solo=1", "busybox", "echo", "hi there",
        ],
    );
    ok(&daemon, &["volume", "create", "data"]);
    ok(
        &daemon,
        &["network", "create", "tplnet", "--subnet", "10.213.77.0/24"],
    );
    // Removed even if the test fails: its bridge and NAT rule outlive the daemon.
    let _network = RemoveOnDrop(&daemon, "tplnet");

    for template in [
        "{{.State.Status}}",
        "{{.Name}} {{.State.Running}} {{.State.ExitCode}}",
        "{{json .Config.Cmd}}",
        "{{json .Config.Labels}}",
        "{{json .State.Status}}",
        r#"{{index .Config.Labels "com.example.role"}}"#,
        r#"{{join .Config.Cmd ","}}"#,
        "{{upper .State.Status}} {{lower .Config.Image}}",
        r#"{{printf "%-8s|%5d|%q" .State.Status .State.ExitCode .Name}}"#,
        "{{.Config.Cmd}} {{.Config.Labels}}",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        "{{if .State.Running}}up{{else}}down{{end}} {{len .Config.Cmd}}",
        "{{with .Config}}{{.Image}}{{end}}",
    ] {
        same(&daemon, &["inspect", "-f", template, "web", "idle"]);
        same(&daemon, &["inspect", "--format", template, "web"]);
    }

    // A key the object lacks is an error for both, on standard error.
    let (ours, theirs) = (
        daemon.baleia(&["inspect", "-f", "{{.Missing}}", "web"]),
        daemon.docker(&["inspect", "-f", "{{.Missing}}", "web"]),
    );
    assert_eq!(ours.status.code(), Some(1), "{}", report(&ours));
    assert_eq!(theirs.status.code(), Some(1), "{}", report(&theirs));
    let said = String::from_utf8_lossy(&ours.stderr);
    assert!(
        said.contains("map has no entry for key \"Missing\""),
        "{said}"
    );

    same(
        &daemon,
        &[
            "ps",
            "-a",
            "--format",
            "{{.Names}} {{.Image}} {{.Command}} {{.State}}",
        ],
    );
    same(
        &daemon,
        &[
            "ps",
            "--format",
            "{{.ID}} {{.Labels}}",
            "--filter",
            "name=idle",
            "--no-trunc",
        ],
    );
    let table = same(
        &daemon,
        &[
            "ps",
            "-a",
            "--format",
            r"table {{.Names}}\t{{.Image}}\t{{.State}}",
        ],
    );
    assert!(table.starts_with("NAMES"), "{table}");
    same(
        &daemon,
        &["ps", "-a", "--format", "{{json .Names}}|{{lower .State}}"],
    );

    same(
        &daemon,
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
        ],
    );
    same(
        &daemon,
        &[
            "images",
            "--format",
            r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}",
        ],
    );

    same(
        &daemon,
        &[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}",
        ],
    );
    same(
        &daemon,
        &["volume", "ls", "--format", r"table {{.Name}}\t{{.Driver}}"],
    );
    same(
        &daemon,
        &[
            "network",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}}",
        ],
    );
    same(
        &daemon,
        &[
            "network",
            "ls",
            "--format",
            r"table {{.ID}}\t{{.Name}}\t{{upper .Driver}}",
        ],
    );

    same(
        &daemon,
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.ID}} {{.PIDs}}",
            "web",
        ],
    );

    let until = unix_now();
    let events = same(
        &daemon,
        &[
            "events",
            "--since",
            &started,
            "--until",
            &until,
            "--format",
            r#"{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{printf "%s/%s" .Type .Action}}"#,
        ],
    );
    assert!(
        events.contains("container create idle container/create"),
        "{events}"
    );

    let differences = DIFFERENCES.lock().unwrap().join("\n");
    assert!(
        differences.is_empty(),
        "baleia and docker differ:\n{differences}"
    );
    ok(&daemon, &["rm", "-f", "web", "idle"]);
    ok(&daemon, &["volume", "rm", "data"]);
}
