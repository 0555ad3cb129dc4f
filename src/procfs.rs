//! What dock reads from `/proc` (proc(5)): its descendants (teardown outside PID 1), which of them
//! holds a socket inode (`--strict-port-binding`), whether a pid is one of them (`--ready-notify`'s
//! senders), and a process's signal masks (`--thug`).
//!
//! Which descendant holds a socket inode is Best effort by nature: processes come and go during the walk, so a vanished process is
//! skipped and one whose fds cannot be read (EACCES: another user, or a dumpable-0 setuid program) is
//! counted; the caller retries at the next poll and never falls back to non-strict.
//!
//! The tree is walked through `/proc/<pid>/task/<tid>/children` (proc(5), `CONFIG_PROC_CHILDREN`),
//! which lists each thread's children; without it, by the ppid field of every `/proc/<pid>/stat`.
//! dock is a child subreaper (or PID 1), so orphaned grandchildren stay in its tree.
//!
//! Registers nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::Path;

/// Whether `/proc` shows dock's own PID namespace: `/proc/self` names dock's own pid (proc(5)). A
/// `/proc` mounted for another namespace (`unshare --pid --fork` without `--mount-proc`) shows
/// other processes under the same numbers (pid 2 is then the host's kthreadd), so dock must not act
/// on what it reads there: `--thug` then forwards without looking, and teardown outside PID 1
/// signals the main child's process group instead of walking the tree. Checked once; the first
/// `false` logs one warning.
pub fn is_own() -> bool {
    static OWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| {
        let own = looks_own();
        if !own {
            crate::warn!(
                "/proc is not this PID namespace's (mount it, e.g. unshare --mount-proc): --thug \
                 cannot see the child's signal masks and teardown cannot see descendants"
            );
        }
        own
    })
}

/// [`is_own`]'s check itself, without the warning and not cached: `/proc/self` names dock's pid.
pub fn looks_own() -> bool {
    fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse::<u32>().ok())
        == Some(std::process::id())
}

/// Upper bound on the processes one scan visits: a fork bomb cannot make a poll tick unbounded.
const MAX_PROCS: usize = 4096;

/// The result of one scan.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The first process found holding one of the inodes.
    pub pid: Option<i32>,
    /// The inode it holds.
    pub inode: Option<u64>,
    /// Processes of the tree visited.
    pub visited: usize,
    /// Processes whose fd table could not be read for a reason other than having exited.
    pub unreadable: usize,
}

/// Searches `root` and its descendants under `proc` (normally `/proc`) for an fd that is one of the
/// socket `inodes`.
pub fn find_owner(proc: &Path, root: i32, inodes: &[u64]) -> Scan {
    let mut scan = Scan::default();
    if inodes.is_empty() {
        return scan;
    }
    for pid in descendants(proc, root) {
        scan.visited += 1;
        match holds_socket(proc, pid, inodes) {
            Ok(Some(inode)) => {
                scan.pid = Some(pid);
                scan.inode = Some(inode);
                return scan;
            }
            Ok(None) => {}
            Err(e) if vanished(&e) => {}
            Err(_) => scan.unreadable += 1,
        }
    }
    scan
}

/// Every descendant of `root` (not `root`), with no limit: teardown must reach every one. Processes
/// that vanish or cannot be read during the walk are left out.
pub fn descendants_of(root: i32) -> Vec<i32> {
    let mut all = descendants_at_most(Path::new("/proc"), root, usize::MAX);
    all.retain(|&p| p != root);
    all
}

/// Whether `pid` descends from `root`: its chain of parents under `proc` (the ppid in
/// `/proc/<pid>/stat`) reaches `root`. False when the chain ends elsewhere (pid 1 outside `root`'s
/// tree; ppid 0: a process that joined the PID namespace from outside, setns(2)), when a process of
/// the chain cannot be read (gone: a sender already reaped by its parent), or after [`MAX_PROCS`]
/// steps. A zombie still shows its ppid, so a sender that exited but is not reaped yet counts.
pub fn is_descendant(proc: &Path, pid: i32, root: i32) -> bool {
    let mut p = pid;
    for _ in 0..MAX_PROCS {
        let Ok(stat) = fs::read_to_string(proc.join(p.to_string()).join("stat")) else {
            return false;
        };
        match parse_stat_ppid(&stat) {
            Some(pp) if pp == root => return true,
            Some(pp) if pp > 0 && pp != p => p = pp,
            _ => return false,
        }
    }
    false
}

/// `/proc/<pid>/status`; `None` if the process vanished or the file is unreadable.
pub fn read_status(pid: i32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

/// The `SigBlk` and `SigIgn` masks of a `/proc/<pid>/status` text (proc(5)): 64 bits each, bit S-1
/// for signal S. `None` if either line is missing or not hex.
pub fn parse_status_masks(status: &str) -> Option<(u64, u64)> {
    let mut blk = None;
    let mut ign = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("SigBlk:") {
            blk = u64::from_str_radix(v.trim(), 16).ok();
        } else if let Some(v) = line.strip_prefix("SigIgn:") {
            ign = u64::from_str_radix(v.trim(), 16).ok();
        }
    }
    Some((blk?, ign?))
}

