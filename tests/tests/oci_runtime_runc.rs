//! `baleia runtime` held to what runc's own integration suite (tests/integration/*.bats at
//! v1.1.5) checks, one test per behaviour it found missing: `spec`, the terminal in the
//! foreground, `create` with a console socket, `list`, `kill -a` and signal 0, `delete
//! --force`, `pause`/`resume`, `events`, `update`, more resources, ambient capabilities, user
//! namespaces, read-only tmpfs and /dev, a writable /sys/fs/cgroup, seccomp notify, the exec
//! flags. docs/compat.md has the suite's counts.
//! Run: `cargo test -p baleia-tests --test oci_runtime_runc` (as root; needs runc).

use harness::{busybox_rootfs, report, runtime_binary, TestEnv};
use serde_json::{json, Value};
use std::io::Read;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `baleia-runtime --root STATE ARGS...` (the harness's), reading no input.
fn runtime(env: &TestEnv) -> Command {
    let mut cmd = harness::runtime(env);
    cmd.stdin(Stdio::null());
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let output = cmd.output().expect("run");
    assert!(output.status.success(), "{cmd:?}\n{}", report(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn id(env: &TestEnv, name: &str) -> String {
    format!("{}-{name}", env.marker())
}

/// A bundle whose config.json our own `spec` wrote, around a copy of the busybox rootfs,
/// changed by `edit`; its cgroup carries the test's marker. The directories are open to
/// every user (a user namespace's root is nobody on the host), as runc's suite makes them.
fn bundle(env: &TestEnv, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = env.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for open in [env.path(), &dir] {
        std::fs::set_permissions(open, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let copied = Command::new("cp")
        .arg("-a")
        .arg(busybox_rootfs())
        .arg(dir.join("rootfs"))
        .status()
        .unwrap();
    assert!(copied.success());
    run_ok(runtime(env).args(["spec", "--bundle"]).arg(&dir));
    let path = dir.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["linux"]["cgroupsPath"] = json!(format!("/baleia-runtime/{}", id(env, name)));
    edit(&mut spec);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    dir
}

fn no_terminal(spec: &mut Value, argv: &[&str]) {
    spec["process"]["terminal"] = json!(false);
    spec["process"]["args"] = json!(argv);
}

fn state(env: &TestEnv, id: &str) -> Value {
    serde_json::from_str(&run_ok(runtime(env).args(["state", id]))).unwrap()
}

/// `run -d` of a bundle whose process sleeps; returns the container's id.
fn detached(env: &TestEnv, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let dir = bundle(env, name, |s| {
        no_terminal(s, &["sleep", "1000"]);
        edit(s)
    });
    let id = id(env, name);
    run_ok(
        runtime(env)
            .args(["run", "-d", "--bundle"])
            .arg(&dir)
            .arg(&id)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    id
}

fn v2() -> bool {
    harness::cgroup_layout() == "v2"
}

/// A file of the container's cgroup: `v1` (controller, file) on a v1 or hybrid host, the
/// `v2` file of the one unified directory on a v2 host (cgroups(7)).
fn cgroup_file(id: &str, v1: (&str, &str), v2_file: &str) -> String {
    let path = if v2() {
        Path::new("/sys/fs/cgroup/baleia-runtime")
            .join(id)
            .join(v2_file)
    } else {
        Path::new("/sys/fs/cgroup")
            .join(v1.0)
            .join("baleia-runtime")
            .join(id)
            .join(v1.1)
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

#[test]
fn spec_writes_runcs_starter_config_and_never_overwrites_one() {
    let env = TestEnv::new();
    for rootless in [false, true] {
        let ours = env.path().join(format!("ours-{rootless}"));
        let theirs = env.path().join(format!("runc-{rootless}"));
        for (dir, program) in [(&ours, runtime_binary(&env)), (&theirs, "runc".into())] {
            std::fs::create_dir_all(dir).unwrap();
            let mut cmd = Command::new(program);
            cmd.arg("spec").arg("--bundle").arg(dir);
            if rootless {
                cmd.arg("--rootless");
            }
            run_ok(&mut cmd);
        }
        let read = |dir: &Path| -> Value {
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap()
        };
        assert_eq!(read(&ours), read(&theirs), "rootless: {rootless}");
    }
    let again = runtime(&env)
        .args(["spec", "--bundle"])
        .arg(env.path().join("ours-false"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists. Remove it first"));
}

#[test]
fn version_and_help_read_as_runcs() {
    let env = TestEnv::new();
    let version = run_ok(runtime(&env).arg("-v"));
    let lines: Vec<&str> = version.lines().collect();
    assert!(lines[0].contains("runc version 1.1.5"), "{version}");
    assert!(lines[1].starts_with("commit:") && lines[2].starts_with("spec: 1.0.2"));
    let help = run_ok(runtime(&env).args(["list", "-h"]));
    assert!(
        help.starts_with("NAME:\n   baleia-runtime list - "),
        "{help}"
    );
    assert!(help.contains("(as runc list)"));
    let unknown = runtime(&env).args(["foo", "-h"]).output().unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("No help topic for 'foo'"));
}

/// runc's starter spec asks for a terminal: in the foreground, without a console socket, the
/// runtime relays one itself, its slave owned by the tty group and sized by consoleSize.
#[test]
fn a_foreground_run_or_exec_relays_the_containers_terminal() {
    let env = TestEnv::new();
    let dir = bundle(&env, "tty", |s| {
        s["process"]["user"] = json!({"uid": 1000, "gid": 100});
        s["process"]["args"] =
            json!(["sh", "-c", "readlink /proc/self/fd/1; stat -c %u:%g $(tty)"]);
    });
    let out = run_ok(
        runtime(&env)
            .args(["run", "--bundle"])
            .arg(&dir)
            .arg(id(&env, "tty")),
    );
    assert_eq!(out, "/dev/pts/0\r\n1000:5\r\n");
    let running = detached(&env, "exec", |_| {});
    let process = env.path().join("process.json");
    std::fs::write(
        &process,
        json!({"terminal": true, "consoleSize": {"height": 10, "width": 110},
               "args": ["stty", "size"]})
        .to_string(),
    )
    .unwrap();
    let out = run_ok(
        runtime(&env)
            .args(["exec", "-t", "-p"])
            .arg(&process)
            .arg(&running),
    );
    assert_eq!(out, "10 110\r\n");
    // Detached, nobody could hold the terminal: refused in runc's words.
    let refused = runtime(&env)
        .args(["create", "--bundle"])
        .arg(&dir)
        .arg(id(&env, "refused"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr)
        .contains("cannot allocate tty if runc will detach without setting console socket"));
    run_ok(runtime(&env).args(["delete", "--force", &running]));
}

/// `$(runtime create --console-socket ...)` returns: the waiting container holds none of its
/// caller's standard streams.
#[test]
fn create_with_a_console_socket_keeps_none_of_its_callers_pipes() {
    let env = TestEnv::new();
    let socket = env.path().join("console.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    // recvtty's part: take the terminal's master, and hold it while the container lives.
    let receiver = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        receive_fd(&stream)
    });
    let dir = bundle(&env, "console", |_| {});
    let id = id(&env, "console");
    let mut child = runtime(&env)
        .args(["create", "--console-socket"])
        .arg(&socket)
        .arg("--bundle")
        .arg(&dir)
        .arg(&id)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let _ = stdout.read_to_string(&mut out);
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reader.is_finished() {
        assert!(
            Instant::now() < deadline,
            "create's stdout is still held open"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{errors}");
    assert_eq!(state(&env, &id)["status"], "created");
    let master = receiver.join().unwrap();
    run_ok(runtime(&env).args(["delete", "--force", &id]));
    drop(master);
}

/// The one descriptor of an `SCM_RIGHTS` message, and the message's bytes.
fn receive_fd(stream: &std::os::unix::net::UnixStream) -> (std::os::fd::OwnedFd, Vec<u8>) {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut buffer = vec![0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buffer)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let message = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let fd = message
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("a descriptor");
    let length = message.bytes;
    // SAFETY: the kernel just gave us this descriptor.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    (fd, buffer[..length].to_vec())
}

#[test]
fn kill_all_signal_zero_and_delete_force_are_as_lenient_as_runcs() {
    let env = TestEnv::new();
    let id = detached(&env, "kill", |_| {});
    run_ok(runtime(&env).args(["kill", &id, "0"]));
    run_ok(runtime(&env).args(["kill", &id, "KILL"]));
    harness::wait_until("stopped", || state(&env, &id)["status"] == "stopped");
    // Once stopped, --all signals nobody, and that is no error; without --all it is.
    run_ok(runtime(&env).args(["kill", "-a", &id, "0"]));
    let alone = runtime(&env).args(["kill", &id, "0"]).output().unwrap();
    assert!(String::from_utf8_lossy(&alone.stderr).contains("container not running"));
    run_ok(runtime(&env).args(["delete", &id]));
    run_ok(runtime(&env).args(["delete", "--force", "never-was"]));
}

#[test]
fn list_prints_runcs_table_its_ids_alone_or_json() {
    let env = TestEnv::new();
    let first = detached(&env, "box1", |_| {});
    let second = detached(&env, "box2", |_| {});
    let table = run_ok(runtime(&env).arg("list"));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("ID"), "{table}");
    for (line, id) in lines[1..].iter().zip([&first, &second]) {
        assert!(
            line.starts_with(id.as_str()) && line.contains(" running "),
            "{table}"
        );
    }
    assert_eq!(
        run_ok(runtime(&env).args(["list", "-q"])),
        format!("{first}\n{second}\n")
    );
    // runc's key order: tools match the text.
    let json = run_ok(runtime(&env).args(["list", "--format", "json"]));
    assert!(json.starts_with(&format!(
        "[{{\"ociVersion\":\"1.0.2\",\"id\":\"{first}\",\"pid\":"
    )));
    for id in [first, second] {
        run_ok(runtime(&env).args(["delete", "--force", &id]));
    }
}

/// pause and resume through the freezer cgroup, which the container is in like every other
/// v1 hierarchy (and, on a hybrid host, the cgroup2 tree); delete leaves none of them behind
/// (the test environment's leak check looks in every hierarchy).
#[test]
fn pause_and_resume_freeze_the_container_in_every_hierarchy() {
    let env = TestEnv::new();
    let id = detached(&env, "pause", |_| {});
    let pid = state(&env, &id)["pid"].as_i64().unwrap();
    let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cgroups.lines() {
        let hierarchy = line.split(':').nth(1).unwrap_or_default();
        if ["freezer", "cpuset", "blkio", "name=systemd", ""].contains(&hierarchy) {
            assert!(
                line.ends_with(&format!("/baleia-runtime/{id}")),
                "{cgroups}"
            );
        }
    }
    run_ok(runtime(&env).args(["pause", &id]));
    assert_eq!(state(&env, &id)["status"], "paused");
    let frozen = cgroup_file(&id, ("freezer", "freezer.state"), "cgroup.freeze");
    assert_eq!(frozen, if v2() { "1" } else { "FROZEN" });
    let exec = runtime(&env).args(["exec", &id, "true"]).output().unwrap();
    assert_eq!(exec.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&exec.stderr).contains("cannot exec in a paused container"));
    run_ok(runtime(&env).args(["resume", &id]));
    assert_eq!(state(&env, &id)["status"], "running");
    run_ok(runtime(&env).args(["pause", &id]));
    // A paused container is thawed to be killed.
    run_ok(runtime(&env).args(["delete", "--force", &id]));
}

#[test]
fn events_reports_statistics_and_oom_kills() {
    let env = TestEnv::new();
    let id = detached(&env, "events", |s| {
        s["linux"]["resources"]["memory"] = json!({"limit": 33554432, "swap": 33554432});
    });
    let stats = run_ok(runtime(&env).args(["events", "--stats", &id]));
    assert!(
        stats.starts_with(&format!("{{\"type\":\"stats\",\"id\":\"{id}\",\"data\":")),
        "{stats}"
    );
    let mut events = runtime(&env)
        .args(["events", "--interval", "100ms", &id])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    run_ok(runtime(&env).args([
        "exec",
        "-d",
        &id,
        "sh",
        "-c",
        "x=$(dd if=/dev/urandom bs=1M)",
    ]));
    harness::wait_until("the oom kill", || {
        cgroup_file(&id, ("memory", "memory.oom_control"), "memory.events").contains("oom_kill 1")
    });
    std::thread::sleep(Duration::from_millis(300));
    run_ok(runtime(&env).args(["delete", "--force", &id]));
    let mut out = String::new();
    events
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(events.wait().unwrap().success());
    assert!(
        out.contains(&format!("{{\"type\":\"oom\",\"id\":\"{id}\"}}")),
        "{out}"
    );
}

#[test]
fn update_and_create_write_every_resource_runc_does() {
    let env = TestEnv::new();
    let running = detached(&env, "update", |s| {
        s["linux"]["resources"]["memory"] = json!({"limit": 33554432, "reservation": 25165824});
        s["linux"]["resources"]["cpu"] = json!({"quota": 5000, "cpus": "0"});
        s["linux"]["resources"]["pids"] = json!({"limit": 20});
    });
    let file = |v1, v2_file| cgroup_file(&running, v1, v2_file);
    let cpu_max = || file(("cpu", "cpu.cfs_quota_us"), "cpu.max");
    assert_eq!(
        file(("memory", "memory.soft_limit_in_bytes"), "memory.low"),
        "25165824"
    );
    // A quota without a period keeps the kernel's period.
    if v2() {
        assert_eq!(cpu_max(), "5000 100000");
    } else {
        assert_eq!(cpu_max(), "5000");
        assert_eq!(file(("cpu", "cpu.cfs_period_us"), ""), "100000");
    }
    assert_eq!(file(("cpuset", "cpuset.cpus"), "cpuset.cpus"), "0");
    run_ok(runtime(&env).args([
        "update",
        "--memory",
        "50M",
        "--memory-swap",
        "80M",
        "--pids-limit",
        "-1",
        "--cpu-period",
        "1000000",
        "--cpu-quota",
        "500000",
        &running,
    ]));
    let memory = || file(("memory", "memory.limit_in_bytes"), "memory.max");
    // v1 counts memory + swap together; v2 counts the swap alone (80M - 50M).
    let swap = || file(("memory", "memory.memsw.limit_in_bytes"), "memory.swap.max");
    assert_eq!(memory(), "52428800");
    assert_eq!(swap(), if v2() { "31457280" } else { "83886080" });
    assert_eq!(file(("pids", "pids.max"), "pids.max"), "max");
    assert_eq!(cpu_max(), if v2() { "500000 1000000" } else { "500000" });
    // Unlimited memory unlimits swap too.
    run_ok(runtime(&env).args(["update", "--memory", "-1", &running]));
    assert_eq!(swap(), if v2() { "max".to_string() } else { memory() });
    run_ok(runtime(&env).args(["delete", "--force", &running]));
    if v2() {
        return;
    }
    // cgroup v2's unified map on a v1 host: refused in runc's words.
    let dir = bundle(&env, "unified", |s| {
        no_terminal(s, &["true"]);
        s["linux"]["resources"]["unified"] = json!({"memory.min": "131072"});
    });
    let refused = runtime(&env)
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(id(&env, "unified"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid configuration"));
}

/// `update -r` with device rules puts them in place of the container's: on cgroup v1 they are
/// written again to its devices cgroup (the container frozen meanwhile), on v2 a new eBPF
/// program replaces the attached one (runs in the guest of `scripts/vm suite`). The spec's
/// deny carries `rwa`, as runc's `update.bats` writes it: the unknown letter is left out, as
/// runc does, instead of failing the container.
#[test]
fn update_replaces_the_device_rules() {
    let env = TestEnv::new();
    let kmsg = json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"});
    let id = detached(&env, "devices", |s| {
        s["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1,
            "minor": 11, "fileMode": 0o666, "uid": 0, "gid": 0}]);
        s["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({"allow": false, "type": "c", "major": 1, "minor": 11, "access": "rwa"}));
    });
    // Opening /dev/kmsg for writing needs no capability, and nothing is written.
    let try_devices = || {
        run_ok(runtime(&env).args([
            "exec",
            &id,
            "sh",
            "-c",
            "{ echo -n > /dev/kmsg && echo kmsg opened; } 2>&1; echo x > /dev/null && echo null ok",
        ]))
    };
    let denied = "sh: can't create /dev/kmsg: Operation not permitted\nnull ok\n";
    let allowed = "kmsg opened\nnull ok\n";
    assert_eq!(try_devices(), denied);
    let rules = env.path().join("rules.json");
    let update = |devices: Value| {
        std::fs::write(&rules, json!({ "devices": devices }).to_string()).unwrap();
        runtime(&env)
            .args(["update", "-r"])
            .arg(&rules)
            .arg(&id)
            .output()
            .unwrap()
    };
    let deny_all = json!({"allow": false, "access": "rwm"});
    let updated = update(json!([deny_all, kmsg]));
    assert!(updated.status.success(), "{}", report(&updated));
    assert_eq!(try_devices(), allowed);
    assert_eq!(state(&env, &id)["status"], "running", "thawed after");
    // A bad rule is refused and changes nothing.
    let refused = update(json!([{"allow": true, "type": "p", "access": "r"}]));
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("FIFO"));
    assert_eq!(try_devices(), allowed);
    // Replaced, not added to: the deny-all alone shuts /dev/kmsg again.
    let updated = update(json!([deny_all]));
    assert!(updated.status.success(), "{}", report(&updated));
    assert_eq!(try_devices(), denied);
    run_ok(runtime(&env).args(["delete", "--force", &id]));
}

/// The same bundle under runc and under us: status and output.
fn same(env: &TestEnv, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let dir = bundle(env, name, edit);
    let mut outputs = Vec::new();
    for (program, suffix) in [(runtime_binary(env), ""), (PathBuf::from("runc"), "-runc")] {
        let output = Command::new(program)
            .arg("--root")
            .arg(env.path().join(format!("state{suffix}")))
            .args(["run", "--bundle"])
            .arg(&dir)
            .arg(format!("{}{suffix}", id(env, name)))
            .env("BALEIA_TEST_MARK", env.marker())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        outputs.push((
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        ));
    }
    // runc leaves the parents it made in every hierarchy.
    for entry in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(entry.path().join("baleia-runtime"));
    }
    assert_eq!(outputs[0], outputs[1], "{name}: baleia, then runc");
    outputs.remove(0).1
}

#[test]
fn capabilities_user_namespaces_mounts_and_seccomp_as_runc_gives_them() {
    let env = TestEnv::new();
    // A non-root program keeps its ambient capabilities (inheritable too, as the kernel needs).
    let out = same(&env, "ambient", |s| {
        no_terminal(s, &["grep", "-E", "^Cap(Eff|Amb)", "/proc/self/status"]);
        s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        s["process"]["capabilities"]["inheritable"] = json!(["CAP_NET_BIND_SERVICE"]);
        s["process"]["capabilities"]["ambient"] = json!(["CAP_NET_BIND_SERVICE"]);
    });
    assert_eq!(
        out,
        "CapEff:\t0000000000000400\nCapAmb:\t0000000000000400\n"
    );
    // In a user namespace, the standard devices are the host's, bound in.
    let out = same(&env, "userns", |s| {
        no_terminal(
            s,
            &[
                "sh",
                "-c",
                "echo x > /dev/null && id -u && stat -c %t:%T /dev/null",
            ],
        );
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    assert_eq!(out, "0\n1:3\n");
    // A read-only tmpfs, a read-only /dev, a writable /sys/fs/cgroup.
    let memory_dir = if v2() {
        "/sys/fs/cgroup"
    } else {
        "/sys/fs/cgroup/memory"
    };
    let out = same(&env, "mounts", |s| {
        no_terminal(
            s,
            &[
                "sh",
                "-c",
                &format!(
                    "grep -E '^tmpfs /(mnt|dev) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1; \
                     mkdir {memory_dir}/sub && echo cgroup writable"
                ),
            ],
        );
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/mnt",
            "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid", "mode=755"]}));
        for mount in s["mounts"].as_array_mut().unwrap() {
            if mount["destination"] == "/dev" {
                mount["options"].as_array_mut().unwrap().push(json!("ro"));
            }
            if mount["type"] == "cgroup" {
                mount["options"] = json!(["nosuid", "noexec", "nodev", "relatime"]);
            }
        }
    });
    assert_eq!(out, "/dev ro\n/mnt ro\ncgroup writable\n");
    // An x86 + x32 architecture list still filters this machine's calls.
    let out = same(&env, "arches", |s| {
        no_terminal(s, &["sh", "-c", "mkdir /dev/shm/x 2>&1; echo $?"]);
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
    });
    assert_eq!(
        out,
        "mkdir: can't create directory '/dev/shm/x': Operation not permitted\n1\n"
    );
}

/// `listenerPath`: the filter's listener goes to the agent with the container's state. This
/// test is the agent: it checks the message and closes the listener, so the notified call
/// fails with ENOSYS (what a container sees when its agent is gone).
#[test]
fn seccomp_notify_hands_the_listener_to_the_agent() {
    let env = TestEnv::new();
    let socket = env.path().join("agent.sock");
    let dir = bundle(&env, "notify", |s| {
        no_terminal(s, &["sh", "-c", "mkdir /dev/shm/x 2>&1; echo $?"]);
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": socket, "listenerMetadata": "meta",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    let missing = runtime(&env)
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(id(&env, "missing"))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("failed to connect with seccomp agent")
    );
    let listener = UnixListener::bind(&socket).unwrap();
    let agent = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Closed at once: the container's notified calls then fail with ENOSYS.
        let (_listener, message) = receive_fd(&stream);
        serde_json::from_slice::<Value>(&message).unwrap()
    });
    let out = run_ok(
        runtime(&env)
            .args(["run", "--bundle"])
            .arg(&dir)
            .arg(id(&env, "notify")),
    );
    let state = agent.join().unwrap();
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "meta");
    assert_eq!(state["state"]["id"], id(&env, "notify").as_str());
    assert!(out.contains("Function not implemented"), "{out}");
}

#[test]
fn exec_takes_runcs_flags() {
    let env = TestEnv::new();
    let id = detached(&env, "exec", |s| {
        for mount in s["mounts"].as_array_mut().unwrap() {
            if mount["type"] == "cgroup" {
                mount["options"] = json!(["nosuid", "noexec", "nodev"]);
            }
        }
    });
    let groups = run_ok(runtime(&env).args([
        "exec",
        "--user",
        "1000:1000",
        "--additional-gids",
        "100",
        "--additional-gids",
        "65534",
        &id,
        "id",
        "-G",
    ]));
    assert_eq!(groups, "1000 100 65534\n");
    // --preserve-fds 1: our descriptor 3 is the process's 3; without it, it is closed.
    let file = env.path().join("passed");
    std::fs::write(&file, "passed on\n").unwrap();
    let script = format!(
        "exec 3<{}; {} --root {} exec --preserve-fds 1 {id} cat /proc/self/fd/3; \
         {} --root {} exec {id} cat /proc/self/fd/3 2>/dev/null || echo closed",
        file.display(),
        runtime_binary(&env).display(),
        env.path().join("state").display(),
        runtime_binary(&env).display(),
        env.path().join("state").display(),
    );
    let out = run_ok(
        Command::new("sh")
            .args(["-c", &script])
            .env("BALEIA_TEST_MARK", env.marker()),
    );
    assert_eq!(out, "passed on\nclosed\n");
    // --cgroup: a sub-cgroup the container made in its own.
    // On v2 one tree holds every controller, and `--cgroup` names a path only.
    let (dir, cgroup, line) = if v2() {
        ("/sys/fs/cgroup/sub", "sub", "0::".to_string())
    } else {
        (
            "/sys/fs/cgroup/memory/sub",
            "memory:sub",
            format!(":memory:/baleia-runtime/{id}"),
        )
    };
    run_ok(runtime(&env).args(["exec", &id, "mkdir", dir]));
    let cgroups =
        run_ok(runtime(&env).args(["exec", "--cgroup", cgroup, &id, "cat", "/proc/self/cgroup"]));
    assert!(
        cgroups
            .lines()
            .any(|l| l.contains(&line) && l.ends_with("/sub")),
        "{cgroups}"
    );
    let parent = runtime(&env)
        .args(["exec", "--cgroup", "..", &id, "true"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&parent.stderr).contains("is not a sub cgroup path"));
    // runc's exit code for an exec that never ran: 255.
    let missing = runtime(&env)
        .args(["exec", "no-such", "true"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(255));
    run_ok(runtime(&env).args(["delete", "--force", &id]));
}
