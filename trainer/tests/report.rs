//! The report's baselines (slicing and magnitude pruning), its markdown section replacement, and
//! the whole `report` command on a tiny configuration.

mod common;

use candle_core::{Device, Tensor};
use common::{conv_net, max_diff, random_input, random_params, residual_net};
use metamorph::spec::ArchSpec;
use metamorph_trainer::net::forward;
use metamorph_trainer::permute::{channel_groups, to_tensors, to_vecs, Axis};
use metamorph_trainer::preset::Preset;
use metamorph_trainer::report::{self, baselines, table, ReportArgs, REPORT_WIDTHS};

fn families() -> Vec<ArchSpec> {
    vec![Preset::load("digits-mlp").unwrap().arch, conv_net(), residual_net()]
}

fn flat(ts: &[Tensor]) -> Vec<Vec<f32>> {
    to_vecs(ts).unwrap()
}

/// The full net with every channel outside `keep[g]` silenced (its output rows and biases
/// zeroed): after ReLU those channels are 0, so the net computes what a shrunk net keeping
/// exactly `keep` computes.
fn silenced(arch: &ArchSpec, full: &[Tensor], keep: &[Vec<usize>]) -> Vec<Tensor> {
    let h = arch.h_max as usize;
    let mut v = flat(full);
    for (g, kept) in channel_groups(arch, h).unwrap().iter().zip(keep) {
        for m in g.members.iter().filter(|m| m.axis == Axis::Out) {
            let row = v[m.param].len() / g.channels;
            for c in (0..g.channels).filter(|c| !kept.contains(c)) {
                v[m.param][c * row..(c + 1) * row].iter_mut().for_each(|x| *x = 0.0);
            }
        }
    }
    to_tensors(arch, h, &v, &Device::Cpu).unwrap()
}

#[test]
fn slicing_and_pruning_at_full_width_return_the_base_net() {
    for arch in families() {
        let h = arch.h_max as usize;
        let full = random_params(&arch, h, 3);
        let sliced = baselines::slice(&arch, &full, h).unwrap();
        assert_eq!(flat(&sliced), flat(&full), "{}: slicing at full width", arch.name);
        let pruned = baselines::prune(&arch, &full, h).unwrap();
        let x = random_input(&arch, 5, 4);
        let (a, b) = (forward(&arch, h, &full, &x).unwrap(), forward(&arch, h, &pruned, &x).unwrap());
        assert!(
            max_diff(&a, &b) <= 1e-5,
            "{}: pruning at full width changes outputs by {}",
            arch.name,
            max_diff(&a, &b)
        );
    }
}

#[test]
fn shrunk_nets_compute_the_base_net_with_dropped_channels_silenced() {
    for arch in families() {
        let h_max = arch.h_max as usize;
        let full = random_params(&arch, h_max, 5);
        let x = random_input(&arch, 4, 6);
        for h in [arch.base_width(0.25), arch.base_width(0.5), arch.base_width(0.875)] {
            let groups = channel_groups(&arch, h_max).unwrap();
            let small = channel_groups(&arch, h).unwrap();
            let first: Vec<Vec<usize>> = small.iter().map(|g| (0..g.channels).collect()).collect();
            let largest: Vec<Vec<usize>> = groups
                .iter()
                .zip(&small)
                .map(|(g, s)| baselines::largest_l1(&arch, &flat(&full), g, s.channels))
                .collect();
            for (name, shrunk, keep) in [
                ("slice", baselines::slice(&arch, &full, h).unwrap(), first),
                ("prune", baselines::prune(&arch, &full, h).unwrap(), largest),
            ] {
                let want = forward(&arch, h_max, &silenced(&arch, &full, &keep), &x).unwrap();
                let got = forward(&arch, h, &shrunk, &x).unwrap();
                assert!(max_diff(&want, &got) <= 1e-4, "{} {name} h = {h}: {}", arch.name, max_diff(&want, &got));
            }
        }
    }
}

