//! The client's terminal for `run -it`: raw mode (every key goes to the container as typed,
//! Ctrl-C included, and the container's terminal echoes), and its size. Read termios(3).

use std::mem::MaybeUninit;

/// Raw mode on our standard input while this lives; the old settings come back on drop.
pub struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    /// `None` when standard input is not a terminal.
    pub fn enable() -> Option<RawMode> {
        let mut saved = MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the termios on success, which we check.
        if unsafe { libc::tcgetattr(0, saved.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: initialised by the successful tcgetattr above.
        let saved = unsafe { saved.assume_init() };
        let mut raw = saved;
        // SAFETY: cfmakeraw and tcsetattr only read and write the struct we own.
        unsafe {
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(0, libc::TCSANOW, &raw);
        }
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores settings read from the same descriptor.
        unsafe {
            libc::tcsetattr(0, libc::TCSANOW, &self.saved);
        }
    }
}

/// Our terminal's (rows, columns), from standard output or input.
pub fn size() -> Option<(u16, u16)> {
    for fd in [1, 0] {
        let mut size = MaybeUninit::<libc::winsize>::uninit();
        // SAFETY: TIOCGWINSZ fills the winsize on success, which we check.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, size.as_mut_ptr()) } == 0 {
            // SAFETY: initialised by the successful ioctl.
            let size = unsafe { size.assume_init() };
            return Some((size.ws_row, size.ws_col));
        }
    }
    None
}

/// `ROWSxCOLUMNS` (`24x80`), as `exec-process --console-size` takes a terminal's size.
pub fn parse_console_size(text: &str) -> Result<(u16, u16), String> {
    let (rows, cols) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?}: want ROWSxCOLUMNS"))?;
    let number = |n: &str| n.parse::<u16>().map_err(|e| format!("{text:?}: {e}"));
    Ok((number(rows)?, number(cols)?))
}
