//! A table as read from its file, before typing: a header and cells, from a CSV file (text)
//! or from a typed columnar file (Parquet, read by `tradeoff-parquet`).
//!
//! Every cell is read through [`RawTable::cell`], so one set of typing and validation rules
//! (`super`) serves every format: a Parquet string column of numbers is numeric, as it would
//! be in its CSV export, and an empty string or `NA` is missing in both.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tradeoff_ir::error::{Error, Result, Row};

/// Why a cell counts as missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum MissingKind {
    Empty,
    Na,
    Null,
    NaN,
    Infinite,
    Overflow,
}

impl MissingKind {
    pub(super) fn label(self) -> &'static str {
        match self {
            MissingKind::Empty => "empty",
            MissingKind::Na => "NA",
            MissingKind::Null => "null",
            MissingKind::NaN => "NaN",
            MissingKind::Infinite => "inf",
            MissingKind::Overflow => "overflows f32",
        }
    }
}

/// A cell, typed.
pub(super) enum Cell<'a> {
    Number(f32),
    Text(&'a str),
    /// A date or timestamp column's value: `(year, month, day, weekday, hour)` and whether it
    /// has a time (see [`super::parse_date`]).
    Date([f32; 5], bool),
    Missing(MissingKind),
}

/// A text cell, typed: numbers, the spellings of a missing value, or text.
pub(super) fn parse_cell(raw: &str) -> Cell<'_> {
    let s = raw.trim();
    if s.is_empty() {
        return Cell::Missing(MissingKind::Empty);
    }
    match s {
        "NA" | "N/A" | "na" | "n/a" | "null" | "NULL" | "None" | "?" => {
            return Cell::Missing(MissingKind::Na)
        }
        _ => {}
    }
    match s.parse::<f64>() {
        Ok(v) => number(v),
        Err(_) => Cell::Text(s),
    }
}

fn number(v: f64) -> Cell<'static> {
    if v.is_nan() {
        Cell::Missing(MissingKind::NaN)
    } else if v.is_infinite() {
        Cell::Missing(MissingKind::Infinite)
    } else if v.abs() > f32::MAX as f64 {
        Cell::Missing(MissingKind::Overflow)
    } else {
        Cell::Number(v as f32)
    }
}

/// One typed column of a columnar file; `None` is a null.
#[derive(Debug, Clone)]
pub enum RawColumn {
    /// Floating-point and decimal values.
    Float(Vec<Option<f64>>),
    /// Integers and booleans (as 0 and 1), exact.
    Integer(Vec<Option<i64>>),
    /// Strings, as indices into `values` (each distinct string held once).
    Text {
        codes: Vec<Option<u32>>,
        values: Vec<String>,
    },
    /// Dates (`time` false) or timestamps, as seconds since 1970-01-01 (UTC).
    Date {
        seconds: Vec<Option<i64>>,
        time: bool,
    },
    /// A column of a type no model takes (a list, a struct, binary), named by its type;
    /// an error only if the column is used.
    Unsupported { rows: usize, type_name: String },
}

impl RawColumn {
    fn len(&self) -> usize {
        match self {
            RawColumn::Float(v) => v.len(),
            RawColumn::Integer(v) => v.len(),
            RawColumn::Text { codes, .. } => codes.len(),
            RawColumn::Date { seconds, .. } => seconds.len(),
            RawColumn::Unsupported { rows, .. } => *rows,
        }
    }
}

enum Rows {
    /// A CSV file's records, one per data line.
    Csv(Vec<csv::StringRecord>),
    /// A columnar file's columns; `groups[g]` is the first row of row group `g`.
    Columns {
        columns: Vec<RawColumn>,
        n_rows: usize,
        groups: Vec<usize>,
    },
}

/// The raw table: header and cells, before typing.
pub struct RawTable {
    pub(super) path: PathBuf,
    pub(super) header: Vec<String>,
    rows: Rows,
}

impl RawTable {
    /// A table of typed columns, as a columnar reader produced them; `group_rows` holds each
    /// row group's row count, in order. Checks what [`read_csv`] checks of a text file: a
    /// header without duplicates and at least one data row.
    pub fn from_columns(
        path: &Path,
        header: Vec<String>,
        columns: Vec<RawColumn>,
        group_rows: &[usize],
    ) -> Result<RawTable> {
        check_header(path, &header)?;
        if header.is_empty() || header.len() != columns.len() {
            return Err(Error::EmptyFile {
                path: path.to_path_buf(),
            });
        }
        let n_rows = group_rows.iter().sum();
        if let Some((name, c)) = header.iter().zip(&columns).find(|(_, c)| c.len() != n_rows) {
            return Err(Error::Data {
                what: path.display().to_string(),
                detail: format!(
                    "column {name:?} has {} values, the row groups {n_rows} rows",
                    c.len()
                ),
            });
        }
        if n_rows == 0 {
            return Err(Error::HeaderOnly {
                path: path.to_path_buf(),
            });
        }
        let groups = group_rows
            .iter()
            .scan(0, |start, &n| {
                let first = *start;
                *start += n;
                Some(first)
            })
            .collect();
        Ok(RawTable {
            path: path.to_path_buf(),
            header,
            rows: Rows::Columns {
                columns,
                n_rows,
                groups,
            },
        })
    }

