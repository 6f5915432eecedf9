//! End-to-end checks on a 56-day slice of the EPF NP data (tests/data/NP-2013-slice.csv):
//! protocol (no test-day leakage), metrics, training, save/load, reproducibility, CSV output.

mod common;

use std::sync::OnceLock;

use burn::module::Module;
use common::with_prices_replaced;

use gridflow_forecast::data::HOURS_PER_DAY;
use gridflow_forecast::evaluate::{HourForecast, evaluate_days, metrics_of};
use gridflow_forecast::features::{Normalization, Window, inputs};
use gridflow_forecast::{
    DeviceChoice, EpfDataset, ModelConfig, ModelMeta, SplitConfig, TrainConfig, TrainedModel,
    evaluate, train, write_forecasts,
};

const SLICE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/NP-2013-slice.csv");

fn slice() -> EpfDataset {
    EpfDataset::from_csv(SLICE).unwrap()
}

fn tiny_config(seed: u64) -> TrainConfig {
    TrainConfig {
        model: ModelConfig {
            d_model: 16,
            n_heads: 2,
            n_layers: 1,
            d_ff: 32,
            patch_hours: 24,
            dropout: 0.1,
            linear_skip: true,
            instance_norm: true,
            exogenous: true,
            horizon_hours: 24,
        },
        split: SplitConfig {
            test_days: 7,
            validation_days: 7,
        },
        seed,
        batch_size: 8,
        max_epochs: 25,
        patience: 100,
        learning_rate: 3e-3,
        ..TrainConfig::default()
    }
}

/// One trained tiny model, shared by the tests that only read it.
fn trained() -> &'static TrainedModel {
    static MODEL: OnceLock<TrainedModel> = OnceLock::new();
    MODEL.get_or_init(|| train(&tiny_config(7), &slice(), |_| {}).unwrap())
}

#[test]
fn split_keeps_test_days_last_and_apart() {
    let data = slice();
    assert_eq!(data.days(), 56);
    let split = tiny_config(0).split.split(&data).unwrap();
    assert_eq!(
        (split.train, split.validation, split.test),
        (7..42, 42..49, 49..56)
    );
    let benchmark = SplitConfig::default();
    assert_eq!((benchmark.test_days, benchmark.validation_days), (728, 364));
    assert!(
        benchmark.split(&data).is_err(),
        "56 days cannot hold the benchmark's periods"
    );
}

#[test]
fn inputs_of_a_day_never_contain_its_prices() {
    let data = slice();
    let norm = Normalization::fit(&data, 7..42);
    let layout = ModelConfig::default().layout();
    for day in [7, 30, 49, 55] {
        let mut original = Vec::new();
        inputs(&data, &norm, layout, day, &mut original);
        // Prices of day `day` and later changed: the inputs must not move.
        let mut future_changed = Vec::new();
        inputs(
            &with_prices_replaced(&data, day, 1e6),
            &norm,
            layout,
            day,
            &mut future_changed,
        );
        assert_eq!(
            original, future_changed,
            "day {day} saw its own or later prices"
        );
        // The day before changed: they must (the check above is not vacuous).
        let mut past_changed = Vec::new();
        inputs(
            &with_prices_replaced(&data, day - 1, 1e6),
            &norm,
            layout,
            day,
            &mut past_changed,
        );
        assert_ne!(original, past_changed, "day {day} ignores day {}", day - 1);
    }
}

#[test]
fn a_trained_models_forecasts_ignore_the_days_own_prices() {
    let model = trained();
    let data = slice();
    let before = model.predict(&data, 49..56).unwrap();
    let changed = with_prices_replaced(&data, 52, 500.0);
    let after = model.predict(&changed, 49..53).unwrap();
    // Days 49..=52 are forecast from prices before day 52 or from unchanged ones.
    assert_eq!(before[..4 * 24], after[..]);
}

