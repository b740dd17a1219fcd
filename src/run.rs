//! `tradeoff run`: load, split, tune, refit, score, measure on every target, record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use tradeoff_core::data::Dataset;
use tradeoff_core::harness::{self, Clock, MeasureConfig};
use tradeoff_core::ir::ModelIr;
use tradeoff_core::machine;
use tradeoff_core::metrics::score;
use tradeoff_core::protocol::{self, Protocol, Splits, Trainer, TuneOutcome};
use tradeoff_core::record::{
    self, CellRecord, CvScore, Manifest, Memory, RecordWriter, Status, SCHEMA_VERSION,
};
use tradeoff_core::target::{predict_all, CpuTarget, Target};
use tradeoff_core::Error;

use crate::cli::RunArgs;
use crate::common::{environment, measure_config, parse_list, Setup};
use crate::conclude::{conclude, recommendation_record};
use crate::pricing::Pricing;
use crate::ui::Progress;
use tradeoff_report::cost;

/// Every execution target id users may name, and why this build lacks it (if it does).
pub const TARGET_IDS: [(&str, Option<&str>); 5] = [
    ("cpu", None),
    ("burn-flex", None),
    ("candle-cpu", None),
    ("burn-wgpu", None),
    ("wgsl", None),
];

/// The target of an id this build has.
pub fn make_target(id: &str) -> Option<Box<dyn Target>> {
    use tradeoff_burn::{BurnDevice, BurnTarget};
    Some(match id {
        "cpu" => Box::new(CpuTarget),
        "burn-flex" => Box::new(BurnTarget::new(BurnDevice::Flex)),
        "candle-cpu" => Box::new(tradeoff_candle::CandleCpu),
        "burn-wgpu" => Box::new(BurnTarget::new(BurnDevice::Wgpu)),
        "wgsl" => Box::new(tradeoff_wgpu::WgslTarget::default()),
        _ => return None,
    })
}

fn parse_batch_sizes(text: &str) -> Result<Vec<usize>, Error> {
    let mut v = parse_list(
        "--batch-sizes",
        text,
        "a whole number of rows from 1 to 16777216",
        |s| {
            s.parse::<usize>()
                .ok()
                .filter(|b| (1..=1 << 24).contains(b))
        },
    )?;
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

/// The targets to measure. Without `--targets`: every target of the build, except GPU
/// targets without a hardware GPU (a software adapter's timings are CPU timings; name the
/// target to measure it anyway). The second value says what was left out and why.
type Targets = Vec<Box<dyn Target>>;

fn parse_targets(text: Option<&str>) -> Result<(Targets, Vec<String>), Error> {
    let mut skipped = Vec::new();
    let ids: Vec<String> = match text {
        None => {
            let mut ids = Vec::new();
            for (id, missing) in TARGET_IDS {
                if missing.is_some() {
                    continue;
                }
                let t = make_target(id).expect("every available target has a constructor");
                if matches!(id, "burn-wgpu" | "wgsl") && !t.device_kind().is_gpu() {
                    skipped.push(format!(
                        "{id} not measured: no hardware GPU ({}); name it in --targets to measure it anyway",
                        t.device()
                    ));
                    continue;
                }
                ids.push(id.to_string());
            }
            ids
        }
        Some(t) => parse_list("--targets", t, "a target id", |s| Some(s.to_string()))?,
    };
    let mut out: Vec<Box<dyn Target>> = Vec::new();
    for id in ids {
        if out.iter().any(|t| t.id() == id) {
            return Err(Error::option("--targets", id.as_str(), "listed twice"));
        }
        match TARGET_IDS.iter().find(|(t, _)| *t == id) {
            Some((_, Some(why))) => {
                return Err(Error::option(
                    "--targets",
                    id.as_str(),
                    format!("not available in this build: {why}"),
                ))
            }
            Some((known, None)) => {
                out.push(make_target(known).expect("every available target has a constructor"))
            }
            None => {
                return Err(Error::option(
                    "--targets",
                    id.as_str(),
                    format!(
                        "unknown target; known: {}",
                        TARGET_IDS.map(|t| t.0).join(", ")
                    ),
                ))
            }
        }
    }
    Ok((out, skipped))
}

/// `--require-gpu`: every wgpu target must run on a hardware GPU adapter.
fn require_gpu(targets: &[Box<dyn Target>], skipped: &[String]) -> Result<(), String> {
    let wgpu: Vec<_> = targets
        .iter()
        .filter(|t| matches!(t.id(), "burn-wgpu" | "wgsl"))
        .collect();
    if wgpu.is_empty() {
        return Err(if skipped.is_empty() {
            "--require-gpu: no wgpu target was selected (burn-wgpu, wgsl)".into()
        } else {
            format!("--require-gpu: {}", skipped.join("; "))
        });
    }
    for t in wgpu {
        if !t.device_kind().is_gpu() {
            return Err(format!(
                "--require-gpu: target {} has no hardware GPU: {}",
                t.id(),
                t.device()
            ));
        }
    }
    Ok(())
}

/// Fields every record of a run shares.
struct RunContext<'a> {
    run_id: String,
    machine: String,
    pricing: &'a Pricing,
    task: String,
    metric: String,
    data_hash: String,
    fold_hash: String,
    writer: &'a mut RecordWriter,
    written: Vec<CellRecord>,
}

