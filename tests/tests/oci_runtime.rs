//! `baleia runtime`, the OCI runtime command line, in the style of runc's integration tests:
//! bundles made by `runc spec` around the busybox rootfs, the create → start → kill → delete
//! life cycle, `run` side by side with `runc run`, and podman using baleia as its runtime.
//! Run: `cargo test -p baleia-tests --test oci_runtime` (as root; needs runc and podman).

use harness::{busybox_rootfs, probe, report, TestEnv};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use harness::{runtime, runtime_binary};

fn run_ok(cmd: &mut Command) -> String {
    let output = cmd.output().expect("run");
    assert!(output.status.success(), "{cmd:?}\n{}", report(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A bundle made by `runc spec` (a copy of the busybox rootfs, with the probe in it), its
/// process changed by `edit`. Its cgroup carries the test's marker, so leaks are found.
fn bundle(env: &TestEnv, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = env.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(busybox_rootfs())
        .arg(dir.join("rootfs"))
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::copy(probe(), dir.join("rootfs/bin/probe")).unwrap();
    run_ok(Command::new("runc").arg("spec").current_dir(&dir));
    let path = dir.join("config.json");
    let mut spec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    spec["process"]["terminal"] = json!(false);
    spec["linux"]["cgroupsPath"] = json!(format!("/baleia-runtime/{}-{name}", env.marker()));
    edit(&mut spec);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    dir
}

fn args(spec: &mut Value, argv: &[&str]) {
    spec["process"]["args"] = json!(argv);
}

fn id(env: &TestEnv, name: &str) -> String {
    format!("{}-{name}", env.marker())
}

fn state(env: &TestEnv, id: &str) -> Value {
    serde_json::from_str(&run_ok(runtime(env).args(["state", id]))).unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_start_kill_delete_walks_the_spec_life_cycle() {
    let env = TestEnv::new();
    let dir = bundle(&env, "life", |s| {
        args(s, &["sh", "-c", "echo started; exec sleep 100"])
    });
    let id = id(&env, "life");
    let log = env.path().join("life.log");
    let pid_file = env.path().join("life.pid");
    // The container keeps create's standard output: a file, not a pipe we would wait on.
    let output = runtime(&env)
        .args(["create", "--bundle"])
        .arg(&dir)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&id)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(env.path().join("life.err")).unwrap())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        std::fs::read_to_string(env.path().join("life.err")).unwrap()
    );
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();

    let created = state(&env, &id);
    assert_eq!(created["status"], "created");
    assert_eq!(created["pid"], pid);
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["bundle"], dir.to_str().unwrap());
    assert_eq!(created["ociVersion"], "1.0.2");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "",
        "the program waits for start"
    );

    run_ok(runtime(&env).args(["start", &id]));
    wait_until("the program's output", || {
        std::fs::read_to_string(&log).unwrap() == "started\n"
    });
    assert_eq!(state(&env, &id)["status"], "running");
    let again = runtime(&env).args(["start", &id]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr)
        .contains("cannot start an already running container"));
    let ps: Vec<i64> =
        serde_json::from_str(&run_ok(runtime(&env).args(["ps", "--format", "json", &id]))).unwrap();
    assert_eq!(ps, [pid]);
    let exec =
        run_ok(runtime(&env).args(["exec", &id, "sh", "-c", "echo inside; cat /proc/1/comm"]));
    assert_eq!(exec, "inside\nsleep\n");

    let busy = runtime(&env).args(["delete", &id]).output().unwrap();
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("is running"));

    run_ok(runtime(&env).args(["kill", &id, "KILL"]));
    wait_until("stopped", || state(&env, &id)["status"] == "stopped");
    run_ok(runtime(&env).args(["delete", &id]));
    let gone = runtime(&env).args(["state", &id]).output().unwrap();
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("does not exist"));
    assert!(!env.path().join("state").join(&id).exists());
}

