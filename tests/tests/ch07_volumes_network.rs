//! Chapter 07 — volumes and networks. Each test imports the busybox fixture with `ch04-images`
//! and runs it with `ch07-volumes-network`: bind mounts and named volumes seen from both sides,
//! containers talking over their own bridges, a published port fetched from the host. Run:
//! `cargo test -p baleia-tests --test ch07_volumes_network` (as root).
//!
//! Network traffic goes only to 127.0.0.1 and to the test's own containers. Every network a
//! test creates has a bridge named `bt...` and a subnet 10.213.N.0/24 of its own; after the
//! test, its bridge, veths, iptables rules and leases must be gone (and scripts/leak-check
//! looks for `bt*` links and rules once more after the suite).

use harness::registry::free_port;
use harness::{assert_snapshot, busybox_rootfs, report, wait_for_pid_file, TestEnv};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = "ch07-volumes-network";

fn root(env: &TestEnv) -> PathBuf {
    env.path().join("root")
}

/// The busybox fixture as a tar, plus `extra` (a directory whose content is added on top).
fn import(env: &TestEnv, tag: &str, extra: Option<&Path>, changes: &[&str]) {
    let tar = env.path().join(format!("{}.tar", tag.replace(':', "-")));
    let mut command = Command::new("tar");
    command
        .args(["--owner=0", "--group=0", "--numeric-owner", "-cf"])
        .arg(&tar)
        .arg("-C")
        .arg(busybox_rootfs())
        .arg(".");
    if let Some(extra) = extra {
        command.arg("-C").arg(extra).arg(".");
    }
    assert!(command.status().expect("run tar").success());
    let mut args = vec!["import".to_string(), tar.display().to_string(), tag.into()];
    args.extend(
        [r#"CMD ["/bin/sh"]"#]
            .iter()
            .chain(changes)
            .flat_map(|c| ["--change".to_string(), c.to_string()]),
    );
    let output = env.cmd("ch04-images").args(&args).output().unwrap();
    assert!(output.status.success(), "import\n{}", report(&output));
}

/// `ch07-volumes-network ARGS...`
fn ch07(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd(BIN)
        .args(args)
        .output()
        .expect("run ch07-volumes-network")
}

fn ok(env: &TestEnv, args: &[&str]) -> String {
    let output = ch07(env, args);
    assert!(output.status.success(), "{args:?}\n{}", report(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `run --name MARKER-NAME --dns 127.0.0.1 FLAGS busybox -- sh -c SCRIPT`. The name server is
/// the container's own loopback: a name that is not in /etc/hosts fails at once, and no DNS
/// query leaves for the host's resolver.
fn run_sh(env: &TestEnv, name: &str, flags: &[&str], script: &str) -> Output {
    let name = format!("{}-{name}", env.marker());
    let mut args = vec!["run", "--name", &name, "--dns", "127.0.0.1"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["busybox", "--", "sh", "-c", script]);
    ch07(env, &args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Replace the test's temporary paths, and container ids (64 or 12 hex digits), in output.
fn redact(text: &str, env: &TestEnv) -> String {
    let text = text.replace(&env.path().display().to_string(), "[TMP]");
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let is_id = (word.len() == 64 || word.len() == 12)
            && word
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        out.push_str(if is_id { "[ID]" } else { word });
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

#[test]
fn bind_mounts_write_through_and_ro_is_read_only_even_in_submounts() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let shared = env.path().join("shared");
    std::fs::create_dir_all(shared.join("sub")).unwrap();
    // A mount below the bound directory: `:ro` must cover it too (AT_RECURSIVE).
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(shared.join("sub"))
        .status()
        .unwrap();
    assert!(status.success());
    let shared_arg = shared.display().to_string();
    let out = run_sh(
        &env,
        "bind",
        &[
            "--network",
            "none",
            "-v",
            &format!("{shared_arg}:/out"),
            "-v",
            &format!("{shared_arg}:/ro:ro"),
            "--tmpfs",
            "/scratch:size=64k",
        ],
        "echo from-the-container > /out/made-inside; echo x > /out/sub/rw-ok && echo 'rw submount writable'; \
         echo x > /ro/nope || echo 'ro rejected'; echo x > /ro/sub/nope || echo 'ro submount rejected'; \
         df -k /scratch | tail -1 | awk '{print \"tmpfs size\", $2 \"k\"}'",
    );
    let sub_listing: Vec<String> = std::fs::read_dir(shared.join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let _ = nix::mount::umount2(&shared.join("sub"), nix::mount::MntFlags::MNT_DETACH);
    assert_eq!(
        std::fs::read_to_string(shared.join("made-inside")).unwrap(),
        "from-the-container\n"
    );
    assert_eq!(sub_listing, ["rw-ok"], "nothing written through /ro");
    assert!(!shared.join("nope").exists());
    assert_snapshot!(report(&out));
}

#[test]
fn named_volume_is_prefilled_survives_its_container_and_cannot_be_removed_in_use() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let first = run_sh(
        &env,
        "first",
        &["--network", "none", "-v", "conf:/etc"],
        "ls /etc; echo kept > /etc/written-by-first",
    );
    let second = run_sh(
        &env,
        "second",
        &["--network", "none", "--keep", "-v", "conf:/etc:ro"],
        "cat /etc/written-by-first; [ \"$(cat /etc/hostname)\" = \"$(hostname)\" ] && echo 'its own /etc/hostname'",
    );
    let kept = format!("{}-second", env.marker());
    let in_use = ch07(&env, &["volume", "rm", "conf"]);
    let ls = ok(&env, &["volume", "ls"]);
    let rm_kept = env
        .cmd("ch03-overlayfs")
        .args(["rm", &kept])
        .output()
        .unwrap();
    assert!(rm_kept.status.success(), "{}", report(&rm_kept));
    let removed = ch07(&env, &["volume", "rm", "conf"]);
    assert_snapshot!(redact(
        &format!(
            "== first container: /etc pre-filled from the image\n{}== second container sees the first's file; the engine's /etc files are mounted over the volume\n{}\
             == volume ls\n{ls}== rm while a kept container uses it\n{}== rm after\n{}",
            report(&first),
            report(&second),
            report(&in_use),
            report(&removed)
        ),
        &env
    )
    .replace(&kept, "[KEPT]"));
    assert!(!root(&env).join("volumes/conf").exists());
}

#[test]
fn anonymous_volumes_come_from_the_image_and_go_with_the_container() {
    let env = TestEnv::new();
    import(&env, "withvol", None, &["VOLUME /cache"]);
    let name = format!("{}-anon", env.marker());
    let output = ch07(
        &env,
        &[
            "run",
            "--network",
            "none",
            "--name",
            &name,
            "withvol",
            "--",
            "sh",
            "-c",
            "grep ' /cache ' /proc/mounts | wc -l; echo x > /cache/f",
        ],
    );
    assert!(output.status.success(), "{}", report(&output));
    assert_eq!(stdout(&output).trim(), "1", "/cache is a mount");
    assert_eq!(ok(&env, &["volume", "ls"]), "DRIVER    VOLUME NAME\n");
    // A start that fails (here: a bad -v, and then a command that does not exist) leaves no
    // anonymous volume behind either.
    let missing = env.path().join("missing");
    let bad_mount = format!("{}:/x", missing.display());
    let failed = ch07(
        &env,
        &["run", "--network", "none", "-v", &bad_mount, "withvol"],
    );
    assert_eq!(failed.status.code(), Some(125), "{}", report(&failed));
    let no_command = ch07(
        &env,
        &["run", "--network", "none", "withvol", "--", "/nonexistent"],
    );
    assert_eq!(
        no_command.status.code(),
        Some(127),
        "{}",
        report(&no_command)
    );
    assert_eq!(ok(&env, &["volume", "ls"]), "DRIVER    VOLUME NAME\n");
}

#[test]
fn bad_volume_specs_are_clear_errors_and_nothing_is_mounted_on_the_host() {
    let env = TestEnv::new();
    // An image whose /escape climbs out of the root if a host path were built from it.
    let extra = env.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../tmp", extra.join("escape")).unwrap();
    import(&env, "busybox", Some(&extra), &[]);
    let host = env.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    let host_arg = host.display().to_string();
    let cases = [
        ("relative host path", "relative/dir:/data".to_string()),
        ("missing host path", format!("{host_arg}/missing:/data")),
        (
            "symlink escaping the root",
            format!("{host_arg}:/escape/here"),
        ),
        ("dot-dot destination", format!("{host_arg}:/a/../b")),
    ];
    let mut text = String::new();
    for (what, spec) in &cases {
        let out = run_sh(&env, "bad", &["--network", "none", "-v", spec], "true");
        text.push_str(&format!("== {what}\n{}", report(&out)));
    }
    assert!(
        !Path::new("/tmp/here").exists(),
        "never a mount point on the host"
    );
    assert_snapshot!(redact(&text, &env));
}

/// A container running in the background until dropped (SIGTERM to the engine, which forwards
/// it to the container's init).
struct Background {
    child: Child,
    pid_file: PathBuf,
}

impl Background {
    fn start(env: &TestEnv, name: &str, flags: &[&str], command: &[&str]) -> Self {
        let started = Self::spawn(env, name, flags, command);
        wait_for_pid_file(&started.pid_file);
        started
    }

    /// Start without waiting for the container to be up.
    fn spawn(env: &TestEnv, name: &str, flags: &[&str], command: &[&str]) -> Self {
        let pid_file = env.path().join(format!("{name}.pid"));
        let name = format!("{}-{name}", env.marker());
        let child = env
            .std_cmd(BIN)
            .args([
                "run",
                "--init",
                "--dns",
                "127.0.0.1",
                "--name",
                &name,
                "--pid-file",
            ])
            .arg(&pid_file)
            .args(flags)
            .args(["busybox", "--"])
            .args(command)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start a background container");
        Background { child, pid_file }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// A network of the test's own: bridge `bt<tag><pid>`, subnet 10.213.`n`.0/24. Removed (and
/// checked gone: bridge, veths, rules, leases) when dropped.
struct TestNetwork<'a> {
    env: &'a TestEnv,
    name: String,
    bridge: String,
    subnet: String,
}

impl<'a> TestNetwork<'a> {
    fn create(env: &'a TestEnv, tag: &str, n: u8) -> Self {
        let bridge = format!("bt{tag}{}", std::process::id() % 100_000);
        let name = bridge.clone();
        let subnet = format!("10.213.{n}.0/24");
        ok(
            env,
            &[
                "network", "create", &name, "--subnet", &subnet, "--bridge", &bridge,
            ],
        );
        TestNetwork {
            env,
            name,
            bridge,
            subnet,
        }
    }

    fn inspect(&self) -> serde_json::Value {
        serde_json::from_str(&ok(self.env, &["network", "inspect", &self.name])).unwrap()
    }

    fn address_of(&self, container: &str) -> String {
        let inspect = self.inspect();
        let lease = inspect["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"].as_str() == Some(container))
            .unwrap_or_else(|| panic!("{container} is not on {}: {inspect}", self.name));
        lease["address"].as_str().unwrap().to_string()
    }
}

fn links() -> String {
    String::from_utf8_lossy(
        &Command::new("ip")
            .args(["-o", "link"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned()
}

fn iptables_save() -> String {
    String::from_utf8_lossy(&Command::new("iptables-save").output().unwrap().stdout).into_owned()
}

impl Drop for TestNetwork<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Remove what can be removed; a second panic here would abort every test.
            let _ = ch07(self.env, &["network", "rm", &self.name]);
            return;
        }
        let ports = std::fs::read_dir(format!("/sys/class/net/{}/brif", self.bridge))
            .map(|d| d.count())
            .unwrap_or(0);
        let leases = self.inspect()["Containers"].as_array().map_or(0, Vec::len);
        let removed = ch07(self.env, &["network", "rm", &self.name]);
        if std::thread::panicking() {
            return;
        }
        assert_eq!(ports, 0, "veths left on {}", self.bridge);
        assert_eq!(leases, 0, "leases left on {}", self.name);
        assert!(removed.status.success(), "{}", report(&removed));
        assert!(
            !links().contains(&format!(" {}:", self.bridge)),
            "bridge {} left",
            self.bridge
        );
        let rules = iptables_save();
        assert!(
            !rules.contains(&self.bridge) && !rules.contains(&self.subnet),
            "iptables rules left for {}",
            self.bridge
        );
    }
}

#[test]
fn containers_reach_each_other_by_name_on_one_network_and_not_across_networks() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let front = TestNetwork::create(&env, "nf", 11);
    let back = TestNetwork::create(&env, "nb", 12);
    let rules = iptables_save();
    assert!(
        rules.contains(&format!(
            "-A POSTROUTING -s {} ! -o {} -j MASQUERADE",
            front.subnet, front.bridge
        )),
        "egress NAT rule missing:\n{rules}"
    );
    assert!(rules.contains(&format!("-A BALEIA-ISOLATION-2 -o {} -j DROP", back.bridge)));
    let site = env.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "hello from srv\n").unwrap();
    let server_name = format!("{}-srv", env.marker());
    {
        let _server = Background::start(
            &env,
            "srv",
            &[
                "--network",
                &front.name,
                "-v",
                &format!("{}:/www:ro", site.display()),
            ],
            &["httpd", "-f", "-p", "80", "-h", "/www"],
        );
        let server_ip = front.address_of(&server_name);
        let fetch_by_name = format!(
            "for i in $(seq 50); do wget -q -O - http://{server_name}/index.html && exit 0; sleep 0.1; done; exit 1"
        );
        let same = run_sh(&env, "client", &["--network", &front.name], &fetch_by_name);
        let hosts = run_sh(
            &env,
            "hosts",
            &["--network", &front.name],
            &format!("grep -c '{server_name}' /etc/hosts"),
        );
        let other_by_name = run_sh(
            &env,
            "other",
            &["--network", &back.name],
            &format!("wget -q -O - http://{server_name}/index.html"),
        );
        let other_by_address = run_sh(
            &env,
            "other2",
            &["--network", &back.name],
            &format!(
                "echo | nc -w 2 {server_ip} 80 2>/dev/null && echo reached || echo 'not reached'"
            ),
        );
        assert_snapshot!(redact(
            &format!(
                "== same network, by name\n{}== the server is in the client's /etc/hosts\n{}\
                 == other network, by name\n{}== other network, by address\n{}",
                report(&same),
                report(&hosts),
                report(&other_by_name),
                report(&other_by_address)
            ),
            &env
        )
        .replace(&server_name, "[SRV]"));
    }
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn a_published_port_reaches_httpd_in_the_container_and_closes_with_it() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let net = TestNetwork::create(&env, "np", 13);
    let site = env.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "published page\n").unwrap();
    let port = free_port();
    let server = Background::start(
        &env,
        "web",
        &[
            "--network",
            &net.name,
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "-v",
            &format!("{}:/www:ro", site.display()),
        ],
        &["httpd", "-f", "-p", "80", "-h", "/www"],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        match http_get(port) {
            Ok(response) if response.contains("200 OK") => break response,
            other if Instant::now() > deadline => panic!("no page on port {port}: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert!(page.ends_with("\r\n\r\npublished page\n"), "{page}");
    drop(server);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the proxy is gone with the container"
    );
}

#[test]
fn network_none_has_only_loopback_and_host_shares_the_hosts_interfaces() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let none = run_sh(
        &env,
        "none",
        &["--network", "none"],
        "ls /sys/class/net | tr '\\n' ' '; echo",
    );
    let host = run_sh(
        &env,
        "host",
        &["--network", "host"],
        "readlink /proc/self/ns/net",
    );
    assert_eq!(stdout(&none), "lo \n", "{}", report(&none));
    // The host's own network namespace (the same inode), whatever links it has: other tests
    // add and remove links meanwhile, and a guest without a network card has only lo.
    let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_eq!(
        stdout(&host).trim(),
        ours.to_string_lossy(),
        "{}",
        report(&host)
    );
    let refused = run_sh(
        &env,
        "noport",
        &["--network", "none", "-p", "8080:80"],
        "true",
    );
    assert_snapshot!(report(&refused));
}

#[test]
fn a_crashed_containers_lease_and_veth_are_reclaimed_at_the_next_start() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let net = TestNetwork::create(&env, "nc", 14);
    let mut server = Background::start(&env, "crash", &["--network", &net.name], &["sleep", "60"]);
    let crashed_name = format!("{}-crash", env.marker());
    let crashed_ip = net.address_of(&crashed_name);
    // The engine dies without cleaning up; the container dies with it (PR_SET_PDEATHSIG).
    let _ = server.child.kill();
    let _ = server.child.wait();
    let leases_dir = root(&env).join("networks").join(&net.name).join("leases");
    assert!(
        leases_dir.join(&crashed_ip).exists(),
        "the crash left its lease"
    );
    // Wait for the kernel to finish off the container (its process must be gone for the
    // lease to count as stale).
    let pid: i32 = serde_json::from_str::<serde_json::Value>(
        &std::fs::read_to_string(leases_dir.join(&crashed_ip)).unwrap(),
    )
    .unwrap()["pid"]
        .as_i64()
        .unwrap() as i32;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let next = run_sh(
        &env,
        "next",
        &["--network", &net.name],
        "ip -o -4 addr show eth0 | awk '{print $4}'",
    );
    assert!(next.status.success(), "{}", report(&next));
    assert_eq!(
        stdout(&next).trim(),
        format!("{crashed_ip}/24"),
        "the crashed container's address is free again"
    );
    assert!(!leases_dir.join(&crashed_ip).exists());
    drop(server);
    // The crashed container's directory (and cgroup) stay, as a killed `docker run` leaves its
    // container: remove them as `rm` would.
    let rm = env
        .cmd("ch03-overlayfs")
        .args(["rm", &crashed_name])
        .output()
        .unwrap();
    assert!(rm.status.success(), "{}", report(&rm));
    for controller in ["cpu", "cpuacct", "memory", "pids", "unified", ""] {
        let parent = Path::new("/sys/fs/cgroup").join(controller).join("baleia");
        let _ = std::fs::remove_dir(parent.join(&crashed_name));
        let _ = std::fs::remove_dir(parent); // only if no other container is in it
    }
}

#[test]
fn containers_started_at_once_get_distinct_addresses_and_all_know_each_other() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let net = TestNetwork::create(&env, "nr", 15);
    let names = ["c1", "c2", "c3", "c4"];
    let running: Vec<Background> = names
        .iter()
        .map(|n| Background::spawn(&env, n, &["--network", &net.name], &["sleep", "60"]))
        .collect();
    for container in &running {
        wait_for_pid_file(&container.pid_file);
    }
    let mut addresses: Vec<String> = names
        .iter()
        .map(|n| net.address_of(&format!("{}-{n}", env.marker())))
        .collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(
        addresses.len(),
        names.len(),
        "an address was handed out twice"
    );
    let check = run_sh(
        &env,
        "check",
        &["--network", &net.name],
        &format!("grep -c '{}-c[1-4] ' /etc/hosts", env.marker()),
    );
    assert_eq!(stdout(&check).trim(), "4", "{}", report(&check));
    let busy = ch07(&env, &["network", "rm", &net.name]);
    assert_eq!(busy.status.code(), Some(125), "{}", report(&busy));
    assert!(String::from_utf8_lossy(&busy.stderr).contains("has active containers"));
    drop(running);
}

#[test]
fn network_and_volume_commands_refuse_what_cannot_work() {
    let env = TestEnv::new();
    let net = TestNetwork::create(&env, "ne", 17);
    let cases: [(&str, &[&str]); 7] = [
        (
            "overlapping subnet",
            &[
                "network",
                "create",
                "btother",
                "--subnet",
                "10.213.17.128/25",
            ],
        ),
        (
            "host bits set",
            &["network", "create", "btother", "--subnet", "10.213.18.1/24"],
        ),
        ("reserved name", &["network", "create", "none"]),
        (
            "bridge name too long",
            &[
                "network",
                "create",
                "btother",
                "--bridge",
                "bt-this-is-too-long",
            ],
        ),
        ("no such network", &["network", "rm", "btnothere"]),
        ("no such volume", &["volume", "rm", "nothere"]),
        ("bad volume name", &["volume", "create", "../up"]),
    ];
    let mut text = String::new();
    for (what, args) in cases {
        text.push_str(&format!("== {what}\n{}", report(&ch07(&env, args))));
    }
    // Another state root cannot take over this root's bridge.
    let other_root = TestEnv::new();
    let stolen = ch07(
        &other_root,
        &[
            "network",
            "create",
            "btother",
            "--subnet",
            "10.213.20.0/24",
            "--bridge",
            &net.bridge,
        ],
    );
    text.push_str(&format!(
        "== another root, the same bridge\n{}",
        report(&stolen)
    ));
    let ls = ok(&env, &["network", "ls"]);
    assert!(
        ls.contains(&format!(
            "{:<20}{:<16}10.213.17.0/24      10.213.17.1",
            net.name, net.bridge
        )),
        "{ls}"
    );
    let roots = [(&env, "[ROOT]"), (&other_root, "[OTHER ROOT]")];
    let text = roots.iter().fold(text, |text, (env, name)| {
        text.replace(
            &root(env).canonicalize().unwrap().display().to_string(),
            name,
        )
    });
    assert_snapshot!(text.replace(&net.name, "[NET]"));
    drop(other_root);
}

#[test]
fn publish_all_maps_the_images_exposed_port_to_a_free_host_port() {
    let env = TestEnv::new();
    import(&env, "web", None, &["EXPOSE 80"]);
    let net = TestNetwork::create(&env, "nP", 16);
    let name = format!("{}-pall", env.marker());
    let pid_file = env.path().join("pall.pid");
    let child = env
        .std_cmd(BIN)
        .args([
            "run",
            "--init",
            "--dns",
            "127.0.0.1",
            "--name",
            &name,
            "--pid-file",
        ])
        .arg(&pid_file)
        .args([
            "--network",
            &net.name,
            "-P",
            "web",
            "--",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/etc",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Background { child, pid_file };
    wait_for_pid_file(&server.pid_file);
    let ports_file = std::fs::read_dir(root(&env).join("containers"))
        .unwrap()
        .map(|e| e.unwrap().path().join("ports"))
        .find(|p| p.exists())
        .expect("the container records its published ports");
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ports_file).unwrap()).unwrap();
    let host = published[0]["host"].as_str().unwrap();
    assert!(host.starts_with("0.0.0.0:"), "{published}");
    assert_eq!(published[0]["spec"]["container_port"], 80);
    let port: u16 = host.rsplit(':').next().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => s,
            Err(e) if Instant::now() > deadline => panic!("port {port}: {e}"),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(b"GET /passwd HTTP/1.0\r\n\r\n").unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        if response.contains("root:x:0:0") {
            break;
        }
        assert!(Instant::now() < deadline, "no page: {response}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
}

#[test]
fn a_vanished_bridge_is_restored_at_the_next_start_without_duplicating_rules() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let net = TestNetwork::create(&env, "nv", 19);
    let rules_of = |bridge: &str| {
        let mut rules: Vec<String> = iptables_save()
            .lines()
            .filter(|l| l.split_whitespace().any(|w| w == bridge))
            .map(str::to_string)
            .collect();
        rules.sort();
        rules
    };
    let before = rules_of(&net.bridge);
    assert_eq!(before.len(), 5, "{before:#?}");
    // As after a reboot: the state says the network exists, the kernel has no bridge.
    let deleted = Command::new("ip")
        .args(["link", "del", &net.bridge])
        .status()
        .unwrap();
    assert!(deleted.success());
    let vol = format!("{}:/data", env.path().display());
    let name = format!("{}-restored", env.marker());
    let out = env
        .cmd(BIN)
        .args(["--explain", "run", "--dns", "127.0.0.1", "--name", &name])
        .args([
            "--network",
            &net.name,
            "-v",
            &vol,
            "busybox",
            "--",
            "sh",
            "-c",
        ])
        .arg("ip -o -4 addr show eth0 | awk '{print $4}'; ip route | grep default")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", report(&out));
    let narration = String::from_utf8_lossy(&out.stderr);
    for step in [
        "open_tree(",
        &format!("RTM_NEWLINK {} type bridge", net.bridge),
        "type veth peer",
        "setns(/proc/",
        "RTM_NEWROUTE default via 10.213.19.1",
        "IPAM: 10.213.19.2",
        "move_mount(",
        "IPAM: release 10.213.19.2",
    ] {
        assert!(
            narration.contains(step),
            "--explain does not narrate {step:?}:\n{narration}"
        );
    }
    assert_eq!(
        stdout(&out),
        "10.213.19.2/24\ndefault via 10.213.19.1 dev eth0 \n",
        "{}",
        report(&out)
    );
    assert_eq!(rules_of(&net.bridge), before, "rules are added once only");
}

/// What runs on `net` could leave behind on the host, counted (only what is this test's, so
/// tests running beside it do not change the counts): mounts under its directory, veths on its
/// bridge, iptables rules naming its bridge, container directories, cgroups, leases, listeners
/// on loopback.
fn host_footprint(env: &TestEnv, net: &TestNetwork) -> Vec<(&'static str, usize)> {
    let dir = env.path().display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&dir))
        .count();
    let veths = std::fs::read_dir(format!("/sys/class/net/{}/brif", net.bridge))
        .map(|d| d.count())
        .unwrap_or(0);
    let rules = iptables_save()
        .lines()
        .filter(|l| l.starts_with("-A") && l.contains(&net.bridge))
        .count();
    let containers = std::fs::read_dir(env.path().join("root/containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    let cgroups = std::fs::read_dir("/sys/fs/cgroup/pids/baleia")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(env.marker()))
                .count()
        })
        .unwrap_or(0);
    let leases = net.inspect()["Containers"].as_array().map_or(0, Vec::len);
    vec![
        ("mounts", mounts),
        ("veths", veths),
        ("iptables rules", rules),
        ("container dirs", containers),
        ("cgroups", cgroups),
        ("leases", leases),
    ]
}

