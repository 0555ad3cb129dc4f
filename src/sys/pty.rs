//! Terminal window size ioctls (`TIOCGWINSZ`, `TIOCSWINSZ`, tty_ioctl(4)): read dock's terminal size and
//! give it to the child's pty. nix only offers them through its `ioctl_*!` macros, which generate
//! `unsafe` functions, so they live here as two plain calls.
//!
//! Registers nothing.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;

/// Rows and columns (and pixels, usually 0) of a terminal, as `struct winsize` in `<asm/termios.h>`.
pub type WinSize = libc::winsize;

/// `ioctl(fd, TIOCGWINSZ)`: the window size of the terminal `fd` refers to.
///
/// # Errors
/// ENOTTY when `fd` is not a terminal (a pipe, a file, /dev/null); EBADF.
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<WinSize> {
    let mut ws = WinSize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: the fd is borrowed, so open for the call; TIOCGWINSZ writes exactly one `struct winsize`
    // into `ws`, which is a live, properly aligned local of that type.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws as *mut WinSize) }.into())?;
    Ok(ws)
}

/// `ioctl(fd, TIOCSWINSZ)`: sets the window size of terminal `fd`; on a pty master the kernel then
/// sends SIGWINCH to the slave's foreground process group (drivers/tty/tty_io.c, `tty_do_resize`).
///
/// # Errors
/// ENOTTY when `fd` is not a terminal; EBADF.
pub fn set_window_size(fd: BorrowedFd<'_>, ws: &WinSize) -> io::Result<()> {
    // SAFETY: the fd is borrowed, so open for the call; TIOCSWINSZ only reads one `struct winsize`
    // from `ws`, a valid reference for the duration of the call.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, ws as *const WinSize) }.into())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn not_a_terminal_is_enotty() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let e = window_size(f.as_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOTTY));
    }

    #[test]
    fn a_pty_keeps_the_size_it_is_given() {
        use nix::fcntl::OFlag;
        let m = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).unwrap();
        let ws = WinSize {
            ws_row: 33,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        set_window_size(m.as_fd(), &ws).unwrap();
        let got = window_size(m.as_fd()).unwrap();
        assert_eq!((got.ws_row, got.ws_col), (33, 120));
    }
}
