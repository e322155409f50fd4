//! Forwarding, isolation and egress NAT with `iptables(8)`, as Docker does.
//!
//! Per network (bridge `br`, subnet `S`):
//!
//! ```text
//! filter BALEIA-ISOLATION-1  -i br ! -o br -j BALEIA-ISOLATION-2   leaving br for elsewhere...
//! filter BALEIA-ISOLATION-2  -o br -j DROP                        ...into another baleia bridge: no
//! filter BALEIA-FORWARD      -i br -j ACCEPT                      out of the network: yes
//! filter BALEIA-FORWARD      -o br -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT  replies
//! nat    POSTROUTING         -s S ! -o br -j MASQUERADE           egress: rewrite the source
//! ```
//!
//! FORWARD jumps to the isolation chain first, then to BALEIA-FORWARD. Every rule is added
//! only if `iptables -C` does not find it (so setting up twice changes nothing), and deleted
//! when the network is removed. Why `iptables` rather than netlink: the nf_tables netlink
//! protocol has no maintained Rust crate, and iptables is what Docker itself drives.
//!
//! Only these rules are ours: Docker's chains (DOCKER, DOCKER-ISOLATION-*, DOCKER-USER) and
//! its rules in FORWARD and POSTROUTING are never read, changed or flushed. The three chains
//! and FORWARD's two jumps stay when the last network goes (as Docker's do): other state
//! roots' networks may be using them.
//!
//! Without iptables (a fresh Debian has none; nor does a kernel without nf_tables with the
//! `iptables-nft` front end) the networks come up without these rules: see [`check`].
use crate::error::{Error, Result};
use ch01_namespaces::common::Failure;
use ch01_namespaces::explain;
use std::process::Command;

const ISOLATION_1: &str = "BALEIA-ISOLATION-1";
const ISOLATION_2: &str = "BALEIA-ISOLATION-2";
const FORWARD: &str = "BALEIA-FORWARD";

/// Why the rules cannot be made: the warning the engine shows (once, in its log and in
/// `info`), naming what is missing and what does not work without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// `iptables is not installed`, or `iptables -S FORWARD failed: ...`.
    pub reason: String,
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: networks come up without NAT and isolation rules. Containers reach each \
             other on their network, the host, and ports published on the host; they do not \
             reach the outside world (no egress NAT), and networks are not isolated from each \
             other. To get both: install the package iptables (apt-get install iptables); a \
             network gets its rules at its next container start.",
            self.reason
        )?;
        // br_netfilter hands bridged packets to the host's firewall (`FORWARD`): if another
        // tool set its policy to DROP (Docker does), traffic between two containers on one
        // bridge depends on rules we could not add.
        if std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
            .is_ok_and(|v| v.trim() == "1")
        {
            write!(
                f,
                " (br_netfilter is loaded: if the host's firewall drops forwarded packets, \
                 containers on one bridge cannot reach each other either.)"
            )?;
        }
        Ok(())
    }
}

/// Whether we can program the rules: `iptables` exists and both tables answer. One listing
/// each (`-S`, no name lookups): a missing binary, and a front end whose kernel backend is
/// not there (`iptables-nft` without `nf_tables`: "Could not fetch rule set generation id"),
/// both come back as [`Unavailable`], before any rule is made, so a network is never left
/// with half its rules.
pub fn check() -> std::result::Result<(), Unavailable> {
    for (table, chain) in [("filter", "FORWARD"), ("nat", "POSTROUTING")] {
        let args = ["-t", table, "-S", chain];
        match Command::new("iptables").arg("-w").args(args).output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Unavailable {
                    reason: "iptables is not installed (no iptables in PATH)".into(),
                })
            }
            Err(e) => {
                return Err(Unavailable {
                    reason: format!("iptables cannot be run: {e}"),
                })
            }
            Ok(output) if !output.status.success() => {
                return Err(Unavailable {
                    reason: format!(
                        "iptables does not work here (iptables -t {table} -S {chain}: {})",
                        String::from_utf8_lossy(&output.stderr).trim()
                    ),
                })
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Whether an `iptables` program is on PATH at all (a few `stat(2)`s, no process): the
/// cheap test before [`check`] on a container's start path.
pub fn installed() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("iptables").is_file()))
}

fn iptables(args: &[&str]) -> Result<std::process::Output> {
    Command::new("iptables")
        .arg("-w")
        .args(args)
        .output()
        .map_err(|e| Error::Command {
            command: format!("iptables {}", args.join(" ")),
            message: format!("{e} (is the iptables package installed?)"),
        })
}

