//! The spec's `process.capabilities`, `process.noNewPrivileges`, `linux.seccomp` and
//! `process.rlimits`, as chapter 01's [`Security`] and a child-side step.
//!
//! Chapter 01 keeps one set of capabilities in the bounding, permitted and effective sets, and
//! sets the inheritable and ambient ones as given (Docker gives none). `bounding` is the set
//! kept. `effective` and `permitted` may be smaller (each within the one before, as the
//! kernel requires) but make no difference after `execve`: root gets its bounding set back in
//! both, and a non-root program keeps only its ambient capabilities (capabilities(7),
//! "Transformation of capabilities during execve").

use anyhow::{anyhow, bail, Context, Result};
use ch01_namespaces::seccomp_profile::{Action, ArgCondition, Profile, Rule};
use ch01_namespaces::security::{parse_capability, Seccomp, Security};
use oci_spec::runtime::{LinuxSeccomp, Process};
use std::collections::HashSet;

/// What the spec's process may do. A spec without `capabilities` gets none; without
/// `linux.seccomp`, no filter (both as in runc: the engine writing the spec decides).
pub fn security_of(process: &Process, seccomp: Option<&LinuxSeccomp>) -> Result<Security> {
    let (inheritable, ambient) = passed_on(process)?;
    Ok(Security {
        capabilities: Some(capabilities(process)?),
        inheritable,
        ambient,
        no_new_privileges: process.no_new_privileges().unwrap_or(false),
        seccomp: match seccomp {
            Some(profile) => Seccomp::Profile(profile_of(profile)?),
            None => Seccomp::Unconfined,
        },
    })
}

fn names(set: &Option<oci_spec::runtime::Capabilities>) -> Result<Option<HashSet<String>>> {
    set.as_ref()
        .map(|caps| {
            caps.iter()
                .map(|cap| {
                    let value = serde_json::to_value(cap)?;
                    Ok(value.as_str().unwrap_or_default().to_string())
                })
                .collect()
        })
        .transpose()
}

fn capabilities(process: &Process) -> Result<caps::CapsHashSet> {
    let Some(spec) = process.capabilities() else {
        return Ok(caps::CapsHashSet::new());
    };
    let bounding = names(spec.bounding())?.unwrap_or_default();
    let permitted = names(spec.permitted())?;
    if let Some(extra) = permitted.iter().flatten().find(|c| !bounding.contains(*c)) {
        bail!("process.capabilities.permitted has {extra}, which is not in bounding");
    }
    let within = permitted.unwrap_or_else(|| bounding.clone());
    if let Some(extra) = names(spec.effective())?
        .iter()
        .flatten()
        .find(|c| !within.contains(*c))
    {
        bail!("process.capabilities.effective has {extra}, which is not in permitted");
    }
    bounding
        .iter()
        .map(|name| {
            parse_capability(name)?.ok_or_else(|| anyhow!("capability ALL is not a capability"))
        })
        .collect()
}

/// The inheritable and ambient sets: what a program keeps through `execve`, which matters to
/// a non-root one (root gets its bounding set back on every `execve` anyway). An ambient
/// capability also has to be inheritable to be raised (capabilities(7)): runc's starter spec
/// lists ambient ones only, and runc raises none of them then; nor do we.
fn passed_on(process: &Process) -> Result<(caps::CapsHashSet, caps::CapsHashSet)> {
    let Some(spec) = process.capabilities() else {
        return Ok(Default::default());
    };
    let parse = |set: Option<HashSet<String>>| -> Result<caps::CapsHashSet> {
        set.unwrap_or_default()
            .iter()
            .map(|name| {
                parse_capability(name)?.ok_or_else(|| anyhow!("capability ALL is not a capability"))
            })
            .collect()
    };
    Ok((
        parse(names(spec.inheritable())?)?,
        parse(names(spec.ambient())?)?,
    ))
}

