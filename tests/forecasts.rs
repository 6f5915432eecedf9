//! The `forecast` operator end to end: a model trained by `gridflow train` on a 56-day
//! slice of the EPF NP file, then a pipeline that reads the same file as a market source
//! (`epf_csv`, and `epf_exogenous_csv` for the load and wind forecasts of a model that reads
//! them), normalizes it and forecasts it, on two workers, into the lake. The forecasts
//! DuckDB reads back must be the model's own forecasts (`TrainedModel::predict`, the
//! `gridflow eval` path) for every day with a full week before it, to the micro-unit.

use std::path::{Path, PathBuf};

use gridflow_forecast::evaluate::evaluate_days;
use gridflow_forecast::{DeviceChoice, EpfDataset, TrainedModel};

use crate::common::{gridflow, micros, python_stdout};

pub(crate) const SLICE: &str = "operators/forecast/tests/data/NP-2013-slice.csv";

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

/// Trains a tiny model ([`TINY`], `ensemble` networks) on the slice (or, when `options`
/// name a `--lake`, on that) with `gridflow train` and extra `options`, into `temp/folder`.
pub(crate) fn train_tiny(temp: &Path, folder: &str, options: &[&str], ensemble: usize) -> PathBuf {
    let config = temp.join(format!("{folder}.json"));
    std::fs::write(
        &config,
        TINY.replace("\"ensemble\": 2", &format!("\"ensemble\": {ensemble}")),
    )
    .unwrap();
    let model = temp.join(folder);
    let mut args = vec!["train", "--no-progress"];
    if !options.contains(&"--lake") {
        args.extend_from_slice(&["--epf", SLICE]);
    }
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
pub(crate) fn run(temp: &Path, text: &str, workers: &str) {
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
    // Two members that cut the week into tokens of different sizes: the operator's
    // windows go through each member's own layout.
    let model = train_tiny(
        temp.path(),
        "np-tiny",
        &["--prices-only", "--member-patch-hours", "24,6"],
        2,
    );
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

    // The same forecasts from the model directly, on the file as the benchmark reads it:
    // `gridflow eval`'s, their intervals recalibrated day by day from the errors of the
    // earlier days (the model's `interval_window_days`), as the operator does.
    let data = EpfDataset::from_csv(root.join(SLICE)).unwrap();
    let model = TrainedModel::load(&model, DeviceChoice::Cpu).unwrap();
    assert_eq!(model.meta().config.member_patch_hours, [24, 6]);
    let norm = &model.meta().normalization;
    let expected = evaluate_days(&model, &data, 7..56).unwrap().forecasts;
    let fixed_scale = model.predict(&data, 7..56).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(' ').collect()).collect();
    assert_eq!(rows.len(), 1200);
    assert_eq!(expected.len(), 1176);
    let exact = |value: f64| (value * 1e6).round() as i64;
    let mut recalibrated = 0;
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
            exact(hour.forecast).to_string(),
            "median, row {index}"
        );
        assert_eq!(row[4], exact(hour.lower_90).to_string(), "row {index}");
        assert_eq!(row[5], exact(hour.upper_90).to_string(), "row {index}");
        let fixed = &fixed_scale[index];
        assert_eq!(exact(fixed.median(norm)), exact(hour.forecast));
        recalibrated += usize::from(exact(fixed.quantile(norm, 0.95)) != exact(hour.upper_90));
        assert_eq!(row[6], "1", "a backfill retracts nothing");
    }
    // From the second day on, the recalibration moved the intervals.
    assert!(recalibrated > 1100, "{recalibrated} intervals recalibrated");
    // The last day: the forecast for the day after the file, issued at its end.
    assert_eq!(
        micros(rows[1199][0]),
        micros("2012-12-31T23:00:00Z") + 56 * 86_400_000_000
    );
}

/// The slice's prices and its exogenous forecasts as quantities, forecast by `model` (which
/// reads both exogenous series) into `lake`: the pipeline file's text. `forecast_inputs`
/// and `exogenous` are the operator's.
fn exogenous_pipeline(model: &Path, forecast_inputs: &str, exogenous: &str, lake: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    exogenous_pipeline_from(&root.join(SLICE), model, forecast_inputs, exogenous, lake)
}

/// The slice's prices, normalized, and the exogenous forecasts of `exogenous_file` as
/// quantities: the sources and operators of a pipeline file.
pub(crate) fn history_components(exogenous_file: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    format!(
        r#"[sources.np]
kind = "files"
format = "epf_csv"
path = "{slice}"

[sources.np_exogenous]
kind = "files"
format = "epf_exogenous_csv"
path = "{exogenous_file}"

[operators.normalize]
kind = "normalize"
inputs = ["np"]

[operators.fundamentals]
kind = "fundamentals"
inputs = ["np_exogenous"]
"#,
        slice = root.join(SLICE).display(),
        exogenous_file = exogenous_file.display(),
    )
}

/// As [`exogenous_pipeline`], reading the exogenous forecasts from `exogenous_file`.
fn exogenous_pipeline_from(
    exogenous_file: &Path,
    model: &Path,
    forecast_inputs: &str,
    exogenous: &str,
    lake: &Path,
) -> String {
    format!(
        r#"{components}
[operators.forecast]
kind = "forecast"
inputs = [{forecast_inputs}]
model = "{model}"
clock_offset_hours = 1
{exogenous}

[sinks.lake]
kind = "parquet"
inputs = ["forecast"]
path = "{lake}"
"#,
        components = history_components(exogenous_file),
        model = model.display(),
        lake = lake.display()
    )
}

const NP_EXOGENOUS: &str = r#"exogenous = [
    { market = "NORDPOOL", series = "LOAD_FORECAST", location = "SYSTEM" },
    { market = "NORDPOOL", series = "WIND_POWER_FORECAST", location = "SYSTEM" },
]"#;

