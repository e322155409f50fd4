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

use crate::error::{Error, Result};
use ch01_namespaces::explain;
use std::process::Command;

const ISOLATION_1: &str = "BALEIA-ISOLATION-1";
const ISOLATION_2: &str = "BALEIA-ISOLATION-2";
const FORWARD: &str = "BALEIA-FORWARD";

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

/// Delete every rule of the network (all copies, should there be several).
pub fn remove(bridge: &str, subnet: &str) -> Result<()> {
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

/// The rules that mention `bridge`, as `iptables-save` prints them (for `network inspect` and
/// the tests' leak checks).
pub fn rules_mentioning(bridge: &str) -> Result<Vec<String>> {
    let output = Command::new("iptables-save")
        .output()
        .map_err(|e| Error::Command {
            command: "iptables-save".into(),
            message: e.to_string(),
        })?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.split_whitespace().any(|w| w == bridge))
        .map(str::to_string)
        .collect())
}
