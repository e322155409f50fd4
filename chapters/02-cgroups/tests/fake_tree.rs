//! The v1 and v2 code paths against fake cgroup trees in temporary directories: no root and no
//! particular host needed. The fake plays the kernel's part by hand: it lists the controllers
//! the root offers, and fills a new cgroup with the files `mkdir` would have given it.

use ch02_cgroups::mode::Hierarchy;
use ch02_cgroups::{ContainerCgroup, Controller, CpuQuota, Layout, Limits, Mode, Usage};
use nix::unistd::Pid;
use std::path::Path;
use std::time::Duration;

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
}

fn seed(dir: &Path, files: &[(&str, &str)]) {
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// Remove the fake's regular files from the container's directories (the kernel's files
/// vanish with rmdir; a plain directory must be empty first).
fn clear_files(cgroup: &ContainerCgroup) {
    for dir in cgroup.dirs() {
        for entry in std::fs::read_dir(&dir.path).unwrap().flatten() {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
}

fn all_limits() -> Limits {
    Limits {
        memory: Some(64 << 20),
        cpu_quota: Some(CpuQuota {
            quota_us: 50_000,
            period_us: 100_000,
        }),
        cpu_shares: Some(512),
        pids: Some(20),
    }
}

/// A pid no process can have (above the kernel's largest pid_max), so that nothing real is
/// moved or killed by these tests.
const NO_SUCH_PID: i32 = 999_999_999;

// ---- v2 ------------------------------------------------------------------------------------

fn fake_v2_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    seed(
        root.path(),
        &[
            ("cgroup.controllers", "cpuset cpu io memory pids\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    root
}

/// What the kernel puts in a new v2 cgroup, for the files we touch.
fn v2_kernel_files(dir: &Path) {
    seed(
        dir,
        &[
            ("cgroup.procs", ""),
            ("cpu.max", "max 100000\n"),
            ("memory.swap.max", "max\n"),
        ],
    );
}

#[test]
fn v2_enables_the_controllers_in_every_parent_then_creates_one_cgroup() {
    let root = fake_v2_root();
    let layout = Layout::v2_at(root.path()).unwrap();
    // The parent exists already, with nothing enabled for its children yet.
    std::fs::create_dir(root.path().join("baleia")).unwrap();
    seed(
        &root.path().join("baleia"),
        &[("cgroup.subtree_control", "")],
    );

    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();

    assert_eq!(
        read(root.path().join("cgroup.subtree_control")),
        "+memory +cpu +pids"
    );
    assert_eq!(
        read(root.path().join("baleia/cgroup.subtree_control")),
        "+memory +cpu +pids"
    );
    let leaf = root.path().join("baleia/box");
    assert!(leaf.is_dir());
    assert_eq!(cgroup.dirs().len(), 1, "v2 has one directory per container");
    assert_eq!(cgroup.dir_of(Controller::Memory), Some(leaf.as_path()));
    clear_files(&cgroup);
    cgroup.remove().unwrap();
    assert!(!leaf.exists());
}

#[test]
fn v2_does_not_rewrite_controllers_already_enabled() {
    let root = fake_v2_root();
    seed(
        root.path(),
        &[("cgroup.subtree_control", "cpu memory pids\n")],
    );
    std::fs::create_dir(root.path().join("baleia")).unwrap();
    seed(
        &root.path().join("baleia"),
        &[("cgroup.subtree_control", "memory pids\n")],
    );
    let layout = Layout::v2_at(root.path()).unwrap();
    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    assert_eq!(
        read(root.path().join("cgroup.subtree_control")),
        "cpu memory pids\n"
    );
    assert_eq!(
        read(root.path().join("baleia/cgroup.subtree_control")),
        "+cpu"
    );
    clear_files(&cgroup);
    cgroup.remove().unwrap();
}

#[test]
fn v2_maps_every_limit_to_its_file() {
    let root = fake_v2_root();
    std::fs::create_dir(root.path().join("baleia")).unwrap();
    seed(
        &root.path().join("baleia"),
        &[("cgroup.subtree_control", "")],
    );
    let layout = Layout::v2_at(root.path()).unwrap();
    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    let leaf = root.path().join("baleia/box");
    v2_kernel_files(&leaf);

    cgroup.apply(&all_limits()).unwrap();

    assert_eq!(read(leaf.join("memory.max")), "67108864");
    assert_eq!(read(leaf.join("memory.swap.max")), "0", "no swap beyond it");
    assert_eq!(read(leaf.join("cpu.max")), "50000 100000");
    assert_eq!(
        read(leaf.join("cpu.weight")),
        "20",
        "512 shares as a weight"
    );
    assert_eq!(read(leaf.join("pids.max")), "20");
    assert!(!leaf.join("memory.limit_in_bytes").exists(), "no v1 file");
    assert!(!leaf.join("cpu.shares").exists(), "no v1 file");

    cgroup
        .attacher()
        .attach(Pid::from_raw(NO_SUCH_PID))
        .unwrap();
    assert_eq!(read(leaf.join("cgroup.procs")), NO_SUCH_PID.to_string());
    clear_files(&cgroup);
    cgroup.remove().unwrap();
}

#[test]
fn v2_refuses_a_limit_whose_controller_the_host_lacks() {
    let root = tempfile::tempdir().unwrap();
    seed(
        root.path(),
        &[
            ("cgroup.controllers", "cpu\n"),
            ("cgroup.subtree_control", ""),
        ],
    );
    std::fs::create_dir(root.path().join("baleia")).unwrap();
    seed(
        &root.path().join("baleia"),
        &[("cgroup.subtree_control", "")],
    );
    let layout = Layout::v2_at(root.path()).unwrap();
    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    let error = cgroup
        .apply(&Limits {
            pids: Some(5),
            ..Limits::default()
        })
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "--pids-limit needs the pids controller, which the root cgroup's cgroup.controllers \
         does not list"
    );
    cgroup.remove().unwrap();
}

#[test]
fn v2_usage_and_events_come_from_the_v2_files() {
    let root = fake_v2_root();
    std::fs::create_dir(root.path().join("baleia")).unwrap();
    seed(
        &root.path().join("baleia"),
        &[("cgroup.subtree_control", "")],
    );
    let layout = Layout::v2_at(root.path()).unwrap();
    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    seed(
        &root.path().join("baleia/box"),
        &[
            ("memory.current", "1048576\n"),
            ("memory.peak", "67108864\n"),
            ("memory.max", "67108864\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
            ),
            (
                "cpu.stat",
                "usage_usec 200345\nuser_usec 200000\nsystem_usec 345\n",
            ),
            ("pids.current", "3\n"),
            ("pids.peak", "20\n"),
            ("pids.max", "20\n"),
            ("pids.events", "max 81\n"),
        ],
    );
    let usage = Usage::read(&cgroup);
    assert_eq!(
        usage,
        Usage {
            memory_current: Some(1 << 20),
            memory_peak: Some(64 << 20),
            memory_limit: Some(64 << 20),
            oom_kills: Some(1),
            memory_limit_hits: Some(12),
            cpu_time: Some(Duration::from_micros(200_345)),
            pids_current: Some(3),
            pids_peak: Some(20),
            pids_limit: Some(20),
            forks_refused: Some(81),
        }
    );
    seed(
        &root.path().join("baleia/box"),
        &[("memory.max", "max\n"), ("pids.max", "max\n")],
    );
    let unlimited = Usage::read(&cgroup);
    assert_eq!((unlimited.memory_limit, unlimited.pids_limit), (None, None));
    clear_files(&cgroup);
    cgroup.remove().unwrap();
}

// ---- v1 ------------------------------------------------------------------------------------

/// Four hierarchies, cpu and cpuacct apart, as on the development machines.
fn fake_v1(root: &Path) -> Layout {
    let hierarchy = |name: &str, controller: Controller| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Hierarchy {
            dir,
            controllers: vec![controller],
        }
    };
    Layout {
        mode: Mode::Hybrid,
        hierarchies: vec![
            hierarchy("memory", Controller::Memory),
            hierarchy("cpu", Controller::Cpu),
            hierarchy("cpuacct", Controller::CpuAcct),
            hierarchy("pids", Controller::Pids),
        ],
    }
}

#[test]
fn v1_creates_one_directory_per_hierarchy_and_maps_every_limit_to_its_file() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let mut cgroup = ContainerCgroup::create(&layout, "/baleia", "box").unwrap();
    for name in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(root.path().join(name).join("baleia/box").is_dir(), "{name}");
    }
    assert!(
        !root.path().join("cgroup.subtree_control").exists(),
        "v1 has no subtree_control"
    );
    // This kernel can limit swap: it gave the cgroup a memsw file.
    seed(
        &root.path().join("memory/baleia/box"),
        &[("memory.memsw.limit_in_bytes", "9223372036854771712\n")],
    );

    cgroup.apply(&all_limits()).unwrap();

    let file = |path: &str| read(root.path().join(path));
    assert_eq!(file("memory/baleia/box/memory.limit_in_bytes"), "67108864");
    assert_eq!(
        file("memory/baleia/box/memory.memsw.limit_in_bytes"),
        "67108864",
        "memory + swap = the memory limit"
    );
    assert_eq!(file("cpu/baleia/box/cpu.cfs_quota_us"), "50000");
    assert_eq!(file("cpu/baleia/box/cpu.cfs_period_us"), "100000");
    assert_eq!(file("cpu/baleia/box/cpu.shares"), "512");
    assert_eq!(file("pids/baleia/box/pids.max"), "20");
    assert!(!root.path().join("memory/baleia/box/memory.max").exists());

    cgroup
        .attacher()
        .attach(Pid::from_raw(NO_SUCH_PID))
        .unwrap();
    for name in ["memory", "cpu", "cpuacct", "pids"] {
        assert_eq!(
            file(&format!("{name}/baleia/box/cgroup.procs")),
            NO_SUCH_PID.to_string()
        );
    }
    clear_files(&cgroup);
    cgroup.remove().unwrap();
    for name in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(
            !root.path().join(name).join("baleia/box").exists(),
            "{name}"
        );
        assert!(
            !root.path().join(name).join("baleia").exists(),
            "the parent we made goes with its last container"
        );
    }
}

