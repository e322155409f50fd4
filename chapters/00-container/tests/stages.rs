//! Chapter 00's stages: the container run as a user would, as root (clone(2) with new
//! namespaces, pivot_root(2) and cgroups need it), on a busybox root file system made here from
//! Debian's busybox-static.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "chapter 00's container needs root: run `sudo scripts/check 00`, in a disposable VM"
    );
}

/// A busybox root: /bin/busybox, a link per applet the tests use, and empty /proc and /tmp.
fn busybox_root(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for sub in ["bin", "proc", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("copy /bin/busybox (install the Debian package busybox-static)");
    for applet in ["sh", "ls", "cat", "echo", "head", "yes", "hostname", "test"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    root
}

fn container(args: &[&str]) -> Output {
    require_root();
    Command::new(env!("CARGO_BIN_EXE_ch00-container"))
        .args(args)
        .output()
        .expect("run ch00-container")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_command_is_pid_1_with_a_host_name_of_its_own() {
    let output = container(&[
        "--hostname",
        "learner",
        "--",
        "/bin/sh",
        "-c",
        "echo $$; hostname; exit 7",
    ]);
    assert_eq!(output.status.code(), Some(7), "{}", describe(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "1\nlearner\n",
        "{}",
        describe(&output)
    );
    let host = nix::unistd::gethostname().unwrap();
    assert_ne!(host.to_str(), Some("learner"), "the host kept its name");
}

#[test]
fn the_busybox_root_is_all_the_container_sees() {
    let dir = tempfile::tempdir().unwrap();
    let root = busybox_root(dir.path());
    let script =
        "ls /; test -e /etc/os-release && echo host files || echo no host files; cat /proc/1/comm; echo end";
    let output = container(&[
        "--rootfs",
        root.to_str().unwrap(),
        "--",
        "/bin/sh",
        "-c",
        script,
    ]);
    assert!(output.status.success(), "{}", describe(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "bin\nproc\ntmp\nno host files\nsh\nend\n",
        "{}",
        describe(&output)
    );
}

#[test]
fn a_memory_hog_is_killed_at_the_limit_and_its_cgroup_removed() {
    let dir = tempfile::tempdir().unwrap();
    let root = busybox_root(dir.path());
    // The shell keeps 64 MiB of output in a variable: over a 16 MiB limit.
    let hog = "x=$(yes | head -c 67108864); echo survived";
    let root = root.to_str().unwrap();
    let limited = container(&[
        "--rootfs", root, "--memory", "16777216", "--", "/bin/sh", "-c", hog,
    ]);
    assert_eq!(
        limited.status.code(),
        Some(137),
        "killed by the OOM killer: {}",
        describe(&limited)
    );
    let cgroups: Vec<String> = ["/sys/fs/cgroup", "/sys/fs/cgroup/memory"]
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|entries| entries.flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("ch00-"))
        .collect();
    assert_eq!(cgroups, Vec::<String>::new(), "no cgroup left behind");
    let free = container(&[
        "--rootfs",
        root,
        "--",
        "/bin/sh",
        "-c",
        "x=$(yes | head -c 1048576); echo survived",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&free.stdout),
        "survived\n",
        "{}",
        describe(&free)
    );
}
