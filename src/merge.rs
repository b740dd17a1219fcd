//! `tradeoff merge`: several runs (machines, instances, repeats) into one cross-hardware table.
//!
//! Runs must share the data and fold hashes, or their scores are not comparable; the merge
//! refuses otherwise unless told. Cells repeated on the same machine, instance, target and
//! batch size merge their HDR histograms: the merged percentiles are those of all samples.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use tradeoff_core::harness::merge_latencies;
use tradeoff_core::record::{CellRecord, RecordWriter, Status, SCHEMA_VERSION};
use tradeoff_ir::Error;
use tradeoff_report::cost;
use tradeoff_report::record::Record;

use crate::cli::MergeArgs;
use crate::common::read_results;
use crate::conclude::{conclude, recommendation_record};
use crate::pricing::Pricing;

/// Merges repeats of one cell (same candidate, parameters, machine, price, target, batch
/// size and timing rule). Every repeat counts: the histograms of all measured repeats are
/// pooled, and the merged verdict is rebuilt from the parts' own, so one invalid repeat makes
/// the merged cell invalid, its reasons naming the run.
fn merge_group(group: &[CellRecord]) -> Result<CellRecord, Error> {
    let mut base = group[0].clone();
    // Every record a merge writes says so, a cell of one run too: the runs it comes from.
    base.run_id = format!("merged({})", group.len());
    base.merged_from = group.iter().flat_map(CellRecord::source_runs).collect();
    if group.len() == 1 {
        return Ok(base);
    }
    let mut reasons = Vec::new();
    for part in group {
        let run = part.source_runs().join(", ");
        match (&part.verdict, part.status) {
            (_, Status::Ok) => {}
            (Some(v), _) if !v.reasons.is_empty() => {
                reasons.extend(v.reasons.iter().map(|r| format!("{r} (run {run})")));
            }
            (_, status) => reasons.push(format!(
                "{} (run {run}): {}",
                status.as_str(),
                part.reason.as_deref().unwrap_or("no reason given")
            )),
        }
    }
    base.parity_max_abs_err = group
        .iter()
        .filter_map(|c| c.parity_max_abs_err)
        .reduce(f64::max);
    let lats: Vec<_> = group.iter().filter_map(|c| c.latency_ns.as_ref()).collect();
    base.reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    if lats.is_empty() {
        // Nothing was measured in any repeat: the first one's status stands, with every
        // repeat's reason.
        return Ok(base);
    }
    let merged = merge_latencies(&lats)?;
    // Throughput from the merged mean latency: rows per call over time per call.
    let rps = base.batch_size as f64 * 1e9 / merged.mean;
    base.status = if reasons.is_empty() {
        Status::Ok
    } else {
        Status::Invalid
    };
    let mut not_checked: Vec<String> = Vec::new();
    for part in group.iter().filter_map(|c| c.verdict.as_ref()) {
        for n in &part.not_checked {
            if !not_checked.contains(n) {
                not_checked.push(n.clone());
            }
        }
    }
    base.verdict = Some(tradeoff_core::harness::Verdict {
        valid: reasons.is_empty(),
        reasons,
        not_checked,
    });
    base.throughput_rows_per_s = rps.is_finite().then_some(rps);
    base.usd_per_million = match (base.usd_per_hour, base.throughput_rows_per_s) {
        (Some(usd), Some(r)) => cost::usd_per_million(usd, r, base.utilization.unwrap_or(1.0)),
        _ => None,
    };
    base.absent.retain(|k, _| !k.starts_with("latency_ns."));
    for (name, min) in [
        ("p90", tradeoff_core::harness::MIN_SAMPLES_P90),
        ("p99", tradeoff_core::harness::MIN_SAMPLES_P99),
        ("p999", tradeoff_core::harness::MIN_SAMPLES_P999),
    ] {
        if merged.n < min {
            base.absent.insert(
                format!("latency_ns.{name}"),
                format!(
                    "insufficient samples ({} < {min} needed for {name})",
                    merged.n
                ),
            );
        }
    }
    base.latency_ns = Some(merged);
    Ok(base)
}

/// The cell a record measured, whatever run it came from.
type CellKey = (u32, String, String, String, usize);

fn cell_key(c: &CellRecord) -> CellKey {
    (
        c.ladder_rank,
        c.candidate.clone(),
        tradeoff_report::machine_label(c),
        c.target.clone(),
        c.batch_size,
    )
}

/// Parameters (as JSON), group size, measured in a child process.
type RepeatKey = (String, usize, bool);

