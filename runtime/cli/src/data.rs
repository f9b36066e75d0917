//! A small reader for gzip-compressed IDX test sets (`t10k-images-idx3-ubyte.gz` and
//! `t10k-labels-idx1-ubyte.gz`), the layout of MNIST and of the committed UCI digits.

use anyhow::{bail, ensure, Context, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// Images file name inside a data directory.
pub const IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// Labels file name inside a data directory.
pub const LABELS: &str = "t10k-labels-idx1-ubyte.gz";

/// A labelled test set, pixels scaled to `[0, 1]`.
#[derive(Debug, Clone)]
pub struct TestSet {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// `len × rows × cols` pixels in `[0, 1]`.
    pub pixels: Vec<f32>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl TestSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels of images `start..start + n`.
    pub fn batch(&self, start: usize, n: usize) -> &[f32] {
        let s = self.rows * self.cols;
        &self.pixels[start * s..(start + n) * s]
    }

    /// Reads `dir/IMAGES` and `dir/LABELS`, keeping at most `limit` images. Pixels are divided
    /// by 255, except 8×8 images (UCI digits, values 0..16), which are divided by 16.
    pub fn load(dir: &Path, limit: Option<usize>) -> Result<Self> {
        let images = read_gz(&dir.join(IMAGES))?;
        let labels = read_gz(&dir.join(LABELS))?;
        let ctx = |f: &str| format!("{}", dir.join(f).display());
        let (dims, pixels) = parse(&images, 3).with_context(|| ctx(IMAGES))?;
        let (ldims, labels) = parse(&labels, 1).with_context(|| ctx(LABELS))?;
        let (n, rows, cols) = (dims[0], dims[1], dims[2]);
        ensure!(ldims[0] == n, "{} holds {} labels for {n} images", ctx(LABELS), ldims[0]);
        let keep = limit.map_or(n, |l| l.min(n));
        let scale = if rows == 8 && cols == 8 { 16.0 } else { 255.0 };
        let pixels: Vec<f32> = pixels[..keep * rows * cols].iter().map(|&p| (p as f32 / scale).min(1.0)).collect();
        let labels = labels[..keep].to_vec();
        if let Some(bad) = labels.iter().find(|&&l| l > 9) {
            bail!("{}: label {bad} out of range 0..=9", ctx(LABELS));
        }
        Ok(TestSet { rows, cols, pixels, labels })
    }
}

fn read_gz(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = Vec::new();
    GzDecoder::new(file).read_to_end(&mut out).with_context(|| format!("decompressing {}", path.display()))?;
    Ok(out)
}

/// Parses an IDX file of unsigned bytes with `rank` dimensions: returns the dims and the data.
fn parse(bytes: &[u8], rank: usize) -> Result<(Vec<usize>, &[u8])> {
    ensure!(bytes.len() >= 4 + 4 * rank, "IDX file too short ({} bytes)", bytes.len());
    ensure!(bytes[0] == 0 && bytes[1] == 0, "not an IDX file (bad magic)");
    ensure!(bytes[2] == 0x08, "IDX element type {:#04x} is not unsigned byte", bytes[2]);
    ensure!(bytes[3] as usize == rank, "IDX file has {} dimensions, expected {rank}", bytes[3]);
    let dims: Vec<usize> =
        (0..rank).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    let len = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).context("IDX dimensions overflow")?;
    let data = &bytes[4 + 4 * rank..];
    ensure!(data.len() == len, "IDX data holds {} bytes, dimensions {dims:?} need {len}", data.len());
    Ok((dims, data))
}

/// Checks that `set` matches a model input of `[C, H, W]`, naming both shapes on mismatch.
pub fn check_shape(set: &TestSet, input: [u16; 3], dir: &Path, family: &str) -> Result<()> {
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
        .filter(|(row, &l)| {
            let best = row.iter().enumerate().fold(0, |b, (i, v)| if *v > row[b] { i } else { b });
            best == l as usize
        })
        .count();
    correct as f32 / labels.len().max(1) as f32
}
