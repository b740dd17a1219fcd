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
use tradeoff_core::Error;
use tradeoff_report::cost;

use crate::cli::MergeArgs;
use crate::common::read_results;
use crate::conclude::{conclude, recommendation_record};
use crate::pricing::Pricing;

/// Merges repeats of one cell.
fn merge_group(group: &[CellRecord]) -> Result<CellRecord, Error> {
    let mut base = group[0].clone();
    if group.len() == 1 {
        return Ok(base);
    }
    let valid: Vec<&CellRecord> = group
        .iter()
        .filter(|c| c.status == Status::Ok && c.latency_ns.is_some())
        .collect();
    base.run_id = format!("merged({})", group.len());
    if valid.is_empty() {
        return Ok(base);
    }
    let lats: Vec<_> = valid.iter().filter_map(|c| c.latency_ns.as_ref()).collect();
    let merged = merge_latencies(&lats)?;
    // Throughput from the merged mean latency: rows per call over time per call.
    let rps = base.batch_size as f64 * 1e9 / merged.mean;
    base.status = Status::Ok;
    base.reason = None;
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

pub fn merge(args: MergeArgs) -> Result<u8> {
    check_out(&args.out, &args.files, args.force)?;
    let pricing = Pricing::new(None, &args.budgets)?;
    let mut all = Vec::new();
    let mut hashes: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut inputs = Vec::new();
    for f in &args.files {
        let mut damaged = Vec::new();
        let cells = read_results(f, &mut damaged)?;
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
        all.extend(cells);
    }
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
    // Group repeats of the same cell on the same machine and price.
    let mut groups: BTreeMap<(u32, String, String, String, usize), Vec<CellRecord>> =
        BTreeMap::new();
    for c in all {
        let key = (
            c.ladder_rank,
            c.candidate.clone(),
            tradeoff_report::machine_label(&c),
            c.target.clone(),
            c.batch_size,
        );
        groups.entry(key).or_default().push(c);
    }
    let mut merged = Vec::new();
    for g in groups.values() {
        merged.push(merge_group(g)?);
    }
    let batch_sizes = tradeoff_report::batch_sizes_of(&merged);

    // A merge is derived data: its results.jsonl is rewritten, not appended to.
    let mut writer = RecordWriter::create(&args.out)?;
    for c in &merged {
        writer.write(c).context("writing merged records")?;
    }
    let machines: std::collections::BTreeSet<String> =
        merged.iter().map(tradeoff_report::machine_label).collect();
    say!(
        "merged    {} files, {} cells, {} machine/price combinations",
        args.files.len(),
        merged.len(),
        machines.len()
    );
    for m in &machines {
        say!("  {m}");
    }
    say!();
    say_raw!("{}", tradeoff_report::table(&merged, &batch_sizes));
    let rec = conclude(&merged, &pricing);
    writer.write(&recommendation_record(&rec, "merged"))?;
    let manifest = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "command": "merge",
        "inputs": inputs,
        "hashes": hashes.keys().map(|(d, f)| serde_json::json!({"data_hash": d, "fold_hash": f})).collect::<Vec<_>>(),
        "allow_different_data": args.allow_different_data,
        "machines": machines,
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
