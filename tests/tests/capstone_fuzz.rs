//! The route fuzzer: random and mutated paths, queries and bodies sent to every route of a
//! running daemon for a bounded time (`BALEIA_FUZZ_SECS`, default 5; `BALEIA_FUZZ_SEED` replays
//! a run). What must hold, whatever was sent:
//!
//! - every request is answered (its status line arrives within 20 s: streams and hijacked
//!   connections answer their head at once, and may then go on);
//! - no handler panicked (the daemon logs a panic and answers 500: the log must have none);
//! - no 500 unless the engine said why (every error is Docker's `{"message": ...}`);
//! - the daemon's memory is flat (its RSS after, once its containers are gone, within a
//!   small slack of its RSS after a warm-up round);
//! - it still serves afterwards.
//!
//! Left out, because what they do reaches past the daemon's state root: `/build` and image
//! pulls and pushes (a mutated reference would go to a registry on the internet), `/auth`
//! (the same), and `POST /networks/create` (a mutated subnet would put a bridge on the host's
//! own addresses). Their input handling is covered by capstone_hardening.
//!
//! Run: `cargo test -p baleia-tests --test capstone_fuzz` (as root).

use harness::capstone::{ok, Daemon};
use harness::TestEnv;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A small xorshift generator: the run is replayable from its seed, with no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// Every route of `capstone/daemon/src/api.rs` but those left out (see the top), with `{}`
/// where a container, exec, image, volume or network name goes.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/_ping"),
    ("HEAD", "/_ping"),
    ("GET", "/version"),
    ("GET", "/info"),
    ("GET", "/events"),
    ("GET", "/system/df"),
    ("POST", "/containers/prune"),
    ("POST", "/images/prune"),
    ("POST", "/networks/prune"),
    ("GET", "/containers/json"),
    ("POST", "/containers/create"),
    ("GET", "/containers/{}/json"),
    ("POST", "/containers/{}/start"),
    ("POST", "/containers/{}/stop"),
    ("POST", "/containers/{}/restart"),
    ("POST", "/containers/{}/rename"),
    ("POST", "/containers/{}/pause"),
    ("POST", "/containers/{}/unpause"),
    ("POST", "/containers/{}/kill"),
    ("DELETE", "/containers/{}"),
    ("POST", "/containers/{}/wait"),
    ("GET", "/containers/{}/logs"),
    ("POST", "/containers/{}/attach"),
    ("GET", "/containers/{}/top"),
    ("GET", "/containers/{}/stats"),
    ("GET", "/containers/{}/archive"),
    ("HEAD", "/containers/{}/archive"),
    ("PUT", "/containers/{}/archive"),
    ("GET", "/containers/{}/changes"),
    ("POST", "/commit"),
    ("GET", "/images/get"),
    ("GET", "/images/{}/get"),
    ("POST", "/images/load"),
    ("POST", "/containers/{}/exec"),
    ("POST", "/exec/{}/start"),
    ("GET", "/exec/{}/json"),
    ("POST", "/exec/{}/resize"),
    ("POST", "/containers/{}/resize"),
    ("GET", "/images/json"),
    ("GET", "/images/{}/json"),
    ("GET", "/images/{}/history"),
    ("POST", "/images/{}/tag"),
    ("DELETE", "/images/{}"),
    ("GET", "/baleia/tree"),
    ("GET", "/baleia/system/check"),
    ("POST", "/images/create"),
    ("POST", "/build/prune"),
    ("POST", "/volumes/create"),
    ("GET", "/volumes"),
    ("POST", "/volumes/prune"),
    ("GET", "/volumes/{}"),
    ("DELETE", "/volumes/{}"),
    ("GET", "/networks"),
    ("POST", "/networks/{}/connect"),
    ("POST", "/networks/{}/disconnect"),
    ("GET", "/networks/{}"),
    ("DELETE", "/networks/{}"),
    // Not routes: what a confused client might ask.
    ("GET", "/containers"),
    ("PATCH", "/containers/{}/json"),
    ("GET", "/{}"),
];

/// Query keys the routes read, and values that are valid, edge or junk. `t`/`timeout` stay
/// small: a stop waits for them by design.
const QUERY_KEYS: &[&str] = &[
    "all",
    "filters",
    "name",
    "force",
    "v",
    "signal",
    "tail",
    "since",
    "until",
    "follow",
    "stdout",
    "stderr",
    "stream",
    "condition",
    "path",
    "repo",
    "tag",
    "container",
    "changes",
    "message",
    "limit",
    "fromSrc",
    "h",
    "w",
    "names",
    "timestamps",
    "stdin",
    "logs",
    "author",
    "comment",
    "size",
    "t",
];
const QUERY_VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "true",
    "false",
    "-1",
    "99999999999999999999",
    "SIGKILL",
    "SIGHUP",
    "0",
    "/",
    "/etc",
    "../../..",
    "fz",
    "busybox",
    "not-running",
    "removed",
    "next-exit",
    "%00",
    "%ff%fe",
    "{\"status\":[\"running\"]}",
    "{\"label\":[\"a=b\"]}",
    "{\"bogus\":[\"x\"]}",
    "{\"until\":[\"1h\"]}",
    "[1,2]",
    "{",
    "-",
    "1.5e9",
    "\u{1b}[31m",
    "x=y",
    "1",
    "2",
];