/// What must also agree for two records of one cell to be repeats of one measurement: the
/// model's parameters, how calls were timed (singly, or in groups of how many) and in which
/// process (the run's, or a child of its own: `--isolate`).
fn repeat_key(c: &CellRecord) -> RepeatKey {
    (
        serde_json::to_string(&c.fit.params).unwrap_or_default(),
        c.latency_ns.as_ref().map_or(0, |l| l.group_size),
        c.isolated,
    )
}

/// Refuses records of one cell that come from the same run twice (the same file given
/// twice, or a merge's output merged again with one of its inputs): pooling them would count
/// the same samples twice.
fn check_runs_once(
    cells: &[(CellRecord, usize)],
    files: &[std::path::PathBuf],
) -> Result<(), Error> {
    let mut seen: BTreeMap<(CellKey, String), usize> = BTreeMap::new();
    for (c, file) in cells {
        for run in c.source_runs() {
            if let Some(first) = seen.insert((cell_key(c), run.clone()), *file) {
                return Err(Error::Data {
                    what: "merge".into(),
                    detail: format!(
                        "run {run}'s {} on {} at batch {} is in the inputs twice ({} and {}); \
                         merging it twice would count its samples twice: give each run once",
                        c.candidate,
                        c.target,
                        c.batch_size,
                        files[first].display(),
                        files[*file].display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Refuses an output directory whose results a merge would replace: one that already holds
/// a `results.jsonl` or `manifest.json` (unless `force`), and, even with `force`, one whose
/// `results.jsonl` is one of the inputs.
fn check_out(out: &Path, inputs: &[std::path::PathBuf], force: bool) -> Result<(), Error> {
    let results = out.join("results.jsonl");
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(input) = inputs.iter().find(|f| same(f, &results)) {
        return Err(Error::option(
            "--out",
            out.display().to_string(),
            format!(
                "its results.jsonl is the input {}; merging into it would overwrite it; give \
                 a new directory",
                input.display()
            ),
        ));
    }
    let taken: Vec<&str> = ["results.jsonl", "manifest.json"]
        .into_iter()
        .filter(|f| out.join(f).exists())
        .collect();
    if !taken.is_empty() && !force {
        return Err(Error::option(
            "--out",
            out.display().to_string(),
            format!(
                "it already holds {}; give a new or empty directory, or --force to replace them",
                taken.join(" and ")
            ),
        ));
    }
    Ok(())
}

/// One input of a merge as a fleet member: what its run was, whether it finished, how long
/// it ran and what it was priced at; a directory without results is listed too.
fn fleet_entry(
    input: &Path,
    file: Option<&Path>,
    cells: &[CellRecord],
    finished: bool,
    catalog: Option<&cost::Catalog>,
) -> serde_json::Value {
    let Some(file) = file else {
        return serde_json::json!({
            "input": input.display().to_string(),
            "status": "no results",
        });
    };
    let manifest: Option<serde_json::Value> = file
        .parent()
        .map(|d| d.join("manifest.json"))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .filter(|m: &serde_json::Value| m["command"] == "run");
    let first = cells.first();
    let instance = first.and_then(|c| c.instance.clone());
    let usd_per_hour = first.and_then(|c| c.usd_per_hour);
    let price = match (&instance, usd_per_hour) {
        (Some(name), Some(_)) => catalog
            .and_then(|c| c.find(name, "prices.toml").ok().cloned())
            .filter(|p| Some(p.usd_per_hour) == usd_per_hour)
            .map_or_else(
                || "given with the run (not the shipped catalog's)".to_string(),
                |p| match cost::staleness(&p, crate::pricing::today()) {
                    Some(_) => {
                        format!("shipped catalog, recorded {}: stale (over 90 days)", p.date)
                    }
                    None => format!("shipped catalog, recorded {}", p.date),
                },
            ),
        _ => "none: the run was not priced (--instance or --usd-per-hour)".to_string(),
    };
    let m = manifest.as_ref();
    let num = |k: &str| m.and_then(|m| m[k].as_u64());
    let count = |k: &str| m.and_then(|m| m[k].as_array()).map_or(0, Vec::len);
    let (started, ended) = (num("started_unix_s"), num("finished_unix_s"));
    serde_json::json!({
        "input": input.display().to_string(),
        "status": if finished { "complete" } else { "incomplete" },
        "machine": first.map(tradeoff_report::machine_label),
        "instance": instance,
        "usd_per_hour": usd_per_hour,
        "price": price,
        "run_id": first.map(|c| c.run_id.clone()),
        "started_unix_s": started,
        "finished_unix_s": ended,
        "seconds": started.zip(ended).map(|(s, e)| e.saturating_sub(s)),
        "cells": cells.len(),
        "expected_cells": m.map(|_| count("candidates") * count("targets") * count("batch_sizes")),
        "failed_cells": cells.iter().filter(|c| c.status == Status::Failed).count(),
        "invalid_cells": cells.iter().filter(|c| c.status == Status::Invalid).count(),
    })
}

/// The fleet's members: how each run ended, how long it ran, its price; said before the
/// table so that a machine whose run failed or never came back is not silently missing.
fn print_fleet(fleet: &[serde_json::Value]) {
    say!("fleet     {} inputs", fleet.len());
    say_raw!(
        "  {:<28} {:<11} {:>9} {:>14} {:>10}  {}\n",
        "input",
        "status",
        "ran",
        "cells",
        "usd/hour",
        "price"
    );
    for f in fleet {
        let cells = match (f["cells"].as_u64(), f["expected_cells"].as_u64()) {
            (Some(c), Some(e)) => format!("{c} of {e}"),
            (Some(c), None) => c.to_string(),
            _ => "-".into(),
        };
        let failed = f["failed_cells"].as_u64().unwrap_or(0);
        say_raw!(
            "  {:<28} {:<11} {:>9} {:>14} {:>10}  {}{}\n",
            f["input"].as_str().unwrap_or("?"),
            f["status"].as_str().unwrap_or("?"),
            f["seconds"]
                .as_u64()
                .map_or("-".into(), |s| format!("{s} s")),
            cells,
            f["usd_per_hour"]
                .as_f64()
                .map_or("-".into(), |u| format!("{u}")),
            f["price"].as_str().unwrap_or(""),
            if failed > 0 {
                format!("; {failed} cells failed")
            } else {
                String::new()
            }
        );
    }
    let missing: Vec<&str> = fleet
        .iter()
        .filter(|f| f["status"] != "complete")
        .filter_map(|f| f["input"].as_str())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "warning: not every run finished: {} (their cells, if any, are merged; the table \
             has no cells of a run that wrote none)",
            missing.join(", ")
        );
    }
    say!();
}

/// A merge input: a results file, or a directory holding one (`None`: it holds none, a
/// fleet member whose run never wrote or whose results never came back).
fn results_file(input: &Path) -> Option<std::path::PathBuf> {
    if input.is_dir() {
        let f = input.join("results.jsonl");
        f.exists().then_some(f)
    } else {
        Some(input.to_path_buf())
    }
}

pub fn merge(args: MergeArgs) -> Result<u8> {
    let files: Vec<Option<std::path::PathBuf>> =
        args.files.iter().map(|f| results_file(f)).collect();
    let present: Vec<std::path::PathBuf> = files.iter().flatten().cloned().collect();
    if present.is_empty() {
        return Err(Error::Data {
            what: "merge".into(),
            detail: format!(
                "no results.jsonl in {}",
                args.files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
        .into());
    }
    check_out(&args.out, &present, args.force)?;
    let pricing = Pricing::new(None, &args.budgets)?;
    let traffic = args
        .traffic
        .as_deref()
        .map(tradeoff_report::serving::parse_traffic)
        .transpose()?;
    let mut all = Vec::new();
    let mut hashes: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut inputs = Vec::new();
    let mut fleet = Vec::new();
    // Serving records are kept whole, each with its machine and price (and its steps'
    // histograms); repeats on one machine are not pooled.
    let mut served = Vec::new();
    // The shipped catalog, for where each run's price came from.
    let catalog = cost::Catalog::parse(cost::DEFAULT_PRICES, "prices.toml").ok();
    let mut from_file = Vec::new();
    for (input, f) in args.files.iter().zip(&files) {
        let Some(f) = f else {
            fleet.push(fleet_entry(input, None, &[], false, None));
            continue;
        };
        let i = inputs.len();
        let mut damaged = Vec::new();
        let read = read_results(f, &mut damaged)?;
        let cells = read.cells;
        served.extend(read.serving);
        for d in &damaged {
            eprintln!("note: {d}");
        }
        for c in &cells {
            let files = hashes
                .entry((c.data_hash.clone(), c.fold_hash.clone()))
                .or_default();
            let name = f.display().to_string();
            if !files.contains(&name) {
                files.push(name);
            }
        }
        inputs.push(serde_json::json!({
            "file": f.display().to_string(),
            "cells": cells.len(),
            "run_ids": cells.iter().map(|c| c.run_id.clone()).collect::<std::collections::BTreeSet<_>>(),
        }));
        fleet.push(fleet_entry(
            input,
            Some(f),
            &cells,
            read.finished,
            catalog.as_ref(),
        ));
        from_file.extend(cells.iter().map(|c| (c.clone(), i)));
        all.extend(cells);
    }
    check_runs_once(&from_file, &present)?;
    if hashes.len() > 1 && !args.allow_different_data {
        let detail = hashes
            .iter()
            .map(|((d, f), files)| format!("data {d} / folds {f} in {}", files.join(", ")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(Error::Data {
            what: "merge".into(),
            detail: format!(
                "the runs used different data or splits, so their scores do not compare ({detail}); rerun with the same data and --seed, or pass --allow-different-data"
            ),
        }
        .into());
    }
    // Group repeats of the same cell on the same machine and price; records of one cell
    // that differ in parameters or in how calls were timed stay apart, and are named.
    let mut groups: BTreeMap<CellKey, BTreeMap<RepeatKey, Vec<CellRecord>>> = BTreeMap::new();
    for c in all {
        groups
            .entry(cell_key(&c))
            .or_default()
            .entry(repeat_key(&c))
            .or_default()
            .push(c);
    }
    let mut merged = Vec::new();
    for ((_, cand, machine, target, batch), variants) in &groups {
        if variants.len() > 1 {
            let kinds: Vec<String> = variants
                .iter()
                .map(|((params, group, isolated), cs)| {
                    format!(
                        "runs {}: parameters {params}, {}{}",
                        cs.iter()
                            .flat_map(CellRecord::source_runs)
                            .collect::<Vec<_>>()
                            .join(", "),
                        match group {
                            0 => "not measured".to_string(),
                            1 => "calls timed singly".to_string(),
                            g => format!("calls timed in groups of {g}"),
                        },
                        if *isolated {
                            ", in a child process"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            eprintln!(
                "note: {cand} on {target} at batch {batch} ({machine}) not pooled: the runs \
                 differ ({}); kept as separate cells",
                kinds.join("; ")
            );
        }
        for g in variants.values() {
            merged.push(merge_group(g)?);
        }
    }
    let batch_sizes = tradeoff_report::batch_sizes_of(&merged);
    print_fleet(&fleet);

    // A merge is derived data: its results.jsonl is rewritten, not appended to.
    let mut writer = RecordWriter::create(&args.out)?;
    for c in &merged {
        writer
            .write(&Record::Cell(Box::new(c.clone())))
            .context("writing merged records")?;
    }
    let machines: std::collections::BTreeSet<String> =
        merged.iter().map(tradeoff_report::machine_label).collect();
    say!(
        "merged    {} files, {} cells, {} machine/price combinations",
        present.len(),
        merged.len(),
        machines.len()
    );
    for m in &machines {
        say!("  {m}");
    }
    for r in &served {
        writer
            .write(&Record::Serving(Box::new(r.clone())))
            .context("writing merged records")?;
    }
    // What the serving tables and the recommendation compare: records of one budget, and
    // which machines have none.
    let wanted = pricing
        .budgets
        .slo
        .is_set()
        .then(|| pricing.budgets.slo.budget());
    let (served, left_out) = tradeoff_report::serving::under_one_budget(served, wanted);
    if let Some(note) = left_out {
        say!("note: {note}");
    }
    if !served.is_empty() {
        let unserved: std::collections::BTreeSet<String> = merged
            .iter()
            .filter(|c| {
                !served
                    .iter()
                    .any(|r| r.machine == c.machine && r.instance == c.instance)
            })
            .map(tradeoff_report::machine_label)
            .collect();
        if !unserved.is_empty() {
            say!(
                "note: no serving records (run --scenarios) from {}: not in the serving comparison",
                unserved.into_iter().collect::<Vec<_>>().join(", ")
            );
        }
    }
    say!();
    say_raw!("{}", tradeoff_report::table(&merged, &batch_sizes));
    let load = tradeoff_report::serving::Load {
        traffic,
        headroom: pricing.headroom,
    };
    say_raw!("{}", tradeoff_report::serving::tables(&served, load));
    let rec = conclude(&merged, &served, traffic, &pricing);
    writer.write(&recommendation_record(&rec, "merged"))?;
    let manifest = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "command": "merge",
        "inputs": inputs,
        "hashes": hashes.keys().map(|(d, f)| serde_json::json!({"data_hash": d, "fold_hash": f})).collect::<Vec<_>>(),
        "allow_different_data": args.allow_different_data,
        "machines": machines,
        "fleet": fleet,
    });
    let path = args.out.join("manifest.json");
    tradeoff_core::record::write_atomically(
        &path,
        &(serde_json::to_string_pretty(&manifest)? + "\n"),
    )?;
    say!(
        "\nresults   {}, manifest {}",
        writer.path().display(),
        path.display()
    );
    let report = crate::report::write_unless(args.no_report, &args.out)?;
    if args.json {
        crate::ui::print_json(&crate::conclude::summary_json(
            "merge",
            &merged,
            Some(&rec),
            serde_json::json!({
                "inputs": args.files,
                "results": writer.path(),
                "manifest": path,
                "report": report,
            }),
            0,
        ));
    }
    Ok(0)
}
