//! LEAR (`gridflow_forecast::lear`) and its LARS (`gridflow_forecast::lars`) against
//! scikit-learn and the EPF benchmark's reference LEAR.
//!
//! `tests/fixtures/lear.json` is the output of `scripts/lear-reference`; the first test reads
//! it and needs no Python. The second runs the script afresh with the project's `.venv`
//! (made by `scripts/setup-python`, which `scripts/test` runs first) and compares against
//! that output too.

mod common;

use std::path::Path;

use common::floats;

use gridflow_forecast::data::HOURS_PER_DAY;
use gridflow_forecast::evaluate::evaluate_with_lear;
use gridflow_forecast::lasso::LassoProblem;
use gridflow_forecast::lear::{LearConfig, forecast_days};
use gridflow_forecast::{EpfDataset, ModelConfig, SplitConfig, TrainConfig, train};
use serde_json::Value;

/// The knots of the path, its end, and the information criterion's penalty.
fn check_path(case: &Value) {
    let features = case["features"].as_u64().unwrap() as usize;
    let problem = LassoProblem::from_rows(&floats(&case["x"]), &floats(&case["y"]), features);
    let mut knots = Vec::new();
    let end = problem.lars(0.0, |knot| knots.push(knot.alpha));
    let expected = floats(&case["knot_alphas"]);
    assert_eq!(knots.len(), expected.len(), "{knots:?}\n{expected:?}");
    for (ours, theirs) in knots.iter().zip(&expected) {
        assert!((ours - theirs).abs() < 1e-9, "{knots:?}\n{expected:?}");
    }
    for (ours, theirs) in end.iter().zip(floats(&case["end_coefficients"])) {
        assert!((ours - theirs).abs() < 1e-9, "{end:?}");
    }
    let (unit, _) = problem.normalized();
    let alpha = unit.information_criterion_alpha();
    let theirs = case["information_criterion_alpha"].as_f64().unwrap();
    assert!((alpha - theirs).abs() < 1e-12, "{alpha} vs {theirs}");
    assert!(
        alpha > 0.0 && alpha < unit.alpha_max(),
        "a penalty inside the path"
    );
}

/// LEAR's forecasts of the fixture's days, to 1e-6 relative.
fn check_lear(case: &Value) -> usize {
    let data =
        EpfDataset::from_csv(common::repository().join(case["dataset"].as_str().unwrap())).unwrap();
    let config = LearConfig {
        windows: case["windows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap() as usize)
            .collect(),
    };
    let mut compared = 0;
    for (day, expected) in case["days"]
        .as_array()
        .unwrap()
        .iter()
        .zip(case["forecasts"].as_array().unwrap())
    {
        let day = day.as_u64().unwrap() as usize;
        let ours = forecast_days(&data, day..day + 1, &config, |_| {}).unwrap();
        let expected = floats(expected);
        assert_eq!(ours.prices.len(), expected.len());
        for (hour, (a, b)) in ours.prices.iter().zip(&expected).enumerate() {
            assert!(
                (a - b).abs() < 1e-6 * b.abs().max(1.0),
                "day {day} hour {hour}: {a} vs {b}"
            );
            compared += 1;
        }
    }
    compared
}

fn check_file(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let cases: Value = serde_json::from_str(&text).unwrap();
    check_path(&cases["path"]);
    assert_eq!(check_lear(&cases["lear"]), 48, "two days of 24 hours");
}

#[test]
fn stored_reference_matches() {
    check_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lear.json"));
}

#[test]
fn fresh_reference_matches() {
    check_file(&common::fresh_reference("lear-reference"));
}

const SLICE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/NP-2013-slice.csv");

/// Short windows for the 56-day slice.
fn short_windows() -> LearConfig {
    LearConfig {
        windows: vec![14, 28],
    }
}

#[test]
fn lear_never_reads_the_prices_of_the_day_it_forecasts() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let before = forecast_days(&data, 40..56, &short_windows(), |_| {}).unwrap();
    assert!(before.prices.iter().all(|p| p.is_finite()));
    // Every price from day 50 on replaced: the forecasts of days 40..=50 stay.
    let changed = common::with_prices_replaced(&data, 50, 500.0);
    let after = forecast_days(&changed, 40..56, &short_windows(), |_| {}).unwrap();
    let through_day_50 = 11 * HOURS_PER_DAY;
    assert_eq!(
        before.prices[..through_day_50],
        after.prices[..through_day_50]
    );
    assert_ne!(
        before.prices[through_day_50..],
        after.prices[through_day_50..]
    );
    assert_eq!(
        after.hour(50 * HOURS_PER_DAY + 3),
        Some(after.prices[10 * 24 + 3])
    );
    assert_eq!(after.hour(39 * HOURS_PER_DAY), None);
}

#[test]
fn the_blend_mixes_networks_and_lear_in_model_space_with_a_validated_share() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let config = TrainConfig {
        model: ModelConfig {
            d_model: 16,
            n_heads: 2,
            n_layers: 1,
            d_ff: 32,
            ..ModelConfig::default()
        },
        split: SplitConfig {
            test_days: 7,
            validation_days: 7,
        },
        batch_size: 8,
        max_epochs: 10,
        ..TrainConfig::default()
    };
    let model = train(&config, &data, |_| {}).unwrap();
    let counted = std::sync::atomic::AtomicUsize::new(0);
    let (blended, report) = evaluate_with_lear(&model, &data, &short_windows(), |done, total| {
        counted.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        assert!(done <= total);
    })
    .unwrap();
    assert_eq!(blended.forecasts.len(), 7 * HOURS_PER_DAY);
    assert_eq!(report.networks.forecasts.len(), 7 * HOURS_PER_DAY);
    assert_eq!(counted.into_inner(), report.lear.days.len());
    let share = report.weight;
    assert!((0.0..=1.0).contains(&share));
    assert!(
        (share * 20.0 - (share * 20.0).round()).abs() < 1e-12,
        "a step of 0.05"
    );
    assert!(report.validation_rmae.1 <= report.validation_rmae.0);
    // Each hour: (1 − w) · the networks' location + w · LEAR's price in model space.
    let test = config.split.split(&data).unwrap().test;
    let lear = forecast_days(&data, test.clone(), &short_windows(), |_| {}).unwrap();
    let networks = model.predict(&data, test.clone()).unwrap();
    let norm = &model.meta().normalization;
    let mut lear_error = 0.0;
    let mut naive_error = 0.0;
    for ((forecast, distribution), lear_price) in
        blended.forecasts.iter().zip(&networks).zip(&lear.prices)
    {
        let location = (1.0 - share) * distribution.loc + share * norm.price_to_model(*lear_price);
        let expected = norm.price_from_model(location);
        assert!((forecast.forecast - expected).abs() < 1e-9 * expected.abs().max(1.0));
        assert!(forecast.lower_90 <= forecast.forecast && forecast.forecast <= forecast.upper_90);
        lear_error += (lear_price - forecast.actual).abs();
        naive_error += (data.prices()[forecast.hour - 7 * HOURS_PER_DAY] - forecast.actual).abs();
    }
    assert!((report.lear_test_rmae - lear_error / naive_error).abs() < 1e-12);
    if share == 0.0 {
        assert_eq!(blended.metrics.mae, report.networks.metrics.mae);
    } else {
        assert_ne!(blended.metrics.mae, report.networks.metrics.mae);
    }
}
