//! `--ready-notify`: sd_notify(3)'s `NOTIFY_SOCKET`. dock binds a Unix datagram socket before the
//! spawn, the child gets its address in `NOTIFY_SOCKET` (`@name` for an abstract one, else a path),
//! and dock reads the datagrams in the loop ([`super::notify_msg`] parses them): `READY=1` makes the
//! child ready ([`Condition::Notify`], once); `STATUS=` goes to the hook ([`Notice::Status`], when it
//! changes); `STOPPING=1`, `RELOADING=1`, `MAINPID=` and unknown keys are only shown with `-d`.
//!
//! Only dock's tree may speak, as systemd's `NotifyAccess=all` (an abstract socket is reachable by
//! every process of the network namespace, a path by whoever may write to it): `SO_PASSCRED` makes
//! the kernel attach the sender's pid to each datagram (`SCM_CREDENTIALS`, unix(7); 0 for a process
//! outside dock's PID namespace), and that pid must be the main child or descend from dock. A
//! datagram from anyone else, longer than [`MAX_DATAGRAM`] or malformed is dropped with a `-d` line.
//! fds passed along (`SCM_RIGHTS`: `FDSTORE=1`, `BARRIER=1`) are closed at once; closing a
//! barrier's fd is what `sd_notify_barrier(3)` (and so `systemd-notify`) waits for.
//!
//! Registers: the socket, for the child's whole life (reading stops at `ChildExited` or `Stop`).
//! Deadline: "more to read", after a batch of [`BATCH`] datagrams, so a flood cannot hold the loop.
//! Reads `Spawned`, `ChildExited`, `Stop`; posts `Condition(Notify)`, `Status`.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use nix::errno::Errno;

use super::notify_msg::{parse, summarize, Malformed, MAX_DATAGRAM};
use super::ReadyError;
use crate::event::{Ctx, Event, Handler, Key};
use crate::notice::{Condition, Notice};
use crate::{debug, warn};

/// Where the socket is bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyAddr {
    /// An abstract name the kernel picks, unique in the network namespace (unix(7) "autobind":
    /// 5 hex digits), so docks in containers that share a network namespace (a Kubernetes pod)
    /// never collide, and a read-only root file system is no obstacle.
    Auto,
    /// An abstract name (the bytes after `@`).
    Abstract(Vec<u8>),
    /// A path: a stale socket there is replaced; made writable by everyone (as systemd's
    /// `/run/systemd/notify`), so a child running as another user can send.
    Path(PathBuf),
}

/// Datagrams read per wakeup before the loop gets a turn.
pub const BATCH: usize = 64;

/// The socket's key, and the deadline's.
const SOCK: Key = 0;
const MORE: Key = 0;

/// The socket and what was heard on it.
pub struct Notify {
    sock: Option<(OwnedFd, Option<Token>)>,
    /// `NOTIFY_SOCKET`'s value.
    env: OsString,
    /// A path to unlink when reading stops.
    path: Option<PathBuf>,
    main: Option<i32>,
    spawned: Option<Instant>,
    /// dock's pid, the root of the tree senders must belong to.
    root: i32,
    /// `/proc` is this PID namespace's: a sender's ancestry can be read there.
    own_proc: bool,
    ready: bool,
    status: Option<String>,
    buf: Vec<u8>,
}

impl Notify {
    /// Binds the socket (`SOCK_DGRAM|SOCK_CLOEXEC|SOCK_NONBLOCK`, `SO_PASSCRED`) at `addr`.
    ///
    /// # Errors
    /// [`ReadyError::Notify`]: socket creation, a name in use (EADDRINUSE), a path that exists and is
    /// not a socket (EEXIST), a directory that does not exist or is read-only.
    pub fn bind(addr: &NotifyAddr) -> Result<Notify, ReadyError> {
        // sun_path's bytes (unix(7)): empty for the autobind, a NUL then the abstract name, a path.
        let want = match addr {
            NotifyAddr::Auto => Vec::new(),
            NotifyAddr::Abstract(n) => [b"\0".as_slice(), n].concat(),
            NotifyAddr::Path(p) => p.as_os_str().as_bytes().to_vec(),
        };
        let path = match addr {
            NotifyAddr::Path(p) => Some(p.clone()),
            _ => None,
        };
        let fail = |what, source| ReadyError::Notify {
            addr: match want.is_empty() {
                true => "(a name the kernel picks)".into(),
                false => env_form(&want).to_string_lossy().into_owned(),
            },
            what,
            source,
        };
        if let Some(p) = &path {
            replace_stale(p).map_err(|e| fail("replacing what is there", e))?;
        }
        let (sock, bound) =
            crate::sys::creds::bind_passcred(&want).map_err(|e| fail("binding", e))?;
        if let Some(p) = &path {
            use std::os::unix::fs::PermissionsExt;
            let everyone = std::fs::Permissions::from_mode(0o666);
            std::fs::set_permissions(p, everyone).map_err(|e| fail("making it writable", e))?;
        }
        let env = env_form(&bound);
        debug!("--ready-notify: NOTIFY_SOCKET={}", env.to_string_lossy());
        Ok(Notify {
            sock: Some((sock, None)),
            env,
            path,
            main: None,
            spawned: None,
            root: nix::unistd::getpid().as_raw(),
            own_proc: crate::procfs::looks_own(),
            ready: false,
            status: None,
            buf: vec![0; MAX_DATAGRAM],
        })
    }

    /// `NOTIFY_SOCKET`'s value for the child: `@name` or the path (sd_notify(3)).
    pub fn env_value(&self) -> &std::ffi::OsStr {
        &self.env
    }

