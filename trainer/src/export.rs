//! Export: a generator (the trained INR, or a slimmable network) and the frozen tensors as a
//! hypernet file, with an accuracy table measured on the exported bytes themselves (read back and
//! materialised by the runtime).

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use metamorph::format::{self, AccuracyRow, DType, OwnedGenerator, OwnedHypernet};
use metamorph::materialise::Materialiser;
use metamorph::spec::ArchSpec;
use std::path::Path;

use crate::data::Dataset;
use crate::inr::Inr;
use crate::net::param_shape;

/// Width fractions of the accuracy table written at export.
pub const TABLE_WIDTHS: [f32; 4] = [1.0, 0.75, 0.5, 0.25];

/// The rows of the accuracy table [`write`] measures, one per [`TABLE_WIDTHS`] at K = 1, with
/// accuracy 0: a file holding them has the bytes of the file [`write`] writes.
pub fn unmeasured_table(arch: &ArchSpec) -> Vec<AccuracyRow> {
    TABLE_WIDTHS.iter().map(|&w| AccuracyRow { h: arch.base_width(w) as u16, samples: 1, accuracy: 0.0 }).collect()
}

/// The owned hypernet of `inr` with the frozen tensors of `frozen` (canonical order).
pub fn owned(
    arch: &ArchSpec,
    inr: &Inr,
    frozen: &[Tensor],
    dataset: &str,
    trained_h: [u16; 2],
    sigma: f32,
) -> Result<OwnedHypernet> {
    let frozen = frozen.iter().map(|t| Ok(t.flatten_all()?.to_vec1::<f32>()?)).collect::<Result<Vec<_>>>()?;
    Ok(OwnedHypernet {
        arch: arch.clone(),
        generator: OwnedGenerator::Inr { config: inr.cfg, mlps: inr.to_flat()? },
        frozen,
        dataset: dataset.into(),
        trained_h,
        sigma,
        accuracy: Vec::new(),
    })
}

/// The member of base width `h` materialised by the runtime from hypernet bytes, as candle tensors.
pub fn runtime_member(bytes: &[u8], h: usize, samples: u32, device: &Device) -> Result<Vec<Tensor>> {
    let net = format::read(bytes).map_err(anyhow::Error::msg).context("reading exported hypernet")?;
    let flat = Materialiser::new(&net, h, samples, 0).and_then(|m| m.to_vec()).map_err(anyhow::Error::msg)?;
    net.arch
        .params(h)
        .map(|p| Ok(Tensor::from_slice(&flat[p.offset..p.offset + p.len()], param_shape(&net.arch, &p), device)?))
        .collect()
}

/// Encodes `hypernet` as `dtype`, measures test accuracy of the encoded file at
/// [`TABLE_WIDTHS`] (K = 1), stores the table in the metadata and writes the file atomically.
/// Returns the table.
pub fn write(
    path: &Path,
    mut hypernet: OwnedHypernet,
    dtype: DType,
    test: &Dataset,
    device: &Device,
) -> Result<Vec<AccuracyRow>> {
    let bytes = hypernet.to_bytes_as(dtype).map_err(anyhow::Error::msg)?;
    let mut table = unmeasured_table(&hypernet.arch);
    for row in &mut table {
        let params = runtime_member(&bytes, row.h as usize, 1, device)?;
        row.accuracy = crate::base::evaluate(&hypernet.arch, row.h as usize, &params, test, device)?;
    }
    hypernet.accuracy = table.clone();
    let bytes = hypernet.to_bytes_as(dtype).map_err(anyhow::Error::msg)?;
    metamorph_host::fs::write_bytes_atomic(path, &bytes)?;
    Ok(table)
}
