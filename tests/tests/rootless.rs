//! The chapters as an ordinary user. Every test here runs a chapter binary as `baleia-learner`
//! (a user the tests make, with subordinate ids in /etc/subuid and /etc/subgid) or as
//! `nobody` (no subordinate ids), never as root: what a learner without root gets, and the
//! messages for what it cannot have. Run: `scripts/test --test rootless` (as root: making the
//! user and switching to it need root; the chapters themselves then run without it).

use harness::learner::User;
use harness::{build_dir, busybox_rootfs, report, TestEnv};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A chapter binary run as `user`, with HOME in the test's directory and the test's marker.
fn run_as(env: &TestEnv, user: &User, binary: &str, args: &[&str]) -> Output {
    let home = user.own_dir(env.path(), &format!("home-{}", user.name));
    user.command(build_dir().join(binary), &home)
        .args(args)
        .env("BALEIA_TEST_MARK", env.marker())
        .current_dir(&home)
        .output()
        .expect("run the chapter binary through setpriv")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `output` succeeded and printed exactly `expected`.
fn assert_printed(output: &Output, expected: &str) {
    assert!(output.status.success(), "{}", report(output));
    assert_eq!(stdout(output), expected, "{}", report(output));
}

/// The entries of `dir` (none if it does not exist).
fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// A copy of the busybox fixture that `user` owns, as an image directory a user would make
/// (`cp -a` as itself): its files are the user's, root's inside.
fn own_image(env: &TestEnv, user: &User) -> PathBuf {
    let home = user.own_dir(env.path(), &format!("home-{}", user.name));
    let image = home.join("busybox");
    let status = user
        .command("cp", &home)
        .arg("-a")
        .arg(busybox_rootfs())
        .arg(&image)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cp -a the busybox fixture as {}",
        user.name
    );
    image
}

/// The learner, with an image directory (the busybox fixture) and a state root of its own.
struct Learner<'a> {
    env: &'a TestEnv,
    user: User,
    image: PathBuf,
    state: PathBuf,
}

impl<'a> Learner<'a> {
    fn new(env: &'a TestEnv) -> Self {
        let user = User::learner();
        let image = own_image(env, &user);
        let state = user.own_dir(env.path(), "state");
        Learner {
            env,
            user,
            image,
            state,
        }
    }

    /// `binary --root STATE ARGS...` as the learner.
    fn run(&self, binary: &str, args: &[&str]) -> Output {
        let mut all = vec!["--root", self.state.to_str().unwrap()];
        all.extend_from_slice(args);
        run_as(self.env, &self.user, binary, &all)
    }

    /// `ch03-overlayfs run --user --image-dir IMAGE FLAGS... -- COMMAND...` as the learner.
    fn ch03_run(&self, flags: &[&str], command: &[&str]) -> Output {
        let mut args = vec!["run", "--user", "--image-dir", self.image.to_str().unwrap()];
        args.extend_from_slice(flags);
        args.push("--");
        args.extend_from_slice(command);
        self.run("ch03-overlayfs", &args)
    }

    /// The user's home (the image directory's parent).
    fn home(&self) -> PathBuf {
        self.image.parent().unwrap().to_path_buf()
    }

    /// `sh -c SCRIPT` as the learner, in its home; it must succeed.
    fn sh(&self, script: &str) {
        let home = self.home();
        let status = self
            .user
            .command("sh", &home)
            .args(["-c", script])
            .current_dir(&home)
            .status()
            .unwrap();
        assert!(status.success(), "as the learner: {script}");
    }
}

/// Chapter 01 as `user`: a user and a mount namespace, every capability in them (to mount a
/// tmpfs), and `script` in `sh`.
fn ch01_privileged(env: &TestEnv, user: &User, script: &str) -> Output {
    run_as(
        env,
        user,
        "ch01-namespaces",
        &[
            "run",
            "--user",
            "--mount",
            "--privileged",
            "--",
            "sh",
            "-c",
            script,
        ],
    )
}

#[test]
fn with_subordinate_ids_the_map_has_the_users_range_and_chown_works_inside() {
    let env = TestEnv::new();
    let learner = User::learner();
    let (start, count) = learner.subordinate;
    let output = ch01_privileged(
        &env,
        &learner,
        "cat /proc/self/uid_map /proc/self/gid_map; mount -t tmpfs none /mnt && \
         touch /mnt/f && chown 1000:50 /mnt/f && stat -c '%u:%g' /mnt/f",
    );
    assert!(output.status.success(), "{}", report(&output));
    let maps: Vec<Vec<String>> = stdout(&output)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    let line = |a: u32, b: u32, c: u32| vec![a.to_string(), b.to_string(), c.to_string()];
    assert_eq!(
        maps,
        [
            line(0, learner.uid, 1),
            line(1, start, count),
            line(0, learner.gid, 1),
            line(1, start, count),
            vec!["1000:50".to_string()],
        ],
        "{}",
        report(&output)
    );
    assert_eq!(stderr(&output), "", "no warning with ranges");
    env.assert_no_leaks();
}