#[test]
fn the_naive_forecast_has_rmae_one() {
    let data = slice();
    let days = 49..56;
    let forecasts: Vec<HourForecast> = days
        .clone()
        .flat_map(|day| {
            let naive = data.naive_168(day).to_vec();
            let data = &data;
            naive.into_iter().enumerate().map(move |(hour, f)| {
                let h = day * 24 + hour;
                HourForecast {
                    hour: h,
                    horizon: hour + 1,
                    timestamp: data.timestamps()[h].clone(),
                    actual: data.prices()[h],
                    forecast: f,
                    lower_90: f,
                    upper_90: f,
                    crps: (data.prices()[h] - f).abs(),
                }
            })
        })
        .collect();
    let metrics = metrics_of(&data, &forecasts);
    assert_eq!(metrics.hours, 168);
    assert!((metrics.rmae - 1.0).abs() < 1e-12);
    assert!(
        (metrics.crps - metrics.mae).abs() < 1e-9,
        "a point forecast's CRPS is its MAE"
    );
    // 7 days only: the published convention has no naive-free first week to drop.
    assert_eq!(metrics.benchmark_naive_mae, metrics.naive_mae);
}

#[test]
fn training_reduces_the_loss_and_beats_nothing_silly() {
    let report = &trained().meta().report;
    assert_eq!(report.members.len(), 1);
    let member = &report.members[0];
    assert_eq!((member.epochs, member.seed), (25, 7));
    let first = member.train_loss[0];
    let last = *member.train_loss.last().unwrap();
    assert!(last < first - 0.3, "training loss {first} -> {last}");
    assert!(member.best_validation_rmae.is_finite());
    // The report's figure comes from the inference path (the fused CPU forward pass), the
    // member's from burn's forward pass during training: the same network, float rounding
    // apart.
    assert!(
        (report.validation_rmae - member.best_validation_rmae).abs() < 1e-6,
        "{} against {}",
        report.validation_rmae,
        member.best_validation_rmae
    );
    assert!(trained().meta().scale_factor > 0.0);
    assert_eq!(report.parameters, trained().parameters());
}

#[test]
fn an_ensemble_saves_loads_and_mixes_its_members() {
    let data = slice();
    let config = TrainConfig {
        ensemble: 2,
        max_epochs: 5,
        ..tiny_config(7)
    };
    let mut members_seen = Vec::new();
    let ensemble = train(&config, &data, |e| members_seen.push((e.member, e.members))).unwrap();
    assert_eq!(members_seen.len(), 10);
    assert_eq!(members_seen[9], (1, 2));
    let seeds: Vec<u64> = ensemble
        .meta()
        .report
        .members
        .iter()
        .map(|m| m.seed)
        .collect();
    assert_eq!(seeds, [7, 8]);
    assert_eq!(ensemble.networks().len(), 2);
    let dir = tempfile::tempdir().unwrap();
    ensemble.save(dir.path()).unwrap();
    assert!(dir.path().join("weights-1.bpk").exists());
    let loaded = TrainedModel::load(dir.path(), DeviceChoice::Cpu).unwrap();
    assert_eq!(
        ensemble.predict(&data, 49..56).unwrap(),
        loaded.predict(&data, 49..56).unwrap()
    );
}

