//! Process-level set-up for the binaries built on the runtime (`metamorph`, `metamorph-train`).

/// Restores the default SIGPIPE action, so output piped into a reader that exits early (`| head`)
/// ends the process quietly, as Unix tools do, instead of making `println!` panic. Call it first
/// thing in `main`, before other threads exist. Does nothing off Unix.
pub fn quiet_broken_pipe() {
    sigpipe::reset();
}

/// The exit of a command-line `main`: success, or the error's whole context chain on one stderr
/// line (`error: reading hypernet x.mmh: …`) and exit code 1. Returning `Result` from `main`
/// instead prints anyhow's multi-line `Debug` form, with a stack backtrace whenever
/// `RUST_BACKTRACE` is set, which a user reads as a crash.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