    /// Reads up to [`BATCH`] datagrams; if the socket may hold more, looks again next turn.
    fn drain(&mut self, cx: &mut Ctx<'_>) {
        for _ in 0..BATCH {
            let Some((sock, _)) = &self.sock else { return };
            match crate::sys::creds::recv_with_pid(sock.as_raw_fd(), &mut self.buf) {
                Ok(Some((len, pid))) => self.datagram(cx, len, pid),
                Ok(None) => return,
                Err(e) => {
                    warn!("--ready-notify: receiving: {e}; no longer listening");
                    self.close(cx);
                    return;
                }
            }
        }
        cx.arm_in(MORE, Duration::ZERO);
    }

    /// One datagram of `len` bytes (its first [`MAX_DATAGRAM`] in `buf`) from `pid`.
    fn datagram(&mut self, cx: &mut Ctx<'_>, len: usize, pid: Option<i32>) {
        let pid = match pid {
            Some(p) if self.allowed(p) => p,
            other => {
                let who = other.map_or("no credentials".to_string(), |p| format!("pid {p}"));
                debug!("--ready-notify: datagram from {who} dropped: not dock's or a descendant's");
                return;
            }
        };
        if len > MAX_DATAGRAM {
            debug!(
                "--ready-notify: pid {pid}: {}: ignored",
                Malformed::TooLong(len)
            );
            return;
        }
        let list = match parse(&self.buf[..len]) {
            Ok(list) => list,
            Err(e) => return debug!("--ready-notify: pid {pid}: {e}: ignored"),
        };
        // Every datagram once with -d: STOPPING=1, RELOADING=1, MAINPID= and unknown keys are
        // only shown (dock keeps its own main child whatever MAINPID says).
        debug!(
            "--ready-notify: pid {pid}: {:?}",
            String::from_utf8_lossy(&self.buf[..len])
        );
        let n = summarize(&list);
        if let Some(text) = n.status.filter(|&s| self.status.as_deref() != Some(s)) {
            self.status = Some(text.to_string());
            cx.post(Notice::Status(text.to_string()));
        }
        if n.ready && !self.ready {
            self.ready = true;
            let ms = crate::log::decimal(
                self.spawned
                    .map_or_else(Default::default, |at| at.elapsed())
                    .as_micros()
                    / 100,
                1,
            );
            debug!("--ready-notify: pid {pid}: READY=1 after {ms} ms");
            cx.post(Notice::Condition(Condition::Notify));
        }
    }

    /// Whether `pid` may speak: the main child, or (with this namespace's `/proc`) a descendant of
    /// dock; without it, a member of the main child's process group, the most dock can tell.
    fn allowed(&self, pid: i32) -> bool {
        if pid <= 0 {
            return false;
        }
        if Some(pid) == self.main {
            return true;
        }
        if self.own_proc {
            return crate::procfs::is_descendant(Path::new("/proc"), pid, self.root);
        }
        let group = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(pid)));
        group.is_ok_and(|g| Some(g.as_raw()) == self.main)
    }

    /// Stops listening: deregisters and closes the socket, removes its path.
    fn close(&mut self, cx: &mut Ctx<'_>) {
        if let Some((sock, Some(token))) = self.sock.take() {
            cx.deregister_fd(&sock, token);
        }
        cx.disarm(MORE);
        self.unlink();
    }

    fn unlink(&mut self) {
        if let Some(p) = self.path.take() {
            if let Err(e) = std::fs::remove_file(&p) {
                debug!(
                    "--ready-notify: removing {}: {}",
                    p.display(),
                    crate::log::reason(&e)
                );
            }
        }
    }
}

/// `NOTIFY_SOCKET`'s form of sun_path's bytes (sd_notify(3)): `@name` for an abstract name (a NUL
/// first), else the path.
fn env_form(sun_path: &[u8]) -> OsString {
    match sun_path.split_first() {
        Some((0, name)) => OsString::from_vec([b"@".as_slice(), name].concat()),
        _ => OsString::from_vec(sun_path.to_vec()),
    }
}

/// Removes a socket left at `p` by an earlier run (bind would fail with EADDRINUSE); anything else
/// there is left alone and refused (EEXIST).
fn replace_stale(p: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(p),
        Ok(_) => Err(Errno::EEXIST.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

impl Handler for Notify {
    fn start(&mut self, cx: &mut Ctx<'_>) {
        if let Some((sock, token)) = &mut self.sock {
            match cx.register_fd(sock.as_raw_fd(), Interest::READABLE, SOCK) {
                Ok(t) => *token = Some(t),
                Err(e) => warn!("--ready-notify: registering the socket: {e}"),
            }
        }
    }

    fn on_event(&mut self, cx: &mut Ctx<'_>, ev: Event) {
        if ev.key == SOCK {
            self.drain(cx);
        }
    }

    fn on_deadline(&mut self, cx: &mut Ctx<'_>, key: Key) {
        if key == MORE {
            self.drain(cx);
        }
    }

    fn on_notice(&mut self, cx: &mut Ctx<'_>, notice: &Notice) {
        match notice {
            Notice::Spawned { pid, at } => {
                self.main = Some(*pid);
                self.spawned = Some(*at);
            }
            Notice::ChildExited(_) | Notice::Stop { .. } => self.close(cx),
            _ => {}
        }
    }

    fn finish(&mut self, _deadline: Instant) {
        self.unlink();
    }
}

#[cfg(test)]
mod tests;
