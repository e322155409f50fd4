//! A registry for tests: the CNCF distribution server on a free loopback port, its storage in
//! the test's directory, killed when dropped (and marked, so a leak is caught).

use crate::TestEnv;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn wait_for_port(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CNCF distribution registry, with its storage in the test's directory.
pub fn distribution(env: &TestEnv) -> Server {
    assert!(
        Path::new("/usr/bin/docker-registry").exists(),
        "docker-registry is missing: scripts/install-test-deps installs it"
    );
    let addr = format!("127.0.0.1:{}", free_port());
    let dir = env.path().join("distribution");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  \
             delete: {{enabled: true}}\nhttp: {{addr: {addr}}}\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .env("BALEIA_TEST_MARK", env.marker())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start docker-registry");
    wait_for_port(&addr);
    Server { child, addr }
}

/// The busybox fixture pushed to `registry` as `lib/busybox:1` with chapter 06, from a root of
/// its own (not the test's daemon's); its name there.
pub fn busybox_pushed(env: &TestEnv, registry: &Server) -> String {
    let src = env.path().join("src");
    let tar = crate::busybox_tar(env);
    let import = env
        .cmd("ch04-images")
        .env("BALEIA_ROOT", &src)
        .args([
            "import",
            tar.to_str().unwrap(),
            "busybox",
            "-c",
            r#"CMD ["sh"]"#,
        ])
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", crate::report(&import));
    let remote = format!("{}/lib/busybox:1", registry.addr);
    let push = env
        .cmd("ch06-registry")
        .env("BALEIA_ROOT", &src)
        .args(["push", "busybox", &remote])
        .output()
        .unwrap();
    assert!(push.status.success(), "{}", crate::report(&push));
    remote
}
