//! The materialiser against its definition: determinism, streaming = whole, K-sample averaging
//! recomputed by hand, the bias/row/pair layouts, and buffer errors.
#![cfg(feature = "alloc")]

mod common;

use common::{random_hypernet, tiny_conv, tiny_mlp, SMALL_INR};
use metamorph::format::{self, DType, Hypernet, OwnedGenerator, OwnedHypernet};
use metamorph::inr::layout::Role;
use metamorph::inr::{coords, features::fourier, InrConfig};
use metamorph::materialise::Materialiser;
use metamorph::spec::{families, ArchSpec, ParamInfo, ParamKind, Query};
use metamorph::Error;

/// An MLP whose 20×20 hidden weight has 400 rows: several `ROW_BLOCK`s and a ragged last block.
fn wide_mlp() -> ArchSpec {
    families::mlp("wide", [1, 3, 3], 2, 20, 2).unwrap()
}

fn files() -> Vec<Vec<u8>> {
    vec![
        random_hypernet(tiny_mlp(), SMALL_INR, 21).to_bytes().unwrap(),
        random_hypernet(tiny_conv(), SMALL_INR, 22).to_bytes().unwrap(),
        random_hypernet(wide_mlp(), InrConfig { bands: 3, hidden: 12, depth: 1, norm: 20.0 }, 23).to_bytes().unwrap(),
    ]
}

/// The plain residual MLP of `docs`/method §1, one row at a time, from unpacked parameters.
fn naive_mlp(cfg: &InrConfig, out_size: usize, params: &[f32], x: &[f32]) -> Vec<f32> {
    let (h, p) = (cfg.hidden as usize, cfg.features());
    let seg = |role: Role| &params[cfg.segment(role, out_size).unwrap().range()];
    let dense = |w: &[f32], b: &[f32], x: &[f32], n_out: usize, n_in: usize| -> Vec<f32> {
        (0..n_out).map(|o| b[o] + (0..n_in).map(|i| w[o * n_in + i] * x[i]).sum::<f32>()).collect()
    };
    let mut hid: Vec<f32> =
        dense(seg(Role::InputWeight), seg(Role::InputBias), x, h, p).into_iter().map(|v| v.max(0.0)).collect();
    for k in 0..cfg.depth {
        let t = dense(seg(Role::HiddenWeight(k)), seg(Role::HiddenBias(k)), &hid, h, h);
        let s = seg(Role::BranchScale(k))[0];
        hid = hid.iter().zip(&t).map(|(a, t)| a + s * t.max(0.0)).collect();
    }
    dense(seg(Role::OutputWeight), seg(Role::OutputBias), &hid, out_size, h)
}

/// Tensor `info` of the width-`h` member, computed from the definition: for each element, its
/// query row and slot within the row (by the tensor's layout), then the mean over `samples` of
/// `MLP(fourier(normalise(noisy coordinate)))[slot] / noisy C_in`.
fn by_definition(net: &Hypernet<'_>, info: &ParamInfo, samples: u32, seed: u64) -> Vec<f32> {
    let m = info.morph.unwrap();
    let (inr, tensors) = net.inr().unwrap();
    let t = &tensors[m.index];
    let out_size = t.out_size as usize;
    let mut params = vec![0.0; inr.param_count(out_size)];
    t.unpack(inr, &mut params).unwrap();
    let total = net.arch.morphed_count();
    let amp = coords::amplitude(net.meta.sigma);
    let is_bias = info.kind == ParamKind::Bias;
    let [c_out, c_in, k, _] = info.shape;
    let mut out = vec![0.0; info.len()];
    for o in 0..c_out {
        for i in 0..c_in {
            for kk in 0..k * k {
                let index = (o * c_in + i) * k * k + kk;
                // Layout: a bias row per output; a whole-row query per output; else one per (o, i).
                let (row, slot, raw0) = match (is_bias, m.query) {
                    (true, _) => (o, 0, [m.index, o, 0, total, c_out, 1]),
                    (false, Query::Row) => (o, i * k * k + kk, [m.index, o, 0, total, c_out, c_in]),
                    (false, Query::Pair) => (o * c_in + i, kk, [m.index, o, i, total, c_out, c_in]),
                };
                assert_eq!(coords::noisy(&m, total, row, is_bias, 0, seed, amp), raw0.map(|v| v as f32));
                let mut sum = 0.0f32;
                for s in 0..samples {
                    let raw = coords::noisy(&m, total, row, is_bias, s, seed, amp);
                    let mut pe = vec![0.0; inr.features()];
                    fourier(&coords::normalise(raw, inr.norm), inr.bands as usize, &mut pe);
                    sum += naive_mlp(inr, out_size, &params, &pe)[slot] / raw[5];
                }
                out[index] = sum / samples as f32;
            }
        }
    }
    out
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (n, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{what}[{n}]: {g} vs {w}");
    }
}

