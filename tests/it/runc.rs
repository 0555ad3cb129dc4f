//! The static binaries as users ship them. In a real container runtime: runc (what Docker and
//! containerd run underneath) starts an OCI bundle whose rootfs holds only the static `/dock` and a
//! static busybox, with dock as PID 1 of the container, and `runc kill <id> TERM` is what `docker stop`
//! sends. And the TLS-less build refuses `tls://` and `https://` with one line, exit 2.
//!
//! Needs root, `runc`, a static `/bin/busybox` (Debian: busybox-static) and the static dock in
//! `DOCK_STATIC_BIN` (`make test` builds it when the musl target is installed and sets it; so does
//! `DOCK_STATIC_NOTLS_BIN` for the TLS-less one). Without them each test says why on stderr and passes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{self, Mode, Running, TempDir};

/// Prints a skip note past libtest's output capture (it only captures `print!`/`eprint!`).
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "note: {test}: skipped: {why}");
}

/// Whether the ELF file at `path` has no program interpreter (`PT_INTERP`, elf(5)): a static binary
/// runs in a rootfs that holds no libc.
fn is_static_elf(path: &Path) -> bool {
    let Ok(b) = std::fs::read(path) else {
        return false;
    };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false; // not a 64-bit ELF
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != 3
    })
}

/// A static binary named by the environment variable `var`, or why there is none.
fn static_bin(var: &str) -> Result<PathBuf, String> {
    let p = std::env::var_os(var).map(PathBuf::from).ok_or_else(|| {
        format!("{var} is not set (make test sets it when the musl target is installed)")
    })?;
    if !is_static_elf(&p) {
        return Err(format!("{var}={} is not a static executable", p.display()));
    }
    Ok(p)
}

/// What the runc tests need: root, runc, a static busybox and the static dock.
fn runc_prerequisites(test: &str) -> Option<PathBuf> {
    let why = if !nix::unistd::geteuid().is_root() {
        Some("runc needs root".to_string())
    } else if !Command::new("runc")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        Some("runc is not installed (apt-get install runc)".into())
    } else if !is_static_elf(Path::new("/bin/busybox")) {
        Some("no static /bin/busybox (apt-get install busybox-static)".into())
    } else {
        None
    };
    if let Some(why) = why {
        skip(test, &why);
        return None;
    }
    match static_bin("DOCK_STATIC_BIN") {
        Ok(p) => Some(p),
        Err(why) => {
            skip(test, &why);
            None
        }
    }
}

/// An OCI bundle: `rootfs/` with `/dock`, `/bin/busybox` and its applet links, read-only; the host
/// directory `out` bind-mounted read-write at `/out` for scripts, fifos and markers.
struct Bundle {
    dir: TempDir,
    id: String,
}

impl Bundle {
    fn new(tag: &str, dock: &Path, args: &[&str]) -> Bundle {
        let dir = TempDir::new(&format!("runc-{tag}"));
        let rootfs = dir.0.join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::create_dir_all(dir.0.join("out")).unwrap();
        std::fs::copy(dock, rootfs.join("dock")).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for applet in ["sh", "sleep", "cat", "echo", "kill"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let st = Command::new("runc")
            .args(["spec", "--bundle"])
            .arg(&dir.0)
            .status()
            .unwrap();
        assert!(st.success(), "runc spec failed");
        let path = dir.0.join("config.json");
        let mut c: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        c["process"]["terminal"] = false.into();
        c["process"]["args"] = args.into();
        c["process"]["env"] = serde_json::json!(["PATH=/bin"]);
        c["root"]["readonly"] = true.into();
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/out",
            "type": "bind",
            "source": dir.0.join("out"),
            "options": ["rbind", "rw"],
        }));
        // No cgroup limits (some hosts cannot delegate controllers) and no network: not needed here.
        c["linux"].as_object_mut().unwrap().remove("resources");
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|ns| ns["type"] != "network");
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        let id = format!("dock-it-{tag}-{}", std::process::id());
        Bundle { dir, id }
    }

    /// The host path of `/out/<name>`.
    fn out(&self, name: &str) -> PathBuf {
        self.dir.0.join("out").join(name)
    }

    /// Writes the script `/out/<name>`.
    fn script(&self, name: &str, text: &str) {
        std::fs::write(self.out(name), text).unwrap();
    }

    /// `runc run` in the foreground (as `docker run` without `-d`): its exit status is the container's.
    fn run(&self) -> Running {
        let mut cmd = Command::new("runc");
        cmd.args(["run", "--bundle"]).arg(&self.dir.0).arg(&self.id);
        Running::from_command(Mode::Subreaper, cmd)
    }

    /// `runc kill <id> <sig>`: the container's PID 1 (dock) gets `sig`.
    fn kill(&self, sig: &str) {
        let st = Command::new("runc")
            .args(["kill", &self.id, sig])
            .status()
            .unwrap();
        assert!(st.success(), "runc kill {} {sig} failed", self.id);
    }

    /// The host pid of the container's PID 1, from `runc state`.
    fn init_pid(&self) -> i32 {
        let out = Command::new("runc")
            .args(["state", &self.id])
            .output()
            .unwrap();
        assert!(out.status.success(), "runc state {}", self.id);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["pid"].as_i64().unwrap() as i32
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // A failed test may leave the container: remove it (kills what runs in it).
        let _ = Command::new("runc")
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
    }
}

