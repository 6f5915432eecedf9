//! The test period: every hourly forecast with its 90 % interval, the benchmark's metrics, and
//! the `forecasts-<dataset>.csv` writer.
//!
//! The day-ahead model (`horizon_hours` 24) forecasts each test day once, from its midnight:
//! the EPF benchmark. Other horizons forecast from every issue time of the test period
//! ([`Layout::issues`](crate::features::Layout::issues)): each hour for 1 h, every six hours
//! for 6 h, each midnight for a week, every target hour inside the test period; metrics
//! are over every (issue, hour) forecast, against the price a week before the hour.
//!
//! In a blend ([`crate::blend`]) the other families are recalibrated as they go (LEAR every
//! day, the DNN every two weeks, each on the days before); the networks' part is as follows.
//!
//! Recalibration policy: the network is **not retrained**. It is trained once on the days
//! before the test period (training + validation) and then forecasts each test day from that
//! day's inputs (prices up to the previous day, exogenous forecasts up to the day itself); it
//! never sees a test-day price as a training target. Only the width of the intervals is
//! recalibrated, day by day, from realised prices of earlier days
//! ([`TrainConfig::interval_window_days`](crate::TrainConfig::interval_window_days)): the
//! scale factor for day `d` is the one that would have given 90 % coverage over the window
//! of days before `d`.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use crate::blend::Blend;
use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};
use crate::error::{ForecastError, Result};
use crate::features::Normalization;
use crate::metrics::{Metrics, crps_from_quantiles};
use crate::train::coverage_factor;
use crate::trained::HourDistribution;
use crate::trained::TrainedModel;

/// One hour's forecast.
#[derive(Debug, Clone, PartialEq)]
pub struct HourForecast {
    /// The hour (an index into the dataset's hours).
    pub hour: usize,
    /// Hours from the issue time to the end of this hour (1 = the first hour forecast).
    pub horizon: usize,
    /// The hour's timestamp exactly as in the dataset.
    pub timestamp: String,
    /// The realised price.
    pub actual: f64,
    /// Point forecast: the predictive median.
    pub forecast: f64,
    /// 5 % quantile.
    pub lower_90: f64,
    /// 95 % quantile.
    pub upper_90: f64,
    /// CRPS of the predictive distribution at the realised price.
    pub crps: f64,
}

/// Forecasts and metrics over a set of days.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// The dataset's name.
    pub dataset: String,
    /// Days evaluated (indices into the dataset).
    pub days: Range<usize>,
    /// The model's horizon.
    pub horizon_hours: usize,
    /// One row per hour, in time order.
    pub forecasts: Vec<HourForecast>,
    /// Metrics over all of them.
    pub metrics: Metrics,
}

/// Evaluates `model` on the test period of its training configuration.
pub fn evaluate(model: &TrainedModel, data: &EpfDataset) -> Result<Evaluation> {
    let split = model.meta().config.split.split(data)?;
    evaluate_days(model, data, split.test)
}

/// Evaluates `model` on `days` (each needs 7 days of history before it): every forecast
/// issued in `days` whose target hours lie in `days`.
pub fn evaluate_days(
    model: &TrainedModel,
    data: &EpfDataset,
    days: Range<usize>,
) -> Result<Evaluation> {
    evaluate_days_blended(model, data, days, None)
}

/// [`evaluate_days`], with the networks' forecasts blended with other families' when
/// `blend` is given ([`crate::blend`]; it must cover `days`, and should cover the interval
/// calibration's window before them: days it leaves out there keep the networks' own).
pub fn evaluate_days_blended(
    model: &TrainedModel,
    data: &EpfDataset,
    days: Range<usize>,
    blend: Option<&Blend>,
) -> Result<Evaluation> {
    let predicted = model.predict(data, prediction_days(model, data, days.clone())?)?;
    evaluate_predicted(model, data, days, blend, predicted)
}

/// The days whose forecasts evaluating `days` reads: `days` and the interval
/// calibration's window before them.
pub(crate) fn prediction_days(
    model: &TrainedModel,
    data: &EpfDataset,
    days: Range<usize>,
) -> Result<Range<usize>> {
    if days.start < HISTORY_DAYS || days.end > data.days() || days.is_empty() {
        return Err(ForecastError::Shape {
            dataset: data.name().to_owned(),
            message: format!("cannot evaluate days {days:?} of {}", data.days()),
        });
    }
    let window = model.meta().config.interval_window_days;
    Ok(days.start.saturating_sub(window).max(HISTORY_DAYS)..days.end)
}

