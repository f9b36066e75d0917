//! Process-level set-up for the binaries built on the runtime (`metamorph`, `metamorph-train`).

/// Restores the default SIGPIPE action, so output piped into a reader that exits early (`| head`)
/// ends the process quietly, as Unix tools do, instead of making `println!` panic. Call it first
/// thing in `main`, before other threads exist. Does nothing off Unix.
pub fn quiet_broken_pipe() {
    sigpipe::reset();
}