/// The signals pending for a `/proc/<pid>/status` text: `SigPnd | ShdPnd` (proc(5); a missing or
/// malformed line counts as none pending).
pub fn parse_status_pending(status: &str) -> u64 {
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("SigPnd:")
                .or_else(|| l.strip_prefix("ShdPnd:"))
        })
        .filter_map(|v| u64::from_str_radix(v.trim(), 16).ok())
        .fold(0, |acc, m| acc | m)
}

/// `root` first, then its descendants breadth first (at most [`MAX_PROCS`]).
pub fn descendants(proc: &Path, root: i32) -> Vec<i32> {
    descendants_at_most(proc, root, MAX_PROCS)
}

/// `root` first, then its descendants breadth first, at most `limit` pids. Walks the `children` files
/// down from `root` (proc(5), CONFIG_PROC_CHILDREN), so the cost is the size of dock's tree, not of
/// the whole pid namespace; without them, every `/proc/<pid>/stat` is read once.
pub fn descendants_at_most(proc: &Path, root: i32, limit: usize) -> Vec<i32> {
    let limit = limit.max(1);
    // The root's main thread lives as long as the root, so a missing `children` file there means
    // the kernel has no CONFIG_PROC_CHILDREN (or the root is gone, and the fallback finds nothing).
    let ppids = match proc.join(format!("{root}/task/{root}/children")).exists() {
        true => None,
        false => Some(children_by_ppid(proc)),
    };
    let mut seen = BTreeSet::from([root]);
    let mut order = vec![root];
    let mut i = 0;
    while i < order.len() && order.len() < limit {
        let pid = order[i];
        i += 1;
        let kids = match &ppids {
            Some(map) => map.get(&pid).cloned().unwrap_or_default(),
            None => children_of(proc, pid),
        };
        for k in kids {
            if order.len() < limit && seen.insert(k) {
                order.push(k);
            }
        }
    }
    order
}

/// The children of every thread of `pid`; a process or thread that exits mid-walk has none.
fn children_of(proc: &Path, pid: i32) -> Vec<i32> {
    let mut kids = Vec::new();
    let Ok(tasks) = fs::read_dir(proc.join(pid.to_string()).join("task")) else {
        return kids;
    };
    for task in tasks.flatten() {
        if let Ok(s) = fs::read_to_string(task.path().join("children")) {
            kids.extend(parse_pids(&s));
        }
    }
    kids
}

/// ppid → children, from every `/proc/<pid>/stat`.
fn children_by_ppid(proc: &Path) -> BTreeMap<i32, Vec<i32>> {
    let mut map: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    let Ok(dir) = fs::read_dir(proc) else {
        return map;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(stat) = fs::read_to_string(e.path().join("stat")) {
            if let Some(ppid) = parse_stat_ppid(&stat) {
                map.entry(ppid).or_default().push(pid);
            }
        }
    }
    map
}

/// The first of `inodes` that an fd of `pid` is (`socket:[INODE]`).
fn holds_socket(proc: &Path, pid: i32, inodes: &[u64]) -> io::Result<Option<u64>> {
    for fd in fs::read_dir(proc.join(pid.to_string()).join("fd"))? {
        let Ok(fd) = fd else { continue };
        // An fd closed between readdir and readlink: just not ours.
        let Ok(target) = fs::read_link(fd.path()) else {
            continue;
        };
        match socket_inode(target.as_os_str()) {
            Some(i) if inodes.contains(&i) => return Ok(Some(i)),
            _ => {}
        }
    }
    Ok(None)
}

/// ENOENT/ESRCH: the process (or thread) exited during the walk.
fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ESRCH)
}

/// The inode of an fd link's target `socket:[INODE]` (proc(5), /proc/pid/fd).
pub fn socket_inode(target: &OsStr) -> Option<u64> {
    target
        .to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Pids from a `children` file: space-separated decimal numbers.
pub fn parse_pids(s: &str) -> impl Iterator<Item = i32> + '_ {
    s.split_ascii_whitespace().filter_map(|w| w.parse().ok())
}

