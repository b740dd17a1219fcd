//! What `run` and `curve` share: option parsing, data loading, the protocol and splits, the
//! manifest and the header lines.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use tradeoff_core::harness::{self, Clock, MeasureConfig};
use tradeoff_core::record::{Environment, Manifest, SCHEMA_VERSION};
use tradeoff_data::data::{self, CsvOptions, Dataset, MissingPolicy, Task, TaskRequest};
use tradeoff_data::metrics::primary_metric;
use tradeoff_data::protocol::{parse_params, Params, Protocol, Splits, Trainer};
use tradeoff_engine::registry::{self, CandidateEntry, Role};
use tradeoff_ir::machine::{self, Machine};
use tradeoff_ir::Error;

use crate::cli::{DataArgs, MeasureArgs, MissingArg, ProtocolArgs, TaskArg, TrainOn, UnseenArg};
use crate::ui::Progress;

pub fn parse_delimiter(s: &str) -> Result<u8, Error> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        "\"" | "\n" | "\r" => Err(Error::option(
            "--delimiter",
            s,
            "a quote or a line break cannot separate fields (they quote fields and end records)",
        )),
        _ if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        _ => Err(Error::option(
            "--delimiter",
            s,
            "must be one ASCII character or \"tab\"",
        )),
    }
}

/// A comma-separated list; an entry `parse` refuses is an error saying what `allowed` is.
pub fn parse_list<T>(
    option: &str,
    text: &str,
    allowed: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, Error> {
    let items: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        return Err(Error::option(option, text, "the list is empty"));
    }
    items
        .iter()
        .map(|s| {
            parse(s)
                .ok_or_else(|| Error::option(option, *s, format!("each entry must be {allowed}")))
        })
        .collect()
}

/// A chosen candidate: its registry entry, its trainer and the parameters the user fixed for
/// it (`linear,forest:trees=100,max_depth=8,gbm`: a token with `=` belongs to the candidate
/// before it), if any.
pub struct Chosen {
    pub entry: &'static CandidateEntry,
    pub trainer: Box<dyn Trainer>,
    pub fixed: Option<String>,
}

pub fn parse_candidates(text: Option<&str>, train_on: TrainOn) -> Result<Vec<Chosen>, Error> {
    let device = match train_on {
        TrainOn::Cpu => tradeoff_burn::BurnDevice::Flex,
        TrainOn::Gpu => tradeoff_burn::BurnDevice::Wgpu,
    };
    let chosen = |entry: &'static CandidateEntry, fixed| Chosen {
        entry,
        trainer: entry.trainer(device),
        fixed,
    };
    let Some(text) = text else {
        return Ok(registry::CANDIDATES
            .iter()
            .filter(|c| c.role == Role::Ladder)
            .map(|c| chosen(c, None))
            .collect());
    };
    let mut out: Vec<Chosen> = Vec::new();
    for token in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (id, first_param) = match token.split_once(':') {
            Some((id, p)) => (id, Some(p)),
            None if token.contains('=') => {
                let last = out.last_mut().ok_or_else(|| {
                    Error::option(
                        "--candidates",
                        text,
                        format!("{token:?} does not follow a candidate id"),
                    )
                })?;
                let fixed = last.fixed.get_or_insert_with(String::new);
                if !fixed.is_empty() {
                    fixed.push(',');
                }
                fixed.push_str(token);
                continue;
            }
            None => (token, None),
        };
        let entry = registry::candidate(id).ok_or_else(|| {
            Error::option(
                "--candidates",
                id,
                format!(
                    "unknown candidate; known: {}",
                    registry::CANDIDATES.map(|c| c.id).join(", ")
                ),
            )
        })?;
        if out.iter().any(|c| c.entry.id == entry.id) {
            return Err(Error::option("--candidates", id, "listed twice"));
        }
        out.push(chosen(entry, first_param.map(str::to_string)));
    }
    if out.is_empty() {
        return Err(Error::option("--candidates", text, "the list is empty"));
    }
    // Ladder order, whatever order the user wrote.
    out.sort_by_key(|c| c.entry.rank);
    Ok(out)
}

