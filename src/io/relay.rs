//! One-way relay of a child output pipe to a sink (the `--io` file, dock's own stdout/stderr, or a
//! network peer in `--no-pty` mode), through the line framer ([`super::frame`]), with back-pressure,
//! bounded memory and bounded work per event.
//!
//! A [`Pump`] reads one chunk only when everything read before has been framed and written: when the
//! sink is slow the pipe fills and the child blocks in `write(2)` rather than dock buffering without
//! bound. Unframed bytes are written straight from the read buffer; framed ones go through an output
//! buffer filled [`OUT_LIMIT`] bytes at a time, so memory is bounded whatever the prefix.
//!
//! Work per [`Pump::run`] is bounded ([`READ_BUDGET`]): a child that writes faster than the sink takes
//! never keeps a pipe readable long enough to starve the loop; [`Blocked::Budget`] asks the caller to
//! come back on the next turn (a zero deadline), after the signals that arrived meanwhile (README,
//! issue 16.9).
//!
//! Registers: the pipe's read end (readable) and, when dock's stdout/stderr can be polled, a
//! non-blocking handle on it (writable), both under the pump's key.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::frame::{Frame, Framer};
use super::ship::Shipper;
use crate::event::{Ctx, Key};
use crate::rotate::FileSink;
use crate::sys::out::OutFd;

/// Bytes per `read(2)` from a child pipe or pty master, and so the most a direction buffers before it
/// stops reading.
pub const CHUNK: usize = 64 * 1024;

/// Bytes per `read(2)` for a pipe copied unchanged into the `--io` file: the pipe's whole capacity
/// ([`PIPE_SIZE`]), a quarter of the syscalls of 64 KiB reads. A file never blocks, so nothing
/// waits in this buffer.
pub const FILE_CHUNK: usize = 1 << 20;

/// Framed output produced per step, bytes (plus one line's head and one chunk at most, or one
/// escaped JSON piece): the bound on a pump's output buffer whatever the prefix.
pub const OUT_LIMIT: usize = 64 * 1024;

/// Bytes a pump reads per [`Pump::run`] (at least one chunk) before it lets the loop turn: well
/// under a millisecond of relaying, so a flood delays a signal by no more than that.
pub const READ_BUDGET: usize = 256 * 1024;

/// Capacity asked for the child's output pipes (`F_SETPIPE_SZ`, fcntl(2)): 1 MiB, the default
/// `/proc/sys/fs/pipe-max-size`. Fewer, larger transfers; the default 64 KiB costs ~3× more wakeups.
pub const PIPE_SIZE: i32 = 1 << 20;

/// Where a [`Pump`] writes.
#[derive(Debug)]
pub enum Sink {
    /// The `--io` file (rotated by the sink itself, `rotate::sink`); never blocks, never fails (it
    /// counts what it cannot write).
    File(FileSink),
    /// dock's stdout or stderr.
    Out(OutFd),
    /// A `--no-pty` network peer (reconnecting, bounded buffer).
    Ship(Box<Shipper>),
}

impl Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Out(o) => o.write(buf),
            Sink::Ship(s) => s.write(buf),
        }
    }

    /// At exit: waits until the sink may take more, at most until `deadline`; false then.
    fn wait(&mut self, deadline: Instant) -> bool {
        match self {
            Sink::File(_) => true,
            Sink::Out(o) => wait_writable(o.fd(), deadline),
            Sink::Ship(s) => s.push(deadline),
        }
    }

    /// For messages: what the sink is.
    fn describe(&self, name: &str) -> String {
        match self {
            Sink::File(_) => "the --io file".to_string(),
            Sink::Out(_) => format!("dock's {name}"),
            Sink::Ship(_) => "the --io peer".to_string(),
        }
    }
}

/// One child output pipe relayed to one sink (which it may share with another pump).
#[derive(Debug)]
pub struct Pump {
    /// For diagnostics: "stdout", "stderr", "output".
    name: &'static str,
    /// The pipe's read end (non-blocking); `None` once it gave EOF (every writer closed it).
    src: Option<File>,
    src_token: Option<Token>,
    /// The sink's token, when it is dock's pollable stdout or stderr.
    sink_token: Option<Token>,
    /// The sink's index in the relay's sinks.
    sink: usize,
    framer: Option<Framer>,
    /// `buf[start..end]` was read (at `read_at`) and is not yet framed, or, unframed, not yet
    /// written.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    read_at: Duration,
    /// Framed and not yet written: `out[done..]`.
    out: Vec<u8>,
    done: usize,
    /// A write error was reported and nothing has been written since (report once, not per chunk).
    failing: bool,
    /// Bytes per read: [`FILE_CHUNK`] or [`CHUNK`].
    chunk: usize,
    /// The sink is a pipe whose reader is gone (EPIPE): stop relaying.
    reader_gone: bool,
}

