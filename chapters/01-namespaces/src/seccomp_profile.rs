//! Seccomp profiles: a filter described as data, as the OCI runtime spec's `linux.seccomp` and
//! Docker's `--security-opt seccomp=FILE` give it, compiled into BPF.
//!
//! A profile is a default action plus a list of rules, each naming system calls, an action
//! and optionally conditions on the call's arguments (read `config-linux.md#seccomp` in the
//! OCI runtime spec, and `seccomp(2)` for the actions). seccompiler builds one BPF program per
//! *action* ("these calls → that action, everything else → allow"), so a profile with several
//! actions becomes several programs. The kernel runs every loaded program on each call and
//! keeps the most restrictive answer (`seccomp(2)`, "Filter return values"), which gives:
//! - one program per action used by a rule: its calls (with their conditions) → the action;
//! - last, the default program: every listed call (with its conditions) → allow, the rest →
//!   the default action. A call whose conditions do not hold falls through to the default.
//!
//! Names this machine has no call for are skipped, as runc does (profiles list calls of every
//! architecture). The filter checks the architecture too: calls made through another ABI
//! (32-bit `int 0x80` on x86_64) are killed.

use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use crate::syscall_names;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// What happens to a call (the spec's `SCMP_ACT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Allow,
    /// Fail with this errno (EPERM when the profile gives none).
    Errno(u32),
    KillThread,
    KillProcess,
    /// Send SIGSYS.
    Trap,
    /// Allow, and log it in the kernel's audit log.
    Log,
    /// Notify a ptrace tracer with this number.
    Trace(u32),
    /// Hand the call to a user-space agent, which answers for the kernel (`SCMP_ACT_NOTIFY`,
    /// read seccomp_unotify(2)). The profile's [`listener`](Profile::listener) says where
    /// the agent's descriptor goes.
    Notify,
}

/// The mark a notify rule's calls get from seccompiler (which knows no notify action: it
/// writes `SECCOMP_RET_TRACE | mark`), rewritten to `SECCOMP_RET_USER_NOTIF` afterwards.
const NOTIFY_MARK: u32 = 0xba1e;
const SECCOMP_RET_TRACE: u32 = 0x7ff0_0000;
const SECCOMP_RET_USER_NOTIF: u32 = 0x7fc0_0000;
const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;

impl Action {
    /// `SCMP_ACT_ERRNO` and the rest; `errno` is the rule's `errnoRet`.
    pub fn parse(name: &str, errno: Option<u32>) -> Result<Action> {
        Ok(match name {
            "SCMP_ACT_ALLOW" => Action::Allow,
            "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
            "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
            "SCMP_ACT_TRAP" => Action::Trap,
            "SCMP_ACT_LOG" => Action::Log,
            "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(libc::EPERM as u32)),
            "SCMP_ACT_NOTIFY" => Action::Notify,
            other => {
                return Err(Error::Invalid(format!(
                    "seccomp action {other} is not supported (supported: SCMP_ACT_ALLOW, \
                     ERRNO, KILL, KILL_THREAD, KILL_PROCESS, TRAP, LOG, TRACE, NOTIFY)"
                )))
            }
        })
    }

    fn seccompiler(self) -> SeccompAction {
        match self {
            Action::Allow => SeccompAction::Allow,
            Action::Errno(errno) => SeccompAction::Errno(errno),
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
            Action::Trap => SeccompAction::Trap,
            Action::Log => SeccompAction::Log,
            Action::Trace(n) => SeccompAction::Trace(n),
            Action::Notify => SeccompAction::Trace(NOTIFY_MARK),
        }
    }
}

/// A condition on one argument: `args[index] OP value` (`MASKED_EQ`: `args[index] & value ==
/// value_two`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCondition {
    pub index: u8,
    pub op: String,
    pub value: u64,
    pub value_two: u64,
}

/// One rule: these calls, when every condition holds, get `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgCondition>,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub default_action: Action,
    /// The spec's architectures (`SCMP_ARCH_X86_64`...); empty means "this machine's".
    pub architectures: Vec<String>,
    pub rules: Vec<Rule>,
    /// With notify rules: the descriptor (a unix socket the process inherited) over which
    /// to send the filter's listener, the descriptor the agent reads calls from. Whoever
    /// holds the other end passes it on to the agent (an OCI runtime's `listenerPath`).
    pub listener: Option<i32>,
}

