//! `--ready-fd N`: s6's notification fd (s6-supervise(8), `notification-fd`). The child gets the
//! write end of a pipe as fd N; the first newline written on it makes the child ready
//! ([`Condition::Fd`]), and dock closes its read end then (whatever else is written is not read).
//! The pipe's end closed by every holder before a newline: never ready through it (`-d` line).
//!
//! Registers: the pipe's read end (non-blocking, close-on-exec) until the newline, the end of the
//! pipe, `ChildExited` or `Stop`. Reads `Spawned`, `ChildExited`, `Stop`; posts `Condition(Fd)`.

use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Instant;

use mio::{Interest, Token};
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use super::ReadyError;
use crate::debug;
use crate::event::{Ctx, Event, Handler, Key};
use crate::notice::{Condition, Notice};

/// The read end's key.
const PIPE: Key = 0;

/// The read end and what came of it.
pub struct FdReady {
    n: RawFd,
    pipe: Option<(std::fs::File, Option<Token>)>,
    spawned: Option<Instant>,
}

impl FdReady {
    /// A pipe for fd number `n`: the handler keeps the read end, the write end is for the child
    /// (close-on-exec in dock; the spawn installs it as `n`). `n` must be 3 or more (the parser
    /// checks), below `RLIMIT_NOFILE`, and not an fd dock inherited to pass on.
    ///
    /// # Errors
    /// [`ReadyError::Fd`] for a number the child cannot get; [`ReadyError::Pipe`] (EMFILE).
    pub fn new(n: RawFd) -> Result<(FdReady, OwnedFd), ReadyError> {
        let unusable = |reason: String| ReadyError::Fd { fd: n, reason };
        let limit = crate::sys::open_file_limit();
        if u64::try_from(n).map_or(true, |n| n >= limit) {
            return Err(unusable(format!(
                "not below the open-file limit (RLIMIT_NOFILE {limit})"
            )));
        }
        // An fd dock inherited without close-on-exec goes on to the child (socket activation's
        // LISTEN_FDS start at 3): the pipe would silently take its place.
        if crate::sys::fd_cloexec(n) == Some(false) {
            return Err(unusable(format!(
                "fd {n} is already open in dock and passed on to the child"
            )));
        }
        let pipe = |source| ReadyError::Pipe { fd: n, source };
        let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| pipe(e.into()))?;
        // Non-blocking on the read end only: the child's end behaves as a plain pipe.
        fcntl(&r, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(|e| pipe(e.into()))?;
        let me = FdReady {
            n,
            pipe: Some((std::fs::File::from(r), None)),
            spawned: None,
        };
        Ok((me, w))
    }

    /// Reads what is there: a newline readies the child; the end of the pipe or a read error ends
    /// the wait.
    fn read(&mut self, cx: &mut Ctx<'_>) {
        let Some((pipe, _)) = &mut self.pipe else {
            return;
        };
        let mut buf = [0u8; 512];
        let end = loop {
            match pipe.read(&mut buf) {
                Ok(0) => break Some("closed by the child before a newline: not ready through it"),
                Ok(n) if buf[..n].contains(&b'\n') => break None,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("--ready-fd {}: reading: {e}", self.n);
                    break Some("unreadable: not ready through it");
                }
            }
        };
        match end {
            Some(why) => debug!("--ready-fd {}: {why}", self.n),
            None => {
                let ms = crate::log::decimal(
                    self.spawned
                        .map_or_else(Default::default, |at| at.elapsed())
                        .as_micros()
                        / 100,
                    1,
                );
                debug!("--ready-fd {}: newline after {ms} ms", self.n);
                cx.post(Notice::Condition(Condition::Fd));
            }
        }
        self.close(cx);
    }

    fn close(&mut self, cx: &mut Ctx<'_>) {
        if let Some((pipe, Some(token))) = self.pipe.take() {
            cx.deregister_fd(&pipe, token);
        }
    }
}

impl Handler for FdReady {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        if let Some((pipe, token)) = &mut self.pipe {
            match cx.register_fd(pipe.as_raw_fd(), Interest::READABLE, PIPE) {
                Ok(t) => *token = Some(t),
                Err(e) => crate::warn!("--ready-fd {}: registering the pipe: {e}", self.n),
            }
        }
    }

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        if ev.key == PIPE {
            self.read(cx);
        }
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { at, .. } => self.spawned = Some(*at),
            Notice::ChildExited(_) | Notice::Stop { .. } => self.close(cx),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::testing::Recorder;
    use crate::event::Loop;
    use std::io::Write;
    use std::time::Duration;

    fn conditions(rec: &Recorder) -> usize {
        rec.seen()
            .iter()
            .filter(|n| **n == Notice::Condition(Condition::Fd))
            .count()
    }

    /// A started loop with the handler for a free number; returns the write end too.
    fn setup() -> (
        Loop,
        Recorder,
        std::fs::File,
        std::rc::Rc<std::cell::RefCell<FdReady>>,
    ) {
        let (h, w) = FdReady::new(1000).unwrap();
        let mut lp = Loop::new().unwrap();
        let (h, _) = lp.add_shared(h);
        let rec = lp.recorder();
        lp.start();
        (lp, rec, std::fs::File::from(w), h)
    }

    #[test]
    fn the_first_newline_readies_once_and_closes_the_read_end() {
        let (mut lp, rec, mut w, h) = setup();
        w.write_all(b"almost").unwrap();
        lp.turn_within(Duration::from_millis(50));
        assert_eq!(conditions(&rec), 0);
        w.write_all(b" there\nand more\n").unwrap();
        assert!(lp.turn_until(Duration::from_secs(5), || conditions(&rec) == 1));
        assert!(h.borrow().pipe.is_none());
        // The read end is gone: writing now is EPIPE, not a second condition.
        assert_eq!(
            w.write_all(b"\n").unwrap_err().kind(),
            std::io::ErrorKind::BrokenPipe
        );
        assert_eq!(conditions(&rec), 1);
    }

    #[test]
    fn a_pipe_closed_without_a_newline_never_readies() {
        let (mut lp, rec, mut w, h) = setup();
        w.write_all(b"no newline").unwrap();
        drop(w);
        assert!(lp.turn_until(Duration::from_secs(5), || h.borrow().pipe.is_none()));
        assert_eq!(conditions(&rec), 0);
    }

    #[test]
    fn numbers_the_child_cannot_get_are_refused() {
        let limit = crate::sys::open_file_limit();
        let e = FdReady::new(i32::try_from(limit).unwrap_or(i32::MAX))
            .err()
            .unwrap();
        assert!(e.to_string().contains("open-file limit"), "{e}");
        // An fd open without close-on-exec, as an inherited one is.
        let (_r, w) = nix::unistd::pipe().unwrap();
        let e = FdReady::new(w.as_raw_fd()).err().unwrap();
        assert!(e.to_string().contains("already open"), "{e}");
    }
}
