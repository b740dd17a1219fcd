//! Reports: `tradeoff report`, and the report `run`, `curve` and `merge` write by default
//! (report.html, report.md with its SVG plots, cells.csv).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Result;
use tradeoff_core::record::{CellRecord, CurvePoint, Manifest, ServingRecord};
use tradeoff_ir::Error;
use tradeoff_report::cost::Recommendation;
use tradeoff_report::curve::CurveFitRecord;
use tradeoff_report::html::{self, ReportInput};
use tradeoff_report::record::Record;

use crate::cli::{ReportArgs, ReportFormat};

/// What a report is made of.
#[derive(Default)]
pub struct Records {
    pub cells: Vec<CellRecord>,
    pub curve_points: Vec<CurvePoint>,
    pub curve_fits: Vec<CurveFitRecord>,
    pub recommendation: Option<Recommendation>,
    /// Serving records (`run --scenarios`) of the kept runs.
    pub served: Vec<ServingRecord>,
    pub context: Vec<String>,
}

impl Records {
    /// The traffic and headroom the recommendation was placed at, where it was.
    pub fn load(&self) -> tradeoff_report::serving::Load {
        match self
            .recommendation
            .as_ref()
            .and_then(|r| r.serving.as_ref())
        {
            Some(at) => tradeoff_report::serving::Load {
                traffic: Some(tradeoff_report::serving::Traffic {
                    lo: at.traffic_lo_rows_per_s,
                    hi: at.traffic_rows_per_s,
                }),
                headroom: at.headroom,
            },
            None => tradeoff_report::serving::Load::default(),
        }
    }

    pub fn input(&self, title: &str) -> ReportInput<'_> {
        ReportInput {
            title: title.to_string(),
            context: self.context.clone(),
            cells: &self.cells,
            curve_points: &self.curve_points,
            curve_fits: &self.curve_fits,
            recommendation: self.recommendation.as_ref(),
            served: &self.served,
            load: self.load(),
            generator: generator(),
        }
    }
}

pub fn generator() -> String {
    format!(
        "tradeoff {}{}",
        env!("CARGO_PKG_VERSION"),
        match env!("TRADEOFF_GIT_COMMIT") {
            "" => String::new(),
            c => format!(" ({c})"),
        }
    )
}

/// The lines under a report's title, from a run's manifest.
pub fn context(m: &Manifest) -> Vec<String> {
    let p = &m.protocol;
    vec![
        format!(
            "{} of {}: {} task, {} rows x {} features (train {} / test {}), primary metric {}",
            m.command, m.dataset, m.task, m.rows, m.features, m.train_rows, m.test_rows, m.primary_metric
        ),
        format!(
            "Same for every candidate: seed {}, {} folds, {} random-search trials, {} s tuning cap; data {} folds {}",
            m.seed, p.folds, p.trials, p.time_cap_seconds, m.data_hash, m.fold_hash
        ),
        format!(
            "Machine: {} ({} cores), {}; run {}",
            m.machine.cpu_model, m.machine.cores, m.machine.os, m.run_id
        ),
    ]
}

/// Writes report.html, report.md with one SVG per plot, and cells.csv (when there are
/// cells) into `dir`; returns the HTML report's path.
pub fn write_all(dir: &Path, input: &ReportInput) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::write(&path, e))
    };
    let figs = html::figures(input);
    for f in &figs {
        write(&format!("{}.svg", f.name), &f.svg)?;
    }
    write("report.md", &html::markdown(input, &figs))?;
    if !input.cells.is_empty() {
        write("cells.csv", &tradeoff_report::cells_csv(input.cells))?;
    }
    write("report.html", &html::html(input))?;
    Ok(dir.join("report.html"))
}