impl Profile {
    /// Compile into the programs to load, in order.
    pub fn compile(&self) -> Result<Vec<BpfProgram>> {
        let arch = native_arch()?;
        let native = native_arch_name();
        // The filter always covers this machine's own calls, as libseccomp's does (it adds
        // the native architecture to any list); calls through another ABI are killed below.
        if !self.architectures.is_empty() && !self.architectures.iter().any(|a| a == native) {
            explain!(
                "seccomp: the profile lists {:?}; it applies to this machine's {native} calls too",
                self.architectures
            );
        }
        if self.default_action == Action::Notify {
            // Every call, the runtime's own included, would wait for an agent that has not
            // got the listener yet (runc refuses it too).
            return Err(Error::Invalid(
                "SCMP_ACT_NOTIFY cannot be used as the default action".into(),
            ));
        }
        // action → call number → rules (an empty list: the call matches unconditionally).
        let mut by_action: BTreeMap<Action, BTreeMap<i64, Option<Vec<SeccompRule>>>> =
            BTreeMap::new();
        let mut listed: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
        for rule in &self.rules {
            if rule.action == self.default_action {
                continue; // unlisted calls get the default anyway
            }
            let conditions = rule
                .args
                .iter()
                .map(condition)
                .collect::<Result<Vec<_>>>()?;
            for name in &rule.names {
                let Some(number) = syscall_names::number(name) else {
                    explain!("seccomp: no system call {name:?} on this machine, skipped");
                    continue;
                };
                let seccomp_rule = if conditions.is_empty() {
                    None
                } else {
                    Some(SeccompRule::new(conditions.clone()).map_err(filter_error)?)
                };
                add(
                    by_action
                        .entry(rule.action)
                        .or_default()
                        .entry(number)
                        .or_insert_with(|| Some(Vec::new())),
                    seccomp_rule.clone(),
                );
                add(
                    listed.entry(number).or_insert_with(|| Some(Vec::new())),
                    seccomp_rule,
                );
            }
        }
        let mut programs = Vec::new();
        for (action, calls) in by_action {
            if action == Action::Allow || action == self.default_action {
                continue; // what the default program below does for them anyway
            }
            if action == Action::Notify {
                if calls.contains_key(&libc::SYS_write) {
                    // runc's words: the runtime itself writes after loading the filter.
                    return Err(Error::Invalid(
                        "SCMP_ACT_NOTIFY cannot be used for the write syscall".into(),
                    ));
                }
                if self.listener.is_none() {
                    return Err(Error::Invalid(
                        "SCMP_ACT_NOTIFY needs a listener (the spec's listenerPath)".into(),
                    ));
                }
            }
            programs.push(program(calls, Action::Allow, action, arch)?);
        }
        if self.default_action != Action::Allow {
            programs.push(program(listed, self.default_action, Action::Allow, arch)?);
        }
        Ok(programs)
    }

    /// Compile and load into this process (and so into everything it will run).
    pub fn load(&self) -> Result<()> {
        let programs = self.compile()?;
        explain!(
            "seccomp(SECCOMP_SET_MODE_FILTER) x{}: the profile's {} rules, default {:?}",
            programs.len(),
            self.rules.len(),
            self.default_action
        );
        for program in &programs {
            if let Some(notify) = notify_program(program) {
                self.load_with_listener(&notify)?;
                continue;
            }
            seccompiler::apply_filter(program)
                .map_err(|e| Error::Invalid(format!("seccomp(SECCOMP_SET_MODE_FILTER): {e}")))?;
        }
        Ok(())
    }

    /// Load the notify program with `SECCOMP_FILTER_FLAG_NEW_LISTENER`: the kernel answers
    /// with a new descriptor, from which an agent reads the calls and answers them. It goes
    /// straight to [`listener`](Self::listener) (`sendmsg(2)`, `SCM_RIGHTS`) and is closed
    /// here: every call we make from now on may wait for the agent.
    fn load_with_listener(&self, program: &BpfProgram) -> Result<()> {
        let socket = self.listener.ok_or_else(|| {
            Error::Invalid("SCMP_ACT_NOTIFY needs a listener (the spec's listenerPath)".into())
        })?;
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        explain!(
            "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER): the notify rules"
        );
        // SAFETY: fprog points at the program, alive for the call. no_new_privs or
        // CAP_SYS_ADMIN was checked by the caller's order of steps, as for every filter.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &fprog as *const libc::sock_fprog,
            )
        };
        let fd = nix::errno::Errno::result(fd).map_err(|errno| {
            Error::syscall("seccomp", "SECCOMP_SET_MODE_FILTER, NEW_LISTENER", errno)
        })? as i32;
        let fds = [fd];
        let sent = nix::sys::socket::sendmsg::<()>(
            socket,
            &[std::io::IoSlice::new(b"seccomp")],
            &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
            nix::sys::socket::MsgFlags::empty(),
            None,
        );
        let _ = nix::unistd::close(fd);
        sent.map(drop)
            .map_err(|errno| Error::syscall("sendmsg", "the seccomp listener", errno))
    }
}

