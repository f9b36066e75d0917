//! A 64-bit cycle count from SysTick on the core clock: real cycles on a board; under QEMU, virtual
//! time × the modelled 25 MHz clock. QEMU does not implement the DWT cycle counter (CYCCNT reads
//! 0), but it does model SysTick. The 24-bit counter's wraps are counted in the
//! SysTick exception.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::{syst::SystClkSource, SCB, SYST};
use cortex_m_rt::exception;

const RELOAD: u32 = 0x00FF_FFFF;
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Core-clock cycles since [`Clock::start`].
pub struct Clock {
    _syst: SYST,
}

impl Clock {
    /// Runs SysTick from the core clock over its full 24-bit range, interrupting on each wrap.
    pub fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Clock { _syst: syst }
    }

    /// Cycles since start.
    pub fn now(&self) -> u64 {
        loop {
            let wraps = WRAPS.load(Ordering::Relaxed);
            let down = SYST::get_current();
            // A wrap between the reads, or one whose exception is still pending, would pair a new
            // count with an old wrap total.
            if WRAPS.load(Ordering::Relaxed) == wraps && !SCB::is_pendst_pending() {
                return u64::from(wraps) * u64::from(RELOAD + 1) + u64::from(RELOAD - down);
            }
        }
    }
}