impl RunContext<'_> {
    fn base(
        &self,
        trainer: &dyn Trainer,
        task: tradeoff_core::data::Task,
        target: &dyn Target,
    ) -> CellRecord {
        CellRecord {
            schema_version: SCHEMA_VERSION,
            kind: "cell".into(),
            run_id: self.run_id.clone(),
            candidate: trainer.id().into(),
            family: trainer.family().into(),
            target: target.id().into(),
            device: target.device(),
            device_kind: target.device_kind(),
            machine: self.machine.clone(),
            ladder_rank: trainer.ladder_rank(),
            batch_size: 0,
            status: Status::Ok,
            reason: None,
            task: self.task.clone(),
            primary_metric: self.metric.clone(),
            scores: BTreeMap::new(),
            cv_score: None,
            params: BTreeMap::new(),
            tuned: false,
            trials: 0,
            library: trainer.library(task).into(),
            train_device: Some(trainer.train_device()),
            phases_ns: None,
            latency_ns: None,
            cold_ns: None,
            verdict: None,
            memory: None,
            throughput_rows_per_s: None,
            threads: None,
            parity_max_abs_err: None,
            model_bytes: None,
            parameters: None,
            nodes: None,
            fit_seconds: None,
            tune_seconds: None,
            peak_rss_bytes: None,
            instance: self.pricing.instance.clone(),
            usd_per_hour: self.pricing.usd_per_hour,
            utilization: self.pricing.usd_per_hour.map(|_| self.pricing.utilization),
            usd_per_million: None,
            data_hash: self.data_hash.clone(),
            fold_hash: self.fold_hash.clone(),
            absent: BTreeMap::new(),
            parity_rows: None,
            merged_from: Vec::new(),
        }
    }

    fn write(&mut self, mut r: CellRecord) -> Result<()> {
        if r.peak_rss_bytes.is_none() {
            let fit = r.memory.as_ref().and_then(|m| m.fit_peak_rss_bytes);
            let predict = r.memory.as_ref().and_then(|m| m.predict_peak_rss_bytes);
            r.peak_rss_bytes = fit.max(predict).or_else(machine::peak_rss_bytes);
        }
        if r.peak_rss_bytes.is_none() {
            r.absent.insert(
                "peak_rss_bytes".into(),
                "the OS does not report peak RSS".into(),
            );
        }
        self.writer.write(&r).context("writing a result record")?;
        self.written.push(r);
        Ok(())
    }
}

/// A note when `out` already holds the results of a run on other data (its manifest's data
/// or fold hash differs): the new records go beside them, and reports keep them apart.
fn other_dataset(out: &Path, new: &Manifest) -> Option<String> {
    let text = std::fs::read_to_string(out.join("manifest.json")).ok()?;
    let old: Manifest = serde_json::from_str(&text).ok()?;
    (old.run_id != new.run_id && (old.data_hash != new.data_hash || old.fold_hash != new.fold_hash))
        .then(|| {
            format!(
                "{} holds the results of run {} on other data ({}, data hash {}); this run's \
                 records are appended beside them, and a report of both runs (--all-runs) is \
                 refused; use another --out to keep them apart",
                out.display(),
                old.run_id,
                old.dataset,
                old.data_hash
            )
        })
}

