//! Metamorph on a Cortex-M4F (QEMU `mps2-an386`): the shipped mnist-lenet hypernet and 32 MNIST
//! test images sit in flash; one 256 KiB static arena holds weights, activations and INR scratch.
//! For each budget of a power-budget trace the firmware plans the widest member that fits, held
//! whole or, where that is wider, streamed layer by layer; materialises it into the arena,
//! classifies the images and prints one `step` line over semihosting. `scripts/firmware.sh` runs
//! it and checks the lines against the host.
#![no_std]
#![no_main]

mod arena;
mod clock;
mod step;

use arena::Bump;
use clock::Clock;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use metamorph::materialise::{self, Materialiser};
use metamorph::plan::{plan, plan_streamed, Budget};
use metamorph::{format, Error};
use panic_semihosting as _;
use step::{Mode, PIXELS};

/// The hypernet, as it sits in flash.
static HYPERNET: &[u8] = include_bytes!("../../../models/mnist-lenet.mmh");
/// The first 32 MNIST test images, 28 × 28 bytes each (`fixture/`, checked by `scripts/firmware.sh`).
static IMAGES: &[u8] = include_bytes!("../fixture/images.u8");
/// Their labels.
static LABELS: &[u8] = include_bytes!("../fixture/labels.u8");
const IMAGE_COUNT: usize = 32;

const ARENA_BYTES: usize = 256 * 1024;
static mut ARENA: [f32; ARENA_BYTES / 4] = [0.0; ARENA_BYTES / 4];

/// RAM budgets in bytes: the device's power budget shrinks, then recovers.
const TRACE: [usize; 6] = [ARENA_BYTES, 224 * 1024, 192 * 1024, 160 * 1024, 208 * 1024, ARENA_BYTES];
/// One INR sample per weight, noise seed 0: the host tools' defaults.
const SAMPLES: u32 = 1;
const SEED: u64 = 0;

#[entry]
fn main() -> ! {
    let peripherals = cortex_m::Peripherals::take().unwrap();
    let clock = Clock::start(peripherals.SYST);
    // SAFETY: the only reference to ARENA ever made; `main` never returns and nothing else runs.
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let status = match run(arena, &clock) {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(e) => {
            hprintln!("firmware: error: {}", e);
            debug::EXIT_FAILURE
        }
    };
    debug::exit(status);
    loop {
        cortex_m::asm::wfi();
    }
}

fn run(arena: &mut [f32], clock: &Clock) -> Result<(), Error> {
    if IMAGES.len() != IMAGE_COUNT * PIXELS || LABELS.len() != IMAGE_COUNT {
        return Err(Error::BadArgument("image fixture has the wrong size"));
    }
    let net = format::read(HYPERNET)?;
    hprintln!(
        "firmware: {} hypernet {} B, {} images {} B, arena {} B, samples {}, seed {}",
        net.arch.name.as_str(),
        HYPERNET.len(),
        IMAGE_COUNT,
        IMAGES.len(),
        ARENA_BYTES,
        SAMPLES,
        SEED
    );
    let scratch_bytes = materialise::scratch_len(&net) * 4;
    for (index, &budget) in TRACE.iter().enumerate() {
        let budget_ram = Budget { max_ram_bytes: Some(budget), ..Budget::default() };
        let whole = plan(&net.arch, scratch_bytes, &budget_ram);
        // Streaming keeps the materialiser's scratch busy, so the input image needs its own buffer.
        let streamed = plan_streamed(&net.arch, scratch_bytes + PIXELS * 4, &budget_ram);
        let (mode, plan) = match (whole, streamed) {
            (Ok(w), Ok(s)) if s.costs.h > w.costs.h => (Mode::Streamed, s),
            (Ok(w), _) => (Mode::Whole, w),
            (Err(_), Ok(s)) => (Mode::Streamed, s),
            (Err(e), Err(_)) => return Err(e),
        };
        let h = plan.costs.h;
        let m = Materialiser::new(&net, h, SAMPLES, SEED)?;
        // The INR's definition cost for this member (what the Cortex-M7 estimate is made from).
        let inr_macs: usize = m.gemms().map(|(rows, inputs, outputs)| rows * inputs * outputs).sum();
        let mut bump = Bump::painted(arena);
        let out = step::run::<IMAGE_COUNT>(&net, &m, mode, IMAGES, &mut bump, clock)?;
        let correct = out.predictions.iter().zip(LABELS).filter(|(p, &l)| **p == b'0' + l).count();
        hprintln!(
            "step {} budget {} h {} mode {} planned {} reserved {} touched {} macs {} inr_macs {} materialise_cycles {} infer_cycles {} correct {}/{} pred {}",
            index,
            budget,
            h,
            match mode {
                Mode::Whole => "whole",
                Mode::Streamed => "streamed",
            },
            plan.ram_bytes,
            out.reserved,
            arena::touched_bytes(arena),
            plan.costs.macs,
            inr_macs,
            out.materialise_cycles,
            out.infer_cycles,
            correct,
            IMAGE_COUNT,
            core::str::from_utf8(&out.predictions).unwrap_or("?")
        );
    }
    hprintln!("firmware: done");
    Ok(())
}
