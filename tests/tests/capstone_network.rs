//! The capstone with chapter 07: `baleia run --network / -p / -P / -v / --mount`, against a
//! daemon each test starts on its own socket in its own temp state root. Run:
//! `cargo test -p baleia-tests --test capstone_network` (as root).
//!
//! Network rules of the tests: every container gets `--dns 127.0.0.1` (no query leaves for the
//! host's resolver); every network is the test's own, on a bridge named `bt...` with a subnet
//! 10.213.N.0/24 (N in 41-44 and 47-49 here; capstone_docker_cli has 46); traffic goes only
//! to 127.0.0.1 and to our containers. A test that uses the default network starts its daemon
//! with `--bridge bt... --bip ...` (never the real baleia0). After each test: no veth on its
//! bridges, no bridge, no iptables rule, no lease, no listening proxy.

use harness::capstone::ok;
use harness::capstone::Daemon;
use harness::http::page;
use harness::registry::free_port;
use harness::stdout;
use harness::wait_until;
use harness::{report, TestEnv};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::Instant;

fn inspect(daemon: &Daemon, name: &str) -> Value {
    serde_json::from_str::<Value>(&ok(daemon, &["inspect", name])).unwrap()[0].clone()
}

fn closed(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

fn links() -> String {
    stdout(&Command::new("ip").args(["-o", "link"]).output().unwrap())
}

fn iptables_save() -> String {
    stdout(&Command::new("iptables-save").output().unwrap())
}

fn ports_on(bridge: &str) -> usize {
    std::fs::read_dir(format!("/sys/class/net/{bridge}/brif"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn leases(env: &TestEnv, network: &str) -> usize {
    std::fs::read_dir(
        env.path()
            .join("root/networks")
            .join(network)
            .join("leases"),
    )
    .map(|d| d.count())
    .unwrap_or(0)
}

/// A site for busybox httpd: `index.html` says `text`.
fn site(env: &TestEnv, name: &str, text: &str) -> String {
    let dir = env.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), text).unwrap();
    dir.display().to_string()
}

/// A bridge network of the test's own (`bt<tag><pid>`, 10.213.`n`.0/24), made through the API.
/// When dropped: checked empty (no veth on its bridge, no lease), removed, and checked gone
/// (no bridge, no iptables rule).
struct TestNetwork<'a> {
    env: &'a TestEnv,
    /// The daemon's `-H` (not the daemon: tests restart it while the network exists).
    host: String,
    name: String,
    bridge: String,
    subnet: String,
}

impl<'a> TestNetwork<'a> {
    fn create(daemon: &Daemon<'a>, tag: &str, n: u8) -> Self {
        let bridge = format!("bt{tag}{}", std::process::id() % 100_000);
        let subnet = format!("10.213.{n}.0/24");
        let option = format!("com.docker.network.bridge.name={bridge}");
        ok(
            daemon,
            &[
                "network", "create", "--subnet", &subnet, "-o", &option, &bridge,
            ],
        );
        TestNetwork {
            env: daemon.env,
            host: daemon.host(),
            name: bridge.clone(),
            bridge,
            subnet,
        }
    }
}

fn assert_network_gone(bridge: &str, subnet: &str) {
    assert!(
        !links().contains(&format!(" {bridge}:")),
        "bridge {bridge} left"
    );
    let rules = iptables_save();
    assert!(
        !rules.contains(bridge) && !rules.contains(subnet),
        "iptables rules left for {bridge}"
    );
}

impl TestNetwork<'_> {
    fn baleia(&self, args: &[&str]) -> Output {
        self.env
            .cmd("baleia")
            .env("BALEIA_HOST", &self.host)
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for TestNetwork<'_> {
    fn drop(&mut self) {
        // Containers first (the daemon's own drop would come too late for `network rm`):
        // removing them must leave nothing on the network.
        let ids = self.baleia(&["ps", "-aq", "--no-trunc"]);
        for id in stdout(&ids).lines() {
            let _ = self.baleia(&["rm", "-f", id]);
        }
        let veths = ports_on(&self.bridge);
        let leases = leases(self.env, &self.name);
        let removed = self.baleia(&["network", "rm", &self.name]);
        if std::thread::panicking() {
            return;
        }
        assert_eq!(veths, 0, "veths left on {}", self.bridge);
        assert_eq!(leases, 0, "leases left on {}", self.name);
        assert!(removed.status.success(), "{}", report(&removed));
        assert_network_gone(&self.bridge, &self.subnet);
    }
}

#[test]
fn containers_on_a_user_network_reach_each_other_by_name_and_inspect_shows_where_they_are() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let net = TestNetwork::create(&daemon, "cn", 41);
    let www = site(&env, "www", "hello from srv\n");
    let srv = format!("{}-srv", env.marker());
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            &srv,
            "--network",
            &net.name,
            "--dns",
            "127.0.0.1",
            "-v",
            &format!("{www}:/www:ro"),
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    // By name, from another container on the same network (its /etc/hosts lists srv).
    let fetch = format!(
        "for i in $(seq 50); do wget -q -O - http://{srv}/index.html && exit 0; sleep 0.1; done; exit 1"
    );
    let client = daemon.baleia(&[
        "run",
        "--rm",
        "--network",
        &net.name,
        "--dns",
        "127.0.0.1",
        "busybox",
        "sh",
        "-c",
        &fetch,
    ]);
    assert!(client.status.success(), "{}", report(&client));
    assert_eq!(stdout(&client), "hello from srv\n");

    let c = inspect(&daemon, &srv);
    let on_net = &c["NetworkSettings"]["Networks"][&net.name];
    let address = on_net["IPAddress"].as_str().unwrap().to_string();
    assert!(address.starts_with("10.213.41."), "{c}");
    assert_eq!(on_net["Gateway"], "10.213.41.1");
    assert_eq!(on_net["IPPrefixLen"], 24);
    let mac = on_net["MacAddress"].as_str().unwrap();
    assert_eq!(mac.len(), 17, "a MAC address: {mac}");
    assert_eq!(c["HostConfig"]["NetworkMode"], net.name.as_str());
    assert_eq!(
        c["NetworkSettings"]["IPAddress"], "",
        "Docker fills the top-level address for the default bridge only"
    );
    assert_eq!(c["Mounts"][0]["Type"], "bind");
    assert_eq!(c["Mounts"][0]["RW"], false);
    // The container's own view agrees.
    let inside = ok(
        &daemon,
        &[
            "run",
            "--rm",
            "--network",
            &net.name,
            "--dns",
            "127.0.0.1",
            "busybox",
            "sh",
            "-c",
            &format!("grep -w {srv} /etc/hosts | cut -f1"),
        ],
    );
    assert_eq!(inside.trim(), address);

    let shown: Value =
        serde_json::from_str(&ok(&daemon, &["network", "inspect", &net.name])).unwrap();
    let members = shown[0]["Containers"].as_object().unwrap();
    assert_eq!(members.len(), 1, "only the running one: {shown}");
    assert_eq!(members[c["Id"].as_str().unwrap()]["Name"], srv.as_str());

    let refused = daemon.baleia(&["network", "rm", &net.name]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("active containers"),
        "{}",
        report(&refused)
    );
    let predefined = daemon.baleia(&["network", "rm", "none"]);
    assert!(
        String::from_utf8_lossy(&predefined.stderr).contains("pre-defined"),
        "{}",
        report(&predefined)
    );
    let names = ok(&daemon, &["network", "ls"]);
    let names: Vec<&str> = names
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        names,
        [net.name.as_str(), "host", "none"],
        "as Docker lists them"
    );

    assert_eq!(ports_on(&net.bridge), 1, "one veth: srv's");
    ok(&daemon, &["stop", "-t", "1", &srv]);
    assert_eq!(ports_on(&net.bridge), 0, "stop took the veth away");
    assert_eq!(leases(&env, &net.name), 0, "and released the address");
    let c = inspect(&daemon, &srv);
    assert_eq!(
        c["NetworkSettings"]["Networks"][&net.name]["IPAddress"], "",
        "a stopped container has no address"
    );
    ok(&daemon, &["start", &srv]);
    wait_until("srv on its network again", || leases(&env, &net.name) == 1);
}

