//! The test harness every chapter's end-to-end tests share.
//!
//! - [`TestEnv`]: a temporary state root, a marker that tags every process a test starts, and
//!   a leak check when the test ends (no tagged process, no mount under the temp dir, no
//!   cgroup with the marker in its name).
//! - [`TestEnv::cmd`]: a chapter binary, ready to run with `assert_cmd`.
//! - [`probe`]: the static probe program, compiled once per build, to run inside containers.
//! - [`busybox_rootfs`]: a busybox root file system fixture, built once per build.
//! - [`report`] and [`assert_snapshot!`]: a command's outcome as text, snapshotted with `insta`
//!   after redacting what changes from run to run (pids, namespace inode numbers).
//!
//! The tests need root: namespaces, mounts and cgroups are what they test. Without it they fail
//! at once with a message saying so; they never pass by skipping.

pub mod capstone;
pub mod http;
pub mod learner;
pub mod proxy;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Fail the test with a clear message unless we are root.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test needs root (it creates namespaces, mounts and cgroups): run the suite as root \
         with scripts/test"
    );
}

/// The directory cargo builds into (`target/debug`), found from this test executable's path
/// (`target/debug/deps/NAME-HASH`).
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps")
        .to_path_buf()
}

/// A chapter binary's path, for tests that need no root and no [`TestEnv`] (parsers, say).
pub fn chapter_binary(name: &str) -> PathBuf {
    let path = build_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first (scripts/test does)",
        path.display()
    );
    path
}

/// Where fixtures built by the harness are cached (inside the build directory, so `cargo
/// clean` removes them).
fn fixtures_dir() -> PathBuf {
    let dir = build_dir().join("baleia-fixtures");
    std::fs::create_dir_all(&dir).expect("create fixtures dir");
    dir
}

/// Build something once per build directory: `make` fills a fresh temporary path, which is
/// then renamed into place, so concurrent test processes never see half a fixture. Within one
/// test process a lock makes the other threads wait for the first build.
fn cached(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let target = fixtures_dir().join(name);
    if target.exists() {
        return target;
    }
    // Unique per thread too (the tests of one file run in parallel threads of one process),
    // and without dots: rustc names its temporary object files after the output's stem.
    static NEXT_SCRATCH: AtomicUsize = AtomicUsize::new(0);
    let scratch = fixtures_dir().join(format!(
        ".{name}-{}-{}",
        std::process::id(),
        NEXT_SCRATCH.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_file(&scratch);
    make(&scratch);
    // Losing the race to another test process is fine: its copy is as good as ours.
    if std::fs::rename(&scratch, &target).is_err() {
        let _ = std::fs::remove_dir_all(&scratch);
        let _ = std::fs::remove_file(&scratch);
    }
    assert!(
        target.exists(),
        "fixture {} was not built",
        target.display()
    );
    target
}

fn short_hash(text: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The probe binary (see `tests/probe/probe.rs`), statically linked, compiled on first use and
/// cached by the hash of its source.
pub fn probe() -> PathBuf {
    const SOURCE: &str = include_str!("../probe/probe.rs");
    cached(&format!("probe-{}", short_hash(SOURCE)), |out| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("probe/probe.rs");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let status = std::process::Command::new(rustc)
            .args([
                "--edition",
                "2021",
                "-O",
                "-C",
                "target-feature=+crt-static",
                "-o",
            ])
            .arg(out)
            .arg(&source)
            .status()
            .expect("run rustc to build the probe");
        assert!(status.success(), "building the probe failed");
    })
}

/// A busybox root file system: `/bin/busybox` (from Debian's busybox-static) with a symlink
/// per applet, the usual top-level directories, and minimal `/etc/passwd` and `/etc/group`.
/// Read-only by convention: tests copy it or use it as an overlay's lower layer.
pub fn busybox_rootfs() -> PathBuf {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is missing: install busybox-static (scripts/test does it for you)"
    );
    let version = std::fs::metadata(busybox).map(|m| m.len()).unwrap_or(0);
    cached(&format!("busybox-rootfs-{version}"), |root| {
        for dir in [
            "bin", "dev", "etc", "proc", "sys", "tmp", "root", "var", "usr/bin", "usr/sbin", "sbin",
        ] {
            std::fs::create_dir_all(root.join(dir)).expect("create rootfs dir");
        }
        std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
        let applets = std::process::Command::new(busybox)
            .arg("--list-full")
            .output()
            .expect("busybox --list-full");
        for applet in String::from_utf8_lossy(&applets.stdout).lines() {
            let link = root.join(applet);
            if applet == "bin/busybox" || link.exists() {
                continue;
            }
            std::os::unix::fs::symlink("/bin/busybox", &link).expect("applet symlink");
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let mut perms = std::fs::metadata(root.join("tmp")).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o1777);
        std::fs::set_permissions(root.join("tmp"), perms).unwrap();
    })
}

/// Replace every 64- and 12-digit hex id by a label, the same for a digest and its short form.
/// Labels are 12 characters wide (`<digest-001>`), so tables stay aligned.
pub fn label_digests(text: &str) -> String {
    let mut labels: std::collections::HashMap<String, usize> = Default::default();
    let mut out = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run_len = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || ('a'..='f').contains(c))
            .count();
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let ends_word = chars
            .get(i + run_len)
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if starts_word && ends_word && (run_len == 64 || run_len == 12) {
            let key: String = chars[i..i + 12].iter().collect();
            let next = labels.len() + 1;
            let label = *labels.entry(key).or_insert(next);
            out.push_str(&format!("<digest-{label:03}>"));
            i += run_len;
        } else {
            let step = run_len.max(1);
            out.extend(&chars[i..i + step]);
            i += step;
        }
    }
    out
}

