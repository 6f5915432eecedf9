//! `gridflow eval` and `gridflow train` as commands on the 56-day NP slice: the blend of
//! the networks with LEAR and the DNN and the files it writes, and training from a lake
//! instead of the CSV. The models and pipelines come from the `forecasts` topic.

use std::path::{Path, PathBuf};

use gridflow_forecast::evaluate::evaluate_days;
use gridflow_forecast::{DeviceChoice, EpfDataset, TrainedModel};

use crate::common::gridflow;
use crate::forecasts::{SLICE, history_components, run, train_tiny};

/// `gridflow eval` on a saved day-ahead model: by default the networks blended with LEAR
/// and the DNN (and each family's own forecasts in a file of its own; with
/// `--families-cache`, read back on the next run), with `--no-lear --no-dnn` the networks
/// alone, which `evaluate_days` reproduces.
#[test]
fn eval_blends_with_lear_and_the_dnn_by_default_and_writes_every_forecast_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let model = train_tiny(temp.path(), "np-day", &[], 1);
    let eval = |out: &Path, options: &[&str]| {
        std::fs::create_dir_all(out).unwrap();
        let (model, out) = (model.display().to_string(), out.display().to_string());
        let mut args = vec!["eval", "--epf", SLICE, "--no-progress", "--model", &model];
        args.extend_from_slice(&["--out", &out]);
        args.extend_from_slice(options);
        let output = gridflow(&args, &[]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let read = |path: PathBuf| -> Vec<Vec<String>> {
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect()
    };
    let blended_dir = temp.path().join("blended");
    let cache = temp.path().join("families").display().to_string();
    let blend_options = [
        "--lear-windows",
        "14,28",
        "--dnn-every",
        "7",
        "--dnn-seeds",
        "2",
        "--families-cache",
        &cache,
    ];
    let printed = eval(&blended_dir, &blend_options);
    assert!(!printed.contains("read from the cache"), "{printed}");
    assert!(
        printed.contains("shares chosen again before each of 6 test days (every day)"),
        "{printed}"
    );
    // Again with the same cache: both families read back, the same forecasts to the byte.
    let again_dir = temp.path().join("blended-again");
    let printed_again = eval(&again_dir, &blend_options);
    assert_eq!(
        printed_again.matches("(read from the cache)").count(),
        2,
        "{printed_again}"
    );
    for file in ["", "-lear", "-dnn"] {
        let name = format!("forecasts-NP-2013-slice{file}.csv");
        assert_eq!(
            std::fs::read(blended_dir.join(&name)).unwrap(),
            std::fs::read(again_dir.join(&name)).unwrap(),
            "{name}"
        );
    }
    assert!(printed.contains("shares lear "), "{printed}");
    assert!(printed.contains(", dnn "), "{printed}");
    assert!(printed.contains("networks alone:"), "{printed}");
    assert!(
        printed.contains("DNN (6 networks, recalibrated every 7 days) alone"),
        "{printed}"
    );
    let alone_dir = temp.path().join("alone");
    let printed_alone = eval(&alone_dir, &["--no-lear", "--no-dnn"]);
    assert!(!printed_alone.contains("LEAR"), "{printed_alone}");
    assert!(!printed_alone.contains("DNN"), "{printed_alone}");
    // A setting the DNN cannot train with: an error naming it, before any family runs.
    let model_text = model.display().to_string();
    let refused = gridflow(
        &[
            "eval",
            "--epf",
            SLICE,
            "--no-progress",
            "--model",
            &model_text,
            "--dnn-every",
            "0",
        ],
        &[],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("DNN: recalibrate every 1 day or more"),
        "{stderr}"
    );
    let lear_only_dir = temp.path().join("lear-only");
    let printed_lear = eval(
        &lear_only_dir,
        &["--lear-windows", "14,28", "--no-dnn", "--shares-every", "0"],
    );
    assert!(printed_lear.contains("shares lear "), "{printed_lear}");
    assert!(!printed_lear.contains("chosen again"), "{printed_lear}");
    assert!(!printed_lear.contains("dnn"), "{printed_lear}");

    let data = EpfDataset::from_csv(root.join(SLICE)).unwrap();
    let loaded = TrainedModel::load(&model, DeviceChoice::Cpu).unwrap();
    let networks = evaluate_days(&loaded, &data, 49..56).unwrap();
    let blended = read(blended_dir.join("forecasts-NP-2013-slice.csv"));
    let alone = read(alone_dir.join("forecasts-NP-2013-slice.csv"));
    let lear = read(blended_dir.join("forecasts-NP-2013-slice-lear.csv"));
    let dnn = read(blended_dir.join("forecasts-NP-2013-slice-dnn.csv"));
    assert_eq!(lear[0], ["timestamp", "forecast"]);
    assert_eq!(dnn[0], ["timestamp", "forecast"]);
    assert_eq!(
        (blended.len(), alone.len(), lear.len(), dnn.len()),
        (169, 169, 169, 169)
    );
    for (hour, expected) in networks.forecasts.iter().enumerate() {
        let (alone, lear, dnn) = (&alone[hour + 1], &lear[hour + 1], &dnn[hour + 1]);
        assert_eq!(alone[0], expected.timestamp);
        assert_eq!(lear[0], expected.timestamp);
        assert_eq!(dnn[0], expected.timestamp);
        assert_eq!(alone[1], format!("{:.4}", expected.forecast));
        let parts: [f64; 3] = [
            expected.forecast,
            lear[1].parse().unwrap(),
            dnn[1].parse().unwrap(),
        ];
        let blend: f64 = blended[hour + 1][1].parse().unwrap();
        // A weighted mean in model space lies between its parts (the transform is monotone).
        let low = parts.iter().copied().fold(f64::INFINITY, f64::min);
        let high = parts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            low - 1e-3 <= blend && blend <= high + 1e-3,
            "hour {hour}: {blend} outside {parts:?}"
        );
    }
}