    /// Refuses column `ci` if its type is one no model takes, naming the column and type.
    pub(super) fn check_usable(&self, ci: usize) -> Result<()> {
        if let Rows::Columns { columns, .. } = &self.rows {
            if let RawColumn::Unsupported { type_name, .. } = &columns[ci] {
                let name = &self.header[ci];
                return Err(Error::Data {
                    what: self.path.display().to_string(),
                    detail: format!(
                        "column {name:?} has type {type_name}, which tradeoff cannot use as a \
                         feature or target (numbers, booleans, strings, dates and timestamps \
                         are read); drop it with --drop-column {name:?}"
                    ),
                });
            }
        }
        Ok(())
    }

    /// The header's column names, in file order.
    pub fn column_names(&self) -> &[String] {
        &self.header
    }

    pub(super) fn n_rows(&self) -> usize {
        match &self.rows {
            Rows::Csv(r) => r.len(),
            Rows::Columns { n_rows, .. } => *n_rows,
        }
    }

    /// Where data row `ri` (from 0) is in the file, for messages.
    pub(super) fn place(&self, ri: usize) -> Row {
        match &self.rows {
            Rows::Csv(_) => Row::Line(ri + 2),
            Rows::Columns { groups, .. } => Row::Parquet {
                row: ri + 1,
                group: groups.partition_point(|&first| first <= ri) - 1,
            },
        }
    }

