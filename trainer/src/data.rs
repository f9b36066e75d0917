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

use anyhow::{bail, ensure, Context, Result};
use candle_core::{Device, Tensor};
use metamorph::rng::Rng;
use metamorph_host::fs::repo_root;
use metamorph_host::idx::ImageSet;
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

/// How to get a known data set.
fn known(name: &str) -> Result<&'static str> {
    Ok(match name {
        "mnist" => "it is committed under data/mnist/; restore it with git",
        "fashion-mnist" => "run data/scripts/fetch-fashion-mnist.sh",
        "digits" => "it is committed under data/digits/; restore it with git (or run data/scripts/digits_to_idx.py)",
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
        let how = known(name)?;
        let dir = data_root.join(name);
        Self::load_dir(&dir, split).with_context(|| format!("loading {name} ({how})"))
    }

    /// Loads split `split` from IDX files in `dir`, pixels scaled by the one rule of
    /// [`metamorph_host::idx::pixel_scale`].
    pub fn load_dir(dir: &Path, split: Split) -> Result<Self> {
        let file = |kind: &str| -> PathBuf { dir.join(format!("{}-{kind}-ubyte.gz", split.prefix())) };
        let set = ImageSet::load(&file("images-idx3"), &file("labels-idx1"), None)?;
        let (n, shape) = (set.len(), [1, set.rows, set.cols]);
        Ok(Dataset { images: set.pixels, labels: set.labels, n, shape })
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

    /// Splits off a validation set: `fraction` of the examples (at least one, leaving at least
    /// one), chosen by a shuffle seeded by `seed`; returns `(rest, validation)`, each in the
    /// original order.
    pub fn split(&self, fraction: f32, seed: u64) -> Result<(Dataset, Dataset)> {
        ensure!((0.0..1.0).contains(&fraction) && fraction > 0.0, "validation fraction {fraction} is not in (0, 1)");
        ensure!(self.n >= 2, "cannot split {} examples", self.n);
        let n_val = ((self.n as f64 * fraction as f64).round() as usize).clamp(1, self.n - 1);
        let mut order: Vec<usize> = (0..self.n).collect();
        Rng::new(seed ^ 0x5a11_7e57).shuffle(&mut order);
        let mut is_val = vec![false; self.n];
        order[..n_val].iter().for_each(|&i| is_val[i] = true);
        let pick = |want: bool| {
            let idx: Vec<usize> = (0..self.n).filter(|&i| is_val[i] == want).collect();
            self.subset(&idx)
        };
        Ok((pick(false), pick(true)))
    }

    /// The examples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let len = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * len);
        for &i in indices {
            images.extend_from_slice(&self.images[i * len..(i + 1) * len]);
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            n: indices.len(),
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
