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

use crate::data::{CalendarDay, EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};

/// Hours a forecast's inputs span: the week before the target day and the target day.
pub const WINDOW_HOURS: usize = (HISTORY_DAYS + 1) * HOURS_PER_DAY;
/// Hours of known prices a forecast reads: the week before the target day.
pub const KNOWN_HOURS: usize = HISTORY_DAYS * HOURS_PER_DAY;
/// Days a forecast's tokens cover: the week before and the target day.
pub const WINDOW_DAYS: usize = HISTORY_DAYS + 1;
/// Features of a token besides its hourly values.
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
    /// Whether tokens carry the two exogenous day-ahead forecasts. A model without them
    /// reads prices and the calendar only, so it can run on any hourly price series.
    pub exogenous: bool,
}

/// Everything one forecast reads, from wherever it comes: an EPF file or a live series.
#[derive(Debug, Clone, Copy)]
pub struct Window<'a> {
    /// The [`KNOWN_HOURS`] prices before the target day, oldest first.
    pub known_prices: &'a [f64],
    /// The two exogenous series over all [`WINDOW_HOURS`] hours (the target day included),
    /// when the model reads them.
    pub exogenous: Option<[&'a [f64]; 2]>,
    /// The calendar of each of the [`WINDOW_DAYS`] days, the target day last.
    pub calendar: [CalendarDay; WINDOW_DAYS],
}

impl<'a> Window<'a> {
    /// The window of the forecast for day `day` of `data`; panics unless
    /// `HISTORY_DAYS <= day < data.days()`.
    pub fn of_day(data: &'a EpfDataset, layout: Layout, day: usize) -> Self {
        assert!(
            (HISTORY_DAYS..data.days()).contains(&day),
            "day {day} has no full history"
        );
        let first_day = day - HISTORY_DAYS;
        let hours = first_day * HOURS_PER_DAY..(day + 1) * HOURS_PER_DAY;
        // Prices strictly before day `day`: a price of the forecast day cannot reach it.
        let known_prices = &data.prices()[first_day * HOURS_PER_DAY..day * HOURS_PER_DAY];
        Self {
            known_prices,
            exogenous: layout
                .exogenous
                .then(|| [0, 1].map(|index| &data.exogenous(index)[hours.clone()])),
            calendar: std::array::from_fn(|offset| data.calendar(first_day + offset)),
        }
    }
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
        let known = &data.prices()[(day - HISTORY_DAYS) * HOURS_PER_DAY..day * HOURS_PER_DAY];
        Self::of_known(norm, layout, known)
    }

    /// The level of a forecast whose known prices are `known`.
    pub fn of_known(norm: &Normalization, layout: Layout, known: &[f64]) -> Self {
        if !layout.instance_norm {
            return Self::IDENTITY;
        }
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
        self.hourly_series() * self.patch_hours + TOKEN_EXTRAS
    }

    /// Hourly series in a token: the price, and the two exogenous series when read.
    fn hourly_series(&self) -> usize {
        if self.exogenous { 3 } else { 1 }
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
        let exogenous = if self.exogenous {
            &data_columns[2..]
        } else {
            &[]
        };
        for (index, column) in exogenous.iter().enumerate() {
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

/// Appends the input of the forecast for day `day` of `data` (`layout.input_len()` values)
/// to `out`.
///
/// Panics unless `HISTORY_DAYS <= day < data.days()`.
pub fn inputs(
    data: &EpfDataset,
    norm: &Normalization,
    layout: Layout,
    day: usize,
    out: &mut Vec<f32>,
) {
    window_inputs(norm, layout, &Window::of_day(data, layout, day), out);
}

/// Appends the input of the forecast that `window` describes (`layout.input_len()` values).
///
/// Panics when the window's lengths do not fit the layout (callers check them).
pub fn window_inputs(
    norm: &Normalization,
    layout: Layout,
    window: &Window<'_>,
    out: &mut Vec<f32>,
) {
    assert_eq!(
        window.known_prices.len(),
        KNOWN_HOURS,
        "a week of known prices"
    );
    assert_eq!(
        window.exogenous.is_some(),
        layout.exogenous,
        "exogenous series as the layout reads"
    );
    let level = Level::of_known(norm, layout, window.known_prices);
    let p = layout.patch_hours;
    for token in 0..layout.tokens() {
        let start = token * p;
        if start >= KNOWN_HOURS {
            out.extend(std::iter::repeat_n(0.0, p));
        } else {
            let prices = &window.known_prices[start..start + p];
            out.extend(
                prices
                    .iter()
                    .map(|&price| level.apply(norm.price_to_model(price)) as f32),
            );
        }
        if let Some(exogenous) = window.exogenous {
            for (index, series) in exogenous.iter().enumerate() {
                out.extend(
                    series[start..start + p]
                        .iter()
                        .map(|&value| norm.exogenous_to_model(index, value) as f32),
                );
            }
        }
        out.push(if start >= KNOWN_HOURS { 1.0 } else { 0.0 });
        let hour_angle = TAU * (start % HOURS_PER_DAY) as f64 / HOURS_PER_DAY as f64;
        out.push(hour_angle.sin() as f32);
        out.push(hour_angle.cos() as f32);
        let calendar = window.calendar[start / HOURS_PER_DAY];
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
            exogenous: true,
        };
        assert_eq!(
            (day.tokens(), day.target_tokens(), day.token_width()),
            (8, 1, 84)
        );
        let hour = Layout {
            patch_hours: 1,
            instance_norm: false,
            exogenous: true,
        };
        assert_eq!(
            (hour.tokens(), hour.target_tokens(), hour.token_width()),
            (192, 24, 15)
        );
        let cols = ["a", "b", "c", "d"].map(String::from);
        assert_eq!(hour.feature_names(&cols).len(), 15);
        assert_eq!(day.feature_names(&cols).len(), 84);
        let prices_only = Layout {
            exogenous: false,
            ..day
        };
        assert_eq!(prices_only.token_width(), 36);
        assert_eq!(prices_only.feature_names(&cols).len(), 36);
    }
}
