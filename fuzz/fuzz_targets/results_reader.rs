//! The results reader: any text as a `results.jsonl`, every line decoded as a cell record.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tradeoff_core::record::{self, CellRecord};

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let path = Path::new("fuzz.jsonl");
    let mut damaged = Vec::new();
    if let Ok(records) = record::parse_records(path, text, &mut damaged) {
        for (line, v) in records {
            let _ = record::decode_cell(path, line, v.clone());
            let _ = record::decode::<CellRecord>(path, line, v);
        }
    }
});
