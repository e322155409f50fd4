//! The default seccomp filter: system calls a container is refused.
//!
//! seccomp(2) lets a process hand the kernel a small BPF program that inspects every system
//! call it (and every process it starts) makes, and decides: allow, or fail with an errno. The
//! filter cannot be removed or loosened once loaded, and it survives `execve`.
//!
//! Docker's default profile is an *allow list* of about 350 calls. Ours is the *deny list* that
//! has the same effect on what matters (the calls Docker leaves out on purpose), which is
//! easier to read: each entry says why it is refused. They fail with EPERM, as in Docker, so
//! programs see "Operation not permitted" rather than dying. `clone3` fails with ENOSYS
//! instead, as Docker does: its flags are in memory the filter cannot read, and ENOSYS makes
//! the C library fall back to `clone`, whose flags the filter *can* check.

use crate::error::{Error, Result};
use crate::explain;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// The refused calls, and why (the reasons are for the lesson and `--explain`).
pub const REFUSED: &[(&str, i64, &str)] = &[
    ("mount", libc::SYS_mount, "mounting file systems"),
    (
        "umount2",
        libc::SYS_umount2,
        "unmounting what hides the host",
    ),
    (
        "pivot_root",
        libc::SYS_pivot_root,
        "changing the root file system",
    ),
    ("move_mount", libc::SYS_move_mount, "the new mount API"),
    ("fsopen", libc::SYS_fsopen, "the new mount API"),
    ("fsmount", libc::SYS_fsmount, "the new mount API"),
    ("open_tree", libc::SYS_open_tree, "the new mount API"),
    ("setns", libc::SYS_setns, "joining other namespaces"),
    (
        "keyctl",
        libc::SYS_keyctl,
        "the kernel keyring is not namespaced",
    ),
    (
        "add_key",
        libc::SYS_add_key,
        "the kernel keyring is not namespaced",
    ),
    (
        "request_key",
        libc::SYS_request_key,
        "the kernel keyring is not namespaced",
    ),
    (
        "init_module",
        libc::SYS_init_module,
        "loading kernel modules",
    ),
    (
        "finit_module",
        libc::SYS_finit_module,
        "loading kernel modules",
    ),
    (
        "delete_module",
        libc::SYS_delete_module,
        "unloading kernel modules",
    ),
    (
        "kexec_load",
        libc::SYS_kexec_load,
        "replacing the running kernel",
    ),
    (
        "kexec_file_load",
        libc::SYS_kexec_file_load,
        "replacing the running kernel",
    ),
    ("reboot", libc::SYS_reboot, "rebooting the machine"),
    ("swapon", libc::SYS_swapon, "the host's swap"),
    ("swapoff", libc::SYS_swapoff, "the host's swap"),
    ("bpf", libc::SYS_bpf, "loading BPF programs into the kernel"),
    (
        "perf_event_open",
        libc::SYS_perf_event_open,
        "watching the host's processes",
    ),
    (
        "userfaultfd",
        libc::SYS_userfaultfd,
        "a classic kernel-exploit helper",
    ),
    (
        "open_by_handle_at",
        libc::SYS_open_by_handle_at,
        "opening host files by handle (the 'shocker' escape)",
    ),
    (
        "name_to_handle_at",
        libc::SYS_name_to_handle_at,
        "file handles, with open_by_handle_at",
    ),
    (
        "settimeofday",
        libc::SYS_settimeofday,
        "the clock is not namespaced",
    ),
    (
        "clock_settime",
        libc::SYS_clock_settime,
        "the clock is not namespaced",
    ),
    (
        "clock_adjtime",
        libc::SYS_clock_adjtime,
        "the clock is not namespaced",
    ),
    (
        "adjtimex",
        libc::SYS_adjtimex,
        "the clock is not namespaced",
    ),
    ("acct", libc::SYS_acct, "process accounting of the host"),
    ("quotactl", libc::SYS_quotactl, "disk quotas of the host"),
    ("syslog", libc::SYS_syslog, "the kernel's log"),
    ("iopl", libc::SYS_iopl, "raw I/O ports"),
    ("ioperm", libc::SYS_ioperm, "raw I/O ports"),
    (
        "lookup_dcookie",
        libc::SYS_lookup_dcookie,
        "kernel profiling internals",
    ),
    ("uselib", libc::SYS_uselib, "an obsolete loader call"),
    (
        "personality",
        libc::SYS_personality,
        "changes that weaken address randomisation",
    ),
];

