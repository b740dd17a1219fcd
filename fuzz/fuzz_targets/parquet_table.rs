//! The Parquet reader: any bytes written to a file and read as a table, then typed with
//! its last column as the target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tradeoff_core::data::{self, CsvOptions, MissingPolicy};

fuzz_target!(|bytes: &[u8]| {
    let path = std::env::temp_dir().join(format!("tradeoff-fuzz-{}.parquet", std::process::id()));
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let Ok(table) = tradeoff_parquet::read_parquet(&path) else {
        return;
    };
    let Some(target) = table.column_names().last().cloned() else {
        return;
    };
    let mut opts = CsvOptions::new(&target);
    opts.missing = MissingPolicy::Impute;
    let _ = data::load_table(&table, &opts);
});