#[test]
fn a_parent_that_is_still_used_stays() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let mut first = ContainerCgroup::create(&layout, "team/baleia", "one").unwrap();
    let mut second = ContainerCgroup::create(&layout, "team/baleia", "two").unwrap();
    first.remove().unwrap();
    assert!(root.path().join("pids/team/baleia/two").is_dir());
    second.remove().unwrap();
    assert!(
        root.path().join("pids/team/baleia").is_dir(),
        "made by the first container, which could not remove it while the second ran"
    );
    // A parent that existed before any container is never removed.
    std::fs::create_dir_all(root.path().join("memory/kept")).unwrap();
    let mut third = ContainerCgroup::create(&layout, "kept", "three").unwrap();
    third.remove().unwrap();
    assert!(root.path().join("memory/kept").is_dir());
    assert!(
        !root.path().join("pids/kept").exists(),
        "made for the third, then removed"
    );
}

#[test]
fn v1_without_memsw_limits_memory_only() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    cgroup
        .apply(&Limits {
            memory: Some(8 << 20),
            ..Limits::default()
        })
        .unwrap();
    let dir = root.path().join("memory/baleia/box");
    assert_eq!(read(dir.join("memory.limit_in_bytes")), "8388608");
    assert!(!dir.join("memory.memsw.limit_in_bytes").exists());
    clear_files(&cgroup);
    cgroup.remove().unwrap();
}