/// `unshare` and `clone` are allowed, but not with CLONE_NEWUSER: a new user namespace gives
/// back every capability inside it, the start of many kernel exploits.
const NEW_USER_NAMESPACE: u64 = libc::CLONE_NEWUSER as u64;

fn refuse_new_user_namespace(arg: u8) -> Result<Vec<SeccompRule>> {
    let condition = SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(NEW_USER_NAMESPACE),
        NEW_USER_NAMESPACE,
    )
    .map_err(filter_error)?;
    Ok(vec![
        SeccompRule::new(vec![condition]).map_err(filter_error)?
    ])
}

fn filter_error(error: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("seccomp filter: {error}"))
}

fn arch() -> Result<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(filter_error)
}

/// The two programs: refusals with EPERM, and `clone3` with ENOSYS.
pub fn default_programs() -> Result<Vec<BpfProgram>> {
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, number, _) in REFUSED {
        refused.insert(*number, Vec::new());
    }
    refused.insert(libc::SYS_unshare, refuse_new_user_namespace(0)?);
    // clone's flags are its first argument on x86_64 and aarch64.
    refused.insert(libc::SYS_clone, refuse_new_user_namespace(0)?);
    let eperm = SeccompFilter::new(
        refused,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch()?,
    )
    .map_err(filter_error)?;
    let enosys = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch()?,
    )
    .map_err(filter_error)?;
    Ok(vec![
        eperm.try_into().map_err(filter_error)?,
        enosys.try_into().map_err(filter_error)?,
    ])
}

/// The same filter as a [`Profile`](crate::seccomp_profile::Profile), the form an OCI spec's
/// `linux.seccomp` takes: what an engine writes into the spec it hands a runtime.
pub fn default_profile() -> crate::seccomp_profile::Profile {
    use crate::seccomp_profile::{Action, ArgCondition, Profile, Rule};
    let eperm = Action::Errno(libc::EPERM as u32);
    let mut rules = vec![Rule {
        names: REFUSED
            .iter()
            .map(|(name, _, _)| name.to_string())
            .collect(),
        action: eperm,
        args: Vec::new(),
    }];
    for name in ["unshare", "clone"] {
        rules.push(Rule {
            names: vec![name.to_string()],
            action: eperm,
            args: vec![ArgCondition {
                index: 0,
                op: "SCMP_CMP_MASKED_EQ".into(),
                value: NEW_USER_NAMESPACE,
                value_two: NEW_USER_NAMESPACE,
            }],
        });
    }
    rules.push(Rule {
        names: vec!["clone3".into()],
        action: Action::Errno(libc::ENOSYS as u32),
        args: Vec::new(),
    });
    Profile {
        default_action: Action::Allow,
        architectures: Vec::new(),
        rules,
        listener: None,
    }
}

/// Load the default filter into this process (and so into everything it will run).
pub fn load_default() -> Result<()> {
    explain!(
        "seccomp(SECCOMP_SET_MODE_FILTER): refuse {} system calls with EPERM ({}...), \
         unshare/clone with CLONE_NEWUSER, clone3 with ENOSYS",
        REFUSED.len(),
        REFUSED[..4]
            .iter()
            .map(|(name, _, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for program in default_programs()? {
        seccompiler::apply_filter(&program)
            .map_err(|e| Error::Invalid(format!("seccomp(SECCOMP_SET_MODE_FILTER): {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_filter_compiles_for_this_machine() {
        let programs = super::default_programs().unwrap();
        assert_eq!(programs.len(), 2);
        assert!(programs[0].len() > super::REFUSED.len());
        assert_eq!(super::default_profile().compile().unwrap().len(), 2);
    }
}