#[test]
fn repeated_runs_with_volumes_ports_and_networks_leave_nothing_behind() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let net = TestNetwork::create(&env, "nL", 21);
    let host_dir = env.path().join("bound");
    std::fs::create_dir_all(&host_dir).unwrap();
    let bind = format!("{}:/h", host_dir.display());
    let volume = format!("{}-vol:/data", env.marker());
    // Warm up once (the named volume is made, and stays: it is meant to).
    let first = run_sh(
        &env,
        "warm",
        &["--network", &net.name, "-v", &volume],
        "true",
    );
    assert!(first.status.success(), "{}", report(&first));
    let before = host_footprint(&env, &net);
    let mut published = Vec::new();
    for round in 0..20 {
        let port_number = free_port();
        published.push(port_number);
        let port = port_number.to_string();
        let publish = format!("127.0.0.1:{port}:80");
        for (kind, flags) in [
            ("volume", vec!["-v", volume.as_str()]),
            ("bind", vec!["-v", bind.as_str()]),
            ("port", vec!["-p", publish.as_str()]),
            ("plain", vec![]),
        ] {
            let mut all = vec!["--network", net.name.as_str()];
            all.extend(flags);
            let output = run_sh(&env, &format!("{kind}{round}"), &all, "true");
            assert!(
                output.status.success(),
                "{kind} {round}: {}",
                report(&output)
            );
        }
    }
    assert_eq!(
        host_footprint(&env, &net),
        before,
        "80 runs left something behind"
    );
    // And every published port was closed with its container: each can be bound again.
    for port in published {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still held"
        );
    }
}

