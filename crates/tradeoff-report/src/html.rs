//! The report people look at: one self-contained HTML file (inline SVG plots, inline CSS,
//! no network), and the same content as Markdown with the SVGs beside it.
//!
//! Plots: latency p50/p99 and throughput against batch size per target (log-log), $ per
//! million predictions against batch size with the CPU/GPU crossover marked, score against
//! p99 with the Pareto front, and learning curves with their extrapolation band.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use tradeoff_core::record::{CellRecord, CurvePoint, ServingRecord, Status};
use tradeoff_ir::target::DeviceKind;

use crate::cost::{self, Recommendation};
use crate::curve::CurveFitRecord;
use crate::svg::{esc, Band, Chart, Marker, Point, Series};

/// Everything a report shows.
pub struct ReportInput<'a> {
    pub title: String,
    /// Lines about the data, protocol and machines, shown under the title.
    pub context: Vec<String>,
    pub cells: &'a [CellRecord],
    pub curve_points: &'a [CurvePoint],
    pub curve_fits: &'a [CurveFitRecord],
    pub recommendation: Option<&'a Recommendation>,
    /// Serving records (`run --scenarios`), and the traffic and headroom their costs assume.
    pub served: &'a [ServingRecord],
    pub load: crate::serving::Load,
    /// "tradeoff 0.1.0 (commit)".
    pub generator: String,
}

pub use crate::svg::Figure;

/// The key a cell is drawn under: its target, marked when software, and its machine and
/// price when the cells come from several (the same test that decides `multi`, so two
/// prices of one machine are two series, not one series with two points per batch size).
fn target_key(c: &CellRecord, multi: bool) -> String {
    let mut t = c.target.clone();
    if c.device_kind == DeviceKind::SoftwareGpu {
        t.push_str(" [sw]");
    }
    if multi {
        t = format!("{t} @ {}", crate::machine_label(c));
    }
    t
}

fn is_multi(cells: &[CellRecord]) -> bool {
    cells
        .iter()
        .map(crate::machine_label)
        .collect::<BTreeSet<_>>()
        .len()
        > 1
}

/// Candidates in ladder order, then first appearance.
fn candidates(cells: &[CellRecord]) -> Vec<String> {
    let mut v: Vec<(u32, usize, String)> = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        if !v.iter().any(|e| e.2 == c.candidate) {
            v.push((c.ladder_rank, i, c.candidate.clone()));
        }
    }
    v.sort();
    v.into_iter().map(|e| e.2).collect()
}

fn cell_title(c: &CellRecord, key: &str) -> String {
    let mut t = format!("{} on {key} @{}", c.candidate, c.batch_size);
    if let Some(l) = &c.latency_ns {
        let _ = write!(
            t,
            ": p50 {}, p99 {}",
            crate::fmt_ns(l.p50),
            l.p99.map_or("-".into(), crate::fmt_ns)
        );
        if !l.per_call() {
            let _ = write!(
                t,
                " (means of groups of {} calls, not single calls; a single call's p99 is at most {})",
                l.group_size,
                l.p99_for_budget().map_or("-".into(), crate::fmt_ns)
            );
        }
    }
    if let Some(r) = c.throughput_rows_per_s {
        let _ = write!(t, ", {} rows/s", crate::fmt_rate(r));
    }
    if let Some(u) = c.usd_per_million {
        let _ = write!(t, ", {} per 1M", crate::fmt_usd(u));
    }
    if c.status != Status::Ok {
        let _ = write!(
            t,
            " — {}: {}",
            c.status.as_str(),
            c.reason.as_deref().unwrap_or("no reason given")
        );
    }
    t
}

/// A dollar tick label: short, whatever the magnitude.
fn usd_tick(v: f64) -> String {
    if v >= 0.01 {
        crate::fmt_usd(v)
    } else {
        format!("${v:.0e}")
    }
}

