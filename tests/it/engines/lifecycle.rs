//! Starting and stopping an engine: the prerequisites, dockerd's start (Podman has no daemon), the
//! images, and the teardown that reports what was left behind.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{
    note, output_within, required, signal, stdout_of, Engine, Kind, ENGINE_DEADLINE, IMAGE, PRODUCT,
};
use crate::util;

/// Whether the ELF file at `path` has no program interpreter (`PT_INTERP`, elf(5)), so that it runs in
/// an image that holds no libc (as `runc.rs` checks it).
fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = std::fs::read(path) else {
        return false;
    };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    (0..u16_at(0x38)).all(|i| {
        let o = phoff + i * u16_at(0x36);
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != 3
    })
}

/// Whether `cmd --version` runs.
fn runs(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The static dock, or why the engine tests cannot run here.
fn prerequisites(kind: Kind) -> Result<PathBuf, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("the engines need root".into());
    }
    let tools: &[(&str, &str)] = match kind {
        Kind::Docker => &[("dockerd", "docker.io"), ("docker", "docker.io")],
        Kind::Podman => &[("podman", "podman")],
    };
    for (tool, package) in tools
        .iter()
        .chain(&[("make", "make"), ("script", "bsdutils")])
    {
        if !runs(tool) {
            return Err(format!("no {tool} here (apt-get install {package})"));
        }
    }
    if !is_static_elf(Path::new("/bin/busybox")) {
        return Err("no static /bin/busybox (apt-get install busybox-static)".into());
    }
    let dock = std::env::var_os("DOCK_STATIC_BIN")
        .map(PathBuf::from)
        .ok_or(
            "DOCK_STATIC_BIN is not set (make test sets it when the musl target is installed)",
        )?;
    if !is_static_elf(&dock) {
        return Err(format!(
            "DOCK_STATIC_BIN={} is not a static executable",
            dock.display()
        ));
    }
    Ok(dock)
}

