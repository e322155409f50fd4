//! The capstone — `baleia`, the client, against a daemon each test starts on its own socket in
//! its own temp state root. Run: `cargo test -p baleia-tests --test capstone` (as root).
//!
//! Ids and ages are redacted in snapshots (see `harness::capstone::redact`).

use harness::capstone::ok;
use harness::capstone::{redact, Daemon};
use harness::stdout;
use harness::wait_until;
use harness::{assert_snapshot, report, TestEnv};
use std::process::Output;
use std::time::{Duration, Instant};

#[test]
fn hello_world_runs_offline_and_the_client_starts_a_daemon_when_none_runs() {
    let env = TestEnv::new();
    let socket = env.path().join("auto.sock");
    let output = env
        .cmd("baleia")
        .env("BALEIA_HOST", format!("unix://{}", socket.display()))
        .args(["run", "--rm", "hello-world"])
        .output()
        .unwrap();
    // The daemon the client started: stop it (it is found by the marker if this fails).
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let pid: i32 = stderr
        .split("(pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no daemon pid in: {stderr}"));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    );
    assert!(output.status.success(), "{}", report(&output));
    assert!(stdout(&output).contains("Hello from baleia!"));
    assert!(stderr.contains("no daemon was running"), "{stderr}");
    wait_until("the daemon to stop", || !socket.exists());
}

#[test]
fn the_systemd_cgroup_driver_is_refused_by_name_not_ignored() {
    let env = TestEnv::new();
    let socket = env.path().join("driver.sock");
    let output = env
        .cmd("baleia")
        .args(["daemon", "--cgroup-driver", "systemd", "-H"])
        .arg(format!("unix://{}", socket.display()))
        .output()
        .unwrap();
    assert!(!output.status.success(), "{}", report(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--cgroup-driver systemd is not supported"),
        "{stderr}"
    );
    assert!(!socket.exists(), "the daemon must not start");
}

#[test]
fn run_detached_then_ps_logs_stop_inspect_and_rm() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let id = ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "echo started; echo oops >&2; exec sleep 100",
        ],
    );
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    wait_until("the output", || {
        ok(&daemon, &["logs", "ticker"]).contains("started")
    });
    assert_snapshot!("ps_running", redact(&ok(&daemon, &["ps"])));
    let logs = daemon.baleia(&["logs", &id[..12]]);
    assert_eq!(stdout(&logs), "started\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "oops\n");
    // sleep as PID 1 ignores SIGTERM: stop waits 1 s, then SIGKILL.
    let started = Instant::now();
    assert_eq!(ok(&daemon, &["stop", "-t", "1", "ticker"]), "ticker\n");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(ok(&daemon, &["ps", "-q"]), "");
    assert_snapshot!("ps_all_exited", redact(&ok(&daemon, &["ps", "-a"])));
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&daemon, &["inspect", "ticker"])).unwrap();
    let c = &inspect[0];
    assert_snapshot!(
        "inspect_fields",
        format!(
            "Name {}\nPath {}\nArgs {}\nState.Status {}\nState.ExitCode {}\nState.Running {}\nConfig.Image {}\nConfig.Env {}\nHostConfig.NetworkMode {}\n",
            c["Name"], c["Path"], c["Args"], c["State"]["Status"], c["State"]["ExitCode"],
            c["State"]["Running"], c["Config"]["Image"], c["Config"]["Env"], c["HostConfig"]["NetworkMode"]
        )
        .replace(&id[..12], "<ID-12>")
    );
    assert_eq!(c["Id"], id);
    let refused = daemon.baleia(&["rm", "nosuch"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("No such container: nosuch"));
    ok(&daemon, &["rm", "ticker"]);
    assert_eq!(ok(&daemon, &["ps", "-aq"]), "");
    assert!(!env.path().join("root/containers").join(id).exists());
}

#[test]
fn exit_codes_follow_docker() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let code = |args: &[&str]| daemon.baleia(args).status.code();
    assert_eq!(
        code(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]),
        Some(3)
    );
    assert_eq!(code(&["run", "--rm", "busybox", "nosuch"]), Some(127));
    assert_eq!(code(&["run", "--rm", "busybox", "/etc"]), Some(126));
    assert_eq!(code(&["run", "--rm", "no-such-image"]), Some(125));
    assert_eq!(
        code(&["run", "--rm", "-v", "/a:/b", "busybox"]),
        Some(125),
        "a bind mount of a host path that does not exist"
    );
    // --rm removed them all, even those that failed to start.
    wait_until("--rm to remove everything", || {
        ok(&daemon, &["ps", "-aq"]).is_empty()
    });
}

