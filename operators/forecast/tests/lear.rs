//! LEAR (`gridflow_forecast::lear`) and its LARS (`gridflow_forecast::lars`) against
//! scikit-learn and the EPF benchmark's reference LEAR; the DNN (`gridflow_forecast::dnn`),
//! the other family on LEAR's features; the blend of both with the networks.
//!
//! `tests/fixtures/lear.json` is the output of `scripts/lear-reference`; the first test reads
//! it and needs no Python. The second runs the script afresh with the project's `.venv`
//! (made by `scripts/setup-python`, which `scripts/test` runs first) and compares against
//! that output too.

mod common;

use std::path::Path;

use common::floats;

use gridflow_forecast::blend::{BlendConfig, evaluate_blended};
use gridflow_forecast::data::HOURS_PER_DAY;
use gridflow_forecast::dnn::{self, DnnArchitecture, DnnConfig, DnnLoss};
use gridflow_forecast::lasso::LassoProblem;
use gridflow_forecast::lear::{DayForecasts, LearConfig, forecast_days};
use gridflow_forecast::{EpfDataset, ModelConfig, SplitConfig, TrainConfig, TrainedModel, train};
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

/// The first `unchanged` forecast hours are equal in both, and the rest are not.
fn assert_changed_only_after(before: &DayForecasts, after: &DayForecasts, unchanged: usize) {
    assert_eq!(before.prices[..unchanged], after.prices[..unchanged]);
    assert_ne!(before.prices[unchanged..], after.prices[unchanged..]);
}

#[test]
fn lear_never_reads_the_prices_of_the_day_it_forecasts() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let before = forecast_days(&data, 40..56, &short_windows(), |_| {}).unwrap();
    assert!(before.prices.iter().all(|p| p.is_finite()));
    // Every price from day 50 on replaced: the forecasts of days 40..=50 stay.
    let changed = common::with_prices_replaced(&data, 50, 500.0);
    let after = forecast_days(&changed, 40..56, &short_windows(), |_| {}).unwrap();
    assert_changed_only_after(&before, &after, 11 * HOURS_PER_DAY);
    assert_eq!(
        after.hour(50 * HOURS_PER_DAY + 3),
        Some(after.prices[10 * 24 + 3])
    );
    assert_eq!(after.hour(39 * HOURS_PER_DAY), None);
}

/// A tiny transformer ensemble trained on the slice, validated and tested on a week each.
fn tiny_model(data: &EpfDataset, max_epochs: usize) -> (TrainConfig, TrainedModel) {
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
        max_epochs,
        ..TrainConfig::default()
    };
    let model = train(&config, data, |_| {}).unwrap();
    (config, model)
}

#[test]
fn the_blend_mixes_networks_and_lear_in_model_space_with_a_validated_share() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let (config, model) = tiny_model(&data, 10);
    let counted = std::sync::atomic::AtomicUsize::new(0);
    let blend = BlendConfig {
        lear: Some(short_windows()),
        dnn: None,
        cache_folder: None,
        shares_every_days: 0,
    };
    let (blended, report) = evaluate_blended(&model, &data, &blend, |name, done, total| {
        assert_eq!(name, "LEAR");
        counted.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        assert!(done <= total);
    })
    .unwrap();
    assert_eq!(blended.forecasts.len(), 7 * HOURS_PER_DAY);
    assert_eq!(report.networks.forecasts.len(), 7 * HOURS_PER_DAY);
    assert_eq!(report.blend.members.len(), 1);
    let member = &report.blend.members[0];
    assert_eq!(member.name, "lear");
    assert_eq!(counted.into_inner(), member.forecasts.days.len());
    // The slice's validation week is too short to cross-validate blocks of hours.
    assert_eq!(member.weights.len(), 1);
    assert!(member.rechosen.is_empty(), "chosen once");
    assert!(report.blocks_tried.is_empty());
    let share = member.weights[0];
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
    assert!((report.member_test_rmae[0] - lear_error / naive_error).abs() < 1e-12);
    if share == 0.0 {
        assert_eq!(blended.metrics.mae, report.networks.metrics.mae);
    } else {
        assert_ne!(blended.metrics.mae, report.networks.metrics.mae);
    }
}