/// `report --out DIR` writes only report files (report.html, report.md, report.txt,
/// cells.csv, SVG plots), never results or manifests; an input that is one of those files in
/// DIR would be overwritten, so that is refused.
fn refuse_overwriting_inputs(dir: &Path, files: &[PathBuf]) -> Result<(), Error> {
    let Ok(dir) = dir.canonicalize() else {
        return Ok(()); // A new directory holds no input.
    };
    for f in files {
        let Ok(file) = f.canonicalize() else {
            continue; // Reading it names the problem.
        };
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
        let written = name.as_deref().is_some_and(|n| {
            matches!(n, "report.html" | "report.md" | "report.txt" | "cells.csv")
                || n.ends_with(".svg")
        });
        if written && file.parent() == Some(dir.as_path()) {
            return Err(Error::option(
                "--out",
                dir.display().to_string(),
                format!(
                    "the report would overwrite its input {}; choose another --out",
                    f.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Reads the records of results files. A file that holds several runs (results.jsonl is
/// appended to) contributes its latest `run` and latest `curve` unless `all_runs`; merged
/// files are read whole. Notes on what was left out go to `notes`.
pub fn load(files: &[PathBuf], all_runs: bool, notes: &mut Vec<String>) -> Result<Records> {
    let mut out = Records::default();
    for f in files {
        let recs = tradeoff_report::record::read(f, notes)?;
        let merged = recs
            .iter()
            .any(|(_, r)| matches!(r, Record::Recommendation(_)) && r.run_id() == "merged");
        let last_run_of = |wanted: fn(&Record) -> bool| {
            recs.iter()
                .rev()
                .find(|(_, r)| wanted(r))
                .map(|(_, r)| r.run_id().to_string())
        };
        let is_cell = |r: &Record| matches!(r, Record::Cell(_));
        let is_point = |r: &Record| matches!(r, Record::CurvePoint(_));
        let keep: Vec<String> = [last_run_of(is_cell), last_run_of(is_point)]
            .into_iter()
            .flatten()
            .collect();
        // The kept `run` of a file without its recommendation was cut short.
        let finished: BTreeSet<String> = recs
            .iter()
            .filter(|(_, r)| matches!(r, Record::Recommendation(_)))
            .map(|(_, r)| r.run_id().to_string())
            .collect();
        let run_cells = last_run_of(is_cell).filter(|id| !merged && !finished.contains(id));
        let mut dropped = std::collections::BTreeSet::new();
        for (_, r) in recs {
            if !(all_runs || merged || keep.iter().any(|k| k == r.run_id())) {
                if is_cell(&r) || is_point(&r) {
                    dropped.insert(r.run_id().to_string());
                }
                continue;
            }
            match r {
                Record::Cell(c) => out.cells.push(*c),
                Record::CurvePoint(p) => out.curve_points.push(*p),
                Record::CurveFit(fit) => out.curve_fits.push(*fit),
                Record::Recommendation(rec) => out.recommendation = Some(rec.recommendation),
                Record::Serving(r) => out.served.push(*r),
                Record::StreamStep(_) | Record::StreamSummary(_) => {}
            }
        }
        if !dropped.is_empty() {
            notes.push(format!(
                "{}: reporting its latest run ({}); {} earlier runs left out (--all-runs keeps them)",
                f.display(),
                keep.join(", "),
                dropped.len()
            ));
        }
        let manifest = std::fs::read_to_string(f.with_file_name("manifest.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Manifest>(&t).ok());
        if let Some(id) = &run_cells {
            let missing: Vec<&String> = manifest
                .iter()
                .filter(|m| &m.run_id == id && m.command == "run")
                .flat_map(|m| &m.candidates)
                .filter(|c| {
                    !out.cells
                        .iter()
                        .any(|r| &r.run_id == id && &r.candidate == *c)
                })
                .collect();
            notes.push(format!(
                "{}: run {id} is incomplete (no recommendation recorded: it was interrupted \
                 or is still running){}; `tradeoff run --resume {}` finishes it",
                f.display(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; candidates with no cell yet: {}",
                        missing
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                f.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or(".".into(), |p| p.display().to_string())
            ));
        }
        if files.len() == 1 {
            if let Some(m) = manifest.filter(|m| keep.contains(&m.run_id)) {
                out.context = context(&m);
            }
        }
    }
    let names = || {
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if out.cells.is_empty() && out.curve_points.is_empty() {
        return Err(Error::Data {
            what: names(),
            detail: "no cell records and no curve points (is it a results.jsonl from `tradeoff run`, `curve` or `merge`?)".into(),
        }
        .into());
    }
    // One table is one dataset: runs of different data (or splits) do not share it.
    let mut datasets: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for c in out.cells.iter().filter(|c| !c.run_id.starts_with("merged")) {
        datasets
            .entry((c.data_hash.as_str(), c.fold_hash.as_str()))
            .or_default()
            .insert(c.run_id.as_str());
    }
    if datasets.len() > 1 {
        let detail = datasets
            .iter()
            .map(|((d, f), runs)| {
                let runs: Vec<&str> = runs.iter().copied().collect();
                format!("data {d} / folds {f}: runs {}", runs.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Data {
            what: names(),
            detail: format!(
                "the runs used different data or splits, so one table would mix them \
                 ({detail}); report each run alone (without --all-runs) or its own file"
            ),
        }
        .into());
    }
    if files.len() > 1 {
        out.recommendation = None;
        out.context = vec![format!(
            "Cells of {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )];
    }
    Ok(out)
}

/// The report that `run`, `curve` and `merge` write into their output directory, from its
/// results.jsonl (the latest run and the latest curve in it); prints where it went.
/// The report `run`, `curve` and `merge` end with, unless `--no-report`: its HTML path.
pub fn write_unless(no_report: bool, dir: &Path) -> Result<Option<PathBuf>> {
    if no_report {
        return Ok(None);
    }
    write_for(dir).map(Some)
}

/// Writes the report of `dir/results.jsonl` into `dir`; returns the HTML report's path.
pub fn write_for(dir: &Path) -> Result<PathBuf> {
    let mut notes = Vec::new();
    let recs = load(&[dir.join("results.jsonl")], false, &mut notes)?;
    let path = write_all(dir, &recs.input("tradeoff report"))?;
    say!("report    {} (and report.md, cells.csv)", path.display());
    Ok(path)
}

pub fn report(args: ReportArgs) -> Result<u8> {
    if let Some(dir) = &args.out {
        refuse_overwriting_inputs(dir, &args.files)?;
    }
    let mut notes = Vec::new();
    let recs = load(&args.files, args.all_runs, &mut notes)?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let input = recs.input("tradeoff report");
    let batch_sizes = tradeoff_report::batch_sizes_of(&recs.cells);
    let text = |format: ReportFormat| -> (String, &str) {
        match format {
            ReportFormat::Text => {
                let mut t = tradeoff_report::table(&recs.cells, &batch_sizes);
                t.push_str(&tradeoff_report::serving::tables(&recs.served, recs.load()));
                if !recs.curve_points.is_empty() {
                    let metric = &recs.curve_points[0].primary_metric;
                    t.push_str(&tradeoff_report::curve::points_table(
                        &recs.curve_points,
                        metric,
                    ));
                    t.push_str(&tradeoff_report::curve::fits_table(
                        &recs.curve_fits,
                        metric,
                    ));
                }
                if let Some(r) = &recs.recommendation {
                    t.push_str(&format!("\n{}\n", r.paragraph()));
                }
                (t, "report.txt")
            }
            ReportFormat::Md => (html::markdown(&input, &[]), "report.md"),
            ReportFormat::Csv => (tradeoff_report::cells_csv(&recs.cells), "cells.csv"),
            ReportFormat::Html => (html::html(&input), "report.html"),
        }
    };
    match (&args.out, args.format) {
        (Some(dir), None) => {
            let path = write_all(dir, &input)?;
            println!("report    {}", path.display());
        }
        (Some(dir), Some(ReportFormat::Md)) => {
            // Markdown with its plots beside it.
            std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
            let figs = html::figures(&input);
            for f in &figs {
                let path = dir.join(format!("{}.svg", f.name));
                std::fs::write(&path, &f.svg).map_err(|e| Error::write(&path, e))?;
            }
            let path = dir.join("report.md");
            std::fs::write(&path, html::markdown(&input, &figs))
                .map_err(|e| Error::write(&path, e))?;
            println!(
                "report    {} ({} plots beside it)",
                path.display(),
                figs.len()
            );
        }
        (Some(dir), Some(format)) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
            let (t, name) = text(format);
            let path = dir.join(name);
            std::fs::write(&path, t).map_err(|e| Error::write(&path, e))?;
            println!("report    {}", path.display());
        }
        (None, format) => print!("{}", text(format.unwrap_or(ReportFormat::Text)).0),
    }
    Ok(0)
}