#[test]
fn run_options_reach_the_container() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let output = ok(
        &daemon,
        &[
            "run", "--rm", "-u", "nobody", "-w", "/work", "-e", "GREETING=hi", "--hostname", "box",
            "--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c",
            "id; pwd; echo $GREETING $HOSTNAME $HOME; hostname; touch /x 2>&1; touch /scratch/y && echo tmpfs ok",
        ],
    );
    assert_snapshot!("options", output);
    let entry = ok(
        &daemon,
        &[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "busybox",
            "from",
            "entrypoint",
        ],
    );
    assert_eq!(entry, "from entrypoint\n");
    // --env-file: comments and blank lines skipped, `-e` wins over the file.
    let file = env.path().join("env.list");
    std::fs::write(&file, "# settings\nCOLOR=blue\n\nSHAPE=square\n").unwrap();
    let file = file.to_str().unwrap();
    let from_file = ok(
        &daemon,
        &[
            "run",
            "--rm",
            "--env-file",
            file,
            "-e",
            "SHAPE=round",
            "busybox",
            "sh",
            "-c",
            "echo $COLOR $SHAPE",
        ],
    );
    assert_eq!(from_file, "blue round\n");
    // Limits: read back from the container's cgroup on the host while it runs.
    let id = ok(
        &daemon,
        &[
            "run",
            "-d",
            "-m",
            "64m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let id = id.trim();
    let layout = ch02_cgroups::Layout::detect().unwrap();
    let cgroup = ch02_cgroups::ContainerCgroup::open(&layout, &daemon.cgroup_parent(), id).unwrap();
    let read = |controller, v1: &str, v2: &str| {
        let dir = cgroup.dir_of(controller).unwrap();
        let file = if layout.mode.is_v2() { v2 } else { v1 };
        std::fs::read_to_string(dir.join(file))
            .unwrap()
            .trim()
            .to_string()
    };
    use ch02_cgroups::Controller;
    assert_eq!(
        read(Controller::Memory, "memory.limit_in_bytes", "memory.max"),
        "67108864"
    );
    assert_eq!(read(Controller::Pids, "pids.max", "pids.max"), "20");
    let cpu = read(Controller::Cpu, "cpu.cfs_quota_us", "cpu.max");
    assert!(cpu.starts_with("50000"), "{cpu}");
    drop(cgroup);
    ok(&daemon, &["rm", "-f", id]);
}

#[test]
fn containers_survive_a_killed_daemon_and_are_adopted_by_the_next() {
    let env = TestEnv::new();
    let mut daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(
        &daemon,
        &["run", "-d", "--name", "counter", "busybox", "sh", "-c",
          "trap 'echo bye; exit 0' TERM; i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done"],
    );
    wait_until("some output", || {
        ok(&daemon, &["logs", "counter"]).contains("line 3")
    });
    daemon.kill();
    // While no daemon runs, the container keeps printing into its log.
    std::thread::sleep(Duration::from_millis(500));
    daemon.restart();
    assert_snapshot!("ps_after_restart", redact(&ok(&daemon, &["ps"])));
    ok(&daemon, &["stop", "counter"]);
    let logs = ok(&daemon, &["logs", "counter"]);
    let lines: Vec<&str> = logs.lines().collect();
    assert_eq!(lines.last(), Some(&"bye"), "the TERM trap ran: {logs}");
    for (n, line) in lines[..lines.len() - 1].iter().enumerate() {
        assert_eq!(
            *line,
            format!("line {n}"),
            "no line lost while the daemon was away"
        );
    }
    assert!(lines.len() > 8, "it printed while no daemon ran: {logs}");
    let ps = ok(&daemon, &["ps", "-a", "--filter", "exited=0"]);
    assert!(ps.contains("Exited (0)"), "{ps}");
}

#[test]
fn images_tag_history_tree_and_rmi() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(&daemon, &["run", "--rm", "hello-world"]);
    ok(&daemon, &["tag", "busybox", "mybox:v1"]);
    assert_snapshot!("images", redact(&ok(&daemon, &["images"])));
    assert_snapshot!("history", redact(&ok(&daemon, &["history", "mybox:v1"])));
    assert_snapshot!("tree", redact(&ok(&daemon, &["tree"])));
    assert_eq!(ok(&daemon, &["rmi", "mybox:v1"]), "Untagged: mybox:v1\n");
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&daemon, &["inspect", "busybox"])).unwrap();
    assert_eq!(
        inspect[0]["RepoTags"],
        serde_json::json!(["busybox:latest"])
    );
    assert_eq!(inspect[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
    let info = ok(&daemon, &["info"]);
    assert!(info.contains("Images: 2"), "{info}");
    let version = ok(&daemon, &["version"]);
    assert!(version.contains("API version: 1.47"), "{version}");
}

#[test]
fn create_start_restart_kill_and_wait() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let id = ok(
        &daemon,
        &[
            "create",
            "--name",
            "job",
            "busybox",
            "sh",
            "-c",
            "echo run; sleep 30",
        ],
    );
    assert_eq!(id.trim().len(), 64);
    assert!(ok(&daemon, &["ps", "-a"]).contains("Created"));
    assert_eq!(ok(&daemon, &["start", "job"]), "job\n");
    wait_until("the first run's output", || {
        ok(&daemon, &["logs", "job"]) == "run\n"
    });
    ok(&daemon, &["restart", "-t", "0", "job"]);
    wait_until("the second run's output", || {
        ok(&daemon, &["logs", "job"]) == "run\nrun\n"
    });
    assert_eq!(ok(&daemon, &["kill", "job"]), "job\n");
    // A SIGKILL is answered once the container has ended (as dockerd's): no wait needed.
    let state = [
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}}",
        "job",
    ];
    assert_eq!(ok(&daemon, &state), "exited 137\n");
    assert_eq!(ok(&daemon, &["wait", "job"]), "137\n");
    let refused = daemon.baleia(&["kill", "job"]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not running"));
    let taken = daemon.baleia(&["create", "--name", "job", "busybox"]);
    assert!(String::from_utf8_lossy(&taken.stderr).contains("is already in use"));
}

