//! An owned hypernet for writers (the trainer, tests): f32 parameters in, file bytes out.

use super::blob::{encode, read_f32s};
use super::{AccuracyRow, Blob, DType, Generator, Hypernet, InrTensor, Metadata, HEADER_LEN, TRAILER_LEN};
use crate::error::{Error, Result};
use crate::inr::InrConfig;
use crate::spec::ArchSpec;
use alloc::string::String;
use alloc::vec::Vec;

/// The generator of an [`OwnedHypernet`], in f32.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedGenerator {
    /// An INR: per morphed tensor, its output size and its MLP parameters in layout order.
    Inr {
        /// INR size.
        config: InrConfig,
        /// Per morphed tensor: output size and parameters.
        mlps: Vec<(usize, Vec<f32>)>,
    },
    /// A slimmable network: every morphed tensor at full width, in canonical order.
    Slimmable {
        /// The full-width morphed tensors.
        tensors: Vec<Vec<f32>>,
    },
}

/// Everything a hypernet file holds, owned and in f32, ready to be encoded at any [`DType`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedHypernet {
    /// The network family.
    pub arch: ArchSpec,
    /// What generates the morphed tensors.
    pub generator: OwnedGenerator,
    /// Frozen tensors in canonical order.
    pub frozen: Vec<Vec<f32>>,
    /// Data set name.
    pub dataset: String,
    /// Smallest and largest base width seen in training.
    pub trained_h: [u16; 2],
    /// Coordinate noise width σ (0 for a slimmable network).
    pub sigma: f32,
    /// Accuracy table.
    pub accuracy: Vec<AccuracyRow>,
}

impl OwnedHypernet {
    /// An INR hypernet of the right shapes with all-zero parameters (for tests and tools).
    pub fn zeros(arch: ArchSpec, inr: InrConfig, dataset: &str) -> Result<Self> {
        let mut mlps = Vec::new();
        for m in arch.params(arch.h_max as usize).filter_map(|p| p.morph) {
            mlps.push((m.values_per_row(), alloc::vec![0.0; inr.param_count(m.values_per_row())]));
        }
        Ok(Self::with_generator(arch, OwnedGenerator::Inr { config: inr, mlps }, dataset))
    }

    /// A slimmable network from its full-width parameters (every tensor of `arch.params(h_max)`,
    /// canonical order): the morphed ones become the generator, the others the frozen tensors.
    pub fn slimmable(arch: ArchSpec, full: Vec<Vec<f32>>, dataset: &str) -> Result<Self> {
        let infos: Vec<_> = arch.params(arch.h_max as usize).collect();
        if infos.len() != full.len() {
            return Err(Error::BadArgument("one tensor per parameter of the full-width member"));
        }
        let (mut tensors, mut frozen) = (Vec::new(), Vec::new());
        for (p, t) in infos.iter().zip(full) {
            if t.len() != p.len() {
                return Err(Error::ShapeMismatch { expected: p.len(), found: t.len() });
            }
            match p.morph {
                Some(_) => tensors.push(t),
                None => frozen.push(t),
            }
        }
        let mut net = Self::with_generator(arch, OwnedGenerator::Slimmable { tensors }, dataset);
        net.frozen = frozen;
        Ok(net)
    }

    /// `generator` with zero frozen tensors, the full trained range and no accuracy table.
    fn with_generator(arch: ArchSpec, generator: OwnedGenerator, dataset: &str) -> Self {
        let frozen =
            arch.params(arch.h_max as usize).filter(|p| p.morph.is_none()).map(|p| alloc::vec![0.0; p.len()]).collect();
        let trained_h = [arch.h_min, arch.h_max];
        OwnedHypernet { arch, generator, frozen, dataset: dataset.into(), trained_h, sigma: 0.0, accuracy: Vec::new() }
    }

    /// An INR hypernet of the right shapes with random parameters, deterministic in `seed`: INR
    /// parameters uniform in `[-0.25, 0.25)`, frozen tensors in `[-0.1, 0.1)`, noise width
    /// σ = 0.5. It classifies nothing; tests, benches and demos of the runtime use it where a
    /// trained file would be too slow to make.
    pub fn random(arch: ArchSpec, inr: InrConfig, dataset: &str, seed: u64) -> Result<Self> {
        let mut net = Self::zeros(arch, inr, dataset)?;
        let mut rng = crate::rng::Rng::new(seed);
        if let OwnedGenerator::Inr { mlps, .. } = &mut net.generator {
            for (_, params) in mlps {
                params.iter_mut().for_each(|v| *v = rng.uniform(-0.25, 0.25));
            }
        }
        for t in &mut net.frozen {
            t.iter_mut().for_each(|v| *v = rng.uniform(-0.1, 0.1));
        }
        net.sigma = 0.5;
        Ok(net)
    }

