//! The `forecast` operator end to end: a prices-only model trained by `gridflow train` on
//! a 56-day slice of the EPF NP file, then a pipeline that reads the same file as a market
//! source (`epf_csv`), normalizes it and forecasts it, on two workers, into the lake. The
//! forecasts DuckDB reads back must be the model's own day-ahead forecasts
//! (`TrainedModel::predict`, the `gridflow eval` path) for every day with a full week
//! before it, to the micro-unit.

use std::path::{Path, PathBuf};

use gridflow_forecast::{DeviceChoice, EpfDataset, TrainedModel};

use crate::common::{gridflow, micros, python_stdout};

const SLICE: &str = "operators/forecast/tests/data/NP-2013-slice.csv";

/// Totals, then every row as `issued_at interval_start horizon median lower upper diff`.
const CHECK: &str = r#"
import duckdb, sys
lake = sys.argv[1]
duckdb.sql("SET enable_progress_bar = false")
forecasts = f"read_parquet('{lake}/forecasts/**/*.parquet', hive_partitioning = true)"
print(*duckdb.sql(f"""
    SELECT count(*), sum(diff), count(DISTINCT issued_at), any_value(market),
           any_value(location), any_value(product), any_value(currency), any_value(model),
           count(*) FILTER (WHERE NOT (lower_90 <= median AND median <= upper_90)),
           min(horizon_hours), max(horizon_hours),
           count(*) FILTER (WHERE interval_start - issued_at <> (horizon_hours - 1) * INTERVAL 1 HOUR)
    FROM {forecasts}
""").fetchall()[0])
for row in duckdb.sql(f"""
    SELECT strftime(issued_at, '%Y-%m-%dT%H:%M:%SZ'), strftime(interval_start, '%Y-%m-%dT%H:%M:%SZ'),
           horizon_hours, CAST(median * 1000000 AS BIGINT), CAST(lower_90 * 1000000 AS BIGINT),
           CAST(upper_90 * 1000000 AS BIGINT), diff
    FROM {forecasts} ORDER BY interval_start
""").fetchall():
    print(*row)
"#;

const TINY: &str = r#"{
  "model": { "d_model": 16, "n_heads": 2, "n_layers": 1, "d_ff": 32 },
  "split": { "test_days": 7, "validation_days": 7 },
  "max_epochs": 8, "batch_size": 8, "ensemble": 2
}"#;

/// Trains a tiny model ([`TINY`], `ensemble` networks) on the slice with `gridflow train`
/// and extra `options`, into `temp/folder`.
fn train_tiny(temp: &Path, folder: &str, options: &[&str], ensemble: usize) -> PathBuf {
    let config = temp.join(format!("{folder}.json"));
    std::fs::write(
        &config,
        TINY.replace("\"ensemble\": 2", &format!("\"ensemble\": {ensemble}")),
    )
    .unwrap();
    let model = temp.join(folder);
    let mut args = vec!["train", "--epf", SLICE, "--no-progress"];
    args.extend_from_slice(options);
    let (config, folder) = (config.display().to_string(), model.display().to_string());
    args.extend_from_slice(&["--config", &config, "--model", &folder]);
    let trained = gridflow(&args, &[]);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    model
}

/// The slice read as a market source, normalized, forecast by `model` on CET days and
/// written (with `sink_inputs`) to `lake`: the pipeline file's text.
fn pipeline(model: &Path, sink_inputs: &str, lake: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    format!(
        r#"
[pipeline]
name = "forecast-test"
base_currency = "EUR"

[sources.np]
kind = "files"
format = "epf_csv"
path = "{slice}"

[operators.normalize]
kind = "normalize"
inputs = ["np"]

[operators.forecast]
kind = "forecast"
inputs = ["normalize"]
model = "{model}"
clock_offset_hours = 1

[sinks.lake]
kind = "parquet"
inputs = [{sink_inputs}]
path = "{lake}"
"#,
        slice = root.join(SLICE).display(),
        model = model.display(),
        lake = lake.display()
    )
}

