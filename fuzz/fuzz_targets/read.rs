//! The hypernet reader on arbitrary bytes: it returns an error or a hypernet, never panics.
//! Seeds: `models/*.mmh` (see docs/RELIABILITY.md for the command).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = metamorph::format::read(data);
});
