#!/usr/bin/env bash
# Coverage-guided fuzzing of the input readers (not part of CI): the CSV loader, the Parquet
# reader, the results reader, the suite parser and the model readers (`run --model`), each for SECONDS (default 300), with cargo fuzz on the
# nightly toolchain. Seeds come from the test fixtures; a crash leaves its input under
# fuzz/artifacts/<target>/ (make it a regression test). Prints executions per target.
#
#   cargo install cargo-fuzz        # once
#   bash scripts/fuzz.sh 300
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
targets="${TARGETS:-csv_table parquet_table results_reader suite_parser model_import}"
mkdir -p fuzz/corpus/csv_table fuzz/corpus/parquet_table fuzz/corpus/results_reader fuzz/corpus/suite_parser \
  fuzz/corpus/model_import
cp suites/*.toml fuzz/corpus/suite_parser/
# Seeds: a CSV with text, numbers, dates and missing values; the Parquet fixtures; records.
printf ',a,plan,when,y\n1,x,2024-03-05,0\n2,,2024-03-06T10:00,1\nNA,y,2024-03-07,0\n' > fuzz/corpus/csv_table/seed.csv
cp tests/fixtures/parquet/*.parquet fuzz/corpus/parquet_table/
cp tests/fixtures/import/*.json tests/fixtures/import/*.txt tests/fixtures/import/*.onnx fuzz/corpus/model_import/
for f in results/*/results.jsonl; do
  head -c 20000 "$f" > "fuzz/corpus/results_reader/$(echo "$f" | tr / _)" 2>/dev/null || true
done
for t in $targets; do
  echo "== $t: ${seconds}s"
  (cd fuzz && cargo +nightly fuzz run "$t" -- -max_total_time="$seconds" -max_len=65536 \
      -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|ERROR|panicked|Done" || true)
done
ls fuzz/artifacts/*/ 2>/dev/null | grep -v "^$" || echo "no crash artifacts"