/// The spec's words for an enum value (`SCMP_ACT_ERRNO`), as serde writes them.
fn word(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `linux.seccomp` as chapter 01's profile.
pub fn profile_of(seccomp: &LinuxSeccomp) -> Result<Profile> {
    if seccomp.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        bail!("linux.seccomp.flags are not supported");
    }
    let mut rules = Vec::new();
    for syscall in seccomp.syscalls().iter().flatten() {
        let args = syscall
            .args()
            .iter()
            .flatten()
            .map(|arg| {
                Ok(ArgCondition {
                    index: u8::try_from(arg.index()).context("seccomp argument index")?,
                    op: word(arg.op()),
                    value: arg.value(),
                    value_two: arg.value_two().unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        rules.push(Rule {
            names: syscall.names().clone(),
            action: Action::parse(&word(syscall.action()), syscall.errno_ret())?,
            args,
        });
    }
    Ok(Profile {
        default_action: Action::parse(
            &word(seccomp.default_action()),
            seccomp.default_errno_ret(),
        )?,
        architectures: seccomp.architectures().iter().flatten().map(word).collect(),
        rules,
        // Set by the caller, which relays the listener to the agent (see `seccomp_agent`).
        listener: None,
    })
}

/// A resource limit to set: `(resource, soft, hard)`.
pub type Rlimit = (libc::__rlimit_resource_t, u64, u64);

/// `process.rlimits`, checked against what this process may set: nobody without
/// CAP_SYS_RESOURCE can raise a hard limit, so a spec asking for more than ours is refused
/// here, with the limit named, rather than failing with a bare EPERM inside.
pub fn rlimits_of(process: &Process) -> Result<Vec<Rlimit>> {
    let mut limits = Vec::new();
    for limit in process.rlimits().iter().flatten() {
        let name = word(limit.typ());
        let resource = match name.as_str() {
            "RLIMIT_CPU" => libc::RLIMIT_CPU,
            "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
            "RLIMIT_DATA" => libc::RLIMIT_DATA,
            "RLIMIT_STACK" => libc::RLIMIT_STACK,
            "RLIMIT_CORE" => libc::RLIMIT_CORE,
            "RLIMIT_RSS" => libc::RLIMIT_RSS,
            "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
            "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
            "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
            "RLIMIT_AS" => libc::RLIMIT_AS,
            "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
            "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
            "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
            "RLIMIT_NICE" => libc::RLIMIT_NICE,
            "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
            "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
            other => bail!("process.rlimits: unknown limit {other}"),
        };
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills in the struct we pass.
        if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
            bail!("getrlimit({name}): {}", std::io::Error::last_os_error());
        }
        let (soft, hard) = (limit.soft(), limit.hard());
        if hard > current.rlim_max && !has_sys_resource() {
            bail!(
                "process.rlimits {name}: hard limit {hard} is above this runtime's own ({}), and \
                 raising it needs CAP_SYS_RESOURCE",
                current.rlim_max
            );
        }
        if resource == libc::RLIMIT_NOFILE {
            // setrlimit(2): EPERM for RLIMIT_NOFILE above /proc/sys/fs/nr_open, even with
            // CAP_SYS_RESOURCE (proc(5), "nr_open").
            let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok());
            if let Some(ceiling) = ceiling.filter(|ceiling| hard > *ceiling) {
                bail!(
                    "process.rlimits {name}: hard limit {hard} is above the kernel's ceiling \
                     for open files ({ceiling}, /proc/sys/fs/nr_open)"
                );
            }
        }
        if soft > hard {
            bail!("process.rlimits {name}: soft limit {soft} is above the hard limit {hard}");
        }
        limits.push((resource, soft, hard));
    }
    Ok(limits)
}

fn has_sys_resource() -> bool {
    caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false)
}

/// Set the limits (a child-side step: they are inherited across `execve`).
pub fn apply_rlimits(limits: &[Rlimit]) -> Result<()> {
    for (resource, soft, hard) in limits {
        ch01_namespaces::explain!("setrlimit({resource}, {soft}, {hard})");
        let value = libc::rlimit {
            rlim_cur: *soft,
            rlim_max: *hard,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(*resource, &value) } != 0 {
            bail!(
                "setrlimit({resource}, {soft}, {hard}): {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// The other way: chapter 01's profile as the spec's `linux.seccomp` (what the engine writes).
pub fn spec_seccomp_of(profile: &Profile) -> Result<LinuxSeccomp> {
    let action = |action: Action| -> (&'static str, Option<u32>) {
        match action {
            Action::Allow => ("SCMP_ACT_ALLOW", None),
            Action::Errno(errno) => ("SCMP_ACT_ERRNO", Some(errno)),
            Action::KillThread => ("SCMP_ACT_KILL_THREAD", None),
            Action::KillProcess => ("SCMP_ACT_KILL_PROCESS", None),
            Action::Trap => ("SCMP_ACT_TRAP", None),
            Action::Log => ("SCMP_ACT_LOG", None),
            Action::Trace(n) => ("SCMP_ACT_TRACE", Some(n)),
            Action::Notify => ("SCMP_ACT_NOTIFY", None),
        }
    };
    let (default, default_errno) = action(profile.default_action);
    let syscalls: Vec<serde_json::Value> = profile
        .rules
        .iter()
        .map(|rule| {
            let (name, errno) = action(rule.action);
            let args: Vec<serde_json::Value> = rule
                .args
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "index": a.index, "value": a.value, "valueTwo": a.value_two, "op": a.op,
                    })
                })
                .collect();
            serde_json::json!({
                "names": rule.names, "action": name, "errnoRet": errno,
                "args": if args.is_empty() { serde_json::Value::Null } else { args.into() },
            })
        })
        .collect();
    let json = serde_json::json!({
        "defaultAction": default,
        "defaultErrnoRet": default_errno,
        "architectures": if profile.architectures.is_empty() { serde_json::Value::Null } else { profile.architectures.clone().into() },
        "syscalls": syscalls,
    });
    Ok(serde_json::from_value(strip_nulls(json))?)
}

fn strip_nulls(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k, strip_nulls(v)))
            .collect(),
        serde_json::Value::Array(items) => items.into_iter().map(strip_nulls).collect(),
        other => other,
    }
}

