//! The same Docker Engine API requests sent to the real Docker Engine on this machine
//! (`/var/run/docker.sock`) and to a baleia daemon the test starts, with the answers compared
//! on what a client relies on: status codes, error messages, the keys of list items and
//! inspect objects, and what each filter selects. Both engines run the same image: the busybox
//! fixture, saved from baleia and loaded into dockerd as `baleia-diff-busybox:<marker>`.
//!
//! dockerd is only touched through its API, on objects this test names and creates; a guard
//! removes them all when the test ends, passed or failed. Without a dockerd answering, the
//! test says so and passes without running. A difference fails the test unless it is in
//! [`KNOWN`] (and, with its reason, in docs/compat.md).
//! Run: `cargo test -p baleia-tests --test capstone_diff` (as root).

use harness::capstone::Daemon;
use harness::TestEnv;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const DOCKERD: &str = "/var/run/docker.sock";

/// Differences left on purpose: (check, reason). Each is in docs/compat.md.
const KNOWN: &[(&str, &str)] = &[
    (
        "image inspect",
        "no `Container` (deprecated, gone in Docker 25); `Descriptor` (Docker 25+)",
    ),
    (
        "container inspect Config",
        "no `OnBuild`; empty `ExposedPorts`, `StopSignal`, `StopTimeout` shown",
    ),
    (
        "container inspect HostConfig",
        "only the fields baleia implements (the others are refused at create)",
    ),
    (
        "images dangling=maybe message",
        "dockerd 20.10 capitalises and prints the values as a list",
    ),
    (
        "containers filter unknown key message",
        "dockerd 20.10 capitalises `Invalid filter`; 23+ does not",
    ),
    ("containers filter bad status message", "the same capital"),
    ("networks filter unknown key message", "the same capital"),
    ("volumes filter unknown key message", "the same capital"),
    (
        "containers filters=notjson status",
        "dockerd 20.10 answers 500 to filters that are not JSON; baleia 400",
    ),
    (
        "inspect unknown image message",
        "dockerd 20.10 repeats the name first; baleia has 23+'s words",
    ),
    (
        "inspect unknown volume message",
        "chapter 07's words, `no such volume: NAME`",
    ),
    (
        "remove unknown volume message",
        "chapter 07's words, `no such volume: NAME`",
    ),
    (
        "volume /Options",
        "`{}` where dockerd has null for a volume created without options",
    ),
];

/// One engine, spoken to over its socket with curl (API version 1.41, dockerd 20.10's).
struct Engine {
    name: &'static str,
    socket: PathBuf,
}

/// An answer: its status and body.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// An error's message, or the whole body when it has none.
    fn message(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v["message"].as_str().map(String::from))
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned())
    }
}

impl Engine {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let data = body.map(|b| b.to_string().into_bytes());
        self.send(method, path, "application/json", data.as_deref())
    }

    fn send(&self, method: &str, path: &str, content_type: &str, body: Option<&[u8]>) -> Answer {
        let mut curl = Command::new("curl");
        curl.args(["-sS", "--max-time", "120", "--unix-socket"])
            .arg(&self.socket)
            .args(["-X", method, "-o", "-", "-w", "\n%{http_code}"])
            .args(["-H", &format!("Content-Type: {content_type}")]);
        if body.is_some() {
            curl.args(["--data-binary", "@-"]);
        }
        let mut child = curl
            .arg(format!("http://localhost/v1.41{path}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run curl (scripts/install-test-deps installs it)");
        let mut stdin = child.stdin.take().unwrap();
        let data = body.unwrap_or_default().to_vec();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&data);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(
            output.status.success(),
            "curl {method} {path} on {}: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        let out = output.stdout;
        let split = out.iter().rposition(|&b| b == b'\n').unwrap();
        Answer {
            status: String::from_utf8_lossy(&out[split + 1..]).parse().unwrap(),
            body: out[..split].to_vec(),
        }
    }
}

/// What the test made in dockerd, removed when it is dropped (also when the test panics).
struct DockerdObjects {
    engine: Engine,
    containers: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
    images: Vec<String>,
}