#[test]
fn the_web_example_two_httpd_on_the_default_bridge_published_on_loopback() {
    let env = TestEnv::new();
    let bridge = format!("btcd{}", std::process::id() % 100_000);
    // Declared before the daemon: dropped after it (and its containers), even on a failure.
    let _default = DefaultNetwork {
        env: &env,
        bridge: bridge.clone(),
        subnet: "10.213.42.0/24".into(),
    };
    let daemon = Daemon::start_with(&env, &["--bridge", &bridge, "--bip", "10.213.42.1/24"]);
    daemon.import_busybox();
    let (port_a, port_b) = (free_port(), free_port());
    for (name, port) in [("web-a", port_a), ("web-b", port_b)] {
        let dir = site(&env, name, &format!("this is {name}\n"));
        ok(
            &daemon,
            &[
                "run",
                "-d",
                "--name",
                name,
                "--dns",
                "127.0.0.1",
                "-p",
                &format!("127.0.0.1:{port}:80"),
                "-v",
                &format!("{dir}:/www:ro"),
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/www",
            ],
        );
    }
    assert_eq!(page(port_a, "/index.html"), "this is web-a\n");
    assert_eq!(page(port_b, "/index.html"), "this is web-b\n");

    assert_eq!(
        ok(&daemon, &["port", "web-a"]),
        format!("80/tcp -> 127.0.0.1:{port_a}\n")
    );
    assert_eq!(
        ok(&daemon, &["port", "web-b", "80"]),
        format!("127.0.0.1:{port_b}\n")
    );
    let ps = ok(&daemon, &["ps"]);
    assert!(ps.contains(&format!("127.0.0.1:{port_a}->80/tcp")), "{ps}");
    let c = inspect(&daemon, "web-a");
    assert_eq!(c["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(
        c["NetworkSettings"]["Ports"]["80/tcp"],
        serde_json::json!([{ "HostIp": "127.0.0.1", "HostPort": port_a.to_string() }])
    );
    let address = c["NetworkSettings"]["IPAddress"].as_str().unwrap();
    assert!(
        address.starts_with("10.213.42."),
        "the default bridge's: {c}"
    );
    assert_eq!(c["NetworkSettings"]["Gateway"], "10.213.42.1");
    assert_eq!(ports_on(&bridge), 2);

    // A port someone holds already: the start fails, and leaves nothing behind.
    let taken = daemon.baleia(&[
        "run",
        "-d",
        "--name",
        "web-c",
        "--dns",
        "127.0.0.1",
        "-p",
        &format!("127.0.0.1:{port_a}:80"),
        "busybox",
        "httpd",
        "-f",
    ]);
    assert_eq!(taken.status.code(), Some(125), "{}", report(&taken));
    assert_eq!(ports_on(&bridge), 2);
    assert_eq!(leases(&env, "bridge"), 2);

    ok(&daemon, &["stop", "-t", "1", "web-a", "web-b"]);
    assert!(
        closed(port_a) && closed(port_b),
        "the proxies stopped with them"
    );
    assert_eq!(ports_on(&bridge), 0);
    assert_eq!(leases(&env, "bridge"), 0);
    let refused = daemon.baleia(&["network", "rm", "bridge"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("pre-defined"),
        "{}",
        report(&refused)
    );
}

/// The default network a test's daemon made on its test bridge. It stays when the daemon
/// stops (as docker0 does) and `network rm bridge` is refused: the test removes it with
/// chapter 07 when this is dropped, and checks it gone.
struct DefaultNetwork<'a> {
    env: &'a TestEnv,
    bridge: String,
    subnet: String,
}

impl Drop for DefaultNetwork<'_> {
    fn drop(&mut self) {
        let removed = self
            .env
            .cmd("ch07-volumes-network")
            .args(["network", "rm", "bridge"])
            .output()
            .unwrap();
        if std::thread::panicking() {
            return;
        }
        assert!(removed.status.success(), "{}", report(&removed));
        assert_network_gone(&self.bridge, &self.subnet);
    }
}

