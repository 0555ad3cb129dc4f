//! dock's composition: parse the command line, build one handler per feature from its config, spawn
//! the main child, run the loop, return the exit. Nothing here knows how a feature works.
//!
//! Registers nothing itself.

mod error;
mod process;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use crate::cli::{self, Config, Parsed};
use crate::event::{self, Handler, Loop, OrigMask};
use crate::hook::Hook;
use crate::io::{IoError, IoTarget, Stdio, FINISH_TIMEOUT};
use crate::notice::ChildExit;
use crate::ports::Readiness;
use crate::ready::fd::FdReady;
use crate::ready::file::ReadyFile;
use crate::ready::http::HttpCheck;
use crate::ready::notify::Notify;
use crate::ready::Gate;
use crate::signals::Forwarder;
use crate::supervisor::{ChildEnv, Supervisor};
use crate::{debug, rotate};
pub use error::{exit_code, Error, Outcome};

/// `dock [OPTIONS] COMMAND [ARGS...]`: what `main` does, exit code included.
pub fn main() -> ExitCode {
    let result = run_argv(std::env::args_os());
    if let Err(e) = &result {
        // Whatever the error quotes (a URL's userinfo or query included), no secret is shown.
        let text = crate::log::chain(e);
        let _ = writeln!(std::io::stderr(), "dock: {}", crate::log::redact(&text));
    }
    ExitCode::from(exit_code(&result))
}

/// Blocks signals, parses `argv`, then prints or runs.
///
/// # Errors
/// As [`run`], and usage errors.
pub fn run_argv(argv: impl IntoIterator<Item = OsString>) -> Result<Outcome, Error> {
    // Before anything else: the parent as it was at dock's start, to tell whether it died before
    // `--pdeathsig` took effect (prctl(2)).
    let ppid = crate::sys::process::parent_pid();
    // Block signals first, so none that arrives while we parse and spawn is lost or kills dock:
    // they wait in the signalfd and are forwarded once the child exists.
    let mask = event::block_all().map_err(Error::sys("blocking signals"))?;
    match cli::parse(argv)? {
        Parsed::Print(text) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            Ok(Outcome::Printed)
        }
        Parsed::Help(text) => {
            let _ = std::io::stderr().write_all(text.as_bytes());
            Ok(Outcome::Help)
        }
        Parsed::Run(config) => run(*config, mask, ppid).map(Outcome::Exited),
    }
}

/// Runs `config` to completion and returns the main child's exit, `--remap-exit` applied. `mask` is
/// the signal mask dock had before [`event::block_all`]; the child gets it back. `ppid` is dock's
/// parent at its start (for `--pdeathsig`).
///
/// # Errors
/// Anything that fails before the child runs ([`exit_code`] maps it: 2, or 126/127 for exec).
pub fn run(config: Config, mask: OrigMask, ppid: i32) -> Result<ChildExit, Error> {
    crate::log::set_debug(config.debug);
    for w in &config.warnings {
        crate::warn!("{w}");
    }
    if let Some(sig) = config.pdeathsig {
        process::parent_death_signal(sig, ppid)?;
    }
    if std::process::id() != 1 {
        // Orphans of the child re-parent to the nearest subreaper: us, so they are reaped and torn
        // down (prctl(2) PR_SET_CHILD_SUBREAPER).
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| Error::sys("becoming a child subreaper")(e.into()))?;
    }
    let mut lp = Loop::new().map_err(Error::sys("creating the event loop"))?;
    // Everything that can fail on bad configuration fails here, before anything is started.
    let creds = config
        .supervisor
        .user
        .as_ref()
        .map(process::credentials)
        .transpose()?;
    let mut env = ChildEnv::inherited();
    if let Some(c) = &creds {
        // An inherited root HOME would point the child at a directory it cannot write (su-exec, gosu).
        env.set("HOME", &c.home);
    }
    let (handlers, child_stdio) = build(&config, &mut env)?;
    let supervisor =
        Supervisor::spawn(&config.supervisor, child_stdio, mask, &env, creds.as_ref())?;
    // The child has the fds dock inherited: dock keeps no copy, so the child closing one is seen at
    // the other end (catatonit#12). The ones dock made for it (`--ready-fd`'s pipe end) are
    // close-on-exec in dock and closed by the spawn already.
    match crate::sys::process::close_inherited_fds() {
        Ok(0) => {}
        Ok(n) => debug!("closed {n} inherited fd(s) the child now holds"),
        Err(e) => crate::warn!("closing inherited fds: {e}"),
    }
    // From here on nothing is fatal: a dying PID 1 takes the whole container with it.
    for h in handlers {
        lp.add(h);
    }
    // Last: its start announces the child to every other handler, all started by then; and it
    // finishes last, giving the terminal back once the output is out.
    lp.add(Box::new(supervisor));
    let exit = lp.run(release_startup, FINISH_TIMEOUT);
    Ok(process::remap_exit(exit, &config.remap_exit))
}

/// Every handler but the supervisor, in the order they see notices, and the child's stdio; the
/// features' variables go into the child's environment `env`.
fn build(
    config: &Config,
    env: &mut ChildEnv,
) -> Result<(Vec<Box<dyn Handler>>, crate::sys::spawn::ChildStdio), Error> {
    let mut handlers: Vec<Box<dyn Handler>> = Vec::new();
    let mut signals = config.signals;
    signals.winch_resizes_pty = config.io.pty()
        && crate::sys::pty::window_size(std::os::fd::AsFd::as_fd(&std::io::stdin())).is_ok();
    handlers.push(Box::new(Forwarder::new(signals)));
    let (sink, archiver) = match &config.io.target {
        Some(IoTarget::File(path)) if config.io.framed() || config.rotate.is_some() => {
            let (sink, archiver) =
                rotate::open(path, config.io.mode, config.rotate).map_err(IoError::Open)?;
            (Some(sink), archiver)
        }
        _ => (None, None),
    };
    let (stdio, mut child_stdio) = Stdio::setup(&config.io, sink)?;
    handlers.push(Box::new(stdio));
    if let Some(a) = archiver {
        handlers.push(Box::new(a));
    }
    if let Some(port) = config.port {
        handlers.push(Box::new(Readiness::new(port)?));
    }
    let ready = &config.ready;
    if let Some(addr) = &ready.notify {
        let notify = Notify::bind(addr)?;
        env.set("NOTIFY_SOCKET", notify.env_value());
        handlers.push(Box::new(notify));
    }
    if let Some(n) = ready.fd {
        let (fd, child_end) = FdReady::new(n)?;
        child_stdio.extra.push((child_end, n));
        handlers.push(Box::new(fd));
    }
    if let Some(check) = &ready.http {
        handlers.push(Box::new(HttpCheck::new(check.clone())?));
    }
    handlers.push(Box::new(Gate::new(ready)));
    if let Some(path) = &ready.file {
        handlers.push(Box::new(ReadyFile::new(path.clone())?));
    }
    if let Some(hook) = &config.hook {
        handlers.push(Box::new(Hook::new(hook.clone())?));
    }
    Ok((handlers, child_stdio))
}

/// Startup is over: its code is never run again (`sys::mem`).
fn release_startup() {
    let released = crate::sys::mem::release_readonly_segments();
    debug!(
        "released {} kB of startup code and read-only data",
        released / 1000
    );
}