#[test]
fn delete_force_removes_a_created_container_that_never_ran() {
    let env = TestEnv::new();
    let dir = bundle(&env, "never", |s| args(s, &["true"]));
    let id = id(&env, "never");
    let output = runtime(&env)
        .args(["create", "--bundle"])
        .arg(&dir)
        .arg(&id)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    run_ok(runtime(&env).args(["delete", "--force", &id]));
    assert!(!env.path().join("state").join(&id).exists());
}

/// `baleia runtime run` and `runc run` on the same bundle: exit code and output.
fn both(env: &TestEnv, name: &str, edit: impl FnOnce(&mut Value)) -> (Output, Output) {
    let dir = bundle(env, name, edit);
    let ours = runtime(env)
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(id(env, name))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let runc = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(&dir)
        .arg(id(env, &format!("{name}-runc")))
        .env("BALEIA_TEST_MARK", env.marker())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    remove_empty_parents(&["baleia-runtime"]);
    (ours, runc)
}

/// runc leaves the parent cgroups it made (in every hierarchy): remove them once empty.
fn remove_empty_parents(parents: &[&str]) {
    for entry in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        for parent in parents {
            let _ = std::fs::remove_dir(entry.path().join(parent));
        }
    }
}

fn same(env: &TestEnv, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (ours, runc) = both(env, name, edit);
    assert_eq!(
        (ours.status.code(), String::from_utf8_lossy(&ours.stdout)),
        (runc.status.code(), String::from_utf8_lossy(&runc.stdout)),
        "{name}: baleia\n{}\nrunc\n{}",
        report(&ours),
        report(&runc)
    );
    String::from_utf8_lossy(&ours.stdout).into_owned()
}

