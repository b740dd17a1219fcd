//! `tradeoff curve`: learning curves. Every candidate is tuned once, at the smallest of
//! growing, nested shares of the training part, and its tuned parameters are cross-validated
//! and refit at every size, with the same folds at every size; each size records score, fit
//! time, model size, predict latency and peak memory, and each candidate's curve gets a
//! power-law fit, extrapolated to 2x and 10x the data and checked on the largest size.
//!
//! Each candidate's whole curve has one time budget, the protocol's time cap: tuning may use
//! half of it, and a size is started only while one fold and the refit there, estimated from
//! the previous size, fit in what is left; a size cross-validates (one fold at least) for its
//! share of what is left, its rows over those of the sizes to come. The sizes it cannot afford
//! are recorded as skipped, with the reason, so a curve on a million rows ends in minutes and
//! says where it stopped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tradeoff_core::harness;
use tradeoff_core::record::{self, CurvePoint, Fit, RecordWriter, Status, SCHEMA_VERSION};
use tradeoff_data::protocol::{self, cross_validate_until, Params, Splits, Trainer, TuneOutcome};
use tradeoff_ir::ir::ValidIr;
use tradeoff_ir::machine;
use tradeoff_ir::target::{CpuTarget, Target};
use tradeoff_ir::Error;
use tradeoff_report::curve::{analyze, CurveFitRecord, SizeScores};
use tradeoff_report::record::Record;

use crate::cli::CurveArgs;
use crate::common::{environment, measure_config, parse_list, Setup};
use crate::ui::Progress;

/// 6 log-spaced steps from 5% to 100% of the training part.
fn default_sizes() -> Vec<f64> {
    (0..6)
        .map(|i| 0.05f64 * (1.0f64 / 0.05).powf(i as f64 / 5.0))
        .map(|f| (f * 1000.0).round() / 1000.0)
        .collect()
}

fn parse_sizes(text: Option<&str>) -> Result<Vec<f64>, Error> {
    let mut v = match text {
        None => default_sizes(),
        Some(t) => parse_list(
            "--sizes",
            t,
            "a share of the training rows in (0, 1]",
            |s| s.parse::<f64>().ok().filter(|f| *f > 0.0 && *f <= 1.0),
        )?,
    };
    v.sort_by(f64::total_cmp);
    v.dedup();
    Ok(v)
}