#[test]
fn without_subordinate_ids_the_one_id_map_is_used_and_its_cost_said() {
    let env = TestEnv::new();
    let output = ch01_privileged(
        &env,
        &User::nobody(),
        "cat /proc/self/uid_map; mount -t tmpfs none /mnt && touch /mnt/f && \
         chown 1000 /mnt/f; echo chown exit $?",
    );
    assert!(output.status.success(), "{}", report(&output));
    let out = stdout(&output);
    let map: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(map, ["0", "65534", "1"], "{}", report(&output));
    assert!(out.ends_with("chown exit 1\n"), "{}", report(&output));
    let warning = stderr(&output);
    assert!(
        warning.contains("warning: no subordinate uid range for nobody in /etc/subuid")
            && warning.contains("usermod --add-subuids")
            && warning.contains("chown to any other id fails"),
        "{}",
        report(&output)
    );
    env.assert_no_leaks();
}

#[test]
fn an_overlay_root_works_in_a_user_namespace_and_its_layer_is_owned_inside_the_mapping() {
    let env = TestEnv::new();
    let learner = Learner::new(&env);
    let output = learner.ch03_run(
        &["--keep", "--name", "box"],
        &[
            "sh",
            "-c",
            "id -u; echo new > /etc/new; chown 1:1 /etc/new; rm /etc/group; \
             mkdir /etc/sub && touch /etc/sub/f && chown -R 1:1 /etc/sub; \
             grep ' / ' /proc/self/mounts | cut -d' ' -f3; ls /etc",
        ],
    );
    assert_printed(
        &output,
        "0\noverlay\nhostname\nhosts\nnew\npasswd\nresolv.conf\nsub\n",
    );
    // The write layer, on the host: the file chowned to 1 inside belongs to the first
    // subordinate uid; the deleted file left a whiteout (a 0/0 character device).
    let containers = entries(&learner.state.join("containers"));
    assert_eq!(containers.len(), 1, "{containers:?}");
    let upper = containers[0].join("upper/etc");
    let new = std::fs::metadata(upper.join("new")).unwrap();
    assert_eq!(
        (new.uid(), new.gid()),
        (learner.user.subordinate.0, learner.user.subordinate.0)
    );
    let whiteout = std::fs::symlink_metadata(upper.join("group")).unwrap();
    assert_eq!(whiteout.rdev(), 0, "whiteout device number");
    // A directory of the first subordinate uid: the user alone could not remove the file in
    // it (`rm` below does, as the container's root).
    let sub = std::fs::metadata(upper.join("sub")).unwrap();
    assert_eq!(sub.uid(), learner.user.subordinate.0);
    // The image directory is untouched.
    assert!(learner.image.join("etc/group").exists());
    let diff = learner.run("ch03-overlayfs", &["diff", "box"]);
    assert_printed(
        &diff,
        "C /etc\nD /etc/group\nA /etc/new\nA /etc/sub\nA /etc/sub/f\n",
    );
    let removed = learner.run("ch03-overlayfs", &["rm", "box"]);
    assert!(removed.status.success(), "{}", report(&removed));
    assert!(
        !containers[0].exists(),
        "rm removed {}",
        containers[0].display()
    );
    env.assert_no_leaks();
}

#[test]
fn without_user_an_ordinary_user_is_told_to_add_it() {
    let env = TestEnv::new();
    let learner = Learner::new(&env);
    let image = learner.image.to_str().unwrap();
    let output = learner.run(
        "ch03-overlayfs",
        &["run", "--image-dir", image, "--", "true"],
    );
    assert_eq!(output.status.code(), Some(125), "{}", report(&output));
    assert!(
        stderr(&output).contains("a user namespace of your own: add --user"),
        "{}",
        report(&output)
    );
}

/// Is the test runner's own cgroup delegated to `baleia-learner`? Never: the tests run as
/// root, in root's cgroup, so the learner's processes start there too.
fn no_delegation_expected() -> &'static str {
    "no delegated cgroup v2 subtree"
}

#[test]
fn limits_without_a_delegated_cgroup_are_refused_and_no_limit_runs_with_a_warning() {
    let env = TestEnv::new();
    let learner = Learner::new(&env);
    let limited = learner.ch03_run(&["--memory", "64m"], &["true"]);
    assert_eq!(limited.status.code(), Some(125), "{}", report(&limited));
    let message = stderr(&limited);
    assert!(
        message.contains(no_delegation_expected()) && message.contains("--memory"),
        "{}",
        report(&limited)
    );
    let plain = learner.ch03_run(&[], &["true"]);
    assert!(plain.status.success(), "{}", report(&plain));
    let warning = stderr(&plain);
    assert!(
        warning.contains(no_delegation_expected()) && warning.contains("without limits"),
        "{}",
        report(&plain)
    );
    // Nothing kept: the container's directory went with it.
    let left = entries(&learner.state.join("containers"));
    assert!(left.is_empty(), "{left:?}");
    env.assert_no_leaks();
}

