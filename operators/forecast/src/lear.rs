//! LEAR, the EPF benchmark's linear model (Lago, Marcjasz, De Schutter and Weron, Applied
//! Energy 293 (2021) 116983; their `epftoolbox`): per hour of the day a Lasso on 247
//! features, recalibrated every day over several calibration windows whose forecasts are
//! averaged. A second model family next to the networks: [`crate::blend`] mixes it with
//! them (and with [`crate::dnn`]), which errs less than any alone.
//!
//! For day `d` and a window of `w` days the training rows are the days `d − w + 7 .. d`
//! (the reference drops the window's first week, whose lags fall outside it); nothing of
//! day `d` but its exogenous forecasts is read. A row holds the prices of days d−1, d−2,
//! d−3 and d−7 (96), both exogenous series on days d, d−1 and d−7 (144) and the weekday as
//! 7 indicators. Every column but the indicators, and each hour's target, goes through
//! `asinh((x − median) / MAD)` with the median and the normal-consistent MAD of the
//! training rows. The penalty of each hour is the one the paper-era `LassoLarsIC`
//! (`criterion="aic"`, columns normalised) chose, and the Lasso at that penalty is then
//! solved on the unnormalised columns, as the reference did (see [`crate::lars`]).

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};
use crate::error::{ForecastError, Result};
use crate::lasso::{LassoProblem, dot};

/// The paper's calibration windows, in days.
pub const DEFAULT_WINDOWS: [usize; 4] = [56, 84, 1092, 1456];

const PRICE_LAGS: [usize; 4] = [1, 2, 3, 7];
const EXOGENOUS_LAGS: [usize; 3] = [0, 1, 7];
const WEEKDAYS: usize = 7;
/// Columns that are scaled: everything but the weekday indicators.
pub(crate) const SCALED: usize = HOURS_PER_DAY * (PRICE_LAGS.len() + 2 * EXOGENOUS_LAGS.len());
/// Columns of a row.
pub const FEATURES: usize = SCALED + WEEKDAYS;
/// The first day LEAR can forecast: its training rows need a week of lags, and two rows.
pub const MINIMUM_DAY: usize = HISTORY_DAYS + 2;

/// The median absolute deviation of a normal sample, over its standard deviation.
const NORMAL_MAD: f64 = 0.674_489_750_196_081_7;

/// How LEAR forecasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearConfig {
    /// Calibration windows in days (each at least 9: a week of lags plus two rows); the
    /// forecast of a day is the mean of one model per window. A window reaching before the
    /// data's eighth day is cut there. Default 56, 84, 1092 and 1456, the paper's.
    pub windows: Vec<usize>,
}

impl Default for LearConfig {
    fn default() -> Self {
        Self {
            windows: DEFAULT_WINDOWS.to_vec(),
        }
    }
}

/// Point forecasts of consecutive days, one model family's (LEAR's, [`crate::dnn`]'s).
#[derive(Debug, Clone, PartialEq)]
pub struct DayForecasts {
    /// The days forecast (indices into the dataset).
    pub days: Range<usize>,
    /// 24 prices per day, in day order.
    pub prices: Vec<f64>,
}

impl DayForecasts {
    /// The forecast of an hour of the dataset, if its day is among [`Self::days`].
    pub fn hour(&self, hour: usize) -> Option<f64> {
        let day = hour / HOURS_PER_DAY;
        self.days
            .contains(&day)
            .then(|| self.prices[hour - self.days.start * HOURS_PER_DAY])
    }
}

impl DayForecasts {
    /// Writes `timestamp,forecast` rows (header first; timestamps as in `data`) for the
    /// days of `days` that were forecast.
    pub fn write_csv(
        &self,
        mut out: impl std::io::Write,
        data: &EpfDataset,
        days: Range<usize>,
    ) -> std::io::Result<()> {
        writeln!(out, "timestamp,forecast")?;
        for hour in days.start * HOURS_PER_DAY..days.end * HOURS_PER_DAY {
            if let Some(price) = self.hour(hour) {
                writeln!(out, "{},{price:.4}", data.timestamps()[hour])?;
            }
        }
        out.flush()
    }
}

/// Forecasts every day of `days`, each from a model recalibrated on the days before it;
/// days run in parallel on rayon's pool, and `progress` is called with the count done
/// after each.
pub fn forecast_days(
    data: &EpfDataset,
    days: Range<usize>,
    config: &LearConfig,
    progress: impl Fn(usize) + Sync,
) -> Result<DayForecasts> {
    let shape = |message: String| ForecastError::Shape {
        dataset: data.name().to_owned(),
        message,
    };
    if config.windows.is_empty() || config.windows.iter().any(|&w| w < HISTORY_DAYS + 2) {
        return Err(shape(format!(
            "LEAR windows must be {} days or more: {:?}",
            HISTORY_DAYS + 2,
            config.windows
        )));
    }
    if days.start < MINIMUM_DAY || days.end > data.days() || days.is_empty() {
        return Err(shape(format!(
            "LEAR cannot forecast days {days:?} of {}",
            data.days()
        )));
    }
    let rows = feature_rows(data);
    let done = AtomicUsize::new(0);
    let per_day: Vec<[f64; HOURS_PER_DAY]> = days
        .clone()
        .into_par_iter()
        .map(|day| {
            let mut mean = [0.0; HOURS_PER_DAY];
            for &window in &config.windows {
                let forecast = forecast_day(data.prices(), &rows, day, window);
                for (m, f) in mean.iter_mut().zip(forecast) {
                    *m += f / config.windows.len() as f64;
                }
            }
            progress(done.fetch_add(1, Ordering::Relaxed) + 1);
            mean
        })
        .collect();
    Ok(DayForecasts {
        days,
        prices: per_day.into_iter().flatten().collect(),
    })
}

