//! The fuzz targets' committed seeds (`fuzz/seeds/`, written by `examples/fuzz_seeds.rs`) are
//! valid hypernets, so the targets start from files that reach every stage past the reader. A
//! format change that breaks them fails here, not silently in a fuzz run.

use std::path::Path;

#[test]
fn every_seed_reads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let mut seeds = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let net = metamorph::format::read(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(bytes.len() <= 8 << 10, "{} is {} bytes; seeds stay small", path.display(), bytes.len());
        assert!(net.arch.h_max <= 8, "{}: seeds use tiny widths", path.display());
        seeds += 1;
    }
    assert!(seeds >= 8, "expected the 8 generated seeds in {}, found {seeds}", dir.display());
}
