//! For the capstone's tests: a `baleia daemon` of the test's own (its socket and state root in
//! the test's temp dir, its containers' cgroups under a parent named after the test's marker),
//! and a busybox image in its store.
//!
//! When the [`Daemon`] is dropped, every container is removed (`rm -f`), then the daemon is
//! killed: supervisors carry the marker (they inherit the daemon's environment), so the
//! harness's leak check would name any that survived.

use crate::TestEnv;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Output};
use std::time::{Duration, Instant};

pub struct Daemon<'a> {
    pub env: &'a TestEnv,
    pub socket: PathBuf,
    child: Option<Child>,
    /// More `baleia daemon` flags, for every (re)start (`--bridge bt...`, `--client-timeout 1`).
    extra: Vec<String>,
    /// More environment for the daemon.
    vars: Vec<(String, String)>,
    /// Without `BALEIA_BRIDGE=none`: the state root's own default bridge (`baleia-<hash>`).
    root_default_bridge: bool,
}

impl<'a> Daemon<'a> {
    /// Start a daemon and wait until it answers.
    pub fn start(env: &'a TestEnv) -> Self {
        Self::start_with(env, &[])
    }

    /// The same with more daemon flags, e.g. `--bridge bt... --bip 10.213.N.1/24`: a default
    /// network of the test's own (without them the daemon has none, as `dockerd -b none`).
    pub fn start_with(env: &'a TestEnv, extra: &[&str]) -> Self {
        Self::start_with_env(env, extra, &[])
    }

    /// Start a daemon with more arguments and environment variables.
    pub fn start_with_env(env: &'a TestEnv, extra: &[&str], vars: &[(&str, &str)]) -> Self {
        let mut daemon = Daemon {
            env,
            socket: env.path().join("baleia.sock"),
            child: None,
            extra: extra.iter().map(|a| a.to_string()).collect(),
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            root_default_bridge: false,
        };
        daemon.restart();
        daemon
    }

    /// A daemon with no `--bridge`/`--bip`: the default network on the bridge the engine
    /// derives from the test's state root (`baleia-` and 8 hex digits, never `baleia0`) in a
    /// free 10.x.0.0/16. Only for the tests of that choice; they remove that network.
    pub fn start_with_root_default_bridge(env: &'a TestEnv) -> Self {
        let mut daemon = Daemon {
            env,
            socket: env.path().join("baleia.sock"),
            child: None,
            extra: Vec::new(),
            vars: Vec::new(),
            root_default_bridge: true,
        };
        daemon.restart();
        daemon
    }

    /// A daemon that is not running (yet): its socket path, for clients that should find
    /// nobody there.
    pub fn stopped(env: &'a TestEnv) -> Self {
        Daemon {
            env,
            socket: env.path().join("baleia.sock"),
            child: None,
            extra: Vec::new(),
            vars: Vec::new(),
            root_default_bridge: false,
        }
    }

    /// The daemon's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The `-H` value for clients.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The cgroup parent of this test's containers (it carries the marker).
    pub fn cgroup_parent(&self) -> String {
        format!("baleia-{}", self.env.marker())
    }