/// The unscaled feature row of every day from the eighth on (earlier rows are zeros, and
/// never read): row-major `[days, FEATURES]`.
pub(crate) fn feature_rows(data: &EpfDataset) -> Vec<f64> {
    let mut rows = vec![0.0; data.days() * FEATURES];
    let prices = data.prices();
    for day in HISTORY_DAYS..data.days() {
        let row = &mut rows[day * FEATURES..(day + 1) * FEATURES];
        let mut column = 0;
        for lag in PRICE_LAGS {
            let from = (day - lag) * HOURS_PER_DAY;
            row[column..column + HOURS_PER_DAY]
                .copy_from_slice(&prices[from..from + HOURS_PER_DAY]);
            column += HOURS_PER_DAY;
        }
        for series in 0..2 {
            let values = data.exogenous(series);
            for lag in EXOGENOUS_LAGS {
                let from = (day - lag) * HOURS_PER_DAY;
                row[column..column + HOURS_PER_DAY]
                    .copy_from_slice(&values[from..from + HOURS_PER_DAY]);
                column += HOURS_PER_DAY;
            }
        }
        row[SCALED + usize::from(data.calendar(day).weekday)] = 1.0;
    }
    rows
}

/// The median and the normal-consistent MAD (1 where the MAD is zero) of `values`, which
/// it reorders.
pub(crate) fn median_mad(values: &mut [f64]) -> (f64, f64) {
    let center = median(values);
    for v in values.iter_mut() {
        *v = (*v - center).abs();
    }
    let mad = median(values) / NORMAL_MAD;
    (center, if mad > 0.0 { mad } else { 1.0 })
}

/// Replaces `values` by `asinh((x − median) / MAD)` of their own median and MAD, which it
/// returns; `scratch` is as long as `values`.
fn scale_in_place(values: &mut [f64], scratch: &mut [f64]) -> (f64, f64) {
    scratch.copy_from_slice(values);
    let (median, mad) = median_mad(scratch);
    for value in values.iter_mut() {
        *value = ((*value - median) / mad).asinh();
    }
    (median, mad)
}

/// The median (the mean of the middle two for an even count), reordering `values`.
fn median(values: &mut [f64]) -> f64 {
    let middle = values.len() / 2;
    let odd = values.len() % 2 == 1;
    let (below, upper, _) = values.select_nth_unstable_by(middle, f64::total_cmp);
    let upper = *upper;
    if odd {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

/// One window's forecast of `day`'s 24 prices.
fn forecast_day(prices: &[f64], rows: &[f64], day: usize, window: usize) -> [f64; HOURS_PER_DAY] {
    let first = (day + HISTORY_DAYS)
        .saturating_sub(window)
        .max(HISTORY_DAYS);
    let n = day - first;
    let row = |d: usize| &rows[d * FEATURES..(d + 1) * FEATURES];
    // Column-major training matrix, scaled and then centred; the test row alike.
    let mut columns = vec![0.0; FEATURES * n];
    let mut test = row(day).to_vec();
    let mut scratch = vec![0.0; n];
    for j in 0..FEATURES {
        let column = &mut columns[j * n..(j + 1) * n];
        for (value, d) in column.iter_mut().zip(first..day) {
            *value = row(d)[j];
        }
        if j < SCALED {
            let (median, mad) = scale_in_place(column, &mut scratch);
            test[j] = ((test[j] - median) / mad).asinh();
        }
        let mean = column.iter().sum::<f64>() / n as f64;
        for value in column.iter_mut() {
            *value -= mean;
        }
        test[j] -= mean;
    }
    let mut gram = vec![0.0; FEATURES * FEATURES];
    for i in 0..FEATURES {
        for j in i..FEATURES {
            let value = dot(&columns[i * n..(i + 1) * n], &columns[j * n..(j + 1) * n]);
            gram[i * FEATURES + j] = value;
            gram[j * FEATURES + i] = value;
        }
    }
    let mut problem = LassoProblem {
        gram,
        correlation: vec![0.0; FEATURES],
        target_squares: 0.0,
        samples: n,
    };
    let (mut unit, norms) = problem.normalized();
    let mut forecast = [0.0; HOURS_PER_DAY];
    let mut target = vec![0.0; n];
    for (hour, out) in forecast.iter_mut().enumerate() {
        for (value, d) in target.iter_mut().zip(first..day) {
            *value = prices[d * HOURS_PER_DAY + hour];
        }
        let (median, mad) = scale_in_place(&mut target, &mut scratch);
        let mean = target.iter().sum::<f64>() / n as f64;
        for value in target.iter_mut() {
            *value -= mean;
        }
        for (j, c) in problem.correlation.iter_mut().enumerate() {
            *c = dot(&columns[j * n..(j + 1) * n], &target);
        }
        problem.target_squares = dot(&target, &target);
        for ((u, c), norm) in unit
            .correlation
            .iter_mut()
            .zip(&problem.correlation)
            .zip(&norms)
        {
            *u = c / norm;
        }
        unit.target_squares = problem.target_squares;
        let alpha = unit.information_criterion_alpha();
        let coefficients = problem.lars(alpha, |_| {});
        let scaled = mean + dot(&coefficients, &test);
        *out = median + mad * scaled.sinh();
    }
    forecast
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_mads() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        let (m, mad) = median_mad(&mut [1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(m, 3.0);
        assert!((mad - 1.0 / NORMAL_MAD).abs() < 1e-12);
        assert_eq!(median_mad(&mut [5.0, 5.0, 5.0]), (5.0, 1.0));
    }
}