/// The cell records of run `run_id` in `path`, and whether the run finished (its
/// recommendation is recorded). No file, or an empty one, holds none.
fn recorded_by(path: &Path, run_id: &str) -> Result<(Vec<CellRecord>, bool)> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok((vec![], false));
    }
    let mut damaged = Vec::new();
    let records = record::read_records(path, &mut damaged)?;
    for d in &damaged {
        eprintln!("warning: {d}");
    }
    let mut finished = false;
    let mut cells = Vec::new();
    for (line, v) in records {
        if v.get("run_id").and_then(|r| r.as_str()) != Some(run_id) {
            continue;
        }
        match record::kind_of(&v) {
            Some("recommendation") => finished = true,
            Some("cell") => cells.push(record::decode_cell(path, line, v)?),
            _ => {}
        }
    }
    Ok((cells, finished))
}

/// A trained candidate: what every target's records share.
struct Trained {
    /// Peak RSS and heap of the fit phase (tuning and refit).
    fit_rss: Option<u64>,
    fit_heap: Option<u64>,
    ir: ModelIr,
    tune: TuneOutcome,
    fit_seconds: f64,
    scores: BTreeMap<String, f64>,
    /// The first test rows (see [`parity_rows`]) and what the model predicts for them by the
    /// IR's definition: the reference every target, `cpu` included, is checked against.
    parity_pool: Vec<f32>,
    reference: Vec<f32>,
}

/// Test rows the IR's definition is evaluated on: up to 4,096, fewer for large models (about
/// a billion multiply-adds in all: some 300 rows of `mlp-l`), at least 256.
fn parity_rows(ir: &ModelIr, test_rows: usize) -> usize {
    let per_row = ir.size().parameters.max(1) as usize;
    (1_000_000_000 / per_row).clamp(256, 4096).min(test_rows)
}

/// `tradeoff run`, with `--suite` applied first (options on the command line win).
pub fn run(args: RunArgs, matches: &clap::ArgMatches) -> Result<u8> {
    match args.resume.clone() {
        Some(dir) => resume(&dir, &args, matches),
        None => run_with(args, matches, None),
    }
}

fn run_with(mut args: RunArgs, matches: &clap::ArgMatches, resumed: Option<Resumed>) -> Result<u8> {
    let suite = match args.suite.clone() {
        Some(path) => Some(crate::suite::apply(&path, &mut args, matches)?),
        None => None,
    };
    run_args(args, suite.as_ref(), resumed).map_err(|e| match &suite {
        Some(s) => s.locate(e),
        None => e,
    })
}

/// An interrupted run taken up again: its manifest.
struct Resumed {
    manifest: Manifest,
}

/// `run --resume DIR`: the run's own command line, from its manifest, run again in its
/// directory, into DIR, keeping its `run_id` and skipping what it recorded.
fn resume(dir: &Path, given: &RunArgs, matches: &clap::ArgMatches) -> Result<u8> {
    use clap::parser::ValueSource;
    use clap::{CommandFactory, FromArgMatches};
    let shown = dir.display().to_string();
    let refuse = |why: String| Error::option("--resume", shown.as_str(), why);
    let command = crate::cli::Cli::command();
    let others: Vec<String> = command
        .find_subcommand("run")
        .map(|run| run.get_arguments().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|a| !matches!(a.get_id().as_str(), "resume" | "quiet" | "json"))
        .filter(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .map(|a| format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())))
        .collect();
    if !others.is_empty() {
        return Err(refuse(format!(
            "the run's options come from its manifest; give none but --quiet and --json \
             (given: {})",
            others.join(", ")
        ))
        .into());
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| refuse(format!("cannot open the directory: {e}")))?;
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| refuse(format!("no run to resume: {}: {e}", path.display())))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Data {
        what: path.display().to_string(),
        detail: format!("not a manifest tradeoff can resume from: {e}"),
    })?;
    if manifest.command != "run" {
        return Err(refuse(format!(
            "it holds a `{}` run; only `run` resumes",
            manifest.command
        ))
        .into());
    }
    if manifest.args.is_empty() {
        return Err(refuse(format!(
            "its manifest (schema version {}) does not record the run's options; start the \
             run again",
            manifest.schema_version
        ))
        .into());
    }
    if let Some(cwd) = &manifest.cwd {
        std::env::set_current_dir(cwd).map_err(|e| {
            refuse(format!(
                "the run's working directory {cwd} cannot be entered ({e}); its relative \
                 paths are relative to it"
            ))
        })?;
    }
    let argv = std::iter::once("tradeoff".to_string()).chain(manifest.args.iter().cloned());
    let all = command
        .try_get_matches_from(argv)
        .map_err(|e| refuse(format!("its recorded options no longer parse: {e}")))?;
    let cli = crate::cli::Cli::from_arg_matches(&all)
        .map_err(|e| refuse(format!("its recorded options no longer parse: {e}")))?;
    let (crate::cli::Command::Run(mut args), Some(run_matches)) =
        (cli.command, all.subcommand_matches("run"))
    else {
        return Err(refuse("its recorded command is not `run`".into()).into());
    };
    args.out = dir;
    args.resume = None;
    args.quiet |= given.quiet;
    args.json = given.json;
    run_with(*args, run_matches, Some(Resumed { manifest }))
}