/// The slice's prices and exogenous forecasts written to a lake by a pipeline, then
/// `gridflow train --lake` on it: the same training as from the CSV, with the exogenous
/// series and prices only, and `gridflow eval --lake` the same forecasts file.
#[test]
fn train_reads_its_history_from_a_lake_like_from_the_csv() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("history");
    let pipeline = format!(
        r#"{components}
[sinks.lake]
kind = "parquet"
inputs = ["normalize", "fundamentals"]
path = "{lake}"
"#,
        components = history_components(&root.join(SLICE)),
        lake = lake.display()
    );
    run(temp.path(), &pipeline, "2");
    let lake_text = lake.display().to_string();
    let series = [
        "--lake",
        &lake_text,
        "--market",
        "NORDPOOL",
        "--location",
        "SYSTEM",
        "--clock-offset-hours",
        "1",
    ];
    let exogenous = "LOAD_FORECAST@SYSTEM,WIND_POWER_FORECAST@SYSTEM";
    let with_exogenous = [&series[..], &["--exogenous", exogenous]].concat();
    let pairs = [
        (
            train_tiny(temp.path(), "csv", &[], 1),
            train_tiny(temp.path(), "lake", &with_exogenous, 1),
        ),
        (
            train_tiny(temp.path(), "csv-prices", &["--prices-only"], 1),
            train_tiny(temp.path(), "lake-prices", &series, 1),
        ),
    ];
    // `gridflow eval --no-lear --no-dnn` of a model on its own history: the forecasts file.
    let eval = |model: &Path, source: &[&str], name: &str| -> String {
        let out = temp.path().join(format!("eval-{name}"));
        std::fs::create_dir_all(&out).unwrap();
        let (model, out_text) = (model.display().to_string(), out.display().to_string());
        let mut args = vec![
            "eval",
            "--no-progress",
            "--no-lear",
            "--no-dnn",
            "--model",
            &model,
        ];
        args.extend_from_slice(source);
        args.extend_from_slice(&["--out", &out_text]);
        let output = gridflow(&args, &[]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let file = std::fs::read_dir(&out)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::read_to_string(file).unwrap()
    };
    // A series the lake does not hold: an error that says so, not a crash.
    let config = temp.path().join("csv.json").display().to_string();
    let missing = gridflow(
        &[
            "train",
            "--no-progress",
            "--lake",
            &lake_text,
            "--market",
            "NORDPOOL",
            "--location",
            "NOWHERE",
            "--config",
            &config,
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        stderr.contains("no DAY_AHEAD_HOURLY prices of NORDPOOL at NOWHERE"),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(root.join(SLICE)).unwrap();
    let test_stamps: Vec<&str> = csv.lines().skip(1).map(|l| &l[..19]).collect();
    for (index, (from_csv, from_lake)) in pairs.iter().enumerate() {
        let (csv_model, lake_model) = (
            TrainedModel::load(from_csv, DeviceChoice::Cpu).unwrap(),
            TrainedModel::load(from_lake, DeviceChoice::Cpu).unwrap(),
        );
        let (csv_norm, lake_norm) = (
            &csv_model.meta().normalization,
            &lake_model.meta().normalization,
        );
        assert_eq!(csv_model.reads_exogenous(), lake_model.reads_exogenous());
        assert_eq!(csv_model.reads_exogenous(), index == 0);
        if index == 0 {
            assert_eq!(csv_norm, lake_norm);
        } else {
            // A prices-only model never reads its exogenous statistics.
            assert_eq!(
                (csv_norm.price_median, csv_norm.price_iqr),
                (lake_norm.price_median, lake_norm.price_iqr)
            );
        }
        // The same training, loss for loss.
        let losses = |model: &TrainedModel| model.meta().report.members[0].train_loss.clone();
        assert_eq!(losses(&csv_model), losses(&lake_model));
        // The same forecasts, with the CSV's timestamps.
        let from_csv_file = eval(from_csv, &["--epf", SLICE], &format!("csv-{index}"));
        let lake_source = if index == 0 {
            &with_exogenous[..]
        } else {
            &series[..]
        };
        let from_lake_file = eval(from_lake, lake_source, &format!("lake-{index}"));
        assert_eq!(from_csv_file.lines().count(), 1 + 7 * 24);
        assert_eq!(from_csv_file, from_lake_file);
        let stamps: Vec<&str> = from_lake_file.lines().skip(1).map(|l| &l[..19]).collect();
        assert_eq!(stamps[..], test_stamps[test_stamps.len() - 7 * 24..]);
    }
}