#[test]
fn volumes_named_anonymous_bind_and_tmpfs() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let run = |args: &[&str], script: &str| {
        let mut all = vec!["run", "--rm", "--network", "none"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["busybox", "sh", "-c", script]);
        ok(&daemon, &all)
    };
    // A named volume: made on first use, filled from the image, kept for the next container.
    assert_eq!(
        run(
            &["-v", "data:/etc"],
            "echo kept > /etc/mine; ls /etc | grep -c passwd"
        ),
        "1\n"
    );
    assert_eq!(
        run(
            &["-v", "data:/etc:ro"],
            "cat /etc/mine; echo x > /etc/no || echo refused"
        ),
        "kept\nrefused\n"
    );
    // A bind mount writes through to the host; --mount says the same in other words.
    let host = env.path().join("host-dir");
    std::fs::create_dir_all(&host).unwrap();
    let host_arg = host.display().to_string();
    run(
        &["-v", &format!("{host_arg}:/out")],
        "echo from-inside > /out/made",
    );
    assert_eq!(
        std::fs::read_to_string(host.join("made")).unwrap(),
        "from-inside\n"
    );
    assert_eq!(
        run(
            &[
                "--mount",
                &format!("type=bind,source={host_arg},target=/in,readonly"),
                "--mount",
                "type=volume,source=data,target=/data",
                "--mount",
                "type=tmpfs,target=/scratch,tmpfs-size=64k",
            ],
            "cat /in/made; cat /data/mine; echo x > /in/no 2>/dev/null || echo ro; \
             df -k /scratch | tail -1 | awk '{print $2}'"
        ),
        "from-inside\nkept\nro\n64\n"
    );
    // Anonymous volumes go with a --rm container...
    run(&["-v", "/cache"], "echo x > /cache/f");
    assert_eq!(ok(&daemon, &["volume", "ls", "-q"]), "data\n");
    // ...and with `rm -v`; a named one stays, and is refused while a container refers to it.
    ok(
        &daemon,
        &[
            "create",
            "--name",
            "keeper",
            "-v",
            "data:/data",
            "-v",
            "/anon",
            "busybox",
            "true",
        ],
    );
    let volumes = ok(&daemon, &["volume", "ls", "-q"]);
    assert_eq!(volumes.lines().count(), 2, "{volumes}");
    let c = inspect(&daemon, "keeper");
    let mounts = c["Mounts"].as_array().unwrap();
    assert_eq!(mounts.len(), 2, "{c}");
    assert_eq!(mounts[0]["Name"], "data");
    assert_eq!(mounts[0]["Destination"], "/data");
    assert_eq!(mounts[1]["Type"], "volume");
    let refused = daemon.baleia(&["volume", "rm", "data"]);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("in use"),
        "{}",
        report(&refused)
    );
    ok(&daemon, &["rm", "-v", "keeper"]);
    assert_eq!(ok(&daemon, &["volume", "ls", "-q"]), "data\n");
    ok(&daemon, &["volume", "rm", "data"]);
    // Mistakes are refused at create, and leave nothing.
    let missing = daemon.baleia(&["create", "-v", "/no/such/dir:/x", "busybox"]);
    assert_eq!(missing.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
    let relative = daemon.baleia(&["create", "-v", "./rel:/x", "busybox"]);
    assert_eq!(relative.status.code(), Some(125));
    assert_eq!(ok(&daemon, &["ps", "-aq"]), "");
    assert_eq!(ok(&daemon, &["volume", "ls", "-q"]), "");
}

