//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Which model to ship, and on what hardware: train a ladder of candidates fairly and
/// measure every one on every execution target.
#[derive(Debug, Parser)]
#[command(name = "tradeoff", version, about)]
pub struct Cli {
    /// More log lines on stderr: -v info, -vv debug, -vvv trace (default: warnings only).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train every candidate on the same splits, measure it on every target, print the table
    /// and write results.jsonl and manifest.json.
    Run(Box<RunArgs>),
    /// Learning curves: train every candidate on growing shares of the training data (same
    /// folds, same protocol at every size); score, fit time, model size, latency and memory
    /// against size, a power-law fit extrapolated to 2x and 10x the data, and a check of that
    /// extrapolation on the largest size.
    Curve(Box<CurveArgs>),
    /// Incremental learning: an initial fit, then N update batches; after each, the online
    /// candidates' prequential and held-out scores and update time, against a full retrain of
    /// their batch counterparts, and what keeping a model fresh costs per day.
    Stream(Box<StreamArgs>),
    /// Render results.jsonl files as a report: an HTML page with plots, Markdown with SVG plots, CSV, or the terminal table.
    Report(ReportArgs),
    /// Merge results.jsonl files from several machines or runs into one cross-hardware table,
    /// with the recommendation across the fleet. Repeated cells merge their latency
    /// histograms (never an average of percentiles).
    Merge(MergeArgs),
    /// Compare hardware in the cloud: `fleet plan` writes one SkyPilot task and one
    /// Kubernetes Job per instance type for a suite, a script that launches them and merges
    /// what comes back, and what the fleet run will cost.
    Fleet(FleetArgs),
    /// Check the measurement harness against predictors of known cost (an empty one and
    /// busy-waits of 1 µs, 100 µs and 10 ms).
    Selfcheck(SelfcheckArgs),
    /// List the execution hardware found on this machine.
    Devices,
    /// Internal: measure one (candidate, target) job written by `run --isolate` and print its
    /// records, one JSON line each.
    #[command(hide = true)]
    MeasureCells { job: PathBuf },
}

/// Which targets `run` measures in a child process of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IsolateArg {
    /// The targets that run through a GPU API (burn-wgpu, wgsl): a driver that aborts or
    /// hangs fails their cells only.
    Gpu,
    /// Every target.
    All,
    /// None: every target in the run's own process.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    Auto,
    Regression,
    Classification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnseenArg {
    /// The column's `<other>` level when it pooled values, else no level (all its one-hot
    /// features 0); counted per column and reported.
    Ignore,
    /// An error naming the file, row, column and value.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MissingArg {
    /// Refuse missing or non-finite values, with counts per column.
    Reject,
    /// Drop rows that have any.
    Drop,
    /// Numeric: the column mean of the training file; text: a `<missing>` level.
    Impute,
}

/// Where the data comes from and how it is read.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// CSV file with a header row, or a Parquet file (by its magic bytes or a .parquet/.pq name).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "dataset",
        requires = "target"
    )]
    pub data: Option<PathBuf>,
    /// Target column of --data.
    #[arg(long, value_name = "COLUMN")]
    pub target: Option<String>,
    /// Built-in dataset (winequality, iris, diabetes) or synthetic:classification|regression,rows=N,features=M[,classes=K,seed=S,noise=X].
    /// Default: winequality.
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,
    /// Held-out CSV or Parquet file with the same columns, used instead of the internal test split.
    #[arg(long, value_name = "FILE", requires = "data")]
    pub test_data: Option<PathBuf>,
    /// Field delimiter of CSV files: one character, or "tab" (Parquet files have none).
    #[arg(long, default_value = ",", value_name = "CHAR")]
    pub delimiter: String,
    /// Column to ignore (repeatable).
    #[arg(long = "drop-column", value_name = "NAME")]
    pub drop_columns: Vec<String>,
    #[arg(long, value_enum, default_value_t = TaskArg::Auto)]
    pub task: TaskArg,
    #[arg(long, value_enum, default_value_t = MissingArg::Reject)]
    pub missing: MissingArg,
    /// Most one-hot features a text column gets; a column with more distinct values keeps
    /// its N-1 most frequent and pools the rest into one `<other>` level.
    #[arg(long, default_value_t = tradeoff_data::data::DEFAULT_MAX_LEVELS, value_name = "N")]
    pub max_levels: usize,
    /// What a text value of --test-data that the training file never had becomes.
    #[arg(long, value_enum, default_value_t = UnseenArg::Ignore)]
    pub unseen_levels: UnseenArg,
}

