//! The test period: every hourly forecast with its 90 % interval, the benchmark's metrics, and
//! the `forecasts-<dataset>.csv` writer.
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

/// Evaluates `model` on `days` (each needs 7 days of history before it).
pub fn evaluate_days(
    model: &TrainedModel,
    data: &EpfDataset,
    days: Range<usize>,
) -> Result<Evaluation> {
    if days.start < HISTORY_DAYS || days.end > data.days() || days.is_empty() {
        return Err(ForecastError::Shape {
            dataset: data.name().to_owned(),
            message: format!("cannot evaluate days {days:?} of {}", data.days()),
        });
    }
    let norm = &model.meta().normalization;
    let window = model.meta().config.interval_window_days;
    let first = days.start.saturating_sub(window).max(HISTORY_DAYS);
    let predicted = model.predict(data, first..days.end)?;
    // |z| of every predicted hour, for the trailing interval calibration.
    let z: Vec<f64> = predicted
        .iter()
        .zip(&data.prices()[first * HOURS_PER_DAY..])
        .map(|(d, &price)| (norm.price_to_model(price) - d.loc).abs() / d.scale)
        .collect();
    let first_hour = days.start * HOURS_PER_DAY;
    let mut forecasts = Vec::with_capacity(days.len() * HOURS_PER_DAY);
    for day in days.clone() {
        let past = day.saturating_sub(window).max(first)..day;
        let factor = if window == 0 {
            1.0
        } else {
            coverage_factor(
                z[(past.start - first) * HOURS_PER_DAY..(past.end - first) * HOURS_PER_DAY]
                    .to_vec(),
            )
        };
        for hour in day * HOURS_PER_DAY..(day + 1) * HOURS_PER_DAY {
            let raw = predicted[hour - first * HOURS_PER_DAY];
            forecasts.push(hour_forecast(
                data,
                norm,
                hour,
                HourDistribution {
                    loc: raw.loc,
                    scale: raw.scale * factor,
                },
            ));
        }
    }
    debug_assert_eq!(forecasts.len(), (days.end * HOURS_PER_DAY) - first_hour);
    let metrics = metrics_of(data, days.clone(), &forecasts);
    Ok(Evaluation {
        dataset: data.name().to_owned(),
        days,
        forecasts,
        metrics,
    })
}

fn hour_forecast(
    data: &EpfDataset,
    norm: &Normalization,
    hour: usize,
    distribution: HourDistribution,
) -> HourForecast {
    let actual = data.prices()[hour];
    HourForecast {
        timestamp: data.timestamps()[hour].clone(),
        actual,
        forecast: distribution.median(norm),
        lower_90: distribution.quantile(norm, 0.05),
        upper_90: distribution.quantile(norm, 0.95),
        crps: crps_from_quantiles(|tau| distribution.quantile(norm, tau), actual),
    }
}

/// The metrics of hourly forecasts covering `days`, against the 168-hour naive.
pub fn metrics_of(data: &EpfDataset, days: Range<usize>, forecasts: &[HourForecast]) -> Metrics {
    let column = |f: fn(&HourForecast) -> f64| forecasts.iter().map(f).collect::<Vec<_>>();
    let naive: Vec<f64> = days.flat_map(|day| data.naive_168(day).to_vec()).collect();
    let crps = column(|f| f.crps).iter().sum::<f64>() / forecasts.len() as f64;
    Metrics::compute(
        &column(|f| f.actual),
        &column(|f| f.forecast),
        &naive,
        (&column(|f| f.lower_90), &column(|f| f.upper_90)),
        crps,
    )
}

/// `forecasts-<dataset>.csv`.
pub fn forecasts_file_name(dataset: &str) -> String {
    format!("forecasts-{dataset}.csv")
}

/// Writes `timestamp,forecast,lower_90,upper_90` rows (header first).
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

impl Evaluation {
    /// Writes `forecasts-<dataset>.csv` into `dir`; returns its path.
    pub fn write_csv(&self, dir: impl AsRef<Path>) -> Result<std::path::PathBuf> {
        let path = dir.as_ref().join(forecasts_file_name(&self.dataset));
        let file = std::fs::File::create(&path).map_err(|e| ForecastError::io(&path, e))?;
        write_forecasts(std::io::BufWriter::new(file), &self.forecasts)
            .map_err(|e| ForecastError::io(&path, e))?;
        Ok(path)
    }
}