impl Engine {
    /// Starts the engine and builds the images, or says why not (and fails where it must run).
    pub(super) fn start_or_skip(kind: Kind) -> Option<Engine> {
        let test = kind.name();
        let started = prerequisites(kind).and_then(|dock| {
            let dir = std::env::temp_dir().join(format!("dock-it-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let mut e = Engine {
                kind,
                dir,
                daemon: None,
                torn_down: false,
            };
            e.start()?;
            e.build_images(&dock)?;
            Ok(e)
        });
        match started {
            Ok(e) => Some(e),
            Err(why) if required() => panic!("{test}: {why} (DOCK_REQUIRE_ENGINES=1: it must run)"),
            Err(why) => {
                note(test, &format!("skipped: {why}"));
                None
            }
        }
    }

    /// Starts dockerd (overlay2, else vfs) until `docker info` answers; Podman needs no daemon, only
    /// a `podman info` that works with this storage.
    fn start(&mut self) -> Result<(), String> {
        if self.kind == Kind::Podman {
            return stdout_of({
                let mut c = self.cmd();
                c.arg("info");
                c
            })
            .map(drop);
        }
        let mut why = Vec::new();
        for driver in ["overlay2", "vfs"] {
            let log = self.dir.join(format!("dockerd-{driver}.log"));
            let d = |name: &str| self.dir.join(format!("{driver}-{name}"));
            let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let err = out
                .try_clone()
                .map_err(|e| format!("{}: {e}", log.display()))?;
            let mut c = Command::new("dockerd");
            c.args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
                .arg(format!("--storage-driver={driver}"))
                .arg(format!("--data-root={}", d("root").display()))
                .arg(format!("--exec-root={}", d("exec").display()))
                .arg(format!(
                    "--pidfile={}",
                    self.dir.join("dockerd.pid").display()
                ))
                .arg(format!(
                    "-H=unix://{}",
                    self.dir.join("docker.sock").display()
                ))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            let mut daemon = c.spawn().map_err(|e| format!("dockerd: {e}"))?;
            let end = Instant::now() + ENGINE_DEADLINE;
            let answered = loop {
                if let Ok(Some(st)) = daemon.try_wait() {
                    break Err(format!("dockerd exited ({st})"));
                }
                let mut info = self.cmd();
                info.args(["info", "--format", "{{.Driver}}"]);
                if stdout_of(info).is_ok() {
                    break Ok(());
                }
                if Instant::now() > end {
                    break Err(format!(
                        "no answer to docker info within {ENGINE_DEADLINE:?}"
                    ));
                }
                // Polling `docker info` (a new process each time) with a deadline: dockerd says
                // nothing else when it is ready.
                thread::sleep(Duration::from_millis(100));
            };
            if answered.is_ok() {
                self.daemon = Some(daemon);
                return Ok(());
            }
            self.stop_daemon(daemon);
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            why.push(format!(
                "{driver}: {}: {}",
                answered.unwrap_err(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        Err(format!("dockerd did not start: {}", why.join("; ")))
    }

    /// The product image through `make image-only` (what `make image` runs after `make static`), its
    /// layout checked, then [`IMAGE`] on top of it with busybox.
    fn build_images(&self, dock: &Path) -> Result<(), String> {
        let cli = self.cli();
        assert!(
            cli.iter().all(|a| !a.contains(' ')),
            "{cli:?}: make splits DOCKER on blanks"
        );
        let mut make = Command::new("make");
        make.arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(["--no-print-directory", "image-only"])
            .arg(format!("DOCKER={}", cli.join(" ")))
            .arg(format!("IMAGE={PRODUCT}"))
            .arg(format!("IMAGE_BIN={}", dock.display()))
            .arg(format!("IMAGE_CTX={}", self.dir.join("image").display()))
            // Not the jobserver of a `make test` around this test: this make is no part of it.
            .env_remove("MAKEFLAGS")
            .env_remove("MFLAGS")
            .env_remove("MAKELEVEL");
        self.env(&mut make);
        stdout_of(make)?;
        let mut inspect = self.cmd();
        inspect.args([
            "image",
            "inspect",
            "-f",
            "{{json .Config.Entrypoint}}",
            PRODUCT,
        ]);
        let entry = stdout_of(inspect)?;
        if entry.trim() != r#"["/dock"]"# {
            return Err(format!("make image: entrypoint {entry:?}, not [\"/dock\"]"));
        }
        let ctx = self.dir.join("busybox");
        let bin = ctx.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for applet in ["sh", "sleep", "kill", "tty", "echo", "cat"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM {PRODUCT}\nCOPY bin /bin\nENV PATH=/bin\n"),
        )
        .unwrap();
        let mut build = self.cmd();
        build.args(["build", "-q", "-t", IMAGE]);
        if self.kind == Kind::Podman {
            build.arg("--pull=never"); // docker 20.10's build has only --pull (always)
        }
        build.arg(&ctx);
        stdout_of(build).map(drop)
    }

    /// SIGTERM to dockerd and a wait for it (containerd ends with it); SIGKILL at the deadline.
    fn stop_daemon(&self, mut daemon: Child) -> Option<String> {
        let _ = signal(daemon.id() as i32, Signal::SIGTERM);
        match util::exit_code_within_deadline(&mut daemon) {
            Some(_) => None,
            None => Some(format!(
                "dockerd did not stop within {:?} of SIGTERM",
                util::DEADLINE
            )),
        }
    }

    /// Stops the engine and removes its directory; returns what was left behind (each thing also
    /// cleaned up): containers, processes whose command line names the directory (dockerd,
    /// containerd, its shims, conmon, podman), mounts under it.
    pub(super) fn teardown(&mut self) -> Vec<String> {
        self.torn_down = true;
        let mut left = Vec::new();
        let mut ps = self.cmd();
        ps.args(["ps", "-aq"]);
        let answers = self.kind == Kind::Podman || self.daemon.is_some();
        match if answers {
            stdout_of(ps)
        } else {
            Ok(String::new())
        } {
            Ok(ids) if ids.trim().is_empty() => {}
            Ok(ids) => {
                let ids: Vec<&str> = ids.split_whitespace().collect();
                left.push(format!("containers {ids:?}"));
                let mut rm = self.cmd();
                rm.args(["rm", "-f"]).args(&ids);
                let _ = output_within(rm);
            }
            Err(e) => left.push(format!("no container list: {e}")),
        }
        if let Some(daemon) = self.daemon.take() {
            left.extend(self.stop_daemon(daemon));
        }
        let dir = self.dir.as_os_str().as_bytes().to_vec();
        // containerd and the shims end a moment after dockerd: give them the usual deadline.
        let end = Instant::now() + util::DEADLINE;
        let procs = loop {
            let procs = processes_naming(&dir);
            if procs.is_empty() || Instant::now() > end {
                break procs;
            }
            thread::sleep(Duration::from_millis(20));
        };
        for (pid, cmdline) in &procs {
            left.push(format!("process {pid}: {cmdline}"));
            let _ = signal(*pid, Signal::SIGKILL);
        }
        for m in mounts_under(&dir).iter().rev() {
            // dockerd's network controller leaves its own namespace (`EXEC_ROOT/netns/default`)
            // bind-mounted when it stops, by design: the one mount the stop itself removes.
            if !m.ends_with("-exec/netns/default") {
                left.push(format!("mount {m}"));
            }
            let _ = Command::new("umount").args(["-l", m]).status();
        }
        left.extend(
            mounts_under(&dir)
                .iter()
                .map(|m| format!("mount {m} (umount failed)")),
        );
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            left.push(format!("{} not removed: {e}", self.dir.display()));
        }
        left
    }
}

impl Drop for Engine {
    /// After a failed start (the teardown of a started engine runs in [`Engine::check`]).
    fn drop(&mut self) {
        if !self.torn_down {
            let left = self.teardown();
            if !left.is_empty() {
                note(
                    self.kind.name(),
                    &format!("cleaned up: {}", left.join("; ")),
                );
            }
        }
    }
}

/// Processes whose command line contains `dir`: (pid, command line).
fn processes_naming(dir: &[u8]) -> Vec<(i32, String)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let c = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            c.windows(dir.len()).any(|w| w == dir).then(|| {
                (
                    pid,
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .trim_end()
                        .to_string(),
                )
            })
        })
        .collect()
}

/// Mount points under `dir`, in `/proc/self/mountinfo` order (proc(5): the fifth field).
fn mounts_under(dir: &[u8]) -> Vec<String> {
    std::fs::read("/proc/self/mountinfo")
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .filter(|m| m.starts_with(dir))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}