#[test]
fn members_of_different_token_sizes_average_like_the_networks_alone() {
    let data = slice();
    let config = TrainConfig {
        ensemble: 3,
        max_epochs: 3,
        member_patch_hours: vec![24, 6],
        ..tiny_config(7)
    };
    let mixed = train(&config, &data, |_| {}).unwrap();
    let patches: Vec<usize> = (0..3).map(|m| config.member_model(m).patch_hours).collect();
    assert_eq!(patches, [24, 6, 24]);
    let widths: Vec<usize> = mixed.networks().iter().map(|n| n.num_params()).collect();
    assert!(
        widths[0] != widths[1] && widths[0] == widths[2],
        "{widths:?}"
    );
    // Member k is the network that a run of one with seed 7 + k and its token size trains;
    // the ensemble's location is their mean.
    let alone: Vec<Vec<f64>> = patches
        .iter()
        .enumerate()
        .map(|(member, &patch_hours)| {
            let mut single = TrainConfig {
                ensemble: 1,
                max_epochs: 3,
                ..tiny_config(7 + member as u64)
            };
            single.model.patch_hours = patch_hours;
            let network = train(&single, &data, |_| {}).unwrap();
            let predicted = network.predict(&data, 42..56).unwrap();
            predicted.iter().map(|h| h.loc).collect()
        })
        .collect();
    let predicted = mixed.predict(&data, 42..56).unwrap();
    for (hour, forecast) in predicted.iter().enumerate() {
        let mean = alone.iter().map(|locs| locs[hour]).sum::<f64>() / 3.0;
        assert!((forecast.loc - mean).abs() < 1e-9, "hour {hour}");
    }
    // The streaming path cuts each window for each member the same way, alone or batched.
    let layout = config.model.layout();
    let windows: Vec<Window<'_>> = (42..56).map(|d| Window::of_day(&data, layout, d)).collect();
    assert_eq!(mixed.predict_windows(&windows).unwrap(), predicted);
    assert_eq!(
        mixed.predict_windows(&windows[3..4]).unwrap(),
        predicted[3 * HOURS_PER_DAY..4 * HOURS_PER_DAY]
    );
    let dir = tempfile::tempdir().unwrap();
    mixed.save(dir.path()).unwrap();
    let loaded = TrainedModel::load(dir.path(), DeviceChoice::Cpu).unwrap();
    assert_eq!(loaded.predict(&data, 42..56).unwrap(), predicted);
    let refused = TrainConfig {
        member_patch_hours: vec![24, 5],
        ..tiny_config(7)
    };
    let error = train(&refused, &data, |_| {}).unwrap_err().to_string();
    assert!(error.contains("member_patch_hours"), "{error}");
}

#[test]
fn same_seed_same_model_other_seed_other_model() {
    let data = slice();
    let again = train(&tiny_config(7), &data, |_| {}).unwrap();
    assert_eq!(
        trained().predict(&data, 49..56).unwrap(),
        again.predict(&data, 49..56).unwrap()
    );
    let timeless = |m: &ModelMeta| {
        let mut m = m.clone();
        m.report.seconds = 0.0;
        for member in &mut m.report.members {
            member.seconds = 0.0;
        }
        m
    };
    assert_eq!(timeless(trained().meta()), timeless(again.meta()));
    let other = train(&tiny_config(8), &data, |_| {}).unwrap();
    assert_ne!(
        trained().predict(&data, 49..56).unwrap(),
        other.predict(&data, 49..56).unwrap()
    );
}

#[test]
fn save_then_load_forecasts_the_same() {
    let data = slice();
    let dir = tempfile::tempdir().unwrap();
    trained().save(dir.path()).unwrap();
    let loaded = TrainedModel::load(dir.path(), DeviceChoice::Cpu).unwrap();
    assert_eq!(loaded.meta(), trained().meta());
    assert_eq!(
        evaluate(trained(), &data).unwrap().forecasts,
        evaluate(&loaded, &data).unwrap().forecasts
    );
    let json = std::fs::read_to_string(dir.path().join("model.json")).unwrap();
    assert!(json.contains("\"format_version\": 1"), "{json}");
    // Another format version is refused, not misread.
    std::fs::write(
        dir.path().join("model.json"),
        json.replace("\"format_version\": 1", "\"format_version\": 99"),
    )
    .unwrap();
    let error = TrainedModel::load(dir.path(), DeviceChoice::Cpu).unwrap_err();
    assert!(error.to_string().contains("format version 99"), "{error}");
}

