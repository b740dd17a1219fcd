//! Parquet input, through the Apache Arrow project's `parquet` crate (its Arrow reader), and
//! the one entry point that reads a user's table file whatever its format.
//!
//! A Parquet file becomes a [`RawTable`] of typed columns, read one row group at a time
//! (so a damaged group is named); `tradeoff-core` then types, checks and encodes it with
//! the same rules and errors as a CSV file. Numbers stay numbers (no text copy of a
//! numeric cell is ever made) and each distinct string is held once.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal32Type, Decimal64Type, Float16Type, Float32Type,
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use tradeoff_data::data::{self, RawColumn, RawTable};
use tradeoff_ir::error::{Error, Result};

/// Rows per Arrow batch while reading a row group.
const BATCH_ROWS: usize = 65_536;

/// Whether `path` is a Parquet file: it starts with the magic `PAR1`, or its name ends in
/// `.parquet` or `.pq` (so a damaged one is reported as Parquet, not as odd CSV).
pub fn is_parquet(path: &Path) -> bool {
    let named = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    let mut magic = [0u8; 4];
    let starts = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| &magic == b"PAR1");
    named || starts
}

/// Reads a user's table: Parquet when [`is_parquet`] says so, CSV with `delimiter` else.
pub fn read_table(path: &Path, delimiter: u8) -> Result<RawTable> {
    if is_parquet(path) {
        read_parquet(path)
    } else {
        data::read_csv(path, delimiter)
    }
}

/// Reads a Parquet file's columns, every row group in order.
pub fn read_parquet(path: &Path) -> Result<RawTable> {
    data::check_input_file(path)?;
    // The reader asserts some of what a file's metadata claims (a negative offset panics in
    // parquet 60.1; found by fuzzing): a damaged file is bad data, not a crash.
    tradeoff_data::protocol::guarded(|| read_groups(path)).unwrap_or_else(|panic| {
        Err(Error::Data {
            what: path.display().to_string(),
            detail: format!(
                "not a readable Parquet file: the reader stopped on its metadata ({panic})"
            ),
        })
    })
}

fn read_groups(path: &Path) -> Result<RawTable> {
    let file = File::open(path).map_err(|e| Error::read(path, e))?;
    let bad = |detail: String| Error::Data {
        what: path.display().to_string(),
        detail,
    };
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())
        .map_err(|e| bad(format!("not a readable Parquet file: {e}")))?;
    let schema = meta.schema().clone();
    let header: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut columns: Vec<Builder> = schema
        .fields()
        .iter()
        .map(|f| Builder::new(f.data_type()))
        .collect();
    let group_rows: Vec<usize> = meta
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.num_rows().max(0) as usize)
        .collect();
    for (g, &rows) in group_rows.iter().enumerate() {
        let file = file.try_clone().map_err(|e| Error::read(path, e))?;
        let in_group = |e: &dyn std::fmt::Display| bad(format!("row group {g}: {e}"));
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta.clone())
            .with_row_groups(vec![g])
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| in_group(&e))?;
        let mut read = 0;
        for batch in reader {
            let batch = batch.map_err(|e| in_group(&e))?;
            for (b, column) in columns.iter_mut().zip(batch.columns()) {
                b.push(column.as_ref());
            }
            read += batch.num_rows();
        }
        if read != rows {
            return Err(in_group(&format!(
                "the footer says {rows} rows, {read} were read"
            )));
        }
    }
    let columns = columns.into_iter().map(Builder::finish).collect();
    RawTable::from_columns(path, header, columns, &group_rows)
}

/// How one Arrow column type is read.
enum Builder {
    Float(Vec<Option<f64>>),
    Integer(Vec<Option<i64>>),
    Text {
        codes: Vec<Option<u32>>,
        index: HashMap<String, u32>,
        values: Vec<String>,
    },
    /// `per_second` units of the column's integers make a second.
    Date {
        seconds: Vec<Option<i64>>,
        per_second: i64,
        time: bool,
    },
    /// A type no model takes: only its rows are counted.
    Unsupported {
        rows: usize,
        type_name: String,
    },
}

impl Builder {
    /// The builder for a column of type `t`.
    fn new(t: &DataType) -> Builder {
        use DataType as D;
        let date = |per_second, time| Builder::Date {
            seconds: vec![],
            per_second,
            time,
        };
        match t {
            D::Boolean
            | D::Int8
            | D::Int16
            | D::Int32
            | D::Int64
            | D::UInt8
            | D::UInt16
            | D::UInt32 => Builder::Integer(vec![]),
            D::UInt64
            | D::Float16
            | D::Float32
            | D::Float64
            | D::Decimal32(..)
            | D::Decimal64(..)
            | D::Decimal128(..)
            | D::Null => Builder::Float(vec![]),
            D::Utf8 | D::LargeUtf8 | D::Utf8View => Builder::text(),
            D::Dictionary(_, v) if matches!(**v, D::Utf8 | D::LargeUtf8 | D::Utf8View) => {
                Builder::text()
            }
            D::Date32 => date(0, false),
            D::Date64 => date(1000, false),
            D::Timestamp(unit, _) => date(
                match unit {
                    TimeUnit::Second => 1,
                    TimeUnit::Millisecond => 1_000,
                    TimeUnit::Microsecond => 1_000_000,
                    TimeUnit::Nanosecond => 1_000_000_000,
                },
                true,
            ),
            _ => Builder::Unsupported {
                rows: 0,
                type_name: t.to_string(),
            },
        }
    }

    fn text() -> Builder {
        Builder::Text {
            codes: vec![],
            index: HashMap::new(),
            values: vec![],
        }
    }