/// [`evaluate_days_blended`] from the networks' forecasts of [`prediction_days`], so that
/// a caller which needs them for something else predicts them once.
pub(crate) fn evaluate_predicted(
    model: &TrainedModel,
    data: &EpfDataset,
    days: Range<usize>,
    blend: Option<&Blend>,
    mut predicted: Vec<HourDistribution>,
) -> Result<Evaluation> {
    let norm = &model.meta().normalization;
    let window = model.meta().config.interval_window_days;
    let horizon = model.horizon_hours();
    let first = prediction_days(model, data, days.clone())?.start;
    let issues = model.issues(first..days.end);
    if let Some(blend) = blend {
        let hours = issues.iter().flat_map(|&issue| issue..issue + horizon);
        for (hour, distribution) in hours.zip(predicted.iter_mut()) {
            // Near the data's start the members cannot forecast the first days of the
            // interval calibration's window; those keep the networks' own forecasts.
            if hour >= days.start * HOURS_PER_DAY || blend.covers(hour) {
                blend.apply(data, norm, hour, distribution)?;
            }
        }
    }
    // |z| of every predicted hour, for the trailing interval calibration.
    let z: Vec<f64> = issues
        .iter()
        .flat_map(|&issue| issue..issue + horizon)
        .zip(&predicted)
        .map(|(hour, d)| (norm.price_to_model(data.prices()[hour]) - d.loc).abs() / d.scale)
        .collect();
    let mut forecasts = Vec::new();
    let mut factor = (usize::MAX, 1.0);
    for (index, &issue) in issues.iter().enumerate() {
        let day = issue / HOURS_PER_DAY;
        if day < days.start {
            continue;
        }
        // Once per day: the factor that would have given 90 % coverage over the forecasts
        // of the previous `window` days whose prices were all known by the day's midnight.
        if factor.0 != day {
            let known_by = day * HOURS_PER_DAY;
            let since = day.saturating_sub(window) * HOURS_PER_DAY;
            let past: Vec<f64> = issues
                .iter()
                .enumerate()
                .filter(|(_, past)| **past >= since && **past + horizon <= known_by)
                .flat_map(|(i, _)| z[i * horizon..(i + 1) * horizon].iter().copied())
                .collect();
            factor = (
                day,
                if window == 0 {
                    1.0
                } else {
                    coverage_factor(past)
                },
            );
        }
        for step in 0..horizon {
            let raw = predicted[index * horizon + step];
            forecasts.push(hour_forecast(
                data,
                norm,
                issue + step,
                step + 1,
                HourDistribution {
                    loc: raw.loc,
                    scale: raw.scale * factor.1,
                },
            ));
        }
    }
    let metrics = metrics_of(data, &forecasts);
    Ok(Evaluation {
        dataset: data.name().to_owned(),
        days,
        horizon_hours: horizon,
        forecasts,
        metrics,
    })
}

fn hour_forecast(
    data: &EpfDataset,
    norm: &Normalization,
    hour: usize,
    horizon: usize,
    distribution: HourDistribution,
) -> HourForecast {
    let actual = data.prices()[hour];
    HourForecast {
        hour,
        horizon,
        timestamp: data.timestamps()[hour].clone(),
        actual,
        forecast: distribution.median(norm),
        lower_90: distribution.quantile(norm, 0.05),
        upper_90: distribution.quantile(norm, 0.95),
        crps: crps_from_quantiles(|tau| distribution.quantile(norm, tau), actual),
    }
}

/// The metrics of hourly forecasts, against the 168-hour naive: each hour's price a week
/// before it.
pub fn metrics_of(data: &EpfDataset, forecasts: &[HourForecast]) -> Metrics {
    let column = |f: fn(&HourForecast) -> f64| forecasts.iter().map(f).collect::<Vec<_>>();
    let naive: Vec<f64> = forecasts
        .iter()
        .map(|f| data.prices()[f.hour - HISTORY_DAYS * HOURS_PER_DAY])
        .collect();
    let crps = column(|f| f.crps).iter().sum::<f64>() / forecasts.len() as f64;
    Metrics::compute(
        &column(|f| f.actual),
        &column(|f| f.forecast),
        &naive,
        (&column(|f| f.lower_90), &column(|f| f.upper_90)),
        crps,
    )
}