/// The program with notify marks rewritten to `SECCOMP_RET_USER_NOTIF`, if it has any.
fn notify_program(program: &BpfProgram) -> Option<BpfProgram> {
    let marked = SECCOMP_RET_TRACE | NOTIFY_MARK;
    let return_k = (libc::BPF_RET | libc::BPF_K) as u16;
    if !program.iter().any(|i| i.code == return_k && i.k == marked) {
        return None;
    }
    let mut rewritten = program.clone();
    for instruction in rewritten.iter_mut() {
        if instruction.code == return_k && instruction.k == marked {
            instruction.k = SECCOMP_RET_USER_NOTIF;
        }
    }
    Some(rewritten)
}

/// Merge one more way for a call to match: `None` in `rule` means "always", which absorbs
/// every condition (an absorbed entry is `None` too).
fn add(entry: &mut Option<Vec<SeccompRule>>, rule: Option<SeccompRule>) {
    match (entry.as_mut(), rule) {
        (Some(rules), Some(rule)) => rules.push(rule),
        (Some(_), None) => *entry = None,
        (None, _) => {}
    }
}

/// One program: the calls in `calls` (with their rules; `None` or no rules: always) →
/// `matched`, every other call → `mismatched`.
fn program(
    calls: BTreeMap<i64, Option<Vec<SeccompRule>>>,
    mismatched: Action,
    matched: Action,
    arch: TargetArch,
) -> Result<BpfProgram> {
    let rules = calls
        .into_iter()
        .map(|(nr, rules)| (nr, rules.unwrap_or_default()))
        .collect();
    SeccompFilter::new(rules, mismatched.seccompiler(), matched.seccompiler(), arch)
        .and_then(TryInto::try_into)
        .map_err(filter_error)
}

fn condition(arg: &ArgCondition) -> Result<SeccompCondition> {
    let op = match arg.op.as_str() {
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_MASKED_EQ" => SeccompCmpOp::MaskedEq(arg.value),
        other => {
            return Err(Error::Invalid(format!(
                "seccomp argument operator {other} is not supported"
            )))
        }
    };
    let value = if arg.op == "SCMP_CMP_MASKED_EQ" {
        arg.value_two
    } else {
        arg.value
    };
    SeccompCondition::new(arg.index, SeccompCmpArgLen::Qword, op, value).map_err(filter_error)
}

fn filter_error(error: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("seccomp profile: {error}"))
}

fn native_arch() -> Result<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(filter_error)
}

/// This machine's name in the spec's `SCMP_ARCH_*` terms.
fn native_arch_name() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => "SCMP_ARCH_NATIVE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(names: &[&str], action: Action) -> Rule {
        Rule {
            names: names.iter().map(|n| n.to_string()).collect(),
            action,
            args: Vec::new(),
        }
    }

    #[test]
    fn an_allow_list_is_one_program_and_deny_lists_one_per_errno() {
        let allow_list = Profile {
            default_action: Action::Errno(1),
            architectures: vec![native_arch_name().into()],
            rules: vec![rule(&["read", "write", "no_such_call"], Action::Allow)],
            listener: None,
        };
        assert_eq!(allow_list.compile().unwrap().len(), 1);
        let deny_list = Profile {
            default_action: Action::Allow,
            architectures: Vec::new(),
            rules: vec![
                rule(&["mount"], Action::Errno(1)),
                rule(&["clone3"], Action::Errno(38)),
            ],
            listener: None,
        };
        assert_eq!(deny_list.compile().unwrap().len(), 2);
    }

    #[test]
    fn unknown_actions_are_refused_and_this_machine_is_always_covered() {
        assert!(Action::parse("SCMP_ACT_SOMETHING", None).is_err());
        assert_eq!(
            Action::parse("SCMP_ACT_ERRNO", None).unwrap(),
            Action::Errno(libc::EPERM as u32)
        );
        // libseccomp adds the native architecture to any list; so do we.
        let other = Profile {
            default_action: Action::Errno(1),
            architectures: vec!["SCMP_ARCH_X86".into(), "SCMP_ARCH_X32".into()],
            rules: Vec::new(),
            listener: None,
        };
        assert_eq!(other.compile().unwrap().len(), 1);
    }

    #[test]
    fn notify_rules_become_one_program_that_returns_user_notif() {
        let mut profile = Profile {
            default_action: Action::Allow,
            architectures: Vec::new(),
            rules: vec![rule(&["mkdir", "mkdirat"], Action::Notify)],
            listener: None,
        };
        assert!(profile.compile().is_err(), "no listener to send it to");
        profile.listener = Some(-1);
        let programs = profile.compile().unwrap();
        assert_eq!(programs.len(), 1);
        let notify = notify_program(&programs[0]).expect("a notify program");
        assert!(notify.iter().any(|i| i.k == SECCOMP_RET_USER_NOTIF));
        assert!(!notify
            .iter()
            .any(|i| i.k == SECCOMP_RET_TRACE | NOTIFY_MARK));
        profile.rules = vec![rule(&["write"], Action::Notify)];
        assert!(profile.compile().is_err(), "write is the runtime's own");
        profile.default_action = Action::Notify;
        profile.rules.clear();
        assert!(profile.compile().is_err());
    }
}