/// The training data and, with --test-data, the separate test data.
pub fn load(args: &DataArgs) -> Result<(Dataset, Option<Dataset>), Error> {
    let delimiter = parse_delimiter(&args.delimiter)?;
    if let Some(path) = &args.data {
        let mut opts = CsvOptions::new(args.target.as_deref().unwrap_or_default());
        opts.delimiter = delimiter;
        opts.drop_columns = args.drop_columns.clone();
        opts.task = match args.task {
            TaskArg::Auto => TaskRequest::Auto,
            TaskArg::Regression => TaskRequest::Regression,
            TaskArg::Classification => TaskRequest::Classification,
        };
        opts.missing = match args.missing {
            MissingArg::Reject => MissingPolicy::Reject,
            MissingArg::Drop => MissingPolicy::Drop,
            MissingArg::Impute => MissingPolicy::Impute,
        };
        if args.max_levels == 0 {
            return Err(Error::option("--max-levels", "0", "must be at least 1"));
        }
        opts.max_levels = args.max_levels;
        let train = data::load_table(&tradeoff_parquet::read_table(path, delimiter)?, &opts)?;
        let unseen = match args.unseen_levels {
            UnseenArg::Ignore => data::UnseenPolicy::Ignore,
            UnseenArg::Error => data::UnseenPolicy::Error,
        };
        let test = match &args.test_data {
            Some(t) => Some(data::load_table_like(
                &tradeoff_parquet::read_table(t, delimiter)?,
                &train,
                unseen,
            )?),
            None => None,
        };
        return Ok((train, test));
    }
    if args.target.is_some()
        || !args.drop_columns.is_empty()
        || args.task != TaskArg::Auto
        || args.missing != MissingArg::Reject
    {
        return Err(Error::option(
            "--target/--drop-column/--task/--missing",
            "",
            "these apply to --data FILE.csv only",
        ));
    }
    let name = args
        .dataset
        .as_deref()
        .unwrap_or(tradeoff_linfa::DEFAULT_DATASET);
    let ds = if name.starts_with("synthetic") {
        data::synthetic(name)?
    } else {
        tradeoff_linfa::builtin(name)?
    };
    Ok((ds, None))
}

pub fn dependencies() -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = BTreeMap::new();
    for kv in env!("TRADEOFF_DEPS").split(';').filter(|s| !s.is_empty()) {
        if let Some((k, v)) = kv.split_once('=') {
            m.entry(k.to_string())
                .and_modify(|e| {
                    e.push_str(", ");
                    e.push_str(v);
                })
                .or_insert_with(|| v.to_string());
        }
    }
    m
}

/// The harness settings from `--quick`, `--thorough` and `--measure-seconds`.
pub fn measure_config(args: &MeasureArgs) -> Result<MeasureConfig, Error> {
    let mut cfg = if args.quick {
        MeasureConfig::quick()
    } else if args.thorough {
        MeasureConfig::thorough()
    } else {
        MeasureConfig::default()
    };
    if let Some(seconds) = args.measure_seconds {
        if !(seconds > 0.0 && seconds <= 60.0) {
            return Err(Error::option(
                "--measure-seconds",
                seconds.to_string(),
                "must be in (0, 60]",
            ));
        }
        cfg.min_seconds = seconds;
        cfg.max_seconds = cfg.max_seconds.max(seconds * 5.0);
    }
    if let Some(pct) = args.max_cv {
        if !(pct > 0.0 && pct.is_finite()) {
            return Err(Error::option(
                "--max-cv",
                pct.to_string(),
                "must be a positive percentage",
            ));
        }
        cfg.max_cv = pct / 100.0;
    }
    if let Some(pct) = args.max_cpu_wait {
        if !(pct > 0.0 && pct.is_finite()) {
            return Err(Error::option(
                "--max-cpu-wait",
                pct.to_string(),
                "must be a positive percentage",
            ));
        }
        cfg.max_cpu_wait = pct / 100.0;
    }
    Ok(cfg)
}

