//! `tradeoff report`: the cell table of one or more results files, as text, Markdown or CSV.
//! (The HTML report with plots is a later issue.)

use anyhow::Result;
use tradeoff_core::record;
use tradeoff_core::Error;

use crate::cli::{ReportArgs, ReportFormat};

pub fn report(args: ReportArgs) -> Result<u8> {
    let mut cells = Vec::new();
    for f in &args.files {
        let c = record::read_cells(f)?;
        if c.is_empty() {
            return Err(Error::Data {
                what: f.display().to_string(),
                detail: "no cell records (is it a results.jsonl from `tradeoff run` or `merge`?)"
                    .into(),
            }
            .into());
        }
        cells.extend(c);
    }
    let mut batch_sizes: Vec<usize> = cells
        .iter()
        .map(|c| c.batch_size)
        .filter(|b| *b > 0)
        .collect();
    batch_sizes.sort_unstable();
    batch_sizes.dedup();
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
