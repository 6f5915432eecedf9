//! Model inputs and targets: robust normalisation and the token layout.
//!
//! A forecast for day `d` looks at the 192 hours from the start of day `d-7` to the end of day
//! `d`, cut into tokens of `patch_hours` hours. Each token carries, per hour, the normalised
//! price (zero on day `d`, whose prices are unknown) and the two normalised exogenous
//! day-ahead forecasts (known for day `d` too), then a target-day flag and calendar features.
//! [`inputs`] reads prices only from the slice that ends where day `d` begins, so a price of
//! the forecast day cannot reach its inputs.

use std::f64::consts::TAU;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};

/// Hours a forecast's inputs span: the week before the target day and the target day.
pub const WINDOW_HOURS: usize = (HISTORY_DAYS + 1) * HOURS_PER_DAY;
/// Features of a token besides its `3 · patch_hours` hourly values.
const TOKEN_EXTRAS: usize = 1 + 2 + 7 + 2;

/// Per-dataset statistics that put prices and exogenous series on a common scale.
///
/// Prices: `asinh((p - median) / iqr)` (the variance-stabilising transform of the EPF
/// literature), exogenous series: `(x - median) / iqr`. Fitted on the training days only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    /// Median of the training prices.
    pub price_median: f64,
    /// Interquartile range of the training prices.
    pub price_iqr: f64,
    /// Medians of the two exogenous series.
    pub exogenous_median: [f64; 2],
    /// Interquartile ranges of the two exogenous series.
    pub exogenous_iqr: [f64; 2],
}

impl Normalization {
    /// Fits the statistics on the hours of `days`.
    pub fn fit(data: &EpfDataset, days: Range<usize>) -> Self {
        let hours = days.start * HOURS_PER_DAY..days.end * HOURS_PER_DAY;
        let (price_median, price_iqr) = median_iqr(&data.prices()[hours.clone()]);
        let (m0, i0) = median_iqr(&data.exogenous(0)[hours.clone()]);
        let (m1, i1) = median_iqr(&data.exogenous(1)[hours]);
        Self {
            price_median,
            price_iqr,
            exogenous_median: [m0, m1],
            exogenous_iqr: [i0, i1],
        }
    }

    /// A price in model space.
    pub fn price_to_model(&self, price: f64) -> f64 {
        ((price - self.price_median) / self.price_iqr).asinh()
    }

    /// A model-space value back to a price.
    pub fn price_from_model(&self, value: f64) -> f64 {
        self.price_median + self.price_iqr * value.sinh()
    }

    /// Exogenous series `index` in model space.
    pub fn exogenous_to_model(&self, index: usize, value: f64) -> f64 {
        (value - self.exogenous_median[index]) / self.exogenous_iqr[index]
    }
}

/// Median and interquartile range (linear interpolation); an IQR of 0 becomes 1.
fn median_iqr(values: &[f64]) -> (f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let position = q * (sorted.len() - 1) as f64;
        let (low, high) = (position.floor() as usize, position.ceil() as usize);
        sorted[low] + (sorted[high] - sorted[low]) * (position - low as f64)
    };
    let iqr = quantile(0.75) - quantile(0.25);
    (quantile(0.5), if iqr > 0.0 { iqr } else { 1.0 })
}

/// How a day's inputs are cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Hours per token; divides 24.
    pub patch_hours: usize,
    /// Standardise each forecast's prices by the mean and standard deviation of its own 168
    /// known model-space prices (reversible instance normalisation): the network sees price
    /// shapes, not levels, and its output is shifted and scaled back.
    pub instance_norm: bool,
}

/// The level and spread a forecast's prices are standardised by (model space).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Subtracted from every model-space price.
    pub mean: f64,
    /// Then divided by this (at least 0.05).
    pub std: f64,
}

impl Level {
    /// No standardisation.
    pub const IDENTITY: Self = Self {
        mean: 0.0,
        std: 1.0,
    };

    /// The level of the forecast for `day`: from the 168 hours before it only.
    pub fn of(data: &EpfDataset, norm: &Normalization, layout: Layout, day: usize) -> Self {
        if !layout.instance_norm {
            return Self::IDENTITY;
        }
        let known = &data.prices()[(day - HISTORY_DAYS) * HOURS_PER_DAY..day * HOURS_PER_DAY];
        let values: Vec<f64> = known.iter().map(|&p| norm.price_to_model(p)).collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        Self {
            mean,
            std: variance.sqrt().max(0.05),
        }
    }

    fn apply(&self, model_space: f64) -> f64 {
        (model_space - self.mean) / self.std
    }
}

impl Layout {
    /// Tokens per forecast: `192 / patch_hours`.
    pub fn tokens(&self) -> usize {
        WINDOW_HOURS / self.patch_hours
    }

    /// Tokens that cover the target day: `24 / patch_hours`.
    pub fn target_tokens(&self) -> usize {
        HOURS_PER_DAY / self.patch_hours
    }

    /// Features per token.
    pub fn token_width(&self) -> usize {
        3 * self.patch_hours + TOKEN_EXTRAS
    }

    /// Values of one forecast's input: `tokens · token_width`.
    pub fn input_len(&self) -> usize {
        self.tokens() * self.token_width()
    }

