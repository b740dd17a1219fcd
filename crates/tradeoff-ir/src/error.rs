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

/// What a failed I/O call was doing: reading the user's input, or writing our output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoAction {
    Read,
    Write,
}

impl std::fmt::Display for IoAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IoAction::Read => "read",
            IoAction::Write => "write",
        })
    }
}

/// Whose side an error is on, which decides the command's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// An option, its value, or a suite file (exit 2).
    Usage,
    /// The input data: a file, row, column or value (exit 3).
    Data,
    /// Where results go: a directory that cannot be made, a full disk (exit 6).
    Output,
    /// A bug in tradeoff (exit 1).
    Internal,
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
        action: IoAction,
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
    /// The target failed: a device error, an upload or readback that did not complete.
    #[error("target {target}: {message}")]
    Target { target: String, message: String },
    /// The target cannot run this: a model family it has no form for, or no device for it
    /// on this machine. Recorded as `unsupported`, never as a failure.
    #[error("target {target}: {message}")]
    Unsupported { target: String, message: String },
    #[error("invalid model: {0}")]
    Model(String),
    /// A model file the user gave (`--model`) that cannot be read into the IR.
    #[error("{path}: {message}")]
    ModelFile { path: PathBuf, message: String },
}

impl Error {
    /// Reading `path` failed.
    pub fn read(path: &std::path::Path, e: std::io::Error) -> Self {
        Error::Io {
            action: IoAction::Read,
            path: path.to_path_buf(),
            cause: IoError(e),
        }
    }

    /// Writing `path` failed.
    pub fn write(path: &std::path::Path, e: std::io::Error) -> Self {
        Error::Io {
            action: IoAction::Write,
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

    /// Whose side the error is on. Every variant is named, so a new one has to be placed.
    pub fn blame(&self) -> Blame {
        match self {
            Error::Option { .. } | Error::Suite { .. } => Blame::Usage,
            Error::Io {
                action: IoAction::Write,
                ..
            } => Blame::Output,
            Error::Io {
                action: IoAction::Read,
                ..
            }
            | Error::Csv { .. }
            | Error::EmptyFile { .. }
            | Error::HeaderOnly { .. }
            | Error::RaggedRow { .. }
            | Error::DuplicateHeader { .. }
            | Error::UnknownColumn { .. }
            | Error::NotNumeric { .. }
            | Error::Missing { .. }
            | Error::UnseenLevel { .. }
            | Error::ColumnMismatch { .. }
            | Error::ModelFile { .. }
            | Error::Data { .. } => Blame::Data,
            // A candidate or target that fails where no record can hold the failure: what it
            // was given made it fail.
            Error::Candidate { .. } | Error::Target { .. } | Error::Unsupported { .. } => {
                Blame::Data
            }
            // A model or record we cannot serialize is ours.
            Error::Model(_) => Blame::Internal,
        }
    }
}