#[test]
fn an_image_of_several_owners_keeps_them_inside_mapped_into_the_users_range() {
    let env = TestEnv::new();
    let learner = Learner::new(&env);
    // A layer tar as an image builder writes it: busybox as root's, /srv/www as www-data's
    // (33). A user may write any owner in a tar's headers; only unpacking gives them effect.
    learner.sh("mkdir -p busybox/srv/www && \
         tar -C busybox --owner=0 --group=0 --exclude=./srv -cf layer.tar . && \
         tar -C busybox --owner=33 --group=33 -rf layer.tar ./srv");
    let images = |args: &[&str]| learner.run("ch04-images", args);
    let tar = learner.home().join("layer.tar");
    let imported = images(&["import", tar.to_str().unwrap(), "owners"]);
    assert!(imported.status.success(), "{}", report(&imported));
    let run = images(&[
        "run",
        "--user",
        "owners",
        "--",
        "stat",
        "-c",
        "%u:%g %n",
        "/bin/busybox",
        "/srv",
        "/srv/www",
    ]);
    assert_printed(&run, "0:0 /bin/busybox\n33:33 /srv\n33:33 /srv/www\n");
    // On the host, the unpacked layer's /srv/www belongs to subordinate uid 33.
    let layers = entries(&learner.state.join("layers"));
    assert_eq!(layers.len(), 1, "{layers:?}");
    let www = std::fs::metadata(layers[0].join("srv/www")).unwrap();
    assert_eq!(
        (www.uid(), www.gid()),
        (
            learner.user.subordinate.0 + 32,
            learner.user.subordinate.0 + 32
        )
    );
    // Removing the image removes its layer, files of subordinate ids and all.
    let removed = images(&["rmi", "owners"]);
    assert!(removed.status.success(), "{}", report(&removed));
    assert!(!layers[0].exists(), "{} is gone", layers[0].display());
    env.assert_no_leaks();
}

#[test]
fn chapter_02_runs_a_users_command_without_a_cgroup_and_says_why() {
    let env = TestEnv::new();
    let learner = User::learner();
    let output = run_as(
        &env,
        &learner,
        "ch02-cgroups",
        &["run", "--", "echo", "ran"],
    );
    assert_printed(&output, "ran\n");
    assert!(
        stderr(&output).contains(no_delegation_expected()),
        "{}",
        report(&output)
    );
    let limited = run_as(
        &env,
        &learner,
        "ch02-cgroups",
        &["run", "--pids-limit", "10", "--", "true"],
    );
    assert_eq!(limited.status.code(), Some(125), "{}", report(&limited));
    assert!(
        stderr(&limited).contains("--pids-limit cannot be kept"),
        "{}",
        report(&limited)
    );
    env.assert_no_leaks();
}

