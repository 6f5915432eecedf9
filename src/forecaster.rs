//! The `forecast` operator's model: a `gridflow-forecast` [`TrainedModel`] behind the
//! operator's [`Forecaster`] trait (the operators crate does not depend on burn).

use std::path::Path;
use std::sync::Arc;

use gridflow_forecast::features::Window;
use gridflow_forecast::train::coverage_factor;
use gridflow_forecast::trained::HourDistribution;
use gridflow_forecast::{DeviceChoice, TrainedModel};
use gridflow_operators::{ForecastWindow, Forecaster, ForecasterLoader, HourForecast};

/// Loads models saved by `gridflow train`, prices-only ones (`--prices-only`) and those
/// reading the two exogenous series, which the pipeline then names in `exogenous`.
#[derive(Clone, Copy, Debug, Default)]
pub struct BurnForecasterLoader;

impl ForecasterLoader for BurnForecasterLoader {
    fn load(&self, model: &Path, device: &str) -> Result<Arc<dyn Forecaster>, String> {
        let device: DeviceChoice = device.parse().map_err(|e| format!("{e}"))?;
        let trained = TrainedModel::load(model, device).map_err(|e| e.to_string())?;
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

    fn exogenous(&self) -> Vec<String> {
        if self.model.reads_exogenous() {
            self.model.meta().columns[2..].to_vec()
        } else {
            Vec::new()
        }
    }

    fn forecast(&self, windows: &[ForecastWindow<'_>]) -> Result<Vec<HourForecast>, String> {
        let layout = self.model.meta().config.model.layout();
        let windows: Vec<Window<'_>> = windows
            .iter()
            .map(|window| {
                let exogenous = match window.exogenous {
                    [first, second] => Some([first.as_slice(), second.as_slice()]),
                    _ => None,
                };
                Window::of_series(window.known_prices, exogenous, window.issue_hour, layout)
            })
            .collect();
        let hours = self
            .model
            .predict_windows(&windows)
            .map_err(|e| e.to_string())?;
        Ok(hours
            .iter()
            .map(|hour| HourForecast {
                location: hour.loc,
                scale: hour.scale,
            })
            .collect())
    }

    fn quantile(&self, hour: HourForecast, tau: f64) -> f64 {
        let norm = &self.model.meta().normalization;
        let distribution = distribution(hour);
        // The median exactly as `gridflow eval` writes it.
        if tau == 0.5 {
            distribution.median(norm)
        } else {
            distribution.quantile(norm, tau)
        }
    }

    fn standardized_error(&self, hour: HourForecast, price: f64) -> f64 {
        let norm = &self.model.meta().normalization;
        (norm.price_to_model(price) - hour.location).abs() / hour.scale
    }

    fn interval_window_days(&self) -> usize {
        self.model.meta().config.interval_window_days
    }

    fn interval_factor(&self, errors: Vec<f64>) -> f64 {
        coverage_factor(errors)
    }
}

fn distribution(hour: HourForecast) -> HourDistribution {
    HourDistribution {
        loc: hour.location,
        scale: hour.scale,
    }
}