#[test]
fn restart_policies_restart_what_ends_on_its_own_but_not_what_the_user_stopped() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo try; exit 3",
        ],
    );
    wait_until("two restarts", || {
        let inspect: serde_json::Value =
            serde_json::from_str(&ok(&daemon, &["inspect", "flaky"])).unwrap();
        inspect[0]["RestartCount"] == 2
            && inspect[0]["State"]["Status"] == "exited"
            && ok(&daemon, &["logs", "flaky"]).lines().count() == 3
    });
    assert_eq!(ok(&daemon, &["logs", "flaky"]), "try\ntry\ntry\n");
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "always",
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "echo up; sleep 0.2",
        ],
    );
    wait_until("a restart", || {
        ok(&daemon, &["logs", "always"]).lines().count() >= 2
    });
    assert_eq!(ok(&daemon, &["stop", "always"]), "always\n");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(ok(&daemon, &["ps", "-a", "--filter", "name=always"]).contains("Exited"));
    let conflict = daemon.baleia(&["run", "--rm", "--restart", "always", "busybox", "true"]);
    assert!(String::from_utf8_lossy(&conflict.stderr).contains("Conflicting options"));
}

#[test]
fn diff_commit_save_and_load() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(
        &daemon,
        &[
            "run",
            "--name",
            "maker",
            "busybox",
            "sh",
            "-c",
            "echo hello > /greeting; rm /etc/group",
        ],
    );
    assert_eq!(
        ok(&daemon, &["diff", "maker"]),
        "C /etc\nD /etc/group\nA /greeting\n"
    );
    let id = ok(
        &daemon,
        &["commit", "-m", "add greeting", "maker", "busy:v2"],
    );
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(
        ok(&daemon, &["run", "--rm", "busy:v2", "cat", "/greeting"]),
        "hello\n"
    );
    let archive = env.path().join("busy.tar");
    ok(
        &daemon,
        &["save", "-o", archive.to_str().unwrap(), "busy:v2"],
    );
    ok(&daemon, &["rm", "maker"]);
    ok(&daemon, &["rmi", "busy:v2"]);
    assert_eq!(
        ok(&daemon, &["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: busy:v2\n"
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&daemon, &["inspect", "busy:v2"])).unwrap();
    assert_eq!(
        inspect[0]["Id"].as_str(),
        Some(id.trim()),
        "the id survives save and load"
    );
}

