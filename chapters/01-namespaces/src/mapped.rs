//! File work as a container's root, without a container: what `podman unshare` does.
//!
//! An ordinary user's container writes files owned by its subordinate ids (what `chown 1`
//! makes inside belongs to the first one outside). The user itself may not `chown` to those
//! ids, nor remove a file from a directory owned by one of them: only root *of a user
//! namespace that maps them* may. So work on such files (unpacking an image layer with its
//! owners, removing a container's write layer) runs in a child process that makes a user
//! namespace, gets the caller's maps ([`IdMappings::for_caller`]) written by the parent, and
//! becomes its root. No other namespace is made: the files are the host's, seen with the
//! container's ids.

use crate::channel::{self, Message};
use crate::common::Failure;
use crate::error::{Error, Result};
use crate::explain;
use crate::idmap::IdMappings;
use crate::inside;
use crate::process::{exit_now, fail};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{fork, geteuid, ForkResult};

/// Run `work` as root of a new user namespace with the caller's maps, in a child process, and
/// wait for it. Root needs none: `work` runs in this process. `what` names the work in
/// errors. `work` runs after `fork` in what may be a multi-threaded program: it must not rely
/// on locks another thread could hold (glibc's malloc is safe, as in [`crate::Container`]).
pub fn as_mapped_root(
    what: &str,
    work: impl FnOnce() -> std::result::Result<(), String>,
) -> Result<()> {
    if geteuid().is_root() {
        return work().map_err(|message| Error::InContainer {
            step: what.to_string(),
            message,
            exit_code: crate::common::exit::ENGINE,
        });
    }
    let (mappings, _) = IdMappings::for_caller();
    let (parent_end, child_end) = channel::pair()?;
    explain!("fork(): a process that becomes root of a user namespace with our maps, to {what}");
    // SAFETY: the child runs `work` and exits with `_exit`; it never returns from here.
    match unsafe { fork() }.map_err(|errno| Error::syscall("fork", what, errno))? {
        ForkResult::Child => {
            drop(parent_end);
            let ready = unshare(CloneFlags::CLONE_NEWUSER)
                .map_err(|errno| Error::syscall("unshare", "CLONE_NEWUSER", errno))
                .and_then(|()| child_end.send(&Message::Waiting))
                .and_then(|()| match child_end.recv()? {
                    Some(Message::Go) => Ok(()),
                    None => exit_now(1),
                    Some(other) => Err(Error::Protocol(format!("expected go, got {other:?}"))),
                })
                .and_then(|()| inside::become_root());
            if let Err(error) = ready {
                fail(&child_end, error)
            }
            match work() {
                Ok(()) => exit_now(0),
                Err(message) => fail(
                    &child_end,
                    Error::InContainer {
                        step: what.to_string(),
                        message,
                        exit_code: crate::common::exit::ENGINE,
                    },
                ),
            }
        }
        ForkResult::Parent { child } => {
            drop(child_end);
            let outcome = (|| {
                match parent_end.recv()? {
                    Some(Message::Waiting) => {}
                    Some(Message::Failed { step, message, .. }) => {
                        return Err(Error::Invalid(format!("{step}: {message}")))
                    }
                    other => {
                        return Err(Error::Protocol(format!(
                            "expected the child's user namespace, got {other:?}"
                        )))
                    }
                }
                mappings.write_for(child)?;
                parent_end.send(&Message::Go)?;
                match parent_end.recv()? {
                    None => Ok(()),
                    Some(Message::Failed { step, message, .. }) => {
                        Err(Error::Invalid(format!("{step}: {message}")))
                    }
                    Some(other) => Err(Error::Protocol(format!("unexpected {other:?}"))),
                }
            })();
            drop(parent_end);
            let status = crate::signals::wait_for_exit(child)?;
            outcome?;
            if status != 0 {
                return Err(Error::Invalid(format!(
                    "{what}: the helper exited {status}"
                )));
            }
            Ok(())
        }
    }
}
