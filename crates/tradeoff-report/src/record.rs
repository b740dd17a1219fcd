//! Every kind of record a results file holds, as one tagged enum ([`Record`], `kind` in
//! the file), with the records that are not cells or curve points: the recommendation's
//! envelope and the stream records. Writers write a [`Record`] (the only
//! [`Tagged`] type, so no line lacks its kind); readers decode one and match on its variant.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use tradeoff_core::record::{self, CellRecord, CurvePoint, Tagged};
use tradeoff_data::protocol::Params;
use tradeoff_ir::Result;

use crate::cost::Recommendation;
use crate::curve::CurveFitRecord;

/// One line of a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// One (candidate, target, batch size) of `run` or `merge`.
    Cell(Box<CellRecord>),
    /// One (candidate, training size) of `curve`.
    CurvePoint(Box<CurvePoint>),
    /// One candidate's learning-curve fit.
    CurveFit(Box<CurveFitRecord>),
    /// The end of a `run` or `merge`.
    Recommendation(Box<RecommendationRecord>),
    /// One update of `stream`.
    StreamStep(Box<StreamStep>),
    /// One online candidate of `stream`, whole.
    StreamSummary(Box<StreamSummary>),
    /// One (candidate, target) of `run --scenarios offline,server`.
    Serving(Box<tradeoff_core::record::ServingRecord>),
}

impl Tagged for Record {}

impl Record {
    /// The run that wrote it (`merged(N)` or `merged` for a merge's).
    pub fn run_id(&self) -> &str {
        match self {
            Record::Cell(r) => &r.run_id,
            Record::CurvePoint(r) => &r.run_id,
            Record::CurveFit(r) => &r.run_id,
            Record::Recommendation(r) => &r.run_id,
            Record::StreamStep(r) => &r.run_id,
            Record::StreamSummary(r) => &r.run_id,
            Record::Serving(r) => &r.run_id,
        }
    }
}

/// The recommendation as its record: the run it ends, then the recommendation's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendationRecord {
    pub schema_version: u32,
    pub run_id: String,
    #[serde(flatten)]
    pub recommendation: Recommendation,
}

/// One update of `tradeoff stream`: the online model on the new batch before learning from
/// it, then on the test part after, against its batch counterpart refit on every row seen.
/// Scores that are not finite are left out and `absent` says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamStep {
    pub schema_version: u32,
    pub run_id: String,
    pub candidate: String,
    pub counterpart: String,
    pub primary_metric: String,
    /// 1-based.
    pub update: usize,
    pub batch_rows: usize,
    pub rows_seen: usize,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub prequential_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub holdout_score: Option<f64>,
    pub update_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retrain_holdout_score: Option<f64>,
    pub retrain_seconds: f64,
    pub online_params: Params,
    pub retrain_params: Params,
    pub data_hash: String,
    pub fold_hash: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub absent: BTreeMap<String, String>,
}

/// One online candidate of `tradeoff stream`: means over its updates and what keeping it
/// fresh costs per day. Values not finite or not known (no price) are left out, and
/// `absent` says why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamSummary {
    pub schema_version: u32,
    pub run_id: String,
    pub candidate: String,
    pub counterpart: String,
    pub primary_metric: String,
    pub updates: usize,
    pub initial_rows: usize,
    pub initial_fit_seconds: f64,
    pub mean_update_seconds: f64,
    pub mean_retrain_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub final_holdout_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub final_retrain_holdout_score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mean_prequential_score: Option<f64>,
    pub updates_per_day: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usd_per_hour: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub update_usd_per_day: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retrain_usd_per_day: Option<f64>,
    pub data_hash: String,
    pub fold_hash: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub absent: BTreeMap<String, String>,
}

/// Decodes one line read by [`record::read_records`]. A cell's latency histogram is checked
/// to read back (merge adds them), so a damaged one is named by file and line here.
pub fn decode(path: &Path, line: usize, v: serde_json::Value) -> Result<Record> {
    let r: Record = record::decode(path, line, v)?;
    if let Record::Cell(c) = &r {
        record::check_histogram(path, line, c)?;
    }
    Ok(r)
}

/// Every record of a results file, with its line; damaged lines are skipped and named in
/// `damaged`, a record that does not decode is an error naming the file and line.
pub fn read(path: &Path, damaged: &mut Vec<String>) -> Result<Vec<(usize, Record)>> {
    record::read_records(path, damaged)?
        .into_iter()
        .map(|(line, v)| Ok((line, decode(path, line, v)?)))
        .collect()
}

/// The cell records of a results file (the other kinds skipped).
pub fn read_cells(path: &Path, damaged: &mut Vec<String>) -> Result<Vec<CellRecord>> {
    Ok(read(path, damaged)?
        .into_iter()
        .filter_map(|(_, r)| match r {
            Record::Cell(c) => Some(*c),
            _ => None,
        })
        .collect())
}
