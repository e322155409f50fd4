//! Chapter 02 — cgroups. Each test runs `ch02-cgroups` as a learner would and checks that the
//! limits fire (the OOM killer, CPU throttling, a refused fork), that the reports say so, and
//! that every container's cgroup is gone afterwards. Every container is named after the test's
//! marker, so `TestEnv` finds any cgroup left behind. Run: `cargo test -p baleia-tests --test
//! ch02_cgroups` (as root).

use harness::{assert_cgroup_snapshot, assert_snapshot, probe, report, wait_for_pid_file, TestEnv};
use std::process::Output;

const BIN: &str = "ch02-cgroups";

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd(BIN).args(args).output().expect("run ch02-cgroups")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A `grep -E` pattern for the lines of `/proc/self/cgroup` (cgroups(7)) that place a process
/// for `controllers` (`memory|pids`): one `N:controller:/path` line per v1 hierarchy, or the
/// single `0::/path` line of cgroup v2, where every controller shares one tree.
fn cgroup_lines(controllers: &str) -> String {
    if harness::cgroup_layout() == "v2" {
        "^0::".to_string()
    } else {
        format!(":({controllers}):")
    }
}

fn probe_arg() -> String {
    probe().display().to_string()
}

/// A container name with the test's marker in it (so its cgroup directory has it too).
fn name(env: &TestEnv, what: &str) -> String {
    format!("{}-{what}", env.marker())
}

fn signal(pid: u32, signal: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
}

/// Start a long-running container in the background; returns the runner and the container's
/// pid (as the host sees it).
fn start_sleeper(env: &TestEnv, extra: &[&str]) -> (std::process::Child, String) {
    let pid_file = env
        .path()
        .join(format!("pid-{}", extra.join("-").replace('/', "")));
    let runner = env
        .std_cmd(BIN)
        .arg("run")
        .args(extra)
        .args(["--pid", "--mount", "--init", "--pid-file"])
        .arg(&pid_file)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    let pid = wait_for_pid_file(&pid_file);
    (runner, pid)
}

#[test]
fn memory_over_the_limit_is_killed_and_under_it_completes() {
    let env = TestEnv::new();
    let p = probe_arg();
    let over = run(
        &env,
        &[
            "run",
            "--name",
            &name(&env, "over"),
            "--memory",
            "64m",
            "--",
            &p,
            "alloc-mb",
            "256",
        ],
    );
    let under = run(
        &env,
        &[
            "run",
            "--name",
            &name(&env, "under"),
            "--memory",
            "64m",
            "--",
            &p,
            "alloc-mb",
            "16",
        ],
    );
    assert_eq!(over.status.code(), Some(137), "{}", report(&over));
    assert_eq!(under.status.code(), Some(0), "{}", report(&under));
    assert_snapshot!(format!(
        "== 256 MiB under --memory 64m\n{}== 16 MiB under --memory 64m\n{}",
        report(&over),
        report(&under)
    ));
}

/// The `cpu X s` of `--summary`: the CPU time the cgroup accounted.
fn accounted_cpu_seconds(output: &Output) -> f64 {
    let text = stderr(output);
    let after = text
        .split("cgroup summary: cpu ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in {}", report(output)));
    after.split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_cpu_quota_holds_a_busy_loop_to_its_share() {
    let env = TestEnv::new();
    let p = probe_arg();
    // The probe keeps a CPU busy for 1 s of wall-clock time; the cgroup says how much CPU
    // time that took.
    let limited = run(
        &env,
        &[
            "run",
            "--name",
            &name(&env, "cpu"),
            "--cpus",
            "0.2",
            "--summary",
            "--",
            &p,
            "spin-ms",
            "1000",
        ],
    );
    let free = run(
        &env,
        &[
            "run",
            "--name",
            &name(&env, "free"),
            "--summary",
            "--",
            &p,
            "spin-ms",
            "1000",
        ],
    );
    assert!(limited.status.success(), "{}", report(&limited));
    assert!(free.status.success(), "{}", report(&free));
    let limited_share = accounted_cpu_seconds(&limited) / 1.0;
    let free_share = accounted_cpu_seconds(&free) / 1.0;
    eprintln!(
        "CPU per second of wall time: --cpus 0.2: {limited_share:.3}, no limit: {free_share:.3}"
    );
    assert!(
        (0.05..0.5).contains(&limited_share),
        "under --cpus 0.2 a 1 s busy loop used {limited_share:.3} s of CPU"
    );
    assert!(
        free_share > limited_share * 1.5,
        "without a limit the loop should use clearly more CPU: {free_share:.3} s vs {limited_share:.3} s"
    );
}