#[test]
fn exec_runs_in_the_container_with_its_environment() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(
        &daemon,
        &[
            "run", "-d", "--name", "host", "-e", "FOO=bar", "busybox", "sleep", "100",
        ],
    );
    let output = daemon.baleia(&[
        "exec",
        "host",
        "sh",
        "-c",
        "echo $FOO; ps -o pid,args; echo err >&2; exit 4",
    ]);
    assert_eq!(output.status.code(), Some(4), "{}", report(&output));
    assert_snapshot!("exec", stdout(&output));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "err\n");
    let as_nobody = ok(
        &daemon,
        &[
            "exec",
            "-u",
            "nobody",
            "-w",
            "/tmp",
            "-e",
            "X=1",
            "host",
            "sh",
            "-c",
            "id -u; pwd; echo $X $FOO",
        ],
    );
    assert_eq!(as_nobody, "65534\n/tmp\n1 bar\n");
    assert_eq!(
        daemon.baleia(&["exec", "host", "nosuch"]).status.code(),
        Some(127)
    );
    ok(&daemon, &["rm", "-f", "host"]);
}

#[test]
fn run_interactive_passes_standard_input_and_its_end() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let output = env
        .cmd("baleia")
        .env("BALEIA_HOST", daemon.host())
        .args([
            "run",
            "-i",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "wc -l; echo done",
        ])
        .write_stdin("one\ntwo\nthree\n")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    assert_eq!(stdout(&output), "3\ndone\n");
}

#[test]
fn logs_follow_streams_until_the_container_ends() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "slow",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo $i; sleep 0.3; done; echo bye >&2",
        ],
    );
    let started = Instant::now();
    let output = daemon.baleia(&["logs", "-f", "slow"]);
    assert!(output.status.success(), "{}", report(&output));
    assert_eq!(stdout(&output), "1\n2\n3\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "bye\n");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it followed"
    );
    let tail = ok(&daemon, &["logs", "--tail", "2", "-t", "slow"]);
    assert!(tail.ends_with(" 3\n") && tail.starts_with("20"), "{tail}");
}

/// `command` run by `script(1)`, which gives it a terminal, with this test's environment;
/// `input` is typed a moment later (a shell asks its terminal for the cursor position first,
/// and would take input that came too early as the answer).
fn in_a_terminal(daemon: &Daemon, command: &str, input: &str) -> Output {
    let baleia = harness::build_dir().join("baleia");
    let command = command.replace("baleia", baleia.to_str().unwrap());
    let mut cmd = assert_cmd::Command::new("sh");
    cmd.args([
        "-c",
        "(sleep 1; printf '%s' \"$INPUT\") | timeout -s KILL 30 script -qec \"$COMMAND\" /dev/null",
    ])
    .env("INPUT", input)
    .env("COMMAND", command)
    .env("BALEIA_HOST", daemon.host())
    .env("BALEIA_ROOT", daemon.env.path().join("root"))
    .env("BALEIA_TEST_MARK", daemon.env.marker())
    .timeout(Duration::from_secs(60));
    cmd.output().unwrap()
}

#[test]
fn run_with_a_terminal() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    // -t: the container's own pty (named in its own devpts), sized like ours.
    let output = in_a_terminal(
        &daemon,
        "stty rows 30 cols 100; baleia run -t --rm busybox sh -c 'tty; sleep 0.2; stty size; exit 3'",
        "",
    );
    assert_eq!(output.status.code(), Some(3), "{}", report(&output));
    assert_eq!(stdout(&output).replace('\r', ""), "/dev/pts/0\n30 100\n");
    // -it: an interactive shell; what we type reaches it, its exit code comes back.
    let output = in_a_terminal(
        &daemon,
        "baleia run -it --rm busybox sh",
        "echo typed $((6*7))\nexit 6\n",
    );
    assert_eq!(output.status.code(), Some(6), "{}", report(&output));
    assert!(stdout(&output).contains("typed 42"), "{}", report(&output));
    // exec -it, into a running container.
    ok(
        &daemon,
        &["run", "-d", "--name", "box", "busybox", "sleep", "100"],
    );
    let output = in_a_terminal(&daemon, "baleia exec -it box sh", "tty\nexit 8\n");
    assert_eq!(output.status.code(), Some(8), "{}", report(&output));
    assert!(
        stdout(&output).contains("/dev/pts/0"),
        "{}",
        report(&output)
    );
    let piped = env
        .cmd("baleia")
        .env("BALEIA_HOST", daemon.host())
        .args(["exec", "-i", "box", "sh", "-c", "read line; echo got $line"])
        .write_stdin("this\n")
        .output()
        .unwrap();
    assert_eq!(stdout(&piped), "got this\n", "{}", report(&piped));
    // The log of a container with a terminal is one raw stream.
    ok(
        &daemon,
        &["run", "-d", "-t", "--name", "tty", "busybox", "echo", "hi"],
    );
    ok(&daemon, &["wait", "tty"]);
    assert_eq!(ok(&daemon, &["logs", "tty"]), "hi\r\n");
}

