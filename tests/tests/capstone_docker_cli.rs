//! The capstone through the real `docker` CLI (28.x, or Debian's docker.io: API 1.41), with
//! `DOCKER_HOST` pointing at a baleia daemon the test starts. Run:
//! `cargo test -p baleia-tests --test capstone_docker_cli` (as root).

use harness::capstone::{ok as baleia_ok, redact, Daemon};
use harness::http::page;
use harness::{assert_snapshot, report, TestEnv};
use std::process::Output;
use std::time::{Duration, Instant};

fn ok(daemon: &Daemon, args: &[&str]) -> String {
    let output = daemon.docker(args);
    assert!(
        output.status.success(),
        "docker {args:?}\n{}",
        report(&output)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn version_info_and_images() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let version = ok(
        &daemon,
        &[
            "version",
            "--format",
            "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}",
        ],
    );
    assert_eq!(version, "0.1.0 1.47 linux\n");
    let info = ok(
        &daemon,
        &[
            "info",
            "--format",
            "{{.Images}} {{.Driver}} {{.LoggingDriver}} {{.ServerVersion}}",
        ],
    );
    assert_eq!(info, "1 overlay json-file 0.1.0\n");
    assert_snapshot!("docker_images", redact(&ok(&daemon, &["images"])));
}

/// docker's `--device` and `--device-cgroup-rule` reach the engine as Docker's API carries
/// them (`HostConfig.Devices`, `DeviceCgroupRules`); the host's disk stays shut.
#[test]
fn device_flags_from_the_docker_cli() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let out = ok(
        &daemon,
        &[
            "run",
            "--rm",
            "--device",
            "/dev/kmsg:/dev/log:w",
            "--device-cgroup-rule",
            "c 1:12 w",
            "busybox",
            "sh",
            "-c",
            "echo -n > /dev/log && echo log ok; mknod /tmp/x c 1 12 && echo -n 2>&1 > /tmp/x; \
             mknod /tmp/vda b 254 0 && head -c 1 /tmp/vda 2>&1; true",
        ],
    );
    // 1:12 is no device: allowed, the open reaches the kernel, which finds no driver.
    assert_eq!(
        out,
        "log ok\nsh: can't create /tmp/x: No such device or address\n\
         head: /tmp/vda: Operation not permitted\n"
    );
}

#[test]
fn ulimit_and_shm_size_from_the_docker_cli_and_baleia_alike() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let args = [
        "run",
        "--rm",
        "--ulimit",
        "nofile=100:200",
        "--ulimit",
        "core=0",
        "--shm-size",
        "8m",
        "busybox",
        "sh",
        "-c",
        "ulimit -Sn; ulimit -Hn; ulimit -c; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2",
    ];
    let from_docker = ok(&daemon, &args);
    assert_eq!(from_docker, "100\n200\n0\n8192\n");
    let from_baleia = daemon.baleia(&args);
    assert!(from_baleia.status.success(), "{}", report(&from_baleia));
    assert_eq!(text(&from_baleia.stdout), from_docker);
    // Without --shm-size: Docker's 64 MiB.
    let default = ok(&daemon, &["run", "--rm", "busybox", "df", "-k", "/dev/shm"]);
    assert!(default.contains(" 65536 "), "{default}");

    // Refused at create, naming the limit: a hard limit above the kernel's ceiling for open
    // files (and above the daemon's own, which without CAP_SYS_RESOURCE is said first), a
    // name setrlimit(2) lacks.
    let too_many = daemon.docker(&["create", "--ulimit", "nofile=4000000000", "busybox"]);
    assert!(!too_many.status.success());
    assert!(
        text(&too_many.stderr).contains("RLIMIT_NOFILE: hard limit 4000000000 is above"),
        "{}",
        report(&too_many)
    );
    let unknown = daemon.baleia(&["create", "--ulimit", "files=1", "busybox"]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("HostConfig.Ulimits: unknown limit \"files\""),
        "{}",
        report(&unknown)
    );
    assert_eq!(
        ok(&daemon, &["ps", "-aq"]),
        "",
        "a refused create leaves no container"
    );
    drop(daemon);
    env.assert_no_leaks();
}