/// What an interrupted run recorded: per (candidate, target), the batch sizes of its cell
/// records (0 for a record standing for the whole target: unsupported, or failed before
/// measuring).
struct Recorded(BTreeMap<(String, String), BTreeSet<usize>>);

impl Recorded {
    fn new(cells: &[CellRecord]) -> Self {
        let mut map: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
        for c in cells {
            map.entry((c.candidate.clone(), c.target.clone()))
                .or_default()
                .insert(c.batch_size);
        }
        Recorded(map)
    }

    /// The batch sizes of (candidate, target) still to measure; empty when it is done.
    fn missing(&self, candidate: &str, target: &str, batch_sizes: &[usize]) -> Vec<usize> {
        match self.0.get(&(candidate.to_string(), target.to_string())) {
            Some(done) if done.contains(&0) => vec![],
            Some(done) => batch_sizes
                .iter()
                .copied()
                .filter(|b| !done.contains(b))
                .collect(),
            None => batch_sizes.to_vec(),
        }
    }
}

fn run_args(
    args: RunArgs,
    suite: Option<&crate::suite::Applied>,
    resumed: Option<Resumed>,
) -> Result<u8> {
    let progress = Progress::new(args.quiet);
    // Check every option before any long work.
    let (targets, skipped) = parse_targets(args.targets.as_deref())?;
    for s in &skipped {
        progress.line(s);
    }
    if args.require_gpu {
        if let Err(why) = require_gpu(&targets, &skipped) {
            eprintln!("error: {why}");
            return Ok(crate::EXIT_NO_GPU);
        }
    }
    let batch_sizes = parse_batch_sizes(&args.batch_sizes)?;
    let measure = measure_config(&args.measure)?;
    let memory_limit = match &args.memory_limit {
        Some(t) => Some((
            crate::pricing::size_option("--memory-limit", t)?,
            "--memory-limit",
        )),
        None => machine::available_memory_bytes().map(|b| {
            (
                b,
                "the memory available at the start; --memory-limit sets it",
            )
        }),
    };
    let pricing = Pricing::new(Some(&args.price), &args.budgets)?;
    let mut setup = Setup::new(&args.data, &args.protocol, &progress)?;
    for w in &pricing.warnings {
        progress.line(&format!("warning: {w}"));
        setup.warnings.push(w.clone());
    }
    progress.update("calibrating the clock");
    let (clock, env) = environment();
    if let Some(dir) = &args.export_split {
        export_split(dir, &setup.train, &setup.test, &setup.splits)?;
        progress.line(&format!("split written to {}", dir.display()));
    }
    let mut manifest = setup.manifest(
        "run",
        &measure,
        &env,
        &batch_sizes,
        targets.iter().map(|t| t.id().to_string()).collect(),
    );
    manifest.suite = suite.map(|s| s.describe());
    manifest.target_devices = targets
        .iter()
        .map(|t| (t.id().to_string(), t.device()))
        .collect();
    manifest.adapters = tradeoff_wgpu::adapters()
        .iter()
        .map(|a| {
            format!(
                "{} | {} | {} | {}{}",
                a.name,
                a.backend,
                a.device_type,
                a.driver,
                if a.software { " | software" } else { "" }
            )
        })
        .collect();
    let mut writer = RecordWriter::open(&args.out)?;
    if let Some(note) = &writer.recovered {
        eprintln!("warning: {note}");
    }
    let mut earlier = Vec::new();
    if let Some(Resumed { manifest: was }) = &resumed {
        if was.data_hash != setup.data_hash || was.fold_hash != setup.splits.hash {
            return Err(Error::Data {
                what: args.out.join("manifest.json").display().to_string(),
                detail: format!(
                    "the run's data or split changed since it began (data hash {} then, {} \
                     now; fold hash {} then, {} now): resuming would mix two datasets; start \
                     a new run",
                    was.data_hash, setup.data_hash, was.fold_hash, setup.splits.hash
                ),
            }
            .into());
        }
        let (cells, finished) = recorded_by(writer.path(), &was.run_id)?;
        if finished {
            say!(
                "nothing to resume: run {} in {} finished (its recommendation is recorded)",
                was.run_id,
                args.out.display()
            );
            return Ok(0);
        }
        earlier = cells;
        setup.run_id = was.run_id.clone();
        manifest.run_id = was.run_id.clone();
        manifest.started_unix_s = was.started_unix_s;
        manifest.args = was.args.clone();
        manifest.cwd = was.cwd.clone();
        manifest.resumed_unix_s = was.resumed_unix_s.clone();
        manifest.resumed_unix_s.push(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        progress.line(&format!(
            "resuming run {}: {} cell records from before the interruption are kept and \
             not measured again",
            was.run_id,
            earlier.len()
        ));
    }
    if let Some(note) = other_dataset(&args.out, &manifest) {
        progress.line(&format!("warning: {note}"));
        manifest.warnings.push(note);
    }
    let manifest_path = record::write_manifest(&args.out, &manifest)?;
    crate::on_interrupt(format!(
        "the records so far are kept in {}; finish the run with: tradeoff run --resume {}",
        writer.path().display(),
        args.out.display()
    ));
    setup.print_header(&manifest);
    let Setup {
        all,
        task,
        candidates,
        fixed,
        protocol,
        splits,
        train,
        test,
        metric,
        run_id,
        data_hash,
        ..
    } = setup;

    let mut ctx = RunContext {
        run_id,
        machine: format!(
            "{} ({})",
            manifest
                .machine
                .hostname
                .as_deref()
                .unwrap_or("unknown host"),
            manifest.machine.cpu_model
        ),
        pricing: &pricing,
        task: task.to_string(),
        metric: metric.into(),
        data_hash,
        fold_hash: splits.hash.clone(),
        writer: &mut writer,
        written: Vec::new(),
    };
    let recorded = Recorded::new(&earlier);
    ctx.written = earlier;
    let n = candidates.len();
    progress.begin(n, "candidates");
    for (i, ((trainer, _), fixed)) in candidates.iter().zip(fixed).enumerate() {
        let trainer = trainer.as_ref();
        let label = format!("[{}/{}] {}", i + 1, n, trainer.id());
        progress.at(i, trainer.id());
        tracing::info!(candidate = trainer.id(), "candidate {} of {n}", i + 1);
        // The targets still to measure and their batch sizes (all of them, unless resuming).
        let todo: Vec<(&dyn Target, Vec<usize>)> = targets
            .iter()
            .map(|t| {
                let missing = recorded.missing(trainer.id(), t.id(), &batch_sizes);
                (t.as_ref(), missing)
            })
            .filter(|(_, b)| !b.is_empty())
            .collect();
        if todo.is_empty() {
            progress.line(&format!(
                "{label}: recorded before the interruption; not measured again"
            ));
            continue;
        }
        if let Err(why) = trainer.supports(task) {
            progress.line(&format!("{label}: unsupported for {task}: {why}"));
            for &(t, _) in &todo {
                let mut r = ctx.base(trainer, task, t);
                r.status = Status::Unsupported;
                r.reason = Some(why.clone());
                ctx.write(r)?;
            }
            continue;
        }
        machine::reset_peak_rss();
        let heap0 = machine::heap_phase_start();
        let trained = train_candidate(
            trainer, &all, &train, &test, &splits, &protocol, fixed, &progress, &label,
        );
        let trained = match trained {
            Ok(mut t) => {
                t.fit_rss = machine::peak_rss_bytes();
                t.fit_heap = machine::heap_phase_peak(heap0);
                t
            }
            Err(e) => {
                progress.line(&format!("{label}: failed: {e}"));
                for &(t, _) in &todo {
                    let mut r = ctx.base(trainer, task, t);
                    r.status = Status::Failed;
                    r.reason = Some(e.to_string());
                    ctx.write(r)?;
                }
                continue;
            }
        };
        progress.line(&format!(
            "{label}: {}, test {metric} {}, fit {:.3}s",
            match (trained.tune.tuned, trained.tune.cv.as_ref()) {
                (true, Some(cv)) => format!(
                    "{} trials in {:.1}s{} (cv {:.4}{})",
                    trained.tune.trials_run,
                    trained.tune.tune_seconds,
                    if trained.tune.stopped_by_time_cap {
                        ", stopped by the time cap"
                    } else {
                        ""
                    },
                    cv.mean,
                    if cv.folds.len() < protocol.folds {
                        format!(" on {} of {} folds", cv.folds.len(), protocol.folds)
                    } else {
                        String::new()
                    }
                ),
                _ => "fixed parameters".into(),
            },
            trained
                .scores
                .get(metric)
                .map_or("n/a".into(), |v| format!("{v:.4}")),
            trained.fit_seconds
        ));
        for (k, (target, batches)) in todo.iter().enumerate() {
            progress.step(&format!("{label}: target {}", target.id()), k, todo.len());
            measure_on_target(
                &mut ctx,
                trainer,
                task,
                *target,
                &trained,
                &test,
                batches,
                (&measure, &clock, memory_limit),
                &progress,
                &label,
            )?;
        }
    }

    say!();
    say_raw!("{}", tradeoff_report::table(&ctx.written, &batch_sizes));
    if pricing.usd_per_hour.is_none() {
        say!("  cost: no price; pass --instance NAME (see prices.toml) or --usd-per-hour X");
    }
    let rec = conclude(&ctx.written, &pricing);
    ctx.writer
        .write(&recommendation_record(&rec, &ctx.run_id))?;
    let failed = ctx
        .written
        .iter()
        .filter(|r| r.is_failure(args.strict))
        .count();
    let invalid = ctx
        .written
        .iter()
        .filter(|r| r.status == Status::Invalid && !r.is_failure(args.strict))
        .count();
    if let (Some(best), Some(score)) = (&rec.best_candidate, rec.best_score) {
        let test = ctx
            .written
            .iter()
            .find(|r| &r.candidate == best)
            .and_then(|r| r.primary_score());
        say!(
            "\nbest {} {metric}: {best} ({score:.4}{}){}",
            if rec.score_basis == "cross-validation" {
                "cross-validated"
            } else {
                "test"
            },
            rec.best_score_se
                .filter(|se| se.is_finite())
                .map_or(String::new(), |se| format!(", SE {se:.4}")),
            match test {
                Some(t) if rec.score_basis == "cross-validation" => format!("; test {t:.4}"),
                _ => String::new(),
            }
        );
    }
    say!(
        "results   {} (run {}), manifest {}",
        ctx.writer.path().display(),
        ctx.run_id,
        manifest_path.display()
    );
    let report = crate::report::write_unless(args.no_report, &args.out)?;
    drop(progress);
    if invalid > 0 {
        eprintln!(
            "note: {invalid} cells' timings were judged invalid (marked * above, with the \
             reasons); they take no part in the recommendation (--strict makes this exit 4)"
        );
    }
    let code = if failed > 0 {
        eprintln!(
            "error: {failed} cells failed{}; see the notes above and the records",
            if args.strict { " or were invalid" } else { "" }
        );
        crate::EXIT_SOME_FAILED
    } else {
        0
    };
    if args.json {
        crate::ui::print_json(&crate::conclude::summary_json(
            "run",
            &ctx.written,
            Some(&rec),
            serde_json::json!({
                "run_id": ctx.run_id,
                "results": ctx.writer.path(),
                "manifest": manifest_path,
                "report": report,
                "suite": manifest.suite,
            }),
            code,
        ));
    }
    Ok(code)
}

/// Writes train.csv, test.csv and folds.csv (row index in train.csv, 0-based, and its fold).
fn export_split(
    dir: &std::path::Path,
    train: &Dataset,
    test: &Dataset,
    splits: &Splits,
) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
    train.write_csv(&dir.join("train.csv"))?;
    test.write_csv(&dir.join("test.csv"))?;
    let folds: String = std::iter::once("row,fold\n".to_string())
        .chain(
            splits
                .fold_of
                .iter()
                .enumerate()
                .map(|(i, f)| format!("{i},{f}\n")),
        )
        .collect();
    let path = dir.join("folds.csv");
    std::fs::write(&path, folds).map_err(|e| Error::write(&path, e))
}