/// Calibrates the clock and the harness's own cost, and describes the environment.
pub fn environment() -> (Clock, Environment) {
    let clock = Clock::calibrate();
    let cfg = MeasureConfig {
        max_cv: f64::INFINITY,
        max_cpu_wait: f64::INFINITY,
        ..MeasureConfig::quick()
    };
    let overhead = harness::measure(&mut harness::Empty, &[0.0], 1, 1, &cfg, &clock)
        .map(|m| m.latency_ns.p50)
        .unwrap_or(f64::NAN);
    let pool = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: BTreeMap<String, usize> = [
        (
            "cpu target (MLP layers of large batches; else 1, see each record's threads)",
            pool,
        ),
        (
            "ridge (ours: X'X on every core) and logistic regression (ours: 1)",
            pool,
        ),
        (
            "tradeoff-hist (forests and boosting: every core; a single tree: 1)",
            pool,
        ),
        ("burn (Flex thread pool, at most)", pool),
        ("candle (thread pool, at most)", pool),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    (
        clock,
        Environment {
            simd: machine::simd_features(),
            load_average_1m: machine::load_average(),
            build_profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            threads,
            clock,
            harness_overhead_ns: overhead,
            heap_tracking: machine::heap_phase_start().is_some(),
        },
    )
}

/// Everything a command needs before training: data, candidates, protocol, splits.
pub struct Setup {
    pub all: Dataset,
    pub external_test: Option<Dataset>,
    pub task: Task,
    pub candidates: Vec<Chosen>,
    /// Parameters the user fixed, per candidate (checked against the search space).
    pub fixed: Vec<Option<Params>>,
    pub protocol: Protocol,
    pub splits: Splits,
    pub train: Dataset,
    pub test: Dataset,
    pub metric: &'static str,
    pub run_id: String,
    pub started: u64,
    pub data_hash: String,
    pub warnings: Vec<String>,
    /// `--unseen-levels`, when a separate test file was encoded with it.
    pub unseen_levels: Option<&'static str>,
}

impl Setup {
    /// Checks the options first (a typo fails in a second, not after tuning), then loads
    /// and splits the data.
    pub fn new(data: &DataArgs, p: &ProtocolArgs, progress: &Progress) -> Result<Setup, Error> {
        let candidates = parse_candidates(p.candidates.as_deref(), p.train_on)?;
        let protocol = Protocol {
            seed: p.seed,
            test_fraction: p.test_fraction,
            folds: p.folds,
            trials: p.trials,
            time_cap_seconds: p.time_cap,
        };
        protocol.validate()?;
        progress.update("loading data");
        let (all, external_test) = load(data)?;
        let mut warnings: Vec<String> = all.warnings.clone();
        if let Some(t) = &external_test {
            warnings.extend(t.warnings.iter().cloned());
        }
        for w in &warnings {
            progress.line(&format!("warning: {w}"));
        }
        let task = all.task;
        let why: Vec<String> = candidates
            .iter()
            .filter_map(|c| {
                c.trainer
                    .supports(task)
                    .err()
                    .map(|w| format!("{}: {w}", c.entry.id))
            })
            .collect();
        if why.len() == candidates.len() {
            return Err(Error::option(
                "--candidates",
                p.candidates.as_deref().unwrap_or_default(),
                format!(
                    "none of them applies to this {task} task, so nothing would be measured ({})",
                    why.join("; ")
                ),
            ));
        }
        let mut fixed = Vec::new();
        for c in &candidates {
            fixed.push(match &c.fixed {
                Some(text) if c.trainer.supports(task).is_ok() => {
                    Some(parse_params(c.trainer.as_ref(), task, text)?)
                }
                _ => None,
            });
        }
        let splits = Splits::new(&all, &protocol, external_test.is_some())?;
        // `--missing impute` learns its values from the training part only: the test rows
        // never inform what their own missing cells are filled with. (A separate test file
        // was never part of them.)
        let mut all = all;
        all.impute_from(&splits.train);
        let train = all.select(&splits.train);
        let test = match &external_test {
            Some(t) => t.clone(),
            None => all.select(&splits.test),
        };
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if !machine::reset_peak_rss() {
            warnings.push(
                "peak RSS cannot be reset per candidate here; it covers the whole process".into(),
            );
        }
        Ok(Setup {
            data_hash: all.hash(),
            run_id: format!("{started}-{}", std::process::id()),
            started,
            metric: primary_metric(task),
            all,
            external_test,
            task,
            candidates,
            fixed,
            protocol,
            splits,
            train,
            test,
            warnings,
            unseen_levels: data.test_data.as_ref().map(|_| match data.unseen_levels {
                UnseenArg::Ignore => "ignore",
                UnseenArg::Error => "error",
            }),
        })
    }

    pub fn manifest(
        &self,
        command: &str,
        measure: &MeasureConfig,
        environment: &Environment,
        batch_sizes: &[usize],
        targets: Vec<String>,
    ) -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            command: command.into(),
            run_id: self.run_id.clone(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: Some(env!("TRADEOFF_GIT_COMMIT").to_string()).filter(|s| !s.is_empty()),
            started_unix_s: self.started,
            machine: Machine::detect(),
            environment: environment.clone(),
            dataset: self.all.source.clone(),
            test_data: self.external_test.as_ref().map(|t| t.source.clone()),
            task: self.task.to_string(),
            rows: self.all.n_rows,
            features: self.all.n_features,
            train_rows: self.train.n_rows,
            test_rows: self.test.n_rows,
            missing_policy: self.all.schema.missing.as_str().into(),
            one_hot: self
                .all
                .schema
                .columns
                .iter()
                .filter_map(|c| match &c.kind {
                    data::ColumnKind::OneHot { levels } => Some((c.name.clone(), levels.clone())),
                    data::ColumnKind::Numeric { .. } | data::ColumnKind::Date { .. } => None,
                })
                .collect(),
            unseen_levels: self.unseen_levels.map(str::to_string),
            seed: self.protocol.seed,
            protocol: self.protocol.clone(),
            measure: measure.clone(),
            batch_sizes: batch_sizes.to_vec(),
            data_hash: self.data_hash.clone(),
            fold_hash: self.splits.hash.clone(),
            primary_metric: self.metric.into(),
            args: std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            cwd: std::env::current_dir()
                .ok()
                .map(|d| d.display().to_string()),
            resumed_unix_s: vec![],
            finished_unix_s: None,
            candidates: self
                .candidates
                .iter()
                .map(|c| c.entry.id.to_string())
                .collect(),
            targets,
            target_devices: BTreeMap::new(),
            adapters: Vec::new(),
            suite: None,
            dependencies: dependencies(),
            warnings: self.warnings.clone(),
        }
    }

    /// The lines that open every command's output: data, protocol, hashes, machine.
    pub fn print_header(&self, manifest: &Manifest) {
        let p = &self.protocol;
        let external = self.external_test.is_some();
        say!(
            "dataset   {} ({} task, {} rows x {} features; train {} / test {}{})",
            self.all.source,
            self.task,
            self.all.n_rows,
            self.all.n_features,
            self.train.n_rows,
            self.test.n_rows,
            if external {
                ", test from --test-data"
            } else {
                ""
            }
        );
        say!(
            "protocol  seed {}, test fraction {}, {} folds{}, {} trials and {}s cap per candidate, primary metric {}",
            p.seed,
            if external { "n/a".to_string() } else { p.test_fraction.to_string() },
            p.folds,
            if self.task.is_classification() { " (stratified)" } else { "" },
            p.trials,
            p.time_cap_seconds,
            self.metric
        );
        if let Some(s) = &manifest.suite {
            say!("suite     {s}");
        }
        say!(
            "hashes    data {}  folds {}",
            manifest.data_hash,
            manifest.fold_hash
        );
        say!(
            "machine   {} ({} cores)",
            manifest.machine.cpu_model,
            manifest.machine.cores
        );
    }
}

