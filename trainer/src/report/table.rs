//! Markdown rendering of a report, and replacing one preset's section of `RESULTS.md`.
//!
//! Each preset's section sits between `<!-- report:NAME -->` and `<!-- /report:NAME -->`;
//! rewriting a section leaves everything outside its markers untouched.
//!
//! ```
//! use metamorph_trainer::report::table::replace_section;
//! let doc = "# Results\n\n<!-- report:a -->\nold a\n<!-- /report:a -->\n\nhand-written\n";
//! let new = replace_section(doc, "a", "<!-- report:a -->\nnew a\n<!-- /report:a -->");
//! assert_eq!(new, "# Results\n\n<!-- report:a -->\nnew a\n<!-- /report:a -->\n\nhand-written\n");
//! ```

use super::targets::{self, width_label};
use super::{plot, Report, SAMPLES};
use anyhow::{Context, Result};
use std::fmt::Write;
use std::path::Path;

/// Opening line of a new `RESULTS.md`.
pub const HEADER: &str = "# Results\n\n\
Sections between `<!-- report:NAME -->` markers are written by `metamorph-train report` and \
replaced when it reruns for that preset; everything else is kept as is.\n";

/// The opening and closing markers of preset `name`'s section.
pub fn markers(name: &str) -> (String, String) {
    (format!("<!-- report:{name} -->"), format!("<!-- /report:{name} -->"))
}

/// `doc` with preset `name`'s section replaced by `section` (which should carry the markers),
/// or with `section` appended when `doc` has none. An empty `doc` gets [`HEADER`] first.
pub fn replace_section(doc: &str, name: &str, section: &str) -> String {
    let (open, close) = markers(name);
    if let Some(s) = doc.find(&open) {
        if let Some(e) = doc[s..].find(&close).map(|e| s + e + close.len()) {
            return format!("{}{}{}", &doc[..s], section.trim_end_matches('\n'), &doc[e..]);
        }
    }
    let head = if doc.trim().is_empty() { HEADER } else { doc.trim_end() };
    format!("{}\n\n{}\n", head.trim_end(), section.trim_end_matches('\n'))
}

/// Reads `path` (if it exists), replaces preset `name`'s section with `section` and writes it
/// back atomically.
pub fn write(path: &Path, name: &str, section: &str) -> Result<()> {
    let doc = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    metamorph_host::fs::write_bytes_atomic(path, replace_section(&doc, name, section).as_bytes())
}