#[allow(clippy::too_many_arguments)]
fn train_candidate(
    trainer: &dyn Trainer,
    all: &Dataset,
    train: &Dataset,
    test: &Dataset,
    splits: &Splits,
    protocol: &Protocol,
    fixed: Option<protocol::Params>,
    progress: &Progress,
    label: &str,
) -> Result<Trained, Error> {
    progress.update(&format!("{label}: tuning"));
    let tune = protocol::tune(trainer, all, splits, protocol, fixed, &mut |done, total| {
        progress.step(&format!("{label}: tuning trials"), done, total);
    })?;
    tracing::info!(
        candidate = trainer.id(),
        trials = tune.trials_run,
        seconds = tune.tune_seconds,
        "tuned: {:?}",
        tune.params
    );
    progress.update(&format!("{label}: refitting on the training part"));
    let start = Instant::now();
    let ir = protocol::fit_guarded(trainer, train, &tune.params, protocol.seed)?;
    let fit_seconds = start.elapsed().as_secs_f64();
    // Scores are those of the `cpu` target's predictions (what ships on it), checked against
    // the IR's definition on the parity rows first, so a score never rests on a wrong answer.
    let mut cpu = CpuTarget.load(&ir)?;
    let predicted = predict_all(cpu.as_mut(), &test.x, test.n_rows)?;
    let rows = parity_rows(&ir, test.n_rows);
    let parity_pool = test.x[..rows * test.n_features].to_vec();
    let reference = tradeoff_core::ir::eval(&ir, &parity_pool, rows);
    if let (_, Some(why)) = harness::parity(
        &reference,
        &predicted[..rows * ir.n_outputs],
        ir.n_outputs,
        ir.classification,
    ) {
        return Err(Error::Model(format!(
            "the cpu target's predictions on the test rows differ from the model's definition \
             (ir::eval): {why}; the scores would not be the model's (please report)"
        )));
    }
    let scores = score(test.task, ir.n_outputs, &predicted, &test.y);
    Ok(Trained {
        fit_rss: None,
        fit_heap: None,
        ir,
        tune,
        fit_seconds,
        scores,
        parity_pool,
        reference,
    })
}

