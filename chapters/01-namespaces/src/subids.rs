//! Subordinate ids: the host ids an ordinary user may map into its user namespaces, besides its
//! own.
//!
//! Without privilege, a process may write only one line to a child's `uid_map`: its own uid
//! (read `user_namespaces(7)`, "Defining user and group ID mappings"). A container whose image
//! has files of several owners (root, `daemon`, `www-data`...) needs more ids than that. The
//! administrator hands each user a range of otherwise unused host ids in `/etc/subuid` and
//! `/etc/subgid` (read `subuid(5)`), one `NAME-OR-UID:START:COUNT` line per range, and the
//! setuid helpers `newuidmap(1)` and `newgidmap(1)` (Debian's `uidmap` package) write maps
//! that use them, after checking the ranges are the caller's. The kernel cannot check that
//! itself: who owns which range is a policy of the distribution, written in a file.

use crate::common::Failure;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Where the administrator lists each user's subordinate uids and gids.
pub const SUBUID_FILE: &str = "/etc/subuid";
pub const SUBGID_FILE: &str = "/etc/subgid";

/// One range of subordinate ids: `count` ids from `start` (host ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubordinateRange {
    pub start: u32,
    pub count: u32,
}

/// The ranges `text` (the content of `/etc/subuid` or `/etc/subgid`) gives the user called
/// `name` whose id is `id`: a line may name the user or give its number. Lines that do not
/// parse are skipped, as `newuidmap` itself skips them.
pub fn ranges_in(text: &str, name: &str, id: u32) -> Vec<SubordinateRange> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            if fields.next().is_some() || (owner != name && owner != id.to_string()) {
                return None;
            }
            let range = SubordinateRange {
                start: start.parse().ok()?,
                count: count.parse().ok()?,
            };
            (range.count > 0).then_some(range)
        })
        .collect()
}

/// The ranges `file` gives the user; none if the file does not exist (no package made it).
pub fn ranges_for(file: &Path, name: &str, id: u32) -> Result<Vec<SubordinateRange>> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(ranges_in(&text, name, id)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(Error::file("read", file)(error)),
    }
}

/// The path of program `name` (`newuidmap`), looked up in `$PATH` and then in `/usr/bin` and
/// `/usr/sbin`, where Debian installs it (an ordinary user's PATH may lack the latter).
pub fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
alice:100000:65536
1001:165536:65536
# a comment line, skipped
bob:231072
alice:300000:10
";

    #[test]
    fn a_user_is_found_by_name_or_by_number_with_every_range() {
        let alice = ranges_in(FILE, "alice", 1000);
        assert_eq!(
            alice,
            [
                SubordinateRange {
                    start: 100000,
                    count: 65536
                },
                SubordinateRange {
                    start: 300000,
                    count: 10
                }
            ]
        );
        assert_eq!(
            ranges_in(FILE, "carol", 1001),
            [SubordinateRange {
                start: 165536,
                count: 65536
            }]
        );
        assert_eq!(ranges_in(FILE, "bob", 1002), []);
        assert_eq!(ranges_in(FILE, "dave", 1003), []);
    }
}