#[test]
fn add_host_lines_stay_in_etc_hosts_as_the_network_changes() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let net = format!("hosts-{}", env.marker());
    ok(
        &daemon,
        &["network", "create", "--subnet", "10.213.41.0/24", &net],
    );
    let run = |name: &str, extra: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name, "--network", &net];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sleep", "60"]);
        ok(&daemon, &args);
    };
    run(
        "first",
        &["--add-host", "db:10.1.2.3", "--add-host", "gw:host-gateway"],
    );
    // A second member makes chapter 07 rewrite the first one's hosts file: the lines stay.
    run("second", &[]);
    let hosts = ok(&daemon, &["exec", "first", "cat", "/etc/hosts"]);
    assert!(hosts.contains("10.1.2.3\tdb\n"), "{hosts}");
    assert!(hosts.contains("10.213.41.1\tgw\n"), "{hosts}");
    assert!(hosts.contains("\tsecond "), "{hosts}");
    // Without a network: in the file written at create, through baleia's own CLI too.
    let alone = daemon.baleia(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--add-host",
        "db:10.1.2.3",
        "busybox",
        "grep",
        "db",
        "/etc/hosts",
    ]);
    assert!(alone.status.success(), "{}", report(&alone));
    assert_eq!(text(&alone.stdout), "10.1.2.3\tdb\n");
    // This daemon has no default bridge: host-gateway has no gateway to be, and says so.
    let no_gateway = daemon.docker(&[
        "create",
        "--network",
        "none",
        "--add-host",
        "gw:host-gateway",
        "busybox",
    ]);
    assert!(
        text(&no_gateway.stderr).contains("host-gateway needs a bridge"),
        "{}",
        report(&no_gateway)
    );
    let bad = daemon.docker(&["create", "--add-host", "db:not-an-ip", "busybox"]);
    assert!(!bad.status.success());
    let bad_words = text(&bad.stderr);
    assert!(
        bad_words.contains("invalid") && bad_words.contains("not-an-ip"),
        "{}",
        report(&bad)
    );
    ok(&daemon, &["rm", "-f", "first", "second"]);
    ok(&daemon, &["network", "rm", &net]);
    drop(daemon);
    env.assert_no_leaks();
}

#[test]
fn update_changes_a_running_containers_cgroup_and_record() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "lim",
            "-m",
            "64m",
            "--pids-limit",
            "50",
            "busybox",
            "sleep",
            "60",
        ],
    );
    // Inside, the container's own cgroup (v2: one directory; v1: one per controller).
    let limits = || {
        ok(
            &daemon,
            &[
                "exec", "lim", "sh", "-c",
                "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; \
                 cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
            ],
        )
    };
    assert_eq!(limits(), "67108864\n50\n");
    let updated = ok(
        &daemon,
        &[
            "update",
            "-m",
            "128m",
            "--memory-swap",
            "-1",
            "--pids-limit",
            "20",
            "--restart",
            "on-failure:2",
            "lim",
        ],
    );
    assert_eq!(updated, "lim\n");
    assert_eq!(limits(), "134217728\n20\n");
    let shown = ok(
        &daemon,
        &[
            "inspect", "lim", "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        ],
    );
    assert_eq!(shown, "134217728 20 on-failure:2\n");
    // baleia's own CLI, the same call.
    let again = daemon.baleia(&["update", "--pids-limit", "30", "lim"]);
    assert!(again.status.success(), "{}", report(&again));
    assert_eq!(limits(), "134217728\n30\n");
    // What update does not take is named, and nothing changes.
    let refused = daemon.docker(&[
        "update",
        "--cpuset-cpus",
        "0",
        "--blkio-weight",
        "300",
        "lim",
    ]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("BlkioWeight, CpusetCpus cannot be updated"),
        "{}",
        report(&refused)
    );
    assert_eq!(limits(), "134217728\n30\n");
    // A stopped container keeps the new limits for its next start.
    ok(&daemon, &["stop", "-t", "0", "lim"]);
    ok(&daemon, &["update", "-m", "96m", "lim"]);
    ok(&daemon, &["start", "lim"]);
    assert_eq!(limits(), "100663296\n30\n");
    ok(&daemon, &["rm", "-f", "lim"]);
    drop(daemon);
    env.assert_no_leaks();
}

