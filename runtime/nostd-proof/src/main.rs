//! Freestanding x86_64 Linux binary: no std, no libc, no C start files. `_start` aligns the stack
//! and calls [`entry`], which runs the proof in a static arena, prints one line through the raw
//! `write` syscall and exits through the raw `exit_group` syscall with the proof's status.
#![no_std]
#![no_main]
// Keep LLVM from turning the loops of `memcpy` & co. below into calls to themselves.
#![no_builtins]

use core::arch::{asm, global_asm};
use core::fmt::Write;
use metamorph_nostd_proof::{expected, prove, Outcome};

/// Twice what the fixture needs, so the check is about `std`, not a tight fit.
const ARENA_LEN: usize = 2 * expected::ARENA_NEEDED;
static mut ARENA: [f32; ARENA_LEN] = [0.0; ARENA_LEN];

global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

extern "C" fn entry() -> ! {
    // SAFETY: single-threaded; this is the only reference to ARENA ever made.
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let outcome = prove(arena);
    let mut line = Line { buf: [0; 160], len: 0 };
    let _ = match outcome {
        Outcome::Pass { h, class } => writeln!(line, "nostd-proof: ok (h = {h}, class = {class})"),
        other => writeln!(line, "nostd-proof: FAILED: {other:?}"),
    };
    write_stdout(&line.buf[..line.len]);
    exit(outcome.code())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    write_stdout(b"nostd-proof: panicked\n");
    exit(101)
}

/// A fixed buffer that `core::fmt` can write into (truncating).
struct Line {
    buf: [u8; 160],
    len: usize,
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

fn write_stdout(bytes: &[u8]) {
    // SAFETY: write(1, ptr, len) only reads `bytes`.
    unsafe {
        asm!("syscall", inlateout("rax") 1isize => _, in("rdi") 1usize, in("rsi") bytes.as_ptr(),
             in("rdx") bytes.len(), lateout("rcx") _, lateout("r11") _, options(nostack));
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: exit_group never returns.
    unsafe { asm!("syscall", in("rax") 231usize, in("rdi") code as isize, options(noreturn, nostack)) }
}

// The memory functions core and the compiler expect from libc.

/// # Safety
/// As C `memcpy`.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        *dst.add(i) = *src.add(i);
        i += 1;
    }
    dst
}

/// # Safety
/// As C `memmove`.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) < (src as usize) {
        let mut i = 0;
        while i < n {
            *dst.add(i) = *src.add(i);
            i += 1;
        }
    } else {
        let mut i = n;
        while i > 0 {
            i -= 1;
            *dst.add(i) = *src.add(i);
        }
    }
    dst
}

/// # Safety
/// As C `memset`.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let mut i = 0;
    while i < n {
        *dst.add(i) = c as u8;
        i += 1;
    }
    dst
}

/// # Safety
/// As C `memcmp`.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        let (x, y) = (*a.add(i), *b.add(i));
        if x != y {
            return x as i32 - y as i32;
        }
        i += 1;
    }
    0
}

/// # Safety
/// As C `bcmp` (LLVM emits it for equality-only `memcmp`).
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}
