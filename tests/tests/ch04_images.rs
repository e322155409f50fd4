//! Chapter 04 — images. Each test runs `ch04-images` as a learner would: import a busybox root
//! file system, commit changes made in an upper directory (the way chapter 03's containers
//! leave them), look at the store through `images`, `history`, `tree` and `inspect`, move images
//! in and out with `save`/`load` (also through skopeo and podman), remove them, and feed the
//! unpacker hostile tars. Run: `cargo test -p baleia-tests --test ch04_images` (as root).
//!
//! Digests in snapshots are replaced by labels (`<1>`, `<2>`, ... in order of first appearance,
//! the same label for a full digest and its 12-digit short form), so a snapshot still shows
//! which ids are equal, but does not change when busybox or the compiler does. Image creation
//! times are pinned with `SOURCE_DATE_EPOCH`.

use harness::{assert_snapshot, busybox_tar, report, snapshot_text, TestEnv};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = "ch04-images";
/// 2025-11-28T17:00:00Z
const EPOCH: &str = "1764349200";

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.cmd(BIN)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(args)
        .output()
        .expect("run ch04-images")
}

/// Run, insist on success, return standard output.
fn ok(env: &TestEnv, args: &[&str]) -> String {
    let output = run(env, args);
    assert!(output.status.success(), "{args:?}\n{}", report(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn root(env: &TestEnv) -> PathBuf {
    env.path().join("root")
}

fn import_busybox(env: &TestEnv) -> String {
    let tar = busybox_tar(env);
    ok(
        env,
        &[
            "import",
            tar.to_str().unwrap(),
            "busybox:latest",
            "--change",
            r#"CMD ["/bin/sh"]"#,
            "--change",
            "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "--message",
            "the busybox fixture",
        ],
    )
    .trim()
    .to_string()
}

fn lowerdirs(env: &TestEnv, image: &str) -> Vec<PathBuf> {
    ok(env, &["lowerdirs", image])
        .trim()
        .split(':')
        .map(PathBuf::from)
        .collect()
}

/// A container as chapter 03 leaves one: `$ROOT/containers/<id>/{upper,image}`.
fn fake_container(env: &TestEnv, image: &str) -> (String, PathBuf) {
    let id = format!("{:0>64}", "c0ffee");
    let dir = root(env).join("containers").join(&id);
    std::fs::create_dir_all(dir.join("upper")).unwrap();
    let manifest_digest = sha256_hex(&manifest_bytes(env, &normalize(image)));
    std::fs::write(dir.join("image"), format!("sha256:{manifest_digest}\n")).unwrap();
    (id, dir.join("upper"))
}

fn normalize(image: &str) -> String {
    if image.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The manifest blob of a tagged image, from index.json.
fn manifest_bytes(env: &TestEnv, tag: &str) -> Vec<u8> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root(env).join("oci/index.json")).unwrap()).unwrap();
    let digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("{tag} not in index.json"))["digest"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::read(root(env).join("oci/blobs/sha256").join(&digest[7..])).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

/// Give every file under `dir` the same times, so that a layer made from it is reproducible.
fn pin_times(dir: &Path) {
    let status = Command::new("find")
        .arg(dir)
        .args(["-exec", "touch", "-h", "-d", "@1764349200", "{}", "+"])
        .status()
        .unwrap();
    assert!(status.success());
}

fn whiteout(path: &Path) {
    nix::sys::stat::mknod(
        path,
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::empty(),
        0,
    )
    .unwrap();
}

/// A read-only overlay of an image's layers, unmounted on drop: how chapter 03 will see it.
struct Overlay(PathBuf);

impl Overlay {
    fn mount(env: &TestEnv, image: &str, name: &str) -> Overlay {
        let lower: Vec<String> = lowerdirs(env, image)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let target = env.path().join(name);
        std::fs::create_dir_all(&target).unwrap();
        let options = format!("lowerdir={}", lower.join(":"));
        if lower.len() == 1 {
            // overlayfs needs two lower layers without an upper one; a bind mount is the same.
            nix::mount::mount(
                Some(Path::new(&lower[0])),
                &target,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .unwrap();
        } else {
            nix::mount::mount(
                Some("overlay"),
                &target,
                Some("overlay"),
                nix::mount::MsFlags::MS_RDONLY,
                Some(options.as_str()),
            )
            .unwrap();
        }
        Overlay(target)
    }
}

impl Overlay {
    /// Overlay explicit lower directories (top first).
    fn mount_dirs(env: &TestEnv, lower: &[PathBuf], name: &str) -> Overlay {
        let target = env.path().join(name);
        std::fs::create_dir_all(&target).unwrap();
        let lower: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
        let options = format!("lowerdir={}", lower.join(":"));
        nix::mount::mount(
            Some("overlay"),
            &target,
            Some("overlay"),
            nix::mount::MsFlags::MS_RDONLY,
            Some(options.as_str()),
        )
        .unwrap();
        Overlay(target)
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn import_busybox_then_images_history_and_inspect() {
    let env = TestEnv::new();
    let id = import_busybox(&env);
    assert!(id.starts_with("sha256:"), "{id}");

    let images = run(&env, &["images"]);
    let history = run(&env, &["history", "busybox"]);
    let inspect = run(&env, &["inspect", "busybox:latest"]);
    assert_snapshot!("images", snapshot_text(&report(&images)));
    assert_snapshot!("history", snapshot_text(&report(&history)));
    assert_snapshot!("inspect", snapshot_text(&report(&inspect)));

    // The same tar at the same time gives the same image id, in any store.
    let other = TestEnv::new();
    assert_eq!(
        import_busybox(&other),
        id,
        "image ids are content addresses"
    );

    // The layer is unpacked once, under its chain id, with modes and symlinks kept; its
    // busybox runs.
    let lower = lowerdirs(&env, "busybox");
    assert_eq!(lower.len(), 1);
    assert_eq!(lower[0].parent().unwrap(), root(&env).join("layers"));
    let busybox = lower[0].join("bin/busybox");
    assert_eq!(std::fs::metadata(&busybox).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_link(lower[0].join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(
        std::fs::metadata(lower[0].join("tmp")).unwrap().mode() & 0o7777,
        0o1777
    );
    let out = Command::new(&busybox)
        .args(["echo", "ran"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");

    // The store is an OCI image layout.
    assert_eq!(
        std::fs::read_to_string(root(&env).join("oci/oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
}

#[test]
fn hello_world_is_made_offline_and_its_program_runs() {
    let env = TestEnv::new();
    let first = ok(&env, &["hello-world"]);
    let again = ok(&env, &["hello-world"]);
    assert_eq!(first, again, "the built-in image is reproducible");

    let lower = lowerdirs(&env, "hello-world");
    assert_eq!(list_dir(&lower[0]), ["hello"]);
    let out = Command::new(lower[0].join("hello"))
        .env_clear()
        .output()
        .unwrap();
    assert_snapshot!("hello_world_output", report(&out));
    let inspect = ok(&env, &["inspect", "hello-world"]);
    assert!(inspect.contains(r#""/hello""#), "{inspect}");
    assert!(inspect.contains("2025-11-28T00:00:00Z"), "{inspect}");
}

#[test]
fn commit_makes_v2_sharing_the_base_layer_and_the_tree_shows_it() {
    let env = TestEnv::new();
    import_busybox(&env);
    ok(&env, &["hello-world"]);
    let (id, upper) = fake_container(&env, "busybox:latest");
    std::fs::create_dir(upper.join("root")).unwrap();
    std::fs::write(upper.join("root/hello.txt"), "written in the container\n").unwrap();
    pin_times(&upper);

    let committed = run(
        &env,
        &[
            "commit",
            &id[..12],
            "busy:v2",
            "--author",
            "Ana <ana@example.com>",
            "--message",
            "add hello.txt",
        ],
    );
    assert!(committed.status.success(), "{}", report(&committed));

    // v2 = the new layer on top of busybox's, which is the very same directory.
    let v1 = lowerdirs(&env, "busybox");
    let v2 = lowerdirs(&env, "busy:v2");
    assert_eq!(v2.len(), 2);
    assert_eq!(
        v2[1], v1[0],
        "v2 shares the base layer's unpacked directory"
    );
    assert_eq!(
        list_dir(&root(&env).join("layers")).len(),
        3,
        "busybox, hello, v2's"
    );

    let seen_in_v2 = Overlay::mount(&env, "busy:v2", "v2");
    let seen_in_v1 = Overlay::mount(&env, "busybox", "v1");
    assert_eq!(
        std::fs::read_to_string(seen_in_v2.0.join("root/hello.txt")).unwrap(),
        "written in the container\n"
    );
    assert!(seen_in_v2.0.join("bin/busybox").exists());
    assert!(!seen_in_v1.0.join("root/hello.txt").exists());
    drop((seen_in_v1, seen_in_v2));

    assert_snapshot!("tree", snapshot_text(&report(&run(&env, &["tree"]))));
    assert_snapshot!(
        "history_v2",
        snapshot_text(&report(&run(&env, &["history", "busy:v2"])))
    );
    assert_snapshot!(
        "images_with_shared_sizes",
        snapshot_text(&report(&run(&env, &["images"])))
    );
}

#[test]
fn deletions_become_whiteouts_and_opaque_dirs() {
    let env = TestEnv::new();
    import_busybox(&env);
    let (id, upper) = fake_container(&env, "busybox");
    // What overlayfs leaves in an upper dir: `rm /etc/passwd` is a char device 0/0, and
    // `rm -r /usr; mkdir /usr; touch /usr/fresh` is an opaque directory.
    std::fs::create_dir(upper.join("etc")).unwrap();
    whiteout(&upper.join("etc/passwd"));
    std::fs::create_dir(upper.join("usr")).unwrap();
    xattr::set(upper.join("usr"), "trusted.overlay.opaque", b"y").unwrap();
    std::fs::write(upper.join("usr/fresh"), "new\n").unwrap();
    pin_times(&upper);
    ok(&env, &["commit", &id, "busy:deleted"]);

    // In the layer blob: the OCI forms.
    let manifest: serde_json::Value =
        serde_json::from_slice(&manifest_bytes(&env, "busy:deleted")).unwrap();
    let top = manifest["layers"][1]["digest"].as_str().unwrap();
    let listing = Command::new("tar")
        .arg("-tzvf")
        .arg(root(&env).join("oci/blobs/sha256").join(&top[7..]))
        .output()
        .unwrap();
    let listing: String = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.split_whitespace().skip(5).collect::<Vec<_>>().join(" ") + "\n")
        .collect();
    assert_snapshot!("whiteout_layer_entries", listing);

    // Unpacked: the overlay forms again.
    let top_dir = &lowerdirs(&env, "busy:deleted")[0];
    let passwd = std::fs::symlink_metadata(top_dir.join("etc/passwd")).unwrap();
    assert!(passwd.file_type().is_char_device() && passwd.rdev() == 0);
    assert_eq!(
        xattr::get(top_dir.join("usr"), "trusted.overlay.opaque").unwrap(),
        Some(b"y".to_vec())
    );
    assert!(!top_dir.join("usr/.wh..wh..opq").exists());

    // Through the overlay: passwd is gone, /usr holds only the new file, the rest is there.
    let merged = Overlay::mount(&env, "busy:deleted", "merged");
    assert!(!merged.0.join("etc/passwd").exists());
    assert!(merged.0.join("etc/group").exists());
    assert_eq!(list_dir(&merged.0.join("usr")), ["fresh"]);
    drop(merged);

    // umoci, reading our store as the OCI image layout it is, applies the whiteouts the same way.
    let bundle = env.path().join("bundle");
    let unpacked = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:busy:deleted", root(&env).join("oci").display()))
        .arg(&bundle)
        .env("BALEIA_TEST_MARK", env.marker())
        .output()
        .expect("umoci (install it: scripts/install-test-deps)");
    assert!(unpacked.status.success(), "{}", report(&unpacked));
    assert!(!bundle.join("rootfs/etc/passwd").exists());
    assert!(bundle.join("rootfs/etc/group").exists());
    assert_eq!(list_dir(&bundle.join("rootfs/usr")), ["fresh"]);

    let base = Overlay::mount(&env, "busybox", "base");
    assert!(base.0.join("etc/passwd").exists());
    assert!(list_dir(&base.0.join("usr")).contains(&"bin".to_string()));
}

#[test]
fn commit_of_a_missing_container_is_a_clear_error() {
    let env = TestEnv::new();
    import_busybox(&env);
    let output = run(&env, &["commit", "nosuch", "busy:v2"]);
    assert_snapshot!(report(&output));
    let images = ok(&env, &["images"]);
    assert!(!images.contains("busy "), "nothing was tagged: {images}");
}

#[test]
fn save_and_load_round_trips_keep_digests() {
    let env = TestEnv::new();
    import_busybox(&env);
    let (id, upper) = fake_container(&env, "busybox");
    std::fs::write(upper.join("v2.txt"), "two\n").unwrap();
    pin_times(&upper);
    ok(&env, &["commit", &id, "busy:v2"]);
    let manifest = sha256_hex(&manifest_bytes(&env, "busy:v2"));
    let image_id = ok(&env, &["inspect", "busy:v2"]);

    for format in ["oci", "docker"] {
        let archive = env.path().join(format!("busy-{format}.tar"));
        ok(
            &env,
            &[
                "save",
                "--format",
                format,
                "-o",
                archive.to_str().unwrap(),
                "busy:v2",
            ],
        );
        let other = TestEnv::new();
        let loaded = ok(&other, &["load", "-i", archive.to_str().unwrap()]);
        assert_eq!(loaded, "Loaded image: busy:v2\n");
        assert_eq!(
            ok(&other, &["inspect", "busy:v2"]),
            image_id,
            "{format}: the config (so the image id) is the same"
        );
        if format == "oci" {
            assert_eq!(
                sha256_hex(&manifest_bytes(&other, "busy:v2")),
                manifest,
                "oci: the manifest, so every blob, is the same"
            );
            assert_eq!(
                ok(&other, &["history", "busy:v2"]),
                ok(&env, &["history", "busy:v2"])
            );
        }
    }
}

fn podman(env: &TestEnv, args: &[&str]) -> Output {
    let dir = env.path().join("podman");
    std::fs::create_dir_all(&dir).unwrap();
    let storage = dir.join("storage.conf");
    let containers = dir.join("containers.conf");
    std::fs::write(
        &storage,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/root\"\nrunroot = \"{0}/run\"\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(
        &containers,
        format!(
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\"]\n[engine]\n\
             cgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
             events_logfile_path = \"{}/events.log\"\n",
            dir.display()
        ),
    )
    .unwrap();
    Command::new("podman")
        .args(args)
        .env("CONTAINERS_STORAGE_CONF", &storage)
        .env("CONTAINERS_CONF", &containers)
        .env("BALEIA_TEST_MARK", env.marker())
        .output()
        .expect("podman (install it: scripts/install-test-deps)")
}

#[test]
fn skopeo_and_podman_read_our_archives_and_we_read_theirs() {
    let env = TestEnv::new();
    let image_id = import_busybox(&env);
    let ours = env.path().join("ours.tar");
    ok(&env, &["save", "-o", ours.to_str().unwrap(), "busybox"]);

    // skopeo reads our OCI archive and writes a docker archive of it...
    let theirs = env.path().join("theirs.tar");
    let copied = Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci-archive:{}", ours.display()))
        .arg(format!(
            "docker-archive:{}:skopeo/busybox:copied",
            theirs.display()
        ))
        .env("BALEIA_TEST_MARK", env.marker())
        .output()
        .expect("skopeo (install it: scripts/install-test-deps)");
    assert!(copied.status.success(), "{}", report(&copied));
    // ...which we load (its layers are symlinks to <digest>.tar files: followed).
    let other = TestEnv::new();
    assert_eq!(
        ok(&other, &["load", "-i", theirs.to_str().unwrap()]),
        "Loaded image: skopeo/busybox:copied\n"
    );
    let reloaded: serde_json::Value =
        serde_json::from_str(&ok(&other, &["inspect", "skopeo/busybox:copied"])).unwrap();
    assert_eq!(reloaded["config"]["Cmd"][0], "/bin/sh");
    let ids = ok(&other, &["images"]);
    assert!(
        ids.contains(&image_id[7..19]),
        "skopeo keeps the config, so the id: {ids}"
    );

    // podman loads both our formats, and sees the same image id.
    let docker_format = env.path().join("ours-docker.tar");
    ok(
        &env,
        &[
            "save",
            "--format",
            "docker",
            "-o",
            docker_format.to_str().unwrap(),
            "busybox",
        ],
    );
    for archive in [&ours, &docker_format] {
        let loaded = podman(&env, &["load", "-i", archive.to_str().unwrap()]);
        assert!(loaded.status.success(), "{}", report(&loaded));
        let inspected = podman(
            &env,
            &["image", "inspect", "--format", "{{.Id}}", "busybox"],
        );
        assert_eq!(
            String::from_utf8_lossy(&inspected.stdout).trim(),
            &image_id[7..],
            "{}",
            report(&inspected)
        );
        podman(&env, &["rmi", "-a", "-f"]);
    }
    podman(&env, &["system", "reset", "-f"]);
}

/// One raw ustar entry: nothing checks or cleans the name, as an attacker's tool would not.
fn raw_entry(name: &str, kind: u8, link: &str, data: &[u8], mode: u32) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A header that claims `size` bytes of data but carries only `data` (a truncated archive).
fn raw_entry_claiming(name: &str, kind: u8, size: u64, data: &[u8]) -> Vec<u8> {
    let mut entry = raw_entry(name, kind, "", data, 0o644);
    entry[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    entry[148..156].copy_from_slice(b"        ");
    let sum: u32 = entry[..512].iter().map(|&b| u32::from(b)).sum();
    entry[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    entry
}

fn raw_tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn a_hostile_tar_corpus_is_refused_or_contained() {
    let env = TestEnv::new();
    let outside = env.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // Partial unpacks happen in $ROOT/tmp/unpack-XXXX: three ".." from there is env.path().
    let host_file = "/tmp/baleia-ch04-hostile-pwned";
    assert!(
        !Path::new(host_file).exists(),
        "{host_file} exists before the test"
    );
    let (file, dir, symlink, hardlink, chardev, blockdev) = (b'0', b'5', b'2', b'1', b'3', b'4');
    let corpus: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "dot-dot climbs out",
            vec![raw_entry("../../../outside/pwned", file, "", b"x", 0o644)],
        ),
        (
            "dot-dot hidden in the middle",
            vec![raw_entry(
                "etc/../../../../outside/pwned",
                file,
                "",
                b"x",
                0o644,
            )],
        ),
        (
            "absolute path",
            vec![raw_entry(host_file, file, "", b"x", 0o644)],
        ),
        (
            "symlink to outside, then a file through it",
            vec![
                raw_entry(
                    "escape",
                    symlink,
                    env.path().join("outside").to_str().unwrap(),
                    b"",
                    0o777,
                ),
                raw_entry("escape/pwned", file, "", b"x", 0o644),
            ],
        ),
        (
            "relative symlink up, then a file through it",
            vec![
                raw_entry("up", symlink, "../../..", b"", 0o777),
                raw_entry("up/outside/pwned", file, "", b"x", 0o644),
            ],
        ),
        (
            "symlink to a directory, then a directory through it",
            vec![
                raw_entry("d", dir, "", b"", 0o755),
                raw_entry("d/link", symlink, "/", b"", 0o777),
                raw_entry("d/link/tmp/", dir, "", b"", 0o755),
            ],
        ),
        (
            "hardlink to a host file",
            vec![raw_entry("passwd", hardlink, "/etc/passwd", b"", 0o644)],
        ),
        (
            "hardlink climbing out",
            vec![raw_entry(
                "shadow",
                hardlink,
                "../../../outside/target",
                b"",
                0o644,
            )],
        ),
        (
            "hardlink through a symlink",
            vec![
                raw_entry("etc", symlink, "/etc", b"", 0o777),
                raw_entry("passwd", hardlink, "etc/passwd", b"", 0o644),
            ],
        ),
        (
            "whiteout of \"..\"",
            vec![
                raw_entry("d/", dir, "", b"", 0o755),
                raw_entry("d/.wh...", file, "", b"", 0o644),
            ],
        ),
        (
            "character device",
            vec![raw_entry("dev/mem", chardev, "", b"", 0o600)],
        ),
        (
            "block device",
            vec![raw_entry("dev/sda", blockdev, "", b"", 0o600)],
        ),
        (
            "symlink pointing outside (harmless data, kept)",
            vec![raw_entry("hosts", symlink, "/etc/hosts", b"", 0o777)],
        ),
        (
            "setuid file (kept: no_new_privs stops it raising privileges)",
            vec![raw_entry("bin/su", file, "", b"#!/bin/sh\n", 0o4755)],
        ),
        (
            "a name component of 4096 bytes (GNU long name)",
            vec![
                raw_entry(
                    "././@LongLink",
                    b'L',
                    "",
                    "x".repeat(4096).as_bytes(),
                    0o644,
                ),
                raw_entry("placeholder", file, "", b"x", 0o644),
            ],
        ),
        (
            "a PAX header that claims 1 GiB and ends early",
            vec![raw_entry_claiming(
                "pax",
                b'x',
                1 << 30,
                b"30 path=aaaaaaaaaaaaaaaaaaaa\n",
            )],
        ),
        ("a chain of 40 symlinks, then a file through its head", {
            let mut entries: Vec<Vec<u8>> = (0..40)
                .map(|i| {
                    raw_entry(
                        &format!("l{i}"),
                        symlink,
                        &format!("l{}", i + 1),
                        b"",
                        0o777,
                    )
                })
                .collect();
            entries.push(raw_entry("l0/pwned", file, "", b"x", 0o644));
            entries
        }),
    ];
    std::fs::write(outside.join("target"), "do not link me").unwrap();

    let mut outcomes = String::new();
    for (i, (what, entries)) in corpus.iter().enumerate() {
        let tar = env.path().join(format!("hostile-{i}.tar"));
        std::fs::write(&tar, raw_tar(entries)).unwrap();
        let tag = format!("hostile:{i}");
        let output = run(&env, &["import", tar.to_str().unwrap(), &tag]);
        let outcome = if output.status.success() {
            let layer = &lowerdirs(&env, &tag)[0];
            let mut found = Vec::new();
            let walk = Command::new("find")
                .arg(".")
                .arg("-mindepth")
                .arg("1")
                .current_dir(layer)
                .output()
                .unwrap();
            for line in String::from_utf8_lossy(&walk.stdout).lines() {
                found.push(line.to_string());
            }
            found.sort();
            format!("contained, the layer holds: {}", found.join(" "))
        } else {
            assert_eq!(output.status.code(), Some(125), "{}", report(&output));
            let stderr = String::from_utf8_lossy(&output.stderr);
            format!("refused: {}", stderr.trim().replace(env.marker(), "[MARK]"))
        };
        outcomes.push_str(&format!("{what}\n  {outcome}\n"));
    }
    assert_snapshot!(outcomes);

    // Nothing was written outside: not beside the state root, not on the host.
    assert_eq!(list_dir(&outside), ["target"]);
    assert!(!Path::new(host_file).exists());
    // Refused imports left nothing: no half layer, no temporary file, no stray blob.
    assert!(list_dir(&root(&env).join("tmp")).is_empty());
    let layers = list_dir(&root(&env).join("layers"));
    let blobs = list_dir(&root(&env).join("oci/blobs/sha256"));
    let images = ok(&env, &["images"]);
    let kept = images.lines().count() - 1;
    assert_eq!(layers.len(), kept, "{images}");
    assert_eq!(
        blobs.len(),
        kept * 3,
        "a manifest, a config, a layer per image"
    );
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_rejected_and_the_store_is_unchanged() {
    let env = TestEnv::new();
    import_busybox(&env);
    let archive = env.path().join("good.tar");
    ok(&env, &["save", "-o", archive.to_str().unwrap(), "busybox"]);

    // Tamper: one byte of the layer changes, its name (the digest) does not.
    let unpacked = env.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap()
        .success());
    let manifest = sha256_hex(&manifest_bytes(&env, "busybox:latest"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(unpacked.join("blobs/sha256").join(&manifest)).unwrap(),
    )
    .unwrap();
    let layer = unpacked
        .join("blobs/sha256")
        .join(&manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    let mut bytes = std::fs::read(&layer).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&layer, bytes).unwrap();
    let tampered = env.path().join("tampered.tar");
    assert!(Command::new("tar")
        .arg("-cf")
        .arg(&tampered)
        .arg("-C")
        .arg(&unpacked)
        .arg(".")
        .status()
        .unwrap()
        .success());

    // Into the store that has busybox (the tampered blob's name exists there)...
    let before = store_state(&env);
    let output = run(&env, &["load", "-i", tampered.to_str().unwrap()]);
    assert!(!output.status.success());
    assert_snapshot!(snapshot_text(&report(&output)));
    assert_eq!(store_state(&env), before, "the store is unchanged");

    // ...and into an empty one.
    let other = TestEnv::new();
    let before = store_state(&other);
    let output = run(&other, &["load", "-i", tampered.to_str().unwrap()]);
    assert!(!output.status.success());
    assert_eq!(store_state(&other), before, "nothing was stored");
}

/// Every file under the state root with its size and content hash.
fn store_state(env: &TestEnv) -> String {
    let _ = run(env, &["images"]); // make sure the layout exists
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . -type f ! -name images.lock -exec sha256sum {} + | sort")
        .current_dir(root(env))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rmi_collects_only_what_no_image_or_container_needs() {
    let env = TestEnv::new();
    import_busybox(&env);
    let (id, upper) = fake_container(&env, "busybox");
    std::fs::write(upper.join("v2.txt"), "two\n").unwrap();
    pin_times(&upper);
    ok(&env, &["commit", &id, "busy:v2"]);
    // The container now "runs" v2.
    let v2_manifest = sha256_hex(&manifest_bytes(&env, "busy:v2"));
    let container = root(&env).join("containers").join(&id);
    std::fs::write(container.join("image"), format!("sha256:{v2_manifest}\n")).unwrap();

    let mut story = String::new();
    let mut step = |title: &str, args: &[&str]| {
        let output = run(&env, args);
        story.push_str(&format!("$ ch04-images {}   # {title}\n", args.join(" ")));
        story.push_str(&report(&output));
        story.push_str(&format!(
            "(layers on disk: {}, blobs: {})\n\n",
            list_dir(&root(&env).join("layers")).len(),
            list_dir(&root(&env).join("oci/blobs/sha256")).len()
        ));
    };
    step("the base layer is still used by v2", &["rmi", "busybox"]);
    step("v2 is used by the container", &["rmi", "busy:v2"]);
    std::fs::remove_dir_all(&container).unwrap();
    step("once the container is gone", &["rmi", "busy:v2"]);
    step("again: it is gone", &["rmi", "busy:v2"]);
    assert_snapshot!(snapshot_text(&story));
    assert!(list_dir(&root(&env).join("layers")).is_empty());
    assert!(list_dir(&root(&env).join("oci/blobs/sha256")).is_empty());
}

#[test]
fn layers_keep_modes_owners_xattrs_hardlinks_symlinks_and_times() {
    let env = TestEnv::new();
    // A small tree with everything a layer must carry.
    let src = env.path().join("src");
    std::fs::create_dir_all(src.join("dir")).unwrap();
    std::fs::write(src.join("dir/tool"), "#!/bin/sh\n").unwrap();
    std::fs::hard_link(src.join("dir/tool"), src.join("dir/tool-again")).unwrap();
    std::os::unix::fs::symlink("dir/tool", src.join("link")).unwrap();
    nix::unistd::mkfifo(
        &src.join("pipe"),
        nix::sys::stat::Mode::from_bits_truncate(0o640),
    )
    .unwrap();
    xattr::set(src.join("dir/tool"), "user.note", b"kept").unwrap();
    std::os::unix::fs::lchown(src.join("dir/tool"), Some(1000), Some(100)).unwrap();
    std::fs::set_permissions(
        src.join("dir/tool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4755),
    )
    .unwrap();
    std::fs::set_permissions(
        src.join("dir"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    pin_times(&src);

    let describe = |root: &Path| -> String {
        let mut out = String::new();
        for name in ["dir", "dir/tool", "dir/tool-again", "link", "pipe"] {
            let meta = std::fs::symlink_metadata(root.join(name)).unwrap();
            let note = xattr::get(root.join(name), "user.note").ok().flatten();
            out.push_str(&format!(
                "{name}: mode {:o} owner {}:{} mtime {} links {} xattr {:?}{}\n",
                meta.mode(),
                meta.uid(),
                meta.gid(),
                meta.mtime(),
                meta.nlink(),
                note.map(|n| String::from_utf8_lossy(&n).into_owned()),
                if meta.file_type().is_symlink() {
                    format!(
                        " -> {}",
                        std::fs::read_link(root.join(name)).unwrap().display()
                    )
                } else {
                    String::new()
                }
            ));
        }
        out
    };
    let expected = describe(&src);

    // Through import (a tar made by GNU tar, with its xattrs)...
    let tar = env.path().join("src.tar");
    let status = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-C"])
        .arg(&src)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    ok(&env, &["import", tar.to_str().unwrap(), "meta:imported"]);
    let imported = lowerdirs(&env, "meta:imported")[0].clone();
    assert_eq!(describe(&imported), expected);

    // ...and through commit (our own packer, on top of another image).
    ok(&env, &["hello-world"]);
    ok(
        &env,
        &[
            "commit-dir",
            "hello-world",
            src.to_str().unwrap(),
            "meta:committed",
        ],
    );
    let committed = lowerdirs(&env, "meta:committed")[0].clone();
    assert_eq!(describe(&committed), expected);
    assert_snapshot!(expected);
}

/// Temporary names (`blob-Ab3xYz`, `unpack-Q58d3b`) are random: label them like digests.
fn redact_temporary_names(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = ["blob-", "unpack-"]
        .iter()
        .filter_map(|p| rest.find(p).map(|i| (i, p.len())))
        .min()
    {
        let (index, prefix) = at;
        out.push_str(&rest[..index + prefix]);
        rest = &rest[index + prefix..];
        let random = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        out.push_str("[RANDOM]");
        rest = &rest[random..];
    }
    out.push_str(rest);
    out
}

#[test]
fn explain_narrates_blobs_whiteouts_and_renames() {
    let env = TestEnv::new();
    import_busybox(&env);
    let (id, upper) = fake_container(&env, "busybox");
    std::fs::create_dir(upper.join("etc")).unwrap();
    whiteout(&upper.join("etc/passwd"));
    std::fs::create_dir(upper.join("usr")).unwrap();
    xattr::set(upper.join("usr"), "trusted.overlay.opaque", b"y").unwrap();
    pin_times(&upper);
    let output = run(&env, &["--explain", "commit", &id, "busy:explained"]);
    assert!(output.status.success(), "{}", report(&output));
    assert_snapshot!(redact_temporary_names(&snapshot_text(&report(&output))));
}

#[test]
fn a_whiteout_hides_only_what_lower_layers_have() {
    let env = TestEnv::new();
    import_busybox(&env);
    let (file, dir) = (b'0', b'5');
    // One layer, as the OCI spec allows it: whiteouts mixed with entries of the same names.
    let layer = raw_tar(&[
        // /etc deleted, then made again with one file: only that file must show.
        raw_entry(".wh.etc", file, "", b"", 0o644),
        raw_entry("etc/", dir, "", b"", 0o755),
        raw_entry("etc/new", file, "", b"new\n", 0o644),
        // /var made by this layer, then a whiteout of it: it hides the lower /var only.
        raw_entry("var/", dir, "", b"", 0o755),
        raw_entry("var/kept", file, "", b"kept\n", 0o644),
        raw_entry(".wh.var", file, "", b"", 0o644),
        // /sbin simply deleted.
        raw_entry(".wh.sbin", file, "", b"", 0o644),
    ]);
    let tar = env.path().join("mixed.tar");
    std::fs::write(&tar, layer).unwrap();
    ok(&env, &["import", tar.to_str().unwrap(), "mixed"]);
    let top = lowerdirs(&env, "mixed")[0].clone();
    for opaque in ["etc", "var"] {
        assert_eq!(
            xattr::get(top.join(opaque), "trusted.overlay.opaque").unwrap(),
            Some(b"y".to_vec()),
            "{opaque} is opaque"
        );
    }
    let sbin = std::fs::symlink_metadata(top.join("sbin")).unwrap();
    assert!(sbin.file_type().is_char_device() && sbin.rdev() == 0);

    // Stacked on busybox, as if it were busybox's next layer.
    let base = lowerdirs(&env, "busybox")[0].clone();
    let merged = Overlay::mount_dirs(&env, &[top, base], "merged");
    assert_eq!(list_dir(&merged.0.join("etc")), ["new"]);
    assert_eq!(list_dir(&merged.0.join("var")), ["kept"]);
    assert!(!merged.0.join("sbin").exists());
    assert!(merged.0.join("bin/busybox").exists());
}

/// `ch04-images run --name MARKER-NAME [flags] IMAGE [-- CMD...]`
fn run_image(env: &TestEnv, name: &str, flags: &[&str], image: &str, command: &[&str]) -> Output {
    let name = format!("{}-{name}", env.marker());
    let mut args = vec!["run", "--name", &name];
    args.extend_from_slice(flags);
    args.push(image);
    if !command.is_empty() {
        args.push("--");
        args.extend_from_slice(command);
    }
    run(env, &args)
}

#[test]
fn run_applies_the_image_config_env_workdir_user_and_cmd() {
    let env = TestEnv::new();
    let tar = busybox_tar(&env);
    ok(
        &env,
        &[
            "import",
            tar.to_str().unwrap(),
            "configured:1",
            "--change",
            "ENV GREETING=hello",
            "--change",
            "WORKDIR /srv/app",
            "--change",
            "USER nobody",
            "--change",
            r#"CMD ["sh", "-c", "echo \"$GREETING from $(pwd) as uid $(id -u), HOME=$HOME, PATH=$PATH\"; echo \"caller's variables: $(env | grep -c BALEIA)\""]"#,
        ],
    );
    let with_cmd = run_image(&env, "config", &[], "configured:1", &[]);
    let replaced = run_image(
        &env,
        "replaced",
        &[],
        "configured:1",
        &["echo", "my command"],
    );
    assert_snapshot!(format!(
        "== the image's Cmd\n{}== a command replaces Cmd\n{}",
        report(&with_cmd),
        report(&replaced)
    ));
}

#[test]
fn a_container_commit_gives_v2_that_has_its_changes_and_v1_does_not() {
    let env = TestEnv::new();
    import_busybox(&env);
    let script = "echo 'written in the container' > /hello.txt && rm /etc/group";
    let first = run_image(&env, "box", &["--keep"], "busybox", &["sh", "-c", script]);
    assert!(first.status.success(), "{}", report(&first));
    let name = format!("{}-box", env.marker());
    ok(
        &env,
        &["commit", &name, "busy:v2", "--message", "hello.txt"],
    );

    let check = "cat /hello.txt 2>&1; ls /etc/group 2>&1";
    let v2 = run_image(&env, "v2", &[], "busy:v2", &["sh", "-c", check]);
    let v1 = run_image(&env, "v1", &[], "busybox", &["sh", "-c", check]);
    assert_snapshot!(format!(
        "== busy:v2\n{}== busybox (v1)\n{}",
        report(&v2),
        report(&v1)
    ));
    assert_eq!(
        lowerdirs(&env, "busy:v2").last(),
        lowerdirs(&env, "busybox").last(),
        "v2 runs on the same unpacked base layer as v1"
    );
    let removed = env
        .cmd("ch03-overlayfs")
        .args(["rm", &name])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{}", report(&removed));
}

#[test]
fn hello_world_runs_as_a_container() {
    let env = TestEnv::new();
    ok(&env, &["hello-world"]);
    let output = run_image(&env, "hello", &[], "hello-world", &[]);
    assert!(output.status.success(), "{}", report(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("Hello from baleia!"), "{text}");
    let missing = run_image(&env, "nope", &[], "hello-world", &["no-such-command"]);
    assert_eq!(missing.status.code(), Some(127), "{}", report(&missing));
}

#[test]
fn unpack_applies_the_same_defenses_to_a_single_layer_file() {
    let env = TestEnv::new();
    let (file, dir) = (b'0', b'5');
    let good = env.path().join("good.tar");
    std::fs::write(
        &good,
        raw_tar(&[
            raw_entry("app/", dir, "", b"", 0o755),
            raw_entry("app/hello.txt", file, "", b"hello\n", 0o644),
        ]),
    )
    .unwrap();
    let target = env.path().join("unpacked");
    let said = ok(
        &env,
        &["unpack", good.to_str().unwrap(), target.to_str().unwrap()],
    );
    assert!(said.starts_with("2 entries, 6 bytes"), "{said}");
    assert_eq!(
        std::fs::read_to_string(target.join("app/hello.txt")).unwrap(),
        "hello\n"
    );

    let hostile = env.path().join("hostile.tar");
    std::fs::write(
        &hostile,
        raw_tar(&[raw_entry("../escaped", file, "", b"x", 0o644)]),
    )
    .unwrap();
    let refused = run(
        &env,
        &[
            "unpack",
            hostile.to_str().unwrap(),
            env.path().join("second").to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(125), "{}", report(&refused));
    assert!(!env.path().join("escaped").exists());
    assert!(
        !env.path().join("second").exists(),
        "a refused layer leaves no directory behind"
    );
}

#[test]
fn check_finds_a_corrupted_blob_a_missing_layer_and_leftovers() {
    let env = TestEnv::new();
    let id = import_busybox(&env);
    let said = ok(&env, &["check"]);
    assert_eq!(
        said,
        "checked 3 blobs, 1 images, 1 unpacked layers: whole\n"
    );

    // A partial write left by a crash is a leftover, not damage.
    std::fs::write(root(&env).join("tmp/blob-interrupted"), b"half").unwrap();
    let said = ok(&env, &["check"]);
    assert!(
        said.contains("leftover: partial write blob-interrupted"),
        "{said}"
    );
    assert!(said.ends_with(": whole\n"), "{said}");

    // Flip the config blob's bytes, and remove the layer blob: both are named.
    let manifest: serde_json::Value =
        serde_json::from_str(&ok(&env, &["inspect", "--manifest", "busybox"])).unwrap();
    let blobs = root(&env).join("oci/blobs/sha256");
    std::fs::write(blobs.join(&id[7..]), b"{}").unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::remove_file(blobs.join(&layer[7..])).unwrap();
    let output = run(&env, &["check"]);
    assert_eq!(output.status.code(), Some(1), "{}", report(&output));
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(&format!(
            "damaged: blob {id}: its content hashes to sha256:"
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("layer blob {layer} is missing")),
        "{said}"
    );
    assert!(said.ends_with(": DAMAGED\n"), "{said}");
}

#[test]
fn a_full_disk_during_import_is_a_clear_error_and_leaves_the_store_whole() {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    let env = TestEnv::new();
    let tar = busybox_tar(&env);
    // 500 KiB: the layer blob itself does not fit; 1500 KiB: the blob fits, its unpacked
    // files do not.
    for size in ["500k", "1500k"] {
        let small = env.path().join(format!("small-{size}"));
        std::fs::create_dir_all(&small).unwrap();
        mount(
            Some("tmpfs"),
            &small,
            Some("tmpfs"),
            MsFlags::empty(),
            Some(format!("size={size}").as_str()),
        )
        .unwrap();
        let root = small.join("root");
        let output = env
            .cmd(BIN)
            .env("BALEIA_ROOT", &root)
            .args(["import", tar.to_str().unwrap(), "busybox"])
            .output()
            .unwrap();
        let check = env
            .cmd(BIN)
            .env("BALEIA_ROOT", &root)
            .arg("check")
            .output()
            .unwrap();
        let leftovers: Vec<String> = ["tmp", "layers", "oci/blobs/sha256"]
            .iter()
            .flat_map(|d| list_dir(&root.join(d)))
            .collect();
        umount2(&small, MntFlags::MNT_DETACH).unwrap();
        assert_eq!(
            output.status.code(),
            Some(125),
            "{size}: {}",
            report(&output)
        );
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("No space left on device"),
            "{size}: {}",
            report(&output)
        );
        assert!(check.status.success(), "{size}: {}", report(&check));
        assert!(leftovers.is_empty(), "{size}: left {leftovers:?}");
    }
}
