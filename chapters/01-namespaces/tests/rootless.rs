//! Chapter 01 without root: every run here asks for a user namespace (`--user`), in which the
//! caller is root, and which then owns the other namespaces it makes. So these tests pass for
//! any user on a kernel that allows unprivileged user namespaces (and as root too). They run
//! host programs (`/bin/sh`, `ip`): chapter 01 does not change the root file system.

use std::process::{Command, Output};

fn run(flags: &[&str], script: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ch01-namespaces"))
        .arg("run")
        .arg("--user")
        .args(flags)
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .expect("run ch01-namespaces")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_command_runs_and_its_exit_code_comes_back() {
    let output = run(&[], "echo hello from inside; exit 3");
    assert_eq!(output.status.code(), Some(3), "{}", describe(&output));
    assert_eq!(
        stdout(&output),
        "hello from inside\n",
        "{}",
        describe(&output)
    );
}

#[test]
fn the_caller_is_root_inside_and_itself_outside() {
    let me = nix::unistd::geteuid().as_raw().to_string();
    let output = run(&[], "id -u; id -g; cat /proc/self/uid_map");
    assert!(output.status.success(), "{}", describe(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&"0"),
        "uid inside: {}",
        describe(&output)
    );
    assert_eq!(
        lines.get(1),
        Some(&"0"),
        "gid inside: {}",
        describe(&output)
    );
    let map: Vec<&str> = lines
        .get(2)
        .map_or(vec![], |l| l.split_whitespace().collect());
    assert_eq!(
        map,
        ["0", me.as_str(), "1"],
        "uid_map: {}",
        describe(&output)
    );
}

#[test]
fn a_new_pid_namespace_makes_the_command_pid_1() {
    let output = run(&["--pid"], "echo $$");
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(stdout(&output), "1\n", "{}", describe(&output));
}

#[test]
fn a_new_network_namespace_has_only_loopback_and_it_is_up() {
    let output = run(&["--net"], "ip -o link show");
    assert!(output.status.success(), "{}", describe(&output));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 1, "only lo: {}", describe(&output));
    assert!(
        text.contains(": lo: <LOOPBACK,UP,LOWER_UP>"),
        "lo is up: {}",
        describe(&output)
    );
}

#[test]
fn no_mount_inside_a_new_mount_namespace_is_shared_with_the_host() {
    // A shared mount carries `shared:N` among mountinfo's optional fields (proc(5)).
    let output = run(&["--mount"], "grep -c shared: /proc/self/mountinfo || true");
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(stdout(&output), "0\n", "{}", describe(&output));
}