    /// Appends one batch's values of the column (of the type this builder was made for).
    fn push(&mut self, a: &dyn Array) {
        use DataType as D;
        match self {
            Builder::Unsupported { rows, .. } => *rows += a.len(),
            Builder::Integer(out) => match a.data_type() {
                D::Boolean => out.extend(a.as_boolean().iter().map(|v| v.map(i64::from))),
                D::Int8 => ints::<Int8Type>(out, a),
                D::Int16 => ints::<Int16Type>(out, a),
                D::Int32 => ints::<Int32Type>(out, a),
                D::Int64 => ints::<Int64Type>(out, a),
                D::UInt8 => ints::<UInt8Type>(out, a),
                D::UInt16 => ints::<UInt16Type>(out, a),
                D::UInt32 => ints::<UInt32Type>(out, a),
                t => unreachable!("an integer builder for {t}"),
            },
            Builder::Float(out) => match a.data_type() {
                D::UInt64 => floats::<UInt64Type>(out, a, |v| v as f64),
                D::Float16 => floats::<Float16Type>(out, a, |v| v.to_f64()),
                D::Float32 => floats::<Float32Type>(out, a, f64::from),
                D::Float64 => floats::<Float64Type>(out, a, |v| v),
                D::Decimal32(_, s) => {
                    let scale = 10f64.powi(i32::from(*s));
                    floats::<Decimal32Type>(out, a, |v| f64::from(v) / scale)
                }
                D::Decimal64(_, s) => {
                    let scale = 10f64.powi(i32::from(*s));
                    floats::<Decimal64Type>(out, a, |v| v as f64 / scale)
                }
                D::Decimal128(_, s) => {
                    let scale = 10f64.powi(i32::from(*s));
                    floats::<Decimal128Type>(out, a, |v| v as f64 / scale)
                }
                D::Null => out.extend(std::iter::repeat_n(None, a.len())),
                t => unreachable!("a float builder for {t}"),
            },
            Builder::Text {
                codes,
                index,
                values,
            } => {
                let mut code = |s: Option<&str>| s.map(|s| intern(index, values, s));
                match a.as_any_dictionary_opt() {
                    Some(dict) => {
                        // The batch's dictionary as our codes, once; then each row's key.
                        let batch: Vec<Option<u32>> =
                            strings(dict.values().as_ref()).map(&mut code).collect();
                        let keys = dict.keys();
                        codes.extend(
                            dict.normalized_keys()
                                .into_iter()
                                .enumerate()
                                .map(|(i, k)| if keys.is_null(i) { None } else { batch[k] }),
                        );
                    }
                    None => codes.extend(strings(a).map(code)),
                }
            }
            Builder::Date {
                seconds,
                per_second,
                ..
            } => {
                let n = *per_second;
                match a.data_type() {
                    D::Date32 => seconds.extend(
                        a.as_primitive::<Date32Type>()
                            .iter()
                            .map(|v| v.map(|d| i64::from(d) * 86_400)),
                    ),
                    D::Date64 => dates::<Date64Type>(seconds, a, n),
                    D::Timestamp(TimeUnit::Second, _) => {
                        dates::<TimestampSecondType>(seconds, a, n)
                    }
                    D::Timestamp(TimeUnit::Millisecond, _) => {
                        dates::<TimestampMillisecondType>(seconds, a, n)
                    }
                    D::Timestamp(TimeUnit::Microsecond, _) => {
                        dates::<TimestampMicrosecondType>(seconds, a, n)
                    }
                    D::Timestamp(TimeUnit::Nanosecond, _) => {
                        dates::<TimestampNanosecondType>(seconds, a, n)
                    }
                    t => unreachable!("a date builder for {t}"),
                }
            }
        }
    }

    fn finish(self) -> RawColumn {
        match self {
            Builder::Float(v) => RawColumn::Float(v),
            Builder::Integer(v) => RawColumn::Integer(v),
            Builder::Text { codes, values, .. } => RawColumn::Text { codes, values },
            Builder::Date { seconds, time, .. } => RawColumn::Date { seconds, time },
            Builder::Unsupported { rows, type_name } => RawColumn::Unsupported { rows, type_name },
        }
    }
}

/// The code of string `s`, given one the first time it is seen.
fn intern(index: &mut HashMap<String, u32>, values: &mut Vec<String>, s: &str) -> u32 {
    if let Some(&c) = index.get(s) {
        return c;
    }
    let c = values.len() as u32;
    index.insert(s.to_string(), c);
    values.push(s.to_string());
    c
}

/// The values of a string array, whichever of Arrow's three string layouts it has.
fn strings(a: &dyn Array) -> Box<dyn Iterator<Item = Option<&str>> + '_> {
    match a.data_type() {
        DataType::Utf8 => Box::new(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => Box::new(a.as_string::<i64>().iter()),
        DataType::Utf8View => Box::new(a.as_string_view().iter()),
        t => unreachable!("strings of {t}"),
    }
}

fn ints<T: ArrowPrimitiveType>(out: &mut Vec<Option<i64>>, a: &dyn Array)
where
    T::Native: Into<i64>,
{
    let a: &PrimitiveArray<T> = a.as_primitive();
    out.extend(a.iter().map(|v| v.map(Into::into)));
}

fn floats<T: ArrowPrimitiveType>(
    out: &mut Vec<Option<f64>>,
    a: &dyn Array,
    f: impl Fn(T::Native) -> f64,
) {
    let a: &PrimitiveArray<T> = a.as_primitive();
    out.extend(a.iter().map(|v| v.map(&f)));
}

fn dates<T: ArrowPrimitiveType<Native = i64>>(
    out: &mut Vec<Option<i64>>,
    a: &dyn Array,
    per_second: i64,
) {
    let a: &PrimitiveArray<T> = a.as_primitive();
    out.extend(a.iter().map(|v| v.map(|v| v.div_euclid(per_second))));
}