/// A DNN small enough for the slice: one hidden layer, weekly recalibration, two networks.
fn small_dnn() -> DnnConfig {
    DnnConfig {
        architectures: vec![DnnArchitecture::plain(&[32])],
        window_days: 28,
        recalibrate_every_days: 7,
        seeds: 2,
        max_epochs: 40,
        ..DnnConfig::default()
    }
}

#[test]
fn the_dnn_is_reproducible_and_never_reads_the_prices_of_the_day_it_forecasts() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let config = small_dnn();
    let progress = std::sync::Mutex::new(Vec::new());
    let before = dnn::forecast_days(&data, 42..56, &config, |done, total| {
        progress.lock().unwrap().push((done, total));
    })
    .unwrap();
    assert_eq!(before.days, 42..56);
    assert_eq!(before.prices.len(), 14 * HOURS_PER_DAY);
    assert!(before.prices.iter().all(|p| p.is_finite() && *p > 0.0));
    let mut progress = progress.into_inner().unwrap();
    progress.sort_unstable();
    assert_eq!(progress, [(7, 14), (14, 14)]);
    // Trained again: the same bits (seeded, and the recalibrations run side by side).
    let again = dnn::forecast_days(&data, 42..56, &config, |_, _| {}).unwrap();
    assert_eq!(before, again);
    // Every price from day 49 on replaced: the recalibration at day 49 trains on days
    // before it only, and day 49's forecast reads its own row (day 48's prices and
    // before), so days 42..=49 stay; later days read changed prices.
    let changed = common::with_prices_replaced(&data, 49, 500.0);
    let after = dnn::forecast_days(&changed, 42..56, &config, |_, _| {}).unwrap();
    assert_changed_only_after(&before, &after, 8 * HOURS_PER_DAY);
    // The forecast reacts to the history it reads: prices of 500 the day before lift day 50.
    let day_50 = |f: &DayForecasts| {
        f.prices[8 * HOURS_PER_DAY..9 * HOURS_PER_DAY]
            .iter()
            .sum::<f64>()
    };
    assert!(day_50(&after) > day_50(&before));
}

#[test]
fn the_dnn_averages_its_networks_in_the_scaled_space() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let one = |seed: u64| {
        let config = DnnConfig {
            seeds: 1,
            seed,
            ..small_dnn()
        };
        dnn::forecast_days(&data, 49..56, &config, |_, _| {}).unwrap()
    };
    let (first, second) = (one(0), one(1));
    let both = dnn::forecast_days(&data, 49..56, &small_dnn(), |_, _| {}).unwrap();
    assert_ne!(
        first.prices, second.prices,
        "different seeds, different networks"
    );
    assert_between(&first, &second, &both);
}

/// sinh of the mean of two scaled values lies between the two prices, hour by hour.
fn assert_between(first: &DayForecasts, second: &DayForecasts, mean: &DayForecasts) {
    for ((a, b), mean) in first.prices.iter().zip(&second.prices).zip(&mean.prices) {
        assert!(
            a.min(*b) - 1e-9 <= *mean && *mean <= a.max(*b) + 1e-9,
            "{mean} vs {a}, {b}"
        );
    }
}

#[test]
fn the_dnn_averages_the_networks_of_every_architecture() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let dropping = DnnArchitecture {
        hidden: vec![32],
        dropout: 0.3,
    };
    let config = |architectures: Vec<DnnArchitecture>, seed: u64| DnnConfig {
        architectures,
        seeds: 1,
        seed,
        ..small_dnn()
    };
    let run = |config: DnnConfig| dnn::forecast_days(&data, 49..56, &config, |_, _| {}).unwrap();
    // Network k of a recalibration draws from seed + k: the second architecture's network
    // is the one a lone run of it with seed 1 trains.
    let plain = run(config(vec![DnnArchitecture::plain(&[32])], 0));
    let alone = run(config(vec![dropping.clone()], 1));
    let both = run(config(
        vec![DnnArchitecture::plain(&[32]), dropping.clone()],
        0,
    ));
    let without_dropout = run(config(vec![DnnArchitecture::plain(&[32])], 1));
    assert_ne!(
        alone.prices, without_dropout.prices,
        "dropout changes training"
    );
    assert_ne!(both.prices, plain.prices);
    assert_ne!(both.prices, alone.prices);
    assert_between(&plain, &alone, &both);
}

