//! Forecasts: what the `forecast` operator predicts for each hour of a price series' next
//! day (or its model's horizon: 1 hour, 6 hours, a week) — the median and a central 90 %
//! interval, in the series' currency and unit.
//!
//! Values are exact fixed-point [`Price`]s, rounded once from the model's output: a
//! forecast recomputed because of a revision elsewhere in its series must compare equal
//! to the one already emitted when its own inputs did not change, so that differential
//! dataflow cancels nothing wrongly and emits nothing spuriously.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Currency, Market, Price, Product, Unit};

/// The identity of a forecast row: one per operator, series, issue and forecast hour.
///
/// Hashed like [`PriceKey`](super::PriceKey), on market and location only, so a series'
/// forecasts stay on the worker that holds its prices.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ForecastKey {
    /// UTC start of the hour forecast.
    pub interval_start: Timestamp,
    /// Market of the series.
    pub market: Market,
    /// Product of the series (the forecast is of its prices).
    pub product: Product,
    /// Location of the series.
    pub location: Arc<str>,
    /// The instant the forecast is made as of (its issue time: the start of the forecast
    /// day for a day-ahead model). It reads the series' prices of intervals that end by
    /// then, and nothing later.
    pub issued_at: Timestamp,
    /// The `forecast` operator's name in the pipeline file.
    pub operator: Arc<str>,
}

impl std::hash::Hash for ForecastKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.market.hash(state);
        self.location.hash(state);
    }
}

/// A forecast row: the lake's `forecasts` table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ForecastRecord {
    /// Identity.
    pub key: ForecastKey,
    /// UTC end of the hour forecast (exclusive).
    pub interval_end: Timestamp,
    /// Hours from `issued_at` to `interval_end`: 1 for the first hour forecast, 24 for the
    /// last hour of a day-ahead forecast (168 for a week-ahead one).
    pub horizon_hours: u16,
    /// The point forecast: the predictive distribution's median.
    pub median: Price,
    /// The 5 % quantile: the lower end of the central 90 % interval.
    pub lower_90: Price,
    /// The 95 % quantile: the upper end of the central 90 % interval.
    pub upper_90: Price,
    /// Currency of the three values (the series' currency: the pipeline's base currency).
    pub currency: Currency,
    /// Unit of the three values.
    pub unit: Unit,
    /// The model: the name the operator gives it (its folder's name by default).
    pub model: Arc<str>,
}
