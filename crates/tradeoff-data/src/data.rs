//! Validated datasets: reading CSV tables (typed tables come from `tradeoff-parquet`), column
//! typing, one-hot encoding, missing-value policies, synthetic data.
//!
//! Validation happens here, once. A [`Dataset`] holds only finite `f32` features, a target
//! that is either a class index or a finite value, and the [`Schema`] needed to encode a
//! second file (`--test-data`) exactly like the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use tradeoff_ir::error::{Error, Result};
use tradeoff_ir::hash::Hasher;
use tradeoff_ir::rng::Rng;

mod table;

pub use table::{check_input_file, read_csv, read_csv_bytes, RawColumn, RawTable};
use table::{Cell, MissingKind};

/// Default cap on distinct text values a column may have to be one-hot encoded.
pub const DEFAULT_MAX_LEVELS: usize = 32;

/// A numeric target with at most this many distinct integer values is taken as class labels
/// when the task is detected automatically.
pub const MAX_AUTO_CLASSES: usize = 20;

/// The learning task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Regression,
    Binary,
    Multiclass,
}

impl Task {
    pub fn is_classification(self) -> bool {
        !matches!(self, Task::Regression)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Regression => "regression",
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the user asked for with `--task`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskRequest {
    Auto,
    Regression,
    Classification,
}

/// How missing or non-finite values are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MissingPolicy {
    /// Any missing or non-finite value is an error that counts them per column.
    #[default]
    Reject,
    /// Rows with a missing value in any used column are dropped.
    Drop,
    /// Numeric features take the mean of the column's finite values in the training file;
    /// text features get their own level `<missing>`; rows with a missing target are dropped.
    Impute,
}

impl MissingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingPolicy::Reject => "reject",
            MissingPolicy::Drop => "drop",
            MissingPolicy::Impute => "impute",
        }
    }
}

/// The level a missing text value gets under [`MissingPolicy::Impute`].
pub const MISSING_LEVEL: &str = "<missing>";

/// The level that pools a text column's rarest values when it has more than `--max-levels`
/// distinct values, and takes the values held-out data has that training data did not.
pub const OTHER_LEVEL: &str = "<other>";

/// What a text value the training data never had becomes in held-out data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnseenPolicy {
    /// The column's [`OTHER_LEVEL`] when it has one, else no level at all (every one-hot
    /// feature 0, as scikit-learn's `OneHotEncoder(handle_unknown="ignore")`); counted per
    /// column and reported.
    Ignore,
    /// An error naming the file, row, column and value.
    Error,
}

/// How one input column becomes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnKind {
    /// One `f32` feature; `impute` is the value used for missing entries, when imputing.
    Numeric { impute: Option<f32> },
    /// One feature per level, 1.0 for the row's level and 0.0 elsewhere.
    OneHot { levels: Vec<String> },
    /// ISO 8601 dates or timestamps (text, or a typed file's date and timestamp columns),
    /// as numeric features: year, month, day of month, day of week (0 = Monday) and, when
    /// any value has a time, the hour (text: as written, an offset is not applied; typed
    /// timestamps: in UTC). `impute` holds each feature's value for missing entries, when imputing.
    Date {
        time: bool,
        impute: Option<Vec<f32>>,
    },
}

impl ColumnKind {
    /// Features the column becomes.
    pub fn width(&self) -> usize {
        match self {
            ColumnKind::Numeric { .. } => 1,
            ColumnKind::OneHot { levels } => levels.len(),
            ColumnKind::Date { time, .. } => date_width(*time),
        }
    }
}

/// The parts of a date or timestamp a [`ColumnKind::Date`] column becomes.
const DATE_PARTS: [&str; 5] = ["year", "month", "day", "weekday", "hour"];

/// How many of [`DATE_PARTS`] a date column has: the hour only when it has times.
fn date_width(time: bool) -> usize {
    if time {
        5
    } else {
        4
    }
}

/// `(year, month, day, weekday, hour)` of an ISO 8601 date (`2024-03-05`) or timestamp
/// (`2024-03-05T14:30`, `2024-03-05 14:30:00.123Z`, `...+02:00`); `None` when it is not one.
pub fn parse_date(s: &str) -> Option<([f32; 5], bool)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = b.get(r)?;
        t.iter()
            .all(u8::is_ascii_digit)
            .then(|| t.iter().fold(0u32, |v, d| v * 10 + u32::from(d - b'0')))
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > days[m as usize - 1] {
        return None;
    }
    let hour = if b.len() == 10 {
        None
    } else {
        if !matches!(b[10], b'T' | b' ') || b.len() < 16 || b[13] != b':' {
            return None;
        }
        let (h, min) = (num(11..13)?, num(14..16)?);
        let mut rest = &b[16..];
        if rest.first() == Some(&b':') {
            let sec = rest.get(1..3)?;
            if !sec.iter().all(u8::is_ascii_digit) || (sec[0] - b'0') * 10 + sec[1] - b'0' > 60 {
                return None;
            }
            rest = &rest[3..];
            if rest.first() == Some(&b'.') {
                let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 0 {
                    return None;
                }
                rest = &rest[1 + digits..];
            }
        }
        let zone_ok = match rest {
            [] | [b'Z'] => true,
            [b'+' | b'-', h1, h2, b':', m1, m2] | [b'+' | b'-', h1, h2, m1, m2] => {
                [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
            }
            _ => false,
        };
        if h > 23 || min > 59 || !zone_ok {
            return None;
        }
        Some(h)
    };
    Some(date_parts(y, m, d, hour))
}

/// `(year, month, day, weekday, hour)` of a valid date, and whether it has a time.
fn date_parts(y: u32, m: u32, d: u32, hour: Option<u32>) -> ([f32; 5], bool) {
    // Day of week (Sakamoto's method; 0 = Sunday), shifted so that 0 = Monday.
    let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let yy = if m < 3 { y - 1 } else { y };
    let sunday0 = (yy + yy / 4 - yy / 100 + yy / 400 + t[m as usize - 1] + d) % 7;
    let weekday = (sunday0 + 6) % 7;
    let parts = [
        y as f32,
        m as f32,
        d as f32,
        weekday as f32,
        hour.unwrap_or(0) as f32,
    ];
    (parts, hour.is_some())
}

/// [`date_parts`] of a time `seconds` after 1970-01-01T00:00 (UTC); the hour is always
/// there (a caller with dates only ignores it).
fn date_from_seconds(seconds: i64) -> [f32; 5] {
    let (y, m, d) = civil_from_days(seconds.div_euclid(86_400));
    let hour = (seconds.rem_euclid(86_400) / 3600) as u32;
    // Years before 1 or after 9999 are not ISO 8601 dates; they keep their number.
    let (mut parts, _) = date_parts(y.clamp(1, 9999) as u32, m, d, Some(hour));
    parts[0] = y as f32;
    parts
}