#[test]
fn run_behaves_as_runc_run_does() {
    let env = TestEnv::new();
    let out = same(&env, "exit", |s| args(s, &["sh", "-c", "echo out; exit 3"]));
    assert_eq!(out, "out\n");
    let out = same(&env, "host", |s| {
        s["hostname"] = json!("box");
        args(s, &["hostname"])
    });
    assert_eq!(out, "box\n");
    // runc's default spec: a read-only root, three capabilities, no seccomp, masked paths.
    let out = same(&env, "defaults", |s| {
        args(
            s,
            &[
                "sh",
                "-c",
                "touch /x 2>/dev/null || echo read-only; grep -E '^(CapEff|CapBnd|Seccomp):' \
                 /proc/self/status; cat /proc/kcore | wc -c; id -u",
            ],
        )
    });
    assert_eq!(
        out,
        "read-only\nCapEff:\t0000000020000420\nCapBnd:\t0000000020000420\nSeccomp:\t0\n0\n0\n"
    );
    let out = same(&env, "user", |s| {
        s["process"]["user"] = json!({"uid": 65534, "gid": 65534, "additionalGids": [5]});
        // No ambient capabilities (oci_runtime_runc checks those).
        s["process"]["capabilities"]["ambient"] = json!([]);
        s["process"]["cwd"] = json!("/tmp");
        args(s, &["sh", "-c", "id; pwd"])
    });
    assert_eq!(out, "uid=65534(nobody) gid=65534(nogroup) groups=5\n/tmp\n");
    let out = same(&env, "rlimits", |s| {
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 1000, "soft": 500}]);
        args(s, &["sh", "-c", "ulimit -n; ulimit -Hn"])
    });
    assert_eq!(out, "500\n1000\n");
    let out = same(&env, "nnp", |s| {
        s["process"]["noNewPrivileges"] = json!(false);
        args(s, &["grep", "NoNewPrivs", "/proc/self/status"])
    });
    assert_eq!(out, "NoNewPrivs:\t0\n");
    // The devices cgroup: runc's default spec denies every device but the standard ones, so
    // even with CAP_MKNOD a node of the host's disk can be made but not opened.
    let out = same(&env, "devices", |s| {
        for set in ["bounding", "effective", "permitted", "ambient"] {
            s["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
        args(
            s,
            &[
                "sh",
                "-c",
                "mknod /dev/disk b 8 0 && head -c 1 /dev/disk 2>&1; echo null > /dev/null && echo null ok",
            ],
        )
    });
    assert_eq!(out, "head: /dev/disk: Operation not permitted\nnull ok\n");
    // A node of `linux.devices` is made in /dev, but only the rules say whether it opens:
    // runc's default spec denies every device but the standard ones, so /dev/kmsg stays shut
    // (opening it for writing needs no capability, and nothing is written); a rule allowing
    // its writes opens it.
    let kmsg = |s: &mut Value| {
        s["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1,
            "minor": 11, "fileMode": 0o666, "uid": 0, "gid": 0}]);
        args(
            s,
            &["sh", "-c", "echo -n 2>&1 > /dev/kmsg && echo kmsg opened"],
        )
    };
    let out = same(&env, "kmsg-denied", kmsg);
    assert_eq!(out, "sh: can't create /dev/kmsg: Operation not permitted\n");
    let out = same(&env, "kmsg-allowed", |s| {
        kmsg(s);
        s["linux"]["resources"]["devices"]
            .as_array_mut()
            .unwrap()
            .push(json!({"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}));
    });
    assert_eq!(out, "kmsg opened\n");
    // A tmpfs and a bind mount of a host directory.
    let shared = env.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("note"), "from the host\n").unwrap();
    let out = same(&env, "mounts", |s| {
        let mounts = s["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "size=1m"]}),
        );
        mounts.push(
            json!({"destination": "/data", "type": "bind", "source": shared,
            "options": ["rbind", "ro"]}),
        );
        args(
            s,
            &[
                "sh",
                "-c",
                "echo x > /scratch/f && cat /scratch/f; cat /data/note; \
                 touch /data/new 2>/dev/null || echo data read-only; \
                 df -k /scratch | tail -1 | awk '{print $2}'",
            ],
        )
    });
    assert_eq!(out, "x\nfrom the host\ndata read-only\n1024\n");
    // A memory limit, seen read-only at /sys/fs/cgroup; allocating past it gets the process
    // killed (SIGKILL: 137).
    let limit_file = if harness::cgroup_layout() == "v2" {
        "/sys/fs/cgroup/memory.max"
    } else {
        "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    };
    let out = same(&env, "memory", |s| {
        s["linux"]["resources"]["memory"] =
            json!({"limit": 32 * 1024 * 1024, "swap": 32 * 1024 * 1024});
        args(
            s,
            &[
                "sh",
                "-c",
                &format!(
                    "cat {limit_file}; echo 1 2>/dev/null > {limit_file} || echo ro; \
                     probe alloc-mb 16 >/dev/null && echo small fits; probe alloc-mb 128; echo $?"
                ),
            ],
        )
    });
    assert_eq!(
        out, "33554432\nro\nsmall fits\n137\n",
        "its own cgroup, read-only"
    );
    // A seccomp profile: mkdir refused with EPERM, the rest allowed.
    let out = same(&env, "seccomp", |s| {
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]});
        args(
            s,
            &[
                "sh",
                "-c",
                "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status",
            ],
        )
    });
    assert_eq!(
        out,
        "mkdir: can't create directory '/tmp/d': Operation not permitted\nSeccomp:\t2\n"
    );
}

/// The file system type mounted at `dir` (`/proc/self/mountinfo`, read `proc(5)`).
fn fs_type_at(dir: &str) -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mountinfo
        .lines()
        .rfind(|line| line.split(' ').nth(4) == Some(dir))
        .and_then(|line| line.split_once(" - "))
        .and_then(|(_, rest)| rest.split(' ').next())
        .map(str::to_string)
}