/// Runs the pipeline text on `workers` workers.
fn run(temp: &Path, text: &str, workers: &str) {
    let file = temp.join("forecast.toml");
    std::fs::write(&file, text).unwrap();
    let output = gridflow(
        &[
            "run",
            file.to_str().unwrap(),
            "--no-progress",
            "--workers",
            workers,
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_forecast_operator_writes_the_models_forecasts_to_the_lake() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let model = train_tiny(temp.path(), "np-tiny", &["--prices-only"], 2);
    let lake = temp.path().join("lake");
    run(
        temp.path(),
        &pipeline(&model, r#""normalize", "forecast""#, &lake),
        "2",
    );
    let text = python_stdout(CHECK, &[&lake]);
    let mut lines = text.lines();
    let totals: Vec<&str> = lines.next().unwrap().split(' ').collect();
    // 56 days: days 7..=55 of the file and the day after it have a full week before them.
    assert_eq!(
        totals,
        [
            "1200",
            "1200",
            "50",
            "NORDPOOL",
            "SYSTEM",
            "DAY_AHEAD_HOURLY",
            "EUR",
            "np-tiny",
            "0",
            "1",
            "24",
            "0"
        ],
        "{text}"
    );

    // The same forecasts from the model directly, on the file as the benchmark reads it.
    let data = EpfDataset::from_csv(root.join(SLICE)).unwrap();
    let model = TrainedModel::load(&model, DeviceChoice::Cpu).unwrap();
    let norm = &model.meta().normalization;
    let expected = model.predict(&data, 7..56).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(' ').collect()).collect();
    assert_eq!(rows.len(), 1200);
    let exact = |value: f64| (value * 1e6).round() as i64;
    for (index, hour) in expected.iter().enumerate() {
        let row = &rows[index];
        let day = 7 + index / 24;
        // Day d of the file starts at its midnight in CET: 2013-01-01 is day 0.
        let issued = micros("2012-12-31T23:00:00Z") + day as i64 * 86_400_000_000;
        assert_eq!(micros(row[0]), issued, "row {index}");
        assert_eq!(micros(row[1]), issued + (index % 24) as i64 * 3_600_000_000);
        assert_eq!(row[2], (index % 24 + 1).to_string());
        assert_eq!(
            row[3],
            exact(hour.median(norm)).to_string(),
            "median, row {index}"
        );
        assert_eq!(row[4], exact(hour.quantile(norm, 0.05)).to_string());
        assert_eq!(row[5], exact(hour.quantile(norm, 0.95)).to_string());
        assert_eq!(row[6], "1", "a backfill retracts nothing");
    }
    // The last day: the forecast for the day after the file, issued at its end.
    assert_eq!(
        micros(rows[1199][0]),
        micros("2012-12-31T23:00:00Z") + 56 * 86_400_000_000
    );
}

#[test]
fn a_model_with_exogenous_inputs_is_refused_at_validation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let model = train_tiny(temp.path(), "with-exogenous", &[], 1);
    let pipeline = temp.path().join("bad.toml");
    let text = format!(
        "[sources.np]\nkind = \"files\"\nformat = \"epf_csv\"\npath = \"{}\"\n\n\
         [operators.normalize]\nkind = \"normalize\"\ninputs = [\"np\"]\n\n\
         [operators.forecast]\nkind = \"forecast\"\ninputs = [\"normalize\"]\nmodel = \"{}\"\n\
         clock_offset_hours = 30\n\n\
         [sinks.lake]\nkind = \"parquet\"\ninputs = [\"forecast\"]\npath = \"{}\"\n",
        root.join(SLICE).display(),
        model.display(),
        temp.path().join("lake").display()
    );
    std::fs::write(&pipeline, text).unwrap();
    let output = gridflow(&["validate", pipeline.to_str().unwrap()], &[]);
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr).to_string()
        + &String::from_utf8_lossy(&output.stdout);
    // Both mistakes at once, each at its line.
    assert!(errors.contains("bad.toml:13:"), "{errors}");
    assert!(errors.contains("trained without --prices-only"), "{errors}");
    assert!(errors.contains("bad.toml:14:"), "{errors}");
    assert!(errors.contains("`clock_offset_hours` = 30"), "{errors}");
}

/// Rows of the forecasts table as (issued_at, interval_start, horizon, median) micro-units.
const ROWS: &str = r#"
import duckdb, sys
duckdb.sql("SET enable_progress_bar = false")
for row in duckdb.sql(f"""
    SELECT strftime(issued_at, '%Y-%m-%dT%H:%M:%SZ'), strftime(interval_start, '%Y-%m-%dT%H:%M:%SZ'),
           horizon_hours, CAST(median * 1000000 AS BIGINT), diff
    FROM read_parquet('{sys.argv[1]}/forecasts/**/*.parquet', hive_partitioning = true)
    ORDER BY issued_at, interval_start
""").fetchall():
    print(*row)
"#;

#[test]
fn a_six_hour_model_forecasts_four_times_a_day_like_the_model_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let model = train_tiny(
        temp.path(),
        "np-6h",
        &["--prices-only", "--horizon", "6"],
        1,
    );
    let lake = temp.path().join("lake");
    run(temp.path(), &pipeline(&model, r#""forecast""#, &lake), "1");
    let text = python_stdout(ROWS, &[&lake]);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();

    let data = EpfDataset::from_csv(root.join(SLICE)).unwrap();
    let model = TrainedModel::load(&model, DeviceChoice::Cpu).unwrap();
    let norm = &model.meta().normalization;
    let issues = model.issues(7..56);
    let expected = model.predict(&data, 7..56).unwrap();
    // Every 6 hours from the 8th day's midnight (CET) to the last 6 hours of the file, and
    // once more at the hour after the file.
    assert_eq!(issues.len(), 49 * 4);
    assert_eq!(rows.len(), (issues.len() + 1) * 6, "{text}");
    let exact = |value: f64| (value * 1e6).round() as i64;
    for (index, hour) in expected.iter().enumerate() {
        let row = &rows[index];
        let issue = issues[index / 6];
        let issued = micros("2012-12-31T23:00:00Z") + issue as i64 * 3_600_000_000;
        assert_eq!(micros(row[0]), issued, "row {index}");
        assert_eq!(micros(row[1]), issued + (index % 6) as i64 * 3_600_000_000);
        assert_eq!(row[2], (index % 6 + 1).to_string());
        assert_eq!(
            row[3],
            exact(hour.median(norm)).to_string(),
            "median, row {index}"
        );
        assert_eq!(row[4], "1");
    }
}