/// Which candidates, and the equal-effort protocol they share.
#[derive(Debug, Clone, Args)]
pub struct ProtocolArgs {
    /// Candidates, comma-separated, each optionally with fixed parameters, which skips its
    /// tuning: "linear,forest:trees=100,max_depth=8,gbm". Default: all.
    #[arg(long, value_name = "LIST")]
    pub candidates: Option<String>,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Fraction of rows held out for the test (ignored with --test-data).
    #[arg(long, default_value_t = 0.2, value_name = "F")]
    pub test_fraction: f64,
    /// Cross-validation folds for tuning.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub folds: usize,
    /// Random-search trials, the same for every candidate.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub trials: usize,
    /// Tuning time cap per candidate, the same for every candidate.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    pub time_cap: f64,
    /// Where the MLPs train: burn's Flex CPU device or its wgpu device (the classical
    /// candidates always train on the CPU).
    #[arg(long, value_enum, default_value_t = TrainOn::Cpu)]
    pub train_on: TrainOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TrainOn {
    Cpu,
    Gpu,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A suite file (TOML) that fixes the whole comparison: data, candidates, targets, batch
    /// sizes, protocol, measurement, budgets, prices and instance, so every machine of a fleet
    /// runs the same one. Options given on the command line override the suite's values.
    #[arg(long, value_name = "FILE")]
    pub suite: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// A model fitted elsewhere, measured next to the candidates (repeatable): XGBoost JSON
    /// (`save_model("m.json")`), LightGBM text (`save_model("m.txt")`) or ONNX, the format read
    /// from the content. Its features are matched to the data's by name, or by position
    /// where the file names none; its candidate id is the file's name without extension.
    #[arg(long = "model", value_name = "FILE")]
    pub models: Vec<PathBuf>,
    /// The format of every --model file (xgboost-json, lightgbm-text, onnx), instead of
    /// reading it from the content.
    #[arg(long, value_name = "FORMAT", value_parser = clap::builder::PossibleValuesParser::new(tradeoff_import::Format::NAMES))]
    pub model_format: Option<String>,
    /// Execution targets, comma-separated: cpu, burn-flex, candle-cpu, burn-wgpu, wgsl.
    /// Default: all compiled in (wgpu ones without an adapter are recorded unsupported).
    #[arg(long, value_name = "LIST")]
    pub targets: Option<String>,
    /// Fail (exit 5) unless a hardware GPU adapter runs the wgpu targets; a software
    /// adapter (llvmpipe, lavapipe) does not count.
    #[arg(long)]
    pub require_gpu: bool,
    /// Batch sizes to measure, comma-separated.
    #[arg(long, default_value = "1,64,4096", value_name = "LIST")]
    pub batch_sizes: String,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Exit 4 also when a measurement was judged invalid for timing reasons (unstable,
    /// preempted, too few samples), for CI gates; without it such cells are marked and
    /// explained, and only failures (a candidate that did not train, a target that erred or
    /// disagreed with the reference) make the exit code 4.
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub price: PriceArgs,
    #[command(flatten)]
    pub budgets: BudgetArgs,
    /// Also write the split actually used, encoded: DIR/train.csv, DIR/test.csv and
    /// DIR/folds.csv (the cross-validation fold of each training row), for other tools.
    #[arg(long, value_name = "DIR")]
    pub export_split: Option<PathBuf>,
    /// Where results.jsonl (appended), manifest.json and the report go.
    #[arg(long, default_value = "tradeoff-out", value_name = "DIR")]
    pub out: PathBuf,
    /// The most memory one cell's timing buffers (its batches of rows and their outputs) may
    /// take, such as 8GiB; a batch size that needs more is recorded as skipped, with the
    /// reason, and the run goes on. Default: the memory available when the run starts.
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Measure these targets in a child process each (one per candidate and target), so a
    /// target that crashes (a driver abort, a segfault, out of memory) or hangs becomes
    /// `failed` records with the reason, and the run goes on.
    #[arg(long, value_enum, default_value = "gpu", value_name = "WHICH")]
    pub isolate: IsolateArg,
    /// In a child process (--isolate), the longest a target may take to finish its next cell
    /// (the first one: loading included), or between two signs of progress while it serves
    /// under load, before it is killed and its remaining cells are recorded as failed. Not
    /// enforced on targets measured in the run's own process.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub cell_timeout: f64,
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Finish the interrupted run in DIR (Ctrl-C, SIGTERM, a killed machine): its options
    /// come from DIR/manifest.json, and cells it recorded are not measured again. Takes no
    /// other option but --quiet and --json.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Do not write report.html, report.md, its SVG plots and cells.csv into the output directory.
    #[arg(long)]
    pub no_report: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout instead of the tables (progress and notes stay on
    /// stderr).
    #[arg(long)]
    pub json: bool,
}

/// A load scenario beyond single-stream (one caller, back to back: always measured).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioArg {
    /// Every row available at once: rows per second for each (workers, batch size).
    Offline,
    /// Requests arriving at random (Poisson), batched by a dynamic batcher and served by N
    /// workers: the highest rate whose p99 (and p50) from arrival meets --slo-p99
    /// (--slo-p50), for each configuration.
    Server,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Load scenarios measured after the single-stream cells, comma-separated: offline,
    /// server. Every target is served (in its child process where --isolate puts it there),
    /// once its predictions match the model at every call size the scenarios make.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub scenarios: Vec<ScenarioArg>,
    /// Worker counts the scenarios try, comma-separated (default: 1 and the machine's
    /// logical cores; 1, one per device, on the wgpu targets). Workers share one loaded
    /// model where the target can (cpu); elsewhere each loads its own.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub workers: Vec<usize>,
    /// Server: the largest call the batcher makes, in rows, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,64",
        value_name = "LIST"
    )]
    pub max_batch: Vec<usize>,
    /// Server: the longest the batcher holds the oldest request for more to join it,
    /// comma-separated durations (0: serve what is waiting at once).
    #[arg(long, value_delimiter = ',', default_value = "0", value_name = "LIST")]
    pub max_queue_delay: Vec<String>,
    /// Server: rows in one request.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub rows_per_request: usize,
    /// Server: seconds of requests each step of the capacity search offers (at least 1,000
    /// counted requests).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub step_seconds: f64,
    /// Offline: seconds each (workers, batch size) runs.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub offline_seconds: f64,
    /// The traffic the cost table is computed at, in rows per second: instances needed at
    /// each configuration's capacity (less --headroom), $/hour and $ per million predictions,
    /// and the recommendation placed there with its instance count. A range (1000..200000)
    /// is costed at its top and also lists, over it, the cheapest way to serve on each
    /// interval and every interval where a GPU is cheaper than every CPU way.
    #[arg(long, value_name = "ROWS_PER_S")]
    pub traffic: Option<String>,
}