    /// Names of a token's features, in order (stored with a saved model).
    pub fn feature_names(&self, data_columns: &[String; 4]) -> Vec<String> {
        let mut names = Vec::with_capacity(self.token_width());
        for hour in 0..self.patch_hours {
            names.push(format!(
                "price[+{hour}h]: asinh((p-median)/iqr), 0 on the target day"
            ));
        }
        for (index, column) in data_columns[2..].iter().enumerate() {
            for hour in 0..self.patch_hours {
                names.push(format!("exogenous{index}[+{hour}h]: ({column}-median)/iqr"));
            }
        }
        names.push("target_day: 1 on the forecast day, else 0".to_owned());
        names.push("hour_sin: sin(2π·hour/24) of the token's first hour".to_owned());
        names.push("hour_cos".to_owned());
        for day in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] {
            names.push(format!("weekday_{day}: one-hot"));
        }
        names.push("year_sin: sin(2π·day_of_year/365.25)".to_owned());
        names.push("year_cos".to_owned());
        names
    }
}

/// Appends the input of the forecast for day `day` (`layout.input_len()` values) to `out`.
///
/// Panics unless `HISTORY_DAYS <= day < data.days()`.
pub fn inputs(
    data: &EpfDataset,
    norm: &Normalization,
    layout: Layout,
    day: usize,
    out: &mut Vec<f32>,
) {
    assert!(
        (HISTORY_DAYS..data.days()).contains(&day),
        "day {day} has no full history"
    );
    // Everything known when day `day` is forecast: prices strictly before it.
    let known_prices = &data.prices()[..day * HOURS_PER_DAY];
    let level = Level::of(data, norm, layout, day);
    let first_hour = (day - HISTORY_DAYS) * HOURS_PER_DAY;
    let p = layout.patch_hours;
    for token in 0..layout.tokens() {
        let start = first_hour + token * p;
        let on_target_day = start >= day * HOURS_PER_DAY;
        if on_target_day {
            out.extend(std::iter::repeat_n(0.0, p));
        } else {
            let prices = &known_prices[start..start + p];
            out.extend(
                prices
                    .iter()
                    .map(|&price| level.apply(norm.price_to_model(price)) as f32),
            );
        }
        for index in 0..2 {
            let series = &data.exogenous(index)[start..start + p];
            out.extend(
                series
                    .iter()
                    .map(|&value| norm.exogenous_to_model(index, value) as f32),
            );
        }
        out.push(if on_target_day { 1.0 } else { 0.0 });
        let hour_angle = TAU * (start % HOURS_PER_DAY) as f64 / HOURS_PER_DAY as f64;
        out.push(hour_angle.sin() as f32);
        out.push(hour_angle.cos() as f32);
        let calendar = data.calendar(start / HOURS_PER_DAY);
        for weekday in 0..7 {
            out.push(if calendar.weekday == weekday {
                1.0
            } else {
                0.0
            });
        }
        let year_angle = TAU * f64::from(calendar.day_of_year) / 365.25;
        out.push(year_angle.sin() as f32);
        out.push(year_angle.cos() as f32);
    }
}

/// Appends the 24 target prices of day `day` to `out`: model space, standardised by `level`.
pub fn targets(
    data: &EpfDataset,
    norm: &Normalization,
    level: Level,
    day: usize,
    out: &mut Vec<f32>,
) {
    out.extend(
        data.day_prices(day)
            .iter()
            .map(|&p| level.apply(norm.price_to_model(p)) as f32),
    );
}

/// Inputs and targets of many days, flattened row-major (`[days, tokens, width]`, `[days, 24]`).
#[derive(Debug, Clone)]
pub(crate) struct Samples {
    pub(crate) days: Vec<usize>,
    pub(crate) levels: Vec<Level>,
    pub(crate) inputs: Vec<f32>,
    pub(crate) targets: Vec<f32>,
}

impl Samples {
    pub(crate) fn build(
        data: &EpfDataset,
        norm: &Normalization,
        layout: Layout,
        days: Range<usize>,
    ) -> Self {
        let days: Vec<usize> = days.collect();
        let mut inputs = Vec::with_capacity(days.len() * layout.input_len());
        let mut targets = Vec::with_capacity(days.len() * HOURS_PER_DAY);
        let mut levels = Vec::with_capacity(days.len());
        for &day in &days {
            let level = Level::of(data, norm, layout, day);
            self::inputs(data, norm, layout, day, &mut inputs);
            self::targets(data, norm, level, day, &mut targets);
            levels.push(level);
        }
        Self {
            days,
            levels,
            inputs,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_iqr() {
        assert_eq!(median_iqr(&[4.0, 1.0, 3.0, 2.0, 5.0]), (3.0, 2.0));
        assert_eq!(median_iqr(&[7.0, 7.0]), (7.0, 1.0));
    }

    #[test]
    fn price_transform_round_trips() {
        let norm = Normalization {
            price_median: 30.0,
            price_iqr: 10.0,
            exogenous_median: [0.0; 2],
            exogenous_iqr: [1.0; 2],
        };
        for p in [-100.0, 0.0, 30.0, 250.0] {
            assert!((norm.price_from_model(norm.price_to_model(p)) - p).abs() < 1e-9);
        }
        assert_eq!(norm.price_to_model(30.0), 0.0);
    }

    #[test]
    fn layout_sizes() {
        let day = Layout {
            patch_hours: 24,
            instance_norm: true,
        };
        assert_eq!(
            (day.tokens(), day.target_tokens(), day.token_width()),
            (8, 1, 84)
        );
        let hour = Layout {
            patch_hours: 1,
            instance_norm: false,
        };
        assert_eq!(
            (hour.tokens(), hour.target_tokens(), hour.token_width()),
            (192, 24, 15)
        );
        let cols = ["a", "b", "c", "d"].map(String::from);
        assert_eq!(hour.feature_names(&cols).len(), 15);
        assert_eq!(day.feature_names(&cols).len(), 84);
    }
}
