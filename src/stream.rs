//! `tradeoff stream`: what incremental learning buys and costs.
//!
//! The training part is ordered (by `--order-by`, or a seeded shuffle), split into an initial
//! part and N update batches. Each online candidate and its batch counterpart are tuned on the
//! initial part with the same protocol (trials, folds, time cap). Then, batch after batch: the
//! online model is scored on the new batch before learning from it (prequential), updated, and
//! scored on the held-out test part; the batch counterpart is retrained from scratch on all
//! rows seen so far and scored on the same test part.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use tradeoff_core::record::{self, RecordWriter, SCHEMA_VERSION};
use tradeoff_data::data::Dataset;
use tradeoff_data::protocol::{self, Params, Trainer};
use tradeoff_engine::registry::{self, Role};
use tradeoff_ir::ir::ValidIr;
use tradeoff_ir::rng::Rng;
use tradeoff_ir::Error;
use tradeoff_report::record::{Record, StreamStep, StreamSummary};
use tradeoff_report::{fmt_usd, render};

use crate::cli::{BudgetArgs, StreamArgs};
use crate::common::{environment, parse_delimiter, Setup};
use crate::pricing::Pricing;
use crate::ui::Progress;

fn metric_of(ir: &ValidIr, ds: &Dataset, metric: &str) -> Result<f64, Error> {
    Ok(tradeoff_engine::score_on_cpu(ir, ds)?
        .get(metric)
        .copied()
        .unwrap_or(f64::NAN))
}

/// The training rows in stream order: by the order column, or shuffled with the seed.
fn stream_order(setup: &Setup, order: Option<&[f64]>) -> Vec<usize> {
    let mut rows = setup.splits.train.clone();
    match order {
        Some(keys) => rows.sort_by(|a, b| keys[*a].total_cmp(&keys[*b]).then(a.cmp(b))),
        None => Rng::derive(setup.protocol.seed, "stream").shuffle(&mut rows),
    }
    rows
}