/// Device rules on cgroup v2, where an eBPF program attached to the container's cgroup
/// enforces them. On a v2 host the runtime runs as it is; on a hybrid host it runs in a mount
/// namespace of its own where the cgroup2 mount is at /sys/fs/cgroup, so it sees a v2 host
/// (and its container stays in the root of the v1 devices hierarchy, which allows all: the
/// program alone refuses). `exec` joins the same cgroup, and the same program; `update -r`
/// replaces the program with one of the new rules.
#[test]
fn device_rules_on_cgroup_v2_are_an_ebpf_program() {
    let env = TestEnv::new();
    let v2_host = fs_type_at("/sys/fs/cgroup").as_deref() == Some("cgroup2");
    if !v2_host && fs_type_at("/sys/fs/cgroup/unified").as_deref() != Some("cgroup2") {
        eprintln!("skipped: no cgroup2 mount on this host");
        return;
    }
    let dir = bundle(&env, "v2", |s| {
        for set in ["bounding", "effective", "permitted", "ambient"] {
            s["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        }
        // No cgroup namespace (newer runc specs have one): /proc/self/cgroup shows the path.
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|ns| ns["type"] != "cgroup");
        s["linux"]["devices"] = json!([{"path": "/dev/kmsg", "type": "c", "major": 1,
            "minor": 11, "fileMode": 0o666, "uid": 0, "gid": 0}]);
        args(
            s,
            &[
                "sh",
                "-c",
                "grep ^0:: /proc/self/cgroup; mknod /dev/vda b 254 0 && head -c 16 /dev/vda 2>&1; \
                 echo x > /dev/null && echo null ok; head -c 4 /dev/urandom | wc -c; \
                 echo -n 2>&1 > /dev/kmsg; echo ready; exec sleep 100",
            ],
        )
    });
    let id = id(&env, "v2");
    // One shell holds the mount namespace for the whole life cycle (create, exec, delete).
    let script = r#"set -e
        if [ -n "$V1" ]; then mount -t cgroup2 none /sys/fs/cgroup; fi
        R="$0"
        "$R" --root "$STATE" create --bundle "$BUNDLE" "$ID" > "$LOG" 2>&1
        "$R" --root "$STATE" start "$ID"
        i=0; until grep -q ready "$LOG"; do sleep 0.05; i=$((i + 1)); [ $i -lt 200 ]; done
        echo exec:
        "$R" --root "$STATE" exec "$ID" sh -c \
            'grep ^0:: /proc/self/cgroup; mknod /dev/vdb b 254 0 && head -c 16 /dev/vdb 2>&1; true'
        echo update:
        "$R" --root "$STATE" update -r "$RULES" "$ID"
        "$R" --root "$STATE" exec "$ID" sh -c \
            '{ echo -n > /dev/kmsg && echo kmsg opened; } 2>&1; head -c 1 /dev/vdb 2>&1; true'
        "$R" --root "$STATE" delete --force "$ID""#;
    let mut cmd = if v2_host {
        Command::new("sh")
    } else {
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh"])
            .env("V1", "1");
        cmd
    };
    let log = env.path().join("v2.log");
    // `update -r`: a new program (deny all, allow writing /dev/kmsg) replaces the first.
    let rules = env.path().join("rules.json");
    let allow_kmsg = json!({"devices": [{"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 11, "access": "w"}]});
    std::fs::write(&rules, allow_kmsg.to_string()).unwrap();
    let output = cmd
        .arg("-c")
        .arg(script)
        .arg(runtime_binary(&env))
        .env("BALEIA_TEST_MARK", env.marker())
        .env("STATE", env.path().join("state"))
        .env("BUNDLE", &dir)
        .env("ID", &id)
        .env("LOG", &log)
        .env("RULES", &rules)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    let cgroup = format!("0::/baleia-runtime/{id}\n");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "{cgroup}head: /dev/vda: Operation not permitted\nnull ok\n4\n\
             sh: can't create /dev/kmsg: Operation not permitted\nready\n"
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!(
            "exec:\n{cgroup}head: /dev/vdb: Operation not permitted\nupdate:\nkmsg opened\n\
             head: /dev/vdb: Operation not permitted\n"
        )
    );
}

#[test]
fn what_the_runtime_cannot_honour_is_a_clear_error() {
    let env = TestEnv::new();
    type Case = (&'static str, fn(&mut Value), &'static str);
    let cases: [Case; 5] = [
        (
            "blockio",
            |s| s["linux"]["resources"]["blockIO"] = json!({"weight": 100}),
            "linux.resources.blockIO is not supported",
        ),
        (
            "rlimit",
            |s| {
                s["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "hard": u64::MAX, "soft": 1}])
            },
            "process.rlimits RLIMIT_NOFILE: hard limit",
        ),
        (
            "hooks",
            |s| s["hooks"] = json!({"prestart": [{"path": "/bin/true"}]}),
            "hooks are not supported",
        ),
        (
            "action",
            |s| {
                s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
            },
            "SCMP_ACT_NOTIFY rules but no listenerPath",
        ),
        (
            "mount",
            |s| {
                s["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": "/x", "type": "nfs", "source": "server:/x"}))
            },
            "a mount of type \"nfs\" at /x is not supported",
        ),
    ];
    for (name, edit, message) in cases {
        let dir = bundle(&env, name, |s| {
            args(s, &["true"]);
            edit(s)
        });
        let output = runtime(&env)
            .args(["run", "--bundle"])
            .arg(&dir)
            .arg(id(&env, name))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{}", report(&output));
        // runc's log line quotes the message: `msg="... \"nfs\" ..."`.
        let stderr = String::from_utf8_lossy(&output.stderr).replace("\\\"", "\"");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(!env.path().join("state").join(id(&env, name)).exists());
    }
    let systemd = runtime(&env)
        .args(["--systemd-cgroup", "create", "x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&systemd.stderr).contains("--systemd-cgroup is not supported"));
    // `baleia runtime ...` is the same command line as the `baleia-runtime` symlink.
    let features: Value = serde_json::from_str(&run_ok(
        Command::new(harness::build_dir().join("baleia")).args(["runtime", "features"]),
    ))
    .unwrap();
    assert_eq!(features["linux"]["cgroup"]["systemd"], false);
    // With --log and --log-format json, errors are also runc's JSON lines in the log file
    // (podman reads them from there).
    let log = env.path().join("runtime.log");
    let output = runtime(&env)
        .arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "start", "no-such-container"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let line: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().trim()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"]
            .as_str()
            .unwrap()
            .contains("container no-such-container does not exist"),
        "{line}"
    );
}

/// podman, pointed at a configuration and a store of its own in the test's directory.
struct Podman<'a> {
    env: &'a TestEnv,
}

impl<'a> Podman<'a> {
    fn new(env: &'a TestEnv) -> Self {
        let dir = env.path().join("podman");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{0}/events.log\"\ntmp_dir = \"{0}/tmp\"\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
                dir.display()
            ),
        )
        .unwrap();
        let podman = Podman { env };
        let tar = harness::busybox_tar(env);
        let out = podman.ok(&[
            "import",
            "--change",
            "CMD [\"/bin/sh\"]",
            tar.to_str().unwrap(),
            "localhost/busybox:latest",
        ]);
        assert!(out.starts_with("sha256:"), "{out}");
        podman
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let dir = self.env.path().join("podman");
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
            .env("BALEIA_TEST_MARK", self.env.marker())
            .arg("--runtime")
            .arg(runtime_binary(self.env))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        run_ok(&mut self.cmd(args))
    }
}

impl Drop for Podman<'_> {
    fn drop(&mut self) {
        let _ = self
            .cmd(&["rm", "--all", "--force", "--time", "0"])
            .output();
        // Its storage keeps an overlay mount of its own under the test's directory.
        let _ = self.cmd(&["system", "reset", "--force"]).output();
        let dir = self
            .env
            .path()
            .join("podman")
            .to_string_lossy()
            .into_owned();
        let mut mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&dir))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount in mounts {
            let _ = nix::mount::umount2(mount.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        // podman's cgroup parent and its conmon's cgroup (left in place by podman itself).
        remove_empty_parents(&["libpod_parent/conmon", "libpod_parent"]);
    }
}