#[test]
fn run_rm_gives_output_and_exit_code() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let out: Output = daemon.docker(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo to stdout; echo to stderr >&2; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", report(&out));
    assert_eq!(text(&out.stdout), "to stdout\n");
    assert_eq!(text(&out.stderr), "to stderr\n");
    let missing = daemon.docker(&["run", "--rm", "busybox", "nosuch"]);
    assert_eq!(missing.status.code(), Some(127), "{}", report(&missing));
    assert!(text(&missing.stderr).contains("executable file not found"));
    let mut piped = assert_cmd::Command::new("docker");
    let input = piped
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", env.path().join("docker-config"))
        .env("BALEIA_TEST_MARK", env.marker())
        .args(["run", "-i", "--rm", "busybox", "tr", "a-z", "A-Z"])
        .write_stdin("piped in\n")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(text(&input.stdout), "PIPED IN\n", "{}", report(&input));
    let hello = ok(&daemon, &["run", "--rm", "hello-world"]);
    assert!(hello.contains("Hello from baleia!"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok(&daemon, &["ps", "-aq"]).is_empty() {
        assert!(Instant::now() < deadline, "--rm left containers");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn run_detached_ps_logs_stop_inspect_rm() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let id = ok(
        &daemon,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "busybox",
            "sh",
            "-c",
            "echo ready; exec sleep 100",
        ],
    );
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ok(&daemon, &["logs", "web"]).contains("ready") {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_snapshot!("docker_ps", redact(&ok(&daemon, &["ps"])));
    assert_eq!(
        ok(
            &daemon,
            &[
                "ps",
                "--filter",
                "name=web",
                "--format",
                "{{.Names}} {{.State}}"
            ]
        ),
        "web running\n"
    );
    let status = ok(
        &daemon,
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.Running}} {{.Name}} {{.Config.Image}}",
            "web",
        ],
    );
    assert_eq!(status, "running true /web busybox\n");
    let exec = daemon.docker(&["exec", "web", "sh", "-c", "echo in $HOSTNAME; exit 3"]);
    assert_eq!(exec.status.code(), Some(3), "{}", report(&exec));
    assert_eq!(text(&exec.stdout), format!("in {}\n", &id[..12]));
    assert_eq!(ok(&daemon, &["stop", "-t", "1", "web"]), "web\n");
    let status = ok(
        &daemon,
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            &id[..12],
        ],
    );
    assert_eq!(status, "exited 137\n");
    assert_eq!(ok(&daemon, &["rm", "web"]), "web\n");
    let gone = daemon.docker(&["inspect", "web"]);
    assert!(!gone.status.success());
}

#[test]
fn tag_inspect_and_rmi() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(&daemon, &["tag", "busybox", "mybox:v1"]);
    let tags = ok(
        &daemon,
        &[
            "image",
            "inspect",
            "--format",
            "{{.RepoTags}} {{.Config.Cmd}}",
            "mybox:v1",
        ],
    );
    assert_eq!(tags, "[busybox:latest mybox:v1] [sh]\n");
    assert_eq!(ok(&daemon, &["rmi", "mybox:v1"]), "Untagged: mybox:v1\n");
    let images = ok(&daemon, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images, "busybox:latest\n");
}

/// Debian's docker.io speaks API 1.41: the same calls under `/v1.41/` must work.
#[test]
fn an_api_1_41_client_works_too() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let old = [("DOCKER_API_VERSION", "1.41")];
    let version = daemon.docker_with(&old, &["version", "--format", "{{.Client.APIVersion}}"]);
    assert_eq!(text(&version.stdout), "1.41\n", "{}", report(&version));
    let run = daemon.docker_with(
        &old,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo old client; exit 2",
        ],
    );
    assert_eq!(run.status.code(), Some(2), "{}", report(&run));
    assert_eq!(text(&run.stdout), "old client\n");
    let images = daemon.docker_with(&old, &["images", "--format", "{{.Repository}}"]);
    assert_eq!(text(&images.stdout), "busybox\n", "{}", report(&images));
    let ps = daemon.docker_with(&old, &["ps", "-a", "--format", "{{.Names}}"]);
    assert!(ps.status.success(), "{}", report(&ps));
}

