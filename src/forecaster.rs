//! The `forecast` operator's model: a `gridflow-forecast` [`TrainedModel`] behind the
//! operator's [`Forecaster`] trait (the operators crate does not depend on burn).

use std::path::Path;
use std::sync::Arc;

use gridflow_forecast::data::CalendarDay;
use gridflow_forecast::features::{KNOWN_HOURS, Window};
use gridflow_forecast::{DeviceChoice, TrainedModel};
use gridflow_operators::{ForecastWindow, Forecaster, ForecasterLoader, HourForecast};

/// Loads models saved by `gridflow train`; only prices-only ones (`--prices-only`).
#[derive(Clone, Copy, Debug, Default)]
pub struct BurnForecasterLoader;

impl ForecasterLoader for BurnForecasterLoader {
    fn load(&self, model: &Path, device: &str) -> Result<Arc<dyn Forecaster>, String> {
        let device: DeviceChoice = device.parse().map_err(|e| format!("{e}"))?;
        let trained = TrainedModel::load(model, device).map_err(|e| e.to_string())?;
        if trained.reads_exogenous() {
            return Err(format!(
                "it reads the exogenous series of {} (trained without --prices-only); the \
                 operator has prices only",
                trained.meta().dataset
            ));
        }
        Ok(Arc::new(BurnForecaster { model: trained }))
    }
}

/// A trained ensemble answering the operator's batched calls.
struct BurnForecaster {
    model: TrainedModel,
}

impl Forecaster for BurnForecaster {
    fn describe(&self) -> String {
        let meta = self.model.meta();
        format!(
            "transformer ensemble of {}, {} parameters, trained on {}",
            meta.config.ensemble,
            self.model.parameters(),
            meta.dataset
        )
    }

    fn horizon_hours(&self) -> usize {
        self.model.horizon_hours()
    }

    fn forecast(&self, windows: &[ForecastWindow<'_>]) -> Result<Vec<HourForecast>, String> {
        let layout = self.model.meta().config.model.layout();
        let windows: Vec<Window<'_>> = windows
            .iter()
            .map(|window| {
                // The window starts 168 hours before the issue time, on the local clock.
                let first = window.issue_hour - KNOWN_HOURS as i64;
                let first_hour_of_day = first.rem_euclid(24) as usize;
                let days = (first_hour_of_day + layout.window_hours()).div_ceil(24) as i64;
                let first_day = first.div_euclid(24);
                Window {
                    known_prices: window.known_prices,
                    exogenous: None,
                    first_hour_of_day,
                    calendar: (first_day..first_day + days)
                        .map(CalendarDay::from_epoch_day)
                        .collect(),
                }
            })
            .collect();
        let norm = &self.model.meta().normalization;
        let hours = self
            .model
            .predict_windows(&windows)
            .map_err(|e| e.to_string())?;
        Ok(hours
            .iter()
            .map(|hour| HourForecast {
                median: hour.median(norm),
                lower_90: hour.quantile(norm, 0.05),
                upper_90: hour.quantile(norm, 0.95),
            })
            .collect())
    }
}
