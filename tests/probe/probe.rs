//! The probe: a tiny program the tests run *inside* a container to report what it sees.
//!
//! It uses the standard library only and is compiled statically by the test harness
//! (`rustc -C target-feature=+crt-static`), so it runs in any root file system, even one with no
//! C library. Every report is plain `key: value` lines, stable enough to snapshot.
//!
//! ```text
//! probe pid            pid: 1
//! probe ns             one line per namespace kind: "pid: pid:[4026532201]"
//! probe net            the interfaces, and whether 127.0.0.1 answers
//! probe orphan         leave an orphan behind and count the zombies PID 1 did not reap
//! probe sleep-ms N     sleep N milliseconds
//! probe chroot-escape PATH
//!                      try the classic chroot escape, then say whether PATH is reachable
//! probe alloc-mb N     allocate N MiB and touch every page; "allocated: N MiB"
//! probe spin-ms N      keep a CPU busy for N milliseconds of wall-clock time
//! probe spawn N        try to start N children that sleep; "started: S" "refused: R"
//! probe security       capability sets, no_new_privs, seccomp mode, open descriptors, and
//!                      what happens to mount, unshare(CLONE_NEWUSER) and keyctl
//! ```

use std::net::UdpSocket;
use std::process::{Command, ExitCode};
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("pid") => println!("pid: {}", std::process::id()),
        Some("ns") => namespaces(),
        Some("net") => network(),
        Some("orphan") => orphan(),
        Some("orphan-parent") => orphan_parent(),
        Some("chroot-escape") => chroot_escape(args.get(2).map_or("/", String::as_str)),
        Some("sleep-ms") => {
            let ms = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100);
            std::thread::sleep(Duration::from_millis(ms));
        }
        Some("alloc-mb") => allocate(number_arg(&args, 64)),
        Some("spin-ms") => spin(number_arg(&args, 1000)),
        Some("spawn") => spawn_sleepers(number_arg(&args, 100)),
        Some("security") => security(),
        _ => {
            eprintln!("usage: probe pid|ns|net|orphan|sleep-ms N|alloc-mb N|spin-ms N|spawn N|chroot-escape PATH");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn namespaces() {
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"] {
        let link = std::fs::read_link(format!("/proc/self/ns/{kind}"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|e| format!("unreadable ({e})"));
        println!("{kind}: {link}");
    }
}

fn network() {
    // /proc/net/dev lists the interfaces of the reader's network namespace.
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    let mut names: Vec<&str> = dev
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(str::trim)
        .collect();
    names.sort();
    println!("interfaces: {}", names.join(" "));
    println!("loopback: {}", loopback_answers());
}

/// Send a datagram to ourselves on 127.0.0.1: it only arrives if `lo` is up.
fn loopback_answers() -> String {
    let attempt = || -> std::io::Result<()> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(500)))?;
        socket.send_to(b"ping", socket.local_addr()?)?;
        let mut buf = [0u8; 4];
        socket.recv_from(&mut buf)?;
        Ok(())
    };
    match attempt() {
        Ok(()) => "works".to_string(),
        Err(e) => format!("fails ({})", e.kind()),
    }
}

/// Start a child that starts a grandchild and exits at once: the grandchild is re-parented to
/// PID 1 and exits a little later. If PID 1 does not reap it, it stays a zombie.
fn orphan() {
    let me = std::env::current_exe().expect("/proc/self/exe");
    let status = Command::new(me).arg("orphan-parent").status();
    assert!(status.map(|s| s.success()).unwrap_or(false));
    std::thread::sleep(Duration::from_millis(500));
    println!("zombies: {}", count_zombies());
}

fn orphan_parent() {
    let me = std::env::current_exe().expect("/proc/self/exe");
    Command::new(me)
        .args(["sleep-ms", "100"])
        .spawn()
        .expect("spawn grandchild");
}

