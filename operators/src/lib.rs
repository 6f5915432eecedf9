//! gridflow's incremental operators, each an extension trait on differential collections
//! plus the pipeline-file kind that configures it.
//!
//! - [`Normalize`] (`kind = "normalize"`): native time, currency and units to UTC intervals,
//!   the pipeline's base currency and per-MWh prices; identical re-publications
//!   deduplicated and changed values turned into revisions.
//! - [`Fundamentals`] (`kind = "fundamentals"`): published quantities (gas in storage, ...)
//!   to UTC intervals, with the version rule `normalize` applies to prices.
//! - [`Regime`] (`kind = "regime"`): per price series, regime probabilities from a Gaussian
//!   hidden Markov model filtered online, or Bayesian online change points, on the models
//!   of `gridflow-regime`; revisions re-run a series from the revised interval.
//! - [`Forecast`] (`kind = "forecast"`): forecasts (median, 90 % interval) of every
//!   hourly price series — the next day, or the model's horizon — batched across series
//!   into one model call per logical time. The model is behind [`Forecaster`]; the binary registers [`ForecastKind`] with
//!   the burn model's loader, so this crate does not depend on burn.
//!
//! Operators do no I/O: they see collections in and collections out.
//!
//! ```
//! use gridflow_engine::Registry;
//! let mut registry = Registry::new();
//! gridflow_operators::register(&mut registry);
//! assert!(registry.operator("normalize").is_some());
//! assert!(registry.operator("fundamentals").is_some());
//! assert!(registry.operator("regime").is_some());
//! ```

mod forecast;
mod fundamentals;
mod normalize;
mod regime;
mod series;
mod versions;

pub use forecast::{
    EXOGENOUS_WINDOW_HOURS, ExogenousConfig, ExogenousInput, Forecast, ForecastConfig,
    ForecastKind, ForecastSettings, ForecastWindow, Forecaster, ForecasterLoader, HourForecast,
    interval_factor,
};
pub use fundamentals::{Fundamentals, FundamentalsConfig, FundamentalsKind};
pub use normalize::{Normalize, NormalizeConfig, NormalizeKind, NormalizeSettings};
pub use regime::{
    HmmSettings, MethodSettings, PriorConfig, Regime, RegimeConfig, RegimeKind, RegimeSettings,
};
pub use series::SeriesFilter;

/// Adds every operator kind of this crate to `registry`.
pub fn register(registry: &mut gridflow_engine::Registry) {
    registry.add_operator(NormalizeKind);
    registry.add_operator(FundamentalsKind);
    registry.add_operator(RegimeKind);
}