#[test]
fn podman_runs_containers_with_baleia_as_its_runtime() {
    let env = TestEnv::new();
    let podman = Podman::new(&env);
    let hi = podman.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "localhost/busybox",
        "echo",
        "hi",
    ]);
    assert_eq!(hi, "hi\n");
    let failed = podman
        .cmd(&[
            "run",
            "--rm",
            "--network",
            "none",
            "localhost/busybox",
            "sh",
            "-c",
            "exit 7",
        ])
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(7), "{}", report(&failed));
    // A non-root user waits at the start gate too; a read-only volume and a tmpfs.
    let shared = env.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("note"), "from the host\n").unwrap();
    let volume = format!("{}:/data:ro", shared.display());
    let out = podman.ok(&[
        "run", "--rm", "--network", "none", "--user", "65534", "-v", &volume, "--tmpfs",
        "/scratch", "localhost/busybox", "sh", "-c",
        "id -u; cat /data/note; touch /data/x 2>/dev/null || echo ro; grep -c ' /scratch tmpfs' /proc/mounts",
    ]);
    assert_eq!(out, "65534\nfrom the host\nro\n1\n");
    // --device and --privileged: device nodes of the spec's linux.devices in /dev, allowed by
    // podman's own device rules (a deny-all and one allow per --device); the standard devices
    // by the runtime's; the host's disk by neither.
    let out = podman.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--device",
        "/dev/zero:/dev/myzero",
        "--device",
        "/dev/kmsg",
        "localhost/busybox",
        "sh",
        "-c",
        "head -c 2 /dev/myzero | wc -c; echo -n > /dev/kmsg && echo kmsg ok; \
         echo > /dev/null && echo null ok; mknod /tmp/vda b 254 0 && head -c 1 /tmp/vda 2>&1; true",
    ]);
    assert_eq!(
        out,
        "2\nkmsg ok\nnull ok\nhead: /tmp/vda: Operation not permitted\n"
    );
    let out = podman.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--privileged",
        "localhost/busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!(out, "Seccomp:\t0\n");
    // A namespaced sysctl is written in the container's own network namespace only.
    let out = podman.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "localhost/busybox",
        "cat",
        "/proc/sys/net/ipv4/ip_forward",
    ]);
    assert_eq!(out, "1\n");

    let id = podman.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--memory",
        "64m",
        "--name",
        "web",
        "localhost/busybox",
        "sh",
        "-c",
        "echo up; exec sleep 100",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let pid = podman.ok(&["inspect", "--format", "{{.State.Pid}}", "web"]);
    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    // cgroups(7): `N:memory:/path` on v1, the one `0::/path` on v2.
    let (marker, limit_file) = if harness::cgroup_layout() == "v2" {
        ("0::", "/sys/fs/cgroup{}/memory.max")
    } else {
        (":memory:", "/sys/fs/cgroup/memory{}/memory.limit_in_bytes")
    };
    let memory = cgroup
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, p)| p.to_string()))
        .expect("a memory cgroup");
    let limit = std::fs::read_to_string(limit_file.replace("{}", &memory)).unwrap();
    assert_eq!(limit.trim(), "67108864");
    wait_until("the logs", || podman.ok(&["logs", "web"]) == "up\n");
    let exec = podman.ok(&[
        "exec",
        "web",
        "sh",
        "-c",
        "echo from exec; cat /proc/1/comm",
    ]);
    assert_eq!(exec, "from exec\nsleep\n");
    assert!(podman
        .ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .starts_with("web Up"));
    podman.ok(&["stop", "--time", "1", "web"]);
    let status = podman.ok(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        "web",
    ]);
    assert_eq!(status, "exited 137\n");
    podman.ok(&["rm", "web"]);
    assert_eq!(podman.ok(&["ps", "-aq"]), "");
    let pid_gone = wait_for_gone(pid.trim());
    assert!(pid_gone, "the container's process is gone");
}

fn wait_for_gone(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !Path::new(&format!("/proc/{pid}")).exists()
}