#[test]
fn morphed_tensors_match_their_definition() {
    for bytes in files() {
        let net = format::read(&bytes).unwrap();
        for h in [net.arch.h_min as usize, net.arch.h_max as usize - 1, net.arch.h_max as usize] {
            for (samples, seed) in [(1, 0), (3, 7), (5, 99)] {
                let m = Materialiser::new(&net, h, samples, seed).unwrap();
                let all = m.to_vec().unwrap();
                for info in net.arch.params(h) {
                    let got = &all[info.offset..info.offset + info.len()];
                    let what = format!("{} h={h} K={samples} {}", net.arch.name, info.name());
                    match info.morph {
                        Some(_) => assert_close(got, &by_definition(&net, &info, samples, seed), &what),
                        None => {
                            let bytes = net.frozen[info.frozen_index];
                            let want: Vec<f32> =
                                bytes.chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
                            assert_eq!(got, &want[..], "{what}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn every_query_layout_is_exercised() {
    let bytes = &files()[1];
    let net = format::read(bytes).unwrap();
    let layouts: Vec<_> = net.arch.params(4).map(|p| (p.kind, p.morph.map(|m| m.query))).collect();
    assert!(layouts.contains(&(ParamKind::Weight, Some(Query::Row))));
    assert!(layouts.contains(&(ParamKind::Weight, Some(Query::Pair))));
    assert!(layouts.contains(&(ParamKind::Bias, Some(Query::Pair))));
    assert!(layouts.contains(&(ParamKind::Bias, None)));
    assert!(layouts.contains(&(ParamKind::Scale, None)));
}

#[test]
fn materialisation_is_deterministic() {
    for bytes in files() {
        let copy = bytes.clone();
        let (a, b) = (format::read(&bytes).unwrap(), format::read(&copy).unwrap());
        let h = a.arch.h_max as usize;
        for samples in [1, 4] {
            let x = Materialiser::new(&a, h, samples, 5).unwrap().to_vec().unwrap();
            let y = Materialiser::new(&b, h, samples, 5).unwrap().to_vec().unwrap();
            assert_eq!(
                x.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        // The seed matters once noisy samples are averaged in, and only then.
        let k1 = |seed| Materialiser::new(&a, h, 1, seed).unwrap().to_vec().unwrap();
        assert_eq!(k1(1), k1(2));
        let k4 = |seed| Materialiser::new(&a, h, 4, seed).unwrap().to_vec().unwrap();
        assert_ne!(k4(1), k4(2));
    }
}

#[test]
fn streaming_per_tensor_equals_all() {
    for bytes in files() {
        let net = format::read(&bytes).unwrap();
        let h = net.arch.h_max as usize;
        let m = Materialiser::new(&net, h, 2, 3).unwrap();
        let all = m.to_vec().unwrap();
        let mut out = vec![f32::NAN; m.largest_tensor()];
        let mut scratch = vec![f32::NAN; m.scratch_len()];
        for info in net.arch.params(h) {
            let t = m.tensor(&info, &mut out, &mut scratch).unwrap();
            assert_eq!(&*t, &all[info.offset..info.offset + info.len()], "{}", info.name());
        }
    }
}

#[test]
fn small_buffers_and_bad_arguments_are_errors() {
    let bytes = &files()[1];
    let net = format::read(bytes).unwrap();
    assert_eq!(Materialiser::new(&net, 0, 1, 0).unwrap_err(), Error::BadWidth);
    assert_eq!(Materialiser::new(&net, net.arch.h_max as usize + 1, 1, 0).unwrap_err(), Error::BadWidth);
    assert!(matches!(Materialiser::new(&net, 2, 0, 0), Err(Error::BadArgument(_))));
    let m = Materialiser::new(&net, 3, 1, 0).unwrap();
    let (total, scratch_len) = (m.total_len(), m.scratch_len());
    let mut scratch = vec![0.0; scratch_len];
    let mut out = vec![0.0; total - 1];
    assert_eq!(
        m.all(&mut out, &mut scratch).unwrap_err(),
        Error::BufferTooSmall { needed: total, provided: total - 1 }
    );
    let mut out = vec![0.0; total];
    let mut short = vec![0.0; scratch_len - 1];
    assert_eq!(
        m.all(&mut out, &mut short).unwrap_err(),
        Error::BufferTooSmall { needed: scratch_len, provided: scratch_len - 1 }
    );
    let info = net.arch.params(3).find(|p| p.morph.is_some()).unwrap();
    let mut small = vec![0.0; info.len() - 1];
    assert!(matches!(m.tensor(&info, &mut small, &mut scratch), Err(Error::BufferTooSmall { .. })));
    assert_eq!(m.all(&mut out, &mut scratch).unwrap().len(), total);
}

/// `|got − want| ≤ 1e-5 · max |want|` over the tensor: relative to the tensor's scale.
fn assert_close_relative(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let scale = want.iter().fold(0.0f32, |m, w| m.max(w.abs()));
    assert!(scale > 0.0, "{what}: all-zero tensor tests nothing");
    for (n, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * scale, "{what}[{n}]: {g} vs {w} (scale {scale})");
    }
}

/// Sample 0 of a pair weight takes the separable first layer (`A[i] + B[j]`); biases and row
/// queries evaluate features per row. Every layout, at every width, agrees with the definition.
#[test]
fn separable_first_layer_matches_the_definition_at_every_width() {
    let mut seen = Vec::new();
    for bytes in files() {
        let net = format::read(&bytes).unwrap();
        for h in net.arch.h_min as usize..=net.arch.h_max as usize {
            let m = Materialiser::new(&net, h, 1, 0).unwrap();
            let all = m.to_vec().unwrap();
            for info in net.arch.params(h).filter(|p| p.morph.is_some()) {
                let layout = (info.kind, info.morph.unwrap().query);
                if !seen.contains(&layout) {
                    seen.push(layout);
                }
                let what = format!("{} h={h} {}", net.arch.name, info.name());
                let got = &all[info.offset..info.offset + info.len()];
                assert_close_relative(got, &by_definition(&net, &info, 1, 0), &what);
            }
        }
    }
    for layout in [(ParamKind::Weight, Query::Pair), (ParamKind::Bias, Query::Pair), (ParamKind::Weight, Query::Row)] {
        assert!(seen.contains(&layout), "{layout:?} not exercised");
    }
}

/// The path taken never depends on how much scratch the caller passes beyond the minimum.
#[test]
fn results_do_not_depend_on_the_scratch_size() {
    for bytes in files() {
        let net = format::read(&bytes).unwrap();
        let h = net.arch.h_max as usize;
        for samples in [1, 3] {
            let m = Materialiser::new(&net, h, samples, 11).unwrap();
            let mut exact = vec![0.0; m.total_len()];
            let mut generous = vec![0.0; m.total_len()];
            m.all(&mut exact, &mut vec![f32::NAN; m.scratch_len()]).unwrap();
            m.all(&mut generous, &mut vec![f32::NAN; 4 * m.scratch_len() + 1000]).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&exact), bits(&generous), "{} K={samples}", net.arch.name);
        }
    }
}

#[test]
fn row_ranges_are_checked() {
    let bytes = random_hypernet(wide_mlp(), SMALL_INR, 5).to_bytes().unwrap();
    let net = format::read(&bytes).unwrap();
    let m = Materialiser::new(&net, 20, 1, 0).unwrap();
    let infos: Vec<ParamInfo> = net.arch.params(20).collect();
    let mut scratch = vec![0.0; m.scratch_len()];
    let mut out = vec![0.0; 1000];
    let pair = infos.iter().find(|p| p.morph.is_some_and(|m| m.rows() == 400)).unwrap();
    assert!(m.tensor_rows(pair, 390..401, &mut out, &mut scratch).is_err());
    assert!(m.tensor_rows(pair, 0..400, &mut out[..10], &mut scratch).is_err());
    let frozen = infos.iter().find(|p| p.morph.is_none()).unwrap();
    assert!(m.tensor_rows(frozen, 0..1, &mut out, &mut scratch).is_err());
}

/// A slimmable file's member is the leading entries of every dimension of its stored full-width
/// tensors, bit for bit, whole or in any split of rows; frozen tensors come through unchanged.
#[test]
fn slimmable_members_are_the_stored_tensors_sliced() {
    for arch in [tiny_mlp(), tiny_conv(), wide_mlp()] {
        for dtype in [DType::F32, DType::F16, DType::I8] {
            let owned = common::random_slimmable(arch.clone(), 7);
            let bytes = owned.to_bytes_as(dtype).unwrap();
            let net = format::read(&bytes).unwrap();
            // The stored values, decoded, at full width and in canonical order.
            let stored = OwnedHypernet::from_hypernet(&net).unwrap();
            let OwnedGenerator::Slimmable { tensors } = &stored.generator else { panic!("slimmable") };
            let full_infos: Vec<ParamInfo> = arch.params(arch.h_max as usize).collect();
            for h in arch.h_min as usize..=arch.h_max as usize {
                let m = Materialiser::new(&net, h, 1, 0).unwrap();
                assert_eq!(m.scratch_len(), 0, "nothing to compute");
                let got = m.to_vec().unwrap();
                let (mut morphed, mut frozen) = (tensors.iter(), stored.frozen.iter());
                for (info, full) in arch.params(h).zip(&full_infos) {
                    let src = if info.morph.is_some() { morphed.next() } else { frozen.next() }.unwrap();
                    let [a, b, c, d] = info.shape;
                    let mut want = Vec::with_capacity(info.len());
                    for i0 in 0..a {
                        for i1 in 0..b {
                            for i2 in 0..c {
                                for i3 in 0..d {
                                    let [_, fb, fc, fd] = full.shape;
                                    want.push(src[((i0 * fb + i1) * fc + i2) * fd + i3]);
                                }
                            }
                        }
                    }
                    let slice = &got[info.offset..info.offset + info.len()];
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(slice), bits(&want), "{} {dtype:?} h = {h} {}", arch.name, info.name());
                    if let Some(morph) = info.morph.filter(|m| m.rows() > 2) {
                        let n = morph.values_per_row();
                        let mut part = vec![0.0; 2 * n];
                        let mut scratch = vec![0.0; m.scratch_len()];
                        m.tensor_rows(&info, 1..3, &mut part, &mut scratch).unwrap();
                        assert_eq!(bits(&part), bits(&want[n..3 * n]), "rows 1..3 of {}", info.name());
                    }
                }
            }
            assert!(matches!(Materialiser::new(&net, arch.h_max as usize, 2, 0), Err(Error::BadArgument(_))));
        }
    }
}
