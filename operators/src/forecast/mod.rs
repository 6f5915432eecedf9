//! `forecast`: probabilistic forecasts of every hourly price series — the next day, or the
//! model's own horizon (1 hour, 6 hours, a week) — kept current as prices arrive and are
//! revised.
//!
//! A **series** is one (market, product, location). The operator reads its prices whose
//! interval is exactly one hour and starts on the hour; other prices (5-minute, 15-minute,
//! daily) are not forecast and pass by. Days run from midnight to midnight on a fixed
//! clock, `clock_offset_hours` from UTC (1 for CET, −6 for CST, 10 for AEST), so every day
//! has 24 hours and a model trained on local days sees the days it knows.
//!
//! The rules, which make the output a function of the series' current prices alone (a
//! run with revisions and out-of-order arrivals ends with the rows a batch computation
//! over the final prices gives; `operators/src/forecast/tests/` checks this at one and
//! two workers):
//!
//! - **Issue times** are every midnight on that clock for a day-ahead model (and for
//!   horizons of whole days), every `horizon_hours` from midnight for shorter horizons
//!   (every hour for a 1-hour model). A forecast is issued at time t when each of the 168
//!   hours before t has a price; it reads exactly those prices and t's calendar, and for a
//!   model with exogenous inputs the values of each [`ExogenousInput`] for the hours from
//!   t − 168 to t + 24 (a day-ahead load or wind forecast is known a day ahead), which
//!   must all be there too. Nothing else. Every such issue time is forecast, past ones
//!   included, so the lake's forecasts are also the model's backtest on the series.
//! - A forecast is one row per hour of its horizon (24 for the next day): the median and
//!   the central 90 % interval (5 % and 95 % quantiles) in the series' currency and unit,
//!   rounded to exact [`Price`](gridflow_engine::record::Price)s, and `horizon_hours` from
//!   `issued_at` to the hour's end.
//! - **Interval recalibration** (the benchmark's rule, [`Forecaster::interval_window_days`]
//!   W > 0): the scales of every forecast issued on a day (midnight D to D + 24 h on the
//!   clock) are multiplied by the factor that would have made the 90 % intervals of the
//!   series' forecasts issued in [D − W days, D − horizon] cover 90 % of their hours with a
//!   price ([`interval_factor`]): realised errors of forecasts whose prices were all due
//!   by D, nothing later. A forecast or price that changes therefore also changes the
//!   intervals of the days whose window holds it.
//! - A price that changes (new, revised, withdrawn) at hour h changes the inputs of the
//!   forecasts issued in (h, h + 168] only: those are recomputed and, where a row differs,
//!   retracted and inserted. An exogenous value of hour h changes those of every series
//!   issued in (h − 24, h + 168]. A forecast whose inputs are no longer complete is
//!   retracted. With recalibration, the forecasts of the days whose windows read a
//!   changed forecast or price are re-emitted with their new intervals (no model call).
//!
//! **Batching.** All forecasts a logical time needs, across every series of the worker, go
//! to the model in one call ([`Forecaster::forecast`]), so a burst of prices for many
//! locations becomes one batched forward pass rather than one per series. The model must
//! give a window the same forecast whatever else is in its batch (the `gridflow-forecast`
//! model does: on the CPU its fused forward pass sums every product a forecast takes part
//! in the same way whatever the batch; on a GPU burn's batches are padded to a fixed
//! shape).
//!
//! **Exogenous inputs** are the same for every series, so every worker receives all their
//! values (a broadcast) while prices go to their series' worker; a logical time is applied
//! once neither input can still deliver anything at it.
//!
//! The model itself is behind the [`Forecaster`] trait: this crate does not depend on burn.
//! The `gridflow` binary registers the kind with a loader for `gridflow-forecast` models
//! (saved by `gridflow train`).

mod kind;
mod state;

use std::path::Path;
use std::sync::Arc;

use gridflow_engine::Collection;
use gridflow_engine::record::{ForecastRecord, Market, PriceRecord, QuantityRecord};

use crate::series::{SeriesFilter, in_time_order_with};