/// What a pump is waiting for after [`Pump::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The pipe is empty (readable event next).
    Source,
    /// The sink is full (writable event next).
    Sink,
    /// Its share of work is done; more is waiting (come back next turn).
    Budget,
    /// EOF seen and everything written.
    Done,
}

impl Pump {
    /// A relay from the pipe read end `src` to the sink at index `sink` (a `file` one reads larger
    /// chunks), framing lines as `frame` says.
    ///
    /// # Errors
    /// Making `src` non-blocking failing (EBADF).
    pub fn new(
        name: &'static str,
        src: OwnedFd,
        frame: Frame,
        sink: usize,
        file: bool,
    ) -> io::Result<Pump> {
        set_nonblocking(src.as_fd())?;
        let chunk = if file && frame.is_raw() {
            FILE_CHUNK
        } else {
            CHUNK
        };
        let framer = (!frame.is_raw()).then(|| Framer::new(frame));
        Ok(Pump {
            name,
            src: Some(File::from(src)),
            src_token: None,
            sink_token: None,
            sink,
            framer,
            buf: Vec::new(),
            start: 0,
            end: 0,
            read_at: Duration::ZERO,
            out: Vec::new(),
            done: 0,
            failing: false,
            chunk,
            reader_gone: false,
        })
    }

    /// The index of this pump's sink.
    pub fn sink(&self) -> usize {
        self.sink
    }

    /// Registers the pipe (and a pollable sink) under `key`.
    ///
    /// # Errors
    /// `epoll_ctl` failing for the pipe.
    pub fn register(&mut self, cx: &mut Ctx<'_>, key: Key, sink: &mut Sink) -> io::Result<()> {
        if let Some(src) = &self.src {
            self.src_token = Some(cx.register_fd(src.as_raw_fd(), Interest::READABLE, key)?);
        }
        if let Sink::Out(o) = sink {
            if o.pollable() {
                match cx.register_fd(o.fd().as_raw_fd(), Interest::WRITABLE, key) {
                    Ok(t) => self.sink_token = Some(t),
                    // /dev/null and other character devices without poll support: EPERM. They
                    // never block.
                    Err(_) => o.set_unpollable(),
                }
            }
        }
        Ok(())
    }

    /// Everything the child wrote has been read (EOF) and written.
    pub fn drained(&self) -> bool {
        self.src.is_none() && self.done == self.out.len() && self.start == self.end
    }

