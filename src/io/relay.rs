//! One-way relay of a child output pipe to a sink (the `--io` file, or dock's own stdout/stderr), with
//! the optional line prefixer, back-pressure and a bounded buffer.
//!
//! A [`Pump`] reads one chunk ([`CHUNK`] bytes) only when everything read before has been written: when
//! the sink is slow the pipe fills and the child blocks in `write(2)` rather than dock buffering without
//! bound. Without a prefix, the chunk is written straight from the read buffer; with one, the prefixed
//! copy is what waits. Where no byte needs to be seen (no prefix, and rotation does not ask for the bytes),
//! `splice(2)` moves the pipe's pages into the file without a trip through user space.
//!
//! Registers: the pipe's read end (readable) and, when dock's stdout/stderr can be polled, a
//! non-blocking handle on it (writable), both under the pump's key.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Instant;

use mio::{Interest, Token};
use nix::errno::Errno;
use nix::fcntl::{splice, SpliceFFlags};
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::prefix::Prefixer;
use crate::event::{Ctx, Key};
use crate::rotate::FileSink;
use crate::sys::out::OutFd;

/// Bytes per `read(2)` from a child pipe or pty master, and so the most a direction buffers before it
/// stops reading (plus the prefixes of that chunk's lines).
pub const CHUNK: usize = 64 * 1024;

/// Bytes per `read(2)` for a pipe copied unchanged into the `--io` file when `splice(2)` cannot be
/// used: the pipe's whole capacity ([`PIPE_SIZE`]), a quarter of the syscalls of 64 KiB reads. A file
/// never blocks, so nothing waits in this buffer.
pub const FILE_CHUNK: usize = 1 << 20;

/// Bytes asked of one `splice(2)`: the pipe's whole capacity (see [`PIPE_SIZE`]).
const SPLICE_CHUNK: usize = 1 << 20;

/// Capacity asked for the child's output pipes (`F_SETPIPE_SZ`, fcntl(2)): 1 MiB, the default
/// `/proc/sys/fs/pipe-max-size`. Fewer, larger transfers; the default 64 KiB costs ~3× more wakeups.
pub const PIPE_SIZE: i32 = 1 << 20;

/// Where a [`Pump`] writes.
#[derive(Debug)]
pub enum Sink {
    /// The `--io` file (rotated by the sink itself, `rotate::sink`).
    File(FileSink),
    /// dock's stdout or stderr.
    Out(OutFd),
}

impl Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Out(o) => o.write(buf),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Sink::File(f) => f.file().as_fd(),
            Sink::Out(o) => o.fd(),
        }
    }
}

/// One child output pipe relayed to one sink.
#[derive(Debug)]
pub struct Pump {
    /// For diagnostics: "stdout", "stderr", "output".
    name: &'static str,
    /// The pipe's read end (non-blocking); `None` once it gave EOF (every writer closed it).
    src: Option<File>,
    src_token: Option<Token>,
    /// The sink's token, when it is dock's pollable stdout or stderr.
    sink_token: Option<Token>,
    prefixer: Option<Prefixer>,
    /// Read but not yet written; `pending[done..]` is what is left.
    pending: Vec<u8>,
    done: usize,
    sink: Sink,
    /// Whether (and into what) the pipe is spliced.
    splice: Splice,
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
    /// EOF seen and everything written.
    Done,
}

impl Pump {
    /// A relay from the pipe read end `src` to `sink`, prefixing lines when `prefix` is given.
    ///
    /// # Errors
    /// Making `src` non-blocking failing (EBADF).
    pub fn new(
        name: &'static str,
        src: OwnedFd,
        prefix: Option<Vec<u8>>,
        sink: Sink,
    ) -> io::Result<Pump> {
        set_nonblocking(src.as_fd())?;
        let chunk = match (&sink, &prefix) {
            (Sink::File(_), None) => FILE_CHUNK,
            _ => CHUNK,
        };
        Ok(Pump {
            name,
            src: Some(File::from(src)),
            src_token: None,
            sink_token: None,
            prefixer: prefix.map(Prefixer::new),
            pending: Vec::new(),
            done: 0,
            sink,
            splice: Splice::Untried,
            failing: false,
            chunk,
            reader_gone: false,
        })
    }

