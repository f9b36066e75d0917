//! Labelled image sets in gzip-compressed IDX files (MNIST's layout, which the committed UCI
//! digits and Fashion-MNIST share), with one rule for turning pixels into `[0, 1]`.
//!
//! ```
//! use metamorph_host::idx::pixel_scale;
//! assert_eq!(pixel_scale(28, 28), 255.0); // MNIST, Fashion-MNIST
//! assert_eq!(pixel_scale(8, 8), 16.0);    // UCI digits: values 0..=16
//! ```

use anyhow::{bail, ensure, Context, Result};
use std::io::Read;
use std::path::Path;

/// Labelled images, pixels in `[0, 1]`.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Image rows.
    pub rows: usize,
    /// Image columns.
    pub cols: usize,
    /// `len × rows × cols` pixels in `[0, 1]`, image after image, row-major.
    pub pixels: Vec<f32>,
    /// One label in `0..=9` per image.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Reads an images file (3 dimensions: n, rows, cols) and a labels file (1 dimension: n),
    /// keeping the first `limit` images (all when `None`), pixels scaled by [`pixel_scale`].
    ///
    /// Errors name the file: missing, not gzip, not IDX, truncated, a count mismatch between
    /// the two files, or a label outside `0..=9`.
    pub fn load(images: &Path, labels: &Path, limit: Option<usize>) -> Result<Self> {
        let (idims, pixels) = read_idx(images)?;
        let (ldims, labels_raw) = read_idx(labels)?;
        ensure!(idims.len() == 3, "{}: expected 3 dimensions (n, H, W), found {idims:?}", images.display());
        ensure!(ldims.len() == 1, "{}: expected 1 dimension (n), found {ldims:?}", labels.display());
        let (n, rows, cols) = (idims[0], idims[1], idims[2]);
        ensure!(
            n == ldims[0],
            "{} holds {n} images but {} holds {} labels",
            images.display(),
            labels.display(),
            ldims[0]
        );
        if let Some(bad) = labels_raw.iter().find(|&&l| l > 9) {
            bail!("{}: label {bad} out of range 0..=9", labels.display());
        }
        let keep = limit.map_or(n, |l| l.min(n));
        let scale = pixel_scale(rows, cols);
        let pixels = pixels[..keep * rows * cols].iter().map(|&p| (p as f32 / scale).min(1.0)).collect();
        Ok(ImageSet { rows, cols, pixels, labels: labels_raw[..keep].to_vec() })
    }

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
}

/// What a raw pixel is divided by: 8×8 images are the UCI digits, whose values run `0..=16`;
/// every other set stores bytes `0..=255`. Values above the scale are clamped to 1.
pub fn pixel_scale(rows: usize, cols: usize) -> f32 {
    if (rows, cols) == (8, 8) {
        16.0
    } else {
        255.0
    }
}

/// Reads a gzip IDX file of unsigned bytes: returns its dimensions and data.
///
/// Errors if the file is missing, is not gzip, has a magic other than `0x0000 08 <ndim>`
/// (`ndim` 1 to 4), or holds fewer (or more) bytes than its dimensions promise.
pub fn read_idx(path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::io::BufReader::new(file))
        .read_to_end(&mut raw)
        .with_context(|| format!("decompressing {} (not a valid gzip file?)", path.display()))?;
    ensure!(raw.len() >= 4, "{}: truncated IDX header ({} bytes)", path.display(), raw.len());
    let (zero, kind, ndim) = (u16::from_be_bytes([raw[0], raw[1]]), raw[2], raw[3] as usize);
    ensure!(
        zero == 0 && kind == 0x08 && (1..=4).contains(&ndim),
        "{}: bad IDX magic {:02x?} (expected 00 00 08 <1..4>: unsigned bytes)",
        path.display(),
        &raw[..4]
    );
    let header = 4 + 4 * ndim;
    ensure!(raw.len() >= header, "{}: truncated IDX header", path.display());
    let dims: Vec<usize> =
        raw[4..header].chunks(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
    let want = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .with_context(|| format!("{}: IDX dimensions {dims:?} overflow", path.display()))?;
    let have = raw.len() - header;
    ensure!(
        have == want,
        "{}: {} IDX data for dimensions {:?}: expected {want} bytes, found {have}",
        path.display(),
        if have < want { "truncated" } else { "trailing bytes after" },
        dims
    );
    raw.drain(..header);
    Ok((dims, raw))
}