#[test]
fn a_fork_bomb_is_contained_by_the_pids_limit() {
    let env = TestEnv::new();
    let p = probe_arg();
    // A bounded bomb: try to start 100 sleeping children under a limit of 20 processes.
    let output = run(
        &env,
        &[
            "run",
            "--name",
            &name(&env, "bomb"),
            "--pids-limit",
            "20",
            "--",
            &p,
            "spawn",
            "100",
        ],
    );
    assert_snapshot!(report(&output));
    // The host is unaffected: we can still start processes.
    let host = std::process::Command::new("true").status().unwrap();
    assert!(host.success());
}

#[test]
fn the_cgroup_is_removed_however_the_container_ends() {
    let env = TestEnv::new();
    let cases: &[(&str, &[&str], i32)] = &[
        ("it exits", &["true"], 0),
        ("it is killed", &["sh", "-c", "kill -9 $$"], 137),
        ("it cannot start", &["no-such-command"], 127),
        // Without a PID namespace a child outlives the command; it is killed with the cgroup.
        (
            "it leaves a child behind",
            &["sh", "-c", "sleep 30 & exit 0"],
            0,
        ),
    ];
    for (case, command, code) in cases {
        let container = name(&env, "end");
        let mut args = vec!["run", "--name", &container, "--"];
        args.extend_from_slice(command);
        let output = run(&env, &args);
        assert_eq!(
            output.status.code(),
            Some(*code),
            "{case}: {}",
            report(&output)
        );
        assert_eq!(
            env.leaked_cgroups(),
            Vec::<std::path::PathBuf>::new(),
            "{case}"
        );
        assert_eq!(env.leaked_processes(), Vec::<u32>::new(), "{case}");
    }
}

#[test]
fn sigint_to_the_runner_stops_the_container_and_removes_its_cgroup() {
    let env = TestEnv::new();
    let (mut runner, _) = start_sleeper(&env, &["--name", &name(&env, "int")]);
    assert!(
        !env.leaked_cgroups().is_empty(),
        "while it runs, the container's cgroup exists and carries the marker"
    );
    signal(runner.id(), nix::sys::signal::Signal::SIGINT);
    let status = runner.wait().unwrap();
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    assert_eq!(env.leaked_cgroups(), Vec::<std::path::PathBuf>::new());
}

#[test]
fn stats_shows_what_a_running_container_uses() {
    let env = TestEnv::new();
    let container = name(&env, "stats");
    let (mut runner, _) = start_sleeper(
        &env,
        &[
            "--name",
            &container,
            "--memory",
            "32m",
            "--pids-limit",
            "10",
        ],
    );
    let stats = run(&env, &["stats", &container]);
    let missing = run(&env, &["stats", &name(&env, "ghost")]);
    signal(runner.id(), nix::sys::signal::Signal::SIGTERM);
    assert_eq!(runner.wait().unwrap().code(), Some(143));

    assert!(stats.status.success(), "{}", report(&stats));
    let text = stdout(&stats);
    let line = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} in {text}"))
            .to_string()
    };
    assert!(line("memory: ").ends_with(" / 32.0 MiB"), "{text}");
    assert!(line("cpu time: ").ends_with(" s"), "{text}");
    assert_eq!(line("pids: "), "2 / 10", "init and sleep");
    // The numbers that vary from run to run, redacted for the snapshot.
    let stable: String = text
        .lines()
        .map(|l| match l.split_once(": ") {
            Some(("memory", value)) => {
                let limit = value.split_once(" / ").map_or("?", |(_, limit)| limit);
                format!("memory: [VARIES] / {limit}\n")
            }
            Some((key @ ("memory peak" | "cpu time"), _)) => format!("{key}: [VARIES]\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_cgroup_snapshot!(format!("{stable}== not running\n{}", report(&missing)));
}

#[test]
fn exec_joins_the_cgroup_of_its_target() {
    let env = TestEnv::new();
    let container = name(&env, "exec");
    let (mut runner, target) = start_sleeper(&env, &["--name", &container, "--pids-limit", "10"]);
    let output = run(
        &env,
        &[
            "exec",
            "--target",
            &target,
            "--",
            "sh",
            "-c",
            &format!(
                "grep -E '{}' /proc/self/cgroup",
                cgroup_lines("memory|cpu|cpuacct|pids")
            ),
        ],
    );
    signal(runner.id(), nix::sys::signal::Signal::SIGTERM);
    assert_eq!(runner.wait().unwrap().code(), Some(143));
    assert_cgroup_snapshot!(report(&output));
}

#[test]
fn explain_narrates_which_cgroup_file_gets_which_value() {
    let env = TestEnv::new();
    let output = run(
        &env,
        &[
            "--explain",
            "run",
            // A parent of its own, so that whether it must be made (and removed) does not
            // depend on other containers running at the same time.
            "--cgroup-parent",
            &name(&env, "explain"),
            "--name",
            "box",
            "--memory",
            "64m",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "20",
            "--",
            "/bin/true",
        ],
    );
    assert_cgroup_snapshot!(report(&output));
}

#[test]
fn bad_limits_are_refused_before_anything_runs() {
    let env = TestEnv::new();
    let container = name(&env, "bad");
    let cases: &[&[&str]] = &[
        &["--memory", "1m"],
        &["--memory", "lots"],
        &["--cpus", "0"],
        &["--cpu-shares", "1"],
        &["--pids-limit", "0"],
        &["--cgroup-parent", "../escape"],
    ];
    let mut text = String::new();
    for flags in cases {
        let mut args = vec!["run", "--name", &container];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "true"]);
        let output = run(&env, &args);
        text.push_str(&format!("== {}\n{}", flags.join(" "), report(&output)));
    }
    let bad_name = run(&env, &["run", "--name", "../x", "--", "true"]);
    text.push_str(&format!("== --name ../x\n{}", report(&bad_name)));
    assert_snapshot!(text);
}