#[test]
fn run_it_gives_an_interactive_terminal() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    // The input comes a moment later: the shell first asks its terminal where the cursor is,
    // and would take input that came too early as the answer.
    let mut shell = assert_cmd::Command::new("sh");
    let output = shell
        .args([
            "-c",
            "(sleep 1; printf 'tty; stty size\\nexit 4\\n') | timeout -s KILL 30 script -qec 'stty rows 31 cols 90; docker run -it --rm busybox sh' /dev/null",
        ])
        .env("DOCKER_HOST", daemon.host())
        .env("DOCKER_CONFIG", env.path().join("docker-config"))
        .env("BALEIA_TEST_MARK", env.marker())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", report(&output));
    let out = text(&output.stdout).replace('\r', "");
    assert!(out.contains("/dev/pts/0\n31 90\n"), "{out}");
}

#[test]
fn volume_create_ls_inspect_rm_and_prune() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    assert_eq!(ok(&daemon, &["volume", "create", "data"]), "data\n");
    let anonymous = ok(&daemon, &["volume", "create"]);
    assert_eq!(anonymous.trim().len(), 64, "a random name: {anonymous}");
    let listed = ok(
        &daemon,
        &["volume", "ls", "--format", "{{.Driver}} {{.Name}}"],
    );
    assert!(listed.contains("local data\n"), "{listed}");
    let mountpoint = ok(
        &daemon,
        &["volume", "inspect", "--format", "{{.Mountpoint}}", "data"],
    );
    assert!(
        std::path::Path::new(mountpoint.trim()).is_dir(),
        "{mountpoint}"
    );
    assert_eq!(ok(&daemon, &["volume", "rm", "data"]), "data\n");
    let gone = daemon.docker(&["volume", "inspect", "data"]);
    assert!(!gone.status.success());
    assert!(
        text(&gone.stderr).contains("no such volume: data"),
        "{}",
        report(&gone)
    );
    let pruned = ok(&daemon, &["volume", "prune", "--all", "--force"]);
    assert!(pruned.contains(anonymous.trim()), "{pruned}");
    assert_eq!(ok(&daemon, &["volume", "ls", "-q"]), "");
    // The baleia client speaks the same calls.
    let out = daemon.baleia(&["volume", "create", "again"]);
    assert!(out.status.success(), "{}", report(&out));
    let listed = daemon.baleia(&["volume", "ls"]);
    assert_eq!(
        text(&listed.stdout),
        "DRIVER    VOLUME NAME\nlocal     again\n"
    );
    let removed = daemon.baleia(&["volume", "rm", "again"]);
    assert_eq!(text(&removed.stdout), "again\n", "{}", report(&removed));
}

#[test]
fn network_create_ls_inspect_rm() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    let bridge = format!("btcap{}", std::process::id() % 100_000);
    let name = format!("{bridge}-net");
    let option = format!("com.docker.network.bridge.name={bridge}");
    let id = ok(
        &daemon,
        &[
            "network",
            "create",
            "--subnet",
            "10.213.40.0/24",
            "-o",
            &option,
            &name,
        ],
    );
    assert_eq!(id.trim().len(), 64, "{id}");
    let result = std::panic::catch_unwind(|| {
        let listed = ok(
            &daemon,
            &["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.ID}}"],
        );
        assert!(
            listed.contains(&format!("{name} bridge {}", &id.trim()[..12])),
            "{listed}"
        );
        let subnet = ok(
            &daemon,
            &[
                "network",
                "inspect",
                "--format",
                "{{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).Gateway}}",
                &name,
            ],
        );
        assert_eq!(subnet, "10.213.40.0/24 10.213.40.1\n");
        assert!(
            std::path::Path::new(&format!("/sys/class/net/{bridge}")).exists(),
            "the bridge exists on the host"
        );
        let taken = daemon.docker(&["network", "create", "--subnet", "10.213.40.0/24", &name]);
        assert!(!taken.status.success(), "{}", report(&taken));
        // The baleia client lists it too.
        let listed = daemon.baleia(&["network", "ls"]);
        let line = format!("{:<14}{:<20}{:<10}local", &id.trim()[..12], name, "bridge");
        assert!(text(&listed.stdout).contains(&line), "{}", report(&listed));
    });
    assert_eq!(ok(&daemon, &["network", "rm", &name]), format!("{name}\n"));
    result.unwrap();
    assert!(
        !std::path::Path::new(&format!("/sys/class/net/{bridge}")).exists(),
        "the bridge went with the network"
    );
    let rules = std::process::Command::new("iptables-save")
        .output()
        .unwrap();
    assert!(
        !text(&rules.stdout).contains(&bridge),
        "rules left for {bridge}"
    );
}

