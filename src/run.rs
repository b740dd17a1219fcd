//! `tradeoff run`: load, split, tune, refit, score, measure on every target, record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Result;
use tradeoff_core::record::{
    self, CellRecord, ImportedFrom, Manifest, RecordWriter, ServingRecord, Status,
};
use tradeoff_data::data::Dataset;
use tradeoff_data::protocol::Splits;
use tradeoff_engine::isolate::Isolation;
use tradeoff_engine::registry;
use tradeoff_engine::{Data, How, Identity, Job, Measure, RunInfo};
use tradeoff_ir::ir::ValidIr;
use tradeoff_ir::machine;
use tradeoff_ir::target::Target;
use tradeoff_ir::Error;
use tradeoff_report::record::Record;

use crate::cli::{IsolateArg, RunArgs};
use crate::common::{environment, measure_config, parse_list, Setup};
use crate::conclude::{conclude, recommendation_record};
use crate::pricing::Pricing;
use crate::ui::Progress;

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
            for entry in &registry::TARGETS {
                if entry.gpu_api {
                    let t = entry.make();
                    if !t.device_kind().is_gpu() {
                        skipped.push(format!(
                            "{} not measured: no hardware GPU ({}); name it in --targets to measure it anyway",
                            entry.id,
                            t.device()
                        ));
                        continue;
                    }
                }
                ids.push(entry.id.to_string());
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
        let entry = registry::target(&id).ok_or_else(|| {
            Error::option(
                "--targets",
                id.as_str(),
                format!(
                    "unknown target; known: {}",
                    registry::target_ids().join(", ")
                ),
            )
        })?;
        out.push(entry.make());
    }
    Ok((out, skipped))
}

/// `--isolate` and `--cell-timeout`: which targets run in a child process, started as this
/// executable's hidden `measure-cells` command.
fn isolation(args: &RunArgs, targets: &[Box<dyn Target>]) -> Result<Option<Isolation>, Error> {
    let t = args.cell_timeout;
    if !(t > 0.0 && t <= 86_400.0) {
        return Err(Error::option(
            "--cell-timeout",
            t.to_string(),
            "must be in (0, 86400] seconds",
        ));
    }
    let ids: Vec<String> = targets
        .iter()
        .map(|t| t.id())
        .filter(|id| match args.isolate {
            IsolateArg::All => true,
            IsolateArg::Gpu => registry::target(id).is_some_and(|e| e.gpu_api),
            IsolateArg::None => false,
        })
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::option("--isolate", "", format!("cannot find this program: {e}")))?;
    Ok(Some(Isolation {
        command: Box::new(move || {
            let mut c = std::process::Command::new(&exe);
            c.arg("measure-cells");
            c
        }),
        scratch: std::env::temp_dir(),
        cell_timeout: std::time::Duration::from_secs_f64(t),
        targets: ids,
    }))
}