/// `(year, month, day)` of the day `days` after 1970-01-01 in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A cell's date parts: a typed date, or text that [`parse_date`] reads.
fn date_of(cell: &Cell<'_>) -> Option<([f32; 5], bool)> {
    match cell {
        Cell::Date(parts, time) => Some((*parts, *time)),
        Cell::Text(s) => parse_date(s),
        _ => None,
    }
}

/// An input column of the source file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(flatten)]
    pub kind: ColumnKind,
}

/// Everything needed to encode another file exactly like the training file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    pub columns: Vec<Column>,
    pub target: String,
    /// Class labels in index order; empty for regression.
    pub classes: Vec<String>,
    pub dropped: Vec<String>,
    pub missing: MissingPolicy,
}

impl Schema {
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for c in &self.columns {
            match &c.kind {
                ColumnKind::Numeric { .. } => names.push(c.name.clone()),
                ColumnKind::OneHot { levels } => {
                    names.extend(levels.iter().map(|l| format!("{}={}", c.name, l)))
                }
                ColumnKind::Date { time, .. } => {
                    let n = date_width(*time);
                    names.extend(DATE_PARTS[..n].iter().map(|p| format!("{}.{p}", c.name)))
                }
            }
        }
        names
    }
}

/// A validated dataset: row-major `f32` features and a target.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where it came from: a path, `builtin:iris`, `synthetic:...`.
    pub source: String,
    pub task: Task,
    pub schema: Schema,
    pub feature_names: Vec<String>,
    pub n_rows: usize,
    pub n_features: usize,
    /// Row-major, `n_rows * n_features`, all finite.
    pub x: Vec<f32>,
    /// Class index (as `f32`) for classification, the value for regression.
    pub y: Vec<f32>,
    /// Things the user should know that did not stop the load (constant columns, dropped rows).
    pub warnings: Vec<String>,
    /// Numeric and date cells `--missing impute` filled: (schema column, rows of this
    /// dataset), for [`Dataset::impute_from`]. Empty in a [`Dataset::select`]ed part.
    pub imputed: Vec<(usize, Vec<usize>)>,
}

impl Dataset {
    /// Builds and checks a dataset from arrays (built-in and synthetic data come this way).
    pub fn from_arrays(
        source: &str,
        feature_names: Vec<String>,
        x: Vec<f32>,
        y: Vec<f32>,
        task: Task,
        classes: Vec<String>,
    ) -> Result<Self> {
        let schema = Schema {
            columns: feature_names
                .iter()
                .map(|n| Column {
                    name: n.clone(),
                    kind: ColumnKind::Numeric { impute: None },
                })
                .collect(),
            target: "target".into(),
            classes,
            dropped: vec![],
            missing: MissingPolicy::Reject,
        };
        Self::build(source, feature_names, x, y, task, schema)
    }

    /// Checks shapes, finiteness and classes, then warns about constant features.
    fn build(
        source: &str,
        feature_names: Vec<String>,
        x: Vec<f32>,
        y: Vec<f32>,
        task: Task,
        schema: Schema,
    ) -> Result<Self> {
        let classes = &schema.classes;
        let n_features = feature_names.len();
        let n_rows = y.len();
        let bad = |detail: String| Error::Data {
            what: source.to_string(),
            detail,
        };
        if n_features == 0 || x.len() != n_rows * n_features {
            return Err(bad(format!(
                "{} values do not make {} rows of {} features",
                x.len(),
                n_rows,
                n_features
            )));
        }
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "row {}, feature {:?} is not finite",
                i / n_features + 1,
                feature_names[i % n_features]
            )));
        }
        if task.is_classification() {
            if let Some(&v) = y
                .iter()
                .find(|&&v| v < 0.0 || v.fract() != 0.0 || v as usize >= classes.len())
            {
                return Err(bad(format!("class index {v} out of range")));
            }
        } else if y.iter().any(|v| !v.is_finite()) {
            return Err(bad("target has non-finite values".into()));
        }
        let mut ds = Dataset {
            source: source.to_string(),
            task,
            schema,
            feature_names,
            n_rows,
            n_features,
            x,
            y,
            warnings: vec![],
            imputed: vec![],
        };
        ds.check_classes()?;
        ds.warn_constant_columns();
        Ok(ds)
    }

    /// Number of classes (0 for regression).
    pub fn n_classes(&self) -> usize {
        self.schema.classes.len()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.n_features..(i + 1) * self.n_features]
    }

    /// A new dataset holding the given rows, in the given order.
    pub fn select(&self, rows: &[usize]) -> Dataset {
        let mut x = Vec::with_capacity(rows.len() * self.n_features);
        let mut y = Vec::with_capacity(rows.len());
        for &r in rows {
            x.extend_from_slice(self.row(r));
            y.push(self.y[r]);
        }
        Dataset {
            x,
            y,
            n_rows: rows.len(),
            warnings: vec![],
            ..self.clone_meta()
        }
    }

    fn clone_meta(&self) -> Dataset {
        Dataset {
            source: self.source.clone(),
            task: self.task,
            schema: self.schema.clone(),
            feature_names: self.feature_names.clone(),
            n_rows: 0,
            n_features: self.n_features,
            x: vec![],
            y: vec![],
            warnings: vec![],
            imputed: vec![],
        }
    }

    /// Learns every imputed value again from `rows` alone (the training part) and writes it
    /// into every cell `--missing impute` filled, so that rows later held out never inform
    /// it; the schema, which encodes held-out files, takes the new values. A column with no
    /// value in those rows is imputed with 0, as at load. Nothing to do without imputation.
    pub fn impute_from(&mut self, rows: &[usize]) {
        let nf = self.n_features;
        for (col, missing) in &self.imputed {
            let offset: usize = self.schema.columns[..*col]
                .iter()
                .map(|c| c.kind.width())
                .sum();
            let is_missing: std::collections::HashSet<usize> = missing.iter().copied().collect();
            let width = self.schema.columns[*col].kind.width();
            let values: Vec<f32> = (0..width)
                .map(|k| {
                    let (mut sum, mut n) = (0.0f64, 0usize);
                    for &r in rows.iter().filter(|r| !is_missing.contains(r)) {
                        sum += self.x[r * nf + offset + k] as f64;
                        n += 1;
                    }
                    if n > 0 {
                        (sum / n as f64) as f32
                    } else {
                        0.0
                    }
                })
                .collect();
            for &r in missing {
                self.x[r * nf + offset..r * nf + offset + width].copy_from_slice(&values);
            }
            match &mut self.schema.columns[*col].kind {
                ColumnKind::Numeric { impute } => *impute = Some(values[0]),
                ColumnKind::Date { impute, .. } => *impute = Some(values),
                ColumnKind::OneHot { .. } => unreachable!("one-hot columns impute a level"),
            }
        }
    }

    /// Content hash of features, target and names: equal hashes, equal data.
    pub fn hash(&self) -> String {
        let mut h = Hasher::new();
        h.write_u64(self.n_rows as u64);
        h.write_u64(self.n_features as u64);
        for n in &self.feature_names {
            h.write(n.as_bytes());
            h.write(&[0]);
        }
        h.write(self.task.as_str().as_bytes());
        h.write_f32s(&self.x);
        h.write_f32s(&self.y);
        h.hex()
    }

    /// Rows per class index.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes()];
        for &v in &self.y {
            counts[v as usize] += 1;
        }
        counts
    }

    /// Writes the encoded features and the target (class label or value) as CSV, so other
    /// tools can train and test on exactly the rows tradeoff used.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let io = |e: csv::Error| Error::Csv {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut w = csv::Writer::from_path(path).map_err(io)?;
        let mut header = self.feature_names.clone();
        header.push(self.schema.target.clone());
        w.write_record(&header).map_err(io)?;
        let mut rec = Vec::with_capacity(header.len());
        for i in 0..self.n_rows {
            rec.clear();
            rec.extend(self.row(i).iter().map(|v| v.to_string()));
            rec.push(if self.task.is_classification() {
                self.schema.classes[self.y[i] as usize].clone()
            } else {
                self.y[i].to_string()
            });
            w.write_record(&rec).map_err(io)?;
        }
        w.flush().map_err(|e| Error::write(path, e))
    }

    fn check_classes(&self) -> Result<()> {
        if !self.task.is_classification() {
            return Ok(());
        }
        let present = self.class_counts().iter().filter(|&&c| c > 0).count();
        if present < 2 {
            return Err(Error::Data {
                what: self.source.clone(),
                detail: format!(
                    "target {:?} has only one class ({}); classification needs at least two",
                    self.schema.target,
                    self.schema
                        .classes
                        .first()
                        .map(String::as_str)
                        .unwrap_or("?")
                ),
            });
        }
        Ok(())
    }

    fn warn_constant_columns(&mut self) {
        for j in 0..self.n_features {
            let first = self.x.get(j).copied();
            if self.n_rows > 1
                && (0..self.n_rows).all(|i| Some(self.x[i * self.n_features + j]) == first)
            {
                self.warnings.push(format!(
                    "{}: feature {:?} is constant; it carries no information",
                    self.source, self.feature_names[j]
                ));
            }
        }
    }
}

