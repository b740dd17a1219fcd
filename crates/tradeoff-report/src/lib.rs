//! `tradeoff-report`: turns cell records into what people read.
//!
//! For now, the terminal table of a run ([`table`]) and the number formats it uses. Cost,
//! recommendations, merging and HTML come with their own issues.
//!
//! ```
//! assert_eq!(tradeoff_report::fmt_ns(1_500.0), "1.50µs");
//! assert_eq!(tradeoff_report::fmt_rate(2.5e6), "2.50M");
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;

pub mod cost;
pub mod curve;
pub mod html;
pub mod record;
pub mod serving;
pub mod svg;

use tradeoff_core::record::{CellRecord, Status};

/// A duration in nanoseconds with three significant digits and a unit.
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    format!("{}{}", sig3(v), unit)
}

/// A rate or count with a k/M/G suffix.
pub fn fmt_rate(v: f64) -> String {
    let (x, s) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    format!("{}{}", sig3(x), s)
}

/// Dollars with four significant figures, small amounts in scientific-free decimals.
pub fn fmt_usd(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else if v >= 1.0 {
        format!("${v:.2}")
    } else {
        // Four significant digits below a dollar.
        let digits = (-(v.log10().floor()) as usize + 3).min(12);
        format!("${v:.digits$}")
    }
}

/// Bytes with a binary unit.
pub fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b < 1024.0 {
        format!("{b}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{}KiB", sig3(b / 1024.0))
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{}MiB", sig3(b / 1024.0 / 1024.0))
    } else {
        format!("{}GiB", sig3(b / 1024.0 / 1024.0 / 1024.0))
    }
}

