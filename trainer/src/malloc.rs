//! Keep freed memory in the process instead of handing it back to the OS.
//!
//! candle's CPU backend allocates every intermediate tensor afresh. With glibc's defaults a
//! training step's large buffers are unmapped or trimmed when freed and mapped again by the next
//! step, so a quarter of a mnist-lenet step went to page faults and zeroing fresh pages. Raising
//! the mmap and trim thresholds lets the heap reuse them. It changes no arithmetic.

/// Tunes glibc's allocator for training; a no-op where glibc is not the allocator.
pub fn retain_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any training
    // allocates, and a rejected value leaves the default in place.
    unsafe {
        // 32 MiB is glibc's ceiling for the mmap threshold (larger requests are always mapped).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}