#[allow(clippy::too_many_arguments)]
fn measure_on_target(
    ctx: &mut RunContext,
    trainer: &dyn Trainer,
    task: tradeoff_core::data::Task,
    target: &dyn Target,
    trained: &Trained,
    test: &Dataset,
    batch_sizes: &[usize],
    (measure, clock, memory_limit): (&MeasureConfig, &Clock, Option<(u64, &str)>),
    progress: &Progress,
    label: &str,
) -> Result<()> {
    let mut base = ctx.base(trainer, task, target);
    for (k, v) in &trained.scores {
        base.set_score(k, *v);
    }
    if let Some(cv) = &trained.tune.cv {
        base.cv_score = Some(CvScore {
            mean: cv.mean,
            std: cv.std,
            folds: cv.folds.len(),
        });
    }
    base.params = trained.tune.params.clone();
    base.tuned = trained.tune.tuned;
    base.trials = trained.tune.trials_run;
    base.fit_seconds = base.finite("fit_seconds", trained.fit_seconds);
    base.tune_seconds = base.finite("tune_seconds", trained.tune.tune_seconds);
    base.model_bytes = Some(trained.ir.serialized_bytes());
    let size = trained.ir.size();
    base.parameters = Some(size.parameters);
    base.nodes = Some(size.nodes);

    let mut memory = Memory {
        fit_peak_rss_bytes: trained.fit_rss,
        fit_heap_peak_bytes: trained.fit_heap,
        device: if target.device_kind().is_gpu() {
            "unknown: this target does not report device memory".into()
        } else {
            "none: the target runs in host memory".into()
        },
        ..Memory::default()
    };
    base.memory = Some(memory.clone());
    machine::reset_peak_rss();
    let heap0 = machine::heap_phase_start();
    let heap_before_load = machine::heap_live_bytes();
    let mut predictor = match target.load(&trained.ir) {
        Ok(p) => p,
        Err(e) => {
            // Unsupported (no form for this family, no device here) apart from a target
            // that failed while loading (an upload, a device error).
            base.status = if matches!(e, Error::Unsupported { .. }) {
                Status::Unsupported
            } else {
                Status::Failed
            };
            base.reason = Some(e.to_string());
            return ctx.write(base);
        }
    };
    match harness::cold_call(predictor.as_mut(), test.row(0)) {
        Ok(cold) => base.cold_ns = Some(cold),
        Err(e) => {
            base.status = Status::Failed;
            base.reason = Some(e.to_string());
            return ctx.write(base);
        }
    }
    for &b in batch_sizes {
        progress.update(&format!(
            "{label}: measuring on {} at batch {b}",
            target.id()
        ));
        let mut r = base.clone();
        r.batch_size = b;
        let need = harness::measure_bytes(test.n_rows, test.n_features, trained.ir.n_outputs, b);
        if let Some((limit, source)) = memory_limit.filter(|&(l, _)| need > l) {
            let gib = |v: u64| v as f64 / (1u64 << 30) as f64;
            r.status = Status::Skipped;
            r.reason = Some(format!(
                "batch {b} needs {:.2} GiB for its rows and outputs, more than the memory \
                 limit of {:.2} GiB ({source})",
                gib(need),
                gib(limit),
            ));
            ctx.write(r)?;
            continue;
        }
        // Parity at this batch size, before timing it.
        let mismatch = match harness::parity_at_batch(
            predictor.as_mut(),
            &trained.parity_pool,
            test.n_features,
            &trained.reference,
            b,
            trained.ir.classification,
        ) {
            Ok(check) => {
                r.parity_max_abs_err = r.finite("parity_max_abs_err", check.max_abs_err);
                r.parity_rows = Some(check.rows);
                check.mismatch
            }
            Err(e) => {
                r.status = Status::Failed;
                r.reason = Some(e.to_string());
                ctx.write(r)?;
                continue;
            }
        };
        // What serving at this batch size costs in host memory: the heap the predictor
        // keeps, plus one call's high-water above it, plus the call's rows in and out.
        let serving = {
            let x = harness::make_batch(&trained.parity_pool, test.n_features, b);
            let mut out = vec![0.0f32; b * trained.ir.n_outputs];
            let io = ((x.len() + out.len()) * std::mem::size_of::<f32>()) as u64;
            let (called, live, call_peak) = machine::heap_high_water_of(|| {
                predictor.predict(&x, b, &mut out)?;
                predictor.sync()
            });
            match (called, live, heap_before_load, call_peak) {
                (Ok(()), Some(live), Some(before), Some(peak)) => {
                    Some(live.saturating_sub(before) as u64 + peak + io)
                }
                _ => None,
            }
        };
        r.threads = predictor.threads(b);
        if r.threads.is_none() {
            r.absent.insert(
                "threads".into(),
                "the target's runtime schedules its own thread pool".into(),
            );
        }
        match harness::measure(
            predictor.as_mut(),
            &test.x,
            test.n_features,
            b,
            measure,
            clock,
        ) {
            Ok(mut m) => {
                tracing::info!(
                    candidate = trainer.id(),
                    target = target.id(),
                    batch = b,
                    p50_ns = m.latency_ns.p50,
                    samples = m.latency_ns.n,
                    valid = m.verdict.valid,
                    "measured"
                );
                if let Some(why) = &mismatch {
                    // Still measured, so the user sees what the wrong answer would cost.
                    m.verdict.valid = false;
                    m.verdict.reasons.insert(
                        0,
                        format!("{}: {why}", tradeoff_core::record::PARITY_FAILED),
                    );
                }
                if !m.verdict.valid {
                    r.status = Status::Invalid;
                    r.reason = Some(m.verdict.reasons.join("; "));
                }
                for (name, why) in &m.withheld {
                    r.absent.insert(format!("latency_ns.{name}"), why.clone());
                }
                r.latency_ns = Some(m.latency_ns);
                r.verdict = Some(m.verdict);
                r.throughput_rows_per_s =
                    r.finite("throughput_rows_per_s", m.throughput_rows_per_s);
                if let (Some(usd), Some(rps)) = (r.usd_per_hour, r.throughput_rows_per_s) {
                    r.usd_per_million =
                        cost::usd_per_million(usd, rps, r.utilization.unwrap_or(1.0));
                }
            }
            Err(e) => {
                r.status = Status::Failed;
                r.reason = Some(e.to_string());
            }
        }
        if r.latency_ns.is_some() {
            // Device targets: the same call split into upload, compute and readback.
            match harness::measure_phases(
                predictor.as_mut(),
                &test.x,
                test.n_features,
                b,
                std::time::Duration::from_secs(2),
            ) {
                Ok(p) => r.phases_ns = p,
                Err(e) => {
                    r.absent.insert("phases_ns".into(), e.to_string());
                }
            }
        }
        memory.device_after_predict = predictor.device_memory();
        if memory.device_after_predict.is_some() {
            memory.device = "the target runtime's memory pool, after measuring".into();
        }
        memory.predict_peak_rss_bytes = machine::peak_rss_bytes();
        memory.predict_heap_peak_bytes = machine::heap_phase_peak(heap0);
        memory.model_on_target_bytes = predictor.memory_bytes();
        memory.serving_bytes = serving;
        if serving.is_none() {
            r.absent.insert(
                "memory.serving_bytes".into(),
                "the heap is not counted here (no counting allocator), or the call failed".into(),
            );
        }
        r.memory = Some(memory.clone());
        ctx.write(r)?;
    }
    Ok(())
}