#[test]
fn piped_pull_push_and_load_print_what_the_docker_cli_prints_and_q_only_the_name() {
    let env = TestEnv::new();
    let registry = harness::registry::distribution(&env);
    let remote = harness::registry::busybox_pushed(&env, &registry);
    let daemon = Daemon::start(&env);

    // Piped, both print the steps without byte counts, then the digest, status and name.
    let docker = ok(&daemon, &["pull", &remote]);
    ok(&daemon, &["rmi", &remote]);
    let baleia = baleia_ok(&daemon, &["pull", &remote]);
    assert_eq!(baleia, docker);
    let lines: Vec<&str> = baleia.lines().collect();
    assert_eq!(lines[0], "1: Pulling from lib/busybox", "{baleia}");
    assert!(lines[1].ends_with(": Pulling fs layer"), "{baleia}");
    assert!(
        baleia.contains(": Pull complete\nDigest: sha256:"),
        "{baleia}"
    );
    assert!(
        !baleia.contains("Downloading"),
        "no byte counts when piped: {baleia}"
    );
    assert_eq!(lines.last(), Some(&remote.as_str()), "{baleia}");

    // -q: the name alone, from both.
    ok(&daemon, &["rmi", &remote]);
    assert_eq!(
        baleia_ok(&daemon, &["pull", "-q", &remote]),
        format!("{remote}\n")
    );
    ok(&daemon, &["rmi", &remote]);
    assert_eq!(ok(&daemon, &["pull", "-q", &remote]), format!("{remote}\n"));

    // `run` pulls what is missing, its steps on stderr; -q keeps them to itself.
    ok(&daemon, &["rmi", &remote]);
    let run = daemon.baleia(&["run", "--rm", &remote, "echo", "hi"]);
    assert_eq!(text(&run.stdout), "hi\n", "{}", report(&run));
    assert!(
        text(&run.stderr).contains("Pull complete"),
        "{}",
        report(&run)
    );
    ok(&daemon, &["rmi", &remote]);
    let quiet = daemon.baleia(&["run", "-q", "--rm", &remote, "echo", "hi"]);
    assert_eq!(text(&quiet.stdout), "hi\n", "{}", report(&quiet));
    assert_eq!(
        text(&quiet.stderr),
        format!("Unable to find image '{remote}' locally\n"),
        "as docker's, only that line"
    );

    // push: the steps, then the tag's digest; the same as docker's once the layer is there.
    let other = remote.replace("lib/busybox:1", "lib/copy:2");
    ok(&daemon, &["tag", &remote, &other]);
    let first = baleia_ok(&daemon, &["push", &other]);
    assert!(
        first.starts_with(&format!(
            "The push refers to repository [{}]\n",
            other.trim_end_matches(":2")
        )),
        "{first}"
    );
    assert!(first.contains(": Preparing\n"), "{first}");
    assert!(first.contains(": Mounted from lib/busybox\n"), "{first}");
    assert!(first.contains("2: digest: sha256:"), "{first}");
    assert_eq!(
        baleia_ok(&daemon, &["push", &other]),
        ok(&daemon, &["push", &other])
    );
    assert_eq!(
        baleia_ok(&daemon, &["push", "-q", &other]),
        format!("{other}\n")
    );

    // load -q: only the `Loaded image:` lines, as docker's.
    let archive = env.path().join("copy.tar");
    baleia_ok(&daemon, &["save", "-o", archive.to_str().unwrap(), &other]);
    ok(&daemon, &["rmi", &other]);
    let loaded = baleia_ok(&daemon, &["load", "-q", "-i", archive.to_str().unwrap()]);
    assert!(
        loaded.lines().all(|l| l.starts_with("Loaded image: "))
            && loaded.contains(&format!("Loaded image: {other}\n")),
        "{loaded}"
    );

    // The lists' -q: ids (names for volumes) alone, as docker's.
    ok(&daemon, &["volume", "create", "quiet-volume"]);
    for args in [
        &["images", "-q"][..],
        &["ps", "-aq"],
        &["volume", "ls", "-q"],
        &["network", "ls", "-q"],
    ] {
        assert_eq!(baleia_ok(&daemon, args), ok(&daemon, args), "{args:?}");
    }
}

