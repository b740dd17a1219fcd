//! `tradeoff report`: the cell table of one or more results files, as text, Markdown or CSV.
//! (The HTML report with plots is a later issue.)

use anyhow::Result;
use tradeoff_core::Error;

use crate::cli::{ReportArgs, ReportFormat};
use crate::common::read_results;

pub fn report(args: ReportArgs) -> Result<u8> {
    let mut cells = Vec::new();
    for f in &args.files {
        cells.extend(read_results(f)?);
    }
    let batch_sizes = tradeoff_report::batch_sizes_of(&cells);
    let (text, name) = match args.format {
        ReportFormat::Text => (tradeoff_report::table(&cells, &batch_sizes), "report.txt"),
        ReportFormat::Md => (
            tradeoff_report::markdown_table(&cells, &batch_sizes),
            "report.md",
        ),
        ReportFormat::Csv => (tradeoff_report::cells_csv(&cells), "cells.csv"),
    };
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::write(&path, e))?;
            println!("report    {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}