    /// Cell `(ri, ci)`, typed.
    pub(super) fn cell(&self, ri: usize, ci: usize) -> Cell<'_> {
        match &self.rows {
            Rows::Csv(r) => parse_cell(&r[ri][ci]),
            Rows::Columns { columns, .. } => match &columns[ci] {
                RawColumn::Float(v) => v[ri].map_or(Cell::Missing(MissingKind::Null), number),
                RawColumn::Integer(v) => {
                    v[ri].map_or(Cell::Missing(MissingKind::Null), |v| number(v as f64))
                }
                RawColumn::Text { codes, values } => codes[ri]
                    .map_or(Cell::Missing(MissingKind::Null), |c| {
                        parse_cell(&values[c as usize])
                    }),
                RawColumn::Date { seconds, time } => seconds[ri]
                    .map_or(Cell::Missing(MissingKind::Null), |s| {
                        Cell::Date(super::date_from_seconds(s), *time)
                    }),
                // Refused by `check_usable` before any cell is read.
                RawColumn::Unsupported { .. } => Cell::Missing(MissingKind::Null),
            },
        }
    }

    /// Cell `(ri, ci)` as text, trimmed: a one-hot level's name, a value in a message.
    pub(super) fn text(&self, ri: usize, ci: usize) -> Cow<'_, str> {
        match &self.rows {
            Rows::Csv(r) => Cow::Borrowed(r[ri][ci].trim()),
            Rows::Columns { columns, .. } => match &columns[ci] {
                RawColumn::Float(v) => v[ri].map_or(Cow::Borrowed(""), |v| v.to_string().into()),
                RawColumn::Integer(v) => v[ri].map_or(Cow::Borrowed(""), |v| v.to_string().into()),
                RawColumn::Text { codes, values } => {
                    codes[ri].map_or(Cow::Borrowed(""), |c| values[c as usize].trim().into())
                }
                RawColumn::Date { seconds, time } => {
                    seconds[ri].map_or(Cow::Borrowed(""), |s| iso_date(s, *time).into())
                }
                RawColumn::Unsupported { .. } => Cow::Borrowed(""),
            },
        }
    }

    /// Cell `(ri, ci)` as an exact number, for ordering rows: integers and floats as
    /// written, dates and timestamps as seconds since 1970; `None` for anything else.
    pub(super) fn exact(&self, ri: usize, ci: usize) -> Option<f64> {
        match &self.rows {
            Rows::Csv(r) => r[ri][ci].trim().parse::<f64>().ok(),
            Rows::Columns { columns, .. } => match &columns[ci] {
                RawColumn::Float(v) => v[ri],
                RawColumn::Integer(v) => v[ri].map(|v| v as f64),
                RawColumn::Date { seconds, .. } => seconds[ri].map(|v| v as f64),
                RawColumn::Text { .. } => self.text(ri, ci).parse().ok(),
                RawColumn::Unsupported { .. } => None,
            },
        }
        .filter(|v| v.is_finite())
    }

    /// Cell `(ri, ci)` as a whole number, when it is one (without rounding through `f32`).
    pub(super) fn integer(&self, ri: usize, ci: usize) -> Option<i64> {
        match &self.rows {
            Rows::Columns { columns, .. } => match &columns[ci] {
                RawColumn::Integer(v) => v[ri],
                RawColumn::Text { .. } => self.text(ri, ci).parse().ok(),
                RawColumn::Float(_) | RawColumn::Date { .. } | RawColumn::Unsupported { .. } => {
                    None
                }
            },
            Rows::Csv(r) => r[ri][ci].trim().parse().ok(),
        }
    }
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` of seconds since 1970 (UTC).
fn iso_date(seconds: i64, time: bool) -> String {
    let (y, m, d) = super::civil_from_days(seconds.div_euclid(86_400));
    let s = seconds.rem_euclid(86_400);
    if time {
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    } else {
        format!("{y:04}-{m:02}-{d:02}")
    }
}

/// The CSV reader's error, with invalid UTF-8 placed like every other bad cell: its row and
/// its column (1-based, with the header's name for it once the header is read).
fn csv_error(path: &Path, header: &[String], e: csv::Error) -> Error {
    if let csv::ErrorKind::Utf8 { pos, err } = e.kind() {
        let row = pos
            .as_ref()
            .map_or(String::new(), |p| format!("row {}, ", p.record() + 1));
        let name = header
            .get(err.field())
            .map_or(String::new(), |n| format!(" ({n:?})"));
        return Error::Csv {
            path: path.to_path_buf(),
            message: format!(
                "{row}column {}{name}: invalid UTF-8 (the file must be UTF-8 text; re-save it \
                 as UTF-8)",
                err.field() + 1
            ),
        };
    }
    Error::Csv {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn check_header(path: &Path, header: &[String]) -> Result<()> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, name) in header.iter().enumerate() {
        if let Some(&first) = seen.get(name.as_str()) {
            return Err(Error::DuplicateHeader {
                path: path.to_path_buf(),
                name: name.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
        seen.insert(name, i);
    }
    Ok(())
}

/// Checks that `path` is a regular file that fits in memory before it is read: a device
/// (`/dev/zero`), a pipe or a directory would be read without a known end, and a file
/// larger than the memory available cannot be held. Returns its size.
pub fn check_input_file(path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| Error::read(path, e))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a device, pipe or socket)"
        };
        return Err(Error::Data {
            what: path.display().to_string(),
            detail: format!(
                "{what}: tradeoff reads files whose size it can check first; save the data \
                 to a file"
            ),
        });
    }
    let size = meta.len();
    if let Some(free) = tradeoff_ir::machine::available_memory_bytes() {
        if size > free {
            return Err(Error::Data {
                what: path.display().to_string(),
                detail: format!(
                    "the file is {:.1} GiB, more than the {:.1} GiB of memory available to \
                     hold it",
                    size as f64 / GIB,
                    free as f64 / GIB
                ),
            });
        }
    }
    Ok(size)
}

const GIB: f64 = (1u64 << 30) as f64;

/// Reads a CSV file: a header row and records with as many fields.
pub fn read_csv(path: &Path, delimiter: u8) -> Result<RawTable> {
    check_input_file(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    read_csv_bytes(path, &bytes, delimiter)
}

/// [`read_csv`] of a file's bytes already read; `path` names it in messages.
pub fn read_csv_bytes(path: &Path, bytes: &[u8], delimiter: u8) -> Result<RawTable> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        Some(r) => r
            .map_err(|e| csv_error(path, &[], e))?
            .iter()
            .map(|s| s.trim().trim_start_matches('\u{feff}').to_string())
            .collect(),
        None => {
            return Err(Error::EmptyFile {
                path: path.to_path_buf(),
            })
        }
    };
    check_header(path, &header)?;
    let mut rows = Vec::new();
    for (i, rec) in records.enumerate() {
        let rec = rec.map_err(|e| csv_error(path, &header, e))?;
        // A blank line at the end is not a row.
        if rec.len() == 1 && rec[0].trim().is_empty() && header.len() > 1 {
            continue;
        }
        if rec.len() != header.len() {
            return Err(Error::RaggedRow {
                path: path.to_path_buf(),
                row: i + 2,
                expected: header.len(),
                found: rec.len(),
            });
        }
        rows.push(rec);
    }
    if rows.is_empty() {
        return Err(Error::HeaderOnly {
            path: path.to_path_buf(),
        });
    }
    Ok(RawTable {
        path: path.to_path_buf(),
        header,
        rows: Rows::Csv(rows),
    })
}
