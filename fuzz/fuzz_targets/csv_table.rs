//! The CSV loader: any bytes, as a training file (its last column the target, each missing
//! policy) and as a held-out file against it. Errors are fine; panics are not.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tradeoff_data::data::{self, CsvOptions, MissingPolicy, UnseenPolicy};

fuzz_target!(|bytes: &[u8]| {
    let Some((&first, rest)) = bytes.split_first() else {
        return;
    };
    let path = Path::new("fuzz.csv");
    let delimiter = [b',', b';', b'\t'][usize::from(first) % 3];
    let Ok(table) = data::read_csv_bytes(path, rest, delimiter) else {
        return;
    };
    let Some(target) = table.column_names().last().cloned() else {
        return;
    };
    let mut opts = CsvOptions::new(&target);
    opts.delimiter = delimiter;
    opts.missing = [MissingPolicy::Reject, MissingPolicy::Drop, MissingPolicy::Impute]
        [usize::from(first / 3) % 3];
    opts.max_levels = 1 + usize::from(first / 9) % 8;
    if let Ok(train) = data::load_table(&table, &opts) {
        let _ = data::load_table_like(&table, &train, UnseenPolicy::Ignore);
        let _ = data::load_table_like(&table, &train, UnseenPolicy::Error);
        let _ = data::numeric_column(&table, &target);
    }
});