#[test]
fn pull_from_a_local_registry_then_run_it() {
    let env = TestEnv::new();
    let registry = harness::registry::distribution(&env);
    let remote = harness::registry::busybox_pushed(&env, &registry);

    let daemon = Daemon::start(&env);
    let pulled = ok(&daemon, &["pull", &remote]);
    assert!(pulled.contains("Pull complete"), "{pulled}");
    assert!(
        pulled.contains(&format!("Downloaded newer image for {remote}")),
        "{pulled}"
    );
    assert_eq!(
        ok(&daemon, &["run", "--rm", &remote, "echo", "pulled"]),
        "pulled\n"
    );
    let again = daemon.baleia(&["pull", &remote]);
    assert!(
        text(&again.stdout).contains("Already exists")
            && text(&again.stdout).contains("Image is up to date"),
        "{}",
        report(&again)
    );
    let missing = daemon.docker(&["pull", &format!("{}/lib/nothing:1", registry.addr)]);
    assert!(!missing.status.success(), "{}", report(&missing));
    assert!(
        text(&missing.stderr).contains("MANIFEST_UNKNOWN"),
        "{}",
        report(&missing)
    );
}

#[test]
fn run_with_a_published_port_a_network_and_volumes() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let bridge = format!("btcdk{}", std::process::id() % 100_000);
    let option = format!("com.docker.network.bridge.name={bridge}");
    ok(
        &daemon,
        &[
            "network",
            "create",
            "--subnet",
            "10.213.46.0/24",
            "-o",
            &option,
            &bridge,
        ],
    );
    let result = std::panic::catch_unwind(|| {
        let site = env.path().join("site");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(site.join("index.html"), "served to docker\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let id = ok(
            &daemon,
            &[
                "run",
                "-d",
                "--name",
                "web",
                "--network",
                &bridge,
                "--dns",
                "127.0.0.1",
                "-p",
                &format!("127.0.0.1:{port}:80"),
                "-v",
                &format!("{}:/www:ro", site.display()),
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/www",
            ],
        );
        assert_eq!(id.trim().len(), 64, "{id}");
        assert_eq!(page(port, "/index.html"), "served to docker\n");
        assert_eq!(
            ok(&daemon, &["port", "web"]),
            format!("80/tcp -> 127.0.0.1:{port}\n")
        );
        // Debian's docker.io client (API 1.41) reads the same.
        let old = daemon.docker_with(&[("DOCKER_API_VERSION", "1.41")], &["port", "web", "80"]);
        assert_eq!(
            String::from_utf8_lossy(&old.stdout),
            format!("127.0.0.1:{port}\n"),
            "{}",
            report(&old)
        );
        let address = ok(
            &daemon,
            &[
                "inspect",
                "--format",
                &format!("{{{{(index .NetworkSettings.Networks \"{bridge}\").IPAddress}}}}"),
                "web",
            ],
        );
        assert!(address.starts_with("10.213.46."), "{address}");
        let ps = ok(&daemon, &["ps", "--format", "{{.Names}} {{.Ports}}"]);
        assert_eq!(ps, format!("web 127.0.0.1:{port}->80/tcp\n"));
        // A named volume written by one container, read by the next.
        ok(
            &daemon,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                "notes:/data",
                "busybox",
                "sh",
                "-c",
                "echo kept > /data/f",
            ],
        );
        let read = ok(
            &daemon,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "-v",
                "notes:/data:ro",
                "busybox",
                "cat",
                "/data/f",
            ],
        );
        assert_eq!(read, "kept\n");
        ok(&daemon, &["rm", "-f", "web"]);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the port closed with the container"
        );
        assert_eq!(ok(&daemon, &["volume", "rm", "notes"]), "notes\n");
    });
    let _ = daemon.docker(&["rm", "-f", "web"]);
    let removed = daemon.docker(&["network", "rm", &bridge]);
    result.unwrap();
    assert!(removed.status.success(), "{}", report(&removed));
    assert!(
        !std::path::Path::new(&format!("/sys/class/net/{bridge}")).exists(),
        "the bridge went with the network"
    );
}