#[test]
fn pruning_keeps_the_channels_of_largest_l1_norm() {
    let arch = Preset::load("digits-mlp").unwrap().arch;
    let full = random_params(&arch, 32, 7);
    let mut v = flat(&full);
    // Hidden layer 1 has [32, 64] weights: make channels 29, 4, 11 and 20 the heaviest.
    for (i, c) in [29usize, 4, 11, 20].into_iter().enumerate() {
        v[0][c * 64..(c + 1) * 64].iter_mut().for_each(|x| *x = 5.0 + i as f32);
    }
    let full = to_tensors(&arch, 32, &v, &Device::Cpu).unwrap();
    let h = 4;
    let pruned = flat(&baselines::prune(&arch, &full, h).unwrap());
    let kept = [4usize, 11, 20, 29];
    let g2 = &channel_groups(&arch, 32).unwrap()[1];
    let keep2 = baselines::largest_l1(&arch, &v, g2, h);
    for (p, &c) in kept.iter().enumerate() {
        assert_eq!(&pruned[0][p * 64..(p + 1) * 64], &v[0][c * 64..(c + 1) * 64]);
        assert_eq!(pruned[1][p], v[1][c], "bias follows its row");
        // The next layer's columns follow: pruned[2] is [4, 4], full is [32, 32].
        for (r, &o) in keep2.iter().enumerate() {
            assert_eq!(pruned[2][r * h + p], v[2][o * 32 + c]);
        }
    }
}

#[test]
fn replacing_a_section_keeps_the_others() {
    let (open_a, close_a) = table::markers("a");
    let (open_b, close_b) = table::markers("b");
    let doc = format!("# Results\n\nintro\n\n{open_a}\nA1\n{close_a}\n\nmiddle text\n\n{open_b}\nB1\n{close_b}\n\n## Performance\n\ntail\n");
    let new = table::replace_section(&doc, "a", &format!("{open_a}\nA2\nA2b\n{close_a}\n"));
    assert_eq!(new, doc.replace("A1", "A2\nA2b"));
    let new = table::replace_section(&new, "b", &format!("{open_b}\nB2\n{close_b}"));
    assert!(new.contains("A2\nA2b") && new.contains("B2") && !new.contains("B1"));
    assert!(new.contains("middle text") && new.ends_with("## Performance\n\ntail\n"));
    let (open_c, close_c) = table::markers("c");
    let added = table::replace_section(&new, "c", &format!("{open_c}\nC\n{close_c}"));
    assert!(added.starts_with(&new.trim_end().to_string()));
    assert!(added.ends_with(&format!("{open_c}\nC\n{close_c}\n")));
    // A section whose name extends another's is a different section.
    let (open_ab, close_ab) = table::markers("ab");
    let both = table::replace_section(&added, "ab", &format!("{open_ab}\nAB\n{close_ab}"));
    assert!(both.contains("A2\nA2b") && both.contains("\nAB\n"));
    let fresh = table::replace_section("", "a", &format!("{open_a}\nA\n{close_a}"));
    assert!(fresh.starts_with(table::HEADER) && fresh.ends_with(&format!("{close_a}\n")));
}