#[test]
fn forecasts_csv_has_one_row_per_test_hour() {
    let data = slice();
    let evaluation = evaluate(trained(), &data).unwrap();
    assert_eq!(evaluation.days, 49..56);
    let dir = tempfile::tempdir().unwrap();
    let path = evaluation.write_csv(dir.path()).unwrap();
    assert_eq!(path.file_name().unwrap(), "forecasts-NP-2013-slice.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "timestamp,forecast,lower_90,upper_90");
    assert_eq!(lines.len(), 1 + 7 * 24);
    assert!(lines[1].starts_with("2013-02-19 00:00:00,"), "{}", lines[1]);
    for (line, hour) in lines[1..].iter().zip(49 * 24..) {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[0], data.timestamps()[hour]);
        let [f, lo, hi] = [1, 2, 3].map(|i| fields[i].parse::<f64>().unwrap());
        assert!(lo <= f && f <= hi, "{line}");
    }
    let m = evaluation.metrics;
    assert!(m.mae > 0.0 && m.rmse >= m.mae && (0.0..=1.0).contains(&m.coverage_90));
    // The same rows through the plain writer.
    let mut buffer = Vec::new();
    write_forecasts(&mut buffer, &evaluation.forecasts).unwrap();
    assert_eq!(String::from_utf8(buffer).unwrap(), text);
    // Days without a week of history cannot be evaluated.
    assert!(evaluate_days(trained(), &data, 3..10).is_err());
}

/// The real benchmark files (bundled in `data/epf/`): the split must reproduce the
/// published 168-hour naive MAE of each test period (NP 4.135, PJM 6.326).
#[test]
fn full_splits_match_the_published_naive() {
    for (file, published) in [("NP.csv", 4.135), ("PJM.csv", 6.326)] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../data/epf")
            .join(file);
        let data = EpfDataset::from_csv(&path).unwrap();
        let split = SplitConfig::default().split(&data).unwrap();
        assert_eq!(
            data.timestamps()[split.test.start * 24],
            "2016-12-27 00:00:00",
            "{file}"
        );
        assert_eq!(split.test.len(), 728, "{file}");
        let forecasts: Vec<HourForecast> = split
            .test
            .clone()
            .flat_map(|day| (0..24).map(move |h| (day, h)))
            .map(|(day, h)| HourForecast {
                hour: day * 24 + h,
                horizon: h + 1,
                timestamp: String::new(),
                actual: data.day_prices(day)[h],
                forecast: data.naive_168(day)[h],
                lower_90: 0.0,
                upper_90: 0.0,
                crps: 0.0,
            })
            .collect();
        let metrics = metrics_of(&data, &forecasts);
        assert_eq!(metrics.hours, 17_472, "{file}");
        assert!(
            (metrics.benchmark_naive_mae - published).abs() < 5e-4,
            "{file}: {metrics}"
        );
    }
}

#[test]
fn interval_recalibration_uses_only_earlier_days() {
    let data = slice();
    let mut model = trained().clone();
    model.set_interval_window_days(7);
    let recalibrated = evaluate(&model, &data).unwrap().forecasts;
    model.set_interval_window_days(0);
    let fixed = evaluate(&model, &data).unwrap().forecasts;
    // Same medians, other widths.
    for (a, b) in recalibrated.iter().zip(&fixed) {
        assert_eq!(a.forecast, b.forecast);
    }
    assert_ne!(recalibrated, fixed);
    // Prices from day 52 on changed: days 49..=51 keep their intervals.
    model.set_interval_window_days(7);
    let changed = evaluate(&model, &with_prices_replaced(&data, 52, 500.0)).unwrap();
    for (a, b) in recalibrated[..3 * 24].iter().zip(&changed.forecasts) {
        assert_eq!(
            (a.forecast, a.lower_90, a.upper_90),
            (b.forecast, b.lower_90, b.upper_90)
        );
    }
}