/// The daemon's peak resident memory (VmHWM, proc(5)) since the last [`reset_peak`], in KiB.
fn peak_kib(pid: u32) -> u64 {
    harness::memory_kib(pid, "VmHWM").expect("VmHWM in /proc/PID/status")
}

/// Start the peak over: `5` in /proc/PID/clear_refs resets VmHWM to the current RSS (proc(5)).
fn reset_peak(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

#[test]
fn large_bodies_stream_through_the_daemon_in_bounded_memory() {
    use std::io::Read;
    const SIZE: usize = 128 << 20;
    // Well below the body: a daemon that held it whole would need at least SIZE.
    const BOUND_KIB: u64 = 48 << 10;
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    let pid = daemon.pid().unwrap();
    daemon.import_busybox();
    // Random bytes: gzip (layers, `cp` of a .tar.gz) cannot shrink them.
    let big = env.path().join("big");
    let mut noise = vec![0u8; SIZE];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut noise)
        .unwrap();
    std::fs::write(&big, &noise).unwrap();
    drop(noise);
    let same_as_big = |path: &std::path::Path| {
        let copy = std::fs::read(path).unwrap();
        let original = std::fs::read(&big).unwrap();
        copy.len() == original.len() && copy == original
    };
    let mut peaks = Vec::new();
    let mut step = |what: &str, args: &[&str]| {
        reset_peak(pid);
        ok(&daemon, args);
        peaks.push((what.to_string(), peak_kib(pid)));
    };

    ok(&daemon, &["create", "--name", "box", "busybox", "true"]);
    step("cp in", &["cp", big.to_str().unwrap(), "box:/big"]);
    let out = env.path().join("out");
    step("cp out", &["cp", "box:/big", out.to_str().unwrap()]);
    assert!(same_as_big(&out), "cp in and out changed the file");
    std::fs::remove_file(&out).unwrap();

    ok(&daemon, &["commit", "box", "big:1"]);
    let archive = env.path().join("big.tar");
    step("save", &["save", "-o", archive.to_str().unwrap(), "big:1"]);
    assert!(std::fs::metadata(&archive).unwrap().len() > SIZE as u64);
    ok(&daemon, &["rm", "box"]);
    ok(&daemon, &["rmi", "big:1"]);
    step("load", &["load", "-i", archive.to_str().unwrap()]);
    std::fs::remove_file(&archive).unwrap();
    ok(&daemon, &["create", "--name", "loaded", "big:1", "true"]);
    ok(&daemon, &["cp", "loaded:/big", out.to_str().unwrap()]);
    assert!(same_as_big(&out), "save and load changed the file");

    // `export`: the container's whole file system, the file in it.
    let exported = env.path().join("export.tar");
    step(
        "export",
        &["export", "-o", exported.to_str().unwrap(), "loaded"],
    );
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(env.path().join("export.tar"))
        .output()
        .unwrap();
    let listing = stdout(&listing);
    assert!(
        listing.lines().any(|l| l == "big") && listing.lines().any(|l| l == "bin/busybox"),
        "{listing}"
    );
    ok(&daemon, &["rm", "loaded"]);

    for (what, peak) in &peaks {
        assert!(
            *peak < BOUND_KIB,
            "{what}: the daemon's peak RSS was {peak} KiB for a body of {} KiB: {peaks:?}",
            SIZE >> 10
        );
    }
}

/// `baleia ARGS...` in the background, for a test that signals it or restarts the daemon
/// under it: what it prints is gathered as it comes.
struct Background {
    child: std::process::Child,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    err: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    fn start(daemon: &Daemon, args: &[&str]) -> Background {
        let mut child = daemon
            .env
            .std_cmd("baleia")
            .env("BALEIA_HOST", daemon.host())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start baleia");
        let gather = |mut from: Box<dyn std::io::Read + Send>| {
            let into = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = into.clone();
            let reader = std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = from.read(&mut buffer) {
                    sink.lock().unwrap().extend_from_slice(&buffer[..n]);
                }
            });
            (into, reader)
        };
        let (out, out_reader) = gather(Box::new(child.stdout.take().unwrap()));
        let (err, err_reader) = gather(Box::new(child.stderr.take().unwrap()));
        Background {
            child,
            out,
            err,
            readers: vec![out_reader, err_reader],
        }
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, text: &str) {
        wait_until(&format!("{text:?} on the client's stdout"), || {
            self.stdout().contains(text)
        });
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    /// Wait for it to end: its status, stdout and stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let status = self.child.wait().unwrap();
        for reader in self.readers.drain(..) {
            reader.join().unwrap();
        }
        let err = String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned();
        (status, self.stdout(), err)
    }
}

