//! The capstone's secure defaults, seen from inside a container by the probe: the engine
//! writes Docker's capabilities, `no_new_privs`, the default seccomp filter and the masked
//! paths into the OCI spec, and the runtime applies them;
//! `--cap-add`, `--cap-drop`, `--privileged` and `--security-opt` change them.
//! Run: `cargo test -p baleia-tests --test capstone_security` (as root).

use harness::capstone::Daemon;
use harness::{busybox_rootfs, probe, report, TestEnv};
use std::process::Command;

/// A `probe:latest` image: the busybox fixture with the probe as /bin/probe.
/// (The store is files under the daemon's root: it sees the image at once.)
fn import_probe_image(env: &TestEnv) {
    let root = env.path().join("probe-rootfs");
    let status = Command::new("cp")
        .arg("-a")
        .arg(busybox_rootfs())
        .arg(&root)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::copy(probe(), root.join("bin/probe")).unwrap();
    let tar = env.path().join("probe.tar");
    let status = Command::new("tar")
        .args(["--owner=0", "--group=0", "--numeric-owner", "-C"])
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let output = env
        .cmd("ch04-images")
        .args(["import", tar.to_str().unwrap(), "probe:latest"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
}

/// `baleia run --rm FLAGS probe COMMAND...`: its standard output, insisting on success.
fn inside(daemon: &Daemon, flags: &[&str], command: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(flags);
    args.push("probe");
    args.extend_from_slice(command);
    let output = daemon.baleia(&args);
    assert!(output.status.success(), "{args:?}\n{}", report(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn containers_get_dockers_defaults_and_the_flags_change_them() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    import_probe_image(&env);

    let default = inside(&daemon, &[], &["probe", "security"]);
    for line in [
        "CapEff: 00000000a80425fb\n",
        "CapBnd: 00000000a80425fb\n",
        "CapAmb: 0000000000000000\n",
        "NoNewPrivs: 1\n",
        "Seccomp: 2\n",
        "descriptors above 2: 0\n",
        "mount: refused",
        "unshare(CLONE_NEWUSER): refused",
        "keyctl: refused",
    ] {
        assert!(default.contains(line), "{line:?} in\n{default}");
    }
    // CAP_MKNOD is in Docker's set, but the devices cgroup refuses to open the host's disk.
    let mknod = inside(
        &daemon,
        &[],
        &[
            "sh",
            "-c",
            "mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk 2>&1; true",
        ],
    );
    assert_eq!(mknod, "head: /tmp/disk: Operation not permitted\n");
    let masked = inside(&daemon, &[], &["sh", "-c", "wc -c < /proc/timer_list"]);
    assert_eq!(masked, "0\n", "/proc/timer_list is masked");

    let chown_only = inside(
        &daemon,
        &["--cap-drop", "ALL", "--cap-add", "chown"],
        &["probe", "security"],
    );
    assert!(
        chown_only.contains("CapEff: 0000000000000001\n"),
        "{chown_only}"
    );
    assert!(
        chown_only.contains("CapBnd: 0000000000000001\n"),
        "{chown_only}"
    );

    let unconfined = inside(
        &daemon,
        &[
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "no-new-privileges=false",
        ],
        &["probe", "security"],
    );
    assert!(
        unconfined.contains("NoNewPrivs: 0\nSeccomp: 0\n"),
        "{unconfined}"
    );
    assert!(
        unconfined.contains("unshare(CLONE_NEWUSER): allowed"),
        "{unconfined}"
    );
    assert!(
        unconfined.contains("mount: refused"),
        "no CAP_SYS_ADMIN: {unconfined}"
    );

    let privileged = inside(&daemon, &["--privileged"], &["probe", "security"]);
    assert!(
        privileged.contains("NoNewPrivs: 0\nSeccomp: 0\n"),
        "{privileged}"
    );
    assert!(privileged.contains("mount: allowed"), "{privileged}");
    // exec gets the container's security: Docker's defaults, or --privileged's.
    for (flags, seccomp) in [
        (&[][..], "Seccomp: 2\n"),
        (&["--privileged"][..], "Seccomp: 0\n"),
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(flags);
        args.extend(["probe", "sleep", "100"]);
        let id = daemon.baleia(&args);
        assert!(id.status.success(), "{}", report(&id));
        let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
        let exec = daemon.baleia(&["exec", &id, "probe", "security"]);
        let text = String::from_utf8_lossy(&exec.stdout);
        assert!(text.contains(seccomp), "{flags:?}: {text}");
        daemon.baleia(&["rm", "-f", &id]);
    }
    let unmasked = inside(
        &daemon,
        &["--privileged"],
        &["sh", "-c", "wc -c < /proc/timer_list"],
    );
    assert_ne!(unmasked, "0\n", "--privileged masks nothing");
}

/// Device rules, seen from inside: the same assertions hold on cgroup v1 (the devices
/// controller enforces the rules) and v2 (an eBPF program on the container's cgroup does).
/// /dev/kmsg is the device `--device` names: opening it for writing needs no capability
/// (reading it would, so only writes are tried), and nothing is written.
#[test]
fn device_rules_allow_the_standard_devices_and_what_device_names() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    import_probe_image(&env);

    // CAP_MKNOD makes the node of a disk, the rules refuse to open it; the standard ones open.
    let standard = inside(
        &daemon,
        &[],
        &[
            "sh",
            "-c",
            "mknod /tmp/vda b 254 0 && head -c 16 /tmp/vda 2>&1; \
             echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c; \
             mknod /tmp/kmsg c 1 11 && echo -n 2>&1 > /tmp/kmsg; true",
        ],
    );
    assert_eq!(
        standard,
        "head: /tmp/vda: Operation not permitted\n4\n4\n\
         sh: can't create /tmp/kmsg: Operation not permitted\n"
    );

    // An exec'd process is held to the same rules as the container's first one.
    let box_ = daemon.baleia(&["run", "-d", "--name", "box", "probe", "sleep", "100"]);
    assert!(box_.status.success(), "{}", report(&box_));
    let exec = daemon.baleia(&[
        "exec",
        "box",
        "sh",
        "-c",
        "mknod /tmp/vda b 254 0 && head -c 16 /tmp/vda 2>&1",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&exec.stdout),
        "head: /tmp/vda: Operation not permitted\n",
        "{}",
        report(&exec)
    );
    daemon.baleia(&["rm", "-f", "box"]);

    // A terminal: /dev/ptmx and the container's own /dev/pts/0, opened again by name.
    let tty = daemon.baleia(&[
        "run",
        "-d",
        "-t",
        "--name",
        "tty",
        "probe",
        "sh",
        "-c",
        "tty && echo > \"$(tty)\" && echo > /dev/tty && echo pts ok",
    ]);
    assert!(tty.status.success(), "{}", report(&tty));
    let waited = daemon.baleia(&["wait", "tty"]);
    assert_eq!(
        String::from_utf8_lossy(&waited.stdout),
        "0\n",
        "{}",
        report(&waited)
    );
    let logs = daemon.baleia(&["logs", "tty"]);
    assert_eq!(
        String::from_utf8_lossy(&logs.stdout),
        "/dev/pts/0\r\n\r\n\r\npts ok\r\n"
    );
    daemon.baleia(&["rm", "tty"]);

    // --device: the node appears, with the host's numbers, and opens; another node does not,
    // nor the named one for an access its permissions leave out.
    let granted = inside(
        &daemon,
        &["--device", "/dev/kmsg"],
        &[
            "sh",
            "-c",
            "ls -l /dev/kmsg | cut -c1; echo -n > /dev/kmsg && echo kmsg ok; \
             mknod /tmp/other c 1 12 && echo -n 2>&1 > /tmp/other; true",
        ],
    );
    assert_eq!(
        granted,
        "c\nkmsg ok\nsh: can't create /tmp/other: Operation not permitted\n"
    );
    let read_only = inside(
        &daemon,
        &["--device", "/dev/kmsg:/dev/log:r"],
        &[
            "sh",
            "-c",
            "ls /dev/kmsg 2>&1; echo -n 2>&1 > /dev/log; true",
        ],
    );
    assert_eq!(
        read_only,
        "ls: /dev/kmsg: No such file or directory\n\
         sh: can't create /dev/log: Operation not permitted\n"
    );
    // --device-cgroup-rule allows a device by its numbers: a node made inside opens.
    let rule = inside(
        &daemon,
        &["--device-cgroup-rule", "c 1:11 w"],
        &[
            "sh",
            "-c",
            "mknod /tmp/kmsg c 1 11 && echo -n > /tmp/kmsg && echo kmsg ok",
        ],
    );
    assert_eq!(rule, "kmsg ok\n");
    // What is not a device is refused at create, naming it.
    let refused = daemon.baleia(&["run", "--rm", "--device", "/etc/passwd", "probe", "true"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("--device /etc/passwd: not a device node"),
        "{}",
        report(&refused)
    );
}

#[test]
fn a_seccomp_profile_from_a_file_is_sent_by_the_client_and_enforced() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    import_probe_image(&env);
    // Docker's format: an allow-by-default profile refusing mkdir, with a Docker-only archMap.
    let profile = env.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 1, "comment": "no new directories"}]}"#,
    )
    .unwrap();
    let option = format!("seccomp={}", profile.display());
    let out = inside(
        &daemon,
        &["--security-opt", &option],
        &[
            "sh",
            "-c",
            "mkdir /tmp/d 2>&1; touch /tmp/f && echo files still fine",
        ],
    );
    assert_eq!(
        out,
        "mkdir: can't create directory '/tmp/d': Operation not permitted\nfiles still fine\n"
    );
    // Docker's own default profile (containers-common ships the same format): an allow list
    // whose rules depend on the capabilities kept (`includes`/`excludes`).
    let docker_default = "seccomp=/usr/share/containers/seccomp.json";
    let out = inside(
        &daemon,
        &["--security-opt", docker_default],
        &["sh", "-c", "grep Seccomp: /proc/self/status; echo fine"],
    );
    assert_eq!(out, "Seccomp:\t2\nfine\n");
    std::fs::write(&profile, r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#).unwrap();
    let bad = daemon.baleia(&["run", "--rm", "--security-opt", &option, "probe", "true"]);
    assert_eq!(bad.status.code(), Some(125), "{}", report(&bad));
    assert!(
        report(&bad).contains("SCMP_ACT_NOTIFY cannot be used as the default action"),
        "{}",
        report(&bad)
    );
    let unknown = daemon.baleia(&[
        "run",
        "--rm",
        "--security-opt",
        "label=disable",
        "probe",
        "true",
    ]);
    assert_eq!(unknown.status.code(), Some(125), "{}", report(&unknown));
}