#[test]
fn windows_forecast_like_days_alone_or_batched() {
    let model = trained();
    let data = slice();
    let layout = model.meta().config.model.layout();
    let days = 7..56;
    let by_day = model.predict(&data, days.clone()).unwrap();
    let windows: Vec<Window<'_>> = days
        .clone()
        .map(|d| Window::of_day(&data, layout, d))
        .collect();
    let batched = model.predict_windows(&windows).unwrap();
    assert_eq!(batched, by_day, "windows read what the dataset path reads");
    // A row's forecast must not depend on its batch: the streaming operator batches
    // whichever series changed, and its output must equal a batch recomputation.
    for (index, window) in windows.iter().enumerate().step_by(5) {
        let alone = model.predict_windows(std::slice::from_ref(window)).unwrap();
        assert_eq!(
            alone,
            batched[index * HOURS_PER_DAY..(index + 1) * HOURS_PER_DAY],
            "day {} alone differs from the batch",
            days.start + index
        );
    }
    let short = Window {
        known_prices: &data.prices()[..100],
        ..windows[0].clone()
    };
    let error = model.predict_windows(&[short]).unwrap_err().to_string();
    assert!(error.contains("168 known prices"), "{error}");
}

#[test]
fn a_prices_only_model_trains_and_refuses_exogenous_windows() {
    let mut config = tiny_config(3);
    config.model.exogenous = false;
    config.max_epochs = 5;
    let data = slice();
    let model = train(&config, &data, |_| {}).unwrap();
    assert!(!model.reads_exogenous());
    assert_eq!(
        model.meta().features.len(),
        36,
        "24 prices and 12 extras per day token"
    );
    assert!(
        model
            .meta()
            .features
            .iter()
            .all(|f| !f.starts_with("exogenous"))
    );
    let layout = model.meta().config.model.layout();
    let window = Window::of_day(&data, layout, 20);
    assert!(window.exogenous.is_none());
    let forecast = model.predict_windows(&[window]).unwrap();
    assert_eq!(forecast.len(), HOURS_PER_DAY);
    assert!(forecast.iter().all(|h| h.loc.is_finite() && h.scale > 0.0));
    // The exogenous series must not matter to it: change them, same forecast.
    let mut exogenous = [data.exogenous(0).to_vec(), data.exogenous(1).to_vec()];
    exogenous[0].iter_mut().for_each(|x| *x *= 3.0);
    let changed = EpfDataset::from_columns(
        data.name(),
        data.columns().clone(),
        data.timestamps().to_vec(),
        data.prices().to_vec(),
        exogenous,
    )
    .unwrap();
    assert_eq!(model.predict(&changed, 20..21).unwrap(), forecast);
    let with_exogenous = Window::of_day(&data, trained().meta().config.model.layout(), 20);
    assert!(model.predict_windows(&[with_exogenous]).is_err());
}

#[test]
fn other_horizons_train_and_evaluate_without_look_ahead() {
    let data = slice();
    for (horizon, issues_per_test_day) in [(1, 24), (6, 4), (168, 1)] {
        let mut config = tiny_config(5);
        config.model.horizon_hours = horizon;
        config.max_epochs = 3;
        let model = train(&config, &data, |_| {}).unwrap();
        assert_eq!(model.horizon_hours(), horizon);
        let layout = model.meta().config.model.layout();
        // Training issues have their targets inside the training days (7..35 here: the
        // last 14 days are validation and test).
        let split = config.split.split(&data).unwrap();
        for issue in layout.issues(split.train.clone()) {
            assert!(
                issue + horizon <= split.train.end * 24,
                "h{horizon}: issue {issue}"
            );
            assert_eq!(issue % layout.issue_every_hours(), 0);
        }
        // An issue's inputs do not move when the prices from it on change.
        let issue = 30 * 24 + if horizon < 24 { horizon } else { 0 };
        let norm = &model.meta().normalization;
        let mut before = Vec::new();
        gridflow_forecast::features::window_inputs(
            norm,
            layout,
            &Window::at(&data, layout, issue),
            &mut before,
        );
        let mut prices = data.prices().to_vec();
        prices[issue..].iter_mut().for_each(|p| *p = 1e6);
        let changed = EpfDataset::from_columns(
            data.name(),
            data.columns().clone(),
            data.timestamps().to_vec(),
            prices,
            [data.exogenous(0).to_vec(), data.exogenous(1).to_vec()],
        )
        .unwrap();
        let mut after = Vec::new();
        gridflow_forecast::features::window_inputs(
            norm,
            layout,
            &Window::at(&changed, layout, issue),
            &mut after,
        );
        assert_eq!(before, after, "h{horizon}: the issue saw its target prices");
        assert_eq!(before.len(), layout.input_len());

        let evaluation = evaluate(&model, &data).unwrap();
        // The test period is the last 7 days: issues whose targets fit in it.
        let expected_issues = if horizon == 168 {
            1
        } else {
            7 * issues_per_test_day
        };
        assert_eq!(
            evaluation.forecasts.len(),
            expected_issues * horizon,
            "h{horizon}"
        );
        assert!(
            evaluation
                .forecasts
                .iter()
                .all(|f| (1..=horizon).contains(&f.horizon))
        );
        assert!(evaluation.metrics.rmae.is_finite() && evaluation.metrics.mae > 0.0);
        let temp = tempfile::tempdir().unwrap();
        let path = evaluation.write_csv(temp.path()).unwrap();
        let name = format!("forecasts-NP-2013-slice-{horizon}h.csv");
        assert!(path.ends_with(&name), "{}", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("timestamp,horizon,forecast,lower_90,upper_90\n"));
        assert_eq!(text.lines().count(), evaluation.forecasts.len() + 1);
    }
}