/// A `PATH` without `iptables` (Debian keeps it in /usr/sbin): the engine as it runs on a
/// fresh machine. The tests never uninstall anything.
const NO_IPTABLES: &str = "/usr/bin:/bin";

/// A directory holding a fake `iptables` that runs `script` (a sh fragment; `$*` is the
/// arguments), to put first in `PATH`.
fn fake_iptables(env: &TestEnv, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = env.path().join("fake-iptables");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("iptables");
    std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `network create NAME --subnet 10.213.n.0/24 --bridge bt<tag><pid>` with `PATH` set; the
/// network, if it was made.
fn create_with_path<'a>(
    env: &'a TestEnv,
    tag: &str,
    n: u8,
    path: &str,
) -> (Output, Option<TestNetwork<'a>>) {
    let bridge = format!("bt{tag}{}", std::process::id() % 100_000);
    let subnet = format!("10.213.{n}.0/24");
    let output = env
        .cmd(BIN)
        .env("PATH", path)
        .args(["--explain", "network", "create", &bridge])
        .args(["--subnet", &subnet, "--bridge", &bridge])
        .output()
        .unwrap();
    let made = output.status.success().then(|| TestNetwork {
        env,
        name: bridge.clone(),
        bridge,
        subnet,
    });
    (output, made)
}