    /// Registers the pipe (and a pollable sink) under `key`.
    ///
    /// # Errors
    /// `epoll_ctl` failing for the pipe.
    pub fn register(&mut self, cx: &mut Ctx<'_>, key: Key) -> io::Result<()> {
        if let Some(src) = &self.src {
            self.src_token = Some(cx.register_fd(src.as_raw_fd(), Interest::READABLE, key)?);
        }
        if let Sink::Out(o) = &mut self.sink {
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

    /// The file sink, for rotation.
    pub fn file_sink(&mut self) -> Option<&mut FileSink> {
        match &mut self.sink {
            Sink::File(f) => Some(f),
            Sink::Out(_) => None,
        }
    }

    /// Bytes this pump reads at once: the size of the `scratch` buffer to give [`Pump::run`].
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Everything the child wrote has been read (EOF) and written.
    pub fn drained(&self) -> bool {
        self.src.is_none() && self.done == self.pending.len()
    }

    /// Moves bytes until the pipe is empty, the sink is full, or EOF: edge-triggered readiness means
    /// each side is driven to `WouldBlock`. `scratch` is the read buffer ([`Pump::chunk`] bytes);
    /// `cx` is `None` at exit (nothing to deregister).
    pub fn run(&mut self, mut cx: Option<&mut Ctx<'_>>, scratch: &mut [u8]) -> Blocked {
        loop {
            if !self.flush() {
                return Blocked::Sink;
            }
            if self.reader_gone {
                self.close_src(cx.as_deref_mut());
            }
            if self.src.is_none() {
                return Blocked::Done;
            }
            let spliced = match (self.can_splice(), &self.src, &self.splice) {
                (true, Some(src), Splice::Into(target)) => Some(splice_some(src, target)),
                _ => None,
            };
            if let Some(outcome) = spliced {
                match outcome {
                    SpliceOutcome::Moved => continue,
                    SpliceOutcome::Empty => return Blocked::Source,
                    SpliceOutcome::Eof => {
                        self.close_src(cx.as_deref_mut());
                        return Blocked::Done;
                    }
                    SpliceOutcome::Unsupported => self.splice = Splice::Off,
                }
            }
            let Some(src) = &mut self.src else {
                return Blocked::Done;
            };
            let len = self.chunk.min(scratch.len());
            match src.read(&mut scratch[..len]) {
                Ok(0) => {
                    self.close_src(cx.as_deref_mut());
                    return Blocked::Done;
                }
                Ok(n) => self.write_chunk(&scratch[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Blocked::Source,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    crate::warn!("reading the child's {}: {e}", self.name);
                    self.close_src(cx.as_deref_mut());
                    return Blocked::Done;
                }
            }
        }
    }

    /// At exit: relays what the pipe holds now (without waiting for EOF), waiting for a slow sink at
    /// most until `deadline`. What the sink did not take by then is dropped with one log line giving
    /// its size (bytes; what was still in the pipe is counted up to [`PIPE_SIZE`]).
    pub fn finish(&mut self, scratch: &mut [u8], deadline: Instant) {
        loop {
            match self.run(None, scratch) {
                Blocked::Source | Blocked::Done => return,
                Blocked::Sink => {
                    if !wait_writable(self.sink.fd(), deadline) {
                        break;
                    }
                }
            }
        }
        let held = self.pending.len() - self.done;
        let lost = match &mut self.src {
            Some(src) => count_rest(src, scratch, held),
            None => held,
        };
        let sink = match self.sink {
            Sink::File(_) => "the --io file".to_string(),
            Sink::Out(_) => format!("dock's {}", self.name),
        };
        crate::warn!(
            "exiting with {lost} bytes of the child's {} not delivered: {sink} did not take them within {}",
            self.name,
            crate::log::seconds(super::FINISH_TIMEOUT)
        );
    }

    /// The file to splice into, when the bytes need no transformation: no prefix, and rotation does
    /// not watch them (`FileSink::needs_bytes`).
    ///
    /// Linux refuses `splice(2)` into a file opened `O_APPEND` (EINVAL, fs/splice.c), and the sink is
    /// opened so. So dock opens a second description of the same file (`/proc/self/fd/N`: the same
    /// inode even if the path was renamed) without `O_APPEND`, and seeks it to the end before every
    /// splice: output lands at the end even after an outside truncation (logrotate's copytruncate).
    /// It is not atomic against another process appending at the same moment, which `O_APPEND`
    /// writes are; the sink's own writes still are. With rotation the bytes go through the sink.
    fn can_splice(&mut self) -> bool {
        let Sink::File(f) = &self.sink else {
            return false;
        };
        if self.prefixer.is_some() || f.needs_bytes() {
            return false;
        }
        if let Splice::Untried = self.splice {
            let path = format!("/proc/self/fd/{}", f.file().as_raw_fd());
            self.splice = match OpenOptions::new().write(true).open(path) {
                Ok(file) => Splice::Into(file),
                Err(_) => Splice::Off,
            };
        }
        matches!(self.splice, Splice::Into(_))
    }

    /// Writes the chunk just read: straight from `chunk` (no copy) without a prefix; the unwritten
    /// rest, or the prefixed copy, goes to `pending`.
    fn write_chunk(&mut self, chunk: &[u8]) {
        self.pending.clear();
        self.done = 0;
        match &mut self.prefixer {
            Some(p) => p.feed(chunk, &mut self.pending),
            None => {
                let mut off = 0;
                while off < chunk.len() {
                    match self.sink.write(&chunk[off..]) {
                        Ok(n) => {
                            off += n;
                            self.failing = false;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            self.write_failed(&e);
                            off = chunk.len();
                        }
                    }
                }
                self.pending.extend_from_slice(&chunk[off..]);
            }
        }
    }

    /// Writes `pending`; true once it is empty, false when the sink would block.
    fn flush(&mut self) -> bool {
        while self.done < self.pending.len() {
            match self.sink.write(&self.pending[self.done..]) {
                Ok(n) => {
                    self.done += n;
                    self.failing = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    self.write_failed(&e);
                    self.done = self.pending.len();
                }
            }
        }
        true
    }

    /// A write error (ENOSPC, EIO): the chunk is dropped and the relay goes on, so the child is never
    /// blocked by a sink that will not take its output. Reported once per run of failures.
    ///
    /// EPIPE on dock's stdout/stderr (`dock ... | head`): nobody will ever read it, so the relay stops
    /// and closes the pipe's read end. The child's next write then fails with EPIPE/SIGPIPE, as it
    /// would writing to dock's stdout itself.
    fn write_failed(&mut self, e: &io::Error) {
        if e.kind() == io::ErrorKind::BrokenPipe && matches!(self.sink, Sink::Out(_)) {
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

/// `splice(2)` state of a pump.
#[derive(Debug)]
enum Splice {
    /// Not tried yet.
    Untried,
    /// Splicing into this description of the `--io` file.
    Into(File),
    /// Not possible here: read + write.
    Off,
}

enum SpliceOutcome {
    Moved,
    Empty,
    Eof,
    Unsupported,
}

/// One `splice(2)` from the pipe to the end of `target`.
fn splice_some(src: &File, mut target: &File) -> SpliceOutcome {
    if target.seek(SeekFrom::End(0)).is_err() {
        return SpliceOutcome::Unsupported;
    }
    // SPLICE_F_NONBLOCK only concerns the pipe; the file write is an ordinary (disk) write.
    let flags = SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE;
    loop {
        return match splice(src, None, target, None, SPLICE_CHUNK, flags) {
            Ok(0) => SpliceOutcome::Eof,
            Ok(_) => SpliceOutcome::Moved,
            Err(Errno::EAGAIN) => SpliceOutcome::Empty,
            Err(Errno::EINTR) => continue,
            // EINVAL: the file system has no splice_write. Anything else: let read + write report
            // it, with the bytes.
            Err(_) => SpliceOutcome::Unsupported,
        };
    }
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
pub fn count_rest(src: &mut impl Read, scratch: &mut [u8], counted: usize) -> usize {
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
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        // Round up, so a sub-millisecond remainder is not a busy zero-timeout poll.
        let ms = u16::try_from(left.as_millis() + 1).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
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