#[test]
fn the_engine_client_starts_the_users_own_daemon_in_its_xdg_directories() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let learner = User::learner();
    let home = learner.own_dir(env.path(), &format!("home-{}", learner.name));
    let runtime = learner.own_dir(env.path(), "runtime");
    std::fs::set_permissions(&runtime, PermissionsExt::from_mode(0o700)).unwrap();
    let data = home.join("data");
    let output = learner
        .command(build_dir().join("baleia"), &home)
        .args(["ps", "-a"])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("XDG_DATA_HOME", &data)
        .env("BALEIA_TEST_MARK", env.marker())
        .current_dir(&home)
        .output()
        .unwrap();
    let text = stderr(&output);
    // The daemon it started, stopped by its pid whatever happens next.
    let daemon: Option<i32> = text
        .split("background (pid ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|pid| pid.parse().ok());
    if let Some(pid) = daemon {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    assert!(output.status.success(), "{}", report(&output));
    let socket = runtime.join("baleia/baleia.sock");
    assert!(
        text.contains(&format!("no daemon was running on {}", socket.display()))
            && text.contains(&format!("log {}", data.join("baleia/daemon.log").display())),
        "{}",
        report(&output)
    );
    assert!(
        stdout(&output).starts_with("CONTAINER ID"),
        "{}",
        report(&output)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while daemon.is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon outlived SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    env.assert_no_leaks();
}

#[test]
fn chapter_07_gives_a_user_a_loopback_network_and_refuses_bridges_and_volumes_clearly() {
    let env = TestEnv::new();
    let learner = Learner::new(&env);
    learner.sh("tar -C busybox -cf busybox.tar .");
    let tar = learner.home().join("busybox.tar");
    let as_user = |binary: &str, args: &[&str]| learner.run(binary, args);
    let imported = as_user("ch04-images", &["import", tar.to_str().unwrap(), "bb"]);
    assert!(imported.status.success(), "{}", report(&imported));
    let alone = as_user(
        "ch07-volumes-network",
        &[
            "run",
            "--user",
            "--network",
            "none",
            "bb",
            "--",
            "ls",
            "/sys/class/net",
        ],
    );
    assert_printed(&alone, "lo\n");
    let bridge = as_user(
        "ch07-volumes-network",
        &["run", "--user", "bb", "--", "true"],
    );
    assert_eq!(bridge.status.code(), Some(125), "{}", report(&bridge));
    assert!(
        stderr(&bridge).contains("a bridge network needs root")
            && stderr(&bridge).contains("--network none"),
        "{}",
        report(&bridge)
    );
    let volume = as_user(
        "ch07-volumes-network",
        &[
            "run",
            "--user",
            "--network",
            "none",
            "-v",
            "data:/data",
            "bb",
            "--",
            "true",
        ],
    );
    assert_eq!(volume.status.code(), Some(125), "{}", report(&volume));
    assert!(
        stderr(&volume).contains("-v: volumes for an ordinary user are not supported yet"),
        "{}",
        report(&volume)
    );
    env.assert_no_leaks();
}

/// The engine as the learner: its own daemon, started by the first client call, with its
/// socket and state in XDG directories inside the test's directory.
struct UserEngine<'a> {
    env: &'a TestEnv,
    user: User,
    home: PathBuf,
    runtime: PathBuf,
    data: PathBuf,
    daemon: std::cell::Cell<Option<i32>>,
}

impl<'a> UserEngine<'a> {
    fn new(env: &'a TestEnv) -> Self {
        use std::os::unix::fs::PermissionsExt;
        let user = User::learner();
        let home = user.own_dir(env.path(), &format!("home-{}", user.name));
        let runtime = user.own_dir(env.path(), "runtime");
        std::fs::set_permissions(&runtime, PermissionsExt::from_mode(0o700)).unwrap();
        let data = home.join("data");
        UserEngine {
            env,
            user,
            home,
            runtime,
            data,
            daemon: std::cell::Cell::new(None),
        }
    }

    /// `baleia ARGS...` as the learner; the daemon the first call starts is remembered.
    fn baleia(&self, args: &[&str]) -> Output {
        let output = self
            .user
            .command(build_dir().join("baleia"), &self.home)
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .env("XDG_DATA_HOME", &self.data)
            .env("BALEIA_TEST_MARK", self.env.marker())
            .current_dir(&self.home)
            .output()
            .unwrap();
        let started = stderr(&output)
            .split("background (pid ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|pid| pid.parse().ok());
        if started.is_some() {
            self.daemon.set(started);
        }
        output
    }

    /// The busybox fixture imported as `busybox` into the user's engine.
    fn import_busybox(&self) {
        let tar = self.home.join("busybox.tar");
        std::fs::copy(harness::busybox_tar(self.env), &tar).unwrap();
        std::os::unix::fs::chown(&tar, Some(self.user.uid), Some(self.user.gid)).unwrap();
        let import = self.baleia(&["import", tar.to_str().unwrap(), "busybox"]);
        assert!(import.status.success(), "{}", report(&import));
    }
}

impl Drop for UserEngine<'_> {
    /// SIGTERM to the user's daemon, and wait until it is gone.
    fn drop(&mut self) {
        let Some(pid) = self.daemon.get() else {
            return;
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[test]
fn the_users_engine_refuses_a_bridge_and_names_the_missing_cgroup_delegation() {
    let env = TestEnv::new();
    {
        let engine = UserEngine::new(&env);
        engine.import_busybox();
        // The default network is a bridge: refused before anything is made, with what works.
        let bridged = engine.baleia(&["run", "--rm", "busybox", "true"]);
        assert!(!bridged.status.success(), "{}", report(&bridged));
        let message = stderr(&bridged);
        assert!(
            message.contains("cannot make bridges") && message.contains("--network none"),
            "{}",
            report(&bridged)
        );
        // Without a network, the container's cgroup: this host delegates none to the user,
        // and the error says so instead of a bare EACCES.
        let plain = engine.baleia(&["run", "--rm", "--network", "none", "busybox", "true"]);
        assert!(!plain.status.success(), "{}", report(&plain));
        assert!(
            stderr(&plain).contains(no_delegation_expected()),
            "{}",
            report(&plain)
        );
        let left = engine.baleia(&["ps", "-aq"]);
        assert!(left.status.success(), "{}", report(&left));
        assert_eq!(stdout(&left), "", "{}", report(&left));
    }
    env.assert_no_leaks();
}
