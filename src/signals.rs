//! Signal mask setup, the signalfd, the forwarding policy and the `--thug` rule.
//! (stub: filled in by the core commit)

/// The mask dock had before blocking, handed back to the child.
pub type OrigMask = libc::sigset_t;

/// Blocks every signal but the fault signals; returns the previous mask.
///
/// # Errors
/// `sigprocmask` failing.
pub fn block_all() -> std::io::Result<OrigMask> {
    crate::sys::spawn::current_mask()
}