pub use kind::{ExogenousConfig, ForecastConfig, ForecastKind};

/// Hours in a forecast day.
pub(crate) const HOURS_PER_DAY: usize = 24;
/// Days of prices before the forecast day that a forecast reads.
pub(crate) const HISTORY_DAYS: usize = 7;

/// Hours of exogenous values a forecast reads: the week before the issue time and the day
/// after it (day-ahead forecasts of load or wind are known a day ahead).
pub const EXOGENOUS_WINDOW_HOURS: usize = (HISTORY_DAYS + 1) * HOURS_PER_DAY;

/// What one forecast reads.
#[derive(Clone, Copy, Debug)]
pub struct ForecastWindow<'a> {
    /// The 168 hourly prices before the issue time, oldest first, as numbers in the
    /// series' currency per unit.
    pub known_prices: &'a [f64],
    /// The exogenous series the operator's `exogenous` names, in that order: each its
    /// [`EXOGENOUS_WINDOW_HOURS`] hourly values from 168 hours before the issue time to 24
    /// hours after it, in the published unit. Empty for a prices-only model.
    pub exogenous: &'a [Vec<f64>],
    /// The issue time: hours since 1970-01-01T00:00 on the operator's clock (so its hour of
    /// day, weekday and day of year are the local ones).
    pub issue_hour: i64,
}

/// The forecast of one hour as the model gives it: a distribution with a location and a
/// scale in the model's own space (for the burn model, a Gaussian over a transform of the
/// price). [`Forecaster::quantile`] turns it into prices; the operator only widens or
/// narrows its scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HourForecast {
    /// Location (the median maps to it).
    pub location: f64,
    /// Scale (> 0).
    pub scale: f64,
}

/// Divides the 90th percentile of standardised absolute errors by the standard normal's
/// 95 % quantile: the factor that would have made central 90 % intervals cover 90 % of
/// them (1 when there are none).
pub fn interval_factor(mut errors: Vec<f64>) -> f64 {
    if errors.is_empty() {
        return 1.0;
    }
    errors.sort_by(f64::total_cmp);
    let rank = ((errors.len() as f64 * 0.9).ceil() as usize).clamp(1, errors.len());
    (errors[rank - 1] / 1.644_853_626_951_472_2).max(1e-3)
}

/// A trained day-ahead model, as the operator sees it.
pub trait Forecaster: Send + Sync {
    /// One line on the model for `gridflow graph` (kind, size, training data).
    fn describe(&self) -> String;

    /// Hours forecast from each issue time: 24 for a day-ahead model, 1 to 23, or whole
    /// days up to 168.
    fn horizon_hours(&self) -> usize {
        HOURS_PER_DAY
    }

    /// What the model's exogenous inputs are, in the order it reads them (the training
    /// data's column names); empty for a prices-only model.
    fn exogenous(&self) -> Vec<String> {
        Vec::new()
    }