/// Bodies to mutate: what real clients send to the routes that read one.
fn seeds() -> Vec<Value> {
    vec![
        json!({
            "Image": "busybox", "Cmd": ["sleep", "1000"], "Env": ["A=1"], "Labels": { "fuzz": "1" },
            "Tty": false, "OpenStdin": false, "ExposedPorts": {}, "Volumes": {},
            "HostConfig": {
                "Memory": 0, "NanoCpus": 0, "PidsLimit": null, "Binds": null, "Tmpfs": { "/t": "" },
                "RestartPolicy": { "Name": "", "MaximumRetryCount": 0 }, "NetworkMode": "none",
                "LogConfig": { "Type": "", "Config": {} }, "ConsoleSize": [0, 0],
            },
            "NetworkingConfig": { "EndpointsConfig": {} },
        }),
        json!({ "AttachStdout": true, "AttachStderr": true, "Cmd": ["true"], "Tty": false, "Env": null }),
        json!({ "Detach": true, "Tty": false }),
        json!({ "Name": "fzvol", "Driver": "local", "Labels": { "a": "b" }, "DriverOpts": {} }),
        json!({ "Container": "fz", "EndpointConfig": { "Aliases": ["x"] } }),
        json!({ "Container": "fz", "Force": false }),
    ]
}

/// A value of another shape than the one it replaces.
fn junk(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => json!(rng.chance(2)),
        2 => json!(rng.next() as i64),
        3 => json!(-1),
        4 => json!(1e300),
        5 => json!(QUERY_VALUES[rng.below(QUERY_VALUES.len())]),
        6 => json!([]),
        7 => json!({ "Colour": "blue" }),
        _ => json!(["a", 1, null, {}]),
    }
}

/// Change a body a little: a value replaced, a key dropped or added, all at some depth.
fn mutate(rng: &mut Rng, value: &mut Value, depth: usize) {
    match value {
        Value::Object(map) if !map.is_empty() && depth < 4 => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            match rng.below(6) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    map.insert(format!("Unknown{}", rng.below(100)), junk(rng));
                }
                2 => {
                    map.insert(key, junk(rng));
                }
                _ => mutate(rng, map.get_mut(&key).unwrap(), depth + 1),
            }
        }
        Value::Array(list) if !list.is_empty() && depth < 4 => {
            let i = rng.below(list.len());
            mutate(rng, &mut list[i], depth + 1);
        }
        other => *other = junk(rng),
    }
}

fn body(rng: &mut Rng, seeds: &[Value]) -> Vec<u8> {
    match rng.below(10) {
        0 => Vec::new(),
        1 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
        2 => "[".repeat(rng.below(5000)).into_bytes(),
        3 => b"{\"Image\": \"busybox\", \"Cmd\": [\"sleep\", \"1000\"], \"HostConfig\": {\"NetworkMode\": \"none\"}}".to_vec(),
        _ => {
            let mut value = rng.pick(seeds).clone();
            for _ in 0..1 + rng.below(3) {
                mutate(rng, &mut value, 0);
            }
            value.to_string().into_bytes()
        }
    }
}

fn percent_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One request; the status of its answer, and the body when it was a complete response
/// (`None` for streams and hijacked connections, which are dropped once their head is in).
fn send(
    socket: &std::path::Path,
    method: &str,
    target: &str,
    body: &[u8],
) -> (u16, Option<Vec<u8>>) {
    let mut stream = UnixStream::connect(socket).expect("connect to the daemon");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // The daemon may answer (and close) before it has read the body: ignore EPIPE.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut data = Vec::new();
    let mut byte = [0u8; 1];
    while !data.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => data.push(byte[0]),
            other => panic!(
                "{method} {target} with {:?}: no answer ({other:?}; head so far {:?})",
                String::from_utf8_lossy(&body[..body.len().min(300)]),
                String::from_utf8_lossy(&data)
            ),
        }
    }
    let head = String::from_utf8_lossy(&data).into_owned();
    let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|l| l.trim().parse::<usize>().ok());
    // A HEAD answer announces a length it does not send.
    let Some(length) = length.filter(|_| method != "HEAD") else {
        return (status, None);
    };
    let mut answer = vec![0; length];
    stream.read_exact(&mut answer).expect("read the body");
    (status, Some(answer))
}

/// The daemon's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    harness::memory_kib(pid, "VmRSS").unwrap_or(0)
}