fn count_zombies() -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        // The state is the first field after the command name, which is in parentheses.
        .filter(|stat| stat.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z')) == Some(true))
        .count()
}

fn number_arg(args: &[String], default: u64) -> u64 {
    args.get(2).and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Allocate `mib` MiB one at a time and write to every page, so the memory is really used (an
/// untouched allocation costs nothing until written).
fn allocate(mib: u64) {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        let mut block = vec![0u8; 1 << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        blocks.push(block);
    }
    println!("allocated: {} MiB", blocks.len());
}

/// Burn CPU until `ms` milliseconds of wall-clock time have passed.
fn spin(ms: u64) {
    let start = std::time::Instant::now();
    let mut x: u64 = 0;
    while start.elapsed() < Duration::from_millis(ms) {
        for i in 0..10_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
    println!("spun: {ms} ms");
}

/// Try to start `count` children that sleep (a bounded fork bomb): count how many the kernel
/// let us start and how many forks it refused, then stop the children.
fn spawn_sleepers(count: u64) {
    let me = std::env::current_exe().expect("/proc/self/exe");
    let mut children = Vec::new();
    let mut refused = 0;
    for _ in 0..count {
        match Command::new(&me).args(["sleep-ms", "30000"]).spawn() {
            Ok(child) => children.push(child),
            Err(_) => refused += 1,
        }
    }
    println!("started: {}", children.len());
    println!("refused: {refused}");
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The classic escape from a `chroot(2)` jail, as root: chroot into a subdirectory *without*
/// changing directory, so the current directory is now outside our root, where `..` is not
/// stopped at the root; walk up as far as it goes and chroot there. In a plain chroot that is
/// the host's `/`. After `pivot_root` in a mount namespace whose old root was unmounted, the
/// walk ends at the container's own root: the host's files are not in its mount table at all.
fn chroot_escape(marker: &str) {
    let attempt = || -> std::io::Result<()> {
        std::fs::create_dir_all("/.escape")?;
        std::os::unix::fs::chroot("/.escape")?;
        for _ in 0..64 {
            std::env::set_current_dir("..")?;
        }
        std::os::unix::fs::chroot(".")?;
        std::env::set_current_dir("/")
    };
    match attempt() {
        Ok(()) => {
            let reachable = std::path::Path::new(marker).exists();
            println!(
                "after the escape, {marker} is {}",
                if reachable { "reachable" } else { "not reachable" }
            );
        }
        Err(e) => println!("escape failed: {e}"),
    }
}

extern "C" {
    fn syscall(number: std::os::raw::c_long, ...) -> std::os::raw::c_long;
}

/// What a root process in the container may do.
fn security() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines() {
        let key = line.split(':').next().unwrap_or("");
        if key.starts_with("Cap") || key == "NoNewPrivs" || key == "Seccomp" {
            println!("{}", line.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    let mut fds: Vec<String> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    fds.sort();
    // The directory being read is one of them: list the others.
    let open: Vec<&String> = fds.iter().filter(|fd| fd.parse::<u32>().is_ok_and(|n| n > 2)).collect();
    println!("descriptors above 2: {}", open.len().saturating_sub(1));
    #[cfg(target_arch = "x86_64")]
    {
        let outcome = |ret: std::os::raw::c_long| {
            if ret == 0 {
                "allowed".to_string()
            } else {
                format!("refused ({})", std::io::Error::last_os_error())
            }
        };
        let target = b"/tmp\0";
        let fstype = b"tmpfs\0";
        // SAFETY: plain system calls with valid NUL-terminated strings or integers.
        unsafe {
            println!(
                "mount: {}",
                outcome(syscall(165, fstype.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, 0))
            );
            println!("unshare(CLONE_NEWUSER): {}", outcome(syscall(272, 0x1000_0000)));
            // keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
            println!("keyctl: {}", outcome(syscall(250, 0, -3i64, 0)));
        }
    }
}