/// Every plot of the report, in the order shown.
pub fn figures(input: &ReportInput) -> Vec<Figure> {
    let cells = input.cells;
    let multi = is_multi(cells);
    let mut keys: Vec<String> = Vec::new();
    for c in cells.iter().filter(|c| c.latency_ns.is_some()) {
        let k = target_key(c, multi);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let colour = |k: &str| keys.iter().position(|x| x == k).unwrap_or(0);
    let mut out = Vec::new();
    if let Some(f) = pareto_figure(input, multi, &colour) {
        out.push(f);
    }
    let utilization = cells
        .iter()
        .find_map(|c| c.utilization)
        .unwrap_or(cost::DEFAULT_UTILIZATION);
    for cand in candidates(cells) {
        let cs: Vec<&CellRecord> = cells
            .iter()
            .filter(|c| c.candidate == cand && c.latency_ns.is_some())
            .collect();
        if cs.is_empty() {
            continue;
        }
        let mut by_key: BTreeMap<usize, (String, Vec<&CellRecord>)> = BTreeMap::new();
        for c in &cs {
            let k = target_key(c, multi);
            by_key
                .entry(colour(&k))
                .or_insert_with(|| (k, Vec::new()))
                .1
                .push(c);
        }
        for (_, v) in by_key.values_mut() {
            v.sort_by_key(|c| c.batch_size);
        }
        let point = |c: &CellRecord, key: &str, y: f64| {
            let mut p = Point::new(c.batch_size as f64, y).titled(cell_title(c, key));
            p.invalid = c.status != Status::Ok;
            p
        };
        // Latency.
        let mut lat = Chart::new(
            format!("{cand}: latency per call"),
            "batch size (rows per call)",
            "latency",
        );
        lat.x_log = true;
        lat.y_log = true;
        lat.y_fmt = crate::fmt_ns;
        for (ci, (k, v)) in &by_key {
            let p50 = v
                .iter()
                .map(|c| point(c, k, c.latency_ns.as_ref().map_or(f64::NAN, |l| l.p50)))
                .collect();
            lat.series.push(Series::line(format!("{k} p50"), *ci, p50));
            let p99: Vec<Point> = v
                .iter()
                .filter_map(|c| Some(point(c, k, c.latency_ns.as_ref()?.p99?)))
                .collect();
            if !p99.is_empty() {
                let mut s = Series::line(format!("{k} p99"), *ci, p99);
                s.dashed = true;
                lat.series.push(s);
            }
        }
        out.push(Figure {
            name: format!("latency-{cand}"),
            caption: format!(
                "{cand}: p50 (solid) and p99 (dashed) latency of one call against batch size, per target. Hollow grey points are invalid measurements (hover for the reason); calls too short to time singly were timed in groups, and there the points are group means (hover for the group size)."
            ),
            svg: lat.render(),
        });
        // Throughput.
        let mut thr = Chart::new(
            format!("{cand}: throughput"),
            "batch size (rows per call)",
            "rows/s",
        );
        thr.x_log = true;
        thr.y_log = true;
        thr.y_fmt = crate::fmt_rate;
        for (ci, (k, v)) in &by_key {
            let pts = v
                .iter()
                .filter_map(|c| Some(point(c, k, c.throughput_rows_per_s?)))
                .collect();
            thr.series.push(Series::line(k.clone(), *ci, pts));
        }
        out.push(Figure {
            name: format!("throughput-{cand}"),
            caption: format!("{cand}: rows per second against batch size, per target."),
            svg: thr.render(),
        });
        // Cost, where priced.
        if cs.iter().any(|c| c.usd_per_million.is_some()) {
            let mut cost_chart = Chart::new(
                format!("{cand}: cost per million predictions"),
                "batch size (rows per call)",
                "$ per 1M",
            );
            cost_chart.x_log = true;
            cost_chart.y_log = true;
            cost_chart.y_fmt = usd_tick;
            for (ci, (k, v)) in &by_key {
                let pts = v
                    .iter()
                    .filter_map(|c| Some(point(c, k, c.usd_per_million?)))
                    .collect();
                cost_chart.series.push(Series::line(k.clone(), *ci, pts));
            }
            let verdict = cost::gpu_verdict(&cand, &cs, &cost::Slo::default(), utilization);
            if let Some(b) = verdict.crossover_batch {
                cost_chart.markers.push(Marker {
                    x: b as f64,
                    label: format!("GPU cheaper per row from batch {b}"),
                });
            }
            out.push(Figure {
                name: format!("cost-{cand}"),
                caption: format!(
                    "{cand}: dollars per million predictions against batch size (each machine's price, at {:.0}% utilization). {}.",
                    utilization * 100.0,
                    verdict.explanation
                ),
                svg: cost_chart.render(),
            });
        }
    }
    if let Some(f) = curve_figure(input) {
        out.push(f);
    }
    out.extend(crate::serving::figures(input.served, input.load));
    out
}

/// Score against p99, every valid cell, the two-objective Pareto front joined and labelled.
fn pareto_figure(
    input: &ReportInput,
    multi: bool,
    colour: &dyn Fn(&str) -> usize,
) -> Option<Figure> {
    // p99 where the run measured it; a quick run's cells only have enough samples for p90.
    let valid = || input.cells.iter().filter(|c| c.status == Status::Ok);
    let with_p99 = valid()
        .filter(|c| c.latency_ns.as_ref().is_some_and(|l| l.p99.is_some()))
        .count();
    let with_p90 = valid()
        .filter(|c| c.latency_ns.as_ref().is_some_and(|l| l.p90.is_some()))
        .count();
    let (q, quantile): (&str, fn(&tradeoff_core::harness::Latency) -> Option<f64>) =
        if with_p99 * 2 >= with_p90 {
            ("p99", |l| l.p99_for_budget())
        } else {
            ("p90", |l| l.p90.map(|v| l.single_call_max(v)))
        };
    let pts: Vec<(&CellRecord, f64, f64)> = valid()
        .filter_map(|c| Some((c, quantile(c.latency_ns.as_ref()?)?, c.primary_score()?)))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let metric = &pts[0].0.primary_metric;
    // Higher score is better for every primary metric tradeoff uses (accuracy, R²).
    let dominated = |a: &(&CellRecord, f64, f64)| {
        pts.iter()
            .any(|b| b.1 <= a.1 && b.2 >= a.2 && (b.1 < a.1 || b.2 > a.2))
    };
    let mut front: Vec<&(&CellRecord, f64, f64)> = pts.iter().filter(|p| !dominated(p)).collect();
    front.sort_by(|a, b| a.1.total_cmp(&b.1));
    let rec = input.recommendation;
    let is_rec = |c: &CellRecord| {
        rec.is_some_and(|r| {
            r.candidate.as_deref() == Some(&c.candidate)
                && r.target.as_deref() == Some(&c.target)
                && r.batch_size == Some(c.batch_size)
                && r.machine
                    .as_deref()
                    .is_none_or(|m| m == crate::machine_label(c))
        })
    };
    let mut chart = Chart::new(
        format!("{metric} against {q} latency (every valid cell)"),
        format!("{q} latency of one call"),
        format!("test {metric}"),
    );
    chart.x_log = true;
    chart.x_fmt = crate::fmt_ns;
    let mut by_key: BTreeMap<usize, (String, Vec<Point>)> = BTreeMap::new();
    for (c, p99, score) in &pts {
        let k = target_key(c, multi);
        let on_front = front.iter().any(|f| std::ptr::eq(f.0, *c));
        let mut p = Point::new(*p99, *score).titled(format!(
            "{}{}{}",
            cell_title(c, &k),
            if on_front { " (Pareto front)" } else { "" },
            if is_rec(c) { " (recommended)" } else { "" }
        ));
        p.highlight = is_rec(c);
        if on_front {
            p.label = Some(format!("{}@{}", c.candidate, c.batch_size));
        }
        by_key
            .entry(colour(&k))
            .or_insert_with(|| (k, Vec::new()))
            .1
            .push(p);
    }
    let mut steps = Vec::new();
    for (i, f) in front.iter().enumerate() {
        if i > 0 {
            steps.push(Point::new(f.1, front[i - 1].2));
        }
        steps.push(Point::new(f.1, f.2));
    }
    let mut line = Series::line("Pareto front", 6, steps);
    line.markers = false;
    line.dashed = true;
    chart.series.push(line);
    for (ci, (k, v)) in by_key {
        chart.series.push(Series::scatter(k, ci, v));
    }
    Some(Figure {
        name: "pareto".into(),
        caption: format!(
            "Test {metric} against {q} latency for every valid (candidate, target, batch) cell{}; where calls were timed in groups, the point is the most a single call's {q} can be (the group's total), as latency budgets use it. The dashed line joins the Pareto front (no other cell is both faster and better), labelled; the ringed point is the recommendation.",
            if q == "p90" { " (p90: the cells have too few samples for p99; the recommendation uses p99 where it exists)" } else { "" }
        ),
        svg: chart.render(),
    })
}

/// Learning curves: cross-validated score against training rows, the power-law fit
/// extended to 10x the data, and its bootstrap band.
fn curve_figure(input: &ReportInput) -> Option<Figure> {
    let ok: Vec<&CurvePoint> = input
        .curve_points
        .iter()
        .filter(|p| p.status == Status::Ok && p.fit.cv_score.is_some())
        .collect();
    if ok.is_empty() {
        return None;
    }
    let metric = ok[0].primary_metric.clone();
    let mut cands: Vec<String> = Vec::new();
    for p in &ok {
        if !cands.contains(&p.candidate) {
            cands.push(p.candidate.clone());
        }
    }
    let mut chart = Chart::new(
        format!("learning curves: cv {metric} against training rows"),
        "rows each fold's model trained on",
        format!("cv {metric}"),
    );
    chart.x_log = true;
    for (ci, cand) in cands.iter().enumerate() {
        let mut pts: Vec<&&CurvePoint> = ok.iter().filter(|p| &p.candidate == cand).collect();
        pts.sort_by_key(|p| p.train_rows);
        // The x axis is what the scored models trained on (a fold's model sees the size less
        // that fold); files before version 4 lack it and show the size.
        let rows = |p: &CurvePoint| p.cv_train_rows.unwrap_or(p.train_rows as f64);
        let series: Vec<Point> = pts
            .iter()
            .map(|p| {
                let cv = p.fit.cv_score.as_ref().expect("filtered above");
                Point::new(rows(p), cv.mean).titled(format!(
                    "{cand} at {} rows ({:.0} per fold's model): cv {:.4} (SE {:.4})",
                    p.train_rows,
                    rows(p),
                    cv.mean,
                    cv.standard_error()
                ))
            })
            .collect();
        chart.series.push(Series::line(cand.clone(), ci, series));
        let analysis = input
            .curve_fits
            .iter()
            .rev()
            .find(|f| &f.candidate == cand)
            .and_then(|f| f.analysis.as_ref());
        if let (Some(a), Some(first), Some(last)) = (analysis, pts.first(), pts.last()) {
            let (n0, n) = (rows(first), rows(last));
            let fit: Vec<Point> = (0..=24)
                .map(|i| {
                    let x = n0 * (10.0 * n / n0).powf(i as f64 / 24.0);
                    Point::new(x, a.fit.predict(x))
                })
                .collect();
            let mut s = Series::line("", ci, fit);
            s.dashed = true;
            s.markers = false;
            chart.series.push(s);
            let at_n = a.fit.predict(n);
            chart.bands.push(Band {
                colour: ci,
                points: vec![
                    (n, at_n, at_n),
                    (a.at_2x.rows, a.at_2x.low, a.at_2x.high),
                    (a.at_10x.rows, a.at_10x.low, a.at_10x.high),
                ],
                title: format!(
                    "{cand}: at 10x the data {:.4} (90% band {:.4} to {:.4}){}",
                    a.at_10x.value,
                    a.at_10x.low,
                    a.at_10x.high,
                    if a.plateaued { ", plateaued" } else { "" }
                ),
            });
        }
    }
    Some(Figure {
        name: "learning-curves".into(),
        caption: format!(
            "Cross-validated {metric} against training rows (same folds and protocol at every size). Dashed: the power-law fit extended to 10x the data; shaded: its 5-95% bootstrap band."
        ),
        svg: chart.render(),
    })
}

/// GPU verdict lines, one per candidate with a measured cell.
fn verdicts(cells: &[CellRecord]) -> Vec<String> {
    let utilization = cells
        .iter()
        .find_map(|c| c.utilization)
        .unwrap_or(cost::DEFAULT_UTILIZATION);
    candidates(cells)
        .into_iter()
        .filter_map(|cand| {
            let cs: Vec<&CellRecord> = cells
                .iter()
                .filter(|c| c.candidate == cand && c.batch_size > 0)
                .collect();
            if cs.is_empty() {
                return None;
            }
            let v = cost::gpu_verdict(&cand, &cs, &cost::Slo::default(), utilization);
            Some(format!("{cand}: {}", v.explanation))
        })
        .collect()
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1240px;color:#1a1a1a;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
.context{color:#555;margin:2px 0}.rec{background:#f3f8fc;border-left:4px solid #0072B2;padding:10px 14px;margin:16px 0}
.rec p{margin:4px 0}.rec ul{margin:6px 0 0 0}
.grid{display:flex;flex-wrap:wrap;gap:14px}figure{margin:0;border:1px solid #e2e2e2;padding:6px;background:#fff}
figcaption{font-size:12px;color:#555;max-width:560px;margin-top:4px}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
td,th{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}td.l,th.l{text-align:left}
th{background:#f5f5f5}td.invalid{color:#999;background:#f7f7f7}.notes{font-size:12.5px;color:#444}
.sw{color:#b00020}.scroll{overflow-x:auto}footer{margin-top:32px;color:#777;font-size:12px}";

/// Runs in the browser after load: every plot must have drawn something with a size.
/// The verdict goes on `<html data-plots>` and, when something failed, to the console as an
/// error, which is what the headless-browser check in CI looks for.
const CHECK: &str = "(function(){var bad=[],n=0;document.querySelectorAll('svg.plot').forEach(function(s,i){n++;var b=s.getBBox();var g=s.querySelectorAll('.series');if(!(b.width>0&&b.height>0)||g.length===0){bad.push(i)}});var v=bad.length?'fail '+bad.join(','):'ok '+n;document.documentElement.setAttribute('data-plots',v);if(bad.length){console.error('tradeoff report: plots that did not render: '+bad.join(','))}})();";

fn html_table(t: &crate::Table, left: usize) -> String {
    let mut s = String::from("<div class=\"scroll\"><table>");
    for (i, (line, marks)) in t.lines.iter().zip(&t.marks).enumerate() {
        s.push_str("<tr>");
        for (c, v) in line.iter().enumerate() {
            let tag = if i == 0 { "th" } else { "td" };
            let mut class = Vec::new();
            if c < left {
                class.push("l");
            }
            let mark = marks.get(c).and_then(|m| m.as_ref());
            if mark.is_some() {
                class.push("invalid");
            }
            let _ = write!(
                s,
                "<{tag}{}{}>{}</{tag}>",
                if class.is_empty() {
                    String::new()
                } else {
                    format!(" class=\"{}\"", class.join(" "))
                },
                mark.map_or(String::new(), |m| format!(" title=\"{}\"", esc(m))),
                esc(v)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></div>");
    s
}

fn software_notes(cells: &[CellRecord]) -> Vec<String> {
    cells
        .iter()
        .filter(|c| c.device_kind == DeviceKind::SoftwareGpu)
        .map(|c| format!("{} ran on {}", c.target, c.device))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The HTML report, one self-contained file.
pub fn html(input: &ReportInput) -> String {
    let figs = figures(input);
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&input.title)
    );
    let _ = write!(s, "<h1>{}</h1>", esc(&input.title));
    for c in &input.context {
        let _ = write!(s, "<p class=\"context\">{}</p>", esc(c));
    }
    if let Some(r) = input.recommendation {
        let para = r.paragraph();
        let mut lines = para.lines();
        let _ = write!(
            s,
            "<div class=\"rec\"><p><strong>{}</strong></p><ul>",
            esc(lines.next().unwrap_or_default())
        );
        for l in lines {
            let _ = write!(
                s,
                "<li>{}</li>",
                esc(l.trim_start().trim_start_matches("- "))
            );
        }
        s.push_str("</ul></div>");
    }
    let sw = software_notes(input.cells);
    if !sw.is_empty() {
        s.push_str("<p class=\"sw\"><strong>[sw] software adapters are not GPUs.</strong> ");
        s.push_str(&esc(&sw.join("; ")));
        s.push_str(": a CPU implementation of a GPU API; its timings are CPU timings.</p>");
    }
    let v = verdicts(input.cells);
    if !v.is_empty() {
        s.push_str("<h2>Is a GPU worth it?</h2><ul>");
        for l in v {
            let _ = write!(s, "<li>{}</li>", esc(&l));
        }
        s.push_str("</ul>");
    }
    if !figs.is_empty() {
        s.push_str("<h2>Plots</h2><div class=\"grid\">");
        for f in &figs {
            let _ = write!(
                s,
                "<figure id=\"{}\">{}<figcaption>{}</figcaption></figure>",
                esc(&f.name),
                f.svg,
                esc(&f.caption)
            );
        }
        s.push_str("</div>");
    }
    if !input.served.is_empty() {
        let _ = write!(
            s,
            "<h2>Serving under load</h2><pre>{}</pre>",
            esc(crate::serving::tables(input.served, input.load).trim_start())
        );
    }
    if !input.cells.is_empty() {
        let batches = crate::batch_sizes_of(input.cells);
        let t = crate::cell_table(input.cells, &batches);
        s.push_str("<h2>Cells</h2>");
        s.push_str(&html_table(&t, 2));
        s.push_str("<p class=\"notes\">Greyed cells are not valid measurements; hover for the reason. * marks figures of invalid cells, kept visible so the cost of a noisy or wrong answer shows.</p>");
        if !t.notes.is_empty() {
            s.push_str("<ol class=\"notes\">");
            for n in &t.notes {
                let _ = write!(s, "<li>{}</li>", esc(n));
            }
            s.push_str("</ol>");
        }
        let phases = crate::phases(input.cells);
        if !phases.is_empty() {
            let _ = write!(s, "<h2>Device phases</h2><pre>{}</pre>", esc(phases.trim()));
        }
    }
    if !input.curve_points.is_empty() {
        let metric = input.curve_points[0].primary_metric.clone();
        let _ = write!(
            s,
            "<h2>Learning curves</h2><pre>{}\n{}</pre>",
            esc(&crate::curve::points_table(input.curve_points, &metric)),
            esc(&crate::curve::fits_table(input.curve_fits, &metric))
        );
    }
    let _ = writeln!(
        s,
        "<footer>{}; no network access needed: every plot is inline SVG.</footer><script>{CHECK}</script></body></html>",
        esc(&input.generator)
    );
    s
}

/// The Markdown report; its figures are referenced as `NAME.svg`, written beside it.
pub fn markdown(input: &ReportInput, figs: &[Figure]) -> String {
    let mut s = format!("# {}\n\n", input.title);
    for c in &input.context {
        let _ = writeln!(s, "{c}  ");
    }
    if let Some(r) = input.recommendation {
        let para = r.paragraph();
        let mut lines = para.lines();
        let _ = writeln!(s, "\n**{}**\n", lines.next().unwrap_or_default());
        for l in lines {
            let _ = writeln!(s, "- {}", l.trim_start().trim_start_matches("- "));
        }
    }
    let sw = software_notes(input.cells);
    if !sw.is_empty() {
        let _ = writeln!(
            s,
            "\n**[sw] software adapters are not GPUs**: {}; their timings are CPU timings.",
            sw.join("; ")
        );
    }
    let v = verdicts(input.cells);
    if !v.is_empty() {
        s.push_str("\n## Is a GPU worth it?\n\n");
        for l in v {
            let _ = writeln!(s, "- {l}");
        }
    }
    if !figs.is_empty() {
        s.push_str("\n## Plots\n\n");
        for f in figs {
            let _ = writeln!(s, "![{}]({}.svg)\n\n{}\n", f.name, f.name, f.caption);
        }
    }
    if !input.served.is_empty() {
        let _ = write!(
            s,
            "\n## Serving under load\n\n```\n{}```\n",
            crate::serving::tables(input.served, input.load).trim_start()
        );
    }
    if !input.cells.is_empty() {
        let batches = crate::batch_sizes_of(input.cells);
        s.push_str("\n## Cells\n\n");
        s.push_str(&crate::markdown_table(input.cells, &batches));
        let phases = crate::phases(input.cells);
        if !phases.is_empty() {
            let _ = write!(s, "\n## Device phases\n\n```\n{}\n```\n", phases.trim());
        }
    }
    if !input.curve_points.is_empty() {
        let metric = input.curve_points[0].primary_metric.clone();
        let _ = write!(
            s,
            "\n## Learning curves\n\n```\n{}\n{}```\n",
            crate::curve::points_table(input.curve_points, &metric),
            crate::curve::fits_table(input.curve_fits, &metric)
        );
    }
    let _ = writeln!(s, "\n_{}_", input.generator);
    s
}