/// `--security-opt seccomp=JSON`: a Docker seccomp profile (the client sent the file's
/// content) as the spec's `linux.seccomp`. Docker's format is the spec's plus `archMap` and
/// per-rule conditions, which the engine resolves here, as moby does: a rule with
/// `includes` is kept only if the container has every capability listed (`caps`), runs on a
/// listed architecture (`arches`, Go's names: amd64...) and kernel (`minKernel`); one with
/// `excludes` is dropped if any of those hold. Anything else in them is refused.
pub fn docker_profile(json: &str, kept: &caps::CapsHashSet) -> Result<LinuxSeccomp> {
    let mut value: serde_json::Value = serde_json::from_str(json)
        .context("--security-opt seccomp=FILE: the file is not a JSON seccomp profile")?;
    let object = value
        .as_object_mut()
        .context("--security-opt seccomp=FILE: a profile is a JSON object")?;
    if let Some(arch_map) = object.remove("archMap") {
        if !object.contains_key("architectures") {
            let arches: Vec<serde_json::Value> = arch_map
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.get("architecture").cloned())
                .collect();
            object.insert("architectures".into(), arches.into());
        }
    }
    object.remove("defaultErrno");
    let rules = object
        .get_mut("syscalls")
        .and_then(|s| s.as_array_mut())
        .map(std::mem::take)
        .unwrap_or_default();
    let mut kept_rules = Vec::new();
    for mut rule_value in rules {
        let rule = rule_value
            .as_object_mut()
            .context("a seccomp rule is a JSON object")?;
        let includes = rule.remove("includes").unwrap_or_default();
        let excludes = rule.remove("excludes").unwrap_or_default();
        if !conditions_hold(&includes, kept, true)? || conditions_hold(&excludes, kept, false)? {
            continue;
        }
        if let Some(name) = rule.remove("name") {
            rule.entry("names").or_insert_with(|| vec![name].into());
        }
        rule.remove("comment");
        kept_rules.push(rule_value);
    }
    object.insert("syscalls".into(), kept_rules.into());
    let seccomp: LinuxSeccomp = serde_json::from_value(value)
        .context("--security-opt seccomp=FILE: not a seccomp profile")?;
    profile_of(&seccomp)?.compile()?;
    Ok(seccomp)
}

/// A Docker profile rule's `includes` (`all`: every condition must hold) or `excludes` (any
/// one holding is enough). An empty or absent object: `all` → true, any → false.
fn conditions_hold(
    conditions: &serde_json::Value,
    kept: &caps::CapsHashSet,
    all: bool,
) -> Result<bool> {
    let Some(object) = conditions.as_object() else {
        return Ok(all);
    };
    let mut results = Vec::new();
    for (key, value) in object {
        let items: Vec<&str> = value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect();
        let has = |name: &&str| {
            parse_capability(name)
                .ok()
                .flatten()
                .is_some_and(|c| kept.contains(&c))
        };
        results.push(match key.as_str() {
            "caps" if all => items.iter().all(has),
            "caps" => items.iter().any(has),
            "arches" => items.iter().any(|a| *a == go_arch()),
            "minKernel" => kernel_at_least(value.as_str().unwrap_or_default()),
            other => {
                bail!("--security-opt seccomp=FILE: rule condition {other:?} is not supported")
            }
        });
    }
    Ok(if all {
        results.iter().all(|r| *r)
    } else {
        results.iter().any(|r| *r)
    })
}

/// This machine's architecture in Go's words (Docker profiles use them).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Whether the running kernel is at least `wanted` (`"5.8"`).
fn kernel_at_least(wanted: &str) -> bool {
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let numbers = |text: &str| -> Vec<u32> {
        text.split(|c: char| !c.is_ascii_digit())
            .take(2)
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    numbers(&release) >= numbers(wanted)
}

/// Send the seccomp filter's listener over `fd` (see [`super::seccomp_agent`]).
pub fn set_listener(security: &mut Security, fd: i32) {
    if let ch01_namespaces::security::Seccomp::Profile(profile) = &mut security.seccomp {
        profile.listener = Some(fd);
    }
}