#[test]
fn report_runs_end_to_end_on_a_tiny_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut preset = Preset::load("digits-mlp").unwrap();
    preset.base.epochs = 1;
    preset.inr.hidden = 8;
    preset.inr.bands = 2;
    let preset_path = dir.path().join("tiny.json");
    std::fs::write(&preset_path, serde_json::to_string(&preset).unwrap()).unwrap();
    let preset_name = preset_path.display().to_string();
    let hypernet = dir.path().join("tiny.mmh");
    metamorph_trainer::fit::command::run(&metamorph_trainer::fit::command::FitArgs {
        preset: preset_name.clone(),
        out: hypernet.clone(),
        steps: Some(3),
        base: None,
        save_base: None,
        checkpoint: None,
        checkpoint_every: 100,
        dtype: Some(metamorph::format::DType::F16),
        seed: 0,
        device: Device::Cpu,
        progress: false,
    })
    .unwrap();

    let slim = dir.path().join("tiny-slim.mmh");
    let mut slim_opts = metamorph_trainer::slimmable::SlimOptions::from_preset(&preset);
    (slim_opts.max_steps, slim_opts.progress) = (Some(3), false);
    metamorph_trainer::slimmable::run(&preset_name, &slim_opts, &slim, metamorph::format::DType::F16, &Device::Cpu)
        .unwrap();

    let out = dir.path().join("docs");
    std::fs::create_dir_all(&out).unwrap();
    let (open, close) = table::markers("other-preset");
    let other = format!("{open}\nkept as is\n{close}");
    std::fs::write(out.join("RESULTS.md"), format!("# Results\n\n{other}\n\nhand-written notes\n")).unwrap();
    let args = ReportArgs {
        preset: preset_name,
        hypernet: hypernet.clone(),
        base: None,
        out_dir: Some(out.clone()),
        epochs: None,
        cache: Some(dir.path().join("cache")),
        slimmable: Some(slim.clone()),
        limit: Some(150),
        seed: 0,
        device: "cpu".into(),
        progress: false,
    };
    let (rep, written) = report::run(&args).unwrap();
    assert_eq!(rep.name, "tiny", "sections are named after the preset, not the family");
    assert_eq!(rep.rows.len(), REPORT_WIDTHS.len());
    assert_eq!(rep.examples, [150, 150]);
    let full = &rep.rows[0];
    assert_eq!((full.h, full.sliced, full.pruned), (32, rep.base_accuracy, rep.base_accuracy));
    assert_eq!(full.individual, rep.base_accuracy, "the base is the 100 % individually trained net");
    assert_eq!(rep.storage.hypernet_bytes, std::fs::metadata(&hypernet).unwrap().len());
    assert_eq!(rep.storage.fp32_bytes, 4 * rep.storage.int8_bytes - 4 * 4 * 6);
    // Every individually trained net is cached, one file per width.
    let cached = std::fs::read_dir(dir.path().join("cache")).unwrap().count();
    assert_eq!(cached, REPORT_WIDTHS.len());
    // The int8 column is the full-width base net quantised, with one scale per tensor.
    assert_eq!(full.int8_bytes, rep.storage.int8_bytes);
    assert!((full.individual_int8 - full.individual).abs() < 0.1, "{} vs {}", full.individual_int8, full.individual);
    // Three zoo budgets around the hypernet's bytes, each zoo within its budget.
    let budgets: Vec<u64> = rep.zoos.iter().map(|(b, _)| *b).collect();
    let file = rep.storage.hypernet_bytes;
    assert_eq!(budgets, [file / 2, file, 2 * file]);
    for (budget, zoo) in &rep.zoos {
        assert!(zoo.as_ref().is_none_or(|z| z.bytes <= *budget && !z.members.is_empty()));
    }
    // The slimmable file's cuts at the same budgets: each within its budget, wider for a larger one.
    assert_eq!(rep.slim_cuts.iter().map(|(b, _)| *b).collect::<Vec<_>>(), budgets);
    let cuts: Vec<_> = rep.slim_cuts.iter().filter_map(|(b, c)| c.as_ref().map(|c| (b, c))).collect();
    assert!(!cuts.is_empty());
    for (budget, cut) in &cuts {
        assert!(cut.bytes <= **budget && cut.accuracy.len() == rep.rows.len());
    }
    assert!(cuts.windows(2).all(|w| w[0].1.h <= w[1].1.h));

    let md = std::fs::read_to_string(&written.results).unwrap();
    assert!(md.contains(&other) && md.contains("hand-written notes"), "other content kept:\n{md}");
    assert!(md.contains(&args.command_line()));
    assert!(md.contains("| 25 % (unseen) | 8 |"));
    assert!(md.contains("PASS") || md.contains("MISS"));
    assert!(md.contains("### Int8 zoo at equal bytes") && md.contains("individually trained, int8"));
    assert!(md.contains("slimmable, int8") && md.contains("int8 slimmable net at every width"), "{md}");
    assert!(md.contains("### Slimmable net cut to equal bytes") && md.contains("slimmable net cut to its bytes"));
    assert!(rep.rows.iter().all(|r| r.slimmable.is_some()));
    let (_, [fp32, int8]) = rep.slimmable.clone().unwrap();
    // The slimmable file holds the full-width net, plus the file's header, spec and table.
    assert!(fp32 > rep.storage.fp32_bytes && fp32 < rep.storage.fp32_bytes + 1000, "{fp32}");
    assert!(int8 > rep.storage.int8_bytes && int8 < fp32 / 3, "{int8}");
    let svg = std::fs::read_to_string(&written.plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("magnitude pruning"));
    let bytes_svg = std::fs::read_to_string(&written.bytes_plot).unwrap();
    assert!(bytes_svg.starts_with("<svg") && bytes_svg.contains("int8 zoo") && bytes_svg.contains("slimmable, int8"));

    // Rerunning replaces this preset's section instead of adding a second one.
    report::write(&rep, &out).unwrap();
    let again = std::fs::read_to_string(&written.results).unwrap();
    assert_eq!(again.matches(&table::markers(&rep.name).0).count(), 1);
    assert_eq!(again, md);
}
