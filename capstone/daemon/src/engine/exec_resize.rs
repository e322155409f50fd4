//! `POST /exec/{id}/resize`: the size of an exec's terminal (`exec -t`).
//!
//! The terminal is made inside the container by the exec's process, below the helper the
//! daemon started (`baleia exec-process`, which joins the container's pid namespace with a
//! fork, read pid_namespaces(7)). Its slave side is the standard input of the process that runs
//! the exec's command, so we look among the helper's descendants (the `children` files of
//! proc(5)) for one whose fd 0 is a terminal, and set its size there with `TIOCSWINSZ`
//! (tty_ioctl(4)); the kernel then sends SIGWINCH to the terminal's foreground processes.

use super::{ApiError, ApiResult, Engine};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

impl Engine {
    pub fn exec_resize(&self, id: &str, rows: u16, cols: u16) -> ApiResult<()> {
        let exec = self.exec_inspect(id)?;
        if exec["ProcessConfig"]["tty"] != true || exec["Running"] != true {
            return Ok(());
        }
        let helper = exec["Pid"].as_u64().unwrap_or(0) as u32;
        for pid in descendants(helper) {
            let Ok(terminal) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(format!("/proc/{pid}/fd/0"))
            else {
                continue;
            };
            // SAFETY: isatty only looks at a descriptor we own.
            if unsafe { libc::isatty(terminal.as_raw_fd()) } != 1 {
                continue;
            }
            let size = libc::winsize {
                ws_row: rows,
                ws_col: cols,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads a winsize from the pointer we pass.
            if unsafe { libc::ioctl(terminal.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
                let error = std::io::Error::last_os_error();
                return Err(ApiError::internal(format!(
                    "ioctl(TIOCSWINSZ) on /proc/{pid}/fd/0: {error}"
                )));
            }
            return Ok(());
        }
        // The exec has started but its terminal is not made yet: the client may ask again.
        Err(ApiError::conflict(format!(
            "exec {id} has no terminal yet: try again"
        )))
    }
}

/// Every process below `pid`, nearest first, from /proc/PID/task/TID/children.
fn descendants(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut next = vec![pid];
    while let Some(pid) = next.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                found.push(child);
                next.push(child);
            }
        }
    }
    found
}
