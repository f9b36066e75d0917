//! Data sets as gzip IDX files under `data/<name>/`, decoded to `f32` images in `[0, 1]`.
//!
//! Three sets are known: `mnist` and `digits` (committed) and `fashion-mnist` (fetched by
//! `data/scripts/fetch-fashion-mnist.sh`). Each directory holds
//! `{train,t10k}-images-idx3-ubyte.gz` and `{train,t10k}-labels-idx1-ubyte.gz`.
//!
//! ```
//! use metamorph_trainer::data::{Dataset, Split};
//! let test = Dataset::load("digits", Split::Test).unwrap();
//! assert_eq!((test.n, test.shape), (360, [1, 8, 8]));
//! let (x, y) = test.batch(&[0, 1, 2], &candle_core::Device::Cpu).unwrap();
//! assert_eq!((x.dims(), y.dims()), (&[3, 1, 8, 8][..], &[3][..]));
//! ```

use crate::preset::repo_root;
use crate::rng::Rng;
use anyhow::{bail, ensure, Context, Result};
use candle_core::{Device, Tensor};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Which part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The training split (`train-*` files).
    Train,
    /// The test split (`t10k-*` files).
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Images and labels of one split, held in memory.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// `n · C · H · W` pixel values in `[0, 1]`, image after image, row-major.
    pub images: Vec<f32>,
    /// `n` class labels.
    pub labels: Vec<u8>,
    /// Number of examples.
    pub n: usize,
    /// Image shape `[C, H, W]`.
    pub shape: [usize; 3],
}

/// Largest raw pixel value of a known data set (pixels are divided by it), and how to get it.
fn known(name: &str) -> Result<(f32, &'static str)> {
    Ok(match name {
        "mnist" => (255.0, "it is committed under data/mnist/; restore it with git"),
        "fashion-mnist" => (255.0, "run data/scripts/fetch-fashion-mnist.sh"),
        "digits" => {
            (16.0, "it is committed under data/digits/; restore it with git (or run data/scripts/digits_to_idx.py)")
        }
        other => bail!("unknown data set {other:?}: expected mnist, fashion-mnist or digits"),
    })
}

impl Dataset {
    /// Loads split `split` of `mnist`, `fashion-mnist` or `digits` from `data/<name>/`.
    ///
    /// Errors name the file and, for a missing file, how to get it; IDX errors (bad magic,
    /// truncated data, image/label count mismatch) name the file too.
    pub fn load(name: &str, split: Split) -> Result<Self> {
        Self::load_in(&repo_root().join("data"), name, split)
    }

    /// [`Dataset::load`] from `<data_root>/<name>/` instead of the repository's `data/`.
    pub fn load_in(data_root: &Path, name: &str, split: Split) -> Result<Self> {
        let (scale, how) = known(name)?;
        let dir = data_root.join(name);
        Self::load_dir(&dir, split, scale).with_context(|| format!("loading {name} ({how})"))
    }

    /// Loads split `split` from IDX files in `dir`, dividing pixels by `scale`.
    pub fn load_dir(dir: &Path, split: Split, scale: f32) -> Result<Self> {
        let file = |kind: &str| -> PathBuf { dir.join(format!("{}-{kind}-ubyte.gz", split.prefix())) };
        let (images_path, labels_path) = (file("images-idx3"), file("labels-idx1"));
        let (idims, pixels) = read_idx(&images_path)?;
        let (ldims, labels) = read_idx(&labels_path)?;
        ensure!(idims.len() == 3, "{}: expected 3 dimensions (n, H, W), found {:?}", images_path.display(), idims);
        ensure!(ldims.len() == 1, "{}: expected 1 dimension (n), found {:?}", labels_path.display(), ldims);
        ensure!(
            idims[0] == ldims[0],
            "{} holds {} images but {} holds {} labels",
            images_path.display(),
            idims[0],
            labels_path.display(),
            ldims[0]
        );
        let images = pixels.iter().map(|&p| p as f32 / scale).collect();
        Ok(Dataset { images, labels, n: idims[0], shape: [1, idims[1], idims[2]] })
    }

    /// Number of values per image (`C · H · W`).
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The first `n` examples (all of them if `n` is larger).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.n);
        Dataset {
            images: self.images[..n * self.image_len()].to_vec(),
            labels: self.labels[..n].to_vec(),
            n,
            shape: self.shape,
        }
    }

    /// Images `[N, C, H, W]` (f32) and labels `[N]` (u32) of the examples at `indices`.
    pub fn batch(&self, indices: &[usize], device: &Device) -> Result<(Tensor, Tensor)> {
        let len = self.image_len();
        let mut x = Vec::with_capacity(indices.len() * len);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            ensure!(i < self.n, "example {i} out of range (data set has {})", self.n);
            x.extend_from_slice(&self.images[i * len..(i + 1) * len]);
            y.push(self.labels[i] as u32);
        }
        let [c, h, w] = self.shape;
        let x = Tensor::from_vec(x, (indices.len(), c, h, w), device)?;
        let y = Tensor::from_vec(y, indices.len(), device)?;
        Ok((x, y))
    }

    /// Example indices split into mini-batches of at most `batch` (the last may be shorter):
    /// in order when `seed` is `None`, else shuffled reproducibly by `seed`.
    pub fn batches(&self, batch: usize, seed: Option<u64>) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.n).collect();
        if let Some(seed) = seed {
            Rng::new(seed).shuffle(&mut order);
        }
        order.chunks(batch.max(1)).map(|c| c.to_vec()).collect()
    }
}

/// Reads a gzip IDX file of unsigned bytes: returns its dimensions and data.
///
/// Errors if the file is missing, is not gzip, has a magic other than `0x0000 08 <ndim>`, or
/// holds fewer (or more) bytes than its dimensions promise.
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
    let want: usize = dims.iter().product();
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