    /// Encodes as a complete file (format [`super::VERSION`]) with the generator's parameters
    /// stored as `dtype`. Validates the result.
    pub fn to_bytes_as(&self, dtype: DType) -> Result<Vec<u8>> {
        let blobs: Vec<(Vec<u8>, Vec<u8>)> = match &self.generator {
            OwnedGenerator::Inr { config, mlps } => {
                mlps.iter().map(|(out, v)| encode(v, config.segments(*out).map(|s| s.range()), dtype)).collect()
            }
            OwnedGenerator::Slimmable { tensors } => {
                tensors.iter().map(|t| encode(t, core::iter::once(0..t.len()), dtype)).collect()
            }
        };
        let frozen: Vec<Vec<u8>> =
            self.frozen.iter().map(|t| t.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
        let too_many = Error::BadArgument("too many generated tensors");
        let generator = match &self.generator {
            OwnedGenerator::Inr { config, mlps } => {
                let mut tensors = heapless::Vec::new();
                for ((out, _), (scales, data)) in mlps.iter().zip(&blobs) {
                    let t = InrTensor { out_size: *out as u32, params: Blob { dtype, scales, data } };
                    tensors.push(t).map_err(|_| too_many)?;
                }
                Generator::Inr { config: *config, tensors }
            }
            OwnedGenerator::Slimmable { .. } => {
                let mut tensors = heapless::Vec::new();
                for (scales, data) in &blobs {
                    tensors.push(Blob { dtype, scales, data }).map_err(|_| too_many)?;
                }
                Generator::Slimmable { tensors }
            }
        };
        let mut net = Hypernet {
            arch: self.arch.clone(),
            generator,
            frozen: heapless::Vec::new(),
            meta: Metadata {
                dataset: &self.dataset,
                trained_h: self.trained_h,
                sigma: self.sigma,
                accuracy: heapless::Vec::new(),
            },
            checksum: 0,
        };
        for f in &frozen {
            net.frozen.push(f).map_err(|_| Error::BadArgument("too many frozen tensors"))?;
        }
        for row in &self.accuracy {
            net.meta.accuracy.push(*row).map_err(|_| Error::BadArgument("accuracy table too long"))?;
        }
        net.validate()?;
        let body = postcard::to_allocvec(&net).map_err(|_| Error::Encode)?;
        let mut buf = alloc::vec![0u8; body.len() + HEADER_LEN + TRAILER_LEN];
        let len = super::write(&net, &mut buf)?.len();
        buf.truncate(len);
        Ok(buf)
    }

    /// Encodes with f32 parameters.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_as(DType::F32)
    }

    /// Copies a decoded hypernet into owned f32 form (dequantising its generator's parameters).
    pub fn from_hypernet(net: &Hypernet<'_>) -> Result<Self> {
        let generator = match &net.generator {
            Generator::Inr { config, tensors } => {
                let mut mlps = Vec::new();
                for t in tensors {
                    let out = t.out_size as usize;
                    let mut v = alloc::vec![0.0; config.param_count(out)];
                    t.unpack(config, &mut v)?;
                    mlps.push((out, v));
                }
                OwnedGenerator::Inr { config: *config, mlps }
            }
            Generator::Slimmable { tensors } => {
                let mut out = Vec::new();
                for b in tensors {
                    let mut v = alloc::vec![0.0; b.data.len() / b.dtype.size()];
                    b.unpack(core::iter::once(0..v.len()), &mut v)?;
                    out.push(v);
                }
                OwnedGenerator::Slimmable { tensors: out }
            }
        };
        let mut frozen = Vec::new();
        for f in &net.frozen {
            let mut v = alloc::vec![0.0; f.len() / 4];
            read_f32s(f, &mut v)?;
            frozen.push(v);
        }
        Ok(OwnedHypernet {
            arch: net.arch.clone(),
            generator,
            frozen,
            dataset: net.meta.dataset.into(),
            trained_h: net.meta.trained_h,
            sigma: net.meta.sigma,
            accuracy: net.meta.accuracy.iter().copied().collect(),
        })
    }
}
