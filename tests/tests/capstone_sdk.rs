//! Real clients of the Docker Engine API against a baleia daemon the test starts: the Docker
//! SDK for Python (containers, logs, exec, wait, images, networks, volumes, events, prunes by
//! label) and testcontainers-python (a generic container, a wait strategy, exec, a published
//! port). The sessions are Python scripts in `tests/clients/`; they run in the virtual
//! environment `scripts/install-test-deps` makes (`target/python-venv`). Without it the tests
//! say so and pass without running. Run: `cargo test -p baleia-tests --test capstone_sdk`.

use harness::capstone::Daemon;
use harness::{build_dir, report, TestEnv};
use std::path::PathBuf;
use std::time::Duration;

/// The venv's python, if it has both packages.
fn python() -> Option<PathBuf> {
    let python = build_dir().parent()?.join("python-venv/bin/python");
    let found = python.is_file()
        && std::process::Command::new(&python)
            .args(["-c", "import docker, testcontainers"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED: {} has no `docker` and `testcontainers` packages: run \
             scripts/install-test-deps (it makes the venv with pip)",
            python.display()
        );
    }
    found.then_some(python)
}

/// Run `tests/clients/SCRIPT` against a fresh daemon (with a default bridge of its own on
/// 10.213.`n`.0/24, and a second /24 for the networks the script makes); it must pass.
fn session(script: &str, n: u8, vars: &[(&str, &str)]) {
    let Some(python) = python() else { return };
    let env = TestEnv::new();
    let pid = std::process::id() % 10_000;
    let (default_bridge, user_bridge) = (format!("bs{n}d{pid}"), format!("bs{n}u{pid}"));
    let bip = format!("10.213.{n}.1/24");
    let subnet = format!("10.213.{}.0/24", n + 1);
    // Declared before the daemon: dropped after it, even on a failure.
    let _default = DefaultNetwork(&env);
    let daemon = Daemon::start_with(&env, &["--bridge", &default_bridge, "--bip", &bip]);
    daemon.import_busybox();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("clients")
        .join(script);
    let mark = env.marker().replace("baleia-test-", "m");
    let output = assert_cmd::Command::new(python)
        .arg(&path)
        .env("DOCKER_HOST", daemon.host())
        .env("SDK_MARK", &mark)
        .env("SDK_BRIDGE", &user_bridge)
        .env("SDK_SUBNET", &subnet)
        .env("BALEIA_TEST_MARK", env.marker())
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_TLS_VERIFY")
        .envs(vars.iter().copied())
        .timeout(Duration::from_secs(300))
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "{script}\n{}\ndaemon log:\n{}",
        report(&output),
        daemon.log()
    );
    eprintln!("{}", String::from_utf8_lossy(&output.stdout));
    let left = daemon.docker(&["ps", "-aq"]);
    assert_eq!(
        harness::stdout(&left),
        "",
        "{script} left containers behind"
    );
    let networks = daemon.docker(&["network", "ls", "-q", "--filter", "type=custom"]);
    assert_eq!(
        harness::stdout(&networks),
        "",
        "{script} left networks behind"
    );
    drop(daemon);
    env.assert_no_leaks();
}

/// The daemon's default network (its bridge, route and iptables rules), removed at the end as
/// chapter 07 removes it.
struct DefaultNetwork<'a>(&'a TestEnv);

impl Drop for DefaultNetwork<'_> {
    fn drop(&mut self) {
        let removed = self
            .0
            .cmd("ch07-volumes-network")
            .args(["network", "rm", "bridge"])
            .output()
            .unwrap();
        if !std::thread::panicking() {
            assert!(removed.status.success(), "{}", report(&removed));
        }
    }
}

#[test]
fn docker_sdk_for_python_session() {
    session("sdk_session.py", 80, &[]);
}

/// testcontainers' reaper is the `testcontainers/ryuk` image, which cannot be pulled here:
/// it is disabled, and the session checks that the `with` block removes its container.
#[test]
fn testcontainers_session() {
    session(
        "testcontainers_session.py",
        82,
        &[("TESTCONTAINERS_RYUK_DISABLED", "true")],
    );
}
