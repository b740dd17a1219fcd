//! The end of a run or a merge: latency budgets per target, whether a GPU pays, and the
//! recommendation, printed under the table.

use std::collections::BTreeMap;

use tradeoff_core::record::{CellRecord, ServingRecord};
use tradeoff_report::cost::{self, Recommendation};
use tradeoff_report::record::{RecommendationRecord, Record};
use tradeoff_report::serving::Traffic;

use crate::pricing::Pricing;

/// Prints the SLO cells, the GPU verdicts and the recommendation; returns the latter. With
/// server capacities in `served` and a `traffic`, the recommendation is placed at the
/// traffic (machine, target, configuration, instances).
pub fn conclude(
    cells: &[CellRecord],
    served: &[ServingRecord],
    traffic: Option<Traffic>,
    pricing: &Pricing,
) -> Recommendation {
    let budgets = &pricing.budgets;
    let mut groups: BTreeMap<(u32, String), Vec<&CellRecord>> = BTreeMap::new();
    for c in cells.iter().filter(|c| c.batch_size > 0) {
        groups
            .entry((c.ladder_rank, c.candidate.clone()))
            .or_default()
            .push(c);
    }
    if budgets.slo.is_set() {
        say!(
            "\nlatency budget {}:",
            tradeoff_report::serving::budget_words(&budgets.slo.budget())
        );
        for ((_, cand), cs) in &groups {
            let mut targets: BTreeMap<(String, String), Vec<&CellRecord>> = BTreeMap::new();
            for c in cs {
                targets
                    .entry((tradeoff_report::machine_label(c), c.target.clone()))
                    .or_default()
                    .push(c);
            }
            for ((machine, target), tcs) in targets {
                match cost::slo_cell(&tcs, &budgets.slo) {
                    Some(c) => say!(
                        "  {cand} on {target} ({machine}): batch {} meets it at {} rows/s{}",
                        c.batch_size,
                        tradeoff_report::fmt_rate(c.throughput_rows_per_s.unwrap_or(0.0)),
                        c.usd_per_million.map_or(", no price".into(), |u| format!(
                            ", {} per million",
                            tradeoff_report::fmt_usd(u)
                        ))
                    ),
                    None => say!("  {cand} on {target} ({machine}): no valid cell meets it"),
                }
            }
        }
    }
    say!("\nis a GPU worth it?");
    for ((_, cand), cs) in &groups {
        let v = cost::gpu_verdict(cand, cs, &budgets.slo, pricing.utilization);
        say!("  {cand}: {}", v.explanation);
    }
    let capacities = served.iter().any(|r| !r.capacity.is_empty());
    let at = traffic
        .filter(|_| capacities)
        .map(|traffic| cost::AtTraffic {
            served,
            traffic,
            headroom: pricing.headroom,
        });
    if traffic.is_some() && !capacities {
        say!(
            "
note: --traffic places the recommendation only with server capacities \
             (--scenarios server): it is placed on the single-stream cells"
        );
    }
    let rec = cost::recommend(cells, budgets, pricing.tolerance, at.as_ref());
    say!("\n{}", rec.paragraph());
    rec
}

/// The recommendation as a record (`kind: "recommendation"`) for results.jsonl.
pub fn recommendation_record(rec: &Recommendation, run_id: &str) -> Record {
    Record::Recommendation(Box::new(RecommendationRecord {
        schema_version: tradeoff_core::record::SCHEMA_VERSION,
        run_id: run_id.into(),
        recommendation: rec.clone(),
    }))
}

/// The `--json` summary of a command: what was written where, the exit code it ends with,
/// one compact entry per cell (the figures of the table, unformatted, in SI units: ns,
/// rows/s, bytes, USD) and the recommendation.
pub fn summary_json(
    command: &str,
    cells: &[CellRecord],
    recommendation: Option<&Recommendation>,
    files: serde_json::Value,
    exit_code: u8,
) -> serde_json::Value {
    let cells: Vec<serde_json::Value> = cells
        .iter()
        .map(|c| {
            let lat = c.latency_ns.as_ref();
            serde_json::json!({
                "candidate": c.candidate,
                "target": c.target,
                "device": c.device,
                "device_kind": c.device_kind,
                "machine": tradeoff_report::machine_label(c),
                "batch_size": c.batch_size,
                "status": c.status,
                "reason": c.reason,
                "primary_metric": c.primary_metric,
                "score": c.primary_score(),
                "cv_score": c.fit.cv_score.as_ref().map(|s| s.mean),
                "parity_max_abs_err": c.parity_max_abs_err,
                "p50_ns": lat.map(|l| l.p50),
                "p99_ns": lat.and_then(|l| l.p99),
                "group_size": lat.map(|l| l.group_size),
                "p99_single_call_max_ns": lat.and_then(|l| l.p99_for_budget()),
                "throughput_rows_per_s": c.throughput_rows_per_s,
                "usd_per_million": c.usd_per_million,
                "fit_seconds": c.fit.fit_seconds,
                "model_bytes": c.fit.model_bytes,
            })
        })
        .collect();
    serde_json::json!({
        "schema_version": tradeoff_core::record::SCHEMA_VERSION,
        "command": command,
        "exit_code": exit_code,
        "files": files,
        "recommendation": recommendation,
        "cells": cells,
    })
}