fn pct(x: f32) -> String {
    format!("{:.2}", 100.0 * x)
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The markdown section of `report`, markers included.
pub fn section(report: &Report) -> String {
    let (open, close) = markers(&report.name);
    let mut s = String::new();
    let r = report;
    let _ = writeln!(s, "{open}");
    let _ = writeln!(s, "## {}\n", r.name);
    let _ = writeln!(s, "Produced by\n\n```sh\n{}\n```\n", r.command);
    let _ = writeln!(
        s,
        "Machine: {} CPUs (`nproc`), {}; device `{}`. The report took {:.0} s. Training the individually \
         trained nets took {:.0} s in all (cached nets count the time they took when first trained, \
         beside whatever else ran then); materialising and evaluating the hypernet took {:.0} s.\n",
        r.machine.cpus,
        r.machine.cpu_model,
        r.machine.device,
        r.seconds.total,
        r.seconds.individual,
        r.seconds.hypernet
    );
    let _ = writeln!(
        s,
        "Data: `{}`, {} training and {} test examples{}. Hypernet: `{}` ({} bytes), trained on base widths \
         h ∈ [{}, {}] of h_max = {}. Individually trained nets: {}. \
         Full-width base for slicing and pruning: {}; test accuracy {} %.\n",
        r.dataset,
        r.examples[0],
        r.examples[1],
        if r.limited { " (cut by `--limit`: not comparable to full runs)" } else { "" },
        r.hypernet_path,
        thousands(r.storage.hypernet_bytes),
        r.trained_h[0],
        r.trained_h[1],
        r.h_max,
        r.recipe,
        r.base_source,
        pct(r.base_accuracy)
    );
    let _ = writeln!(s, "### Test accuracy (%)\n");
    let slim = r.slimmable.is_some();
    let _ = writeln!(
        s,
        "| width | h | hypernet K = {} | hypernet K = {} | individually trained | individually trained, int8 |{} slicing | magnitude pruning |",
        SAMPLES[0],
        SAMPLES[1],
        if slim { " slimmable | slimmable, int8 |" } else { "" }
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|{}---:|---:|", if slim { "---:|---:|" } else { "" });
    for row in &r.rows {
        let _ = writeln!(
            s,
            "| {}{} | {} | {} | {} | {} ({}) | {} ({} B) |{} {} | {} |",
            width_label(row.width),
            if r.unseen(row.h) { " (unseen)" } else { "" },
            row.h,
            pct(row.hypernet[0]),
            pct(row.hypernet[1]),
            pct(row.individual),
            epochs_kept(row.individual_epochs),
            pct(row.individual_int8),
            thousands(row.int8_bytes),
            row.slimmable.map_or(String::new(), |[f, q]| format!(" {} | {} |", pct(f), pct(q))),
            pct(row.sliced),
            pct(row.pruned)
        );
    }
    let _ = writeln!(
        s,
        "\nSlicing keeps every morphed layer's first channels; magnitude pruning keeps the channels whose \
         incoming weights have the largest L1 norm (structured, per layer, carried into the next layer's \
         inputs). Neither is retrained.\n"
    );
    let _ = writeln!(s, "![Test accuracy against width, {}]({})\n", r.name, plot::file_name(&r.name));
    let _ = writeln!(s, "![Test accuracy against stored bytes, {}]({})\n", r.name, plot::bytes_file_name(&r.name));
    let st = &r.storage;
    let _ = writeln!(s, "### Storage\n");
    let _ = writeln!(s, "| what | bytes | × full-width fp32 |");
    let _ = writeln!(s, "|---|---:|---:|");
    let rows = [
        ("hypernet file".to_string(), st.hypernet_bytes),
        ("full-width net, fp32".to_string(), st.fp32_bytes),
        ("full-width net, int8 (+ one f32 scale per tensor)".to_string(), st.int8_bytes),
        (format!("all {} individually trained nets, fp32", r.rows.len()), st.individual_bytes),
    ];
    let slim_rows = r.slimmable.iter().flat_map(|(path, [fp32, int8])| {
        [(format!("slimmable file `{path}` at fp32"), *fp32), (format!("slimmable file `{path}` at int8"), *int8)]
    });
    for (what, bytes) in rows.into_iter().chain(slim_rows) {
        let _ = writeln!(s, "| {what} | {} | {:.3} |", thousands(bytes), st.ratio(bytes));
    }
    let _ = writeln!(s, "\n### Int8 zoo at equal bytes\n");
    let _ = writeln!(
        s,
        "The best set of the int8 individually trained nets above within a byte budget (every subset tried; \
         score: the sum of its accuracies over the sweep's widths), where a device runs the widest member \
         that its width budget allows. Accuracy (%) per width budget; — where no member fits.\n"
    );
    let zoos: Vec<BudgetRow> = r
        .zoos
        .iter()
        .map(|(budget, zoo)| {
            let row = zoo.as_ref().map(|z| {
                let members: Vec<String> = z.members.iter().map(|m| m.h.to_string()).collect();
                (members.join(", "), z.bytes, r.rows.iter().map(|row| z.accuracy_at(row.h)).collect())
            });
            (*budget, row)
        })
        .collect();
    budget_table(&mut s, r, "members (h)", &zoos);
    if !r.slim_cuts.is_empty() {
        let _ = writeln!(s, "\n### Slimmable net cut to equal bytes\n");
        let _ = writeln!(
            s,
            "The slimmable file cut to its widest members that fit the budget as int8 (`metamorph-train cut \
             --from FILE --max-bytes B`), measured on the cut's bytes; at width budget h a device runs member \
             min(h, widest). Accuracy (%) per width budget.\n"
        );
        let cuts: Vec<BudgetRow> = r
            .slim_cuts
            .iter()
            .map(|(budget, cut)| {
                (
                    *budget,
                    cut.as_ref().map(|c| (c.h.to_string(), c.bytes, c.accuracy.iter().map(|&a| Some(a)).collect())),
                )
            })
            .collect();
        budget_table(&mut s, r, "widest member (h)", &cuts);
    }
    let _ = writeln!(s, "\n### Targets\n");
    let _ = writeln!(s, "| target | result | numbers |");
    let _ = writeln!(s, "|---|---|---|");
    for t in targets::evaluate(r) {
        let _ = writeln!(s, "| {} | {} | {} |", t.name, if t.pass { "PASS" } else { "MISS" }, t.detail);
    }
    let _ = writeln!(s, "\nThe width-switch latency target is not measured by this command (see `metamorph bench`).\n");
    let _ = write!(s, "{close}");
    s
}

/// Epochs of an individually trained net: `kept/run ep`, or `N ep` when they agree.
fn epochs_kept([run, kept]: [usize; 2]) -> String {
    if run == kept {
        format!("{run} ep")
    } else {
        format!("{kept}/{run} ep")
    }
}

/// An epoch count in words.
///
/// ```
/// use metamorph_trainer::report::table::epochs;
/// assert_eq!(epochs(1), "1 epoch");
/// assert_eq!(epochs(3), "3 epochs");
/// ```
pub fn epochs(n: usize) -> String {
    format!("{n} epoch{}", if n == 1 { "" } else { "s" })
}

/// One option at a byte budget: the budget, and unless nothing fits, the option's members in words,
/// its bytes and its accuracy at each width budget of the sweep (`None` where no member fits).
type BudgetRow = (u64, Option<(String, u64, Vec<Option<f32>>)>);

/// Writes a table of options at the report's byte budgets, one row per budget and one column per
/// width budget of the sweep; `members` heads the column that names each option's members.
fn budget_table(s: &mut String, r: &Report, members: &str, rows: &[BudgetRow]) {
    let _ = write!(s, "| budget | {members} | bytes |");
    for row in &r.rows {
        let _ = write!(s, " h ≤ {} |", row.h);
    }
    let _ = writeln!(s, "\n|---|---|---:|{}", "---:|".repeat(r.rows.len()));
    for (budget, option) in rows {
        let hypernet = r.storage.hypernet_bytes as f64;
        let label = format!("{} ({:.1}× hypernet)", thousands(*budget), *budget as f64 / hypernet);
        match option {
            None => {
                let _ = writeln!(s, "| {label} | none fits | 0 |{}", " — |".repeat(r.rows.len()));
            }
            Some((names, bytes, accuracy)) => {
                let cells: String = accuracy.iter().map(|a| format!(" {} |", a.map_or("—".into(), pct))).collect();
                let _ = writeln!(s, "| {label} | {names} | {} |{cells}", thousands(*bytes));
            }
        }
    }
}
