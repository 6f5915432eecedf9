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

/// Hours of known prices a forecast reads: the week before it is issued.
pub const KNOWN_HOURS: usize = HISTORY_DAYS * HOURS_PER_DAY;
/// The longest horizon: a week.
pub const MAX_HORIZON_HOURS: usize = 7 * HOURS_PER_DAY;
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
    /// Hours forecast from the issue time on: 1 to 24 (issued every `horizon_hours`,
    /// every day for 24), or whole days up to a week (issued every midnight).
    pub horizon_hours: usize,
}

/// Everything one forecast reads, from wherever it comes: an EPF file or a live series.
#[derive(Debug, Clone)]
pub struct Window<'a> {
    /// The [`KNOWN_HOURS`] prices before the issue time, oldest first.
    pub known_prices: &'a [f64],
    /// The two exogenous series over the window's [`Layout::window_hours`] hours (the
    /// target hours included), when the model reads them. Day-ahead forecasts are known
    /// for 24 hours after the issue time only: later values are not read.
    pub exogenous: Option<[&'a [f64]; 2]>,
    /// The hour of the day (0-23) of the window's first hour: the issue time's.
    pub first_hour_of_day: usize,
    /// The calendar of each day the window touches, from the day of its first hour.
    pub calendar: Vec<CalendarDay>,
}