/// `--require-gpu`: every wgpu target must run on a hardware GPU adapter.
fn require_gpu(targets: &[Box<dyn Target>], skipped: &[String]) -> Result<(), String> {
    let gpu_api = |id: &str| registry::target(id).is_some_and(|e| e.gpu_api);
    let wgpu: Vec<_> = targets.iter().filter(|t| gpu_api(t.id())).collect();
    if wgpu.is_empty() {
        return Err(if skipped.is_empty() {
            format!(
                "--require-gpu: no wgpu target was selected ({})",
                registry::TARGETS
                    .iter()
                    .filter(|e| e.gpu_api)
                    .map(|e| e.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
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

/// The cell and serving records of run `run_id` in `path`, and whether the run finished
/// (its recommendation is recorded). No file, or an empty one, holds none.
fn recorded_by(path: &Path, run_id: &str) -> Result<(Vec<CellRecord>, Vec<ServingRecord>, bool)> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok((vec![], vec![], false));
    }
    let mut damaged = Vec::new();
    let records = tradeoff_report::record::read(path, &mut damaged)?;
    for d in &damaged {
        eprintln!("warning: {d}");
    }
    let mut finished = false;
    let mut cells = Vec::new();
    let mut served = Vec::new();
    for (_, r) in records.into_iter().filter(|(_, r)| r.run_id() == run_id) {
        match r {
            Record::Recommendation(_) => finished = true,
            Record::Cell(c) => cells.push(*c),
            Record::Serving(r) => served.push(*r),
            _ => {}
        }
    }
    Ok((cells, served, finished))
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
struct Recorded {
    cells: BTreeMap<(String, String), BTreeSet<usize>>,
    /// (candidate, target) with a serving record.
    served: BTreeSet<(String, String)>,
}

impl Recorded {
    fn new(cells: &[CellRecord], served: &[ServingRecord]) -> Self {
        let mut map: BTreeMap<(String, String), BTreeSet<usize>> = BTreeMap::new();
        for c in cells {
            map.entry((c.candidate.clone(), c.target.clone()))
                .or_default()
                .insert(c.batch_size);
        }
        Recorded {
            cells: map,
            served: served
                .iter()
                .map(|r| (r.candidate.clone(), r.target.clone()))
                .collect(),
        }
    }

    /// What is left of (candidate, target): the batch sizes still to measure, an empty list
    /// when only serving under load is (`serving`: the run serves, and its serving record
    /// is missing), `None` when it is done.
    fn todo(
        &self,
        candidate: &str,
        target: &str,
        batch_sizes: &[usize],
        serving: bool,
    ) -> Option<Vec<usize>> {
        let key = (candidate.to_string(), target.to_string());
        let left: Vec<usize> = match self.cells.get(&key) {
            // A target with no form, or that failed as a whole: nothing to serve either.
            Some(done) if done.contains(&0) => return None,
            Some(done) => batch_sizes
                .iter()
                .copied()
                .filter(|b| !done.contains(b))
                .collect(),
            None => batch_sizes.to_vec(),
        };
        (!left.is_empty() || (serving && !self.served.contains(&key))).then_some(left)
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
    let isolation = isolation(&args, &targets)?;
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
    // Checked before the data is read and anything is written.
    let traffic = args
        .serve
        .traffic
        .as_deref()
        .map(tradeoff_report::serving::parse_traffic)
        .transpose()?;
    let serve_plan = crate::serve::plan(&args.serve, &pricing.budgets.slo, args.protocol.seed)?;
    if serve_plan.is_none() && !args.serve.workers.is_empty() {
        progress.line(
            "note: --workers applies to the serving scenarios only; without --scenarios it is \
             not used",
        );
    }
    let mut setup = Setup::new(&args.data, &args.protocol, &progress)?;
    let imports = import_models(&args, &setup)?;
    let classes = &setup.all.schema.classes;
    let numbered = classes.iter().enumerate().all(|(i, c)| *c == i.to_string());
    if !imports.is_empty() && !classes.is_empty() && !numbered {
        let w = format!(
            "--model: a model's class k is taken to be the data's k-th class in tradeoff's order ({}); a model trained with other class codes predicts the wrong classes, and its score shows it",
            classes
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{i} = {c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        progress.line(&format!("warning: {w}"));
        setup.warnings.push(w);
    }
    if !imports.is_empty() && args.data.test_data.is_none() {
        let w = format!(
            "--model: imported models are scored on this run's test split ({} rows drawn from the data); a model trained on any of them scores too high: give the rows it never saw with --test-data",
            setup.test.n_rows
        );
        progress.line(&format!("warning: {w}"));
        setup.warnings.push(w);
    }
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
    let writer = RecordWriter::open(&args.out)?;
    if let Some(note) = &writer.recovered {
        eprintln!("warning: {note}");
    }
    let mut earlier = Vec::new();
    let mut earlier_served = Vec::new();
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
        let (cells, served, finished) = recorded_by(writer.path(), &was.run_id)?;
        if finished {
            say!(
                "nothing to resume: run {} in {} finished (its recommendation is recorded)",
                was.run_id,
                args.out.display()
            );
            return Ok(0);
        }
        earlier = cells;
        earlier_served = served;
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

    let run = RunInfo {
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
        instance: pricing.instance.clone(),
        usd_per_hour: pricing.usd_per_hour,
        utilization: pricing.utilization,
        task,
        metric: metric.into(),
        data_hash,
        fold_hash: splits.hash.clone(),
    };
    let data = Data {
        all: &all,
        train: &train,
        test: &test,
        splits: &splits,
    };
    let writer = std::cell::RefCell::new(writer);
    let recorded = Recorded::new(&earlier, &earlier_served);
    // A resumed run's tables and recommendation cover the serving records from before the
    // interruption too.
    let served = std::cell::RefCell::new(earlier_served);
    let emit_serving = |r: tradeoff_core::record::ServingRecord| -> Result<(), Error> {
        writer
            .borrow_mut()
            .write(&Record::Serving(Box::new(r.clone())))?;
        served.borrow_mut().push(r);
        Ok(())
    };
    let how = Measure {
        config: &measure,
        clock: &clock,
        memory_limit,
        isolation: isolation
            .as_ref()
            .map(|i| i as &dyn tradeoff_engine::Elsewhere),
        serving: serve_plan.as_ref().map(|plan| tradeoff_engine::Serve {
            plan,
            emit: &emit_serving,
        }),
    };
    let mut written = earlier;
    let mut sink = |r: CellRecord| -> Result<(), Error> {
        writer
            .borrow_mut()
            .write(&Record::Cell(Box::new(r.clone())))?;
        written.push(r);
        Ok(())
    };
    // The trained candidates in ladder order, then the imported models: each a job.
    let trained = candidates.iter().zip(fixed).map(|(c, fixed)| {
        (
            Identity::of(c.entry, c.trainer.as_ref(), task),
            How::Train {
                trainer: c.trainer.as_ref(),
                fixed,
            },
        )
    });
    let imported = imports.into_iter().map(|m| {
        (
            m.who,
            How::Import {
                ir: m.ir,
                from: Box::new(m.from),
            },
        )
    });
    let jobs: Vec<(Identity, How)> = trained.chain(imported).collect();
    let n = jobs.len();
    progress.begin(n, "candidates");
    for (i, (who, how_fitted)) in jobs.into_iter().enumerate() {
        let id = who.id.clone();
        let label = format!("[{}/{}] {id}", i + 1, n);
        progress.at(i, &id);
        tracing::info!(candidate = id, "candidate {} of {n}", i + 1);
        // The targets still to measure and their batch sizes (all of them, unless resuming).
        // (A target whose cells were all recorded but whose serving was cut short is served:
        // its candidate is fitted again for it.)
        let cells: Vec<(&dyn Target, Vec<usize>)> = targets
            .iter()
            .filter_map(|t| {
                let left = recorded.todo(&id, t.id(), &batch_sizes, serve_plan.is_some())?;
                Some((t.as_ref(), left))
            })
            .collect();
        if cells.is_empty() {
            progress.line(&format!(
                "{label}: recorded before the interruption; not measured again"
            ));
            continue;
        }
        let job = Job {
            who,
            how: how_fitted,
            cells,
        };
        tradeoff_engine::evaluate(
            &run, &data, &protocol, &how, job, &progress, &label, &mut sink,
        )?;
    }

    let mut writer = writer.into_inner();
    let served = served.into_inner();
    say!();
    say_raw!("{}", tradeoff_report::table(&written, &batch_sizes));
    let load = tradeoff_report::serving::Load {
        traffic,
        headroom: pricing.headroom,
    };
    say_raw!("{}", tradeoff_report::serving::tables(&served, load));
    if pricing.usd_per_hour.is_none() {
        say!("  cost: no price; pass --instance NAME (see prices.toml) or --usd-per-hour X");
    }
    let rec = conclude(&written, &served, traffic, &pricing);
    writer.write(&recommendation_record(&rec, &run.run_id))?;
    // The run is finished: its manifest says when (a fleet's merge reports how long each
    // machine ran).
    manifest.finished_unix_s = Some(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    record::write_manifest(&args.out, &manifest)?;
    let failed = written.iter().filter(|r| r.is_failure(args.strict)).count();
    let invalid = written
        .iter()
        .filter(|r| r.status == Status::Invalid && !r.is_failure(args.strict))
        .count();
    if let (Some(best), Some(score)) = (&rec.best_candidate, rec.best_score) {
        let test = written
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
        writer.path().display(),
        run.run_id,
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
            &written,
            Some(&rec),
            serde_json::json!({
                "run_id": run.run_id,
                "results": writer.path(),
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

/// A `--model` file read, matched to the data and checked: a candidate that is not trained.
struct ImportedModel {
    who: Identity,
    ir: ValidIr,
    from: ImportedFrom,
}

/// Reads every `--model` file and matches it to the data, before any work: a file that
/// cannot be measured here stops the run with its reason (exit 3).
fn import_models(args: &RunArgs, setup: &Setup) -> Result<Vec<ImportedModel>, Error> {
    let format = args
        .model_format
        .as_deref()
        .map(|f| tradeoff_import::Format::parse(f).expect("clap checked the --model-format value"));
    let mut out: Vec<ImportedModel> = Vec::new();
    for path in &args.models {
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if id.is_empty() || registry::candidate(&id).is_some() || out.iter().any(|m| m.who.id == id)
        {
            return Err(Error::option(
                "--model",
                path.display().to_string(),
                format!("the file's name ({id:?}) is its candidate id and must differ from the candidates' ids and the other models'; rename or copy the file"),
            ));
        }
        let imported = tradeoff_import::read(path, format)?;
        let ir = imported
            .bind(&setup.all.feature_names, setup.all.n_classes())?
            .validate()
            .map_err(|e| Error::ModelFile {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let family = ir.family();
        out.push(ImportedModel {
            who: Identity {
                id,
                family: family.into(),
                rank: registry::family_rank(family).unwrap_or(u32::MAX),
                library: format!("{} (imported)", imported.producer),
                train_device: None,
            },
            from: ImportedFrom {
                file: path.display().to_string(),
                format: imported.format.name().into(),
                producer: imported.producer.clone(),
                objective: imported.objective.clone(),
                file_hash: format!("{:016x}", imported.file_hash),
            },
            ir,
        });
    }
    Ok(out)
}
