//! Chapter 06 — the registry. Everything on 127.0.0.1, on free ports: our client against the
//! CNCF distribution registry (`docker-registry`), skopeo against our server, our client
//! against our server (token auth, manifest lists), and against small fake registries in this
//! file that corrupt blobs or drop the connection half way. Run:
//! `cargo test -p baleia-tests --test ch06_registry` (as root).
//!
//! Every server a test starts carries the test's marker in its environment and is killed when
//! the test ends; the harness's leak check fails the test if one survives.

use harness::registry::{distribution, Server};
use harness::{assert_snapshot, busybox_tar, label_digests, report, TestEnv};
use sha2::{Digest as _, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

const BIN: &str = "ch06-registry";
/// 2025-11-28T17:00:00Z
const EPOCH: &str = "1764349200";

fn run_in(env: &TestEnv, root: &Path, args: &[&str]) -> Output {
    env.cmd(BIN)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("BALEIA_AUTH", root.join("auth.json"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run ch06-registry")
}

fn ok_in(env: &TestEnv, root: &Path, args: &[&str]) -> String {
    let output = run_in(env, root, args);
    assert!(output.status.success(), "{args:?}\n{}", report(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Redact what changes between runs: digests (as labels, equal digests equal labels), upload
/// ids (the same), ports.
fn redact(text: &str) -> String {
    let text = label_digests(text);
    // Upload ids: 32 hex digits.
    let mut labels: Vec<String> = Vec::new();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("/uploads/") {
        out.push_str(&rest[..at + 9]);
        rest = &rest[at + 9..];
        let id: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
        if id.len() == 32 {
            let n = match labels.iter().position(|l| *l == id) {
                Some(n) => n + 1,
                None => {
                    labels.push(id.clone());
                    labels.len()
                }
            };
            out.push_str(&format!("<upload-{n}>"));
            rest = &rest[32..];
        }
    }
    out.push_str(rest);
    // Ports.
    let mut result = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find("127.0.0.1:") {
        result.push_str(&rest[..at + 10]);
        rest = &rest[at + 10..];
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            result.push_str("[PORT]");
        }
        rest = &rest[digits..];
    }
    result.push_str(rest);
    result
}

/// The busybox fixture imported into `root` as `busybox:latest`; returns the image id.
fn import_busybox(env: &TestEnv, root: &Path) -> String {
    let tar = busybox_tar(env);
    let output = env
        .cmd("ch04-images")
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("--root")
        .arg(root)
        .args(["import", tar.to_str().unwrap(), "busybox:latest"])
        .args(["--change", r#"CMD ["/bin/sh"]"#])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// The manifest digest a tag points at in a chapter 04 store.
fn stored_manifest(root: &Path, tag: &str) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("oci/index.json")).unwrap()).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no tag {tag} in {index}"))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn blobs(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("oci/blobs/sha256"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `ch06-registry serve` on a free port, over its own root.
fn our_server(env: &TestEnv, root: &Path, extra: &[&str]) -> Server {
    let mut child = env
        .std_cmd(BIN)
        .arg("--root")
        .arg(root)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start ch06-registry serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server { child, addr }
}

/// One raw HTTP/1.1 request (Connection: close): status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let (status, _, body) = exchange(addr, method, path, headers, body);
    (status, body)
}

/// The same, with the answer's header block.
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&answer[9..12]).parse().unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    (status, head, answer[split + 4..].to_vec())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn push_to_the_cncf_registry_and_pull_into_a_fresh_root_gives_the_same_image_that_runs() {
    let env = TestEnv::new();
    let (src, dst) = (env.path().join("src"), env.path().join("dst"));
    let id = import_busybox(&env, &src);
    let registry = distribution(&env);
    let name = format!("{}/team/busybox", registry.addr);

    // First in 100 kB chunks (PATCH after PATCH), to a repository of its own.
    let chunked = run_in(
        &env,
        &src,
        &[
            "--explain",
            "push",
            "--chunk-size",
            "100000",
            "busybox",
            &format!("{}/chunked:v1", registry.addr),
        ],
    );
    assert!(chunked.status.success(), "{}", report(&chunked));
    let narration = String::from_utf8_lossy(&chunked.stderr);
    assert!(narration.matches("> PATCH ").count() > 5, "{narration}");
    assert!(
        narration.contains("Content-Range: 100000-199999"),
        "{narration}"
    );
    let chunked = String::from_utf8_lossy(&chunked.stdout);
    // Then to another repository of the same registry: mounted across, nothing uploaded.
    let pushed = ok_in(&env, &src, &["push", "busybox", &format!("{name}:v1")]);
    // Then under another tag: every blob is already there.
    let again = ok_in(&env, &src, &["push", "busybox", &format!("{name}:v2")]);
    let pulled = ok_in(&env, &dst, &["pull", &format!("{name}:v1")]);
    let again_pulled = ok_in(&env, &dst, &["pull", &format!("{name}:v2")]);
    // One tag a page, following the Link headers. The CNCF registry lists a repository's tags
    // in its storage directory's order (not sorted on every file system): sort them here.
    let mut tags: Vec<String> = ok_in(&env, &dst, &["tags", "--page", "1", &name])
        .lines()
        .map(|line| format!("{line}\n"))
        .collect();
    tags.sort();
    let tags = tags.concat();
    assert_snapshot!(redact(&format!(
        "$ push --chunk-size 100000 busybox chunked:v1\n{chunked}$ push busybox {name}:v1\n{pushed}\
         $ push busybox {name}:v2\n{again}$ pull {name}:v1\n{pulled}$ pull {name}:v2\n{again_pulled}$ tags --page 1 {name}\n{tags}"
    )));

    let tag = format!("{name}:v1");
    assert_eq!(
        stored_manifest(&src, "busybox:latest"),
        stored_manifest(&dst, &tag)
    );
    assert_eq!(
        blobs(&src),
        blobs(&dst),
        "the same blobs, byte for byte (same digests)"
    );
    let images = ok_in(&env, &dst, &["images"]);
    assert!(images.contains(&id["sha256:".len()..][..12]), "{images}");

    // The pulled image runs (chapter 04's run, through this chapter's binary).
    let container = format!("{}-pulled", env.marker());
    let output = run_in(
        &env,
        &dst,
        &[
            "run",
            "--name",
            &container,
            &tag,
            "--",
            "/bin/busybox",
            "echo",
            "pulled and running",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "pulled and running\n",
        "{}",
        report(&output)
    );
    drop(registry);
}

#[test]
fn skopeo_copies_into_and_out_of_our_server_with_identical_digests() {
    let env = TestEnv::new();
    let (src, served) = (env.path().join("src"), env.path().join("served"));
    import_busybox(&env, &src);
    let manifest = stored_manifest(&src, "busybox:latest");
    let archive = env.path().join("busybox.oci.tar");
    let output = env
        .cmd("ch04-images")
        .arg("--root")
        .arg(&src)
        .args(["save", "-o", archive.to_str().unwrap(), "busybox"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    let server = our_server(&env, &served, &[]);
    let remote = format!("docker://{}/skopeo/busybox:v1", server.addr);

    let skopeo = |args: &[&str]| {
        let output = Command::new("skopeo")
            .args(args)
            .output()
            .expect("run skopeo");
        assert!(
            output.status.success(),
            "skopeo {args:?}\n{}",
            report(&output)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci-archive:{}", archive.display()),
        &remote,
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", "--tls-verify=false", &remote])).unwrap();
    assert_eq!(inspect["Digest"], manifest.as_str());
    let out = env.path().join("out");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &remote,
        &format!("oci:{}:v1", out.display()),
    ]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], manifest.as_str());

    // Our client reads what skopeo wrote; the catalog and the error bodies follow the spec.
    let tags = ok_in(
        &env,
        &src,
        &["tags", &format!("{}/skopeo/busybox", server.addr)],
    );
    assert_eq!(tags, "v1\n");
    let (status, body) = http(&server.addr, "GET", "/v2/_catalog", &[], b"");
    assert_eq!(
        (status, String::from_utf8_lossy(&body).into_owned()),
        (200, r#"{"repositories":["skopeo/busybox"]}"#.to_string())
    );
    let (status, body) = http(
        &server.addr,
        "GET",
        "/v2/skopeo/busybox/manifests/nope",
        &[],
        b"",
    );
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains(r#""code":"MANIFEST_UNKNOWN""#));
    // An upload whose content does not match its digest is refused and leaves nothing.
    let wrong = format!(
        "/v2/skopeo/busybox/blobs/uploads/?digest=sha256:{}",
        sha256_hex(b"other")
    );
    let (status, body) = http(&server.addr, "POST", &wrong, &[], b"content");
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("DIGEST_INVALID"));
    assert!(!blobs(&served).contains(&sha256_hex(b"content")));
    assert_eq!(
        std::fs::read_dir(served.join("registry/uploads"))
            .unwrap()
            .count(),
        0
    );
    drop(server);
}

#[test]
fn the_token_flow_gets_a_token_and_a_wrong_password_is_a_clear_error() {
    let env = TestEnv::new();
    let (src, dst, served) = (
        env.path().join("src"),
        env.path().join("dst"),
        env.path().join("served"),
    );
    import_busybox(&env, &src);
    let server = our_server(
        &env,
        &served,
        &["--user", "alice:secret", "--token-auth", "--anonymous-pull"],
    );
    let target = format!("{}/private/busybox:v1", server.addr);

    let anonymous = run_in(&env, &src, &["push", "busybox", &target]);
    let wrong = env
        .cmd(BIN)
        .arg("--root")
        .arg(&src)
        .env("BALEIA_AUTH", src.join("auth.json"))
        .args(["login", &server.addr, "-u", "alice", "--password-stdin"])
        .write_stdin("guess\n")
        .output()
        .unwrap();
    let right = env
        .cmd(BIN)
        .arg("--root")
        .arg(&src)
        .env("BALEIA_AUTH", src.join("auth.json"))
        .args(["login", &server.addr, "-u", "alice", "--password-stdin"])
        .write_stdin("secret\n")
        .output()
        .unwrap();
    let pushed = run_in(&env, &src, &["push", "busybox", &target]);
    let creds = "--creds=alice:secret";
    let pulled = run_in(&env, &dst, &["pull", creds, &target]);
    let explained = run_in(&env, &dst, &["--explain", "inspect", creds, &target]);
    assert_snapshot!(redact(&format!(
        "$ push (not logged in)\n{}\n$ login -u alice (wrong password)\n{}\n$ login -u alice\n{}\n$ push\n{}\n$ pull --creds\n{}",
        report(&anonymous), report(&wrong), report(&right), report(&pushed), report(&pulled)
    )));
    // Anyone may pull: the client gets a pull-only token without credentials.
    let anonymous_root = env.path().join("anonymous");
    let anonymous_pull = run_in(&env, &anonymous_root, &["--explain", "pull", &target]);
    assert!(
        anonymous_pull.status.success(),
        "{}",
        report(&anonymous_pull)
    );
    assert!(String::from_utf8_lossy(&anonymous_pull.stderr).contains("(token request, anonymous)"));
    let narration = String::from_utf8_lossy(&explained.stderr);
    for step in [
        "< 401 Unauthorized",
        "WWW-Authenticate: Bearer realm=",
        "(token request, with Basic credentials)",
        "Authorization: Bearer <redacted>",
        "< 200 OK",
    ] {
        assert!(narration.contains(step), "no {step:?} in\n{narration}");
    }
    let auth = std::fs::read_to_string(src.join("auth.json")).unwrap();
    assert!(
        auth.contains(&server.addr) && auth.contains("YWxpY2U6c2VjcmV0"),
        "{auth}"
    );
    assert_eq!(
        stored_manifest(&src, "busybox:latest"),
        stored_manifest(&dst, &target)
    );
    drop(server);
}

#[test]
fn a_manifest_list_with_two_platforms_gives_each_platform_its_image() {
    let env = TestEnv::new();
    let (src, served) = (env.path().join("src"), env.path().join("served"));
    import_busybox(&env, &src);
    let server = our_server(&env, &served, &[]);
    let repo = format!("{}/multi/busybox", server.addr);
    ok_in(&env, &src, &["push", "busybox", &format!("{repo}:amd64")]);

    // An arm64 twin: the same layer, a config that says arm64; then an index of both.
    let amd64_manifest = std::fs::read(
        src.join("oci/blobs/sha256")
            .join(&stored_manifest(&src, "busybox:latest")[7..]),
    )
    .unwrap();
    let mut manifest: serde_json::Value = serde_json::from_slice(&amd64_manifest).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_string();
    let mut config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(src.join("oci/blobs/sha256").join(&config_digest[7..])).unwrap(),
    )
    .unwrap();
    config["architecture"] = "arm64".into();
    let config = serde_json::to_vec(&config).unwrap();
    let upload = format!(
        "/v2/multi/busybox/blobs/uploads/?digest=sha256:{}",
        sha256_hex(&config)
    );
    assert_eq!(http(&server.addr, "POST", &upload, &[], &config).0, 201);
    manifest["config"]["digest"] = format!("sha256:{}", sha256_hex(&config)).into();
    manifest["config"]["size"] = config.len().into();
    let arm64_manifest = serde_json::to_vec(&manifest).unwrap();
    let oci = ("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(
        http(
            &server.addr,
            "PUT",
            "/v2/multi/busybox/manifests/arm64",
            &[oci],
            &arm64_manifest
        )
        .0,
        201
    );
    let entry = |bytes: &[u8], arch: &str| {
        serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", sha256_hex(bytes)), "size": bytes.len(),
        "platform": {"os": "linux", "architecture": arch}})
    };
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(&arm64_manifest, "arm64"), entry(&amd64_manifest, "amd64")]}))
    .unwrap();
    let index_type = ("Content-Type", "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        http(
            &server.addr,
            "PUT",
            "/v2/multi/busybox/manifests/v1",
            &[index_type],
            &index
        )
        .0,
        201
    );

    let architecture = |root: &Path| {
        let out = env
            .cmd("ch04-images")
            .arg("--root")
            .arg(root)
            .args(["inspect", &format!("{repo}:v1")])
            .output()
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        config["architecture"].as_str().unwrap().to_string()
    };
    let (amd, arm) = (env.path().join("amd"), env.path().join("arm"));
    let default = ok_in(&env, &amd, &["pull", &format!("{repo}:v1")]);
    let chosen = ok_in(
        &env,
        &arm,
        &["pull", "--platform", "linux/arm64", &format!("{repo}:v1")],
    );
    let missing = run_in(
        &env,
        &arm,
        &["pull", "--platform", "linux/s390x", &format!("{repo}:v1")],
    );
    assert_eq!(
        (architecture(&amd).as_str(), architecture(&arm).as_str()),
        ("amd64", "arm64")
    );
    assert_eq!(
        stored_manifest(&amd, &format!("{repo}:v1")),
        format!("sha256:{}", sha256_hex(&amd64_manifest))
    );
    // Pulling the other platform under the same tag: the tag moves, the old image stays
    // as <none>, as in Docker.
    ok_in(
        &env,
        &amd,
        &["pull", "--platform", "linux/arm64", &format!("{repo}:v1")],
    );
    let images = ok_in(&env, &amd, &["images"]);
    assert_eq!(images.lines().count(), 3, "{images}");
    assert!(images.lines().any(|l| l.starts_with("<none>")), "{images}");
    assert_snapshot!(redact(&format!(
        "$ pull (default platform)\n{default}$ pull --platform linux/arm64\n{chosen}$ pull --platform linux/s390x\n{}",
        report(&missing)
    )));
    drop(server);
}

