//! read → plan → materialise → execute on mutated valid files. The fuzzer's input is a whole file
//! whose CRC is recomputed first, so mutations of a shipped hypernet's body (seeds:
//! `models/*.mmh`) get past the checksum into postcard decoding, validation, the planner, the
//! materialiser and the native executor. Every step must return an error or a result, never
//! panic. The narrowest member is built, so each run stays fast.
#![no_main]

use metamorph::format::{self, HEADER_LEN, TRAILER_LEN};
use metamorph::materialise::Materialiser;
use metamorph::plan::{plan, Budget};

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER_LEN + TRAILER_LEN {
        return;
    }
    let mut file = data.to_vec();
    let end = file.len() - TRAILER_LEN;
    let crc = CRC.checksum(&file[..end]);
    file[end..].copy_from_slice(&crc.to_le_bytes());
    let Ok(net) = format::read(&file) else { return };
    let arch = &net.arch;
    // The smallest member's weights as the budget: the planner must pick exactly it.
    let Ok(small) = arch.costs(arch.h_min as usize) else { return };
    let budget = Budget { max_weight_bytes: Some(small.weight_bytes), ..Budget::default() };
    let Ok(p) = plan(arch, 0, &budget) else { return };
    let h = p.costs.h;
    let Ok(m) = Materialiser::new(&net, h, 1, 0) else { return };
    // Bound the work per input (a mutated spec can ask for a huge member).
    if m.total_len() > 1 << 18 || m.scratch_len() > 1 << 20 || p.costs.macs > 1 << 22 {
        return;
    }
    let Ok(params) = m.to_vec() else { return };
    let input = vec![0.5f32; arch.input_shape().len()];
    let Ok(need) = metamorph::exec::scratch_len(arch, h, 1) else { return };
    if need > 1 << 22 {
        return;
    }
    let mut scratch = vec![0f32; need];
    let _ = metamorph::exec::run(arch, h, &params, &input, 1, &mut scratch);
});