/// Under systemd every mount is shared (mount_namespaces(7)): a volume's copy must not carry
/// what a container mounts on top of it back to the host. Here the state root is a shared
/// tmpfs, as `/var/lib` is on a systemd host; on it, a volume over `/etc` gets the engine's
/// hostname, hosts and resolv.conf bound over its files inside the container.
#[test]
fn volumes_on_a_shared_host_mount_carry_no_container_mount_back_to_the_host() {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let env = TestEnv::new();
    let root = env.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    mount(
        Some("tmpfs"),
        &root,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .unwrap();
    mount(
        None::<&str>,
        &root,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let run = |args: &[&str], script: &str| {
        let mut all = vec!["run", "--rm", "--network", "none"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["busybox", "sh", "-c", script]);
        daemon.baleia(&all)
    };
    let first = run(&["-v", "data:/etc"], "echo kept > /etc/mine");
    let host_mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|line| line.contains(&format!("{}/", root.display())))
        .map(str::to_string)
        .collect();
    let second = run(&["-v", "data:/etc:ro"], "cat /etc/mine");
    drop(daemon);
    umount2(&root, MntFlags::MNT_DETACH).unwrap();

    assert!(first.status.success(), "{}", report(&first));
    assert!(host_mounts.is_empty(), "left on the host: {host_mounts:#?}");
    assert!(second.status.success(), "{}", report(&second));
    assert_eq!(String::from_utf8_lossy(&second.stdout), "kept\n");
    env.assert_no_leaks();
}

#[test]
fn a_published_port_outlives_a_killed_daemon_and_stop_cleans_up_after_the_restart() {
    let env = TestEnv::new();
    let mut daemon = Daemon::start(&env);
    daemon.import_busybox();
    let net = TestNetwork::create(&daemon, "ck", 43);
    let (bridge, name) = (net.bridge.clone(), net.name.clone());
    let dir = site(&env, "www", "still here\n");
    let port = free_port();
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            &name,
            "--dns",
            "127.0.0.1",
            "-p",
            &format!("127.0.0.1:{port}:80"),
            "-v",
            &format!("{dir}:/www:ro"),
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            "/www",
        ],
    );
    assert_eq!(page(port, "/index.html"), "still here\n");
    daemon.kill();
    // No daemon: the supervisor still owns the proxy.
    assert_eq!(page(port, "/index.html"), "still here\n");
    daemon.restart();
    assert!(ok(&daemon, &["ps"]).contains(&format!("127.0.0.1:{port}->80/tcp")));
    assert_eq!(page(port, "/index.html"), "still here\n");
    ok(&daemon, &["stop", "-t", "1", "web"]);
    assert!(closed(port), "the proxy stopped with the container");
    assert_eq!(ports_on(&bridge), 0);
    assert_eq!(leases(&env, &name), 0);

    // A supervisor killed with SIGKILL cannot clean up: its lease is stale, and the next daemon
    // start reclaims it.
    ok(&daemon, &["start", "web"]);
    assert_eq!(page(port, "/index.html"), "still here\n");
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(
            env.path()
                .join("root/containers")
                .join(inspect(&daemon, "web")["Id"].as_str().unwrap())
                .join("state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (shim, pid) = (
        state["shim_pid"].as_i64().unwrap(),
        state["pid"].as_i64().unwrap(),
    );
    daemon.kill();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    // Gone, or a zombie nobody has reaped yet (exited all the same).
    wait_until("the container to die with its supervisor", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |stat| stat.contains(") Z "))
    });
    assert!(closed(port));
    assert_eq!(leases(&env, &name), 1, "left by the killed supervisor");
    daemon.restart();
    assert_eq!(leases(&env, &name), 0, "reclaimed when the daemon started");
    wait_until("the veth to go", || ports_on(&bridge) == 0);
}

