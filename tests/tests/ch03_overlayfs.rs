//! Chapter 03 — the container's file system. Each test runs `ch03-overlayfs` with the busybox
//! fixture as the image and checks what the container sees and what is left on the host. Run:
//! `cargo test -p baleia-tests --test ch03_overlayfs` (as root).

use harness::{assert_snapshot, busybox_rootfs, report, TestEnv};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;

const BIN: &str = "ch03-overlayfs";

/// `ch03-overlayfs run --image-dir BUSYBOX --name MARKER-NAME [flags] -- sh -c SCRIPT`
fn run_sh(env: &TestEnv, name: &str, flags: &[&str], script: &str) -> Output {
    let image = busybox_rootfs();
    let name = format!("{}-{name}", env.marker());
    env.cmd(BIN)
        .arg("run")
        .arg("--image-dir")
        .arg(&image)
        .args(["--name", &name])
        .args(flags)
        .args(["--", "sh", "-c", script])
        .output()
        .expect("run ch03-overlayfs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn containers_dir(env: &TestEnv) -> PathBuf {
    env.path().join("root/containers")
}

/// The only kept container's directory.
fn kept_container(env: &TestEnv) -> PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir(containers_dir(env))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "exactly one kept container: {dirs:?}");
    dirs.pop().unwrap()
}