/// What a fake registry does wrong.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// Flips one byte of every blob it serves.
    Corrupt,
    /// Sends half of each blob, then closes the connection, once per blob; honours Range.
    DropHalfway,
    /// The same, but ignores Range: every answer is the whole blob, 200.
    DropHalfwayNoRange,
    /// Redirects every blob download to `/moved/<digest>` on itself (allowed: same registry).
    RedirectHere,
    /// Redirects every blob download off this machine's loopback: to 0.0.0.0 (which, were it
    /// followed, would still only reach this machine; the client must refuse before that).
    RedirectAway,
    /// Sends half of each blob, then nothing more, keeping the connection open: a registry
    /// that hangs.
    Stall,
    /// Sends each blob without a length, followed by zeros that never end.
    Endless,
    /// Sends half of each blob with a Content-Length that says so, every time: the registry's
    /// copy is truncated.
    Truncated,
    /// Answers manifests with JSON cut short.
    InvalidJson,
    /// Answers every blob with 404 BLOB_UNKNOWN: the manifest names blobs it does not have.
    MissingBlob,
}

/// A registry of a few lines serving one image from a chapter 04 store, badly. Returns its
/// address and the Range headers it was sent. (A thread of this test: it dies with it.)
fn fake_registry(root: &Path, fault: Fault) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let root = root.to_path_buf();
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ranges);
    // A blob path naming the image's layer (the config is a few hundred bytes).
    let blobs_dir = root.join("oci/blobs/sha256");
    let is_layer = move |path: &str| {
        path.rsplit_once("/blobs/sha256:").is_some_and(|(_, hex)| {
            std::fs::metadata(blobs_dir.join(hex)).is_ok_and(|m| m.len() > 4096)
        })
    };
    std::thread::spawn(move || {
        let mut dropped: Vec<String> = Vec::new();
        // The connections a stalling registry keeps open, saying nothing.
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range:") {
                    range = Some(v.trim().to_string());
                }
            }
            let path = request.split(' ').nth(1).unwrap_or("").to_string();
            let mut out = stream;
            let (status, content_type, mut body) = if path == "/v2/" {
                (200, "application/json", b"{}".to_vec())
            } else if path.contains("/manifests/") && fault == Fault::InvalidJson {
                (
                    200,
                    "application/vnd.oci.image.manifest.v1+json",
                    br#"{"schemaVersion": 2, "layers": [{"digest": "#.to_vec(),
                )
            } else if fault == Fault::MissingBlob && is_layer(&path) {
                (
                    404,
                    "application/json",
                    br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#
                        .to_vec(),
                )
            } else if let Some((_, tag)) = path.rsplit_once("/manifests/") {
                let digest = if tag.starts_with("sha256:") {
                    tag.to_string()
                } else {
                    stored_manifest(&root, &format!("busybox:{tag}"))
                };
                (
                    200,
                    "application/vnd.oci.image.manifest.v1+json",
                    std::fs::read(root.join("oci/blobs/sha256").join(&digest[7..])).unwrap(),
                )
            } else if let Some((_, digest)) = path
                .rsplit_once("/blobs/")
                .filter(|_| matches!(fault, Fault::RedirectHere | Fault::RedirectAway))
            {
                let to = match fault {
                    Fault::RedirectHere => format!("/moved/{digest}"),
                    _ => format!("http://0.0.0.0:1/{digest}"),
                };
                seen.lock().unwrap().push(to.clone());
                let head = format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = out.write_all(head.as_bytes());
                continue;
            } else if let Some(digest) = path.strip_prefix("/moved/") {
                (
                    200,
                    "application/octet-stream",
                    std::fs::read(root.join("oci/blobs/sha256").join(&digest[7..])).unwrap(),
                )
            } else if let Some((_, digest)) = path.rsplit_once("/blobs/") {
                let mut bytes =
                    std::fs::read(root.join("oci/blobs/sha256").join(&digest[7..])).unwrap();
                let half = bytes.len() / 2;
                // These faults hit the layer only, so that the error names one blob.
                let layer = bytes.len() > 4096;
                match fault {
                    Fault::Stall if layer => {
                        let head =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", bytes.len());
                        let _ = out.write_all(head.as_bytes());
                        let _ = out.write_all(&bytes[..half]);
                        held.push(out);
                        continue;
                    }
                    Fault::Endless if layer => {
                        let _ = out.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                        let _ = out.write_all(&bytes);
                        let zeros = vec![0u8; 64 * 1024];
                        // Until the client hangs up (or 1 GiB, not to run forever if it never
                        // does: the test would then fail on its own).
                        for _ in 0..16 * 1024 {
                            if out.write_all(&zeros).is_err() {
                                break;
                            }
                        }
                        continue;
                    }
                    Fault::Truncated if layer => bytes.truncate(half),
                    Fault::Corrupt => {
                        let middle = bytes.len() / 2;
                        bytes[middle] ^= 0xff;
                    }
                    Fault::DropHalfway | Fault::DropHalfwayNoRange
                        if !dropped.contains(&digest.to_string()) =>
                    {
                        dropped.push(digest.to_string());
                        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n", bytes.len());
                        let _ = out.write_all(head.as_bytes());
                        let _ = out.write_all(&bytes[..bytes.len() / 2]);
                        continue; // the stream is dropped: the connection closes half way
                    }
                    _ => {}
                }
                if let Some(r) = range.as_ref().filter(|_| fault == Fault::DropHalfway) {
                    seen.lock().unwrap().push(r.clone());
                    let start: usize = r
                        .trim_start_matches("bytes=")
                        .trim_end_matches('-')
                        .parse()
                        .unwrap();
                    let total = bytes.len();
                    let head = format!("HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{total}\r\nConnection: close\r\n\r\n", total - start, total - 1);
                    let _ = out.write_all(head.as_bytes());
                    let _ = out.write_all(&bytes[start..]);
                    continue;
                }
                (200, "application/octet-stream", bytes)
            } else {
                (
                    404,
                    "application/json",
                    br#"{"errors":[{"code":"UNSUPPORTED","message":"no"}]}"#.to_vec(),
                )
            };
            let head = format!("HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = out.write_all(head.as_bytes());
            let _ = out.write_all(&std::mem::take(&mut body));
        }
    });
    (addr, ranges)
}

