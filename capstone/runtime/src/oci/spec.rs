//! `baleia runtime spec`: write a starter `config.json` into the bundle, the one runc writes
//! (runc's `runc spec`), so that a bundle made for runc is a bundle for us and back.
//!
//! The starter is the runtime spec's classic example, trimmed to what a shell in a busybox
//! root needs: `sh` on a terminal as root, three capabilities, a read-only root, the usual
//! `/proc`, `/dev`, `/sys` mounts, the paths the kernel must not show (`maskedPaths`,
//! `readonlyPaths`, see `config-linux.md`), and new pid, network, ipc, uts and mount namespaces
//! (and cgroup, on a cgroup v2 host, as runc does).
//! `--rootless` makes it usable by an unprivileged user: a user namespace mapping only that
//! user, `/sys` bound from the host (a user namespace may not mount a fresh sysfs without its
//! own network namespace) and no device rules (an unprivileged user cannot write them).

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct SpecArgs {
    /// The bundle to write config.json into.
    #[arg(short, long, default_value = ".")]
    bundle: std::path::PathBuf,
    /// A configuration for an unprivileged user (a user namespace mapping only them).
    #[arg(long)]
    rootless: bool,
}

/// Write BUNDLE/config.json; never over an existing one (runc refuses too).
pub fn write(args: &SpecArgs) -> Result<()> {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!("File {} exists. Remove it first", path.display());
    }
    let spec = starter(args.rootless);
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))
}

/// Is `/sys/fs/cgroup` the cgroup v2 unified hierarchy (statfs(2): CGROUP2_SUPER_MAGIC)?
fn unified_cgroup_host() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The starter spec (`rootless`: for the calling user, alone in a user namespace).
pub fn starter(rootless: bool) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut devpts = vec![
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    // The tty group (gid 5) owns terminals, as on a usual system; a rootless user namespace
    // that maps only its user has no gid 5 to give them.
    if !rootless {
        devpts.push("gid=5");
    }
    let sys = if rootless {
        json!({"destination": "/sys", "type": "none", "source": "/sys",
               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]})
    } else {
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]})
    };
    let mut namespaces = vec![json!({"type": "pid"})];
    if !rootless {
        namespaces.push(json!({"type": "network"}));
    }
    namespaces.extend([
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ]);
    // On a cgroup v2 host runc adds a cgroup namespace: the container sees its own cgroup
    // as the root of /sys/fs/cgroup (cgroup_namespaces(7)).
    if unified_cgroup_host() {
        namespaces.push(json!({"type": "cgroup"}));
    }
    let mut linux = json!({
        "namespaces": namespaces,
        "maskedPaths": [
            "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
            "/proc/scsi"
        ],
        "readonlyPaths": [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
        ],
    });
    if rootless {
        // SAFETY: getuid and getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        linux["namespaces"]
            .as_array_mut()
            .expect("an array")
            .push(json!({"type": "user"}));
    } else {
        // Deny every device but those the runtime always creates (see the devices cgroup).
        linux["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    }
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": devpts},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            sys,
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": linux,
    })
}