#[test]
fn publish_all_maps_the_images_exposed_port_and_its_volume_is_anonymous() {
    let env = TestEnv::new();
    // Ports published without an address go to the daemon's --ip (Docker's default 0.0.0.0;
    // the tests listen on loopback only).
    let daemon = Daemon::start_with(&env, &["--ip", "127.0.0.1"]);
    let tar = harness::busybox_tar(&env);
    let imported = env
        .cmd("ch04-images")
        .args([
            "import",
            tar.to_str().unwrap(),
            "web:exposed",
            "--change",
            r#"CMD ["httpd", "-f", "-p", "80", "-h", "/www"]"#,
            "--change",
            "EXPOSE 80",
            "--change",
            "VOLUME /cache",
        ])
        .output()
        .unwrap();
    assert!(imported.status.success(), "{}", report(&imported));
    let net = TestNetwork::create(&daemon, "cp", 44);
    let dir = site(&env, "www", "exposed\n");
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "auto",
            "--network",
            &net.name,
            "--dns",
            "127.0.0.1",
            "-P",
            "-v",
            &format!("{dir}:/www:ro"),
            "web:exposed",
        ],
    );
    let shown = ok(&daemon, &["port", "auto", "80/tcp"]);
    let port: u16 = shown.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        shown.starts_with("127.0.0.1:"),
        "the daemon's --ip: {shown}"
    );
    assert_eq!(page(port, "/index.html"), "exposed\n");
    // The image's VOLUME: an anonymous volume per container, gone with a --rm one.
    let c = inspect(&daemon, "auto");
    assert_eq!(
        c["Config"]["ExposedPorts"],
        serde_json::json!({ "80/tcp": {} })
    );
    assert_eq!(c["Config"]["Volumes"], serde_json::json!({ "/cache": {} }));
    assert_eq!(c["Mounts"][0]["Destination"], "/www", "{c}");
    assert_eq!(c["Mounts"][1]["Destination"], "/cache", "{c}");
    assert_eq!(c["Mounts"][1]["Type"], "volume");
    let kept = c["Mounts"][1]["Name"].as_str().unwrap().to_string();
    assert_eq!(kept.len(), 64, "a random name: {kept}");
    let out = ok(
        &daemon,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "sh",
            "web:exposed",
            "-c",
            "echo x > /cache/f && grep -c ' /cache ' /proc/mounts",
        ],
    );
    assert_eq!(out, "1\n");
    assert_eq!(
        ok(&daemon, &["volume", "ls", "-q"]),
        format!("{kept}\n"),
        "only auto's"
    );
    for mode in ["none", "host"] {
        let refused = daemon.baleia(&["create", "--network", mode, "-p", "80", "web:exposed"]);
        assert_eq!(refused.status.code(), Some(125), "{}", report(&refused));
    }
    let unknown = daemon.baleia(&["create", "--network", "nosuchnet", "web:exposed"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));
    // This daemon has no default network (--bridge none): no `bridge` to ask for by name.
    let bridge = daemon.baleia(&["create", "--network", "bridge", "web:exposed"]);
    assert!(
        String::from_utf8_lossy(&bridge.stderr).contains("network bridge not found"),
        "{}",
        report(&bridge)
    );
}