fn sig3(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The run table: one row per (candidate, target), latency and throughput per batch size.
/// Rows keep the order of first appearance (ladder order in a run).
/// The measured batch sizes among cells, ascending.
pub fn batch_sizes_of(cells: &[CellRecord]) -> Vec<usize> {
    let mut v: Vec<usize> = cells
        .iter()
        .map(|c| c.batch_size)
        .filter(|b| *b > 0)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The machine and its price label, as tables show it.
pub fn machine_label(r: &CellRecord) -> String {
    format!(
        "{} [{}]",
        r.machine,
        r.instance.as_deref().unwrap_or("no price")
    )
}

/// With records from several machines (a merge), the target column names the machine too.
pub fn table(records: &[CellRecord], batch_sizes: &[usize]) -> String {
    let (lines, notes) = table_lines(records, batch_sizes);
    let mut out = render(&lines, 2);
    for n in notes {
        let _ = writeln!(out, "  note: {n}");
    }
    out.push_str(&phases(records));
    out
}

/// Device cells' phases: upload, compute (wall, and device timestamps where the adapter
/// has them), readback, next to end to end. Empty when no cell has phases.
pub fn phases(records: &[CellRecord]) -> String {
    let mut lines = vec![vec![
        "candidate".to_string(),
        "target".into(),
        "batch".into(),
        "upload".into(),
        "compute".into(),
        "device compute".into(),
        "readback".into(),
        "end to end p50".into(),
    ]];
    let mut flags = Vec::new();
    for r in records {
        let (Some(p), Some(l)) = (&r.phases_ns, &r.latency_ns) else {
            continue;
        };
        let sw = if r.device_kind == tradeoff_ir::target::DeviceKind::SoftwareGpu {
            " [sw]"
        } else {
            ""
        };
        lines.push(vec![
            r.candidate.clone(),
            format!("{}{sw}", r.target),
            r.batch_size.to_string(),
            fmt_ns(p.upload_ns),
            fmt_ns(p.compute_ns),
            p.device_compute_ns.map_or("-".into(), fmt_ns),
            fmt_ns(p.readback_ns),
            fmt_ns(l.p50),
        ]);
        for f in &p.flags {
            flags.push(format!(
                "{} on {} @{}: {f}",
                r.candidate, r.target, r.batch_size
            ));
        }
    }
    if lines.len() == 1 {
        return String::new();
    }
    let mut out = String::from(
        "\ndevice phases (medians; each phase ends with its own sync, so they add up to more than end to end)\n",
    );
    out.push_str(&render(&lines, 3));
    for f in flags {
        let _ = writeln!(out, "  note: {f}");
    }
    out
}

/// The same table as Markdown, notes as a list under it.
pub fn markdown_table(records: &[CellRecord], batch_sizes: &[usize]) -> String {
    let (lines, notes) = table_lines(records, batch_sizes);
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l.iter().map(|c| c.replace('|', "\\|")).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let _ = writeln!(
                out,
                "|{}",
                (0..l.len())
                    .map(|c| if c < 2 { "---|" } else { "---:|" })
                    .collect::<String>()
            );
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}

/// Parity of a (candidate, target) pair against the model's definition (`ir::eval`), over
/// every measured batch size: `FAIL` when a batch size's predictions disagreed, else the
/// largest absolute difference seen (`exact` when none).
fn parity_label(rs: &[&CellRecord]) -> String {
    if rs.iter().any(|r| r.parity_failed()) {
        return "FAIL".into();
    }
    match rs
        .iter()
        .filter_map(|r| r.parity_max_abs_err)
        .reduce(f64::max)
    {
        Some(0.0) => "exact".into(),
        Some(e) => format!("ok {e:.0e}"),
        None => "-".into(),
    }
}

/// The cell table as data: rows (header first), for each cell of each row the reason it is
/// not a valid measurement (greyed in HTML), and the notes under the table.
pub struct Table {
    pub lines: Vec<Vec<String>>,
    pub marks: Vec<Vec<Option<String>>>,
    pub notes: Vec<String>,
}

/// The table's rows (header first) and the notes under it.
fn table_lines(records: &[CellRecord], batch_sizes: &[usize]) -> (Vec<Vec<String>>, Vec<String>) {
    let t = cell_table(records, batch_sizes);
    (t.lines, t.notes)
}

/// The run table with its marks: see [`Table`].
pub fn cell_table(records: &[CellRecord], batch_sizes: &[usize]) -> Table {
    let machines: std::collections::BTreeSet<String> = records.iter().map(machine_label).collect();
    let multi = machines.len() > 1;
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut cells: BTreeMap<(String, String), Vec<&CellRecord>> = BTreeMap::new();
    let mut software = std::collections::BTreeSet::new();
    // A merge keeps repeats of one cell apart when they differ in parameters or timing; their
    // rows then name their runs.
    let mut same_cell: BTreeMap<(String, String, String, usize), usize> = BTreeMap::new();
    for r in records {
        *same_cell
            .entry((
                r.candidate.clone(),
                r.target.clone(),
                machine_label(r),
                r.batch_size,
            ))
            .or_default() += 1;
    }
    for r in records {
        let mut target = r.target.clone();
        let key = (
            r.candidate.clone(),
            r.target.clone(),
            machine_label(r),
            r.batch_size,
        );
        if same_cell[&key] > 1 {
            target.push_str(&format!(" [run {}]", r.source_runs().join("+")));
        }
        if r.device_kind == tradeoff_ir::target::DeviceKind::SoftwareGpu {
            // Never let a software adapter's timings pass for a GPU's.
            target.push_str(" [sw]");
            software.insert(format!("{} ({})", r.target, r.device));
        }
        if multi {
            target = format!("{target} @ {}", machine_label(r));
        }
        let key = (r.candidate.clone(), target);
        if !cells.contains_key(&key) {
            rows.push(key.clone());
        }
        cells.entry(key).or_default().push(r);
    }
    let metric = records
        .first()
        .map(|r| r.primary_metric.clone())
        .unwrap_or_default();
    let mut header = vec![
        "candidate".to_string(),
        "target".into(),
        format!("test {metric}"),
        format!("cv {metric} ±se"),
        "fit".into(),
        "model".into(),
        "parity".into(),
    ];
    for b in batch_sizes {
        header.push(format!("p50/p99 @{b}"));
        header.push(format!("rows/s @{b}"));
        header.push(format!("$/1M @{b}"));
    }
    let mut marks = vec![vec![None; header.len()]];
    let mut lines = vec![header];
    let mut notes: Vec<String> = software
        .iter()
        .map(|t| {
            format!(
                "[sw] {t}: a software adapter on the CPU, not a GPU; its timings are CPU timings"
            )
        })
        .collect();
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    // Group sizes of the cells whose calls were timed in groups.
    let mut group_sizes: Vec<usize> = Vec::new();
    for key in &rows {
        let rs = &cells[key];
        let first = rs[0];
        let mut line = vec![key.0.clone(), key.1.clone()];
        let mut mark: Vec<Option<String>> = vec![None, None];
        if matches!(first.status, Status::Failed | Status::Unsupported) && first.batch_size == 0 {
            line.push(first.status.as_str().to_string());
            line.extend(std::iter::repeat_n(
                String::new(),
                4 + 3 * batch_sizes.len(),
            ));
            // One note per distinct reason, naming every pair it applies to.
            let reason = first.reason.as_deref().unwrap_or("no reason given");
            let reason = reason
                .strip_prefix(&format!("target {}: ", first.target))
                .unwrap_or(reason);
            let text = format!("{}: {reason}", first.status.as_str());
            mark.resize(5 + 3 * batch_sizes.len() + 2, Some(text.clone()));
            marks.push(mark);
            let pair = format!("{} on {}", key.0, key.1);
            match grouped.iter_mut().find(|(t, _)| *t == text) {
                Some((_, pairs)) => pairs.push(pair),
                None => grouped.push((text, vec![pair])),
            }
            lines.push(line);
            continue;
        }
        line.push(
            first
                .primary_score()
                .map(|v| format!("{v:.4}"))
                .unwrap_or_else(|| "-".into()),
        );
        line.push(
            first
                .fit
                .cv_score
                .as_ref()
                .map(|c| format!("{:.3}±{:.3}", c.mean, c.standard_error()))
                .unwrap_or_else(|| {
                    if first.fit.imported.is_some() {
                        "imported".into()
                    } else if first.fit.tuned {
                        "-".into()
                    } else {
                        "fixed".into()
                    }
                }),
        );
        line.push(
            first
                .fit
                .fit_seconds
                .map(|s| format!("{s:.3}s"))
                .unwrap_or_else(|| "-".into()),
        );
        line.push(
            first
                .fit
                .model_bytes
                .map(fmt_bytes)
                .unwrap_or_else(|| "-".into()),
        );
        line.push(parity_label(rs));
        mark.resize(line.len(), None);
        for b in batch_sizes {
            match rs.iter().find(|r| r.batch_size == *b) {
                Some(r) if r.latency_ns.is_some() => {
                    // Invalid cells keep their figures, marked, so the cost of a wrong or
                    // noisy answer is visible; winners and recommendations ignore them.
                    let star = if r.status == Status::Ok { "" } else { "*" };
                    let l = r.latency_ns.as_ref().expect("checked above");
                    let p99 = l.p99.map_or("-".into(), fmt_ns);
                    let g = if l.per_call() {
                        ""
                    } else {
                        group_sizes.push(l.group_size);
                        " g"
                    };
                    line.push(format!("{}/{}{g}{star}", fmt_ns(l.p50), p99));
                    line.push(
                        r.throughput_rows_per_s
                            .map(|v| format!("{}{star}", fmt_rate(v)))
                            .unwrap_or_else(|| "-".into()),
                    );
                    line.push(match (r.usd_per_million, r.usd_per_hour) {
                        (Some(u), _) => format!("{}{star}", fmt_usd(u)),
                        (None, None) => "no price".into(),
                        (None, Some(_)) => "-".into(),
                    });
                    let why = (r.status != Status::Ok).then(|| cell_note(r, &key.1));
                    mark.extend([why.clone(), why.clone(), why.clone()]);
                    if let Some(why) = why {
                        notes.push(format!("* {why}"));
                    }
                }
                Some(r) => {
                    line.push(r.status.as_str().to_string());
                    line.push(String::new());
                    line.push(String::new());
                    let why = cell_note(r, &key.1);
                    mark.extend([Some(why.clone()), Some(why.clone()), Some(why.clone())]);
                    notes.push(why);
                }
                None => {
                    line.push("-".into());
                    line.push(String::new());
                    line.push(String::new());
                    mark.extend([None, None, None]);
                }
            }
        }
        lines.push(line);
        marks.push(mark);
    }
    let mut head: Vec<String> = grouped
        .into_iter()
        .map(|(text, pairs)| format!("{}: {text}", pairs.join(", ")))
        .collect();
    let unchecked: Vec<&CellRecord> = records
        .iter()
        .filter(|r| {
            r.verdict.as_ref().is_some_and(|v| {
                v.not_checked
                    .iter()
                    .any(|n| n.starts_with(tradeoff_core::harness::PREEMPTION_NOT_CHECKED))
            })
        })
        .collect();
    if !unchecked.is_empty() {
        head.push(format!(
            "{} in {} cells: their calls ran on several threads (or the OS has no scheduler \
             statistics), so other load on the machine was not measured there \
             (`verdict.not_checked` in the records)",
            tradeoff_core::harness::PREEMPTION_NOT_CHECKED,
            unchecked.len()
        ));
    }
    if let (Some(lo), Some(hi)) = (group_sizes.iter().min(), group_sizes.iter().max()) {
        let sizes = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo} to {hi}")
        };
        head.push(format!(
            "g: {} cells' calls were too short to time one by one and were timed in groups of \
             {sizes}: their p50/p99 are of group means, not single-call latencies; a single \
             call's p99 is at most the group size times the p99 shown (`group_size` in the \
             records and cells.csv), and latency budgets are checked against that bound",
            group_sizes.len()
        ));
    }
    head.append(&mut notes);
    Table {
        lines,
        marks,
        notes: head,
    }
}

