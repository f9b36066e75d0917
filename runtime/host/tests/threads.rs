//! Threaded materialisation gives the same bits as the single-threaded core, whatever the
//! thread count and sample count.

use metamorph::format::{self, OwnedHypernet};
use metamorph::inr::InrConfig;
use metamorph::materialise::Materialiser;
use metamorph::spec::families;
use metamorph_host::threads;

#[test]
fn threaded_materialisation_gives_the_same_bits() {
    // 20 × 20 pair weight: 400 rows, enough for several row blocks per thread.
    let arch = families::mlp("wide", [1, 3, 3], 2, 20, 2).unwrap();
    let inr = InrConfig { bands: 3, hidden: 12, depth: 1, norm: 20.0 };
    let bytes = OwnedHypernet::random(arch, inr, "test", 31).unwrap().to_bytes().unwrap();
    let net = format::read(&bytes).unwrap();
    for samples in [1, 3] {
        let m = Materialiser::new(&net, 20, samples, 9).unwrap();
        let one = m.to_vec().unwrap();
        for n in 1..=4 {
            assert_eq!(threads::materialise(&m, n).unwrap(), one, "K = {samples}, {n} threads");
        }
    }
}