#[test]
fn v1_usage_and_events_come_from_the_v1_files() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let mut cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    seed(
        &root.path().join("memory/baleia/box"),
        &[
            ("memory.usage_in_bytes", "2097152\n"),
            ("memory.max_usage_in_bytes", "67108864\n"),
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            (
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
            ("memory.failcnt", "40\n"),
        ],
    );
    seed(
        &root.path().join("cpuacct/baleia/box"),
        &[("cpuacct.usage", "1500000000\n")],
    );
    seed(
        &root.path().join("pids/baleia/box"),
        &[
            ("pids.current", "1\n"),
            ("pids.peak", "20\n"),
            ("pids.max", "20\n"),
            ("pids.events", "max 7\n"),
        ],
    );
    let usage = Usage::read(&cgroup);
    assert_eq!(
        usage,
        Usage {
            memory_current: Some(2 << 20),
            memory_peak: Some(64 << 20),
            memory_limit: None,
            oom_kills: Some(2),
            memory_limit_hits: Some(40),
            cpu_time: Some(Duration::from_millis(1500)),
            pids_current: Some(1),
            pids_peak: Some(20),
            pids_limit: Some(20),
            forks_refused: Some(7),
        }
    );
    assert_eq!(
        usage.table(),
        "memory: 2.0 MiB / unlimited\nmemory peak: 64.0 MiB\ncpu time: 1.500 s\npids: 1 / 20\n"
    );
    clear_files(&cgroup);
    cgroup.remove().unwrap();
}

#[test]
fn a_taken_name_is_refused_and_the_other_container_keeps_its_cgroup() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let mut first = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
    let error = ContainerCgroup::create(&layout, "baleia", "box").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("a container named \"box\" exists already"),
        "{error}"
    );
    for name in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(root.path().join(name).join("baleia/box").is_dir(), "{name}");
    }
    first.remove().unwrap();
}

#[test]
fn dropping_the_guard_removes_the_cgroup() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    {
        let _cgroup = ContainerCgroup::create(&layout, "baleia", "box").unwrap();
        assert!(root.path().join("memory/baleia/box").is_dir());
    }
    for name in ["memory", "cpu", "cpuacct", "pids"] {
        assert!(
            !root.path().join(name).join("baleia/box").exists(),
            "{name}"
        );
    }
}

#[test]
fn stats_of_a_container_that_is_not_running_says_so() {
    let root = tempfile::tempdir().unwrap();
    let layout = fake_v1(root.path());
    let error = ContainerCgroup::open(&layout, "baleia", "ghost").unwrap_err();
    assert!(error
        .to_string()
        .starts_with("no container named \"ghost\" is running"));
}