/// The pids `/proc/<pid>/task/<pid>/children` lists (zombies included until reaped).
fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

#[test]
fn runc_exit_status_passes_through() {
    let Some(dock) = runc_prerequisites("runc_exit_status_passes_through") else {
        return;
    };
    for (tag, script, want) in [("exit7", "exit 7", 7), ("usr1", "kill -USR1 $$", 128 + 10)] {
        let b = Bundle::new(tag, &dock, &["/dock", "sh", "-c", script]);
        let f = b.run().finish();
        assert_eq!(f.code, want, "{script}: stderr:\n{}", f.stderr);
    }
}

#[test]
fn runc_kill_term_ends_with_143() {
    let Some(dock) = runc_prerequisites("runc_kill_term_ends_with_143") else {
        return;
    };
    let b = Bundle::new(
        "term",
        &dock,
        &["/dock", "sh", "-c", "echo up; exec sleep 1000"],
    );
    let r = b.run();
    r.expect_line("up");
    b.kill("TERM");
    let f = r.finish();
    assert_eq!(f.code, 143, "stderr:\n{}", f.stderr);
}

#[test]
fn runc_leftover_finishes_its_cleanup() {
    let Some(dock) = runc_prerequisites("runc_leftover_finishes_its_cleanup") else {
        return;
    };
    let b = Bundle::new("leftover", &dock, &["/dock", "sh", "/out/main.sh"]);
    // The leftover takes 200 ms to clean up after SIGTERM; its marker proves it was allowed to finish
    // (when PID 1 exits, the kernel SIGKILLs everything left in the container).
    b.script(
        "leftover.sh",
        "trap 'sleep 0.2; echo cleaned > /out/marker; exit 0' TERM\n\
         echo armed > /out/armed\n\
         while :; do sleep 1000 & wait; done\n",
    );
    b.script(
        "main.sh",
        "sh /out/leftover.sh &\nread x < /out/armed\necho up\nexec sleep 1000\n",
    );
    mkfifo(&b.out("armed"));
    let r = b.run();
    r.expect_line("up");
    b.kill("TERM");
    let f = r.finish();
    assert_eq!(f.code, 143, "stderr:\n{}", f.stderr);
    let marker = std::fs::read_to_string(b.out("marker")).unwrap_or_default();
    assert_eq!(marker, "cleaned\n", "the leftover's cleanup did not finish");
}

#[test]
fn runc_orphans_never_stay_zombies() {
    let Some(dock) = runc_prerequisites("runc_orphans_never_stay_zombies") else {
        return;
    };
    const ORPHANS: usize = 20;
    let b = Bundle::new("zombies", &dock, &["/dock", "sh", "/out/main.sh"]);
    // Each `(sleep &)` subshell exits at once, so its sleep is re-parented to PID 1: dock.
    b.script(
        "main.sh",
        &format!(
            "i=0\nwhile [ $i -lt {ORPHANS} ]; do (sleep 1000 &); i=$((i+1)); done\n\
             echo spawned\nread x < /out/go\nexit 3\n"
        ),
    );
    mkfifo(&b.out("go"));
    let r = b.run();
    r.expect_line("spawned");
    let init = b.init_pid();
    let comm = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let main = children(init)
        .into_iter()
        .find(|&p| comm(p) == "sh\n")
        .expect("dock's main child, sh");
    util::wait_until("re-parenting of the orphans to dock", || {
        children(init).len() == ORPHANS + 1
    });
    for pid in children(init).into_iter().filter(|&p| p != main) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    // Killed orphans are zombies until PID 1 waits for them; the children list drops them when reaped.
    util::wait_until("reaping of the killed orphans", || children(init) == [main]);
    std::fs::OpenOptions::new()
        .write(true)
        .open(b.out("go"))
        .unwrap()
        .write_all(b"go\n")
        .unwrap();
    let f = r.finish();
    assert_eq!(f.code, 3, "stderr:\n{}", f.stderr);
}

#[test]
fn static_without_tls_refuses_tls_urls() {
    let dock = match static_bin("DOCK_STATIC_NOTLS_BIN") {
        Ok(p) => p,
        Err(why) => {
            skip("static_without_tls_refuses_tls_urls", &why);
            return;
        }
    };
    for args in [
        ["--web-hook", "https://127.0.0.1:9/hook", "true"],
        ["--io", "tls://127.0.0.1:9", "true"],
        ["--io", "ssl://127.0.0.1:9", "true"],
    ] {
        let out = Command::new(&dock).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{args:?}: one line, got {stderr:?}"
        );
        assert!(stderr.contains("without TLS"), "{args:?}: {stderr}");
    }
    // Everything else still works.
    let st = Command::new(&dock)
        .args(["sh", "-c", "exit 5"])
        .status()
        .unwrap();
    assert_eq!(st.code(), Some(5));
}