#[derive(Debug, Args)]
pub struct CurveArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Training-set sizes as fractions of the training part, comma-separated.
    /// Default: 6 log-spaced steps from 0.05 to 1.
    #[arg(long, value_name = "LIST")]
    pub sizes: Option<String>,
    /// Batch size of the predict-latency measurement at each size.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub batch_size: usize,
    #[command(flatten)]
    pub measure: MeasureArgs,
    /// Where results.jsonl (appended), manifest.json and the report go.
    #[arg(long, default_value = "tradeoff-out", value_name = "DIR")]
    pub out: PathBuf,
    /// Do not write report.html, report.md, its SVG plots and cells.csv into the output directory.
    #[arg(long)]
    pub no_report: bool,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout instead of the tables (progress and notes stay on
    /// stderr).
    #[arg(long)]
    pub json: bool,
}

/// How long each cell is measured.
#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// Quick preset: at least 64 samples (enough for p90), about 0.3 s per cell at most.
    #[arg(long, conflicts_with = "thorough")]
    pub quick: bool,
    /// Thorough preset: at least 6,636 samples (enough for p99.9), up to 20 s per cell.
    #[arg(long)]
    pub thorough: bool,
    /// Minimum seconds of timed calls per cell (default preset: 0.2 s and at least 662
    /// samples, enough for p99; at most 1.5 s unless one call is slower).
    #[arg(long, value_name = "SECONDS")]
    pub measure_seconds: Option<f64>,
    /// Stability threshold: the largest coefficient of variation, in percent, of the medians
    /// of five consecutive chunks of samples (default preset 10, quick 15, thorough 5). A cell
    /// above it when time runs out is invalid ("unstable").
    #[arg(long, value_name = "PERCENT")]
    pub max_cv: Option<f64>,
    /// Preemption threshold: the largest share, in percent, of a cell's sampling time that the
    /// measuring thread may spend waiting for a CPU (Linux scheduler statistics; default 5).
    /// Above it the cell is invalid ("preempted": other load on the machine).
    #[arg(long, value_name = "PERCENT")]
    pub max_cpu_wait: Option<f64>,
}