/// Every path under `dir` with its size and mode, to prove a directory did not change.
fn fingerprint(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = entry.path().symlink_metadata().unwrap();
            out.push(format!(
                "{} {} {:o} {}",
                entry.path().display(),
                meta.len(),
                meta.mode(),
                meta.mtime()
            ));
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_container_sees_the_image_as_root_and_only_its_own_processes() {
    let env = TestEnv::new();
    let output = run_sh(
        &env,
        "see",
        &["--hostname", "box"],
        // The shell counts /proc's processes itself (a glob, no pipeline whose processes may or
        // may not have started yet): only PID 1, the shell, is there.
        "ls /; echo; set -- /proc/[0-9]*; echo $#; cat /etc/hostname; ls /dev",
    );
    assert_snapshot!(report(&output));
    assert!(
        !containers_dir(&env).exists()
            || std::fs::read_dir(containers_dir(&env)).unwrap().count() == 0,
        "without --keep the container's directories are removed"
    );
}

#[test]
fn writes_land_in_the_write_layer_never_in_the_image_and_die_with_the_container() {
    let env = TestEnv::new();
    let image = busybox_rootfs();
    let before = fingerprint(&image);

    let first = run_sh(
        &env,
        "writer",
        &["--keep"],
        "echo written > /hello && echo extra >> /etc/passwd && cat /hello",
    );
    assert_eq!(stdout(&first), "written\n", "{}", report(&first));
    let container = kept_container(&env);
    assert_eq!(
        std::fs::read_to_string(container.join("upper/hello")).unwrap(),
        "written\n"
    );
    assert!(container.join("upper/etc/passwd").exists(), "copied up");
    assert_eq!(fingerprint(&image), before, "the image directory changed");

    let second = run_sh(
        &env,
        "reader",
        &[],
        "cat /hello 2>&1; grep -c extra /etc/passwd",
    );
    assert_snapshot!(
        "a_second_container_does_not_see_the_first_ones_writes",
        report(&second)
    );

    let removed = env
        .cmd(BIN)
        .args(["rm", &format!("{}-writer", env.marker())])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", report(&removed));
    assert!(
        !container.exists(),
        "rm removes the container's directories"
    );
    assert_eq!(
        fingerprint(&image),
        before,
        "rm touched the image directory"
    );
}

#[test]
fn deleting_an_image_file_leaves_a_whiteout_and_diff_lists_the_changes() {
    let env = TestEnv::new();
    let script = "rm /etc/group && mkdir -p /srv/app && echo hi > /srv/app/index.html \
                  && echo tweak >> /etc/passwd && rm -r /var";
    let output = run_sh(&env, "differ", &["--keep"], script);
    assert!(output.status.success(), "{}", report(&output));
    let container = kept_container(&env);
    let whiteout = std::fs::symlink_metadata(container.join("upper/etc/group")).unwrap();
    assert!(
        whiteout.file_type().is_char_device() && whiteout.rdev() == 0,
        "a deleted image file is a 0/0 character device in upper"
    );
    let diff = env
        .cmd(BIN)
        .args(["diff", &format!("{}-differ", env.marker())])
        .output()
        .unwrap();
    assert_snapshot!(report(&diff));
    let removed = env
        .cmd(BIN)
        .args(["rm", &format!("{}-differ", env.marker())])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", report(&removed));
}

#[test]
fn read_only_rejects_writes_to_the_root_but_not_to_a_tmpfs() {
    let env = TestEnv::new();
    let output = run_sh(
        &env,
        "ro",
        &[
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--tmpfs",
            "/var/cache/app",
        ],
        "touch /new 2>&1; echo \"touch exit $?\"; \
         echo box > /etc/hostname && echo 'engine files stay writable'; \
         touch /tmp/scratch /var/cache/app/x && echo 'tmpfs dirs are writable'",
    );
    assert_snapshot!(report(&output));
}

#[test]
fn masked_paths_read_empty_and_kernel_settings_are_read_only() {
    let env = TestEnv::new();
    // The shell's own message for the sysrq write is silenced: it says "Read-only file system"
    // where the kernel has the file and "nonexistent directory" where it was built without it.
    let script = "\
        for f in /proc/timer_list /proc/keys /proc/interrupts; do echo \"$f: $(wc -c < $f) bytes\"; done; \
        echo \"/sys/firmware: $(ls /sys/firmware | wc -l) entries\"; \
        echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo \"write /proc/sys: exit $?\"; \
        echo h 2>/dev/null > /proc/sysrq-trigger; echo \"write /proc/sysrq-trigger: exit $?\"; \
        touch /sys/x 2>/dev/null; echo \"write /sys: exit $?\"";
    let output = run_sh(&env, "masked", &[], script);
    assert_snapshot!(report(&output));
}

#[test]
fn the_hosts_root_is_gone_after_pivot_root() {
    let env = TestEnv::new();
    let secret = env.path().join("host-secret");
    std::fs::write(&secret, "the host's file\n").unwrap();
    let script = format!(
        "cat {} 2>&1; \
         echo \"mounts at /: $(awk '$5 == \"/\"' /proc/self/mountinfo | wc -l)\"; \
         echo \"root file system: $(awk '$5 == \"/\"' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1)\"",
        secret.display()
    );
    let output = run_sh(&env, "escape", &[], &script);
    assert_snapshot!(report(&output));
}

#[test]
fn explain_narrates_every_mount_and_the_pivot() {
    let env = TestEnv::new();
    let output = env
        .cmd(BIN)
        .arg("--explain")
        .arg("run")
        .arg("--image-dir")
        .arg(busybox_rootfs())
        .args(["--name", &format!("{}-explain", env.marker())])
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for step in [
        "mount(\"overlay\"",
        "\"overlay\", 0, \"lowerdir=",
        "mount(\"proc\"",
        "mount(\"sysfs\"",
        "mknod(",
        "\"devpts\"",
        "pivot_root(\".\", \".\")",
        "umount2(\".\", MNT_DETACH)",
        "execve(\"/bin/true\"",
    ] {
        assert!(
            stderr.contains(step),
            "--explain does not narrate {step:?}:\n{stderr}"
        );
    }
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let env = TestEnv::new();
    let missing = env
        .cmd(BIN)
        .args(["run", "--image-dir", "/no/such/image", "--", "true"])
        .output()
        .unwrap();
    let no_container = env
        .cmd(BIN)
        .args(["diff", "nothing-here"])
        .output()
        .unwrap();
    let relative_tmpfs = env
        .cmd(BIN)
        .arg("run")
        .arg("--image-dir")
        .arg(busybox_rootfs())
        .args(["--tmpfs", "../tmp", "--", "true"])
        .output()
        .unwrap();
    assert_snapshot!(format!(
        "== missing image dir\n{}== unknown container\n{}== tmpfs outside the container\n{}",
        report(&missing),
        report(&no_container),
        report(&relative_tmpfs),
    ));
}

#[test]
fn with_user_the_overlay_root_is_mounted_in_a_user_namespace_with_userxattr() {
    let env = TestEnv::new();
    let output = run_sh(
        &env,
        "userns",
        &["--user"],
        "id -u; cat /proc/self/uid_map; grep ' / ' /proc/self/mounts | grep -c userxattr",
    );
    assert!(output.status.success(), "{}", report(&output));
    let text = stdout(&output);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [vec!["0"], vec!["0", "0", "1"], vec!["1"]],
        "{}",
        report(&output)
    );
    env.assert_no_leaks();
}

#[test]
fn the_classic_chroot_escape_reaches_the_host_from_a_chroot_but_not_from_a_container() {
    let env = TestEnv::new();
    let secret = env.path().join("host-secret");
    std::fs::write(&secret, "the host's file\n").unwrap();
    let secret = secret.display().to_string();
    // A one-file layer holding the static probe, on top of busybox.
    let probe_layer = env.path().join("probe-layer");
    std::fs::create_dir_all(&probe_layer).unwrap();
    std::fs::copy(harness::probe(), probe_layer.join("probe")).unwrap();

    // Control: from a plain chroot jail the escape works, so the test can tell.
    let jailed = std::process::Command::new("chroot")
        .arg(&probe_layer)
        .args(["/probe", "chroot-escape", &secret])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&jailed),
        format!("after the escape, {secret} is reachable\n"),
        "{}",
        report(&jailed)
    );
    let _ = std::fs::remove_dir(probe_layer.join(".escape"));

    let image = busybox_rootfs();
    let contained = env
        .cmd(BIN)
        .arg("run")
        .arg("--image-dir")
        .arg(&probe_layer)
        .arg("--image-dir")
        .arg(&image)
        .args(["--name", &format!("{}-escape", env.marker())])
        .args(["--", "/probe", "chroot-escape", &secret])
        .output()
        .unwrap();
    assert_snapshot!(report(&contained));
}

