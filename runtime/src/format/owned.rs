//! An owned hypernet for writers (the trainer, tests): f32 parameters in, file bytes out.

use super::blob::encode;
use super::{AccuracyRow, Blob, DType, Hypernet, InrTensor, Metadata, HEADER_LEN, TRAILER_LEN};
use crate::error::{Error, Result};
use crate::inr::InrConfig;
use crate::spec::ArchSpec;
use alloc::string::String;
use alloc::vec::Vec;

/// Everything a hypernet file holds, owned and in f32, ready to be encoded at any [`DType`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedHypernet {
    /// The network family.
    pub arch: ArchSpec,
    /// INR size.
    pub inr: InrConfig,
    /// Per morphed tensor: its output size and its MLP parameters in segment order.
    pub mlps: Vec<(usize, Vec<f32>)>,
    /// Frozen tensors in canonical order.
    pub frozen: Vec<Vec<f32>>,
    /// Data set name.
    pub dataset: String,
    /// Smallest and largest base width seen in training.
    pub trained_h: [u16; 2],
    /// Coordinate noise width σ.
    pub sigma: f32,
    /// Accuracy table.
    pub accuracy: Vec<AccuracyRow>,
}

impl OwnedHypernet {
    /// A hypernet of the right shapes with all-zero parameters (for tests and tools).
    pub fn zeros(arch: ArchSpec, inr: InrConfig, dataset: &str) -> Result<Self> {
        let h = arch.h_max as usize;
        let mut mlps = Vec::new();
        let mut frozen = Vec::new();
        for p in arch.params(h) {
            match p.morph {
                Some(m) => mlps.push((m.values_per_row(), alloc::vec![0.0; inr.param_count(m.values_per_row())])),
                None => frozen.push(alloc::vec![0.0; p.len()]),
            }
        }
        let trained_h = [arch.h_min, arch.h_max];
        Ok(OwnedHypernet {
            arch,
            inr,
            mlps,
            frozen,
            dataset: dataset.into(),
            trained_h,
            sigma: 0.0,
            accuracy: Vec::new(),
        })
    }

    /// A hypernet of the right shapes with random parameters, deterministic in `seed`: INR
    /// parameters uniform in `[-0.25, 0.25)`, frozen tensors in `[-0.1, 0.1)`, noise width
    /// σ = 0.5. It classifies nothing; tests, benches and demos of the runtime use it where a
    /// trained file would be too slow to make.
    pub fn random(arch: ArchSpec, inr: InrConfig, dataset: &str, seed: u64) -> Result<Self> {
        let mut net = Self::zeros(arch, inr, dataset)?;
        let mut rng = crate::rng::Rng::new(seed);
        for (_, params) in &mut net.mlps {
            params.iter_mut().for_each(|v| *v = rng.uniform(-0.25, 0.25));
        }
        for t in &mut net.frozen {
            t.iter_mut().for_each(|v| *v = rng.uniform(-0.1, 0.1));
        }
        net.sigma = 0.5;
        Ok(net)
    }

    /// Encodes as a complete file with INR parameters stored as `dtype`. Validates the result.
    pub fn to_bytes_as(&self, dtype: DType) -> Result<Vec<u8>> {
        let blobs: Vec<(Vec<u8>, Vec<u8>)> =
            self.mlps.iter().map(|(out, v)| encode(v, &self.inr, *out, dtype)).collect();
        let frozen: Vec<Vec<u8>> =
            self.frozen.iter().map(|t| t.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
        let mut net = Hypernet {
            arch: self.arch.clone(),
            inr: self.inr,
            tensors: heapless::Vec::new(),
            frozen: heapless::Vec::new(),
            meta: Metadata {
                dataset: &self.dataset,
                trained_h: self.trained_h,
                sigma: self.sigma,
                accuracy: heapless::Vec::new(),
            },
            checksum: 0,
        };
        for ((out, _), (scales, data)) in self.mlps.iter().zip(&blobs) {
            let t = InrTensor { out_size: *out as u32, params: Blob { dtype, scales, data } };
            net.tensors.push(t).map_err(|_| Error::BadArgument("too many INR tensors"))?;
        }
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

    /// Encodes with f32 INR parameters.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_as(DType::F32)
    }

    /// Copies a decoded hypernet into owned f32 form (dequantising its INR parameters).
    pub fn from_hypernet(net: &Hypernet<'_>) -> Result<Self> {
        let mut mlps = Vec::new();
        for t in &net.tensors {
            let out = t.out_size as usize;
            let mut v = alloc::vec![0.0; net.inr.param_count(out)];
            t.params.unpack(&net.inr, out, &mut v)?;
            mlps.push((out, v));
        }
        let mut frozen = Vec::new();
        for f in &net.frozen {
            let mut v = alloc::vec![0.0; f.len() / 4];
            super::blob::read_f32s(f, &mut v)?;
            frozen.push(v);
        }
        Ok(OwnedHypernet {
            arch: net.arch.clone(),
            inr: net.inr,
            mlps,
            frozen,
            dataset: net.meta.dataset.into(),
            trained_h: net.meta.trained_h,
            sigma: net.meta.sigma,
            accuracy: net.meta.accuracy.iter().copied().collect(),
        })
    }
}