#[derive(Debug, Args)]
pub struct SelfcheckArgs {
    #[command(flatten)]
    pub measure: MeasureArgs,
}

/// The price of this machine.
#[derive(Debug, Args)]
pub struct PriceArgs {
    /// Price catalog (TOML, the format of the shipped prices.toml) instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// The catalog entry that prices this machine, for example c7i.xlarge.
    #[arg(long, value_name = "NAME", conflicts_with = "usd_per_hour")]
    pub instance: Option<String>,
    /// This machine's price in dollars per hour, instead of a catalog entry.
    #[arg(long, value_name = "USD")]
    pub usd_per_hour: Option<f64>,
    /// Share of the instance's time spent predicting at the measured throughput, for the
    /// cost per prediction (headroom for peaks and everything else).
    #[arg(long, default_value_t = tradeoff_report::cost::DEFAULT_UTILIZATION, value_name = "U")]
    pub utilization: f64,
}

/// Budgets and the tolerance of the recommendation.
#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Latency budget on the p99 of one call, for example 5ms, 250us.
    #[arg(long, value_name = "DURATION")]
    pub slo_p99: Option<String>,
    /// Latency budget on the p50 of one call.
    #[arg(long, value_name = "DURATION")]
    pub slo_p50: Option<String>,
    /// How far below the best primary score a simpler candidate may be and still be
    /// recommended (absolute, in the metric's units: 0.01 is one point of accuracy).
    #[arg(long, default_value_t = 0.01, value_name = "T")]
    pub tolerance: f64,
    /// Memory budget on what serving the model costs in host memory at a cell's batch size
    /// (the loaded model and the scratch it keeps, one call's high-water, its rows in and out;
    /// not the dataset): 512MiB, 2GB, or bytes.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
    /// Budget on dollars per million predictions.
    #[arg(long, value_name = "USD")]
    pub max_cost_per_million: Option<f64>,
    /// Serving cost at --traffic: the share of each instance's measured server capacity kept
    /// free, for bursts beyond Poisson and a capacity measured on another day; instances =
    /// ceil(traffic / (capacity x (1 - H))). (--utilization is the single-stream cost's
    /// assumption; this is the server scenario's.)
    #[arg(
        long,
        default_value_t = tradeoff_report::serving::DEFAULT_HEADROOM,
        value_name = "H",
        allow_negative_numbers = true
    )]
    pub headroom: f64,
}

#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(subcommand)]
    pub command: FleetCommand,
}

#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Write OUT/skypilot/INSTANCE.yaml, OUT/k8s/INSTANCE.yaml (from deploy/) and
    /// OUT/launch.sh for the instance types of the price catalog, and print what the run
    /// will cost. Nothing is launched.
    Plan(FleetPlanArgs),
}