    /// (Re)start the daemon process.
    pub fn restart(&mut self) {
        let log = std::fs::File::create(self.env.path().join("daemon.log")).unwrap();
        let mut command = self.env.std_cmd("baleia");
        if self.root_default_bridge {
            command.env_remove("BALEIA_BRIDGE");
        }
        let child = command
            .args(["daemon", "-H", &self.host(), "--cgroup-parent"])
            .arg(self.cgroup_parent())
            .args(&self.extra)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start baleia daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&self.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not come up: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kill the daemon with SIGKILL, as a crash would (its containers must survive).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.env.path().join("daemon.log")).unwrap_or_default()
    }

    /// `baleia ARGS...` against this daemon.
    pub fn baleia(&self, args: &[&str]) -> Output {
        self.env
            .cmd("baleia")
            .env("BALEIA_HOST", self.host())
            .args(args)
            .output()
            .expect("run baleia")
    }

    /// The real `docker` CLI against this daemon, with a config dir of its own.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.docker_with(&[], args)
    }

    /// The same, with more environment (`DOCKER_API_VERSION=1.41` plays Debian's client).
    pub fn docker_with(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let docker = which("docker").expect(
            "the docker CLI is missing: scripts/install-test-deps installs Debian's docker.io",
        );
        let mut cmd = assert_cmd::Command::new(docker);
        cmd.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.env.path().join("docker-config"))
            .env("BALEIA_TEST_MARK", self.env.marker())
            .env_remove("DOCKER_CONTEXT")
            .timeout(Duration::from_secs(60))
            .envs(env.iter().copied())
            .args(args);
        cmd.output().expect("run docker")
    }

    /// Import the busybox fixture as `busybox:latest` with chapter 04's `import`, into the
    /// daemon's store (the store is files under the root: the daemon sees it at once).
    pub fn import_busybox(&self) {
        let tar = crate::busybox_tar(self.env);
        let output = self
            .env
            .cmd("ch04-images")
            .env("SOURCE_DATE_EPOCH", "1764349200")
            .args([
                "import",
                tar.to_str().unwrap(),
                "busybox:latest",
                "--change",
                "CMD [\"sh\"]",
            ])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", crate::report(&output));
    }
}

impl Drop for Daemon<'_> {
    fn drop(&mut self) {
        if self.child.is_some() {
            let ids = self.baleia(&["ps", "-aq", "--no-trunc"]);
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.baleia(&["rm", "-f", id]);
            }
        }
        self.kill();
        // The daemon's cgroup parent (like Docker's /docker): chapter 02 removes it with the
        // container that made it, unless another container was still in it then. The daemon
        // is gone now, so its parent goes too; a container cgroup left inside would keep it
        // (rmdir fails on a non-empty cgroup) and the leak check would report it.
        let parent = self.cgroup_parent();
        if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
            for entry in entries.flatten() {
                let _ = std::fs::remove_dir(entry.path().join(&parent));
            }
        }
        let _ = std::fs::remove_dir(PathBuf::from("/sys/fs/cgroup").join(&parent));
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|p| p.is_file())
}

/// Replace container/image ids (64 and 12 hex digits) and ages ("3 seconds ago", "Up 2
/// seconds") so tables can be snapshotted.
pub fn redact(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let hex = w.trim_start_matches("sha256:");
                if (hex.len() == 64 || hex.len() == 12)
                    && hex
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                {
                    if hex.len() == 64 {
                        "<ID-64>".into()
                    } else {
                        "<ID-12>".into()
                    }
                } else {
                    w.to_string()
                }
            })
            .collect();
        // Sizes ("1.04 MB", "548.79 kB") depend on the busybox and compiler versions.
        let mut words = words;
        for i in 1..words.len() {
            if ["B", "kB", "MB", "GB"].contains(&words[i].as_str())
                && words[i - 1].parse::<f64>().is_ok()
            {
                words[i - 1] = "<SIZE>".into();
                words[i].clear();
            }
        }
        for word in words.iter_mut() {
            let number = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            if word.ends_with('B') && number != word.as_str() && number.parse::<f64>().is_ok() {
                *word = "<SIZE>".into();
            }
        }
        words.retain(|w| !w.is_empty());
        out.push_str(&words.join(" "));
        out.push('\n');
    }
    // Ages and durations.
    let mut text = out;
    for unit in [
        "seconds", "second", "minutes", "hours", "days", "months", "weeks", "years",
    ] {
        for n in (1..=60).rev() {
            text = text.replace(&format!("{n} {unit}"), "N ago-unit");
        }
    }
    let mut text = text
        .replace("Less than a second", "N ago-unit")
        .replace("About a minute", "N ago-unit")
        .replace("About an hour", "N ago-unit");
    // Table columns are as wide as their widest cell, which the redactions changed.
    while text.contains("   ") {
        text = text.replace("   ", "  ");
    }
    text
}

/// `baleia ARGS...` against `daemon`, which must succeed: its standard output.
pub fn ok(daemon: &Daemon, args: &[&str]) -> String {
    let output = daemon.baleia(args);
    assert!(
        output.status.success(),
        "{args:?}\n{}",
        crate::report(&output)
    );
    crate::stdout(&output)
}