#[test]
fn build_with_the_classic_builder() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let dir = env.path().join("context");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM busybox\nCOPY hello.txt /app/\nRUN echo hello from RUN > /app/made.txt\n\
         CMD [\"cat\", \"/app/hello.txt\", \"/app/made.txt\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from the context\n").unwrap();
    let output = daemon.docker_with(
        &[("DOCKER_BUILDKIT", "0")],
        &["build", "-t", "app:docker", dir.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", report(&output));
    // DOCKER_BUILDKIT=0: docker 28 warns that the legacy builder is deprecated, then uses
    // the classic `POST /build` and prints its stream.
    assert!(text(&output.stdout).contains("Successfully tagged app:docker"));
    assert_eq!(
        ok(&daemon, &["run", "--rm", "app:docker"]),
        "hello from the context\nhello from RUN\n"
    );
}

#[test]
fn import_system_df_and_prunes() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let tar = harness::busybox_tar(&env);
    let imported = ok(
        &daemon,
        &[
            "import",
            "-c",
            "CMD [\"echo\", \"imported\"]",
            tar.to_str().unwrap(),
            "imp:1",
        ],
    );
    assert!(imported.starts_with("sha256:"), "{imported}");
    assert_eq!(ok(&daemon, &["run", "--rm", "imp:1"]), "imported\n");
    ok(&daemon, &["run", "--name", "stopped", "busybox", "true"]);
    let df = ok(
        &daemon,
        &[
            "system",
            "df",
            "--format",
            "{{.Type}} {{.TotalCount}} {{.Active}}",
        ],
    );
    assert_eq!(
        df,
        "Images 2 1\nContainers 1 0\nLocal Volumes 0 0\nBuild Cache 0 0\n"
    );
    let pruned = ok(&daemon, &["container", "prune", "-f"]);
    assert!(pruned.contains("Deleted Containers:"), "{pruned}");
    let pruned = ok(&daemon, &["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("untagged: imp:1"), "{pruned}");
    assert!(pruned.contains("untagged: busybox:latest"), "{pruned}");
    assert_eq!(ok(&daemon, &["images", "-q"]), "");
}

#[test]
fn save_load_export_and_cp_stream_through_the_docker_cli() {
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let path = |name: &str| env.path().join(name).to_str().unwrap().to_string();
    // A few MiB, so each body takes many chunks.
    let data: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(path("data"), &data).unwrap();
    ok(&daemon, &["create", "--name", "box", "busybox", "true"]);
    ok(&daemon, &["cp", &path("data"), "box:/data"]);
    ok(&daemon, &["cp", "box:/data", &path("back")]);
    assert!(
        std::fs::read(path("back")).unwrap() == data,
        "cp changed the file"
    );

    ok(&daemon, &["export", "-o", &path("box.tar"), "box"]);
    let listing = std::process::Command::new("tar")
        .args(["-tf", &path("box.tar")])
        .output()
        .unwrap();
    let listing = text(&listing.stdout);
    assert!(
        listing.lines().any(|l| l == "data") && listing.lines().any(|l| l == "bin/busybox"),
        "{listing}"
    );

    ok(&daemon, &["save", "-o", &path("busybox.tar"), "busybox"]);
    ok(&daemon, &["rm", "box"]);
    ok(&daemon, &["rmi", "busybox"]);
    let loaded = ok(&daemon, &["load", "-i", &path("busybox.tar")]);
    assert!(loaded.contains("Loaded image: busybox:latest"), "{loaded}");
    assert_eq!(
        ok(&daemon, &["run", "--rm", "busybox", "echo", "loaded"]),
        "loaded\n"
    );
    // An unknown container: an error from the daemon, not a cut stream.
    let missing = daemon.docker(&["export", "-o", &path("none.tar"), "no-such-box"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("No such container"),
        "{}",
        report(&missing)
    );
}