#[derive(Debug, Args)]
pub struct FleetPlanArgs {
    /// The suite every instance runs (inside --workdir).
    #[arg(long, value_name = "FILE")]
    pub suite: PathBuf,
    /// Instance types of the price catalog, comma-separated: c7i.xlarge,g5.xlarge. Each is
    /// priced from the catalog; one with a GPU runs --gpu-targets with --require-gpu.
    #[arg(long, required = true, value_delimiter = ',', value_name = "NAMES")]
    pub instances: Vec<String>,
    /// Where the plan goes.
    #[arg(long, default_value = "tradeoff-fleet", value_name = "DIR")]
    pub out: PathBuf,
    /// The price catalog (default: the shipped prices.toml).
    #[arg(long, value_name = "FILE")]
    pub prices: Option<PathBuf>,
    /// The tradeoff checkout SkyPilot copies to each instance and builds there (default: the
    /// current directory).
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// The targets a GPU instance measures.
    #[arg(long, default_value = "cpu,burn-wgpu,wgsl", value_name = "LIST")]
    pub gpu_targets: String,
    /// Write results to this bucket (mounted MOUNT_CACHED) instead of the instance's disk:
    /// needed for `sky jobs launch` (managed jobs, spot recovery), whose cluster goes when the
    /// job ends.
    #[arg(long, value_name = "NAME")]
    pub bucket: Option<String>,
    /// Kubernetes: the image built from the repository's Dockerfile, in a registry the
    /// cluster pulls from.
    #[arg(long, default_value = "tradeoff:latest", value_name = "IMAGE")]
    pub image: String,
    /// Kubernetes: the Jobs' namespace.
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Kubernetes: the ReadWriteMany PersistentVolumeClaim the Jobs write results to.
    #[arg(long, default_value = "tradeoff-results", value_name = "CLAIM")]
    pub pvc: String,
    /// Kubernetes: the most seconds a Job may run (activeDeadlineSeconds).
    #[arg(long, default_value_t = 7200, value_name = "SECONDS")]
    pub deadline_s: u64,
    /// Earlier runs of the suite (their directories or manifest.json): their median duration
    /// estimates the fleet's run time and cost.
    #[arg(long, value_name = "DIR")]
    pub previous: Vec<PathBuf>,
    /// Replace a plan --out already holds.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// results.jsonl files written by `tradeoff run` (each priced with --instance or
    /// --usd-per-hour for cost figures), or directories holding one (a fleet's collected
    /// runs: a directory without results is listed as such, not an error).
    #[arg(required = true, value_name = "RESULTS.jsonl|DIR")]
    pub files: Vec<PathBuf>,
    /// Where the merged results.jsonl and manifest.json go.
    #[arg(long, default_value = "tradeoff-merged", value_name = "DIR")]
    pub out: PathBuf,
    /// Merge runs whose data or folds differ (their scores are then not comparable).
    #[arg(long)]
    pub allow_different_data: bool,
    /// Replace the results.jsonl and manifest.json that --out already holds (never one of
    /// the input files).
    #[arg(long)]
    pub force: bool,
    /// Do not write report.html, report.md, its SVG plots and cells.csv into the output directory.
    #[arg(long)]
    pub no_report: bool,
    #[command(flatten)]
    pub budgets: BudgetArgs,
    /// Traffic in rows per second for the serving records' cost table (runs with
    /// --scenarios server): one rate, or a range LO..HI for the cheapest machine and target
    /// on each interval of it, and every interval where a GPU is cheaper.
    #[arg(long, value_name = "ROWS_PER_S")]
    pub traffic: Option<String>,
    /// Print the summary as JSON on stdout instead of the tables (progress and notes stay on
    /// stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Online candidates (default: linear-sgd or logistic-sgd, as the task needs) and the
    /// equal-effort protocol; each is compared with its batch counterpart (linear, logistic),
    /// both tuned on the initial part with the same trials, folds and time cap.
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Number of update batches after the initial part.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub updates: usize,
    /// Share of the training part in the initial fit.
    #[arg(long, default_value_t = 0.3, value_name = "F")]
    pub initial: f64,
    /// Numeric column of --data that orders the rows (a timestamp); it is not a feature.
    /// Without it, the rows are shuffled with the seed.
    #[arg(long, value_name = "COLUMN", requires = "data")]
    pub order_by: Option<String>,
    /// Model updates per day, for the cost of keeping a model fresh.
    #[arg(long, default_value_t = 1.0, value_name = "K")]
    pub updates_per_day: f64,
    #[command(flatten)]
    pub price: PriceArgs,
    /// Where results.jsonl (appended) and manifest.json go.
    #[arg(long, default_value = "tradeoff-out", value_name = "DIR")]
    pub out: PathBuf,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout instead of the tables (progress and notes stay on
    /// stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The terminal table.
    Text,
    /// One self-contained HTML file: plots as inline SVG, no network access needed.
    Html,
    /// Markdown, for a pull request or a wiki (with --out, its SVG plots are written beside it).
    Md,
    /// One row per cell.
    Csv,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// results.jsonl files written by `run`, `curve` or `merge`.
    #[arg(required = true, value_name = "RESULTS.jsonl")]
    pub files: Vec<PathBuf>,
    /// Without --out: text (the default), html, md or csv on stdout. With --out: only that
    /// format is written; without --format, all of them (report.html, report.md and its SVG
    /// plots, cells.csv).
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write into DIR instead of printing.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A results.jsonl that several runs appended to is reported for its latest `run` and
    /// latest `curve`; this keeps every run.
    #[arg(long)]
    pub all_runs: bool,
}