fn run(args: &[&str]) -> Result<()> {
    let output = iptables(args)?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Command {
            command: format!("iptables {}", args.join(" ")),
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// `table chain rule...`: the rules of one network.
fn rules(bridge: &str, subnet: &str) -> Vec<(&'static str, &'static str, Vec<String>)> {
    let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    vec![
        (
            "filter",
            ISOLATION_1,
            words(&format!("-i {bridge} ! -o {bridge} -j {ISOLATION_2}")),
        ),
        (
            "filter",
            ISOLATION_2,
            words(&format!("-o {bridge} -j DROP")),
        ),
        ("filter", FORWARD, words(&format!("-i {bridge} -j ACCEPT"))),
        (
            "filter",
            FORWARD,
            words(&format!(
                "-o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
            )),
        ),
        (
            "nat",
            "POSTROUTING",
            words(&format!("-s {subnet} ! -o {bridge} -j MASQUERADE")),
        ),
    ]
}

fn present(table: &str, chain: &str, rule: &[String]) -> Result<bool> {
    let mut args = vec!["-t", table, "-C", chain];
    args.extend(rule.iter().map(String::as_str));
    Ok(iptables(&args)?.status.success())
}

/// Our chains, and FORWARD's jumps to them (isolation first).
fn ensure_chains() -> Result<()> {
    for chain in [ISOLATION_1, ISOLATION_2, FORWARD] {
        if !iptables(&["-t", "filter", "-n", "-L", chain])?
            .status
            .success()
        {
            explain!("iptables -N {chain}");
            run(&["-t", "filter", "-N", chain])?;
        }
    }
    for chain in [FORWARD, ISOLATION_1] {
        let jump = vec!["-j".to_string(), chain.to_string()];
        if !present("filter", "FORWARD", &jump)? {
            explain!("iptables -I FORWARD -j {chain}");
            run(&["-t", "filter", "-I", "FORWARD", "-j", chain])?;
        }
    }
    Ok(())
}

/// Add the network's rules that are missing, and turn on IPv4 forwarding (egress needs it).
/// Call [`check`] first. Fails part-way if iptables does: the caller removes what was made
/// ([`remove`]).
pub fn ensure(bridge: &str, subnet: &str) -> Result<()> {
    ensure_chains()?;
    for (table, chain, rule) in rules(bridge, subnet) {
        if !present(table, chain, &rule)? {
            explain!("iptables -t {table} -A {chain} {}", rule.join(" "));
            let mut args = vec!["-t", table, "-A", chain];
            args.extend(rule.iter().map(String::as_str));
            run(&args)?;
        }
    }
    let forward = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(forward)
        .map(|v| v.trim() != "1")
        .unwrap_or(true)
    {
        explain!("echo 1 > {forward}: the host routes between its interfaces (as Docker sets it)");
        std::fs::write(forward, "1").map_err(Error::file("write", forward))?;
    }
    Ok(())
}

/// Delete every rule of the network (all copies, should there be several). Without a working
/// iptables there is nothing to delete.
pub fn remove(bridge: &str, subnet: &str) -> Result<()> {
    if !installed() {
        return Ok(());
    }
    for (table, chain, rule) in rules(bridge, subnet) {
        while present(table, chain, &rule).unwrap_or(false) {
            explain!("iptables -t {table} -D {chain} {}", rule.join(" "));
            let mut args = vec!["-t", table, "-D", chain];
            args.extend(rule.iter().map(String::as_str));
            run(&args)?;
        }
    }
    Ok(())
}

/// Delete our rules for `bridge` whatever its subnet was (a bridge a crashed run left): the
/// lines of `iptables-save` in our chains, and the MASQUERADE rule in POSTROUTING, that name
/// it, each deleted by its own words (`-A chain rule` becomes `-D chain rule`).
pub fn remove_mentioning(bridge: &str) -> Result<()> {
    if !installed() {
        return Ok(());
    }
    let ours = |chain: &str, words: &[&str]| {
        [ISOLATION_1, ISOLATION_2, FORWARD].contains(&chain)
            || (chain == "POSTROUTING" && words.ends_with(&["-j", "MASQUERADE"]))
    };
    let output = Command::new("iptables-save")
        .output()
        .map_err(|e| Error::Command {
            command: "iptables-save".into(),
            message: e.to_string(),
        })?;
    let mut table = String::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [flag, chain, rule @ ..] = words.as_slice() else {
            continue;
        };
        if *flag != "-A" || !rule.contains(&bridge) || !ours(chain, rule) {
            continue;
        }
        explain!("iptables -t {table} -D {chain} {}", rule.join(" "));
        let mut args = vec!["-t", table.as_str(), "-D", chain];
        args.extend(rule);
        run(&args)?;
    }
    Ok(())
}

/// The rules that mention `bridge`, as `iptables-save` prints them (for `network inspect` and
/// the tests' leak checks).
/// Without iptables there are none.
pub fn rules_mentioning(bridge: &str) -> Result<Vec<String>> {
    let output = match Command::new("iptables-save").output() {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Command {
                command: "iptables-save".into(),
                message: e.to_string(),
            })
        }
    };
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == bridge))
        .map(str::to_string)
        .collect())
}