impl<'a> Window<'a> {
    /// The window of a forecast of a live series issued at `issue_hour` (hours since
    /// 1970-01-01T00:00 on the series' local clock), reading `known_prices`, the 168 hourly
    /// prices before it, and, for a model that reads them, the two exogenous series from
    /// 168 hours before the issue time to 24 hours after it.
    pub fn of_series(
        known_prices: &'a [f64],
        exogenous: Option<[&'a [f64]; 2]>,
        issue_hour: i64,
        layout: Layout,
    ) -> Self {
        let first = issue_hour - KNOWN_HOURS as i64;
        let first_hour_of_day = first.rem_euclid(HOURS_PER_DAY as i64) as usize;
        let first_day = first.div_euclid(HOURS_PER_DAY as i64);
        let days = (first_hour_of_day + layout.window_hours()).div_ceil(HOURS_PER_DAY) as i64;
        Self {
            known_prices,
            exogenous,
            first_hour_of_day,
            calendar: (first_day..first_day + days)
                .map(CalendarDay::from_epoch_day)
                .collect(),
        }
    }

    /// The window of the forecast for day `day` of `data`, issued at its midnight; panics
    /// unless `HISTORY_DAYS <= day < data.days()`.
    pub fn of_day(data: &'a EpfDataset, layout: Layout, day: usize) -> Self {
        Self::at(data, layout, day * HOURS_PER_DAY)
    }

    /// The window of the forecast issued at hour `issue` (an index into the data's hours):
    /// it reads the prices of the 168 hours before `issue`. Panics unless the data hold
    /// those hours and the window's exogenous hours.
    pub fn at(data: &'a EpfDataset, layout: Layout, issue: usize) -> Self {
        assert!(
            issue >= KNOWN_HOURS && issue < data.prices().len(),
            "hour {issue} has no full history"
        );
        let first = issue - KNOWN_HOURS;
        let hours = first..(first + layout.window_hours()).min(data.prices().len());
        let first_day = first / HOURS_PER_DAY;
        let days = (first % HOURS_PER_DAY + layout.window_hours()).div_ceil(HOURS_PER_DAY);
        Self {
            // Prices strictly before the issue time: a target price cannot reach it.
            known_prices: &data.prices()[first..issue],
            exogenous: layout
                .exogenous
                .then(|| [0, 1].map(|index| &data.exogenous(index)[hours.clone()])),
            first_hour_of_day: first % HOURS_PER_DAY,
            calendar: (first_day..first_day + days)
                .map(|day| data.calendar(day.min(data.days() - 1)))
                .collect(),
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

    /// The level of the forecast issued at hour `issue`: from the 168 hours before it only.
    pub fn of(data: &EpfDataset, norm: &Normalization, layout: Layout, issue: usize) -> Self {
        Self::of_known(norm, layout, &data.prices()[issue - KNOWN_HOURS..issue])
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
    /// Hours the target tokens span: the horizon rounded up to whole days.
    pub fn target_hours(&self) -> usize {
        self.horizon_hours.div_ceil(HOURS_PER_DAY) * HOURS_PER_DAY
    }

    /// Hours the inputs span: the known week and the target hours.
    pub fn window_hours(&self) -> usize {
        KNOWN_HOURS + self.target_hours()
    }

    /// Tokens per forecast: `window_hours / patch_hours` (8 day tokens for horizons up to a
    /// day).
    pub fn tokens(&self) -> usize {
        self.window_hours() / self.patch_hours
    }

    /// Tokens that cover the target hours.
    pub fn target_tokens(&self) -> usize {
        self.target_hours() / self.patch_hours
    }

    /// Hours between issue times: the horizon for horizons shorter than a day (1 h: every
    /// hour, 6 h: four times a day), else a day (issued at midnight).
    pub fn issue_every_hours(&self) -> usize {
        self.horizon_hours.min(HOURS_PER_DAY)
    }

    /// The issue times (hour indices) whose inputs and targets lie in `days`: on the issue
    /// grid, with a full week before them and all `horizon_hours` targets inside.
    pub fn issues(&self, days: std::ops::Range<usize>) -> impl Iterator<Item = usize> + use<> {
        self.issues_every(days, self.issue_every_hours())
    }

    /// As [`Layout::issues`], every `every` hours (from each day's midnight) instead of on
    /// the grid.
    pub fn issues_every(
        &self,
        days: std::ops::Range<usize>,
        every: usize,
    ) -> impl Iterator<Item = usize> + use<> {
        let (start, end) = (days.start * HOURS_PER_DAY, days.end * HOURS_PER_DAY);
        let horizon = self.horizon_hours;
        (start.max(KNOWN_HOURS)..end)
            .step_by(every.max(1))
            .filter(move |issue| issue + horizon <= end)
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
    // Exogenous day-ahead forecasts exist for the day after the issue time, not beyond.
    let exogenous_known = KNOWN_HOURS + HOURS_PER_DAY;
    for token in 0..layout.tokens() {
        let start = token * p;
        let on_target = start >= KNOWN_HOURS;
        if on_target {
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
                out.extend((start..start + p).map(|hour| match series.get(hour) {
                    Some(&value) if hour < exogenous_known => {
                        norm.exogenous_to_model(index, value) as f32
                    }
                    _ => 0.0,
                }));
            }
        }
        out.push(if on_target { 1.0 } else { 0.0 });
        let clock = window.first_hour_of_day + start;
        let hour_angle = TAU * (clock % HOURS_PER_DAY) as f64 / HOURS_PER_DAY as f64;
        out.push(hour_angle.sin() as f32);
        out.push(hour_angle.cos() as f32);
        let calendar = window.calendar[clock / HOURS_PER_DAY];
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

/// Appends the `horizon_hours` target prices of the forecast issued at hour `issue` to
/// `out`: model space, standardised by `level`.
pub fn targets(
    data: &EpfDataset,
    norm: &Normalization,
    layout: Layout,
    level: Level,
    issue: usize,
    out: &mut Vec<f32>,
) {
    out.extend(
        data.prices()[issue..issue + layout.horizon_hours]
            .iter()
            .map(|&p| level.apply(norm.price_to_model(p)) as f32),
    );
}

/// Inputs and targets of many forecasts, flattened row-major (`[issues, tokens, width]`,
/// `[issues, horizon_hours]`).
#[derive(Debug, Clone)]
pub(crate) struct Samples {
    /// Issue times (hour indices), one per row.
    pub(crate) issues: Vec<usize>,
    pub(crate) levels: Vec<Level>,
    pub(crate) inputs: Vec<f32>,
    pub(crate) targets: Vec<f32>,
}

impl Samples {
    /// Every forecast issued in `days` whose targets lie in `days` too
    /// ([`Layout::issues`]): training never reads a target past its period.
    pub(crate) fn build(
        data: &EpfDataset,
        norm: &Normalization,
        layout: Layout,
        days: Range<usize>,
    ) -> Self {
        Self::build_every(data, norm, layout, days, None)
    }

    /// As [`Samples::build`], with forecasts issued every `every` hours when given.
    pub(crate) fn build_every(
        data: &EpfDataset,
        norm: &Normalization,
        layout: Layout,
        days: Range<usize>,
        every: Option<usize>,
    ) -> Self {
        let issues: Vec<usize> = match every {
            Some(every) => layout.issues_every(days, every).collect(),
            None => layout.issues(days).collect(),
        };
        let mut inputs = Vec::with_capacity(issues.len() * layout.input_len());
        let mut targets = Vec::with_capacity(issues.len() * layout.horizon_hours);
        let mut levels = Vec::with_capacity(issues.len());
        for &issue in &issues {
            let level = Level::of(data, norm, layout, issue);
            window_inputs(norm, layout, &Window::at(data, layout, issue), &mut inputs);
            self::targets(data, norm, layout, level, issue, &mut targets);
            levels.push(level);
        }
        Self {
            issues,
            levels,
            inputs,
            targets,
        }
    }
}

/// Something built once per distinct [`Layout`] of an ensemble whose members may cut their
/// window into tokens of different sizes
/// ([`TrainConfig::member_patch_hours`](crate::TrainConfig::member_patch_hours)).
#[derive(Debug, Clone)]
pub(crate) struct PerLayout<T> {
    built: Vec<(Layout, T)>,
    /// Index into `built` of each member.
    of_member: Vec<usize>,
}

impl<T> PerLayout<T> {
    /// Calls `build` once for each distinct layout of `member_layouts`.
    pub(crate) fn build(member_layouts: &[Layout], mut build: impl FnMut(Layout) -> T) -> Self {
        let mut built: Vec<(Layout, T)> = Vec::new();
        let of_member = member_layouts
            .iter()
            .map(|&layout| {
                built
                    .iter()
                    .position(|(seen, _)| *seen == layout)
                    .unwrap_or_else(|| {
                        built.push((layout, build(layout)));
                        built.len() - 1
                    })
            })
            .collect();
        Self { built, of_member }
    }

    /// Member `member`'s layout and what was built for it.
    pub(crate) fn member(&self, member: usize) -> (Layout, &T) {
        let (layout, value) = &self.built[self.of_member[member]];
        (*layout, value)
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
            horizon_hours: 24,
        };
        assert_eq!(
            (day.tokens(), day.target_tokens(), day.token_width()),
            (8, 1, 84)
        );
        let hour = Layout {
            patch_hours: 1,
            instance_norm: false,
            exogenous: true,
            horizon_hours: 24,
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
        // A week ahead: seven target day tokens, issued every midnight.
        let week = Layout {
            horizon_hours: 168,
            ..day
        };
        assert_eq!((week.tokens(), week.target_tokens()), (14, 7));
        assert_eq!(week.issues(0..15).collect::<Vec<_>>(), [168, 192]);
        // An hour ahead: one target token, issued every hour.
        let next_hour = Layout {
            horizon_hours: 1,
            ..day
        };
        assert_eq!((next_hour.tokens(), next_hour.target_tokens()), (8, 1));
        assert_eq!(next_hour.issues(7..8).count(), 24);
        let six = Layout {
            horizon_hours: 6,
            ..day
        };
        assert_eq!(
            six.issues(7..9).collect::<Vec<_>>(),
            [168, 174, 180, 186, 192, 198, 204, 210]
        );
        // Training issues every 6 hours: every window's targets stay inside the days.
        assert_eq!(
            day.issues_every(7..10, 6).collect::<Vec<_>>(),
            [168, 174, 180, 186, 192, 198, 204, 210, 216]
        );
        assert_eq!(day.issues(7..10).collect::<Vec<_>>(), [168, 192, 216]);
    }
}