pub fn curve(args: CurveArgs) -> Result<u8> {
    let progress = Progress::new(args.quiet);
    let sizes = parse_sizes(args.sizes.as_deref())?;
    if args.batch_size == 0 {
        return Err(Error::option("--batch-size", "0", "must be at least 1").into());
    }
    let measure = measure_config(&args.measure)?;
    let setup = Setup::new(&args.data, &args.protocol, &progress)?;
    let (clock, env) = environment();
    let manifest = setup.manifest(
        "curve",
        &measure,
        &env,
        &[args.batch_size],
        vec!["cpu".into()],
    );
    let manifest_path = record::write_manifest(&args.out, &manifest)?;
    let mut writer = RecordWriter::open(&args.out)?;
    if let Some(note) = &writer.recovered {
        eprintln!("warning: {note}");
    }
    setup.print_header(&manifest);
    say!(
        "budget    {}s per candidate for its whole curve (--time-cap): tuned once at the \
         smallest size (at most half), the larger sizes share the rest; a size that cannot \
         afford one fold and its refit is skipped",
        setup.protocol.time_cap_seconds
    );
    say!(
        "sizes     {} of the training part",
        sizes
            .iter()
            .map(|f| format!("{f}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let metric = setup.metric;
    let mut points_all: Vec<CurvePoint> = Vec::new();
    let mut fits: Vec<CurveFitRecord> = Vec::new();
    let mut failed = 0usize;
    let n = setup.candidates.len();
    let start = Instant::now();
    progress.begin(n * sizes.len(), "fits");
    for (i, (c, fixed)) in setup.candidates.iter().zip(&setup.fixed).enumerate() {
        let trainer = c.trainer.as_ref();
        let label = format!("[{}/{}] {}", i + 1, n, trainer.id());
        if let Err(why) = trainer.supports(setup.task) {
            progress.line(&format!("{label}: unsupported for {}: {why}", setup.task));
            continue;
        }
        let mut scores_by_size = Vec::new();
        let mut budget = Budget::new(setup.protocol.time_cap_seconds);
        // The parameters every size uses: the user's, or those tuning chose at the first size.
        let mut chosen: Option<(Params, bool)> = fixed.clone().map(|p| (p, false));
        let mut skipped = 0usize;
        for (si, &fraction) in sizes.iter().enumerate() {
            let sub = setup
                .splits
                .subset(&setup.all, fraction, setup.protocol.seed);
            let size_label = format!(
                "{label}: size {}/{} ({} rows)",
                si + 1,
                sizes.len(),
                sub.train.len()
            );
            progress.at(
                i * sizes.len() + si,
                &format!("{} at {} rows", trainer.id(), sub.train.len()),
            );
            progress.update(&size_label);
            let mut point = base_point(&setup, trainer, fraction, &sub, args.batch_size);
            if let Some(why) = budget.refuses(si, sub.train.len()) {
                point.status = Status::Skipped;
                point.reason = Some(why);
                skipped += 1;
                writer
                    .write(&Record::CurvePoint(Box::new(point.clone())))
                    .context("writing a curve record")?;
                points_all.push(point);
                continue;
            }
            machine::reset_peak_rss();
            // This size's share of what is left: its rows over those of the sizes to come.
            let share = fraction / sizes[si..].iter().sum::<f64>();
            match measure_size(
                &setup,
                trainer,
                &mut chosen,
                &sub,
                budget.deadline_for(share),
                args.batch_size,
                (&measure, &clock),
                &progress,
                &size_label,
            ) {
                Ok(m) => {
                    fill(&mut point, &m);
                    budget.spent_on(sub.train.len(), sub.folds, m.fit_seconds);
                    if let (Some(cv), Some(rows)) = (&m.tune.cv, point.cv_train_rows) {
                        // The x axis is what the scored models trained on: a fold's model
                        // sees the size less that fold.
                        scores_by_size.push(SizeScores {
                            rows,
                            folds: cv.folds.clone(),
                        });
                    }
                }
                Err(e) => {
                    failed += 1;
                    point.status = Status::Failed;
                    point.reason = Some(e.to_string());
                    progress.line(&format!("{size_label}: failed: {e}"));
                }
            }
            match machine::peak_rss_bytes() {
                Some(b) => point.peak_rss_bytes = Some(b),
                None => {
                    point.absent.insert(
                        "peak_rss_bytes".into(),
                        "the OS does not report peak RSS".into(),
                    );
                }
            }
            writer
                .write(&Record::CurvePoint(Box::new(point.clone())))
                .context("writing a curve record")?;
            points_all.push(point);
        }
        // Both primary metrics (accuracy, R²) are at most 1.
        let analysis = analyze(&scores_by_size, setup.protocol.seed, Some(1.0));
        if skipped > 0 {
            progress.line(&format!(
                "{label}: {skipped} larger size(s) skipped: the curve's time budget of {}s \
                 (--time-cap) would have run out; a larger --time-cap measures them",
                setup.protocol.time_cap_seconds
            ));
        }
        progress.line(&format!(
            "{label}: {} sizes measured{}",
            scores_by_size.len(),
            match &analysis {
                Some(a) if a.plateaued => ", plateaued".to_string(),
                Some(a) => format!(", still improving ({:+.4} predicted at 10x)", a.gain_10x),
                None => ", too few sizes to fit a curve".to_string(),
            }
        ));
        let rec = CurveFitRecord {
            schema_version: SCHEMA_VERSION,
            run_id: setup.run_id.clone(),
            candidate: trainer.id().into(),
            primary_metric: metric.into(),
            sizes: scores_by_size.iter().map(|s| s.rows as usize).collect(),
            analysis,
            data_hash: setup.data_hash.clone(),
            fold_hash: setup.splits.hash.clone(),
        };
        writer
            .write(&Record::CurveFit(Box::new(rec.clone())))
            .context("writing a curve record")?;
        fits.push(rec);
    }

    say!();
    say_raw!(
        "{}",
        tradeoff_report::curve::points_table(&points_all, metric)
    );
    say!();
    say_raw!("{}", tradeoff_report::curve::fits_table(&fits, metric));
    say!(
        "\ntotal     {:.1}s; results {} (run {}), manifest {}",
        start.elapsed().as_secs_f64(),
        writer.path().display(),
        setup.run_id,
        manifest_path.display()
    );
    let report = crate::report::write_unless(args.no_report, &args.out)?;
    drop(progress);
    let code = if failed > 0 {
        eprintln!("error: {failed} curve points failed; see the records");
        crate::EXIT_SOME_FAILED
    } else {
        0
    };
    if args.json {
        crate::ui::print_json(&serde_json::json!({
            "schema_version": SCHEMA_VERSION,
            "command": "curve",
            "exit_code": code,
            "files": {
                "run_id": setup.run_id,
                "results": writer.path(),
                "manifest": manifest_path,
                "report": report,
            },
            "points": points_all,
            "fits": fits,
        }));
    }
    Ok(code)
}

/// One candidate's time budget for its whole curve.
struct Budget {
    cap: f64,
    deadline: Instant,
    /// The last measured size: its training rows and the seconds of one fold and its refit.
    last: Option<(usize, f64)>,
}

impl Budget {
    fn new(cap_seconds: f64) -> Budget {
        Budget {
            cap: cap_seconds,
            deadline: Instant::now() + Duration::from_secs_f64(cap_seconds),
            last: None,
        }
    }

    /// Seconds left (negative once the deadline has passed).
    fn left(&self) -> f64 {
        let now = Instant::now();
        match self.deadline.checked_duration_since(now) {
            Some(d) => d.as_secs_f64(),
            None => -now.duration_since(self.deadline).as_secs_f64(),
        }
    }

    /// Why size `index` (of `rows` training rows) is not started, if it is not: the first
    /// size always is; a later one only while one fold and the refit, estimated from the last
    /// measured size scaled by the rows, fit in what is left.
    fn refuses(&self, index: usize, rows: usize) -> Option<String> {
        if index == 0 {
            return None;
        }
        let left = self.left();
        let estimate = self
            .last
            .map(|(r, s)| s * rows as f64 / r.max(1) as f64)
            .unwrap_or(0.0);
        (left <= 0.0 || estimate > left).then(|| {
            format!(
                "skipped: the candidate's curve budget (--time-cap {}s) had {:.1}s left, and \
                 one fold and the refit at this size would take about {:.1}s (scaled from the \
                 last measured size)",
                self.cap,
                left.max(0.0),
                estimate
            )
        })
    }

    /// Notes a measured size: one fold there cost about its refit times the share of rows
    /// a fold trains on (the refit is timed with the chosen parameters; tuning's trials are
    /// not).
    /// When a size given `share` of what is left stops cross-validating (after at least one
    /// fold), so that the budget reaches the larger sizes too.
    fn deadline_for(&self, share: f64) -> Instant {
        let left = self.deadline.saturating_duration_since(Instant::now());
        Instant::now() + left.mul_f64(share.clamp(0.0, 1.0))
    }

    fn spent_on(&mut self, rows: usize, folds: usize, fit_seconds: f64) {
        let fold_share = folds.saturating_sub(1) as f64 / folds.max(1) as f64;
        self.last = Some((rows, fit_seconds * (1.0 + fold_share)));
    }
}

/// What one size measured.
struct SizeMeasurement {
    tune: TuneOutcome,
    fit_seconds: f64,
    scores: BTreeMap<String, f64>,
    ir: ValidIr,
    latency: harness::Measurement,
}

/// Scores, refits and measures one size. At the first size without `chosen` parameters the
/// candidate is tuned (within half the curve's budget) and `chosen` set; every other size
/// cross-validates `chosen` until `deadline` (at least one fold).
#[allow(clippy::too_many_arguments)]
fn measure_size(
    setup: &Setup,
    trainer: &dyn Trainer,
    chosen: &mut Option<(Params, bool)>,
    sub: &Splits,
    deadline: Instant,
    batch_size: usize,
    (measure, clock): (&harness::MeasureConfig, &harness::Clock),
    progress: &Progress,
    label: &str,
) -> Result<SizeMeasurement, Error> {
    let tune = match chosen {
        None => {
            let half = protocol::Protocol {
                time_cap_seconds: setup.protocol.time_cap_seconds / 2.0,
                ..setup.protocol.clone()
            };
            let tune = protocol::tune(trainer, &setup.all, sub, &half, None, &mut |d, t| {
                progress.step(&format!("{label}: tuning trials"), d, t);
            })?;
            *chosen = Some((tune.params.clone(), true));
            tune
        }
        Some((params, tuned)) => {
            progress.update(&format!("{label}: cross-validating"));
            let t = Instant::now();
            let cv = cross_validate_until(
                trainer,
                &setup.all,
                sub,
                params,
                setup.protocol.seed,
                Some(deadline),
                1,
            )?;
            TuneOutcome {
                params: params.clone(),
                tuned: *tuned,
                trials_run: 0,
                trials_failed: 0,
                stopped_by_time_cap: cv.folds.len() < sub.folds,
                cv: Some(cv),
                tune_seconds: t.elapsed().as_secs_f64(),
            }
        }
    };
    progress.update(&format!("{label}: refitting"));
    let rows = setup.all.select(&sub.train);
    let t = Instant::now();
    let ir = protocol::fit_guarded(trainer, &rows, &tune.params, setup.protocol.seed)?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let scores = tradeoff_engine::score_on_cpu(&ir, &setup.test)?;
    let mut p = CpuTarget.load(&ir)?;
    progress.update(&format!("{label}: measuring latency"));
    let latency = harness::measure(
        p.as_mut(),
        &setup.test.x,
        setup.test.n_features,
        batch_size,
        measure,
        clock,
    )?;
    Ok(SizeMeasurement {
        tune,
        fit_seconds,
        scores,
        ir,
        latency,
    })
}

fn base_point(
    setup: &Setup,
    trainer: &dyn Trainer,
    fraction: f64,
    sub: &Splits,
    batch_size: usize,
) -> CurvePoint {
    CurvePoint {
        schema_version: SCHEMA_VERSION,
        run_id: setup.run_id.clone(),
        candidate: trainer.id().into(),
        family: trainer.family().into(),
        task: setup.task.to_string(),
        primary_metric: setup.metric.into(),
        status: Status::Ok,
        reason: None,
        train_fraction: fraction,
        train_rows: sub.train.len(),
        cv_train_rows: (sub.folds > 1)
            .then(|| sub.train.len() as f64 * (sub.folds - 1) as f64 / sub.folds as f64),
        cv_folds: vec![],
        fit: Fit {
            library: trainer.library(setup.task).into(),
            ..Fit::default()
        },
        target: "cpu".into(),
        batch_size,
        latency_ns: None,
        throughput_rows_per_s: None,
        peak_rss_bytes: None,
        data_hash: setup.data_hash.clone(),
        fold_hash: sub.hash.clone(),
        absent: BTreeMap::new(),
    }
}

fn fill(p: &mut CurvePoint, m: &SizeMeasurement) {
    if let Some(cv) = &m.tune.cv {
        p.cv_folds = cv.folds.clone();
    }
    p.fit = Fit::new(&p.fit.library, &m.scores, &m.ir, &mut p.absent).tuned_by(
        &m.tune,
        m.fit_seconds,
        &mut p.absent,
    );
    p.latency_ns = Some(m.latency.latency_ns.clone());
    p.throughput_rows_per_s = record::finite(
        "throughput_rows_per_s",
        m.latency.throughput_rows_per_s,
        &mut p.absent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_starts_only_while_its_estimated_fold_and_refit_fit_the_budget() {
        let mut b = Budget::new(100.0);
        assert_eq!(b.refuses(0, 1_000_000), None, "the first size always runs");
        assert_eq!(
            b.refuses(1, 1000),
            None,
            "nothing measured yet: no estimate"
        );
        // A refit of 8 s on 1,000 rows with 5 folds: one fold and the refit about 14.4 s.
        b.spent_on(1000, 5, 8.0);
        assert_eq!(b.refuses(1, 5000), None, "about 72 s of the 100 left");
        let why = b
            .refuses(1, 10_000)
            .expect("about 144 s: more than is left");
        assert!(
            why.contains("144.0s") && why.contains("--time-cap 100s"),
            "{why}"
        );
        let spent = Budget::new(0.0);
        assert!(spent.refuses(1, 1).is_some(), "nothing left");
    }
}