    /// The `horizon_hours` hourly forecasts of each window, in window order. One call
    /// carries every window a logical time needs on a worker. A window's result must not
    /// depend on the other windows of the call.
    fn forecast(&self, windows: &[ForecastWindow<'_>]) -> Result<Vec<HourForecast>, String>;

    /// The price at quantile level `tau` (0 < tau < 1) of `hour`; increasing in `tau`, the
    /// median at 0.5.
    fn quantile(&self, hour: HourForecast, tau: f64) -> f64;

    /// How far `price` lies from `hour`'s location in units of its scale, for the 90 %
    /// interval's recalibration: |model-space price − location| / scale.
    fn standardized_error(&self, hour: HourForecast, price: f64) -> f64;

    /// Days of realised errors the interval width is recalibrated from (see the module
    /// documentation); 0 keeps the model's scales. Default 0.
    fn interval_window_days(&self) -> usize {
        0
    }

    /// The scale factor of a day's forecasts from the standardised errors of the window's
    /// past forecasts. Default [`interval_factor`]; a model overrides it to use its own
    /// rounding of the same rule (so the operator's intervals equal its evaluation's).
    fn interval_factor(&self, errors: Vec<f64>) -> f64 {
        interval_factor(errors)
    }
}

/// Loads a [`Forecaster`] named by a pipeline file.
pub trait ForecasterLoader: Send + Sync {
    /// The model saved in folder `model`, on `device` (`cpu`, `cuda` or `wgpu`; a GPU that
    /// is missing falls back to the CPU with a warning), or why it cannot be used.
    fn load(&self, model: &Path, device: &str) -> Result<Arc<dyn Forecaster>, String>;
}

/// One exogenous input: the hourly quantity series ([`QuantityRecord`]s) a model input
/// reads, the same for every forecast series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExogenousInput {
    /// Its market.
    pub market: Market,
    /// What is measured (`LOAD_FORECAST`).
    pub series: Arc<str>,
    /// Where (`SYSTEM`).
    pub location: Arc<str>,
}

impl ExogenousInput {
    /// Whether `record` is a value of this input.
    pub(crate) fn matches(&self, record: &QuantityRecord) -> bool {
        record.key.market == self.market
            && record.key.series == self.series
            && record.key.location == self.location
    }
}

impl std::fmt::Display for ExogenousInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.market, self.series, self.location)
    }
}

/// Everything the operator needs, validated (see [`ForecastConfig`] for meanings).
#[derive(Clone)]
pub struct ForecastSettings {
    /// The operator's name, written into every row.
    pub name: Arc<str>,
    /// The model's name, written into every row.
    pub model_name: Arc<str>,
    /// The model.
    pub forecaster: Arc<dyn Forecaster>,
    /// The clock days run on: hours east of UTC (−12 ..= 14).
    pub clock_offset_hours: i32,
    /// The model's horizon ([`Forecaster::horizon_hours`]).
    pub horizon_hours: usize,
    /// Which series to forecast; every hourly series when empty.
    pub only: SeriesFilter,
    /// The exogenous inputs, in the model's order; empty for a prices-only model.
    pub exogenous: Vec<ExogenousInput>,
}

impl std::fmt::Debug for ForecastSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForecastSettings")
            .field("name", &self.name)
            .field("model_name", &self.model_name)
            .field("model", &self.forecaster.describe())
            .field("clock_offset_hours", &self.clock_offset_hours)
            .field("horizon_hours", &self.horizon_hours)
            .field("only", &self.only)
            .field("exogenous", &self.exogenous)
            .finish()
    }
}

/// Forecasts the next day of every hourly price series.
pub trait Forecast<'scope> {
    /// One row per hour of every forecast of every followed series (see the module
    /// documentation), maintained incrementally. `exogenous` carries the quantities the
    /// settings' [`ExogenousInput`]s name (others are ignored); `None` for a prices-only
    /// model.
    fn forecast(
        self,
        exogenous: Option<Collection<'scope, QuantityRecord>>,
        settings: &ForecastSettings,
    ) -> Collection<'scope, ForecastRecord>;
}

impl<'scope> Forecast<'scope> for Collection<'scope, PriceRecord> {
    fn forecast(
        self,
        exogenous: Option<Collection<'scope, QuantityRecord>>,
        settings: &ForecastSettings,
    ) -> Collection<'scope, ForecastRecord> {
        let only = settings.only.clone();
        let followed = self.filter(move |record| only.admits(record) && state::is_hourly(record));
        // Every worker needs every exogenous value: each forecast series reads them all.
        let inputs = settings.exogenous.clone();
        let exogenous = exogenous.filter(|_| !inputs.is_empty()).map(|quantities| {
            quantities.filter(move |record| {
                state::is_hourly_quantity(record) && inputs.iter().any(|i| i.matches(record))
            })
        });
        let mut forecasts = state::Forecasts::new(Arc::new(settings.clone()));
        in_time_order_with(
            followed,
            exogenous,
            format!("Forecast: {}", settings.name),
            move |updates, exogenous, changes| forecasts.process(updates, exogenous, changes),
        )
    }
}

#[cfg(test)]
mod tests;
