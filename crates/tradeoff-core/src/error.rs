//! The one error type of `tradeoff-core`.
//!
//! Every variant names what the user has to look at: the file, the row (see [`Row`]), the
//! column, the option or the candidate.

use std::path::PathBuf;

/// An I/O error carried as data: displayed in our message, not chained as a source.
#[derive(Debug)]
pub struct IoError(pub std::io::Error);

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a data row is in its file, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// A text file's line, from 1: the header is row 1, the first data row row 2.
    Line(usize),
    /// A Parquet file's data row, from 1 over the whole file, and its row group, from 0 as
    /// pyarrow and parquet-tools number them.
    Parquet { row: usize, group: usize },
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Row::Line(n) => write!(f, "row {n}"),
            Row::Parquet { row, group } => write!(f, "row {row} (row group {group})"),
        }
    }
}

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with the place it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The cause is part of the message and deliberately not a `#[source]`, so error chains
    // (`{:#}`) do not print it twice.
    #[error("cannot {action} {path}: {cause}")]
    Io {
        action: &'static str,
        path: PathBuf,
        cause: IoError,
    },
    #[error("{path}: {message}")]
    Csv { path: PathBuf, message: String },
    #[error("{path}: the file is empty (a header row is required)")]
    EmptyFile { path: PathBuf },
    #[error("{path}: the file has a header but no data rows")]
    HeaderOnly { path: PathBuf },
    #[error("{path}: row {row} has {found} fields, the header has {expected}")]
    RaggedRow {
        path: PathBuf,
        row: usize,
        expected: usize,
        found: usize,
    },
    #[error(
        "{path}: column name {name:?} appears twice in the header (columns {first} and {second})"
    )]
    DuplicateHeader {
        path: PathBuf,
        name: String,
        first: usize,
        second: usize,
    },
    #[error("{path}: no column named {name:?}{suggestion}; columns are: {columns}")]
    UnknownColumn {
        path: PathBuf,
        name: String,
        suggestion: String,
        columns: String,
    },
    #[error("{path}: {row}, column {column:?}: {value:?} is not a number (the column is numeric in {reference})")]
    NotNumeric {
        path: PathBuf,
        row: Row,
        column: String,
        value: String,
        reference: String,
    },
    #[error(
        "{path}: missing or non-finite values ({counts}); use --missing drop|impute to accept them"
    )]
    Missing { path: PathBuf, counts: String },
    #[error(
        "{path}: {row}, column {column:?}: value {value:?} was not seen in the training data (refused by --unseen-levels error)"
    )]
    UnseenLevel {
        path: PathBuf,
        row: Row,
        column: String,
        value: String,
    },
    #[error("{path}: columns differ from the training data: {detail}")]
    ColumnMismatch { path: PathBuf, detail: String },
    #[error("{what}: {detail}")]
    Data { what: String, detail: String },
    #[error("invalid value {value:?} for {option}: {reason}")]
    Option {
        option: String,
        value: String,
        reason: String,
    },
    /// A suite file (`run --suite`) that cannot be used; `at` is `line:column` where known.
    #[error("{path}:{at}: {message}")]
    Suite {
        path: PathBuf,
        at: String,
        message: String,
    },
    #[error("candidate {candidate}: {message}")]
    Candidate { candidate: String, message: String },
    #[error("target {target}: {message}")]
    Target { target: String, message: String },
    #[error("invalid model: {0}")]
    Model(String),
}

impl Error {
    /// Reading `path` failed.
    pub fn read(path: &std::path::Path, e: std::io::Error) -> Self {
        Error::Io {
            action: "read",
            path: path.to_path_buf(),
            cause: IoError(e),
        }
    }

    /// Writing `path` failed.
    pub fn write(path: &std::path::Path, e: std::io::Error) -> Self {
        Error::Io {
            action: "write",
            path: path.to_path_buf(),
            cause: IoError(e),
        }
    }

    /// An `Error::Option` from anything displayable.
    pub fn option(option: &str, value: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Option {
            option: option.to_string(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// Whether the error is about the user's data (exit code 3) rather than an option or a
    /// suite file (2).
    pub fn is_data_error(&self) -> bool {
        !matches!(self, Error::Option { .. } | Error::Suite { .. })
    }
}