/// Sizes of busybox-scale layers depend on the busybox build: their digits become `#` (small,
/// synthetic layers keep their exact sizes in bytes).
pub fn redact_big_sizes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<char> = chars.clone();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let len = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == '.')
            .count();
        let unit: String = chars[i + len..].iter().take(3).collect();
        if starts_word && len > 0 && (unit == " kB" || unit == " MB") {
            for c in &mut out[i..i + len] {
                if c.is_ascii_digit() {
                    *c = '#';
                }
            }
        }
        i += len.max(1);
    }
    out.into_iter().collect()
}

/// Both: digests labelled, busybox-scale sizes blurred.
pub fn snapshot_text(text: &str) -> String {
    redact_big_sizes(&label_digests(text))
}

/// The busybox fixture as a tar, made deterministic (sorted, owner 0, times 0).
pub fn busybox_tar(env: &TestEnv) -> PathBuf {
    let tar = env.path().join("busybox.tar");
    let status = std::process::Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .arg("-C")
        .arg(busybox_rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success());
    tar
}

static NEXT_ENV: AtomicUsize = AtomicUsize::new(0);

/// The environment of one test: a temporary directory (also the state root), and a marker
/// that every process it starts carries in its environment, so leaks can be found even while
/// other tests run in parallel.
pub struct TestEnv {
    dir: tempfile::TempDir,
    marker: String,
}

impl TestEnv {
    /// A fresh environment. Requires root.
    pub fn new() -> Self {
        require_root();
        let dir = tempfile::Builder::new()
            .prefix("baleia-test-")
            .tempdir()
            .expect("create temp dir");
        let marker = format!(
            "baleia-test-{}-{}",
            std::process::id(),
            NEXT_ENV.fetch_add(1, Ordering::Relaxed)
        );
        TestEnv { dir, marker }
    }