#[test]
fn the_dnn_trains_on_the_absolute_error_unless_told_the_squared_error() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    assert_eq!(small_dnn().loss, DnnLoss::AbsoluteError);
    let absolute = dnn::forecast_days(&data, 49..56, &small_dnn(), |_, _| {}).unwrap();
    let config = DnnConfig {
        loss: DnnLoss::SquaredError,
        ..small_dnn()
    };
    let squared = dnn::forecast_days(&data, 49..56, &config, |_, _| {}).unwrap();
    assert!(squared.prices.iter().all(|p| p.is_finite()));
    assert_ne!(absolute.prices, squared.prices);
}

#[test]
fn the_dnn_rejects_settings_it_cannot_train_with() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    for config in [
        DnnConfig {
            architectures: vec![DnnArchitecture::plain(&[])],
            ..small_dnn()
        },
        DnnConfig {
            architectures: vec![],
            ..small_dnn()
        },
        DnnConfig {
            architectures: vec![DnnArchitecture {
                hidden: vec![32],
                dropout: 1.0,
            }],
            ..small_dnn()
        },
        DnnConfig {
            window_days: 8,
            ..small_dnn()
        },
        DnnConfig {
            seeds: 0,
            ..small_dnn()
        },
        DnnConfig {
            holdout_fraction: 1.0,
            ..small_dnn()
        },
    ] {
        let error = dnn::forecast_days(&data, 42..56, &config, |_, _| {}).unwrap_err();
        assert!(error.to_string().contains("DNN"), "{error}");
    }
    let error = dnn::forecast_days(&data, 3..10, &small_dnn(), |_, _| {}).unwrap_err();
    assert!(error.to_string().contains("cannot forecast"), "{error}");
}

#[test]
fn the_blend_of_three_families_chooses_shares_that_sum_to_at_most_one() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let (config, model) = tiny_model(&data, 5);
    let blend = BlendConfig {
        lear: Some(short_windows()),
        dnn: Some(small_dnn()),
        cache_folder: None,
        shares_every_days: 3,
    };
    let names = std::sync::Mutex::new(std::collections::BTreeSet::new());
    let (blended, report) = evaluate_blended(&model, &data, &blend, |name, _, _| {
        names.lock().unwrap().insert(name.to_owned());
    })
    .unwrap();
    assert_eq!(
        names.into_inner().unwrap().into_iter().collect::<Vec<_>>(),
        ["DNN", "LEAR"]
    );
    let weights: Vec<f64> = report.blend.members.iter().map(|m| m.weights[0]).collect();
    assert!(report.blend.members.iter().all(|m| m.weights.len() == 1));
    // Chosen again before test days 52 and 55 (every 3 days from day 49), each time one
    // share per member for the whole day, on the grid and summing to at most 1.
    for (index, day) in [52, 55].into_iter().enumerate() {
        let shares: Vec<f64> = report
            .blend
            .members
            .iter()
            .map(|m| {
                assert_eq!(m.rechosen.len(), 2);
                assert_eq!(m.rechosen[index].0, day);
                assert_eq!(m.rechosen[index].1.len(), 1);
                m.rechosen[index].1[0]
            })
            .collect();
        assert!(shares.iter().all(|w| (0.0..=1.0).contains(w)));
        assert!(shares.iter().sum::<f64>() <= 1.0 + 1e-12);
    }
    assert_eq!(report.blend.members[1].name, "dnn");
    assert!(weights.iter().all(|w| (0.0..=1.0).contains(w)));
    assert!(weights.iter().sum::<f64>() <= 1.0 + 1e-12);
    assert!(report.validation_rmae.1 <= report.validation_rmae.0);
    assert_eq!(report.member_test_rmae.len(), 2);
    // Each test hour: the mix of the three locations in model space by the shares of its day.
    let test = config.split.split(&data).unwrap().test;
    let networks = model.predict(&data, test.clone()).unwrap();
    let norm = &model.meta().normalization;
    for (forecast, distribution) in blended.forecasts.iter().zip(&networks) {
        let members = &report.blend.members;
        let shares: f64 = members.iter().map(|m| m.weight(forecast.hour)).sum();
        let mut location = (1.0 - shares) * distribution.loc;
        for member in members {
            location += member.weight(forecast.hour)
                * norm.price_to_model(member.forecasts.hour(forecast.hour).unwrap());
        }
        let expected = norm.price_from_model(location);
        assert!((forecast.forecast - expected).abs() < 1e-9 * expected.abs().max(1.0));
    }
}