/// A busybox container running `script` in the background; its pid (as the host sees it).
fn background(env: &TestEnv, script: &str) -> (std::process::Child, String) {
    let pid_file = env.path().join("bg.pid");
    let child = env
        .std_cmd(BIN)
        .arg("run")
        .arg("--image-dir")
        .arg(busybox_rootfs())
        .args(["--name", &format!("{}-bg", env.marker())])
        .arg("--pid-file")
        .arg(&pid_file)
        .args(["--", "sh", "-c", script])
        .spawn()
        .unwrap();
    let pid = harness::wait_for_pid_file(&pid_file);
    (child, pid)
}

fn stop(mut child: std::process::Child, pid: &str) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", pid])
        .status();
    child.wait().unwrap();
}

fn cp(env: &TestEnv, pid: &str, src: &str, dest: &str) -> Output {
    env.cmd(BIN)
        .args(["cp", "--target", pid, src, dest])
        .output()
        .unwrap()
}

#[test]
fn cp_copies_files_and_directories_in_and_out_of_a_running_container() {
    let env = TestEnv::new();
    let (child, pid) = background(
        &env,
        "mkdir -p /data/sub && echo inside > /data/sub/note && ln -s note /data/sub/link \
         && touch /ready && sleep 30",
    );
    let ready = format!("/proc/{pid}/root/ready");
    for _ in 0..100 {
        if Path::new(&ready).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Out: a directory, with its file and its symlink (copied as a symlink).
    let out = env.path().join("out");
    let output = cp(&env, &pid, ":/data", out.to_str().unwrap());
    assert!(output.status.success(), "{}", report(&output));
    assert_eq!(
        std::fs::read_to_string(out.join("sub/note")).unwrap(),
        "inside\n"
    );
    assert_eq!(
        std::fs::read_link(out.join("sub/link")).unwrap(),
        Path::new("note")
    );

    // In: a host directory into an existing directory of the container.
    let src = env.path().join("payload");
    std::fs::create_dir_all(src.join("deep")).unwrap();
    std::fs::write(src.join("deep/hello"), "from the host\n").unwrap();
    let output = cp(&env, &pid, src.to_str().unwrap(), ":/data");
    assert!(output.status.success(), "{}", report(&output));
    let seen = std::fs::read_to_string(format!("/proc/{pid}/root/data/payload/deep/hello"));
    assert_eq!(seen.unwrap(), "from the host\n");
    stop(child, &pid);
}

#[test]
fn cp_resolves_symlinks_inside_the_container_never_on_the_host() {
    let env = TestEnv::new();
    // Hostile container: /escape -> / and /etc/evil -> /tmp/<host dir>; and a loop that keeps
    // swapping /swap between a directory and a symlink to / (the CVE-2018-15664 race).
    let host_dir = env.path().join("host-target");
    std::fs::create_dir_all(&host_dir).unwrap();
    let script = format!(
        "ln -s / /escape; ln -s {host} /hostdir; mkdir -p /real; touch /ready; \
         while true; do rm -rf /swap; mkdir /swap; rm -rf /swap; ln -s {host} /swap; done",
        host = host_dir.display()
    );
    let (child, pid) = background(&env, &script);
    let ready = format!("/proc/{pid}/root/ready");
    for _ in 0..100 {
        if Path::new(&ready).exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let file = env.path().join("planted");
    std::fs::write(&file, "planted\n").unwrap();

    // Through a symlink to an absolute host path: it names the *container's* path.
    let output = cp(&env, &pid, file.to_str().unwrap(), ":/hostdir/planted");
    let _ = output; // it may fail (no such directory in the container) or land inside it
    assert!(!host_dir.join("planted").exists(), "written on the host!");
    // Through ../.. and /escape: clamped to the container's root.
    let output = cp(&env, &pid, file.to_str().unwrap(), ":/escape/../../real/");
    assert!(output.status.success(), "{}", report(&output));
    assert!(Path::new(&format!("/proc/{pid}/root/real/planted")).exists());
    // The race: many copies while the directory is swapped for a symlink to the host dir.
    for _ in 0..200 {
        let _ = cp(&env, &pid, file.to_str().unwrap(), ":/swap/planted");
    }
    assert!(
        !host_dir.join("planted").exists(),
        "a copy followed a swapped-in symlink to the host"
    );
    // Out of the container through a symlink to a host path: the container's view, not ours.
    std::fs::write(host_dir.join("secret"), "host secret\n").unwrap();
    let stolen = env.path().join("stolen");
    let output = cp(&env, &pid, ":/hostdir/secret", stolen.to_str().unwrap());
    assert!(!output.status.success(), "{}", report(&output));
    assert!(!stolen.exists());
    stop(child, &pid);
}
