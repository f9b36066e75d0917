//! Every shipped hypernet in `models/`, corrupted: every bit of its header, and every bit of a
//! sample of bytes from each section of its body (the spec at the start, every generator tensor,
//! every frozen tensor, the metadata and accuracy table at the end) and of its CRC, flipped one at
//! a time. Each flip must be detected: 100 %, not a rate.

use metamorph::format::{self, Generator, HEADER_LEN, TRAILER_LEN};
use std::ops::Range;
use std::path::Path;

/// Bytes sampled per section: its first and last bytes and evenly spaced ones between.
const PER_SECTION: usize = 24;

/// Where `part` (borrowed from `file`) lies in `file`.
fn range_in(file: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - file.as_ptr() as usize;
    start..start + part.len()
}

fn sample(r: Range<usize>) -> impl Iterator<Item = usize> {
    let n = r.len();
    let step = (n / PER_SECTION).max(1);
    r.clone().step_by(step).chain(r.end.checked_sub(1).filter(|&e| e >= r.start))
}

#[test]
fn every_flip_of_every_shipped_file_is_detected() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let (mut files, mut total) = (0, 0);
    for entry in std::fs::read_dir(&models).unwrap() {
        let path = entry.unwrap().path();
        if path.extension() != Some("mmh".as_ref()) {
            continue;
        }
        let file = std::fs::read(&path).unwrap();
        let net = format::read(&file).unwrap();
        let mut sections: Vec<(String, Range<usize>)> = vec![("header".into(), 0..HEADER_LEN)];
        let blobs: Vec<&[u8]> = match &net.generator {
            Generator::Inr { tensors, .. } => tensors.iter().flat_map(|t| [t.params.scales, t.params.data]).collect(),
            Generator::Slimmable { tensors } => tensors.iter().flat_map(|b| [b.scales, b.data]).collect(),
        };
        let mut tensors: Vec<Range<usize>> =
            blobs.iter().chain(net.frozen.iter()).filter(|b| !b.is_empty()).map(|b| range_in(&file, b)).collect();
        tensors.sort_by_key(|r| r.start);
        let (first, last) = (tensors[0].start, tensors[tensors.len() - 1].end);
        sections.push(("spec and generator header".into(), HEADER_LEN..first));
        sections.extend(tensors.iter().enumerate().map(|(i, r)| (format!("tensor {i}"), r.clone())));
        sections.push(("metadata and accuracy table".into(), last..file.len() - TRAILER_LEN));
        sections.push(("crc".into(), file.len() - TRAILER_LEN..file.len()));
        let mut flips = 0;
        for (name, range) in &sections {
            let bytes: Vec<usize> =
                if name == "header" { range.clone().collect() } else { sample(range.clone()).collect() };
            for byte in bytes {
                for bit in 0..8 {
                    let mut bad = file.clone();
                    bad[byte] ^= 1 << bit;
                    assert!(
                        format::read(&bad).is_err(),
                        "{}: flipping bit {bit} of byte {byte} ({name}) was not detected",
                        path.display()
                    );
                    flips += 1;
                }
            }
        }
        assert!(flips > 8 * HEADER_LEN + 8 * 4 * PER_SECTION, "{}: only {flips} flips", path.display());
        // The figures docs/RELIABILITY.md quotes (`-- --nocapture` shows them).
        eprintln!("{}: {flips} of {flips} flips detected in {} sections", path.display(), sections.len());
        files += 1;
        total += flips;
    }
    assert!(files >= 4, "models/ holds the shipped hypernets");
    eprintln!("{files} shipped files: {total} of {total} flips detected");
}