    /// The temporary directory; gone when the test ends.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The tag in `BALEIA_TEST_MARK` of every process this test starts.
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// A chapter binary (`ch01-namespaces`, ...) with the state root and marker set.
    pub fn cmd(&self, binary: &str) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(self.binary(binary));
        cmd.env("BALEIA_ROOT", self.path().join("root"))
            .env("BALEIA_TEST_MARK", &self.marker)
            // A baleia daemon (even one a client starts) makes no default bridge: tests never
            // create the real baleia0 (see capstone::Daemon::start_with for a test bridge).
            .env("BALEIA_BRIDGE", "none")
            .timeout(Duration::from_secs(60));
        cmd
    }

    /// The same, as a `std::process::Command`, for tests that run it in the background.
    pub fn std_cmd(&self, binary: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new(self.binary(binary));
        cmd.env("BALEIA_ROOT", self.path().join("root"))
            .env("BALEIA_TEST_MARK", &self.marker)
            .env("BALEIA_BRIDGE", "none");
        cmd
    }

    fn binary(&self, name: &str) -> PathBuf {
        let path = build_dir().join(name);
        assert!(
            path.exists(),
            "{} is not built: run `cargo build --workspace --bins` first (scripts/test does)",
            path.display()
        );
        path
    }

    /// Processes still alive that this test started (found by the marker in their environment).
    pub fn leaked_processes(&self) -> Vec<u32> {
        let needle = format!("BALEIA_TEST_MARK={}\0", self.marker);
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .map(|env| contains(&env, needle.as_bytes()))
                    .unwrap_or(false)
            })
            .filter(|pid| !is_zombie_of_ours(*pid))
            .collect()
    }

    /// Mount points on the host under this test's directory.
    pub fn leaked_mounts(&self) -> Vec<String> {
        let dir = self.path().to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split(' ').nth(4))
            .filter(|mount_point| mount_point.starts_with(&dir))
            .map(str::to_string)
            .collect()
    }

    /// Cgroup directories (under any hierarchy in /sys/fs/cgroup) whose name contains this
    /// test's marker. Chapters that create cgroups let tests put the marker in the name.
    pub fn leaked_cgroups(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    continue;
                }
                if entry.file_name().to_string_lossy().contains(&self.marker) {
                    found.push(entry.path());
                } else if depth < 5 {
                    stack.push((entry.path(), depth + 1));
                }
            }
        }
        found
    }

    /// Fail unless everything this test started is gone (processes get two seconds to die).
    pub fn assert_no_leaks(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.leaked_processes().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let processes = self.leaked_processes();
        for pid in &processes {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        assert!(
            processes.is_empty(),
            "processes left running: {processes:?}"
        );
        let mounts = self.leaked_mounts();
        assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
        let cgroups = self.leaked_cgroups();
        assert!(cgroups.is_empty(), "cgroups left behind: {cgroups:?}");
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test failed already; don't let its leftovers break the tests that follow.
            self.clean_up_after_failure();
        } else {
            self.assert_no_leaks();
        }
    }
}

