//! The client at a real terminal: `run -it`, `exec -it` and `attach` driven through tmux
//! (a pseudo-terminal whose size we can change, as a user resizing a window does). Run:
//! `cargo test -p baleia-tests --test capstone_terminal` (as root, tmux installed).

use harness::capstone::{ok, Daemon};
use harness::{build_dir, wait_until_within, TestEnv};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// A tmux server of the test's own (its socket in the test's temp dir), killed on drop.
struct Tmux {
    socket: PathBuf,
    env: Vec<(String, String)>,
}

impl Tmux {
    fn new(daemon: &Daemon) -> Tmux {
        Tmux {
            socket: daemon.env.path().join("tmux.sock"),
            env: vec![
                ("BALEIA_HOST".into(), daemon.host()),
                (
                    "BALEIA_ROOT".into(),
                    daemon.env.path().join("root").display().to_string(),
                ),
                ("BALEIA_TEST_MARK".into(), daemon.env.marker().into()),
                ("BALEIA_BRIDGE".into(), "none".into()),
            ],
        }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux (apt-get install tmux)");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A window `name` of `cols`×`rows` running `command` (`baleia` is our build); it stays
    /// open after the command ends, so its last screen can be read.
    fn start(&self, name: &str, (cols, rows): (u16, u16), command: &str) {
        let baleia = build_dir().join("baleia");
        let command = command.replacen("baleia", baleia.to_str().unwrap(), 1);
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let mut args = vec!["-f", "/dev/null", "new-session", "-d", "-s", name];
        args.extend(["-x", &cols, "-y", &rows]);
        args.push(&command);
        self.tmux(&args);
        self.tmux(&["set-option", "-t", name, "status", "off"]);
        self.tmux(&["set-option", "-t", name, "remain-on-exit", "on"]);
        self.tmux(&["set-option", "-t", name, "window-size", "manual"]);
        self.resize(name, (cols.parse().unwrap(), rows.parse().unwrap()));
    }

    fn resize(&self, name: &str, (cols, rows): (u16, u16)) {
        self.tmux(&[
            "resize-window",
            "-t",
            name,
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    fn screen(&self, name: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", name])
    }

    /// Type `keys` (tmux key names: `Enter`, `C-p`) into the window.
    fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend(keys);
        self.tmux(&args);
    }

    fn wait_for(&self, name: &str, text: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !self.screen(name).contains(text) {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {text:?} in window {name}:\n{}",
                self.screen(name)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the window's command has ended.
    fn dead(&self, name: &str) -> bool {
        self.tmux(&["display-message", "-p", "-t", name, "#{pane_dead}"])
            .trim()
            == "1"
    }

    /// Ask the shell in the window for its terminal's size, with a marker to find the answer
    /// (the echoed command line holds `$(stty size)`, the answer's line does not).
    /// `stty size` in window `name` until it says `expected` (a resize reaches the container
    /// a moment after the window changes: SIGWINCH, then a request to the daemon), for at most
    /// 10 s; returns the last answer.
    fn size_becomes(&self, name: &str, marker: &str, expected: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let size = self.stty_size(name, &format!("{marker}{attempt}"));
            if size == expected || std::time::Instant::now() > deadline {
                return size;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stty_size(&self, name: &str, marker: &str) -> String {
        self.keys(name, &[&format!("echo {marker} $(stty size)"), "Enter"]);
        let wanted = format!("{marker} ");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen(name);
            if let Some(line) = screen.lines().rev().find(|l| l.starts_with(&wanted)) {
                return line[wanted.len()..].trim().to_string();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no answer to stty size in window {name}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn running(daemon: &Daemon, name: &str) -> bool {
    ok(daemon, &["inspect", "-f", "{{.State.Running}}", name]).trim() == "true"
}

#[test]
fn resize_and_detach_keys_for_run_exec_and_attach() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let tmux = Tmux::new(&daemon);

    // run -it: the size at the start, then each resize, reaches the container's terminal.
    tmux.start("run", (100, 20), "baleia run -it --name tt busybox sh");
    tmux.wait_for("run", "#");
    assert_eq!(tmux.size_becomes("run", "A", "20 100"), "20 100");
    tmux.resize("run", (120, 30));
    assert_eq!(tmux.size_becomes("run", "B", "30 120"), "30 120");
    // Ctrl-C reaches the container's shell as SIGINT: the sleep ends, the shell goes on.
    tmux.keys("run", &["sleep 30; echo after-sleep", "Enter"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys("run", &["C-c"]);
    assert_eq!(tmux.size_becomes("run", "C", "30 120"), "30 120");
    assert!(!tmux.screen("run").contains("\nafter-sleep"));
    // Ctrl-P Ctrl-Q: the client leaves, the container keeps running.
    tmux.keys("run", &["C-p", "C-q"]);
    wait_until_within("run -it to detach", Duration::from_secs(10), || {
        tmux.dead("run")
    });
    assert!(running(&daemon, "tt"), "{}", tmux.screen("run"));

    // exec -it: the daemon applies the exec's size too.
    tmux.start("exec", (90, 25), "baleia exec -it tt sh");
    tmux.wait_for("exec", "#");
    assert_eq!(tmux.size_becomes("exec", "D", "25 90"), "25 90");
    tmux.resize("exec", (110, 35));
    assert_eq!(tmux.size_becomes("exec", "E", "35 110"), "35 110");
    tmux.keys("exec", &["exit 3", "Enter"]);
    wait_until_within("exec to end", Duration::from_secs(10), || tmux.dead("exec"));
    assert!(running(&daemon, "tt"));

    // attach: back to the first shell, at this window's size; custom detach keys.
    tmux.start(
        "attach",
        (80, 24),
        "baleia attach --detach-keys ctrl-x,x tt",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(tmux.size_becomes("attach", "F", "24 80"), "24 80");
    tmux.resize("attach", (70, 22));
    assert_eq!(tmux.size_becomes("attach", "G", "22 70"), "22 70");
    tmux.keys("attach", &["C-x", "x"]);
    wait_until_within("attach to detach", Duration::from_secs(10), || {
        tmux.dead("attach")
    });
    assert!(running(&daemon, "tt"));

    // Attached again, `exit` ends the container and the attach with its code.
    tmux.start("again", (80, 24), "baleia attach tt; echo attach-exit=$?");
    std::thread::sleep(Duration::from_millis(500));
    tmux.keys("again", &["exit 5", "Enter"]);
    tmux.wait_for("again", "attach-exit=5");
    assert!(!running(&daemon, "tt"));
    ok(&daemon, &["rm", "tt"]);
}

#[test]
fn pull_redraws_each_layers_progress_in_place_on_a_terminal() {
    use harness::proxy::{Direction, Proxy};
    let env = TestEnv::new();
    let registry = harness::registry::distribution(&env);
    let remote = harness::registry::busybox_pushed(&env, &registry);
    // Through a proxy that stalls the download a little way in: the bar is caught moving.
    let proxy = Proxy::start(&registry.addr, Direction::Down, 64 * 1024);
    let through = remote.replace(&registry.addr, &proxy.addr);
    // A stalled read gives up after 2 s; the next attempt goes through (Range: the rest).
    let daemon = Daemon::start_with_env(&env, &[], &[("BALEIA_REGISTRY_TIMEOUT", "2")]);
    let tmux = Tmux::new(&daemon);
    // 120 columns: wide enough for docker's bar (more than 110); the pull waits for the
    // window's size to be set.
    tmux.start(
        "pull",
        (120, 20),
        &format!("sleep 0.5; baleia pull {through}; echo pull-exit=$?"),
    );
    tmux.wait_for("pull", "kB/");
    let during = tmux.screen("pull");
    proxy.unstall();
    tmux.wait_for("pull", "pull-exit=");
    let after = tmux.screen("pull");
    let bar = during
        .lines()
        .find(|l| l.contains(": Downloading ["))
        .unwrap_or_else(|| panic!("no bar while downloading:\n{during}"));
    let id = bar.split(':').next().unwrap();
    assert_eq!(id.len(), 12, "{bar}");
    // The layer's line was redrawn in place: one line for it, at its last state.
    let layer_lines: Vec<&str> = after.lines().filter(|l| l.starts_with(id)).collect();
    assert_eq!(layer_lines, [format!("{id}: Pull complete")], "{after}");
    assert!(
        during.starts_with("1: Pulling from lib/busybox\n"),
        "{during}"
    );
    // Then the last lines below it. (tmux's screen of a dead pane has been seen to lose its
    // first line; the bytes written are right, so only what follows the layer is checked.)
    let text: Vec<&str> = after.lines().filter(|l| !l.is_empty()).collect();
    let layer = text.iter().position(|l| l.starts_with(id)).unwrap();
    assert!(text[layer + 1].starts_with("Digest: sha256:"), "{after}");
    assert_eq!(
        text[layer + 2],
        format!("Status: Downloaded newer image for {through}")
    );
    assert_eq!(text[layer + 3], through);
    assert_eq!(text[layer + 4], "pull-exit=0");
}