/// "candidate on target at batch b: status: reason", for the notes under a table.
fn cell_note(r: &CellRecord, target: &str) -> String {
    format!(
        "{} on {} at batch {}: {}: {}",
        r.candidate,
        target,
        r.batch_size,
        r.status.as_str(),
        r.reason.as_deref().unwrap_or("no reason given")
    )
}

/// Renders rows as aligned columns: the first `left` columns left-aligned, the rest
/// right-aligned, a rule under the header. Short rows are padded with empty cells.
pub fn render(lines: &[Vec<String>], left: usize) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l.get(c).map_or(0, |v| v.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let cols: Vec<String> = l
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (v, w))| {
                let pad = w - v.chars().count();
                if c < left {
                    format!("{v}{}", " ".repeat(pad))
                } else {
                    format!("{}{v}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cols.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1))
            );
        }
    }
    out
}

/// One CSV row per cell, for spreadsheets and scripts.
pub fn cells_csv(records: &[CellRecord]) -> String {
    let header = [
        "run_id",
        "candidate",
        "family",
        "target",
        "device_kind",
        "machine",
        "instance",
        "batch_size",
        "status",
        "reason",
        "primary_metric",
        "score",
        "p50_ns",
        "p90_ns",
        "p99_ns",
        "p999_ns",
        "n",
        "group_size",
        "throughput_rows_per_s",
        "usd_per_hour",
        "usd_per_million",
        "model_bytes",
        "fit_seconds",
        "peak_rss_bytes",
        "serving_bytes",
        "data_hash",
        "fold_hash",
    ];
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut out = header.join(",") + "\n";
    for r in records {
        let l = r.latency_ns.as_ref();
        let row = [
            r.run_id.clone(),
            r.candidate.clone(),
            r.family.clone(),
            r.target.clone(),
            r.device_kind.as_str().to_string(),
            r.machine.clone(),
            r.instance.clone().unwrap_or_default(),
            r.batch_size.to_string(),
            r.status.as_str().into(),
            r.reason.clone().unwrap_or_default(),
            r.primary_metric.clone(),
            opt(r.primary_score()),
            opt(l.map(|l| l.p50)),
            opt(l.and_then(|l| l.p90)),
            opt(l.and_then(|l| l.p99)),
            opt(l.and_then(|l| l.p999)),
            l.map_or(String::new(), |l| l.n.to_string()),
            l.map_or(String::new(), |l| l.group_size.to_string()),
            opt(r.throughput_rows_per_s),
            opt(r.usd_per_hour),
            opt(r.usd_per_million),
            r.fit.model_bytes.map_or(String::new(), |v| v.to_string()),
            opt(r.fit.fit_seconds),
            r.peak_rss_bytes.map_or(String::new(), |v| v.to_string()),
            r.memory
                .as_ref()
                .and_then(|m| m.serving_bytes)
                .map_or(String::new(), |v| v.to_string()),
            r.data_hash.clone(),
            r.fold_hash.clone(),
        ];
        let quoted: Vec<String> = row
            .iter()
            .map(|f| {
                if f.contains([',', '"', '\n']) {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            })
            .collect();
        out.push_str(&quoted.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_pads_short_rows() {
        let lines = vec![
            vec!["a".to_string(), "bb".into(), "c".into()],
            vec!["long".to_string()],
        ];
        let out = render(&lines, 1);
        assert_eq!(out.lines().count(), 3);
        assert!(
            out.lines().next().unwrap().starts_with("a     bb  c"),
            "{out}"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ns(950.0), "950ns");
        assert_eq!(fmt_ns(12_345.0), "12.3µs");
        assert_eq!(fmt_ns(2.5e9), "2.50s");
        assert_eq!(fmt_rate(999.0), "999");
        assert_eq!(fmt_bytes(2048), "2.00KiB");
        assert_eq!(fmt_usd(0.0012345), "$0.001234");
        assert_eq!(fmt_usd(2.5), "$2.50");
    }
}