/// `forecasts-<dataset>.csv` for the day-ahead model, `forecasts-<dataset>-<H>h.csv` for
/// another horizon.
pub fn forecasts_file_name(dataset: &str, horizon_hours: usize) -> String {
    if horizon_hours == HOURS_PER_DAY {
        format!("forecasts-{dataset}.csv")
    } else {
        format!("forecasts-{dataset}-{horizon_hours}h.csv")
    }
}

/// Writes `timestamp,forecast,lower_90,upper_90` rows (header first): the benchmark's
/// format, one row per hour, for the day-ahead model.
pub fn write_forecasts(mut out: impl Write, forecasts: &[HourForecast]) -> std::io::Result<()> {
    writeln!(out, "timestamp,forecast,lower_90,upper_90")?;
    for f in forecasts {
        writeln!(
            out,
            "{},{:.4},{:.4},{:.4}",
            f.timestamp, f.forecast, f.lower_90, f.upper_90
        )?;
    }
    out.flush()
}

/// Writes `timestamp,horizon,forecast,lower_90,upper_90` rows (header first), for horizons
/// whose forecasts of one hour are several (a week ahead) or issued around the clock.
pub fn write_horizon_forecasts(
    mut out: impl Write,
    forecasts: &[HourForecast],
) -> std::io::Result<()> {
    writeln!(out, "timestamp,horizon,forecast,lower_90,upper_90")?;
    for f in forecasts {
        writeln!(
            out,
            "{},{},{:.4},{:.4},{:.4}",
            f.timestamp, f.horizon, f.forecast, f.lower_90, f.upper_90
        )?;
    }
    out.flush()
}

impl Evaluation {
    /// Writes [`forecasts_file_name`] into `dir`; returns its path.
    pub fn write_csv(&self, dir: impl AsRef<Path>) -> Result<std::path::PathBuf> {
        let path = dir
            .as_ref()
            .join(forecasts_file_name(&self.dataset, self.horizon_hours));
        let file = std::fs::File::create(&path).map_err(|e| ForecastError::io(&path, e))?;
        let out = std::io::BufWriter::new(file);
        if self.horizon_hours == HOURS_PER_DAY {
            write_forecasts(out, &self.forecasts)
        } else {
            write_horizon_forecasts(out, &self.forecasts)
        }
        .map_err(|e| ForecastError::io(&path, e))?;
        Ok(path)
    }
}

/// The benchmark with periodic retraining: the test period is cut into blocks of
/// `retrain_every_days`; for each block a model is trained (with `config`) on the days
/// before it only — training, then the validation period right before the block — and
/// forecasts the block's days. Nothing of a block is seen before it is forecast. `progress`
/// is called with each block's first day and its model once trained.
pub fn evaluate_walk_forward(
    config: &crate::TrainConfig,
    data: &EpfDataset,
    retrain_every_days: usize,
    mut progress: impl FnMut(usize, &TrainedModel),
) -> Result<Evaluation> {
    let test = config.split.split(data)?.test;
    let every = retrain_every_days.max(1);
    let mut forecasts = Vec::new();
    let mut horizon_hours = HOURS_PER_DAY;
    for block in test.clone().step_by(every) {
        let mut block_config = config.clone();
        // The "test period" of this block's training run starts at the block, so its
        // training and validation days are all before it.
        block_config.split.test_days = data.days() - block;
        let model = crate::train(&block_config, data, |_| {})?;
        progress(block, &model);
        let days = block..(block + every).min(test.end);
        let evaluation = evaluate_days(&model, data, days)?;
        horizon_hours = evaluation.horizon_hours;
        forecasts.extend(evaluation.forecasts);
    }
    let metrics = metrics_of(data, &forecasts);
    Ok(Evaluation {
        dataset: data.name().to_owned(),
        days: test,
        horizon_hours,
        forecasts,
        metrics,
    })
}