#[test]
fn a_refit_keeps_the_early_stopping_and_the_intervals_and_changes_the_weights() {
    let data = slice();
    let mut config = tiny_config(11);
    config.max_epochs = 6;
    let early = train(&config, &data, |_| {}).unwrap();
    config.refit_with_validation = true;
    let refit = train(&config, &data, |_| {}).unwrap();
    let again = train(&config, &data, |_| {}).unwrap();
    // The early-stopping pass and the interval factor are the same run…
    assert_eq!(
        early.meta().report.members[0].best_epoch,
        refit.meta().report.members[0].best_epoch
    );
    assert_eq!(early.meta().scale_factor, refit.meta().scale_factor);
    // …but the kept weights were trained again, on more days, and reproducibly so.
    let test = config.split.split(&data).unwrap().test;
    let (a, b) = (
        early.predict(&data, test.clone()).unwrap(),
        refit.predict(&data, test.clone()).unwrap(),
    );
    assert_ne!(a, b);
    assert_eq!(b, again.predict(&data, test).unwrap());
}

#[test]
fn walk_forward_retrains_per_block_on_earlier_days_only() {
    let data = slice();
    let mut config = tiny_config(13);
    config.max_epochs = 3;
    let mut blocks = Vec::new();
    let evaluation = gridflow_forecast::evaluate_walk_forward(&config, &data, 4, |block, model| {
        blocks.push((block, model.meta().report.members[0].epochs));
    })
    .unwrap();
    // Test days 49..56 in blocks of four: models trained before day 49 and before day 53.
    assert_eq!(blocks.iter().map(|b| b.0).collect::<Vec<_>>(), [49, 53]);
    assert_eq!(evaluation.forecasts.len(), 7 * 24);
    let hours: Vec<usize> = evaluation.forecasts.iter().map(|f| f.hour).collect();
    assert_eq!(hours, (49 * 24..56 * 24).collect::<Vec<_>>());
    // The first block's model never saw the second block: change those prices, and the
    // first block's forecasts stay; the second block's move.
    let changed = with_prices_replaced(&data, 53, 1e3);
    let again = gridflow_forecast::evaluate_walk_forward(&config, &changed, 4, |_, _| {}).unwrap();
    assert_eq!(again.forecasts[..96], evaluation.forecasts[..96]);
    assert_ne!(
        again.forecasts[96..]
            .iter()
            .map(|f| f.forecast)
            .collect::<Vec<_>>(),
        evaluation.forecasts[96..]
            .iter()
            .map(|f| f.forecast)
            .collect::<Vec<_>>()
    );
}