#[test]
fn a_families_cache_is_filled_once_and_read_back_on_the_next_evaluation() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let (_, model) = tiny_model(&data, 5);
    let folder = tempfile::tempdir().unwrap();
    let blend = BlendConfig {
        lear: Some(short_windows()),
        dnn: Some(small_dnn()),
        cache_folder: Some(folder.path().join("families")),
        ..BlendConfig::default()
    };
    let run = |expect_work: bool| {
        let worked = std::sync::atomic::AtomicBool::new(false);
        let result = evaluate_blended(&model, &data, &blend, |_, _, _| {
            worked.store(true, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(worked.into_inner(), expect_work);
        result
    };
    let (first, first_report) = run(true);
    assert_eq!(first_report.member_from_cache, [false, false]);
    let files = std::fs::read_dir(folder.path().join("families"))
        .unwrap()
        .count();
    assert_eq!(files, 2, "one file per family");
    let (second, second_report) = run(false);
    assert_eq!(second_report.member_from_cache, [true, true]);
    assert_eq!(second_report.blend, first_report.blend);
    assert_eq!(second.forecasts, first.forecasts);
    // Another setting is another key: LEAR is computed again, the DNN read back.
    let other = BlendConfig {
        lear: Some(LearConfig {
            windows: vec![short_windows().windows[0]],
        }),
        ..blend.clone()
    };
    let (_, third) = evaluate_blended(&model, &data, &other, |_, _, _| {}).unwrap();
    assert_eq!(third.member_from_cache, [false, true]);
}

#[test]
fn shares_chosen_again_read_only_the_prices_of_days_before() {
    let data = EpfDataset::from_csv(SLICE).unwrap();
    let (config, model) = tiny_model(&data, 5);
    let test = config.split.split(&data).unwrap().test;
    assert_eq!(test, 49..56);
    let blend = BlendConfig {
        lear: Some(short_windows()),
        dnn: None,
        cache_folder: None,
        shares_every_days: 1,
    };
    let rechosen = |data: &EpfDataset| {
        let (blended, report) = evaluate_blended(&model, data, &blend, |_, _, _| {}).unwrap();
        (blended, report.blend.members[0].clone())
    };
    let (blended, member) = rechosen(&data);
    let before = &member.rechosen;
    let days: Vec<usize> = before.iter().map(|(day, _)| *day).collect();
    assert_eq!(
        days,
        (50..56).collect::<Vec<_>>(),
        "before every test day but the first"
    );
    // Each test hour blends with the shares chosen last before its day.
    let networks = model.predict(&data, test.clone()).unwrap();
    let norm = &model.meta().normalization;
    for (forecast, distribution) in blended.forecasts.iter().zip(&networks) {
        let day = forecast.hour / HOURS_PER_DAY;
        let share = before
            .iter()
            .rev()
            .find(|(first, _)| *first <= day)
            .map_or(member.weights[0], |(_, shares)| shares[0]);
        let lear = norm.price_to_model(member.forecasts.hour(forecast.hour).unwrap());
        let expected = norm.price_from_model((1.0 - share) * distribution.loc + share * lear);
        assert!((forecast.forecast - expected).abs() < 1e-9 * expected.abs().max(1.0));
    }
    // Prices from day 53 on replaced: the shares chosen before days 50 to 53 stay.
    let (_, changed) = rechosen(&common::with_prices_replaced(&data, 53, 500.0));
    assert_eq!(changed.rechosen[..4], before[..4]);
    assert_eq!(changed.rechosen.len(), before.len());
}