/// `gridflow validate` on `text`: its failure's messages.
fn refused(temp: &Path, text: &str) -> String {
    let pipeline = temp.join("bad.toml");
    std::fs::write(&pipeline, text).unwrap();
    let output = gridflow(&["validate", pipeline.to_str().unwrap()], &[]);
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).to_string() + &String::from_utf8_lossy(&output.stdout)
}

#[test]
fn a_model_with_exogenous_inputs_reads_them_from_the_pipeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let model = train_tiny(temp.path(), "np-exogenous", &[], 1);
    let lake = temp.path().join("lake");
    let inputs = r#""normalize", "fundamentals""#;
    run(
        temp.path(),
        &exogenous_pipeline(&model, inputs, NP_EXOGENOUS, &lake),
        "2",
    );
    let text = python_stdout(ROWS, &[&lake]);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
    let data = EpfDataset::from_csv(root.join(SLICE)).unwrap();
    let trained = TrainedModel::load(&model, DeviceChoice::Cpu).unwrap();
    assert!(trained.reads_exogenous());
    let norm = &trained.meta().normalization;
    // Days 7..=55: the day after the file has no load or wind forecasts, so no forecast.
    let expected = trained.predict(&data, 7..56).unwrap();
    assert_eq!(rows.len(), expected.len(), "{text}");
    assert_eq!(rows.len(), 49 * 24);
    let exact = |value: f64| (value * 1e6).round() as i64;
    for (index, hour) in expected.iter().enumerate() {
        let row = &rows[index];
        let issued = micros("2012-12-31T23:00:00Z") + (7 + index / 24) as i64 * 86_400_000_000;
        assert_eq!(micros(row[0]), issued, "row {index}");
        assert_eq!(micros(row[1]), issued + (index % 24) as i64 * 3_600_000_000);
        assert_eq!(
            row[3],
            exact(hour.median(norm)).to_string(),
            "median, row {index}"
        );
        assert_eq!(row[4], "1");
    }

    // Wind forecasts 10 % higher from the day after the first week on (the prices kept)
    // move the forecasts of the days whose windows read them, and only those.
    let text_of_slice = std::fs::read_to_string(root.join(SLICE)).unwrap();
    let mut windier = String::new();
    for (line, row) in text_of_slice.lines().enumerate() {
        let fields: Vec<&str> = row.split(',').collect();
        if line > 8 * 24 && fields.len() == 4 {
            let wind: f64 = fields[3].trim().parse().unwrap();
            windier.push_str(&format!(
                "{},{},{},{:.1}\n",
                fields[0],
                fields[1],
                fields[2],
                wind * 1.1
            ));
        } else {
            windier.push_str(row);
            windier.push('\n');
        }
    }
    let windier_file = temp.path().join("NP-windier.csv");
    std::fs::write(&windier_file, windier).unwrap();
    let other_lake = temp.path().join("windier");
    run(
        temp.path(),
        &exogenous_pipeline_from(&windier_file, &model, inputs, NP_EXOGENOUS, &other_lake),
        "1",
    );
    let other = python_stdout(ROWS, &[&other_lake]);
    let other: Vec<Vec<&str>> = other.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(other.len(), rows.len());
    // Day 7's window (days 0..=7) ends before the change (line 193 on, day 8's hour 0):
    // its forecasts stay; every later day's change.
    for (index, (row, windier)) in rows.iter().zip(&other).enumerate() {
        if index < 24 {
            assert_eq!(row, windier, "row {index}");
        } else {
            assert_eq!(row[..3], windier[..3], "row {index}");
        }
    }
    let moved = (24..rows.len())
        .filter(|&i| rows[i][3] != other[i][3])
        .count();
    assert!(moved > rows.len() * 9 / 10, "{moved} medians moved");
}

#[test]
fn a_model_with_exogenous_inputs_is_refused_without_them() {
    let temp = tempfile::tempdir().unwrap();
    let model = train_tiny(temp.path(), "with-exogenous", &[], 1);
    let lake = temp.path().join("lake");
    // No `exogenous` (line 22 names the model) and a bad clock (line 23), both at once.
    let text = exogenous_pipeline(&model, r#""normalize", "fundamentals""#, "", &lake)
        .replace("clock_offset_hours = 1", "clock_offset_hours = 30");
    let errors = refused(temp.path(), &text);
    assert!(errors.contains("bad.toml:22:"), "{errors}");
    assert!(
        errors.contains(
            "reads 2 exogenous series (Grid load forecast, Wind power forecast); \
             `exogenous` names 0"
        ),
        "{errors}"
    );
    assert!(errors.contains("bad.toml:23:"), "{errors}");
    assert!(errors.contains("`clock_offset_hours` = 30"), "{errors}");
    // Named, but no input produces quantities: the error points at `inputs` (line 21).
    let text = exogenous_pipeline(&model, r#""normalize""#, NP_EXOGENOUS, &lake);
    let errors = refused(temp.path(), &text);
    assert!(errors.contains("bad.toml:21:"), "{errors}");
    assert!(
        errors.contains("needs an input that produces quantities"),
        "{errors}"
    );
    // A prices-only model given exogenous series.
    let prices_only = train_tiny(temp.path(), "prices-only", &["--prices-only"], 1);
    let text = exogenous_pipeline(
        &prices_only,
        r#""normalize", "fundamentals""#,
        NP_EXOGENOUS,
        &lake,
    );
    let errors = refused(temp.path(), &text);
    assert!(errors.contains("bad.toml:24:"), "{errors}");
    assert!(errors.contains("reads prices only"), "{errors}");
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