/// The names a path parameter may take: the test's own objects, and junk.
fn names(daemon: &Daemon) -> Vec<String> {
    let id = ok(daemon, &["inspect", "--format", "{{.Id}}", "fz"]);
    let mut names: Vec<String> = [
        "fz",
        "fzr",
        "busybox",
        "busybox:latest",
        "fzvol",
        "none",
        "bridge",
        "host",
        "",
        "x",
        "..",
        "%2e%2e",
        "a/b/c",
        "%00",
        "\u{1b}",
        "fz/json",
        "sha256:",
        "0",
        "-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.push(id.trim().to_string());
    names.push(id.trim()[..4].to_string());
    names.push("é".repeat(300));
    names
}

fn one_round(rng: &mut Rng, daemon: &Daemon, names: &[String], seeds: &[Value]) {
    let (method, template) = *rng.pick(ROUTES);
    let name = rng.pick(names).clone();
    let name = if rng.chance(2) {
        percent_encode(&name)
    } else {
        name
    };
    let mut target = template.replace("{}", &name);
    if rng.chance(3) {
        target = format!("/v1.{}{target}", 24 + rng.below(30));
    }
    let mut query = Vec::new();
    for _ in 0..rng.below(4) {
        let key = *rng.pick(QUERY_KEYS);
        let value = *rng.pick(QUERY_VALUES);
        // `since`/`until` of the events stream and the logs bound time: never wait on them.
        let value = if key == "t" { "1" } else { value };
        query.push(format!("{key}={}", percent_encode(value)));
    }
    if !query.is_empty() {
        target = format!("{target}?{}", query.join("&"));
    }
    let body = body(rng, seeds);
    let (status, answer) = send(&daemon.socket, method, &target, &body);
    assert!(status >= 100, "{method} {target}: no status");
    if let (true, Some(answer)) = (status >= 400, answer) {
        let message: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        assert!(
            message["message"].is_string() || method == "HEAD",
            "{method} {target}: {status} without Docker's message: {:?}",
            String::from_utf8_lossy(&answer)
        );
    }
}

/// The test's created container. `--pull never`: the fuzz may remove busybox, and no pull
/// may leave this machine.
const CREATE_FZ: [&str; 10] = [
    "create",
    "--pull",
    "never",
    "--name",
    "fz",
    "--network",
    "none",
    "busybox",
    "sleep",
    "1000",
];

#[test]
fn random_requests_to_every_route_never_hurt_the_daemon() {
    harness::require_root();
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    ok(&daemon, &CREATE_FZ);
    let run_fzr = [
        "run",
        "-d",
        "--name",
        "fzr",
        "--network",
        "none",
        "busybox",
        "sleep",
        "1000",
    ];
    ok(&daemon, &run_fzr);
    ok(&daemon, &["volume", "create", "fzvol"]);
    let pid = daemon.pid().unwrap();
    let seed: u64 = std::env::var("BALEIA_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let secs: u64 = std::env::var("BALEIA_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    eprintln!("capstone_fuzz: seed {seed} (BALEIA_FUZZ_SEED={seed} replays it), {secs} s");
    let mut rng = Rng(seed);
    let names = names(&daemon);
    let seeds = seeds();

    // A warm-up round, so the allocator's arenas and the daemon's caches are grown before
    // the memory is measured.
    for _ in 0..200 {
        one_round(&mut rng, &daemon, &names, &seeds);
    }
    let settle = |daemon: &Daemon| {
        // Streams (attach, logs -f, wait) of the test's containers end with them.
        let ids = daemon.baleia(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = daemon.baleia(&["rm", "-f", id]);
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    settle(&daemon);
    let before = rss_kib(pid);

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut requests = 0;
    while Instant::now() < deadline {
        if requests % 100 == 0 {
            // Keep the test's container there: the fuzz removes and renames it.
            let _ = daemon.baleia(&CREATE_FZ);
        }
        one_round(&mut rng, &daemon, &names, &seeds);
        requests += 1;
    }
    settle(&daemon);
    let after = rss_kib(pid);
    eprintln!("capstone_fuzz: {requests} requests; daemon RSS {before} KiB → {after} KiB");

    let log = daemon.log();
    assert!(
        !log.contains("panicked"),
        "a handler panicked (seed {seed}):\n{log}"
    );
    // Flat: a few MiB for what a thread per connection and two malloc arenas keep.
    assert!(
        after <= before + 8 * 1024 + before / 4,
        "the daemon's memory grew from {before} KiB to {after} KiB over {requests} requests (seed {seed})"
    );
    assert_eq!(send(&daemon.socket, "GET", "/_ping", b"").0, 200);
    daemon.import_busybox(); // the fuzz may have removed or retagged it
    let still = [
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "busybox",
        "echo",
        "still",
    ];
    assert_eq!(ok(&daemon, &still), "still\n");

    // What the fuzz made that lives outside the state root: networks (connect may not make
    // them, but remove whatever is there) and containers (the daemon's drop removes them).
    let networks = ok(&daemon, &["network", "ls", "-q"]);
    for network in networks.lines() {
        let _ = daemon.baleia(&["network", "rm", network]);
    }
}