#[test]
fn a_cgroup_parent_made_for_a_container_goes_with_it() {
    let env = TestEnv::new();
    let parent = format!("{}/nested", name(&env, "parent"));
    let output = run(
        &env,
        &[
            "run",
            "--cgroup-parent",
            &parent,
            "--name",
            "box",
            "--",
            "grep",
            "-E",
            &cgroup_lines("pids"),
            "/proc/self/cgroup",
        ],
    );
    assert_cgroup_snapshot!(report(&output));
    assert_eq!(env.leaked_cgroups(), Vec::<std::path::PathBuf>::new());
}

/// The runner's guard on the real kernel: a panic while a container runs (here a sleeping
/// child, put in the cgroup by hand) still kills what runs in the cgroup and removes it.
#[test]
fn a_panic_in_the_runner_still_removes_the_cgroup() {
    use ch02_cgroups::{ContainerCgroup, Layout, DEFAULT_PARENT};
    use std::os::unix::process::ExitStatusExt;
    let env = TestEnv::new();
    let layout = Layout::detect().unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .env("BALEIA_TEST_MARK", env.marker())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let container = name(&env, "panic");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let cgroup = ContainerCgroup::create(&layout, DEFAULT_PARENT, &container).unwrap();
        cgroup
            .attacher()
            .attach(nix::unistd::Pid::from_raw(pid))
            .unwrap();
        assert_eq!(cgroup.pids(), [pid]);
        assert_eq!(env.leaked_cgroups().len(), layout.hierarchies.len());
        panic!("the runner fails while its container runs");
    }));
    assert!(result.is_err());
    assert_eq!(
        child.wait().unwrap().signal(),
        Some(9),
        "the guard killed what was left in the cgroup"
    );
    assert_eq!(env.leaked_cgroups(), Vec::<std::path::PathBuf>::new());
}

/// The container is in its cgroup *before* it unshares its cgroup namespace (chapter 01 does
/// that in the child, after the parent-side steps), so with `--cgroupns` its own cgroup is the
/// root it sees; without, it sees where it really is.
#[test]
fn a_cgroup_namespace_is_rooted_at_the_containers_cgroup() {
    let env = TestEnv::new();
    let container = name(&env, "ns");
    let script = format!(
        "grep -E '{}' /proc/self/cgroup",
        cgroup_lines("memory|pids")
    );
    let script = script.as_str();
    let plain = run(
        &env,
        &["run", "--name", &container, "--", "sh", "-c", script],
    );
    let namespaced = run(
        &env,
        &[
            "run",
            "--name",
            &container,
            "--cgroupns",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert_cgroup_snapshot!(format!(
        "== without --cgroupns\n{}== with --cgroupns\n{}",
        report(&plain),
        report(&namespaced)
    ));
}
