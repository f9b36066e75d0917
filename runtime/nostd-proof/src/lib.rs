//! The whole device pipeline with neither `std` nor `alloc`: decode the embedded hypernet, plan the
//! largest width that fits a RAM budget, materialise its weights into a caller arena and run the
//! fixed input through the native executor.
//!
//! The fixture (`fixture/hypernet.mmhn`, `fixture/expected.rs`) is generated, and kept from going
//! stale, by `runtime/tests/nostd_fixture.rs`.
#![no_std]
#![deny(missing_docs)]

use metamorph::materialise::{self, Materialiser};
use metamorph::plan::{plan, Budget};
use metamorph::{exec, format, Error};

/// The generated expectations: budget, sampling, input and the std build's result.
pub mod expected {
    include!("../fixture/expected.rs");
}

/// The hypernet file, as it would sit in flash.
pub static HYPERNET: &[u8] = include_bytes!("../fixture/hypernet.mmhn");

/// How the proof ended; `code()` is the process exit status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Everything matched the std build.
    Pass {
        /// Base width the planner chose.
        h: usize,
        /// Predicted class.
        class: usize,
    },
    /// A runtime call returned an error.
    Failed(Error),
    /// The planner chose another width than the std build.
    WrongWidth(usize),
    /// A logit is NaN or infinite.
    NonFinite,
    /// The logits differ from the std build's by more than the tolerance.
    WrongLogits,
    /// The predicted class differs.
    WrongClass(usize),
}

impl Outcome {
    /// Exit status: 0 only for [`Outcome::Pass`].
    pub fn code(&self) -> i32 {
        match self {
            Outcome::Pass { .. } => 0,
            Outcome::Failed(_) => 1,
            Outcome::WrongWidth(_) => 2,
            Outcome::NonFinite => 3,
            Outcome::WrongLogits => 4,
            Outcome::WrongClass(_) => 5,
        }
    }
}

/// Runs read → plan → materialise → execute in `arena` and checks the logits.
pub fn prove(arena: &mut [f32]) -> Outcome {
    match pipeline(arena) {
        Ok(o) => o,
        Err(e) => Outcome::Failed(e),
    }
}

fn pipeline(arena: &mut [f32]) -> Result<Outcome, Error> {
    let net = format::read(HYPERNET)?;
    let overhead = materialise::scratch_len(&net) * 4;
    let budget = Budget { max_ram_bytes: Some(expected::BUDGET_RAM_BYTES), ..Budget::default() };
    let h = plan(&net.arch, overhead, &budget)?.costs.h;
    if h != expected::H {
        return Ok(Outcome::WrongWidth(h));
    }
    let m = Materialiser::new(&net, h, expected::SAMPLES, expected::SEED)?;
    let provided = arena.len();
    let too_small = |needed| Error::BufferTooSmall { needed, provided };
    let (weights, rest) = arena.split_at_mut_checked(m.total_len()).ok_or(too_small(m.total_len()))?;
    let (scratch, rest) = rest.split_at_mut_checked(m.scratch_len()).ok_or(too_small(m.scratch_len()))?;
    let weights = m.all(weights, scratch)?;
    let logits = exec::run(&net.arch, h, weights, &expected::INPUT, 1, rest)?;
    if logits.iter().any(|v| !v.is_finite()) {
        return Ok(Outcome::NonFinite);
    }
    if logits.len() != expected::LOGITS.len()
        || logits.iter().zip(&expected::LOGITS).any(|(a, b)| (a - b).abs() > 1e-4 * (1.0 + b.abs()))
    {
        return Ok(Outcome::WrongLogits);
    }
    let mut class = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[class] {
            class = i;
        }
    }
    if class != expected::CLASS {
        return Ok(Outcome::WrongClass(class));
    }
    Ok(Outcome::Pass { h, class })
}

/// C entry point for size measurement and foreign callers: runs [`prove`] on `len` `f32`s at
/// `arena` and returns [`Outcome::code`].
///
/// # Safety
/// `arena` must be valid for reads and writes of `len` `f32`s and not aliased during the call.
#[no_mangle]
pub unsafe extern "C" fn metamorph_nostd_proof(arena: *mut f32, len: usize) -> i32 {
    // SAFETY: guaranteed by the caller.
    prove(unsafe { core::slice::from_raw_parts_mut(arena, len) }).code()
}

/// For the library built alone (the thumb staticlib whose size we report): halt on panic. The
/// host binary brings its own handler, which exits with status 101.
#[cfg(feature = "panic-halt")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
