//! Metamorph on a Cortex-M4F (QEMU `mps2-an386`): the shipped mnist-lenet hypernet and 32 MNIST
//! test images sit in flash; one 256 KiB static arena holds weights, activations and INR scratch.
//! For each budget of a power-budget trace the firmware plans the widest member that fits,
//! materialises it into the arena, classifies the images and prints one `step` line over
//! semihosting. `scripts/firmware.sh` runs it and checks the lines against the host.
#![no_std]
#![no_main]

mod arena;
mod clock;

use arena::Bump;
use clock::Clock;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use metamorph::materialise::{self, Materialiser};
use metamorph::plan::{plan, Budget};
use metamorph::{exec, format, Error};
use panic_semihosting as _;

/// The hypernet, as it sits in flash.
static HYPERNET: &[u8] = include_bytes!("../../../models/mnist-lenet.mmh");
/// The first 32 MNIST test images, 28 × 28 bytes each (`fixture/`, checked by `scripts/firmware.sh`).
static IMAGES: &[u8] = include_bytes!("../fixture/images.u8");
/// Their labels.
static LABELS: &[u8] = include_bytes!("../fixture/labels.u8");
const PIXELS: usize = 28 * 28;
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
    let overhead = materialise::scratch_len(&net) * 4;
    for (step, &budget) in TRACE.iter().enumerate() {
        let plan = plan(&net.arch, overhead, &Budget { max_ram_bytes: Some(budget), ..Budget::default() })?;
        let h = plan.costs.h;
        let m = Materialiser::new(&net, h, SAMPLES, SEED)?;
        let mut bump = Bump::painted(arena);
        let weights = bump.take(m.total_len())?;
        let scratch = bump.take(m.scratch_len())?;
        let activations = bump.take(exec::scratch_len(&net.arch, h, 1)?)?;
        let reserved = bump.reserved_bytes();
        // The INR's definition cost for this member (what the Cortex-M7 estimate is made from).
        let inr_macs: usize = m.gemms().map(|(rows, inputs, outputs)| rows * inputs * outputs).sum();

        let t0 = clock.now();
        let weights = m.all(weights, scratch)?;
        let materialise_cycles = clock.now() - t0;

        // The materialiser's scratch is free now: it holds the input image.
        let input = scratch.get_mut(..PIXELS).ok_or(Error::BufferTooSmall { needed: PIXELS, provided: 0 })?;
        let mut predictions = [b'?'; IMAGE_COUNT];
        let (mut infer_cycles, mut correct) = (0, 0);
        for (i, (image, &label)) in IMAGES.chunks_exact(PIXELS).zip(LABELS).enumerate() {
            // As the host's loader: bytes / 255.
            input.iter_mut().zip(image).for_each(|(x, &p)| *x = f32::from(p) / 255.0);
            let t0 = clock.now();
            let logits = exec::run(&net.arch, h, weights, input, 1, activations)?;
            infer_cycles += clock.now() - t0;
            let class = argmax(logits);
            correct += usize::from(class == usize::from(label));
            predictions[i] = b'0' + class as u8;
        }
        hprintln!(
            "step {} budget {} h {} planned {} reserved {} touched {} macs {} inr_macs {} materialise_cycles {} infer_cycles {} correct {}/{} pred {}",
            step,
            budget,
            h,
            plan.ram_bytes,
            reserved,
            arena::touched_bytes(arena),
            plan.costs.macs,
            inr_macs,
            materialise_cycles,
            infer_cycles / IMAGE_COUNT as u64,
            correct,
            IMAGE_COUNT,
            core::str::from_utf8(&predictions).unwrap_or("?")
        );
    }
    hprintln!("firmware: done");
    Ok(())
}

/// Index of the first largest logit (the host's rule).
fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best
}