pub fn stream(args: StreamArgs) -> Result<u8> {
    let progress = Progress::new(args.quiet);
    if args.updates == 0 || args.updates > 1000 {
        return Err(
            Error::option("--updates", args.updates.to_string(), "must be 1..=1000").into(),
        );
    }
    if !(args.initial > 0.0 && args.initial < 1.0) {
        return Err(
            Error::option("--initial", args.initial.to_string(), "must be in (0, 1)").into(),
        );
    }
    if !(args.updates_per_day > 0.0 && args.updates_per_day.is_finite()) {
        return Err(Error::option(
            "--updates-per-day",
            args.updates_per_day.to_string(),
            "must be positive",
        )
        .into());
    }
    let pricing = Pricing::new(
        Some(&args.price),
        &BudgetArgs {
            slo_p99: None,
            slo_p50: None,
            tolerance: 0.0,
            max_memory: None,
            max_cost_per_million: None,
            headroom: tradeoff_report::serving::DEFAULT_HEADROOM,
        },
    )?;
    let mut data = args.data.clone();
    if let Some(col) = &args.order_by {
        if data.target.as_deref() == Some(col.as_str()) {
            return Err(Error::option(
                "--order-by",
                col.as_str(),
                "it is the target column; order the rows by another column (a time, a sequence)",
            )
            .into());
        }
        if data.missing != crate::cli::MissingArg::Reject {
            return Err(Error::option(
                "--order-by",
                col.as_str(),
                "needs --missing reject, so every row keeps its place in the file",
            )
            .into());
        }
        data.drop_columns.push(col.clone());
    }
    let mut proto = args.protocol.clone();
    if proto.candidates.is_none() {
        proto.candidates = Some(registry::candidate_ids(Role::Online).join(","));
    }
    let setup = Setup::new(&data, &proto, &progress)?;
    let online = |c: &dyn tradeoff_data::protocol::Trainer| {
        tradeoff_linfa::online(c.id()).is_some() && c.supports(setup.task).is_ok()
    };
    if !setup.candidates.iter().any(|c| online(c.trainer.as_ref())) {
        return Err(Error::option(
            "--candidates",
            proto.candidates.as_deref().unwrap_or_default(),
            format!(
                "none of them is an online candidate for this {} task, so nothing would be \
                 measured (online ones: {})",
                setup.task,
                registry::candidate_ids(Role::Online).join(", ")
            ),
        )
        .into());
    }
    let order = match (&args.order_by, &data.data) {
        (Some(col), Some(path)) => Some(tradeoff_data::data::numeric_column(
            &tradeoff_parquet::read_table(path, parse_delimiter(&data.delimiter)?)?,
            col,
        )?),
        _ => None,
    };
    let rows = stream_order(&setup, order.as_deref());
    let n_initial = ((rows.len() as f64 * args.initial).round() as usize).clamp(1, rows.len() - 1);
    let rest = &rows[n_initial..];
    if rest.len() < args.updates {
        return Err(Error::option(
            "--updates",
            args.updates.to_string(),
            format!("only {} rows are left after the initial part", rest.len()),
        )
        .into());
    }
    let batches: Vec<&[usize]> = (0..args.updates)
        .map(|i| &rest[i * rest.len() / args.updates..(i + 1) * rest.len() / args.updates])
        .collect();
    let (_clock, env) = environment();
    let manifest = setup.manifest("stream", &Default::default(), &env, &[], vec!["cpu".into()]);
    let manifest_path = record::write_manifest(&args.out, &manifest)?;
    let mut writer = RecordWriter::open(&args.out)?;
    if let Some(note) = &writer.recovered {
        eprintln!("warning: {note}");
    }
    setup.print_header(&manifest);
    say!(
        "stream    {} initial rows, then {} updates of about {} rows ({}), {} updates per day",
        n_initial,
        args.updates,
        rest.len() / args.updates,
        match &args.order_by {
            Some(c) => format!("in order of {c}"),
            None => "shuffled with the seed".into(),
        },
        args.updates_per_day
    );
    let metric = setup.metric;
    let initial_rows = &rows[..n_initial];
    let initial_splits = setup.splits.restricted_to(initial_rows);
    let mut summaries = Vec::new();
    for (c, fixed) in setup.candidates.iter().zip(&setup.fixed) {
        let cand = &c.trainer;
        let Some((counterpart_id, start)) = tradeoff_linfa::online(cand.id()) else {
            progress.line(&format!(
                "{}: not an online candidate; skipped (online ones: {})",
                cand.id(),
                registry::candidate_ids(Role::Online).join(", ")
            ));
            continue;
        };
        if let Err(why) = cand.supports(setup.task) {
            progress.line(&format!("{}: {why}", cand.id()));
            continue;
        }
        let counterpart = registry::candidate(counterpart_id)
            .expect("online candidates name a registered batch candidate")
            .trainer(registry::TrainOn::Flex);
        // Equal effort: both tuned on the initial part with the same protocol.
        let tune = |t: &dyn Trainer, fixed: Option<Params>| {
            progress.update(&format!("{}: tuning on the initial part", t.id()));
            protocol::tune(
                t,
                &setup.all,
                &initial_splits,
                &setup.protocol,
                fixed,
                &mut |d, n| {
                    progress.step(&format!("{}: tuning on the initial part", t.id()), d, n);
                },
            )
        };
        let online_params = tune(cand.as_ref(), fixed.clone())?.params;
        let batch_params = tune(counterpart.as_ref(), None)?.params;
        let seed = setup.protocol.seed;
        let initial = setup.all.select(initial_rows);
        let t = Instant::now();
        let mut model = start(&initial, &online_params, seed)?;
        let initial_fit = t.elapsed().as_secs_f64();

        let mut lines = vec![vec![
            "update".to_string(),
            "rows seen".into(),
            format!("prequential {metric}"),
            format!("held-out {metric}"),
            "update".into(),
            format!("retrain held-out {metric}"),
            "retrain".into(),
        ]];
        let mut seen: Vec<usize> = initial_rows.to_vec();
        let (mut update_total, mut retrain_total) = (0.0, 0.0);
        let (mut last_online, mut last_retrain) = (f64::NAN, f64::NAN);
        let mut prequential = Vec::new();
        for (i, b) in batches.iter().enumerate() {
            progress.step(&format!("{}: updates", cand.id()), i, batches.len());
            let batch = setup.all.select(b);
            let preq = metric_of(&model.to_ir()?.validate()?, &batch, metric)?;
            let t = Instant::now();
            model.partial_fit(&batch)?;
            let update_s = t.elapsed().as_secs_f64();
            let online_ir = model.to_ir()?.validate()?;
            let online_score = metric_of(&online_ir, &setup.test, metric)?;
            seen.extend_from_slice(b);
            let all_seen = setup.all.select(&seen);
            let t = Instant::now();
            let retrained =
                protocol::fit_guarded(counterpart.as_ref(), &all_seen, &batch_params, seed)?;
            let retrain_s = t.elapsed().as_secs_f64();
            let retrain_score = metric_of(&retrained, &setup.test, metric)?;
            update_total += update_s;
            retrain_total += retrain_s;
            last_online = online_score;
            last_retrain = retrain_score;
            prequential.push(preq);
            let mut absent = BTreeMap::new();
            let mut finite = |name: &str, v: f64| finite_or_absent(&mut absent, name, v);
            let (prequential_score, holdout_score, retrain_holdout_score) = (
                finite("prequential_score", preq),
                finite("holdout_score", online_score),
                finite("retrain_holdout_score", retrain_score),
            );
            let step = StreamStep {
                schema_version: SCHEMA_VERSION,
                run_id: setup.run_id.clone(),
                candidate: cand.id().into(),
                counterpart: counterpart_id.into(),
                primary_metric: metric.into(),
                update: i + 1,
                batch_rows: b.len(),
                rows_seen: seen.len(),
                prequential_score,
                holdout_score,
                update_seconds: update_s,
                retrain_holdout_score,
                retrain_seconds: retrain_s,
                online_params: online_params.clone(),
                retrain_params: batch_params.clone(),
                data_hash: setup.data_hash.clone(),
                fold_hash: setup.splits.hash.clone(),
                absent,
            };
            writer
                .write(&Record::StreamStep(Box::new(step)))
                .context("writing a stream record")?;
            lines.push(vec![
                (i + 1).to_string(),
                seen.len().to_string(),
                format!("{preq:.4}"),
                format!("{online_score:.4}"),
                format!("{:.2}ms", update_s * 1e3),
                format!("{retrain_score:.4}"),
                format!("{:.2}ms", retrain_s * 1e3),
            ]);
        }
        let n = batches.len() as f64;
        let (mean_update, mean_retrain) = (update_total / n, retrain_total / n);
        let per_day = |s: f64| {
            pricing
                .usd_per_hour
                .map(|usd| s * args.updates_per_day * usd / 3600.0)
        };
        say!(
            "\n{} (online, {}) against {} retrained from scratch ({}); initial fit {:.2}ms",
            cand.id(),
            cand.library(setup.task),
            counterpart_id,
            counterpart.library(setup.task),
            initial_fit * 1e3
        );
        say_raw!("{}", render(&lines, 0));
        let gap = last_online - last_retrain;
        say!(
            "summary   an update takes {:.2}ms on average, a full retrain {:.2}ms ({:.1}x); after the last update the held-out {metric} is {:.4} online vs {:.4} retrained ({:+.4}); mean prequential {metric} {:.4}",
            mean_update * 1e3,
            mean_retrain * 1e3,
            mean_retrain / mean_update.max(1e-12),
            last_online,
            last_retrain,
            gap,
            prequential.iter().sum::<f64>() / n,
        );
        match (per_day(mean_update), per_day(mean_retrain)) {
            (Some(u), Some(r)) => say!(
                "cost      at {} updates per day on {}: updates {} per day, retrains {} per day (compute time only)",
                args.updates_per_day,
                pricing.instance.as_deref().unwrap_or("this machine"),
                fmt_usd(u),
                fmt_usd(r)
            ),
            _ => say!("cost      no price; pass --instance NAME or --usd-per-hour X for the cost per day"),
        }
        let mut absent = BTreeMap::new();
        let mut finite = |name: &str, v: f64| finite_or_absent(&mut absent, name, v);
        let (final_holdout_score, final_retrain_holdout_score, mean_prequential_score) = (
            finite("final_holdout_score", last_online),
            finite("final_retrain_holdout_score", last_retrain),
            finite(
                "mean_prequential_score",
                prequential.iter().sum::<f64>() / n,
            ),
        );
        let (update_usd_per_day, retrain_usd_per_day) =
            (per_day(mean_update), per_day(mean_retrain));
        if pricing.usd_per_hour.is_none() {
            for k in [
                "instance",
                "usd_per_hour",
                "update_usd_per_day",
                "retrain_usd_per_day",
            ] {
                absent.insert(k.to_string(), "no price".to_string());
            }
        } else if pricing.instance.is_none() {
            absent.insert("instance".into(), "no price".into());
        }
        let summary = Record::StreamSummary(Box::new(StreamSummary {
            schema_version: SCHEMA_VERSION,
            run_id: setup.run_id.clone(),
            candidate: cand.id().into(),
            counterpart: counterpart_id.into(),
            primary_metric: metric.into(),
            updates: batches.len(),
            initial_rows: n_initial,
            initial_fit_seconds: initial_fit,
            mean_update_seconds: mean_update,
            mean_retrain_seconds: mean_retrain,
            final_holdout_score,
            final_retrain_holdout_score,
            mean_prequential_score,
            updates_per_day: args.updates_per_day,
            instance: pricing.instance.clone(),
            usd_per_hour: pricing.usd_per_hour,
            update_usd_per_day,
            retrain_usd_per_day,
            data_hash: setup.data_hash.clone(),
            fold_hash: setup.splits.hash.clone(),
            absent,
        }));
        writer.write(&summary).context("writing a stream record")?;
        summaries.push(summary);
    }
    say!(
        "\nresults   {} (run {}), manifest {}",
        writer.path().display(),
        setup.run_id,
        manifest_path.display()
    );
    drop(progress);
    if args.json {
        crate::ui::print_json(&serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "command": "stream",
            "exit_code": 0,
            "files": {
                "run_id": setup.run_id,
                "results": writer.path(),
                "manifest": manifest_path,
            },
            "summaries": summaries,
        }));
    }
    Ok(0)
}

/// `v` when it is finite; otherwise nothing, and `absent` says why.
fn finite_or_absent(absent: &mut BTreeMap<String, String>, name: &str, v: f64) -> Option<f64> {
    if v.is_finite() {
        Some(v)
    } else {
        absent.insert(name.to_string(), "not finite".to_string());
        None
    }
}