/// The ppid (4th field) of a `/proc/<pid>/stat` line. The 2nd field, `(comm)`, may hold spaces and
/// parentheses, so fields are counted after the last `)`.
pub fn parse_stat_ppid(stat: &str) -> Option<i32> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut f = rest.split_ascii_whitespace();
    let _state = f.next()?;
    f.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    use std::process::{Command, Stdio};

    const PROC: &str = "/proc";

    const STATUS: &str = "Name:\tsleep\nSigQ:\t0/63388\nSigPnd:\t0000000000000000\n\
        ShdPnd:\t0000000000000000\nSigBlk:\t0000000000000002\nSigIgn:\t0000000000004000\n\
        SigCgt:\t0000000000000000\n";

    #[test]
    fn masks_from_proc_status() {
        assert_eq!(parse_status_masks(STATUS), Some((0x2, 0x4000)));
        assert_eq!(parse_status_masks("SigBlk:\tzz\nSigIgn:\t0\n"), None);
        assert_eq!(parse_status_masks(""), None);
        // Realtime signal 64 is the top bit.
        assert_eq!(
            parse_status_masks("SigBlk: ffffffffffffffff\nSigIgn: 0\n"),
            Some((u64::MAX, 0))
        );
        assert_eq!(parse_status_pending("SigPnd:\tzz\nShdPnd: 4\n"), 4);
    }

    #[test]
    fn finds_a_grandchild() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: i32 = line.trim().parse().unwrap();
        let found = descendants_of(nix::unistd::getpid().as_raw());
        assert!(found.contains(&i32::try_from(child.id()).unwrap()));
        assert!(found.contains(&grandchild));
        let _ = crate::sys::kill(grandchild, libc::SIGKILL);
        child.wait().unwrap();
    }

    #[test]
    fn descent_follows_the_ppid_chain() {
        let (mut c, pid, _) = listening_child();
        let me = nix::unistd::getpid().as_raw();
        let proc = Path::new(PROC);
        assert!(is_descendant(proc, pid, me));
        // Our parent is not below us, nor are we below our child.
        let parent = nix::unistd::getppid().as_raw();
        assert!(!is_descendant(proc, parent, me));
        assert!(!is_descendant(proc, me, pid));
        drop(c.stdin.take());
        c.wait().unwrap();
        // Reaped: no longer found.
        assert!(!is_descendant(proc, pid, me));
    }

    #[test]
    fn link_and_stat_parsing() {
        assert_eq!(socket_inode(OsStr::new("socket:[12345]")), Some(12345));
        for bad in [
            "socket:[]",
            "socket:[12",
            "pipe:[5]",
            "/dev/null",
            "socket:[-1]",
        ] {
            assert_eq!(socket_inode(OsStr::new(bad)), None, "{bad}");
        }
        assert_eq!(parse_pids("12 13 7\n").collect::<Vec<_>>(), [12, 13, 7]);
        assert_eq!(parse_pids("").count(), 0);
        let stat = "42 (we) ird) name) S 7 42 42 0 -1 4194560 100 0 0 0";
        assert_eq!(parse_stat_ppid(stat), Some(7));
        assert_eq!(parse_stat_ppid("42 (x"), None);
        assert_eq!(parse_stat_ppid("42 (x) S"), None);
    }

    fn own_socket_inode(l: &TcpListener) -> u64 {
        fs::metadata(format!("/proc/self/fd/{}", l.as_raw_fd()))
            .unwrap()
            .ino()
    }

    #[test]
    fn own_socket_is_found_in_own_tree() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let me = nix::unistd::getpid().as_raw();
        let s = find_owner(Path::new(PROC), me, &[own_socket_inode(&l)]);
        assert_eq!(s.pid, Some(me));
        assert_eq!(find_owner(Path::new(PROC), me, &[]).pid, None);
    }

    /// A python child that listens and prints its pid and socket inode, then waits for stdin EOF.
    fn listening_child() -> (std::process::Child, i32, u64) {
        let mut c = Command::new("python3")
            .args([
                "-c",
                "import os,socket,sys\n\
                 s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\n\
                 print(os.getpid(), os.fstat(s.fileno()).st_ino, flush=True)\n\
                 sys.stdin.read()",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(c.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let mut w = line.split_whitespace();
        let pid = w.next().unwrap().parse().unwrap();
        let inode = w.next().unwrap().parse().unwrap();
        (c, pid, inode)
    }

    #[test]
    fn a_childs_socket_is_found_but_not_a_parents_from_the_child() {
        let (mut c, pid, inode) = listening_child();
        let me = nix::unistd::getpid().as_raw();
        let tree = descendants(Path::new(PROC), me);
        assert_eq!(tree[0], me);
        assert!(tree.contains(&pid), "{tree:?}");
        assert_eq!(find_owner(Path::new(PROC), me, &[inode]).pid, Some(pid));
        // Rooted at the child, the parent's listener is outside the tree.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = find_owner(Path::new(PROC), pid, &[own_socket_inode(&l)]);
        assert_eq!(s.pid, None);
        assert_eq!(s.visited, 1);
        drop(c.stdin.take());
        c.wait().unwrap();
        // Gone: a vanished root is neither found nor an error.
        let gone = find_owner(Path::new(PROC), pid, &[inode]);
        assert_eq!((gone.pid, gone.unreadable), (None, 0));
    }

    #[test]
    fn ppid_fallback_agrees_with_children_files() {
        let (mut c, pid, _) = listening_child();
        let me = nix::unistd::getpid().as_raw();
        let map = children_by_ppid(Path::new(PROC));
        assert!(map.get(&me).is_some_and(|k| k.contains(&pid)));
        drop(c.stdin.take());
        c.wait().unwrap();
    }
}
