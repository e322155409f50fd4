//! Chapter 06 without root, against registries on the loopback: our own server (in this test
//! process) for a push and a pull that work, and a registry that lies about a manifest's
//! digest, written here in a few lines, for the pulls that must refuse it. The image is chapter
//! 04's built-in hello-world, made offline; pulling only stores blobs (nothing is unpacked), so
//! no step needs root.

use ch04_images::Store;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

fn registry(root: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_ch06-registry"))
        .arg("--root")
        .arg(root)
        // Never the credentials of whoever runs the tests.
        .env("BALEIA_AUTH", root.join("auth.json"))
        .args(args)
        .output()
        .expect("run ch06-registry")
}

fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn free_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Our server over a fresh store, in a thread of this test process (it ends with it).
fn our_server(root: &Path) -> String {
    serve(root, vec![], false)
}

fn serve(root: &Path, users: Vec<String>, token_auth: bool) -> String {
    let addr = free_address();
    let store = Store::open(root).unwrap();
    let args = ch06_registry::server::ServeArgs {
        addr: addr.clone(),
        users,
        token_auth,
        anonymous_pull: false,
    };
    std::thread::spawn(move || ch06_registry::server::serve(store, &args));
    for _ in 0..100 {
        if std::net::TcpStream::connect(&addr).is_ok() {
            return addr;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("our server did not listen on {addr}");
}

/// A registry that answers every request with one manifest whose Docker-Content-Digest header
/// names other content.
fn lying_registry() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}"#;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\n\
                 Docker-Content-Digest: sha256:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                "1".repeat(64),
                body.len()
            );
            let _ = (&stream).write_all(head.as_bytes());
            let _ = (&stream).write_all(body.as_bytes());
        }
    });
    addr
}

fn hello_world(root: &Path) {
    let store = Store::open(root).unwrap();
    let _lock = store.lock().unwrap();
    ch04_images::hello::create(&store).unwrap();
}

fn blobs(root: &Path) -> usize {
    std::fs::read_dir(root.join("oci/blobs/sha256")).map_or(0, |d| d.count())
}

#[test]
fn push_then_pull_through_our_server_gives_the_same_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, served, fresh) = (
        dir.path().join("a"),
        dir.path().join("s"),
        dir.path().join("b"),
    );
    hello_world(&mine);
    let addr = our_server(&served);
    let target = format!("{addr}/me/hello:1");
    let pushed = registry(&mine, &["push", "hello-world", &target]);
    assert!(pushed.status.success(), "push: {}", describe(&pushed));
    let pulled = registry(&fresh, &["pull", &target]);
    assert!(pulled.status.success(), "pull: {}", describe(&pulled));
    let digest = |output: &Output| {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.split_whitespace()
            .find(|w| w.starts_with("sha256:"))
            .map(str::to_string)
    };
    assert!(digest(&pushed).is_some(), "{}", describe(&pushed));
    assert_eq!(digest(&pushed), digest(&pulled), "{}", describe(&pulled));
}

/// The lines of a push's report that say what happened to each blob (`ab12cd34ef56: Pushed`).
fn blob_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.starts_with("The push") && !line.contains("digest:"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_push_sends_only_what_the_registry_lacks_and_mounts_what_another_repository_has() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, served) = (dir.path().join("a"), dir.path().join("s"));
    hello_world(&mine);
    let addr = our_server(&served);
    let first = registry(
        &mine,
        &["push", "hello-world", &format!("{addr}/me/hello:1")],
    );
    assert!(first.status.success(), "push: {}", describe(&first));
    let lines = blob_lines(&first);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.ends_with(": Pushed")),
        "a first push uploads every blob: {}",
        describe(&first)
    );
    let again = registry(
        &mine,
        &["push", "hello-world", &format!("{addr}/me/hello:2")],
    );
    assert!(again.status.success(), "push: {}", describe(&again));
    assert!(
        blob_lines(&again)
            .iter()
            .all(|l| l.ends_with(": Layer already exists")),
        "the same repository has every blob already: {}",
        describe(&again)
    );
    let other = registry(&mine, &["push", "hello-world", &format!("{addr}/you/hi:1")]);
    assert!(other.status.success(), "push: {}", describe(&other));
    let lines = blob_lines(&other);
    assert!(
        lines.len() == blob_lines(&first).len()
            && lines.iter().all(|l| l.ends_with(": Mounted from me/hello")),
        "another repository of the same registry lends its blobs: {}",
        describe(&other)
    );
}

#[test]
fn a_manifest_that_is_not_what_its_digest_says_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let addr = lying_registry();
    let by_tag = registry(dir.path(), &["pull", &format!("{addr}/me/hello:1")]);
    assert_eq!(by_tag.status.code(), Some(125), "{}", describe(&by_tag));
    let stderr = String::from_utf8_lossy(&by_tag.stderr);
    assert!(
        stderr.contains(&format!("the registry says sha256:{}", "1".repeat(64))),
        "the announced digest is checked: {}",
        describe(&by_tag)
    );
    let wanted = format!("sha256:{}", "2".repeat(64));
    let by_digest = registry(dir.path(), &["pull", &format!("{addr}/me/hello@{wanted}")]);
    assert_eq!(
        by_digest.status.code(),
        Some(125),
        "{}",
        describe(&by_digest)
    );
    let stderr = String::from_utf8_lossy(&by_digest.stderr);
    assert!(
        stderr.contains(&format!("asked for {wanted}")),
        "the requested digest is checked: {}",
        describe(&by_digest)
    );
    assert_eq!(blobs(dir.path()), 0, "no blob written");
}

#[test]
fn the_token_flow_lets_the_right_password_in_and_says_why_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, served, fresh) = (
        dir.path().join("a"),
        dir.path().join("s"),
        dir.path().join("b"),
    );
    hello_world(&mine);
    let addr = serve(&served, vec!["alice:secret".into()], true);
    let target = format!("{addr}/private/hello:1");
    let stderr = |output: &Output| String::from_utf8_lossy(&output.stderr).into_owned();

    let anonymous = registry(&mine, &["push", "hello-world", &target]);
    assert!(!anonymous.status.success(), "{}", describe(&anonymous));
    assert!(
        stderr(&anonymous).contains("log in first"),
        "{}",
        describe(&anonymous)
    );
    let wrong = registry(
        &mine,
        &["push", "--creds=alice:guess", "hello-world", &target],
    );
    assert!(!wrong.status.success(), "{}", describe(&wrong));
    assert!(
        stderr(&wrong).contains("wrong user name or password"),
        "{}",
        describe(&wrong)
    );
    let pushed = registry(
        &mine,
        &["push", "--creds=alice:secret", "hello-world", &target],
    );
    assert!(pushed.status.success(), "{}", describe(&pushed));
    let pulled = registry(
        &fresh,
        &["--explain", "pull", "--creds=alice:secret", &target],
    );
    assert!(pulled.status.success(), "{}", describe(&pulled));
    assert!(
        stderr(&pulled).contains("(token request, with Basic credentials)"),
        "{}",
        describe(&pulled)
    );
}
