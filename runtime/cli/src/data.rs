//! Test-set helpers of the device commands: the test split's file names, loading it, checking it
//! against a model's input, and accuracy. Reading IDX files is `metamorph_host::idx`.

use anyhow::{bail, Result};
use metamorph_host::idx::ImageSet;
use std::path::Path;

/// Images file name inside a data directory.
pub const IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// Labels file name inside a data directory.
pub const LABELS: &str = "t10k-labels-idx1-ubyte.gz";

/// Reads `dir/IMAGES` and `dir/LABELS`, keeping at most `limit` images.
pub fn load_test_set(dir: &Path, limit: Option<usize>) -> Result<ImageSet> {
    ImageSet::load(&dir.join(IMAGES), &dir.join(LABELS), limit)
}

/// Checks that `set` matches a model input of `[C, H, W]`, naming both shapes on mismatch.
pub fn check_shape(set: &ImageSet, input: [u16; 3], dir: &Path, family: &str) -> Result<()> {
    let [c, h, w] = input.map(|v| v as usize);
    if c != 1 || h != set.rows || w != set.cols {
        bail!(
            "data in {} has {}×{} images, but {family} expects input [{c}, {h}, {w}]",
            dir.display(),
            set.rows,
            set.cols
        );
    }
    Ok(())
}

/// Fraction of rows of `logits` (`n × classes`) whose arg-max equals the label.
pub fn accuracy(logits: &[f32], labels: &[u8]) -> f32 {
    let classes = logits.len() / labels.len().max(1);
    let correct = logits
        .chunks_exact(classes.max(1))
        .zip(labels)
        .filter(|(row, &l)| metamorph::exec::argmax(row) == l as usize)
        .count();
    correct as f32 / labels.len().max(1) as f32
}
