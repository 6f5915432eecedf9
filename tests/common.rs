//! Helpers shared by the integration tests: reading a lake back and finding Python.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Int8Type, Int64Type, TimestampMicrosecondType, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// One row of the `prices` table, with the Hive partition values from its path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LakeRow {
    pub(crate) market: String,
    pub(crate) location: String,
    pub(crate) product: String,
    pub(crate) interval_start: i64,
    pub(crate) interval_end: i64,
    pub(crate) price: i128,
    pub(crate) native_price: i128,
    pub(crate) currency: String,
    pub(crate) native_currency: String,
    pub(crate) published_at: i64,
    pub(crate) diff: i64,
    pub(crate) source: String,
    pub(crate) file: String,
    pub(crate) line: i64,
}

/// Every file under `dir`, recursively, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&next) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Every committed `*.parquet` file under `dir`, recursively, sorted.
pub(crate) fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "parquet"))
        .collect()
}

/// Files left under `dir` that are not committed Parquet files (temporaries).
pub(crate) fn stray_files(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            !name.ends_with(".parquet") || name.starts_with('.')
        })
        .collect()
}

fn partition(path: &Path, name: &str) -> String {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_string))
        .unwrap_or_default()
}

fn batches(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .map(|batch| batch.unwrap())
        .collect()
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    arrow_cast_to_strings(column.as_ref())
}

fn arrow_cast_to_strings(column: &dyn Array) -> Vec<String> {
    match column.data_type() {
        DataType::Utf8 => column
            .as_string::<i32>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
        DataType::LargeUtf8 => column
            .as_string::<i64>()
            .iter()
            .map(|v| v.unwrap_or_default().to_string())
            .collect(),
        DataType::Dictionary(_, _) => {
            let dictionary = column.as_any_dictionary();
            let values = arrow_cast_to_strings(dictionary.values().as_ref());
            dictionary
                .normalized_keys()
                .into_iter()
                .map(|k| values[k].clone())
                .collect()
        }
        other => panic!("not a string column: {other:?}"),
    }
}

fn integers(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    match column.data_type() {
        DataType::Int8 => column
            .as_primitive::<Int8Type>()
            .iter()
            .map(|v| i64::from(v.unwrap_or(0)))
            .collect(),
        DataType::Int64 => column
            .as_primitive::<Int64Type>()
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect(),
        DataType::UInt64 => column
            .as_primitive::<UInt64Type>()
            .iter()
            .map(|v| v.unwrap_or(0) as i64)
            .collect(),
        DataType::Timestamp(_, _) => column
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .map(|v| v.unwrap_or(0))
            .collect(),
        other => panic!("column {name} is {other:?}"),
    }
}

fn decimals(batch: &RecordBatch, name: &str) -> Vec<i128> {
    let column = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    assert_eq!(column.data_type(), &DataType::Decimal128(18, 6), "{name}");
    column
        .as_primitive::<Decimal128Type>()
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect()
}

/// Every row of `<lake>/prices`, read with the parquet crate.
pub(crate) fn read_prices(lake: &Path) -> Vec<LakeRow> {
    let mut rows = Vec::new();
    for path in parquet_files(&lake.join("prices")) {
        let market = partition(&path, "market");
        for batch in batches(&path) {
            let location = strings(&batch, "location");
            let product = strings(&batch, "product");
            let currency = strings(&batch, "currency");
            let native_currency = strings(&batch, "native_currency");
            let source = strings(&batch, "source");
            let file = strings(&batch, "file");
            let interval_start = integers(&batch, "interval_start");
            let interval_end = integers(&batch, "interval_end");
            let published_at = integers(&batch, "published_at");
            let diff = integers(&batch, "diff");
            let line = integers(&batch, "line");
            let price = decimals(&batch, "price");
            let native_price = decimals(&batch, "native_price");
            for i in 0..batch.num_rows() {
                rows.push(LakeRow {
                    market: market.clone(),
                    location: location[i].clone(),
                    product: product[i].clone(),
                    interval_start: interval_start[i],
                    interval_end: interval_end[i],
                    price: price[i],
                    native_price: native_price[i],
                    currency: currency[i].clone(),
                    native_currency: native_currency[i].clone(),
                    published_at: published_at[i],
                    diff: diff[i],
                    source: source[i].clone(),
                    file: file[i].clone(),
                    line: line[i],
                });
            }
        }
    }
    rows
}

/// One row of `<lake>/rejects`.
#[derive(Clone, Debug)]
pub(crate) struct RejectRow {
    pub(crate) source: String,
    pub(crate) file: String,
    pub(crate) line: i64,
    pub(crate) reason: String,
    pub(crate) diff: i64,
}

/// Every row of `<lake>/rejects`.
pub(crate) fn read_rejects(lake: &Path) -> Vec<RejectRow> {
    let mut rows = Vec::new();
    for path in parquet_files(&lake.join("rejects")) {
        let source = partition(&path, "source");
        for batch in batches(&path) {
            let file = strings(&batch, "file");
            let reason = strings(&batch, "reason");
            let line = integers(&batch, "line");
            let diff = integers(&batch, "diff");
            for i in 0..batch.num_rows() {
                rows.push(RejectRow {
                    source: source.clone(),
                    file: file[i].clone(),
                    line: line[i],
                    reason: reason[i].clone(),
                    diff: diff[i],
                });
            }
        }
    }
    rows
}

/// Net content: the rows whose diffs sum to non-zero, with that sum.
pub(crate) fn net_content(rows: &[LakeRow]) -> BTreeMap<LakeRow, i64> {
    let mut net: BTreeMap<LakeRow, i64> = BTreeMap::new();
    for row in rows {
        let mut key = row.clone();
        key.diff = 0;
        *net.entry(key).or_default() += row.diff;
    }
    net.retain(|_, count| *count != 0);
    net
}

/// The project's Python with duckdb and pyarrow, made by `scripts/test` (or $GRIDFLOW_PYTHON).
pub(crate) fn python() -> PathBuf {
    if let Ok(python) = std::env::var("GRIDFLOW_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run the tests with scripts/test, which creates it (duckdb, pyarrow, polars)",
        venv.display()
    );
    venv
}

/// Runs a Python script with the project's Python (`python()`) and `args`, asserts it
/// succeeded, and returns its standard output.
pub(crate) fn python_stdout(script: &str, args: &[&Path]) -> String {
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs the gridflow binary in the repository root with extra environment.
pub(crate) fn gridflow(args: &[&str], environment: &[(&str, &Path)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gridflow"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, value) in environment {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// Microseconds since the epoch of an RFC 3339 instant.
pub(crate) fn micros(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_microsecond()
}