#[test]
fn signals_sent_to_the_client_reach_the_container_unless_sig_proxy_is_false() {
    use nix::sys::signal::Signal::{SIGINT, SIGTERM};
    use std::os::unix::process::ExitStatusExt;
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let script = "trap 'echo got INT' INT; trap 'echo got TERM; exit 3' TERM; echo ready; \
                  while true; do sleep 0.1; done";
    // `run` without -t: SIGINT and SIGTERM go to the container, whose traps answer; the
    // client streams on until the container ends, and exits with its code.
    let run = Background::start(&daemon, &["run", "--rm", "busybox", "sh", "-c", script]);
    run.wait_for("ready\n");
    run.signal(SIGINT);
    run.wait_for("got INT\n");
    run.signal(SIGTERM);
    let (status, out, err) = run.finish();
    assert_eq!(out, "ready\ngot INT\ngot TERM\n", "{err}");
    assert_eq!(status.code(), Some(3), "{err}");

    // `attach` proxies the same way.
    ok(
        &daemon,
        &[
            "run", "-d", "--name", "trapper", "busybox", "sh", "-c", script,
        ],
    );
    wait_until("the traps set", || {
        ok(&daemon, &["logs", "trapper"]).contains("ready")
    });
    let attach = Background::start(&daemon, &["attach", "trapper"]);
    std::thread::sleep(Duration::from_millis(500));
    attach.signal(SIGTERM);
    let (status, out, err) = attach.finish();
    assert_eq!(out, "got TERM\n", "{err}");
    assert_eq!(status.code(), Some(3), "{err}");

    // --sig-proxy=false: the signal ends the client alone; the container runs on.
    let run = Background::start(
        &daemon,
        &[
            "run",
            "--sig-proxy=false",
            "--name",
            "kept",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    run.wait_for("ready\n");
    run.signal(SIGTERM);
    let (status, _, err) = run.finish();
    assert_eq!(status.signal(), Some(SIGTERM as i32), "{err}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        ok(&daemon, &["logs", "kept"]),
        "ready\n",
        "the container heard nothing"
    );
    assert_eq!(
        ok(&daemon, &["inspect", "-f", "{{.State.Running}}", "kept"]),
        "true\n"
    );
}

#[test]
fn logs_follow_goes_on_across_a_daemon_restart_without_losing_or_repeating_a_line() {
    let env = TestEnv::new();
    let mut daemon = Daemon::start(&env);
    daemon.import_busybox();
    let count = 60;
    let script = format!(
        "i=1; while [ $i -le {count} ]; do echo line $i; echo err $i >&2; i=$((i+1)); \
         sleep 0.05; done"
    );
    for (name, tty) in [("plain", false), ("terminal", true)] {
        let mut args = vec!["run", "-d", "--name", name];
        if tty {
            args.push("-t");
        }
        args.extend(["busybox", "sh", "-c", &script]);
        ok(&daemon, &args);
        let follow = Background::start(&daemon, &["logs", "-f", name]);
        follow.wait_for(if tty { "line 5\r\n" } else { "line 5\n" });
        daemon.kill();
        // The container goes on writing into its log while no daemon runs.
        std::thread::sleep(Duration::from_millis(700));
        assert!(
            !follow.stdout().contains(&format!("line {count}")),
            "{name}: the restart came before the end"
        );
        daemon.restart();
        let (status, out, err) = follow.finish();
        assert!(status.success(), "{name}: {err}");
        if tty {
            // One stream, as the terminal wrote it: the same bytes `logs` gives at the end.
            // (Not always all 60 lines: a container with a terminal may end when the daemon
            // that held it is killed; what it wrote still shows exactly once.)
            assert_eq!(out, ok(&daemon, &["logs", name]), "{name}: {err}");
            assert!(
                out.contains("line 6\r\n"),
                "{name}: followed past the break: {out}"
            );
        } else {
            let wanted =
                |what: &str| -> String { (1..=count).map(|i| format!("{what} {i}\n")).collect() };
            assert_eq!(out, wanted("line"), "{name}: every line once, in order");
            assert_eq!(err, wanted("err"), "{name}");
        }
    }
}