impl Drop for DockerdObjects {
    fn drop(&mut self) {
        let e = &self.engine;
        for id in &self.containers {
            e.call("DELETE", &format!("/containers/{id}?force=1&v=1"), None);
        }
        for id in &self.networks {
            e.call("DELETE", &format!("/networks/{id}"), None);
        }
        for name in &self.volumes {
            e.call("DELETE", &format!("/volumes/{name}"), None);
        }
        for name in &self.images {
            e.call("DELETE", &format!("/images/{name}"), None);
        }
    }
}

/// Checks that compare both engines' answers and collect the differences.
struct Diff {
    differences: Vec<String>,
}

impl Diff {
    fn same<T: PartialEq + std::fmt::Debug>(&mut self, check: &str, docker: T, baleia: T) {
        if docker != baleia {
            self.differences
                .push(format!("{check}: dockerd {docker:?}, baleia {baleia:?}"));
        }
    }

    /// The keys of two objects: those dockerd has and baleia lacks, and the reverse.
    fn keys(&mut self, check: &str, docker: &Value, baleia: &Value) {
        let keys = |v: &Value| -> BTreeSet<String> {
            v.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        let (d, b) = (keys(docker), keys(baleia));
        let missing: Vec<_> = d.difference(&b).collect();
        let extra: Vec<_> = b.difference(&d).collect();
        if !missing.is_empty() || !extra.is_empty() {
            self.differences.push(format!(
                "{check}: keys baleia lacks {missing:?}, keys only baleia has {extra:?}"
            ));
        }
    }

    /// Status codes and error messages of the same failing request.
    fn error(&mut self, check: &str, docker: &Answer, baleia: &Answer) {
        self.same(&format!("{check} status"), docker.status, baleia.status);
        self.same(
            &format!("{check} message"),
            docker.message(),
            baleia.message(),
        );
        if docker.status >= 400 {
            self.keys(
                &format!("{check} error body"),
                &docker.json(),
                &baleia.json(),
            );
        }
    }
}

fn dockerd_answers() -> bool {
    std::os::unix::net::UnixStream::connect(DOCKERD).is_ok()
        && Command::new("curl")
            .args(["-sf", "--max-time", "5", "--unix-socket", DOCKERD])
            .arg("http://localhost/_ping")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// A name list of a list answer: containers' `Names[0]`, networks' and volumes' `Name`.
fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|item| {
            item["Names"][0]
                .as_str()
                .or(item["Name"].as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// The frames of a multiplexed log stream (an 8-byte header: stream, 0, 0, 0, length), sorted.
fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while body.len() >= 8 {
        let length = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
        let end = (8 + length).min(body.len());
        frames.push((body[0], body[8..end].to_vec()));
        body = &body[end..];
    }
    frames.sort();
    frames
}

fn query(filters: Value) -> String {
    let text = filters.to_string();
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[test]
fn the_same_requests_answer_the_same_on_dockerd_and_baleia() {
    if !dockerd_answers() {
        eprintln!("SKIPPED: no Docker Engine answers on {DOCKERD}: nothing to compare with");
        return;
    }
    let env = TestEnv::new();
    let daemon = Daemon::start(&env);
    daemon.import_busybox();
    let mark = env.marker().replace("baleia-test-", "m");
    let image = format!("baleia-diff-busybox:{mark}");
    let baleia = Engine {
        name: "baleia",
        socket: daemon.socket.clone(),
    };
    let mut objects = DockerdObjects {
        engine: Engine {
            name: "dockerd",
            socket: PathBuf::from(DOCKERD),
        },
        containers: Vec::new(),
        networks: Vec::new(),
        volumes: Vec::new(),
        images: Vec::new(),
    };
    load_image(&baleia, &mut objects, &image);
    let mut diff = Diff {
        differences: Vec::new(),
    };
    let engines = [&objects.engine, &baleia];

    // Images: the same id, and the filters select the same.
    let by_ref = format!(
        "/images/json?filters={}",
        query(json!({ "reference": [&image] }))
    );
    let [d, b] = engines.map(|e| e.call("GET", &by_ref, None));
    diff.same("images by reference status", d.status, b.status);
    let (d, b) = (d.json(), b.json());
    diff.same(
        "images by reference count",
        d.as_array().map(Vec::len),
        b.as_array().map(Vec::len),
    );
    diff.same("image id", &d[0]["Id"], &b[0]["Id"]);
    diff.same("image RepoTags", &d[0]["RepoTags"], &b[0]["RepoTags"]);
    diff.keys("images list item", &d[0], &b[0]);
    let [d, b] = engines.map(|e| e.call("GET", &format!("/images/{image}/json"), None));
    diff.same("image inspect status", d.status, b.status);
    diff.keys("image inspect", &d.json(), &b.json());
    diff.same(
        "image Config.Cmd",
        &d.json()["Config"]["Cmd"],
        &b.json()["Config"]["Cmd"],
    );
    let bad = format!(
        "/images/json?filters={}",
        query(json!({ "dangling": ["maybe"] }))
    );
    let [d, b] = engines.map(|e| e.call("GET", &bad, None));
    diff.error("images dangling=maybe", &d, &b);

    // Containers: two labelled ones, one started; create, inspect, list, wait, logs, rm.
    let mut ids = [Vec::new(), Vec::new()];
    for (role, cmd) in [
        ("a", json!(["sh", "-c", "echo out; echo err >&2; exit 3"])),
        ("b", json!(["true"])),
    ] {
        let name = format!("baleia-diff-{mark}-{role}");
        let body = json!({
            "Image": image,
            "Cmd": cmd,
            "Labels": { "baleia.diff": mark, "role": role },
            "HostConfig": { "NetworkMode": "none" },
        });
        let [d, b] = engines.map(|e| {
            e.call(
                "POST",
                &format!("/containers/create?name={name}"),
                Some(&body),
            )
        });
        if d.status == 201 {
            objects
                .containers
                .push(d.json()["Id"].as_str().unwrap().to_string());
        }
        diff.same(&format!("create {role} status"), d.status, b.status);
        diff.keys("create answer", &d.json(), &b.json());
        ids[0].push(d.json()["Id"].as_str().unwrap_or_default().to_string());
        ids[1].push(b.json()["Id"].as_str().unwrap_or_default().to_string());
    }
    let a = format!("baleia-diff-{mark}-a");
    let [d, b] = engines.map(|e| e.call("GET", &format!("/containers/{a}/json"), None));
    let (d, b) = (d.json(), b.json());
    diff.keys("container inspect", &d, &b);
    diff.keys("container inspect State", &d["State"], &b["State"]);
    diff.keys("container inspect Config", &d["Config"], &b["Config"]);
    diff.keys(
        "container inspect HostConfig",
        &d["HostConfig"],
        &b["HostConfig"],
    );
    for pointer in [
        "/Name",
        "/Path",
        "/Args",
        "/State/Status",
        "/State/ExitCode",
        "/State/Running",
        "/Config/Labels",
        "/Config/Cmd",
        "/Config/Image",
        "/HostConfig/NetworkMode",
        "/RestartCount",
    ] {
        diff.same(
            &format!("container inspect {pointer}"),
            d.pointer(pointer),
            b.pointer(pointer),
        );
    }
    let list = |filters: Value| format!("/containers/json?all=1&filters={}", query(filters));
    for (check, filters) in [
        (
            "label AND",
            json!({ "label": [format!("baleia.diff={mark}"), "role=a"] }),
        ),
        (
            "label key",
            json!({ "label": ["baleia.diff"], "name": [format!("baleia-diff-{mark}")] }),
        ),
        (
            "status created",
            json!({ "status": ["created"], "label": [format!("baleia.diff={mark}")] }),
        ),
        (
            "name regexp",
            json!({ "name": [format!("^/baleia-diff-{mark}-b$")] }),
        ),
        ("ancestor", json!({ "ancestor": [&image] })),
        (
            "label map form",
            json!({ "label": { format!("baleia.diff={mark}"): true } }),
        ),
    ] {
        let [d, b] = engines.map(|e| e.call("GET", &list(filters.clone()), None));
        diff.same(&format!("containers {check} status"), d.status, b.status);
        diff.same(
            &format!("containers {check}"),
            names(&d.json()),
            names(&b.json()),
        );
        if let (Some(d0), Some(b0)) = (d.json().get(0), b.json().get(0)) {
            diff.keys("containers list item", d0, b0);
        }
    }
    for (check, filters) in [
        ("unknown key", json!({ "colour": ["red"] })),
        ("bad status", json!({ "status": ["sleeping"] })),
    ] {
        let [d, b] = engines.map(|e| e.call("GET", &list(filters.clone()), None));
        diff.error(&format!("containers filter {check}"), &d, &b);
    }
    let [d, b] = engines.map(|e| e.call("GET", "/containers/json?filters=notjson", None));
    diff.same("containers filters=notjson status", d.status, b.status);

    let [d, b] = engines.map(|e| e.call("POST", &format!("/containers/{a}/start"), None));
    diff.same("start status", d.status, b.status);
    let [d, b] = engines.map(|e| e.call("POST", &format!("/containers/{a}/wait"), None));
    diff.same("wait status", d.status, b.status);
    diff.same(
        "wait StatusCode",
        &d.json()["StatusCode"],
        &b.json()["StatusCode"],
    );
    diff.keys("wait answer", &d.json(), &b.json());
    let [d, b] = engines.map(|e| {
        e.call(
            "GET",
            &format!("/containers/{a}/logs?stdout=1&stderr=1"),
            None,
        )
    });
    diff.same("logs status", d.status, b.status);
    // The two pipes are read apart (in dockerd too): the frames' order across streams is a
    // race, so they are compared as a sorted list.
    diff.same("logs frames", frames(&d.body), frames(&b.body));
    let [d, b] = engines.map(|e| e.call("GET", &format!("/containers/{a}/logs?stdout=1"), None));
    diff.same("logs stdout only", d.body, b.body);
    let [d, b] = engines.map(|e| e.call("GET", &format!("/containers/{a}/json"), None));
    for pointer in [
        "/State/Status",
        "/State/ExitCode",
        "/State/Running",
        "/State/OOMKilled",
        "/State/Error",
    ] {
        diff.same(
            &format!("after wait {pointer}"),
            d.json().pointer(pointer).cloned(),
            b.json().pointer(pointer).cloned(),
        );
    }
    let exited = list(json!({ "status": ["exited"], "label": [format!("baleia.diff={mark}")] }));
    let [d, b] = engines.map(|e| e.call("GET", &exited, None));
    diff.same(
        "containers status exited",
        names(&d.json()),
        names(&b.json()),
    );
    diff.same(
        "containers list Status prefix",
        d.json()[0]["State"].clone(),
        b.json()[0]["State"].clone(),
    );
    let [d, b] = engines.map(|e| e.call("POST", &format!("/containers/{a}/start"), None));
    diff.same("start again status", d.status, b.status);
    let [d, b] = engines.map(|e| e.call("POST", &format!("/containers/{a}/stop"), None));
    diff.same("stop of an exited container status", d.status, b.status);

    // Unknown ids.
    let nope = format!("nope-{mark}");
    for (check, method, path) in [
        (
            "inspect unknown container",
            "GET",
            format!("/containers/{nope}/json"),
        ),
        (
            "start unknown container",
            "POST",
            format!("/containers/{nope}/start"),
        ),
        (
            "remove unknown container",
            "DELETE",
            format!("/containers/{nope}"),
        ),
        (
            "logs of unknown container",
            "GET",
            format!("/containers/{nope}/logs?stdout=1"),
        ),
        (
            "inspect unknown image",
            "GET",
            format!("/images/{nope}/json"),
        ),
        (
            "inspect unknown network",
            "GET",
            format!("/networks/{nope}"),
        ),
        (
            "remove unknown network",
            "DELETE",
            format!("/networks/{nope}"),
        ),
        ("inspect unknown volume", "GET", format!("/volumes/{nope}")),
        (
            "remove unknown volume",
            "DELETE",
            format!("/volumes/{nope}"),
        ),
        ("unknown exec", "GET", format!("/exec/{nope}/json")),
    ] {
        let [d, b] = engines.map(|e| e.call(method, &path, None));
        diff.error(check, &d, &b);
    }
    let body = json!({ "Image": format!("{nope}:latest"), "Cmd": ["true"] });
    let [d, b] = engines.map(|e| e.call("POST", "/containers/create", Some(&body)));
    diff.error("create of an unknown image", &d, &b);
    let body = json!({ "Image": image, "Cmd": ["true"], "HostConfig": { "NetworkMode": "none" } });
    let [d, b] =
        engines.map(|e| e.call("POST", &format!("/containers/create?name={a}"), Some(&body)));
    diff.same("create with a taken name status", d.status, b.status);

    // Removal: running needs force; removed is gone.
    for (i, (d_id, b_id)) in ids[0].iter().zip(&ids[1]).enumerate() {
        let d = objects
            .engine
            .call("DELETE", &format!("/containers/{d_id}"), None);
        let b = baleia.call("DELETE", &format!("/containers/{b_id}"), None);
        diff.same(&format!("remove container {i} status"), d.status, b.status);
    }
    let [d, b] = engines.map(|e| e.call("GET", &format!("/containers/{a}/json"), None));
    diff.same("inspect of a removed container status", d.status, b.status);

    // Networks with labels: create, list by label, inspect, a taken name, remove.
    let net = format!("baleia-diff-{mark}-net");
    let pid = std::process::id() % 10_000;
    let mut net_ids = Vec::new();
    for (engine, n, bridge) in [
        (engines[0], 86, format!("bd{pid}d")),
        (engines[1], 87, format!("bd{pid}b")),
    ] {
        let body = json!({
            "Name": net,
            "Driver": "bridge",
            "Labels": { "baleia.diff": mark },
            "Options": { "com.docker.network.bridge.name": bridge },
            "IPAM": { "Config": [{ "Subnet": format!("10.213.{n}.0/24") }] },
            "CheckDuplicate": true,
        });
        let answer = engine.call("POST", "/networks/create", Some(&body));
        assert_eq!(
            answer.status,
            201,
            "network create on {}: {}",
            engine.name,
            answer.message()
        );
        net_ids.push(answer);
    }
    objects
        .networks
        .push(net_ids[0].json()["Id"].as_str().unwrap().to_string());
    let engines = [&objects.engine, &baleia];
    diff.keys(
        "network create answer",
        &net_ids[0].json(),
        &net_ids[1].json(),
    );
    let by_label = format!(
        "/networks?filters={}",
        query(json!({ "label": [format!("baleia.diff={mark}")] }))
    );
    let [d, b] = engines.map(|e| e.call("GET", &by_label, None));
    diff.same("networks by label", names(&d.json()), names(&b.json()));
    diff.keys("networks list item", &d.json()[0], &b.json()[0]);
    let [d, b] = engines.map(|e| e.call("GET", &format!("/networks/{net}"), None));
    let (d, b) = (d.json(), b.json());
    diff.keys("network inspect", &d, &b);
    for pointer in [
        "/Name",
        "/Driver",
        "/Scope",
        "/Internal",
        "/EnableIPv6",
        "/Attachable",
        "/Labels",
        "/IPAM/Driver",
        "/Containers",
    ] {
        diff.same(
            &format!("network inspect {pointer}"),
            d.pointer(pointer),
            b.pointer(pointer),
        );
    }
    let body = json!({ "Name": net, "CheckDuplicate": true });
    let [d, b] = engines.map(|e| e.call("POST", "/networks/create", Some(&body)));
    if d.status == 201 {
        objects
            .networks
            .push(d.json()["Id"].as_str().unwrap().to_string());
    }
    diff.same(
        "network create with a taken name status",
        d.status,
        b.status,
    );
    let bad = format!("/networks?filters={}", query(json!({ "colour": ["red"] })));
    let [d, b] = engines.map(|e| e.call("GET", &bad, None));
    diff.error("networks filter unknown key", &d, &b);
    let [d, b] = engines.map(|e| e.call("DELETE", &format!("/networks/{net}"), None));
    diff.same("network remove status", d.status, b.status);

    // Volumes with labels.
    let vol = format!("baleia-diff-{mark}-vol");
    objects.volumes.push(vol.clone());
    let engines = [&objects.engine, &baleia];
    let body = json!({ "Name": vol, "Labels": { "baleia.diff": mark } });
    let [d, b] = engines.map(|e| e.call("POST", "/volumes/create", Some(&body)));
    diff.same("volume create status", d.status, b.status);
    let (d, b) = (d.json(), b.json());
    diff.keys("volume create answer", &d, &b);
    for pointer in ["/Name", "/Driver", "/Labels", "/Scope", "/Options"] {
        diff.same(
            &format!("volume {pointer}"),
            d.pointer(pointer),
            b.pointer(pointer),
        );
    }
    let by_label = format!(
        "/volumes?filters={}",
        query(json!({ "label": [format!("baleia.diff={mark}")] }))
    );
    let [d, b] = engines.map(|e| e.call("GET", &by_label, None));
    let (d, b) = (d.json(), b.json());
    diff.keys("volumes list answer", &d, &b);
    diff.same(
        "volumes by label",
        names(&d["Volumes"]),
        names(&b["Volumes"]),
    );
    diff.keys("volumes list item", &d["Volumes"][0], &b["Volumes"][0]);
    let bad = format!("/volumes?filters={}", query(json!({ "colour": ["red"] })));
    let [d, b] = engines.map(|e| e.call("GET", &bad, None));
    diff.error("volumes filter unknown key", &d, &b);
    let [d, b] = engines.map(|e| e.call("DELETE", &format!("/volumes/{vol}"), None));
    diff.same("volume remove status", d.status, b.status);

    drop(objects);
    let known: BTreeSet<&str> = KNOWN.iter().map(|(check, _)| *check).collect();
    let unlisted: Vec<&String> = diff
        .differences
        .iter()
        .filter(|d| !known.iter().any(|k| d.starts_with(&format!("{k}:"))))
        .collect();
    for d in &diff.differences {
        eprintln!("difference: {d}");
    }
    assert!(
        unlisted.is_empty(),
        "differences not listed in KNOWN (and docs/compat.md):\n{}",
        unlisted
            .iter()
            .map(|d| format!("  {d}\n"))
            .collect::<String>()
    );
    drop(daemon);
    env.assert_no_leaks();
}

/// Tag the busybox fixture in baleia as `image`, save it from there and load the archive into
/// dockerd: both engines then hold the same image, with the same id.
fn load_image(baleia: &Engine, objects: &mut DockerdObjects, image: &str) {
    let (repo, tag) = image.split_once(':').unwrap();
    let answer = baleia.call(
        "POST",
        &format!("/images/busybox:latest/tag?repo={repo}&tag={tag}"),
        None,
    );
    assert_eq!(answer.status, 201, "tag in baleia: {}", answer.message());
    // Only the test's name, as in dockerd (the same image there has no other tag of ours).
    let answer = baleia.call("DELETE", "/images/busybox:latest", None);
    assert_eq!(answer.status, 200, "untag in baleia: {}", answer.message());
    let archive = baleia.call("GET", &format!("/images/{image}/get"), None);
    assert_eq!(
        archive.status,
        200,
        "save from baleia: {}",
        archive.message()
    );
    objects.images.push(image.to_string());
    let answer = objects.engine.send(
        "POST",
        "/images/load?quiet=1",
        "application/x-tar",
        Some(&archive.body),
    );
    assert_eq!(
        answer.status,
        200,
        "load into dockerd: {}",
        String::from_utf8_lossy(&answer.body)
    );
}