#[test]
fn a_registry_that_corrupts_blobs_is_refused_and_the_store_is_unchanged() {
    let env = TestEnv::new();
    let (src, dst) = (env.path().join("src"), env.path().join("dst"));
    import_busybox(&env, &src);
    ok_in(&env, &dst, &["images"]); // an empty store, to compare with
    let before = (
        blobs(&dst),
        std::fs::read(dst.join("oci/index.json")).unwrap(),
    );
    let (addr, _) = fake_registry(&src, Fault::Corrupt);
    let output = run_in(&env, &dst, &["pull", &format!("{addr}/busybox:latest")]);
    assert_snapshot!(redact(&report(&output)));
    assert_eq!(
        (
            blobs(&dst),
            std::fs::read(dst.join("oci/index.json")).unwrap()
        ),
        before
    );
    assert_eq!(
        std::fs::read_dir(dst.join("tmp")).unwrap().count(),
        0,
        "no partial blob left"
    );
}

#[test]
fn a_registry_that_stalls_truncates_never_ends_or_sends_bad_json_is_a_clear_error_and_nothing_is_written(
) {
    let env = TestEnv::new();
    let (src, dst) = (env.path().join("src"), env.path().join("dst"));
    import_busybox(&env, &src);
    ok_in(&env, &dst, &["images"]); // an empty store, to compare with
    let before = (
        blobs(&dst),
        std::fs::read(dst.join("oci/index.json")).unwrap(),
    );
    let mut text = String::new();
    for (name, fault) in [
        ("stalls", Fault::Stall),
        ("never ends", Fault::Endless),
        ("is truncated", Fault::Truncated),
        ("sends invalid JSON", Fault::InvalidJson),
        ("misses a blob", Fault::MissingBlob),
    ] {
        let (addr, _) = fake_registry(&src, fault);
        let started = std::time::Instant::now();
        // A short timeout: a stalled read fails after 0.5 s and is retried like a drop.
        let output = run_in(
            &env,
            &dst,
            &[
                "pull",
                "--timeout",
                "0.5",
                &format!("{addr}/busybox:latest"),
            ],
        );
        assert!(!output.status.success(), "{name}: {}", report(&output));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{name}: took {:?}",
            started.elapsed()
        );
        text += &format!("$ pull from a registry that {name}\n{}", report(&output));
        // No image, no partial file. Blobs that arrived whole and verified (the config) are
        // kept for the next attempt, as Docker keeps finished layers; unused, the next gc
        // takes them. Nothing else may be new.
        assert_eq!(
            std::fs::read(dst.join("oci/index.json")).unwrap(),
            before.1,
            "{name}: the index changed"
        );
        assert_eq!(
            std::fs::read_dir(dst.join("tmp")).unwrap().count(),
            0,
            "{name}: a partial blob was left"
        );
        let kept: Vec<String> = blobs(&dst)
            .into_iter()
            .filter(|b| !before.0.contains(b))
            .collect();
        assert!(
            kept.iter().all(|b| blobs(&src).contains(b)),
            "{name}: {kept:?}"
        );
        let check = env
            .cmd("ch04-images")
            .arg("--root")
            .arg(&dst)
            .arg("check")
            .output()
            .unwrap();
        assert!(check.status.success(), "{name}: {}", report(&check));
    }
    // Byte counts of the busybox layer depend on the busybox build.
    let blurred: String = redact(&text)
        .split(' ')
        .map(|w| {
            if w.len() >= 5 && w.chars().all(|c| c.is_ascii_digit()) {
                "<N>"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    assert_snapshot!(blurred);
}

#[test]
fn a_dropped_blob_download_is_resumed_with_a_range_request() {
    let env = TestEnv::new();
    let (src, dst) = (env.path().join("src"), env.path().join("dst"));
    import_busybox(&env, &src);
    let (addr, ranges) = fake_registry(&src, Fault::DropHalfway);
    let output = run_in(
        &env,
        &dst,
        &["--explain", "pull", &format!("{addr}/busybox:latest")],
    );
    assert!(output.status.success(), "{}", report(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("retrying"), "{stderr}");
    assert_eq!(
        ranges.lock().unwrap().len(),
        2,
        "config and layer resumed: {:?}",
        ranges.lock().unwrap()
    );
    assert!(ranges.lock().unwrap().iter().all(|r| r != "bytes=0-"));
    assert_eq!(
        stored_manifest(&src, "busybox:latest"),
        stored_manifest(&dst, &format!("{addr}/busybox:latest"))
    );
    assert_eq!(blobs(&src), blobs(&dst));
}

#[test]
fn a_dropped_download_from_a_server_without_range_starts_over() {
    let env = TestEnv::new();
    let (src, dst) = (env.path().join("src"), env.path().join("dst"));
    import_busybox(&env, &src);
    let (addr, _) = fake_registry(&src, Fault::DropHalfwayNoRange);
    let output = run_in(
        &env,
        &dst,
        &["--explain", "pull", &format!("{addr}/busybox:latest")],
    );
    assert!(output.status.success(), "{}", report(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the server ignored the Range header"),
        "{stderr}"
    );
    assert_eq!(blobs(&src), blobs(&dst));
}

#[test]
fn malformed_references_are_refused_before_any_request() {
    let env = TestEnv::new();
    let root = env.path().join("root");
    let mut text = String::new();
    for reference in [
        "Busybox",
        "busybox:",
        "busybox@sha256:abc",
        "a//b",
        "localhost:5000/-x",
    ] {
        let output = run_in(&env, &root, &["pull", reference]);
        text += &format!("$ pull {reference}\n{}", report(&output));
    }
    assert_snapshot!(text);
}

#[test]
fn concurrent_pushes_of_one_image_are_safe_and_docker_schema2_images_pull() {
    let env = TestEnv::new();
    let (src, dst, served) = (
        env.path().join("src"),
        env.path().join("dst"),
        env.path().join("served"),
    );
    import_busybox(&env, &src);
    let server = our_server(&env, &served, &[]);
    // Four pushes of the same blobs at once, to one repository, in small chunks.
    let children: Vec<_> = (0..4)
        .map(|i| {
            env.std_cmd(BIN)
                .arg("--root")
                .arg(&src)
                .args(["push", "--chunk-size", "300000", "busybox"])
                .arg(format!("{}/same/busybox:t{i}", server.addr))
                .stdout(Stdio::null())
                .output_in_background()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", report(&output));
    }
    let tags = ok_in(
        &env,
        &dst,
        &[
            "tags",
            "--page",
            "3",
            &format!("{}/same/busybox", server.addr),
        ],
    );
    assert_eq!(tags, "t0\nt1\nt2\nt3\n");
    assert_eq!(
        std::fs::read_dir(served.join("registry/uploads"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(std::fs::read_dir(served.join("tmp")).unwrap().count(), 0);

    // skopeo converts the image to Docker's schema 2 on the way in; we pull that.
    let archive = env.path().join("busybox.oci.tar");
    let output = env
        .cmd("ch04-images")
        .arg("--root")
        .arg(&src)
        .args(["save", "-o", archive.to_str().unwrap(), "busybox"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    let remote = format!("{}/docker/busybox:v1", server.addr);
    let output = Command::new("skopeo")
        .args(["copy", "--format", "v2s2", "--dest-tls-verify=false"])
        .arg(format!("oci-archive:{}", archive.display()))
        .arg(format!("docker://{remote}"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    ok_in(&env, &dst, &["pull", &remote]);
    let digest = stored_manifest(&dst, &remote);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dst.join("oci/blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    // Chapter 04's save describes it with its own media type, not OCI's.
    let saved = env.path().join("saved.tar");
    let output = env
        .cmd("ch04-images")
        .arg("--root")
        .arg(&dst)
        .args(["save", "-o", saved.to_str().unwrap(), &remote])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", report(&output));
    let listing = Command::new("tar")
        .arg("-xOf")
        .arg(&saved)
        .arg("index.json")
        .output()
        .unwrap();
    let index: serde_json::Value = serde_json::from_slice(&listing.stdout).unwrap();
    assert_eq!(
        index["manifests"][0]["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let container = format!("{}-docker", env.marker());
    let output = run_in(
        &env,
        &dst,
        &[
            "run",
            "--name",
            &container,
            &remote,
            "--",
            "/bin/busybox",
            "echo",
            "schema 2",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "schema 2\n",
        "{}",
        report(&output)
    );
    drop(server);
}

/// `spawn` with stdout/stderr captured, for `wait_with_output`.
trait Background {
    fn output_in_background(&mut self) -> Child;
}

impl Background for Command {
    fn output_in_background(&mut self) -> Child {
        self.stderr(Stdio::piped()).spawn().expect("spawn")
    }
}

/// Drive our server through the spec's endpoints by hand, one raw request at a time, and
/// snapshot what it answers (status, the headers that matter, the body).
#[test]
fn our_server_answers_the_distribution_api_as_the_spec_says() {
    let env = TestEnv::new();
    let served = env.path().join("served");
    let server = our_server(&env, &served, &[]);
    let addr = server.addr.clone();
    let mut transcript = String::new();
    let mut step = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let (status, head, answer) = exchange(&addr, method, path, headers, body);
        transcript += &format!("{method} {path}\n  -> {status}\n");
        for line in head.lines().skip(1) {
            let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
            let shown = [
                "content-type",
                "docker-content-digest",
                "location",
                "range",
                "content-range",
                "link",
                "www-authenticate",
            ];
            if shown.contains(&name.as_str()) {
                transcript += &format!("  {line}\n");
            }
        }
        if !answer.is_empty() && method != "HEAD" {
            transcript += &format!("  {}\n", String::from_utf8_lossy(&answer));
        }
        (status, head)
    };
    let location = |head: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix("Location: "))
            .unwrap()
            .to_string()
    };
    let digest = format!("sha256:{}", sha256_hex(b"hello world"));
    step("GET", "/v2/", &[], b"");
    // A chunked upload, with one chunk that does not follow the others.
    let (_, head) = step("POST", "/v2/spec/app/blobs/uploads/", &[], b"");
    let upload = location(&head);
    step("PATCH", &upload, &[("Content-Range", "0-5")], b"hello ");
    step("PATCH", &upload, &[("Content-Range", "0-4")], b"world");
    step("GET", &upload, &[], b"");
    step("PATCH", &upload, &[("Content-Range", "6-10")], b"world");
    step("PUT", &format!("{upload}?digest={digest}"), &[], b"");
    step("HEAD", &format!("/v2/spec/app/blobs/{digest}"), &[], b"");
    step(
        "GET",
        &format!("/v2/spec/app/blobs/{digest}"),
        &[("Range", "bytes=6-")],
        b"",
    );
    // Another repository cannot read it until it mounts it.
    step("GET", &format!("/v2/other/blobs/{digest}"), &[], b"");
    step(
        "POST",
        &format!("/v2/other/blobs/uploads/?mount={digest}&from=spec/app"),
        &[],
        b"",
    );
    // An abandoned upload.
    let (_, head) = step("POST", "/v2/spec/app/blobs/uploads/", &[], b"");
    let abandoned = location(&head);
    step("PATCH", &abandoned, &[], b"half a blob");
    step("DELETE", &abandoned, &[], b"");
    step("GET", &abandoned, &[], b"");
    // Manifests: one naming a blob the repository lacks, then good ones under three tags.
    let oci = ("Content-Type", "application/vnd.oci.image.manifest.v1+json");
    let manifest = |config: &str| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":11}},"layers":[]}}"#
        )
    };
    let missing = format!("sha256:{}", sha256_hex(b"missing"));
    step(
        "PUT",
        "/v2/spec/app/manifests/v0",
        &[oci],
        manifest(&missing).as_bytes(),
    );
    let good = manifest(&digest);
    for tag in ["v1", "v2", "v3"] {
        step(
            "PUT",
            &format!("/v2/spec/app/manifests/{tag}"),
            &[oci],
            good.as_bytes(),
        );
    }
    step("HEAD", "/v2/spec/app/manifests/v1", &[], b"");
    step("GET", "/v2/spec/app/tags/list?n=2", &[], b"");
    step("GET", "/v2/spec/app/tags/list?n=2&last=v2", &[], b"");
    step("GET", "/v2/_catalog?n=1", &[], b"");
    step("DELETE", "/v2/spec/app/manifests/v3", &[], b"");
    let manifest_digest = format!("sha256:{}", sha256_hex(good.as_bytes()));
    step(
        "DELETE",
        &format!("/v2/spec/app/manifests/{manifest_digest}"),
        &[],
        b"",
    );
    step("GET", "/v2/spec/app/manifests/v1", &[], b"");
    step("DELETE", &format!("/v2/spec/app/blobs/{digest}"), &[], b"");
    step("GET", &format!("/v2/spec/app/blobs/{digest}"), &[], b"");
    step("GET", "/v2/Spec/manifests/v1", &[], b"");
    step(
        "DELETE",
        "/v2/spec/app/manifests/..%2F..%2F..%2F..%2F..%2Foci%2Findex.json",
        &[],
        b"",
    );
    assert!(served.join("oci/index.json").exists());
    assert_snapshot!(redact(&transcript));
    assert_eq!(
        std::fs::read_dir(served.join("registry/uploads"))
            .unwrap()
            .count(),
        0
    );
    // An upload its client never finishes is gone when the server starts again.
    let (status, head, _) = exchange(
        &server.addr,
        "POST",
        "/v2/spec/app/blobs/uploads/",
        &[],
        b"",
    );
    assert_eq!(status, 202);
    let upload = location(&head);
    assert_eq!(
        http(&server.addr, "PATCH", &upload, &[], b"never finished").0,
        202
    );
    let uploads = || {
        std::fs::read_dir(served.join("registry/uploads"))
            .unwrap()
            .count()
    };
    assert_eq!(uploads(), 1);
    drop(server);
    let server = our_server(&env, &served, &[]);
    assert_eq!(uploads(), 0);
    drop(server);
}

#[test]
fn basic_auth_login_logout_and_inspect_against_our_server() {
    let env = TestEnv::new();
    let (src, served) = (env.path().join("src"), env.path().join("served"));
    import_busybox(&env, &src);
    let server = our_server(&env, &served, &["--user", "bob:hunter2"]);
    let (status, head, _) = exchange(&server.addr, "GET", "/v2/", &[], b"");
    assert_eq!(status, 401);
    assert!(
        head.contains(r#"WWW-Authenticate: Basic realm="baleia""#),
        "{head}"
    );
    let login = |password: &str| {
        env.cmd(BIN)
            .arg("--root")
            .arg(&src)
            .env("BALEIA_AUTH", src.join("auth.json"))
            .args(["login", &server.addr, "-u", "bob", "-p", password])
            .output()
            .unwrap()
    };
    let wrong = login("hunter3");
    let right = login("hunter2");
    let target = format!("{}/basic/busybox:v1", server.addr);
    ok_in(&env, &src, &["push", "busybox", &target]);
    let inspect = ok_in(&env, &src, &["inspect", &target]);
    let logout = ok_in(&env, &src, &["logout", &server.addr]);
    let again = ok_in(&env, &src, &["logout", &server.addr]);
    let refused = run_in(&env, &src, &["inspect", &target]);
    // The layer's size depends on the busybox build.
    let inspect: String = inspect
        .lines()
        .map(|l| match l.split_once("\"LayersSize\": ") {
            Some((indent, _)) => format!("{indent}\"LayersSize\": [SIZE],\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert_snapshot!(redact(&format!(
        "$ login -p hunter3\n{}\n$ login -p hunter2\n{}\n$ inspect\n{inspect}$ logout\n{logout}$ logout\n{again}$ inspect\n{}",
        report(&wrong),
        report(&right),
        report(&refused)
    )));
    drop(server);
}

#[test]
fn redirects_are_followed_on_the_registry_and_refused_off_this_machine() {
    let env = TestEnv::new();
    let src = env.path().join("src");
    import_busybox(&env, &src);
    let (here, moved) = fake_registry(&src, Fault::RedirectHere);
    let fine = env.path().join("fine");
    let output = run_in(&env, &fine, &["pull", &format!("{here}/busybox:latest")]);
    assert!(output.status.success(), "{}", report(&output));
    assert!(
        !moved.lock().unwrap().is_empty(),
        "the blobs came by redirect"
    );
    assert_eq!(blobs(&fine), blobs(&src));

    let (away, _) = fake_registry(&src, Fault::RedirectAway);
    let refused = env.path().join("refused");
    ok_in(&env, &refused, &["images"]);
    let before = blobs(&refused);
    let output = run_in(&env, &refused, &["pull", &format!("{away}/busybox:latest")]);
    assert!(!output.status.success(), "{}", report(&output));
    assert!(
        report(&output).contains("redirected us to http://0.0.0.0:1/"),
        "{}",
        report(&output)
    );
    assert!(
        report(&output).contains("which is not: refused"),
        "{}",
        report(&output)
    );
    assert_eq!(blobs(&refused), before, "nothing entered the store");
}