/// Options for reading a CSV file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub target: String,
    pub delimiter: u8,
    pub drop_columns: Vec<String>,
    pub task: TaskRequest,
    pub missing: MissingPolicy,
    pub max_levels: usize,
    pub unseen: UnseenPolicy,
}

impl CsvOptions {
    pub fn new(target: &str) -> Self {
        CsvOptions {
            target: target.to_string(),
            delimiter: b',',
            drop_columns: vec![],
            task: TaskRequest::Auto,
            missing: MissingPolicy::Reject,
            max_levels: DEFAULT_MAX_LEVELS,
            unseen: UnseenPolicy::Ignore,
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn unknown_column(table: &RawTable, name: &str) -> Error {
    let best = table
        .header
        .iter()
        .map(|c| (edit_distance(c, name), c))
        .min()
        .filter(|(d, c)| *d <= (c.len().max(name.len()) / 2).max(2));
    Error::UnknownColumn {
        path: table.path.clone(),
        name: name.to_string(),
        suggestion: best
            .map(|(_, c)| format!(" (did you mean {c:?}?)"))
            .unwrap_or_default(),
        columns: table.header.join(", "),
    }
}

fn column_index(table: &RawTable, name: &str) -> Result<usize> {
    table
        .header
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| unknown_column(table, name))
}

/// Reads a training CSV file.
pub fn load_csv(path: &Path, opts: &CsvOptions) -> Result<Dataset> {
    load_table(&read_csv(path, opts.delimiter)?, opts)
}

/// Types, checks and encodes a training table (`opts.delimiter` aside, which its reader
/// used).
pub fn load_table(table: &RawTable, opts: &CsvOptions) -> Result<Dataset> {
    let path = table.path.as_path();
    let target_idx = column_index(table, &opts.target)?;
    let mut dropped = Vec::new();
    for d in &opts.drop_columns {
        let i = column_index(table, d)?;
        if i == target_idx {
            return Err(Error::option(
                "--drop-column",
                d.as_str(),
                "it is the target column",
            ));
        }
        dropped.push(d.clone());
    }
    let input_idx: Vec<usize> = (0..table.header.len())
        .filter(|&i| i != target_idx && !dropped.contains(&table.header[i]))
        .collect();
    for &ci in input_idx.iter().chain([&target_idx]) {
        table.check_usable(ci)?;
    }
    if input_idx.is_empty() {
        return Err(Error::Data {
            what: path.display().to_string(),
            detail: "no input columns are left besides the target".into(),
        });
    }

    // Type each column by its first non-missing value, and count missing values.
    let mut columns = Vec::new();
    let mut pooled = Vec::new();
    for &ci in &input_idx {
        let (column, note) = infer_column(table, ci, opts)?;
        columns.push(column);
        pooled.extend(note);
    }
    let (target_numeric, classes) = infer_target(table, target_idx, opts)?;

    let schema = Schema {
        columns,
        target: opts.target.clone(),
        classes,
        dropped,
        missing: opts.missing,
    };
    let task = match (
        target_numeric && schema.classes.is_empty(),
        schema.classes.len(),
    ) {
        (true, _) => Task::Regression,
        (false, 2) => Task::Binary,
        (false, _) => Task::Multiclass,
    };
    let mut ds = encode(table, &schema, task, &input_idx, target_idx, None)?;
    if task == Task::Regression && ds.y.iter().all(|&v| v == ds.y[0]) {
        return Err(Error::Data {
            what: path.display().to_string(),
            detail: format!(
                "target {:?} is {} on every row{}: there is nothing to learn",
                schema.target,
                ds.y[0],
                if ds.warnings.iter().any(|w| w.contains("rows dropped")) {
                    " left"
                } else {
                    ""
                }
            ),
        });
    }
    ds.warnings.extend(pooled);
    Ok(ds)
}

/// The numeric values of column `name`, one per data row, exactly (`f64`: timestamps need
/// more digits than `f32` has; dates and timestamps of a typed file as seconds since 1970).
pub fn numeric_column(table: &RawTable, name: &str) -> Result<Vec<f64>> {
    let ci = column_index(table, name)?;
    table.check_usable(ci)?;
    (0..table.n_rows())
        .map(|ri| {
            table.exact(ri, ci).ok_or_else(|| Error::NotNumeric {
                path: table.path.clone(),
                row: table.place(ri),
                column: name.to_string(),
                value: table.text(ri, ci).into_owned(),
                reference: "the --order-by column".into(),
            })
        })
        .collect()
}

/// Reads a second file (held-out test data) with the schema of the training data; `unseen`
/// says what a text value the training data never had becomes.
pub fn load_csv_like(
    path: &Path,
    delimiter: u8,
    train: &Dataset,
    unseen: UnseenPolicy,
) -> Result<Dataset> {
    load_table_like(&read_csv(path, delimiter)?, train, unseen)
}

/// [`load_csv_like`] for a table already read.
pub fn load_table_like(table: &RawTable, train: &Dataset, unseen: UnseenPolicy) -> Result<Dataset> {
    let path = table.path.as_path();
    let schema = &train.schema;
    let target_idx = column_index(table, &schema.target)?;
    let mut input_idx = Vec::new();
    for c in &schema.columns {
        let i = table
            .header
            .iter()
            .position(|h| h == &c.name)
            .ok_or_else(|| Error::ColumnMismatch {
                path: path.to_path_buf(),
                detail: format!("column {:?} of the training data is missing", c.name),
            })?;
        input_idx.push(i);
    }
    for &ci in input_idx.iter().chain([&target_idx]) {
        table.check_usable(ci)?;
    }
    encode(
        table,
        schema,
        train.task,
        &input_idx,
        target_idx,
        Some(unseen),
    )
}

/// One input column's type and encoding, and notes for the user: a text column's values
/// pooled into [`OTHER_LEVEL`], a column that looks like an ID.
fn infer_column(table: &RawTable, ci: usize, opts: &CsvOptions) -> Result<(Column, Vec<String>)> {
    let name = table.header[ci].clone();
    // A column is numeric when most of its present values are numbers; then any text value
    // in it is an error naming its row (a typo, a unit, a stray label), rather than turning
    // the whole column into categories.
    let (mut n_num, mut n_text, mut has_missing) = (0usize, 0usize, false);
    let (mut sum, mut first_text) = (0.0f64, None);
    let mut integral = true;
    for ri in 0..table.n_rows() {
        match table.cell(ri, ci) {
            Cell::Missing(_) => has_missing = true,
            Cell::Number(v) => {
                n_num += 1;
                sum += v as f64;
                integral &= v.fract() == 0.0;
            }
            Cell::Text(_) | Cell::Date(..) => {
                n_text += 1;
                first_text.get_or_insert(ri);
            }
        }
    }
    if n_num > n_text {
        if let Some(ri) = first_text {
            return Err(Error::NotNumeric {
                path: table.path.clone(),
                row: table.place(ri),
                column: name,
                value: table.text(ri, ci).into_owned(),
                reference: format!("this file: {n_num} of its values are numbers"),
            });
        }
        let impute = (opts.missing == MissingPolicy::Impute && has_missing).then(|| {
            if n_num > 0 {
                (sum / n_num as f64) as f32
            } else {
                0.0
            }
        });
        let id = (integral && n_num == table.n_rows() && row_numbers(table, ci))
            .then(|| looks_like_id(table, &name, "a distinct whole number, consecutive,"));
        return Ok((
            Column {
                name,
                kind: ColumnKind::Numeric { impute },
            },
            id.into_iter().collect(),
        ));
    }
    // Dates and timestamps: every present value one.
    let dates: Option<Vec<([f32; 5], bool)>> = (0..table.n_rows())
        .map(|ri| table.cell(ri, ci))
        .filter(|c| !matches!(c, Cell::Missing(_)))
        .map(|c| date_of(&c))
        .collect();
    if let Some(dates) = dates.filter(|d| !d.is_empty()) {
        let time = dates.iter().any(|(_, t)| *t);
        let n = date_width(time);
        let impute = (opts.missing == MissingPolicy::Impute && has_missing).then(|| {
            (0..n)
                .map(|k| {
                    let sum: f64 = dates.iter().map(|(p, _)| p[k] as f64).sum();
                    (sum / dates.len() as f64) as f32
                })
                .collect()
        });
        let note = format!(
            "{}: column {name:?} holds dates{}: expanded into {}",
            table.path.display(),
            if time { " and times" } else { "" },
            DATE_PARTS[..n]
                .iter()
                .map(|p| format!("{name}.{p}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let kind = ColumnKind::Date { time, impute };
        return Ok((Column { name, kind }, vec![note]));
    }
    // Each value's row count (the target is not looked at: the encoding learns nothing
    // about it).
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for ri in 0..table.n_rows() {
        match table.cell(ri, ci) {
            Cell::Missing(_) if opts.missing == MissingPolicy::Impute => {
                *counts.entry(MISSING_LEVEL.to_string()).or_default() += 1
            }
            Cell::Missing(_) => {}
            _ => *counts.entry(table.text(ri, ci).into_owned()).or_default() += 1,
        }
    }
    let mut notes = Vec::new();
    if table.n_rows() >= ID_MIN_ROWS && counts.len() == table.n_rows() {
        notes.push(looks_like_id(table, &name, "a distinct value"));
    }
    if counts.len() <= opts.max_levels {
        let levels = counts.into_keys().collect();
        let kind = ColumnKind::OneHot { levels };
        return Ok((Column { name, kind }, notes));
    }
    // Too many values: the `max_levels - 1` most frequent keep a feature each (ties go to
    // the first in name order), the rest share OTHER_LEVEL.
    let mut by_count: Vec<(&String, usize)> = counts.iter().map(|(l, n)| (l, *n)).collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let keep = opts.max_levels.saturating_sub(1);
    let pooled_rows: usize = by_count[keep..].iter().map(|(_, n)| n).sum();
    let note = format!(
        "{}: column {name:?} has {} distinct text values, above --max-levels {}: the {keep} \
         most frequent are one-hot encoded, the other {} ({pooled_rows} rows) share the \
         level {OTHER_LEVEL}",
        table.path.display(),
        counts.len(),
        opts.max_levels,
        counts.len() - keep,
    );
    let mut levels: Vec<String> = by_count[..keep].iter().map(|(l, _)| (*l).clone()).collect();
    levels.sort();
    levels.push(OTHER_LEVEL.to_string());
    let kind = ColumnKind::OneHot { levels };
    notes.push(note);
    Ok((Column { name, kind }, notes))
}

/// Rows below which a column distinct on every row is not called an ID (a small table's
/// columns are often all distinct).
const ID_MIN_ROWS: usize = 20;

fn looks_like_id(table: &RawTable, name: &str, what: &str) -> String {
    format!(
        "{}: column {name:?} holds {what} on every row: it looks like an ID, which identifies \
         rows and predicts nothing on new ones; drop it with --drop-column {name:?}",
        table.path.display()
    )
}

/// Whether a whole-number column holds each of `min..min + rows` exactly once (a row
/// number or a sequential ID). Read from the text, so large IDs are not rounded into `f32`.
fn row_numbers(table: &RawTable, ci: usize) -> bool {
    let n = table.n_rows();
    if n < ID_MIN_ROWS {
        return false;
    }
    let mut values: Vec<i64> = Vec::with_capacity(n);
    for ri in 0..n {
        match table.integer(ri, ci) {
            Some(v) => values.push(v),
            None => return false,
        }
    }
    values.sort_unstable();
    values.windows(2).all(|w| w[1] == w[0] + 1)
}

/// Returns (is the target numeric, class labels or empty for regression).
fn infer_target(table: &RawTable, ti: usize, opts: &CsvOptions) -> Result<(bool, Vec<String>)> {
    let mut numbers = BTreeMap::new();
    let mut texts = BTreeSet::new();
    let mut all_integral = true;
    for ri in 0..table.n_rows() {
        match table.cell(ri, ti) {
            Cell::Number(v) => {
                all_integral &= v.fract() == 0.0;
                if numbers.len() <= MAX_AUTO_CLASSES {
                    numbers.insert(v.to_bits(), v);
                }
            }
            Cell::Text(_) | Cell::Date(..) => {
                texts.insert(table.text(ri, ti).into_owned());
            }
            Cell::Missing(_) => {}
        }
    }
    let numeric = texts.is_empty();
    let classify = match opts.task {
        TaskRequest::Regression => {
            if !numeric {
                return Err(Error::option(
                    "--task",
                    "regression",
                    format!(
                        "target column {:?} holds text such as {:?}",
                        opts.target,
                        texts.iter().next().unwrap_or(&String::new())
                    ),
                ));
            }
            false
        }
        TaskRequest::Classification => true,
        TaskRequest::Auto => !numeric || (all_integral && numbers.len() <= MAX_AUTO_CLASSES),
    };
    if !classify {
        return Ok((true, vec![]));
    }
    if numeric {
        // Classes of a numeric target sort numerically; collect them all (the early cap above
        // only served detection).
        let mut values: Vec<f32> = Vec::new();
        let mut seen = BTreeSet::new();
        for ri in 0..table.n_rows() {
            if let Cell::Number(v) = table.cell(ri, ti) {
                if seen.insert(v.to_bits()) {
                    values.push(v);
                }
            }
        }
        values.sort_by(f32::total_cmp);
        if values.len() > 1000 {
            return Err(Error::option(
                "--task",
                "classification",
                format!(
                    "target {:?} has {} distinct values; that looks like regression",
                    opts.target,
                    values.len()
                ),
            ));
        }
        return Ok((true, values.iter().map(|v| v.to_string()).collect()));
    }
    let mut classes: BTreeSet<String> = texts;
    for ri in 0..table.n_rows() {
        if let Cell::Number(_) = table.cell(ri, ti) {
            classes.insert(table.text(ri, ti).into_owned());
        }
    }
    Ok((false, classes.into_iter().collect()))
}

fn class_index(classes: &[String], raw: &str) -> Option<usize> {
    let s = raw.trim();
    classes.iter().position(|c| c == s).or_else(|| {
        // A numeric label may be spelled "1.0" in one file and "1" in another.
        let v: f32 = s.parse().ok()?;
        classes.iter().position(|c| c.parse::<f32>() == Ok(v))
    })
}

fn encode(
    table: &RawTable,
    schema: &Schema,
    task: Task,
    input_idx: &[usize],
    target_idx: usize,
    unseen: Option<UnseenPolicy>,
) -> Result<Dataset> {
    let path = table.path.as_path();
    // `unseen` is None for the training file itself, whose values outside a column's levels
    // are the ones it pooled into OTHER_LEVEL.
    // unseen_values[column name] = (rows, up to three of the values)
    let mut unseen_values: BTreeMap<String, (usize, BTreeSet<String>)> = BTreeMap::new();
    let feature_names = schema.feature_names();
    let n_features = feature_names.len();
    // missing[column name][kind] = count
    let mut missing: BTreeMap<String, BTreeMap<MissingKind, usize>> = BTreeMap::new();
    let mut x = Vec::with_capacity(table.n_rows() * n_features);
    let mut y = Vec::with_capacity(table.n_rows());
    let mut dropped_rows = 0usize;
    // Schema column -> the dataset rows whose value in it was imputed.
    let mut imputed: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut row_buf = Vec::with_capacity(n_features);
    for ri in 0..table.n_rows() {
        let row = table.place(ri);
        row_buf.clear();
        let mut row_missing = false;
        let mut row_imputed: Vec<usize> = Vec::new();
        for (col_index, (col, &ci)) in schema.columns.iter().zip(input_idx).enumerate() {
            match (&col.kind, table.cell(ri, ci)) {
                (ColumnKind::Numeric { .. }, Cell::Number(v)) => row_buf.push(v),
                (ColumnKind::Numeric { .. }, Cell::Text(_) | Cell::Date(..)) => {
                    return Err(Error::NotNumeric {
                        path: path.to_path_buf(),
                        row,
                        column: col.name.clone(),
                        value: table.text(ri, ci).into_owned(),
                        reference: "the training data".into(),
                    })
                }
                (ColumnKind::Numeric { .. } | ColumnKind::Date { .. }, Cell::Missing(kind)) => {
                    *missing
                        .entry(col.name.clone())
                        .or_default()
                        .entry(kind)
                        .or_default() += 1;
                    // Its features' imputed values, and how many features it has.
                    let (impute, width) = match &col.kind {
                        ColumnKind::Numeric { impute } => {
                            (impute.as_ref().map(std::slice::from_ref), 1)
                        }
                        ColumnKind::Date { time, impute } => (impute.as_deref(), date_width(*time)),
                        ColumnKind::OneHot { .. } => unreachable!("matched above"),
                    };
                    match (schema.missing, impute) {
                        (MissingPolicy::Impute, Some(v)) => {
                            row_imputed.push(col_index);
                            row_buf.extend_from_slice(v)
                        }
                        (MissingPolicy::Impute, None) => {
                            return Err(Error::Data {
                                what: path.display().to_string(),
                                detail: format!(
                                    "{row}, column {:?}: missing value, and the training data had none to learn an imputation from",
                                    col.name
                                ),
                            })
                        }
                        _ => {
                            row_missing = true;
                            row_buf.extend(std::iter::repeat_n(0.0, width));
                        }
                    }
                }
                (ColumnKind::Date { time, .. }, cell @ (Cell::Text(_) | Cell::Date(..))) => {
                    let n = date_width(*time);
                    let Some((parts, _)) = date_of(&cell) else {
                        return Err(Error::NotNumeric {
                            path: path.to_path_buf(),
                            row,
                            column: col.name.clone(),
                            value: table.text(ri, ci).into_owned(),
                            reference: "the training data's ISO 8601 dates (YYYY-MM-DD, \
                                        optionally THH:MM[:SS])"
                                .into(),
                        });
                    };
                    row_buf.extend_from_slice(&parts[..n]);
                }
                (ColumnKind::Date { .. }, Cell::Number(v)) => {
                    return Err(Error::NotNumeric {
                        path: path.to_path_buf(),
                        row,
                        column: col.name.clone(),
                        value: v.to_string(),
                        reference: "the training data's ISO 8601 dates (YYYY-MM-DD)".into(),
                    })
                }
                (ColumnKind::OneHot { levels }, cell) => {
                    let level = match cell {
                        Cell::Missing(kind) => {
                            *missing
                                .entry(col.name.clone())
                                .or_default()
                                .entry(kind)
                                .or_default() += 1;
                            if schema.missing == MissingPolicy::Impute {
                                Some(MISSING_LEVEL.to_string())
                            } else {
                                row_missing = true;
                                None
                            }
                        }
                        _ => Some(table.text(ri, ci).into_owned()),
                    };
                    let hot = match &level {
                        Some(l) => match levels.iter().position(|v| v == l) {
                            Some(i) => Some(i),
                            // A value the training file pooled, or never had.
                            None => {
                                let other = levels.iter().position(|v| v == OTHER_LEVEL);
                                let Some(policy) = unseen else {
                                    row_buf.extend((0..levels.len()).map(|i| {
                                        if Some(i) == other {
                                            1.0
                                        } else {
                                            0.0
                                        }
                                    }));
                                    continue;
                                };
                                // A column that pooled values cannot tell a pooled value
                                // from an unseen one: both go to OTHER_LEVEL.
                                if policy == UnseenPolicy::Error && other.is_none() {
                                    return Err(Error::UnseenLevel {
                                        path: path.to_path_buf(),
                                        row,
                                        column: col.name.clone(),
                                        value: l.clone(),
                                    });
                                }
                                let e = unseen_values.entry(col.name.clone()).or_default();
                                e.0 += 1;
                                if e.1.len() < 3 {
                                    e.1.insert(l.clone());
                                }
                                other
                            }
                        },
                        None => None,
                    };
                    row_buf
                        .extend((0..levels.len()).map(|i| if Some(i) == hot { 1.0 } else { 0.0 }));
                }
            }
        }
        let target = match table.cell(ri, target_idx) {
            Cell::Missing(kind) => {
                *missing
                    .entry(schema.target.clone())
                    .or_default()
                    .entry(kind)
                    .or_default() += 1;
                None
            }
            Cell::Number(v) if !task.is_classification() => Some(v),
            Cell::Text(_) | Cell::Date(..) if !task.is_classification() => {
                return Err(Error::NotNumeric {
                    path: path.to_path_buf(),
                    row,
                    column: schema.target.clone(),
                    value: table.text(ri, target_idx).into_owned(),
                    reference: "the regression target".into(),
                })
            }
            _ => Some(
                class_index(&schema.classes, &table.text(ri, target_idx)).ok_or_else(|| {
                    Error::UnseenLevel {
                        path: path.to_path_buf(),
                        row,
                        column: schema.target.clone(),
                        value: table.text(ri, target_idx).into_owned(),
                    }
                })? as f32,
            ),
        };
        match target {
            Some(t) if !row_missing => {
                for c in row_imputed {
                    imputed.entry(c).or_default().push(y.len());
                }
                x.extend_from_slice(&row_buf);
                y.push(t);
            }
            _ => dropped_rows += 1,
        }
    }
    let mut warnings = Vec::new();
    if !unseen_values.is_empty() {
        let detail = unseen_values
            .iter()
            .map(|(col, (rows, values))| {
                let examples: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
                let noun = if *rows == 1 { "row" } else { "rows" };
                format!("{col}: {rows} {noun} (such as {})", examples.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        warnings.push(format!(
            "{}: text values outside the training data's one-hot levels ({detail}) are \
             encoded as the column's {OTHER_LEVEL} level, or as no level where it has none \
             (--unseen-levels ignore; --unseen-levels error refuses them)",
            path.display()
        ));
    }
    if !missing.is_empty() {
        let counts = missing
            .iter()
            .map(|(col, kinds)| {
                let total: usize = kinds.values().sum();
                let detail = kinds
                    .iter()
                    .map(|(k, n)| format!("{} {}", n, k.label()))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("{col}: {total} ({detail})")
            })
            .collect::<Vec<_>>()
            .join("; ");
        if schema.missing == MissingPolicy::Reject {
            return Err(Error::Missing {
                path: path.to_path_buf(),
                counts,
            });
        }
        warnings.push(format!(
            "{}: missing values handled by --missing {} ({counts}); {dropped_rows} rows dropped",
            path.display(),
            schema.missing.as_str()
        ));
    }
    if y.is_empty() {
        return Err(Error::Data {
            what: path.display().to_string(),
            detail: "no rows are left after dropping rows with missing values".into(),
        });
    }
    let mut ds = Dataset::build(
        &path.display().to_string(),
        feature_names,
        x,
        y,
        task,
        schema.clone(),
    )?;
    if unseen.is_some() {
        // Held-out rows: a feature constant there says nothing about the model (a small test
        // file misses most one-hot levels), so only the training data's are reported.
        ds.warnings.clear();
    }
    warnings.append(&mut ds.warnings);
    ds.warnings = warnings;
    ds.imputed = imputed.into_iter().collect();
    Ok(ds)
}

/// A synthetic dataset spec: `synthetic:classification,rows=100000,features=32,classes=2,seed=1`
/// or `synthetic:regression,rows=...,features=...`.
pub fn synthetic(spec: &str) -> Result<Dataset> {
    let body = spec.strip_prefix("synthetic:").unwrap_or(spec);
    let mut parts = body.split(',');
    let kind = parts.next().unwrap_or("").trim();
    let (mut rows, mut features, mut classes, mut seed, mut noise) =
        (10_000usize, 16usize, 2usize, 1u64, 0.1f64);
    for p in parts {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| Error::option("--dataset", spec, format!("{p:?} is not key=value")))?;
        let num = |v: &str| -> Result<f64> {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    Error::option(
                        "--dataset",
                        spec,
                        format!("{k}={v} is not a non-negative number"),
                    )
                })
        };
        match k.trim() {
            "rows" => rows = num(v)? as usize,
            "features" => features = num(v)? as usize,
            "classes" => classes = num(v)? as usize,
            "seed" => seed = num(v)? as u64,
            "noise" => noise = num(v)?,
            other => {
                return Err(Error::option(
                    "--dataset",
                    spec,
                    format!("unknown key {other:?} (known: rows, features, classes, seed, noise)"),
                ))
            }
        }
    }
    // At most 2^30 values (4 GiB of f32): beyond that the machine, not the tool, decides.
    if rows < 20 || features == 0 || features > 10_000 || rows.saturating_mul(features) > 1 << 30 {
        return Err(Error::option(
            "--dataset",
            spec,
            "need rows >= 20, 1 <= features <= 10000 and rows x features <= 2^30",
        ));
    }
    let task = match kind {
        "classification" if classes == 2 => Task::Binary,
        "classification" if (3..=100).contains(&classes) => Task::Multiclass,
        "classification" => {
            return Err(Error::option("--dataset", spec, "classes must be 2..=100"))
        }
        "regression" => Task::Regression,
        other => {
            return Err(Error::option(
                "--dataset",
                spec,
                format!(
                    "unknown kind {other:?}; use synthetic:classification or synthetic:regression"
                ),
            ))
        }
    };
    let mut rng = Rng::derive(seed, "synthetic");
    let outputs = if task.is_classification() { classes } else { 1 };
    let w: Vec<f64> = (0..outputs * features).map(|_| rng.normal()).collect();
    let scale = 1.0 / (features as f64).sqrt();
    let mut x = Vec::with_capacity(rows * features);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let start = x.len();
        for _ in 0..features {
            x.push(rng.normal() as f32);
        }
        let r = &x[start..];
        let nonlinear = |o: usize| {
            // An interaction and a threshold, so trees and non-linear models have something
            // to find that a linear model cannot.
            let a = r[o % features] as f64;
            let b = r[(o + 1) % features] as f64;
            1.5 * (a * b).tanh() + if a > 0.5 { 1.0 } else { 0.0 }
        };
        let score = |o: usize| {
            let lin: f64 = r
                .iter()
                .zip(&w[o * features..(o + 1) * features])
                .map(|(a, b)| *a as f64 * b)
                .sum();
            lin * scale + nonlinear(o)
        };
        if task.is_classification() {
            let mut best = (f64::NEG_INFINITY, 0);
            for o in 0..outputs {
                let s = score(o) + noise * 3.0 * rng.normal();
                if s > best.0 {
                    best = (s, o);
                }
            }
            y.push(best.1 as f32);
        } else {
            y.push((score(0) + noise * rng.normal()) as f32);
        }
    }
    let names = (0..features).map(|i| format!("x{i}")).collect();
    let class_names = if task.is_classification() {
        (0..classes).map(|c| c.to_string()).collect()
    } else {
        vec![]
    };
    Dataset::from_arrays(&format!("synthetic:{body}"), names, x, y, task, class_names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::PathBuf;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        p
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tradeoff-data-{}-{}", name, std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn days_and_seconds_since_1970_give_the_dates_iso_text_gives() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        // 2024-03-05T14:30:00Z, a Tuesday: the parts text of that time gives.
        let (parts, time) = parse_date("2024-03-05T14:30:00Z").unwrap();
        assert!(time);
        assert_eq!(date_from_seconds(1_709_649_000), parts);
        assert_eq!(parts, [2024.0, 3.0, 5.0, 1.0, 14.0]);
        // Before 1970: the day and hour still count forward from midnight.
        let (parts, _) = parse_date("1969-12-31T23:00").unwrap();
        assert_eq!(date_from_seconds(-3600), parts);
    }

    #[test]
    fn rare_levels_are_pooled_and_unseen_ones_follow_the_policy() {
        let d = tmp("pool");
        // Levels a..e with 5, 4, 3, 2 and 1 rows; a cap of 3 keeps a and b, pools c, d, e.
        let mut text = String::from("v,c,y\n");
        for (level, n) in [("a", 5), ("b", 4), ("c", 3), ("d", 2), ("e", 1)] {
            for i in 0..n {
                text.push_str(&format!("{i},{level},{}\n", i % 2));
            }
        }
        let p = write(&d, "train.csv", &text);
        let mut o = CsvOptions::new("y");
        o.max_levels = 3;
        let ds = load_csv(&p, &o).unwrap();
        assert_eq!(ds.feature_names, ["v", "c=a", "c=b", "c=<other>"]);
        let other = |ds: &Dataset| (0..ds.n_rows).filter(|&r| ds.row(r)[3] == 1.0).count();
        assert_eq!(other(&ds), 6, "c, d and e's rows");
        assert!(ds.warnings.iter().any(|w| w.contains(
            "column \"c\" has 5 distinct text values, above --max-levels 3: the 2 most frequent \
             are one-hot encoded, the other 3 (6 rows) share the level <other>"
        )));
        // Held-out: a pooled value and a new one both go to <other>, counted.
        let t = write(&d, "test.csv", "v,c,y\n1,d,0\n2,zzz,1\n3,a,0\n");
        let test = load_csv_like(&t, b',', &ds, UnseenPolicy::Ignore).unwrap();
        assert_eq!(other(&test), 2);
        assert!(
            test.warnings.iter().any(|w| w.contains("c: 2 rows")),
            "{:?}",
            test.warnings
        );
        // A held-out file's constant features (here most levels) are not reported.
        assert!(
            !test.warnings.iter().any(|w| w.contains("is constant")),
            "{:?}",
            test.warnings
        );
        // Without pooling an unseen value is no level at all, or an error when asked.
        let mut o = CsvOptions::new("y");
        o.max_levels = 10;
        let ds = load_csv(&p, &o).unwrap();
        assert_eq!(ds.n_features, 6);
        let test = load_csv_like(&t, b',', &ds, UnseenPolicy::Ignore).unwrap();
        assert_eq!(&test.row(1)[1..], [0.0; 5], "zzz: every level 0");
        assert_eq!(test.row(0)[4], 1.0, "d keeps its own level");
        let e = load_csv_like(&t, b',', &ds, UnseenPolicy::Error).unwrap_err();
        assert!(
            e.to_string().contains("row 3, column \"c\": value \"zzz\""),
            "{e}"
        );
    }

    #[test]
    fn iso_dates_and_timestamps_parse_into_their_parts() {
        // 2024-03-05 was a Tuesday (weekday 1, Monday = 0); 2000-02-29 a Tuesday too.
        assert_eq!(
            parse_date("2024-03-05"),
            Some(([2024.0, 3.0, 5.0, 1.0, 0.0], false))
        );
        assert_eq!(
            parse_date("2000-02-29"),
            Some(([2000.0, 2.0, 29.0, 1.0, 0.0], false))
        );
        assert_eq!(parse_date("2023-01-01").unwrap().0[3], 6.0, "a Sunday");
        for t in [
            "2024-03-05T14:30",
            "2024-03-05 14:30:59",
            "2024-03-05T14:30:00.123Z",
            "2024-03-05T14:30:00+02:00",
            "2024-03-05T14:30-0500",
        ] {
            assert_eq!(
                parse_date(t),
                Some(([2024.0, 3.0, 5.0, 1.0, 14.0], true)),
                "{t}"
            );
        }
        for bad in [
            "1900-02-29",
            "2024-13-01",
            "2024-04-31",
            "2024-3-5",
            "2024-03-05T25:00",
            "2024-03-05T14",
            "2024-03-05T14:30:00.",
            "2024-03-05 14:30 UTC",
            "20240305",
            "March 5",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_date_column_becomes_numeric_parts_and_a_bad_date_names_its_place() {
        let d = tmp("dates");
        let p = write(
            &d,
            "train.csv",
            "when,v,y\n2024-03-05T10:00,1,0\n2024-03-06,2,1\n2023-12-31T23:59:59Z,3,0\n",
        );
        let ds = load_csv(&p, &CsvOptions::new("y")).unwrap();
        assert_eq!(
            ds.feature_names,
            [
                "when.year",
                "when.month",
                "when.day",
                "when.weekday",
                "when.hour",
                "v"
            ]
        );
        assert_eq!(ds.row(2)[..5], [2023.0, 12.0, 31.0, 6.0, 23.0]);
        assert_eq!(ds.row(1)[4], 0.0, "a date without a time: hour 0");
        assert!(ds
            .warnings
            .iter()
            .any(|w| w.contains("holds dates and times")));
        let t = write(&d, "test.csv", "when,v,y\n2024-03-07,1,0\n2024-02-30,2,1\n");
        let e = load_csv_like(&t, b',', &ds, UnseenPolicy::Ignore).unwrap_err();
        assert!(
            e.to_string().contains("row 3, column \"when\"")
                && e.to_string().contains("2024-02-30"),
            "{e}"
        );
        // Missing dates are imputed part by part with the training means.
        let p = write(
            &d,
            "m.csv",
            "when,y\n2024-01-01,0\nNA,1\n2024-01-03,0\n2024-01-05,1\n",
        );
        let mut o = CsvOptions::new("y");
        o.missing = MissingPolicy::Impute;
        let ds = load_csv(&p, &o).unwrap();
        assert_eq!(ds.row(1)[..3], [2024.0, 1.0, 3.0]);
    }

    #[test]
    fn id_like_columns_are_named_in_a_warning() {
        let d = tmp("ids");
        let mut text = String::from("row,user,age,spend,y\n");
        for i in 0..30 {
            // `row` counts from 101 (shuffled), `user` is distinct text; `age` repeats and
            // `spend` is distinct but not consecutive: neither is an ID.
            let row = 101 + (i * 7) % 30;
            text.push_str(&format!("{row},u{i},{},{},{}\n", 20 + i % 9, i * 3, i % 2));
        }
        let p = write(&d, "ids.csv", &text);
        let ds = load_csv(&p, &CsvOptions::new("y")).unwrap();
        let ids: Vec<&String> = ds.warnings.iter().filter(|w| w.contains("an ID")).collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert!(
            ids[0].contains("column \"row\" holds a distinct whole number"),
            "{ids:?}"
        );
        assert!(ids[1].contains("column \"user\" holds a distinct value on every row"));
        assert!(ids[1].contains("--drop-column \"user\""));
    }

    #[test]
    fn one_hot_and_task_detection() {
        let d = tmp("onehot");
        let p = write(
            &d,
            "a.csv",
            "a,color,label\n1,red,yes\n2,blue,no\n3,red,yes\n4,green,no\n",
        );
        let ds = load_csv(&p, &CsvOptions::new("label")).unwrap();
        assert_eq!(ds.task, Task::Binary);
        assert_eq!(
            ds.feature_names,
            ["a", "color=blue", "color=green", "color=red"]
        );
        assert_eq!(ds.row(0), &[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(ds.schema.classes, ["no", "yes"]);
        assert_eq!(ds.y, [1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn numeric_target_with_many_values_is_regression() {
        let d = tmp("reg");
        let text: String = std::iter::once("a,y\n".to_string())
            .chain((0..50).map(|i| format!("{i},{}.5\n", i * 3)))
            .collect();
        let p = write(&d, "r.csv", &text);
        let ds = load_csv(&p, &CsvOptions::new("y")).unwrap();
        assert_eq!(ds.task, Task::Regression);
        let mut o = CsvOptions::new("y");
        o.task = TaskRequest::Classification;
        assert_eq!(load_csv(&p, &o).unwrap().task, Task::Multiclass);
    }

    #[test]
    fn missing_values_counted_then_dropped_or_imputed() {
        let d = tmp("missing");
        let p = write(
            &d,
            "m.csv",
            "a,b,y\n1,x,0\nNA,y,1\n3,,0\ninf,x,1\n5,y,0\n6,x,1\n",
        );
        let err = load_csv(&p, &CsvOptions::new("y")).unwrap_err().to_string();
        assert!(err.contains("a: 2 (1 NA, 1 inf)"), "{err}");
        assert!(err.contains("b: 1 (1 empty)"), "{err}");
        let mut o = CsvOptions::new("y");
        o.missing = MissingPolicy::Drop;
        assert_eq!(load_csv(&p, &o).unwrap().n_rows, 3);
        o.missing = MissingPolicy::Impute;
        let ds = load_csv(&p, &o).unwrap();
        assert_eq!(ds.n_rows, 6);
        // mean of 1, 3, 5, 6
        assert_eq!(ds.row(1)[0], 3.75);
        assert!(ds.feature_names.contains(&"b=<missing>".to_string()));
        // Once the split is known, the imputed value comes from the training rows alone
        // (rows 0, 4 and 5: 1, 5 and 6), never from a held-out row's value (row 2's 3).
        let mut ds = ds;
        ds.impute_from(&[0, 4, 5]);
        assert_eq!((ds.row(1)[0], ds.row(3)[0]), (4.0, 4.0));
        assert_eq!((ds.row(0)[0], ds.row(2)[0]), (1.0, 3.0));
        assert_eq!(
            ds.schema.columns[0].kind,
            ColumnKind::Numeric { impute: Some(4.0) }
        );
    }

    #[test]
    fn imputed_dates_come_from_the_training_rows() {
        let d = tmp("missing-dates");
        let p = write(
            &d,
            "d.csv",
            "when,y
2020-01-01,0
,1
2024-01-01,0
2022-01-01,1
",
        );
        let mut o = CsvOptions::new("y");
        o.missing = MissingPolicy::Impute;
        let mut ds = load_csv(&p, &o).unwrap();
        // All rows: years 2020, 2024, 2022 -> 2022; training rows 0 and 3 only -> 2021.
        assert_eq!(ds.row(1)[0], 2022.0);
        ds.impute_from(&[0, 1, 3]);
        assert_eq!(ds.row(1)[0], 2021.0);
        assert_eq!(ds.row(2)[0], 2024.0);
    }

    #[test]
    fn errors_name_the_place() {
        let d = tmp("errors");
        let ragged = write(&d, "r.csv", "a,b,y\n1,2,0\n1,2\n");
        let e = load_csv(&ragged, &CsvOptions::new("y"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 3 has 2 fields, the header has 3"), "{e}");
        let notnum = write(&d, "n.csv", "a,y\n1,0\n2,1\nabc,1\n3,0\n");
        let e = load_csv(&notnum, &CsvOptions::new("y"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row 4, column \"a\": \"abc\" is not a number"),
            "{e}"
        );
        let e = load_csv(&notnum, &CsvOptions::new("Y"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean \"y\"?"), "{e}");
        let dup = write(&d, "d.csv", "a,a,y\n1,2,0\n");
        let e = load_csv(&dup, &CsvOptions::new("y"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("appears twice"), "{e}");
    }

    #[test]
    fn synthetic_is_deterministic() {
        let a = synthetic("synthetic:classification,rows=100,features=4").unwrap();
        let b = synthetic("synthetic:classification,rows=100,features=4").unwrap();
        assert_eq!(a.hash(), b.hash());
        let counts = a.class_counts();
        assert!(counts.iter().all(|&c| c > 10), "{counts:?}");
        assert!(synthetic("synthetic:classification,rows=100,bogus=1").is_err());
    }
}