impl TestEnv {
    /// Best effort: kill this test's processes, lazily unmount what is mounted under its
    /// directory (deepest first), remove its cgroups.
    fn clean_up_after_failure(&self) {
        for pid in self.leaked_processes() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let mut mounts = self.leaked_mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mount_point in mounts {
            let _ = nix::mount::umount2(mount_point.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut cgroups = self.leaked_cgroups();
        cgroups.sort_by_key(|c| std::cmp::Reverse(c.as_os_str().len()));
        for cgroup in cgroups {
            let _ = std::fs::remove_dir(cgroup);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A zombie whose parent is this test process is not a leak: it is a child we have not waited
/// for yet (assert_cmd reaps lazily).
fn is_zombie_of_ours(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return false;
    };
    let mut fields = rest.split(' ');
    let state = fields.next();
    let ppid = fields.next().and_then(|p| p.parse::<u32>().ok());
    state == Some("Z") && ppid == Some(std::process::id())
}

/// Wait (up to 10 s) for a `--pid-file` to be written, and return the pid in it.
pub fn wait_for_pid_file(path: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text.trim().to_string();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no pid file at {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A command's outcome as one text block: exit code, standard output, standard error.
pub fn report(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output
            .status
            .code()
            .map_or_else(|| "killed by a signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    )
}

/// Redactions applied to every snapshot: what legitimately differs between runs.
pub fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        // Namespace ids: "pid:[4026531836]".
        (r"\[40265\d{5}\]", "[NS-ID]"),
        // Host pids in /proc paths and in "pid N" phrases; PID 1 and 2 inside stay readable.
        (r"/proc/\d+/", "/proc/[PID]/"),
        (r"\bpid [3-9]\d*\b|\bpid [12]\d+\b", "pid [PID]"),
        // Temporary directories.
        (r"/tmp/baleia-test-[A-Za-z0-9]+", "[TMP]"),
        (r"baleia-test-\d+-\d+", "[MARK]"),
    ]
}

/// `insta::assert_snapshot!` with the harness's [`redactions`] applied.
#[macro_export]
macro_rules! assert_snapshot {
    ($($arg:tt)*) => {
        insta::with_settings!({ filters => $crate::redactions() }, {
            insta::assert_snapshot!($($arg)*);
        })
    };
}

/// The cgroup layout of this host, as snapshot files name it: `v2` where the unified hierarchy
/// is at `/sys/fs/cgroup` (systemd's default since Debian 11 and Ubuntu 21.10), `hybrid` or
/// `v1` where the controllers are on v1 hierarchies.
pub fn cgroup_layout() -> &'static str {
    let root = nix::sys::statfs::statfs("/sys/fs/cgroup");
    if root.is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC) {
        return "v2";
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if mountinfo.contains(" - cgroup2 ") {
        "hybrid"
    } else {
        "v1"
    }
}

/// [`assert_snapshot!`] for output that names cgroup files, which differ between v1 and v2:
/// one snapshot per layout, `<name>@<layout>.snap` (see [`cgroup_layout`]).
#[macro_export]
macro_rules! assert_cgroup_snapshot {
    ($($arg:tt)*) => {
        insta::with_settings!({ snapshot_suffix => $crate::cgroup_layout() }, {
            $crate::assert_snapshot!($($arg)*);
        })
    };
}

/// A memory figure of process `pid` from /proc/PID/status, in KiB (`VmRSS`, the resident set;
/// `VmHWM`, its peak: proc(5)); `None` once the process is gone.
pub fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A command's standard output, as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Look again every 5 ms until `done` (soon enough to catch work in the middle: the fault
/// tests kill at such moments); fail the test after `timeout`, naming `what`.
pub fn wait_until_within(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// [`wait_until_within`] 10 s.
pub fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_until_within(what, Duration::from_secs(10), done)
}

/// The OCI runtime under its own name: a `baleia-runtime` symlink to the `baleia` binary
/// (which picks its role from argv[0]), in the test's temp dir.
pub fn runtime_binary(env: &TestEnv) -> PathBuf {
    let link = env.path().join("baleia-runtime");
    if !link.exists() {
        std::os::unix::fs::symlink(build_dir().join("baleia"), &link).unwrap();
    }
    link
}

/// `baleia-runtime --root STATE ARGS...`, with the test's marker, its state in the temp dir.
pub fn runtime(env: &TestEnv) -> std::process::Command {
    let mut cmd = std::process::Command::new(runtime_binary(env));
    cmd.env("BALEIA_TEST_MARK", env.marker())
        .arg("--root")
        .arg(env.path().join("state"));
    cmd
}

/// The fixtures build, and a machine that runs the test executables without a Rust
/// toolchain (the guest of `scripts/vm`, which has no rustc to build the probe with) finds
/// them already built: `scripts/vm` runs this first (`cargo test -p baleia-tests --lib
/// fixtures`).
#[cfg(test)]
mod fixtures {
    #[test]
    fn the_probe_and_the_busybox_root_build() {
        assert!(super::probe().exists());
        assert!(super::busybox_rootfs().join("bin/busybox").exists());
    }
}
