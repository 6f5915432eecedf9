//! Helpers shared by gridflow-forecast's test files (each file uses some of them).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gridflow_forecast::EpfDataset;
use gridflow_forecast::data::HOURS_PER_DAY;
use serde_json::Value;

/// The repository's root.
pub(crate) fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A JSON array of numbers.
pub(crate) fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// Runs `scripts/<script> --out <file>` with the project's `.venv` Python (or
/// `GRIDFLOW_PYTHON`), and returns the file it wrote.
pub(crate) fn fresh_reference(script: &str) -> PathBuf {
    let python = std::env::var("GRIDFLOW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repository().join(".venv/bin/python"));
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{script}.json"));
    let output = std::process::Command::new(&python)
        .arg(repository().join("scripts").join(script))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap_or_else(|error| panic!("{} (run scripts/setup-python): {error}", python.display()));
    assert!(
        output.status.success(),
        "scripts/{script} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// `data` with every price from day `from` on replaced by `value`.
pub(crate) fn with_prices_replaced(data: &EpfDataset, from: usize, value: f64) -> EpfDataset {
    let mut prices = data.prices().to_vec();
    for p in &mut prices[from * HOURS_PER_DAY..] {
        *p = value;
    }
    EpfDataset::from_columns(
        data.name(),
        data.columns().clone(),
        data.timestamps().to_vec(),
        prices,
        [data.exogenous(0).to_vec(), data.exogenous(1).to_vec()],
    )
    .unwrap()
}