    /// Moves bytes until the pipe is empty, the sink is full, EOF, or [`READ_BUDGET`] bytes were
    /// read (edge-triggered readiness: each side is driven to `WouldBlock`, or the caller comes
    /// back for the rest). `cx` is `None` at exit (nothing to deregister).
    pub fn run(&mut self, mut cx: Option<&mut Ctx<'_>>, sink: &mut Sink) -> Blocked {
        // Reads before the loop may turn: a flood's slice is READ_BUDGET bytes, or one chunk.
        let mut reads = (READ_BUDGET / self.chunk).max(1);
        loop {
            if !self.flush(sink) {
                return Blocked::Sink;
            }
            if self.reader_gone {
                self.close_src(cx.as_deref_mut());
            }
            let Some(src) = &mut self.src else {
                return Blocked::Done;
            };
            if reads == 0 {
                return Blocked::Budget;
            }
            if self.buf.is_empty() {
                // Allocated on first use: an idle relay holds no buffer pages.
                self.buf = vec![0; self.chunk];
            }
            match src.read(&mut self.buf) {
                Ok(0) => self.end_of_stream(cx.as_deref_mut()),
                Ok(n) => {
                    (self.start, self.end) = (0, n);
                    reads -= 1;
                    if self
                        .framer
                        .as_ref()
                        .is_some_and(|f| f.needs_time(&self.buf[..n]))
                    {
                        self.read_at = now();
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Blocked::Source,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    crate::warn!("reading the child's {}: {e}", self.name);
                    self.end_of_stream(cx.as_deref_mut());
                }
            }
        }
    }

    /// EOF (or a read error): close the pipe; a held JSON line gets its object.
    fn end_of_stream(&mut self, cx: Option<&mut Ctx<'_>>) {
        self.close_src(cx);
        if let Some(f) = &mut self.framer {
            self.out.clear();
            self.done = 0;
            f.finish(&mut self.out);
        }
    }

    /// At exit: relays what the pipe holds now (without waiting for EOF), waiting for a slow sink at
    /// most until `deadline`. What the sink did not take by then is dropped with one log line giving
    /// its size (bytes; what was still in the pipe is counted up to [`PIPE_SIZE`]).
    pub fn finish(&mut self, sink: &mut Sink, deadline: Instant) {
        loop {
            match self.run(None, sink) {
                Blocked::Source | Blocked::Done => return,
                Blocked::Budget => {}
                Blocked::Sink => {
                    if !sink.wait(deadline) {
                        break;
                    }
                }
            }
        }
        let held = self.out.len() - self.done
            + (self.end - self.start)
            + self.framer.as_ref().map_or(0, Framer::held);
        let lost = match &mut self.src {
            Some(src) => count_rest(src, &mut self.buf, held),
            None => held,
        };
        crate::warn!(
            "exiting with {lost} bytes of the child's {} not delivered: {} did not take them within {}",
            self.name,
            sink.describe(self.name),
            crate::log::seconds(super::FINISH_TIMEOUT)
        );
    }

    /// Writes what is ready: the framed output, or unframed input straight from the read buffer,
    /// framing more as the output empties. True once everything read is written; false when the
    /// sink would block.
    fn flush(&mut self, sink: &mut Sink) -> bool {
        loop {
            let framed = self.framer.is_some();
            if framed && self.done == self.out.len() {
                let Some(f) = &mut self.framer else {
                    return true;
                };
                if self.start == self.end {
                    return true;
                }
                self.out.clear();
                self.done = 0;
                self.start += f.feed(
                    &self.buf[self.start..self.end],
                    self.read_at,
                    &mut self.out,
                    OUT_LIMIT,
                );
                continue;
            }
            let pending = if framed {
                &self.out[self.done..]
            } else {
                &self.buf[self.start..self.end]
            };
            if pending.is_empty() {
                return true;
            }
            let len = pending.len();
            let n = match sink.write(pending) {
                Ok(n) => {
                    self.failing = false;
                    n
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    self.write_failed(&e, sink);
                    len
                }
            };
            if framed {
                self.done += n;
            } else {
                self.start += n;
            }
        }
    }

    /// A write error (EIO on a terminal): the bytes are dropped and the relay goes on, so the child is
    /// never blocked by a sink that will not take its output. Reported once per run of failures.
    /// (The file sink counts its own failures and never returns one.)
    ///
    /// EPIPE on dock's stdout/stderr (`dock ... | head`): nobody will ever read it, so the relay stops
    /// and closes the pipe's read end. The child's next write then fails with EPIPE/SIGPIPE, as it
    /// would writing to dock's stdout itself.
    fn write_failed(&mut self, e: &io::Error, sink: &Sink) {
        if e.kind() == io::ErrorKind::BrokenPipe && matches!(sink, Sink::Out(_)) {
            crate::debug!(
                "the reader of dock's {} is gone: closing the child's pipe",
                self.name
            );
            self.reader_gone = true;
            return;
        }
        if !self.failing {
            crate::warn!(
                "writing the child's {}: {e}; dropping output until a write succeeds",
                self.name
            );
            self.failing = true;
        }
    }

    fn close_src(&mut self, cx: Option<&mut Ctx<'_>>) {
        if let (Some(src), Some(t), Some(cx)) = (&self.src, self.src_token.take(), cx) {
            cx.deregister_fd(src, t);
        }
        self.src = None;
    }
}

/// The wall-clock time now, since the Unix epoch (0 before it): when a chunk was read.
pub fn now() -> Duration {
    crate::rotate::clock::unix_now()
}

/// `O_NONBLOCK` on an fd dock alone holds (a pipe end or pty master it created).
///
/// # Errors
/// `fcntl(2)` failing (EBADF).
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// At exit, for the log line on output that could not be delivered: `counted` plus what `src` (a
/// child pipe or pty master, non-blocking) still holds, read and discarded to count it. Every
/// process is gone by then, so this ends at EOF (EIO for a pty); the cap ([`PIPE_SIZE`] bytes in
/// all) bounds it should an outside process still hold the other end.
pub fn count_rest(src: &mut impl Read, scratch: &mut Vec<u8>, counted: usize) -> usize {
    if scratch.is_empty() {
        scratch.resize(CHUNK, 0);
    }
    let mut n = counted;
    while n < PIPE_SIZE as usize {
        match src.read(scratch) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// Blocks in `poll(2)` until `fd` is writable or `deadline` passes; false at the deadline or on error.
pub fn wait_writable(fd: BorrowedFd<'_>, deadline: Instant) -> bool {
    wait_for(fd, PollFlags::POLLOUT, deadline)
}

/// Blocks in `poll(2)` until `fd` has one of `events` or `deadline` passes; false at the deadline or
/// on error.
pub fn wait_for(fd: BorrowedFd<'_>, events: PollFlags, deadline: Instant) -> bool {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        // Round up, so a sub-millisecond remainder is not a busy zero-timeout poll.
        let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd, events)];
        match nix::poll::poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests;
