//! Process-level helpers for the binaries built on the runtime (`metamorph`, `metamorph-train`).

/// Restores the default SIGPIPE action, so output piped into a reader that exits early (`| head`)
/// ends the process quietly, as Unix tools do, instead of making `println!` panic.
pub fn quiet_broken_pipe() {
    // SAFETY: called first thing in `main`, before other threads exist; SIG_DFL is a valid action.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