/// What a container could leave behind, counted: compared before and after many of them.
#[derive(Debug, PartialEq)]
struct Leftovers {
    daemon_fds: usize,
    mounts: usize,
    veths: Vec<usize>,
    leases: Vec<usize>,
    iptables_rules: usize,
    container_dirs: usize,
    cgroups: usize,
    volumes: String,
    supervisors: usize,
}

impl Leftovers {
    fn take(env: &TestEnv, daemon: &Daemon, networks: &[(&str, &str)]) -> Self {
        let root = env.path().join("root");
        let count =
            |dir: std::path::PathBuf| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        let pid = daemon.pid().expect("the daemon runs");
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        let cgroups = std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|hierarchy| count(hierarchy.path().join(daemon.cgroup_parent())))
            .sum();
        let supervisors = stdout(
            &Command::new("pgrep")
                .args(["-f", "shim "])
                .output()
                .unwrap(),
        )
        .lines()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|e| String::from_utf8_lossy(&e).contains(env.marker()))
        })
        .count();
        Leftovers {
            daemon_fds: count(format!("/proc/{pid}/fd").into()),
            mounts: mounts
                .lines()
                .filter(|l| l.contains(&*root.to_string_lossy()))
                .count(),
            veths: networks
                .iter()
                .map(|(_, bridge)| ports_on(bridge))
                .collect(),
            leases: networks.iter().map(|(name, _)| leases(env, name)).collect(),
            // Ours only: other tests run at the same time.
            iptables_rules: iptables_save()
                .lines()
                .filter(|l| networks.iter().any(|(_, bridge)| l.contains(bridge)))
                .count(),
            container_dirs: count(root.join("containers")),
            cgroups,
            volumes: ok(daemon, &["volume", "ls", "-q"]),
            supervisors,
        }
    }
}

/// `run --rm` again and again — on the default bridge, with a named and an anonymous volume,
/// with a published port, on a user network — leaves nothing behind: no mount, veth, lease,
/// iptables rule, container directory, cgroup, volume, supervisor or daemon descriptor more
/// than before. `BALEIA_LEAK_CYCLES` (default 100) is the number on the default bridge, a fifth
/// of it with each option; bench/run runs the long version (1,000).
#[test]
fn run_rm_cycles_leave_nothing_behind() {
    let env = TestEnv::new();
    let cycles: usize = std::env::var("BALEIA_LEAK_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let bridge = format!("btlk{}", std::process::id() % 100_000);
    let _default = DefaultNetwork {
        env: &env,
        bridge: bridge.clone(),
        subnet: "10.213.47.0/24".into(),
    };
    let daemon = Daemon::start_with(&env, &["--bridge", &bridge, "--bip", "10.213.47.1/24"]);
    daemon.import_busybox();
    let network = TestNetwork::create(&daemon, "lu", 48);
    let run = |args: &[&str]| {
        let mut all = vec!["run", "--rm", "--dns", "127.0.0.1"];
        all.extend_from_slice(args);
        ok(&daemon, &all)
    };
    // The first run makes the default network and the named volume, which stay by design.
    run(&["-v", "leak-data:/data", "busybox", "true"]);
    let networks = [
        ("bridge", bridge.as_str()),
        (network.name.as_str(), network.bridge.as_str()),
    ];
    let before = Leftovers::take(&env, &daemon, &networks);
    assert!(
        before.iptables_rules > 0,
        "the networks' own rules are counted"
    );

    let started = Instant::now();
    for _ in 0..cycles {
        run(&["busybox", "true"]);
    }
    let each = (cycles / 5).max(1);
    for _ in 0..each {
        run(&[
            "-v",
            "leak-data:/data",
            "busybox",
            "sh",
            "-c",
            "echo x >> /data/runs",
        ]);
        run(&["-v", "/anonymous", "busybox", "true"]);
        let publish = format!("127.0.0.1:{}:80", free_port());
        run(&["-p", &publish, "busybox", "true"]);
        run(&["--network", &network.name, "busybox", "true"]);
    }
    eprintln!(
        "{} runs in {:.1} s",
        cycles + 4 * each,
        started.elapsed().as_secs_f64()
    );

    // The named volume kept every run's line: the runs really used it.
    let lines = ok(
        &daemon,
        &[
            "run",
            "--rm",
            "-v",
            "leak-data:/data",
            "busybox",
            "cat",
            "/data/runs",
        ],
    );
    assert_eq!(lines.lines().count(), each);
    let after = Leftovers::take(&env, &daemon, &networks);
    assert_eq!(before, after, "something was left behind");
}

/// The daemon a client started (its pid from the client's message): when dropped, its
/// containers are removed and it is stopped.
struct StartedDaemon<'a> {
    daemon: &'a Daemon<'a>,
    pid: i32,
}