/// The cell records of a results.jsonl; a file without any is an error naming it. Damaged
/// lines are skipped and named in `damaged`.
/// The instance a run was priced as (its `--instance`, from the manifest's command line), or
/// its price given by hand.
pub fn manifest_instance(m: &serde_json::Value) -> Option<String> {
    let args: Vec<&str> = m["args"]
        .as_array()?
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    let value = |flag: &str| {
        args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix(&format!("{flag}="))
                .map(str::to_string)
                .or_else(|| {
                    (*a == flag)
                        .then(|| args.get(i + 1).map(|v| v.to_string()))
                        .flatten()
                })
        })
    };
    value("--instance").or_else(|| value("--usd-per-hour").map(|u| format!("${u}/h (given)")))
}

/// What `merge` reads of a results file, in one pass: its cells, its serving records and
/// whether its run finished (its recommendation is recorded).
pub struct RunRecords {
    pub cells: Vec<tradeoff_core::record::CellRecord>,
    pub serving: Vec<tradeoff_core::record::ServingRecord>,
    pub finished: bool,
}

pub fn read_results(
    path: &std::path::Path,
    damaged: &mut Vec<String>,
) -> Result<RunRecords, Error> {
    use tradeoff_report::record::Record;
    let mut out = RunRecords {
        cells: Vec::new(),
        serving: Vec::new(),
        finished: false,
    };
    for (_, r) in tradeoff_report::record::read(path, damaged)? {
        match r {
            Record::Cell(c) => out.cells.push(*c),
            Record::Serving(s) => out.serving.push(*s),
            Record::Recommendation(_) => out.finished = true,
            _ => {}
        }
    }
    if out.cells.is_empty() {
        return Err(Error::Data {
            what: path.display().to_string(),
            detail: "no cell records (is it a results.jsonl from `tradeoff run` or `merge`?)"
                .into(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_trial_lies_in_its_search_space() {
        let all = parse_candidates(None, TrainOn::Cpu).unwrap();
        assert!(all.len() >= 8);
        for Chosen { trainer, .. } in &all {
            for task in [Task::Regression, Task::Binary, Task::Multiclass] {
                if trainer.supports(task).is_err() {
                    continue;
                }
                for (rows, features) in [(10, 1), (80_000, 64), (10_000_000, 10_000)] {
                    let Some(d) = trainer.defaults(task, rows, features) else {
                        continue;
                    };
                    let space = trainer.space(task);
                    assert_eq!(d.len(), space.len(), "{}: every parameter", trainer.id());
                    for s in &space {
                        let v = d[s.name];
                        assert!(s.check(v).is_ok(), "{} {task} {}={v}", trainer.id(), s.name);
                    }
                }
            }
        }
    }
}
