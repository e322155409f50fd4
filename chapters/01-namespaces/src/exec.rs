//! The last step: replace the setup code with the user's command, `execve(2)`.

use crate::common::exit;
use crate::error::Error;
use crate::explain;
use nix::errno::Errno;
use std::ffi::CString;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The search path when the environment has none: the one Docker gives containers.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Run `argv` with the current environment. A name without a `/` is looked up in `$PATH`. Only
/// returns if that failed, with the error and the exit code Docker uses: 127 "not found", 126
/// "found but cannot be run".
///
/// We search `$PATH` ourselves instead of calling `execvp(3)`, because `execvp` quietly runs a
/// file that is not a program (no ELF header, no `#!` line) with `/bin/sh`, where a container
/// engine must report "exec format error".
pub fn exec_command(argv: &[CString]) -> Error {
    let program = argv[0].to_string_lossy().into_owned();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(key, value)| {
            let mut pair = key.as_bytes().to_vec();
            pair.push(b'=');
            pair.extend_from_slice(value.as_bytes());
            CString::new(pair).ok()
        })
        .collect();
    let mut failure = Errno::ENOENT;
    let search_path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    for candidate in candidates(&program, &search_path) {
        // Skip what is not there, so --explain narrates only the execve that matters.
        if !Path::new(OsStr::from_bytes(candidate.as_bytes())).exists() {
            continue;
        }
        explain!("execve({candidate:?}, {argv:?}): the command replaces our setup code");
        let errno = match nix::unistd::execve(&candidate, argv, &env) {
            Err(errno) => errno,
            Ok(never) => match never {},
        };
        // Like a shell: keep looking after "not here", remember "here but not runnable".
        if errno != Errno::ENOENT && errno != Errno::ENOTDIR {
            failure = errno;
        }
    }
    let (message, exit_code) = match failure {
        Errno::ENOENT if !program.contains('/') => (
            format!("{program:?}: executable file not found in $PATH"),
            exit::NOT_FOUND,
        ),
        Errno::ENOENT | Errno::ENOTDIR => (
            format!("{program:?}: no such file or directory"),
            exit::NOT_FOUND,
        ),
        Errno::ENOEXEC => (
            format!("{program:?}: exec format error (ENOEXEC)"),
            exit::CANNOT_INVOKE,
        ),
        other => (format!("{program:?}: {other}"), exit::CANNOT_INVOKE),
    };
    Error::InContainer {
        step: "exec".to_string(),
        message,
        exit_code,
    }
}

/// The paths to try for `program`, in order, given the search path `path`.
fn candidates(program: &str, path: &str) -> Vec<CString> {
    if program.contains('/') {
        return CString::new(program).into_iter().collect();
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .filter_map(|dir| CString::new(format!("{dir}/{program}")).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_a_slash_is_not_searched() {
        assert_eq!(
            candidates("./run.sh", "/bin"),
            [CString::new("./run.sh").unwrap()]
        );
    }

    #[test]
    fn a_bare_name_is_searched_in_path_order() {
        assert_eq!(
            candidates("ls", "/a::/b"),
            [
                CString::new("/a/ls").unwrap(),
                CString::new("/b/ls").unwrap()
            ]
        );
    }
}