fn rules_naming(bridge: &str) -> Vec<String> {
    iptables_save()
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == bridge))
        .map(str::to_string)
        .collect()
}

fn network_json(env: &TestEnv, name: &str) -> serde_json::Value {
    let path = root(env).join("networks").join(name).join("network.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// What our bridges carry in their alias: the state root, canonical.
fn mark(env: &TestEnv) -> String {
    format!("baleia:{}", root(env).canonicalize().unwrap().display())
}

fn alias(bridge: &str) -> String {
    std::fs::read_to_string(format!("/sys/class/net/{bridge}/ifalias"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn without_iptables_a_network_is_a_bare_bridge_with_one_warning_and_gets_its_rules_later() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    let (output, net) = create_with_path(&env, "ni", 25, NO_IPTABLES);
    let net = net.unwrap_or_else(|| panic!("{}", report(&output)));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("WARNING").count(), 1, "{stderr}");
    for words in [
        "iptables is not installed",
        "do not reach the outside world",
        "networks are not isolated",
        "apt-get install iptables",
    ] {
        assert!(stderr.contains(words), "no {words:?} in:\n{stderr}");
    }
    assert!(
        links().contains(&format!(" {}:", net.bridge)),
        "no bridge {}",
        net.bridge
    );
    assert_eq!(alias(&net.bridge), mark(&env));
    assert_eq!(rules_naming(&net.bridge), Vec::<String>::new());
    assert_eq!(network_json(&env, &net.name)["nat"], false);
    // A container start with iptables on PATH again makes the rules, once.
    for _ in 0..2 {
        let out = env
            .cmd(BIN)
            .args(["run", "--dns", "127.0.0.1", "--network", &net.name])
            .args(["busybox", "--", "true"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", report(&out));
        assert_eq!(
            rules_naming(&net.bridge).len(),
            5,
            "{:#?}",
            rules_naming(&net.bridge)
        );
    }
    assert_eq!(network_json(&env, &net.name)["nat"], true);
}

#[test]
fn an_iptables_that_cannot_work_is_treated_as_missing_and_leaves_no_rule() {
    let env = TestEnv::new();
    let fake = fake_iptables(
        &env,
        "echo 'iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Invalid argument' >&2; exit 4",
    );
    let path = format!("{}:{NO_IPTABLES}", fake.display());
    let (output, net) = create_with_path(&env, "nk", 26, &path);
    let net = net.unwrap_or_else(|| panic!("{}", report(&output)));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("WARNING").count(), 1, "{stderr}");
    assert!(
        stderr.contains("iptables does not work here (iptables -t filter -S FORWARD: iptables v1.8.9 (nf_tables): Could not fetch rule set generation id"),
        "{stderr}"
    );
    assert_eq!(rules_naming(&net.bridge), Vec::<String>::new());
    assert_eq!(network_json(&env, &net.name)["nat"], false);
}

#[test]
fn a_network_whose_rules_fail_part_way_is_removed_entirely_and_can_be_made_again() {
    let env = TestEnv::new();
    // The real iptables, except for the last rule (the egress NAT).
    let fake = fake_iptables(
        &env,
        "case \"$*\" in *'-A POSTROUTING'*) echo 'iptables: injected failure' >&2; exit 1;; esac\nexec /usr/sbin/iptables \"$@\"",
    );
    let path = format!("{}:{NO_IPTABLES}", fake.display());
    let (output, net) = create_with_path(&env, "nx", 27, &path);
    assert!(net.is_none(), "{}", report(&output));
    let bridge = format!("btnx{}", std::process::id() % 100_000);
    let name = bridge.clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    for step in [
        format!("RTM_NEWLINK {bridge} type bridge"),
        format!("iptables -t filter -A BALEIA-FORWARD -i {bridge} -j ACCEPT"),
        "iptables: injected failure".to_string(),
        "remove what was made".to_string(),
        format!("RTM_DELLINK {bridge}"),
    ] {
        assert!(stderr.contains(&step), "no {step:?} in:\n{stderr}");
    }
    assert!(
        !links().contains(&format!(" {bridge}:")),
        "bridge {bridge} left"
    );
    assert_eq!(rules_naming(&bridge), Vec::<String>::new());
    assert!(!root(&env).join("networks").join(&name).exists());
    // No dead end: with a working iptables the same network is made.
    let (again, net) = create_with_path(&env, "nx", 27, &std::env::var("PATH").unwrap());
    let _net = net.unwrap_or_else(|| panic!("{}", report(&again)));
    assert_eq!(rules_naming(&bridge).len(), 5);
}

#[test]
fn a_bridge_left_by_a_crashed_run_of_this_root_is_cleaned_and_anothers_is_never_touched() {
    let env = TestEnv::new();
    let mut net = TestNetwork::create(&env, "ns", 28);
    assert_eq!(alias(&net.bridge), mark(&env));
    // A crash between making the bridge (and its rules) and recording the network.
    std::fs::remove_dir_all(root(&env).join("networks").join(&net.name)).unwrap();
    let again = env
        .cmd(BIN)
        .args(["--explain", "network", "create", &net.name])
        .args(["--subnet", "10.213.29.0/24", "--bridge", &net.bridge])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", report(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("a crashed run's; clean it"));
    let rules = rules_naming(&net.bridge);
    assert_eq!(rules.len(), 5, "{rules:#?}");
    assert!(
        !iptables_save().contains("10.213.28.0/24"),
        "the old subnet's rule stayed"
    );
    net.subnet = "10.213.29.0/24".into();
    // A bridge nobody marked (made by hand) is not ours: refused, and left alone.
    let foreign = format!("btnz{}", std::process::id() % 100_000);
    let added = Command::new("ip")
        .args(["link", "add", &foreign, "type", "bridge"])
        .status()
        .unwrap();
    assert!(added.success());
    let refused = ch07(
        &env,
        &["network", "create", "btforeign", "--bridge", &foreign],
    );
    let still_there = links().contains(&format!(" {foreign}:"));
    let _ = Command::new("ip").args(["link", "del", &foreign]).status();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&format!(
            "a link named {foreign} exists already on this host and is not this state root's (it has no alias"
        )),
        "{}",
        report(&refused)
    );
    assert!(still_there, "the foreign bridge was touched");
    assert!(!root(&env).join("networks/btforeign").exists());
}

#[test]
fn an_unmarked_unused_bridge_with_this_roots_default_name_is_cleaned_at_the_first_run() {
    let env = TestEnv::new();
    import(&env, "busybox", None, &[]);
    // What an engine that did not mark its bridges left after a failed first run: the
    // default bridge's name (this test root's own, never baleia0), no alias, no address.
    let list = ok(&env, &["network", "ls"]);
    assert!(!list.contains("bridge"), "{list}");
    let run = |args: &[&str]| {
        env.cmd(BIN)
            .args(["--explain", "run", "--dns", "127.0.0.1"])
            .args(args)
            .args(["busybox", "--", "true"])
            .output()
            .unwrap()
    };
    // Learn the name: make the default network once, then remove it (and its rules).
    let first = run(&[]);
    assert!(first.status.success(), "{}", report(&first));
    let config = network_json(&env, "bridge");
    let bridge = config["bridge"].as_str().unwrap().to_string();
    assert!(
        bridge.starts_with("baleia-") && bridge.len() == 15,
        "{bridge}"
    );
    ok(&env, &["network", "rm", "bridge"]);
    let added = Command::new("ip")
        .args(["link", "add", &bridge, "type", "bridge"])
        .status()
        .unwrap();
    assert!(added.success());
    let again = run(&[]);
    let config = std::fs::read(root(&env).join("networks/bridge/network.json"));
    let removed = ch07(&env, &["network", "rm", "bridge"]);
    // Only if the run failed to clean it (then the asserts below say so).
    let _ = Command::new("ip").args(["link", "del", &bridge]).output();
    assert!(again.status.success(), "{}", report(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("an earlier run's; clean it"),
        "{}",
        report(&again)
    );
    assert!(config.is_ok());
    assert!(removed.status.success(), "{}", report(&removed));
    assert!(!links().contains(&format!(" {bridge}:")));
    assert_eq!(rules_naming(&bridge), Vec::<String>::new());
}
