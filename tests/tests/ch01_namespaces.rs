//! Chapter 01 — namespaces. Each test runs `ch01-namespaces` as a learner would, with and
//! without a namespace, and checks what changes. Run: `cargo test -p baleia-tests --test
//! ch01_namespaces` (as root).

use harness::{assert_snapshot, probe, report, wait_for_pid_file, TestEnv};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

const BIN: &str = "ch01-namespaces";

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd(BIN)
        .args(args)
        .output()
        .expect("run ch01-namespaces")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn probe_arg() -> String {
    probe().display().to_string()
}

/// Our own namespace links, as `probe ns` prints them.
fn host_namespaces() -> Vec<(String, String)> {
    let out = std::process::Command::new(probe())
        .arg("ns")
        .output()
        .unwrap();
    parse_ns(&String::from_utf8_lossy(&out.stdout))
}

fn parse_ns(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// "pid: new" or "pid: host" for each kind: which namespaces the container does not share.
fn namespace_table(env: &TestEnv, flags: &[&str]) -> String {
    let host = host_namespaces();
    let p = probe_arg();
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--", &p, "ns"]);
    let output = run(env, &args);
    assert!(output.status.success(), "{}", report(&output));
    let inside = parse_ns(&stdout(&output));
    assert_eq!(inside.len(), 7, "{}", report(&output));
    inside
        .iter()
        .zip(&host)
        .map(|((kind, link), (_, host_link))| {
            let which = if link == host_link { "host" } else { "new" };
            format!("{kind}: {which}\n")
        })
        .collect()
}

#[test]
fn each_flag_creates_exactly_its_namespace() {
    let env = TestEnv::new();
    let mut table = String::new();
    for flags in [
        &[][..],
        &["--pid"],
        &["--uts"],
        &["--ipc"],
        &["--mount"],
        &["--net"],
        &["--user"],
        &["--cgroupns"],
        &["--all"],
    ] {
        table.push_str(&format!("== run {}\n", flags.join(" ")));
        table.push_str(&namespace_table(&env, flags));
    }
    assert_snapshot!(table);
}

#[test]
fn pid_namespace_makes_the_command_pid_1_with_its_own_proc() {
    let env = TestEnv::new();
    let p = probe_arg();

    let outside = run(&env, &["run", "--", &p, "pid"]);
    assert!(outside.status.success());
    assert_ne!(
        stdout(&outside),
        "pid: 1\n",
        "without --pid the command has a host pid"
    );

    let inside = run(&env, &["run", "--pid", "--mount", "--", "ls", "/proc"]);
    let pids: Vec<String> = stdout(&inside)
        .lines()
        .filter(|l| l.parse::<u32>().is_ok())
        .map(str::to_string)
        .collect();
    assert_eq!(
        pids,
        ["1"],
        "the fresh /proc shows only the container's own process"
    );
    assert_snapshot!(report(&run(
        &env,
        &["run", "--pid", "--mount", "--", &p, "pid"]
    )));
}

#[test]
fn uts_namespace_renames_the_container_and_not_the_host() {
    let env = TestEnv::new();
    let before = nix::unistd::gethostname().unwrap();
    let output = run(
        &env,
        &["run", "--uts", "--hostname", "box", "--", "hostname"],
    );
    assert_snapshot!(report(&output));
    assert_eq!(nix::unistd::gethostname().unwrap(), before, "host renamed");

    let refused = run(&env, &["run", "--hostname", "box", "--", "hostname"]);
    assert_snapshot!("hostname_without_uts_is_refused", report(&refused));
    assert_eq!(nix::unistd::gethostname().unwrap(), before, "host renamed");
}

#[test]
fn network_namespace_has_only_loopback_and_it_is_up() {
    let env = TestEnv::new();
    let p = probe_arg();
    let output = run(&env, &["run", "--net", "--", &p, "net"]);
    assert_snapshot!(report(&output));

    // Without --net the container sees exactly the host's interfaces (on a host with a NIC,
    // more than `lo`; a guest with no network card has only `lo` and says so both ways).
    let inside = stdout(&run(&env, &["run", "--", &p, "net"]));
    let host = std::process::Command::new(probe())
        .arg("net")
        .output()
        .unwrap();
    let host = String::from_utf8_lossy(&host.stdout).into_owned();
    assert_eq!(
        inside.lines().next(),
        host.lines().next(),
        "without --net the host's interfaces are visible"
    );
}

#[test]
fn user_namespace_maps_the_caller_to_root() {
    let env = TestEnv::new();
    let output = run(
        &env,
        &[
            "run",
            "--user",
            "--",
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        ],
    );
    assert_snapshot!(report(&output));
    let host = stdout(&run(&env, &["run", "--", "cat", "/proc/self/uid_map"]));
    assert_eq!(
        host.split_whitespace().collect::<Vec<_>>(),
        ["0", "0", "4294967295"],
        "the host's user namespace maps every id"
    );
}

#[test]
fn mounts_made_inside_do_not_reach_the_host_even_from_a_shared_mount() {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let env = TestEnv::new();
    // A shared mount would propagate a mount made in another namespace back to the host,
    // unless the container made its mounts private first.
    let shared = env.path().join("shared");
    std::fs::create_dir_all(shared.join("inner")).unwrap();
    mount(
        Some(&shared),
        &shared,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .unwrap();
    mount(
        None::<&str>,
        &shared,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();

    let inner = shared.join("inner").display().to_string();
    let script = format!("mount -t tmpfs none {inner} && grep -c ' {inner} ' /proc/self/mountinfo");
    // Mounting needs CAP_SYS_ADMIN and the mount system call, which the default security takes
    // away (see the security tests): --privileged gives them back, as in Docker.
    let output = run(
        &env,
        &["run", "--mount", "--privileged", "--", "sh", "-c", &script],
    );
    let seen_on_host = is_mount_point(&shared.join("inner"));
    let _ = umount2(&shared.join("inner"), MntFlags::MNT_DETACH);
    umount2(&shared, MntFlags::MNT_DETACH).unwrap();

    assert_snapshot!(report(&output));
    assert!(
        !seen_on_host,
        "the container's tmpfs propagated to the host"
    );
}

fn is_mount_point(path: &Path) -> bool {
    let path = path.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(path.as_str()))
}

#[test]
fn an_init_reaps_orphans_that_a_plain_pid_1_leaves_as_zombies() {
    let env = TestEnv::new();
    let p = probe_arg();
    let plain = run(&env, &["run", "--pid", "--mount", "--", &p, "orphan"]);
    let with_init = run(
        &env,
        &["run", "--pid", "--mount", "--init", "--", &p, "orphan"],
    );
    assert_snapshot!(format!(
        "== without --init\n{}== with --init\n{}",
        report(&plain),
        report(&with_init)
    ));
}

#[test]
fn exit_codes_follow_docker() {
    let env = TestEnv::new();
    // A file marked executable that is not a program (no ELF header, no #! line).
    let not_a_program = env.path().join("not-a-program");
    std::fs::write(&not_a_program, "just text\n").unwrap();
    std::fs::set_permissions(
        &not_a_program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let not_a_program = not_a_program.display().to_string();
    let cases: &[(&str, &[&str])] = &[
        ("success", &["run", "--pid", "--", "true"]),
        (
            "the command's own code",
            &["run", "--pid", "--", "sh", "-c", "exit 3"],
        ),
        (
            "killed by SIGKILL is 128+9",
            &["run", "--", "sh", "-c", "kill -9 $$"],
        ),
        ("not found", &["run", "--", "no-such-command"]),
        ("not executable: a directory", &["run", "--", "/etc"]),
        ("not a program", &["run", "--", &not_a_program]),
        (
            "no command: a usage error is an engine error",
            &["run", "--pid"],
        ),
        (
            "init without a PID namespace",
            &["run", "--init", "--", "true"],
        ),
    ];
    let mut text = String::new();
    for (name, args) in cases {
        let output = run(&env, args);
        text.push_str(&format!(
            "== {name}: {}\n{}",
            args.join(" "),
            report(&output)
        ));
    }
    assert_snapshot!(text);
}

fn sigterm(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn sigterm_to_the_runner_reaches_the_container() {
    let env = TestEnv::new();
    let pid_file = env.path().join("pid");
    let mut child = env
        .std_cmd(BIN)
        .args(["run", "--pid", "--mount", "--init", "--pid-file"])
        .arg(&pid_file)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    wait_for_pid_file(&pid_file);
    let started = Instant::now();
    sigterm(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "128 + SIGTERM");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "sleep ignored SIGTERM"
    );
}

#[test]
fn exec_joins_every_namespace_of_a_running_container() {
    let env = TestEnv::new();
    let p = probe_arg();
    let pid_file = env.path().join("pid");
    let mut container = env
        .std_cmd(BIN)
        .args(["run", "--all", "--init", "--hostname", "box", "--pid-file"])
        .arg(&pid_file)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    let target = wait_for_pid_file(&pid_file);
    let target_ns = std::fs::read_dir(format!("/proc/{target}/ns"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|kind| {
            ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"].contains(&kind.as_str())
        })
        .map(|kind| {
            let link = std::fs::read_link(format!("/proc/{target}/ns/{kind}")).unwrap();
            (kind, link.display().to_string())
        })
        .collect::<std::collections::BTreeMap<_, _>>();

    let ns = run(&env, &["exec", "--target", &target, "--", &p, "ns"]);
    let joined: std::collections::BTreeMap<_, _> = parse_ns(&stdout(&ns)).into_iter().collect();
    assert_eq!(joined, target_ns, "exec'd process shares all 7 namespaces");

    let script = "hostname; id -u; echo \"my pid: $$\"; ls /proc | grep -c '^[0-9]'";
    let output = run(
        &env,
        &["exec", "--target", &target, "--", "sh", "-c", script],
    );
    sigterm(container.id());
    let status = container.wait().unwrap();
    assert_snapshot!(report(&output));
    assert_eq!(status.code(), Some(143));
}

#[test]
fn explain_narrates_every_kernel_step() {
    let env = TestEnv::new();
    let output = run(
        &env,
        &[
            "--explain",
            "run",
            "--all",
            "--hostname",
            "box",
            "--",
            "/bin/true",
        ],
    );
    assert_snapshot!(report(&output));
}

#[test]
fn killing_the_runner_kills_the_container() {
    let env = TestEnv::new();
    let pid_file = env.path().join("pid");
    let mut runner = env
        .std_cmd(BIN)
        .args(["run", "--pid", "--mount", "--pid-file"])
        .arg(&pid_file)
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    let container: i32 = wait_for_pid_file(&pid_file).parse().unwrap();
    runner.kill().unwrap();
    runner.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{container}")).exists() {
        assert!(Instant::now() < deadline, "container outlived its runner");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_unprivileged_user_gets_root_inside_a_user_namespace() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    // A copy of the binary that user 65534 ("nobody") may run.
    std::fs::set_permissions(env.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let binary = env.path().join(BIN);
    std::fs::copy(harness::build_dir().join(BIN), &binary).unwrap();
    let output = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&binary)
        .args([
            "run",
            "--user",
            "--pid",
            "--mount",
            "--uts",
            "--net",
            "--hostname",
            "box",
        ])
        .args([
            "--",
            "sh",
            "-c",
            "id -u; hostname; echo $$; cat /proc/self/uid_map",
        ])
        .env("BALEIA_TEST_MARK", env.marker())
        .output()
        .unwrap();
    assert_snapshot!(report(&output));
}

/// The probe's `security` report from inside a container made with `flags`.
fn security_report(env: &TestEnv, flags: &[&str]) -> String {
    let probe = probe();
    let mut args = vec!["run", "--pid", "--mount"];
    args.extend_from_slice(flags);
    args.extend(["--", probe.to_str().unwrap(), "security"]);
    let output = run(env, &args);
    assert!(output.status.success(), "{}", report(&output));
    stdout(&output)
}

#[test]
fn root_inside_keeps_only_dockers_capabilities_and_meets_seccomp() {
    let env = TestEnv::new();
    // CapBnd a80425fb is Docker's default set; no ambient or inheritable capabilities;
    // no_new_privs; seccomp mode 2 (filter); mount, unshare(CLONE_NEWUSER), keyctl refused.
    assert_snapshot!(security_report(&env, &[]));
}

#[test]
fn cap_add_cap_drop_and_privileged_change_what_root_may_do() {
    let env = TestEnv::new();
    let only_chown = security_report(&env, &["--cap-drop", "ALL", "--cap-add", "chown"]);
    assert!(
        only_chown.contains("CapEff: 0000000000000001\n"),
        "{only_chown}"
    );
    assert!(
        only_chown.contains("CapBnd: 0000000000000001\n"),
        "{only_chown}"
    );
    let no_filter = security_report(&env, &["--security-opt", "seccomp=unconfined"]);
    assert!(no_filter.contains("Seccomp: 0\n"), "{no_filter}");
    // Without the filter, a user namespace can be made; mount still fails: CAP_SYS_ADMIN is
    // gone.
    assert!(
        no_filter.contains("unshare(CLONE_NEWUSER): allowed"),
        "{no_filter}"
    );
    assert!(no_filter.contains("mount: refused"), "{no_filter}");
    let privileged = security_report(&env, &["--privileged"]);
    assert!(
        privileged.contains("NoNewPrivs: 0\nSeccomp: 0\n"),
        "{privileged}"
    );
    assert!(privileged.contains("mount: allowed"), "{privileged}");
    let bad = run(&env, &["run", "--cap-add", "CAP_FLY", "--", "true"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(
        report(&bad).contains("unknown capability \"CAP_FLY\""),
        "{}",
        report(&bad)
    );
}

#[test]
fn no_descriptor_of_the_engine_reaches_the_container() {
    use std::os::unix::process::CommandExt;
    let env = TestEnv::new();
    // Give the runner an extra descriptor without close-on-exec, as a careless engine would
    // leak a directory or socket of the host (the runc CVE-2024-21626 class).
    let dir = std::fs::File::open(env.path()).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&dir);
    let probe = probe();
    let mut cmd = env.std_cmd(BIN);
    cmd.args(["run", "--pid", "--mount", "--privileged", "--"])
        .arg(&probe)
        .arg("security");
    // SAFETY: dup2 is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let output = cmd.output().unwrap();
    assert!(output.status.success(), "{}", report(&output));
    assert!(
        stdout(&output).contains("descriptors above 2: 0\n"),
        "{}",
        report(&output)
    );
}

#[test]
fn the_engine_binary_running_as_init_cannot_be_opened_from_inside() {
    let env = TestEnv::new();
    // With --init, PID 1 is the engine's own binary, never exec'd: were it dumpable, root in
    // the container could open it through /proc/1/exe and overwrite the engine on the host
    // (runc CVE-2019-5736).
    let output = run(
        &env,
        &[
            "run",
            "--pid",
            "--mount",
            "--init",
            "--",
            "sh",
            "-c",
            "cat /proc/1/exe > /dev/null 2>&1 && echo opened || echo refused; \
             cat /proc/self/exe > /dev/null && echo own-exe-readable",
        ],
    );
    assert_eq!(
        stdout(&output),
        "refused\nown-exe-readable\n",
        "{}",
        report(&output)
    );
}