impl<'a> StartedDaemon<'a> {
    fn from_message(daemon: &'a Daemon<'a>, stderr: &str) -> Self {
        let pid = stderr
            .split("(pid ")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no daemon pid in: {stderr}"));
        StartedDaemon { daemon, pid }
    }
}

impl Drop for StartedDaemon<'_> {
    fn drop(&mut self) {
        let ids = self.daemon.baleia(&["ps", "-aq", "--no-trunc"]);
        for id in stdout(&ids).lines() {
            let _ = self.daemon.baleia(&["rm", "-f", id]);
        }
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        let socket = self.daemon.socket.clone();
        wait_until("the started daemon to stop", || !socket.exists());
    }
}

#[test]
fn without_iptables_the_first_run_works_warns_once_and_ports_are_published() {
    let env = TestEnv::new();
    let bridge = format!("btni{}", std::process::id() % 100_000);
    let _default = DefaultNetwork {
        env: &env,
        bridge: bridge.clone(),
        subnet: "10.213.49.0/24".into(),
    };
    // Nobody on the socket yet: the first client starts the daemon, as on a fresh machine,
    // with a PATH that has no iptables (Debian keeps it in /usr/sbin).
    let daemon = Daemon::stopped(&env);
    daemon.import_busybox();
    let client = |args: &[&str]| {
        env.cmd("baleia")
            .env("BALEIA_HOST", daemon.host())
            .env("PATH", "/usr/bin:/bin")
            .env("BALEIA_BRIDGE", &bridge)
            .env("BALEIA_BIP", "10.213.49.1/24")
            .args(args)
            .output()
            .unwrap()
    };
    let first = client(&["run", "--rm", "hello-world"]);
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    let _started = StartedDaemon::from_message(&daemon, &stderr);
    assert!(first.status.success(), "{}", report(&first));
    assert!(stdout(&first).contains("Hello from baleia!"));
    assert!(stderr.contains("no daemon was running"), "{stderr}");
    assert_eq!(stderr.matches("WARNING").count(), 1, "{stderr}");
    for words in [
        "baleia: WARNING: iptables is not installed",
        "do not reach the outside world",
        "networks are not isolated",
        "apt-get install iptables",
    ] {
        assert!(stderr.contains(words), "no {words:?} in:\n{stderr}");
    }
    // Said once: the next run is quiet; `info` and the daemon's log keep it.
    let again = client(&["run", "--rm", "hello-world"]);
    assert!(again.status.success(), "{}", report(&again));
    assert!(!String::from_utf8_lossy(&again.stderr).contains("WARNING"));
    let info = client(&["info"]);
    assert!(String::from_utf8_lossy(&info.stderr).contains("WARNING: iptables is not installed"));
    let log = std::fs::read_to_string(env.path().join("root/daemon.log")).unwrap();
    assert_eq!(log.matches("WARNING").count(), 1, "{log}");

    // The bridge works without rules: a published port reaches httpd in a container.
    let port = free_port();
    let dir = site(&env, "web", "this is web\n");
    let publish = format!("127.0.0.1:{port}:80");
    let volume = format!("{dir}:/www:ro");
    let web = client(&[
        "run",
        "-d",
        "--name",
        "web",
        "--dns",
        "127.0.0.1",
        "-p",
        &publish,
        "-v",
        &volume,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    assert!(web.status.success(), "{}", report(&web));
    assert_eq!(page(port, "/index.html"), "this is web\n");
    let network = serde_json::from_str::<Value>(&ok(&daemon, &["network", "inspect", "bridge"]))
        .unwrap()[0]
        .clone();
    assert_eq!(
        network["Options"]["com.docker.network.bridge.enable_ip_masquerade"],
        "false"
    );
    assert!(!iptables_save().contains(&bridge), "a rule names {bridge}");
    // Containers on the bridge reach each other, unless br_netfilter hands bridged packets to
    // a host firewall whose FORWARD policy drops them (Docker's does, on this test machine):
    // then the warning says so, and there is nothing to check here.
    let bridged_to_firewall =
        std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
            .is_ok_and(|v| v.trim() == "1");
    if bridged_to_firewall {
        assert!(stderr.contains("br_netfilter is loaded"), "{stderr}");
    } else {
        let address = inspect(&daemon, "web")["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string();
        let fetched = client(&[
            "run",
            "--rm",
            "--dns",
            "127.0.0.1",
            "busybox",
            "wget",
            "-qO-",
            &format!("http://{address}/index.html"),
        ]);
        assert_eq!(stdout(&fetched), "this is web\n", "{}", report(&fetched));
    }
}

/// The default network of a daemon on the root's own default bridge: removed with chapter 07
/// when dropped (`network rm bridge` is refused through the API), and checked gone.
struct RootDefaultNetwork<'a>(&'a TestEnv);

impl Drop for RootDefaultNetwork<'_> {
    fn drop(&mut self) {
        let config = std::fs::read(self.0.path().join("root/networks/bridge/network.json"));
        let removed = self
            .0
            .cmd("ch07-volumes-network")
            .args(["network", "rm", "bridge"])
            .output()
            .unwrap();
        if std::thread::panicking() {
            return;
        }
        let config: Value = serde_json::from_slice(&config.unwrap()).unwrap();
        assert!(removed.status.success(), "{}", report(&removed));
        assert_network_gone(
            config["bridge"].as_str().unwrap(),
            config["subnet"].as_str().unwrap(),
        );
    }
}

#[test]
fn two_state_roots_use_their_own_default_networks_at_once() {
    let envs = [TestEnv::new(), TestEnv::new()];
    let _networks = envs.each_ref().map(RootDefaultNetwork);
    let daemons = envs.each_ref().map(Daemon::start_with_root_default_bridge);
    let mut seen = Vec::new();
    for (n, daemon) in daemons.iter().enumerate() {
        daemon.import_busybox();
        let port = free_port();
        let dir = site(daemon.env, "web", &format!("this is root {n}\n"));
        ok(
            daemon,
            &[
                "run",
                "-d",
                "--name",
                "web",
                "--dns",
                "127.0.0.1",
                "-p",
                &format!("127.0.0.1:{port}:80"),
                "-v",
                &format!("{dir}:/www:ro"),
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/www",
            ],
        );
        let network = serde_json::from_str::<Value>(&ok(daemon, &["network", "inspect", "bridge"]))
            .unwrap()[0]
            .clone();
        let bridge = network["Options"]["com.docker.network.bridge.name"]
            .as_str()
            .unwrap()
            .to_string();
        let subnet = network["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            bridge.starts_with("baleia-") && bridge.len() == 15,
            "a root's own bridge: {bridge}"
        );
        assert!(
            subnet.starts_with("10.") && subnet.ends_with(".0.0/16"),
            "{subnet}"
        );
        let root = daemon.env.path().join("root").canonicalize().unwrap();
        let alias = std::fs::read_to_string(format!("/sys/class/net/{bridge}/ifalias")).unwrap();
        assert_eq!(alias.trim(), format!("baleia:{}", root.display()));
        seen.push((port, n, bridge, subnet));
    }
    // Both at once: each root's container answers on its published port.
    for (port, n, _, _) in &seen {
        assert_eq!(page(*port, "/index.html"), format!("this is root {n}\n"));
    }
    assert_ne!(seen[0].2, seen[1].2, "one bridge for two roots");
    assert_ne!(seen[0].3, seen[1].3, "one subnet for two roots");
}
