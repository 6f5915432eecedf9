//! The `forecast` operator kind: its pipeline-file table, checks and plan node.

use std::path::Path;
use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, Built, OperatorKind, OperatorPlan, Stream, StreamKind,
};
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use gridflow_engine::record::{Market, Product};
use serde::Deserialize;

use super::{ExogenousInput, Forecast, ForecastSettings, ForecasterLoader};
use crate::series::SeriesFilter;

/// `[operators.NAME]` with `kind = "forecast"`: forecasts (median and 90 % interval for
/// each hour of the model's horizon: the next day, or 1 hour, 6 hours, a week) of every
/// hourly price series of its inputs (operators producing prices), from a model trained
/// with `gridflow train [--prices-only] [--horizon H]`.
///
/// ```toml
/// [operators.forecast]
/// kind = "forecast"
/// inputs = ["normalize"]
/// model = "models/np-prices"
/// clock_offset_hours = 1
/// ```
///
/// A model trained with the exogenous series (without `--prices-only`) also reads them
/// from the pipeline: hourly quantities from an input that produces quantities (a
/// `fundamentals` operator), named in `exogenous` in the model's order:
///
/// ```toml
/// [operators.forecast]
/// kind = "forecast"
/// inputs = ["normalize", "fundamentals"]
/// model = "models/np"
/// clock_offset_hours = 1
/// exogenous = [
///     { market = "NORDPOOL", series = "LOAD_FORECAST", location = "SYSTEM" },
///     { market = "NORDPOOL", series = "WIND_POWER_FORECAST", location = "SYSTEM" },
/// ]
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastConfig {
    /// The folder of a model saved by `gridflow train` (`model.json` and
    /// `weights-<k>.bpk`), relative to the working directory. A model trained with the
    /// exogenous series needs them named in `exogenous`.
    /// Example: `model = "models/np-prices"`.
    pub model: String,
    /// The hourly quantity series that feed the model's exogenous inputs, in the order it
    /// was trained with (`gridflow graph` and the error for a wrong count name them): one
    /// `{ market, series, location }` each, as the `fundamentals` operator emits them. A
    /// forecast issued at t reads their values from t − 168 h to t + 24 h (day-ahead
    /// forecasts of load or wind are known a day ahead) and waits until all are there.
    /// Required for a model with exogenous inputs; empty (default) for a prices-only one.
    /// Example: `exogenous = [{ market = "PJM", series = "LOAD_FORECAST", location = "PJM" },
    /// { market = "PJM", series = "LOAD_FORECAST", location = "COMED" }]`.
    #[serde(default)]
    pub exogenous: Vec<ExogenousConfig>,
    /// The name written into the `model` column. Default: the folder's name.
    /// Example: `model_name = "np-prices-2025-11"`.
    pub model_name: Option<String>,
    /// Where the model runs: `"cpu"`, `"cuda"` or `"wgpu"` (GPU builds; without the GPU
    /// the CPU is used, with a warning). Default `"cpu"`. Example: `device = "cuda"`.
    #[serde(default = "default_device")]
    pub device: String,
    /// The clock forecast days run on, in hours east of UTC, −12 to 14; days always have
    /// 24 hours on it (no daylight saving). Use the market's standard time: 1 for CET
    /// (Nord Pool, EPEX), −5 for EST (PJM, NYISO), −6 for CST (ERCOT, SPP, MISO), 10 for
    /// the NEM. Default 0 (UTC). Example: `clock_offset_hours = 1`.
    #[serde(default)]
    pub clock_offset_hours: i32,
    /// Forecast only these markets; all when empty (default).
    /// Example: `markets = ["NORDPOOL"]`.
    #[serde(default)]
    pub markets: Vec<Market>,
    /// Forecast only these products; all when empty (default). Only hourly prices are
    /// forecast in any case. Example: `products = ["DAY_AHEAD_HOURLY"]`.
    #[serde(default)]
    pub products: Vec<Product>,
    /// Forecast only these locations; all when empty (default).
    /// Example: `locations = ["SYS"]`.
    #[serde(default)]
    pub locations: Vec<String>,
}

/// One entry of `exogenous`: a quantity series.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExogenousConfig {
    /// Its market. Example: `market = "NORDPOOL"`.
    pub market: Market,
    /// What is measured. Example: `series = "LOAD_FORECAST"`.
    pub series: String,
    /// Where. Example: `location = "SYSTEM"`.
    pub location: String,
}

fn default_device() -> String {
    "cpu".to_string()
}

/// Registers as `kind = "forecast"`, loading models with its [`ForecasterLoader`].
#[derive(Clone)]
pub struct ForecastKind {
    loader: Arc<dyn ForecasterLoader>,
}

impl ForecastKind {
    /// The kind, loading models with `loader` (the binary passes the burn model's loader).
    pub fn new(loader: Arc<dyn ForecasterLoader>) -> Self {
        ForecastKind { loader }
    }
}

struct ForecastPlan {
    settings: ForecastSettings,
}

impl OperatorKind for ForecastKind {
    fn kind(&self) -> &'static str {
        "forecast"
    }

    fn summary(&self) -> &'static str {
        "forecasts (median, 90 % interval) of hourly price series from a trained model"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn OperatorPlan>, Vec<ConfigError>> {
        let parsed: ForecastConfig = config.deserialize()?;
        let name = config.name();
        let mut errors = Vec::new();
        if !(-12..=14).contains(&parsed.clock_offset_hours) {
            errors.push(config.error(
                Some(config.span_of("clock_offset_hours")),
                format!(
                    "`clock_offset_hours` = {} is not a UTC offset: -12 to 14",
                    parsed.clock_offset_hours
                ),
            ));
        }
        if !["cpu", "cuda", "wgpu"].contains(&parsed.device.as_str()) {
            errors.push(config.error(
                Some(config.span_of("device")),
                format!("unknown device `{}`; known: cpu, cuda, wgpu", parsed.device),
            ));
        }
        let folder = Path::new(&parsed.model);
        let forecaster = match self.loader.load(folder, &parsed.device) {
            Ok(forecaster) => Some(forecaster),
            Err(message) => {
                errors.push(
                    config
                        .error(
                            Some(config.span_of("model")),
                            format!("cannot use model `{}`: {message}", parsed.model),
                        )
                        .with_help("train one with `gridflow train --epf FILE --model FOLDER`"),
                );
                None
            }
        };
        if let Some(forecaster) = &forecaster {
            let reads = forecaster.exogenous();
            if reads.len() != parsed.exogenous.len() {
                let field = if parsed.exogenous.is_empty() {
                    "model"
                } else {
                    "exogenous"
                };
                let message = if reads.is_empty() {
                    format!(
                        "model `{}` reads prices only; `exogenous` names {} series it has no \
                         input for",
                        parsed.model,
                        parsed.exogenous.len()
                    )
                } else {
                    format!(
                        "model `{}` reads {} exogenous series ({}); `exogenous` names {}",
                        parsed.model,
                        reads.len(),
                        reads.join(", "),
                        parsed.exogenous.len()
                    )
                };
                errors.push(
                    config
                        .error(Some(config.span_of(field)), message)
                        .with_help(
                            "name the hourly quantity series that carry them, in that order: \
                             `exogenous = [{ market = \"NORDPOOL\", series = \"LOAD_FORECAST\", \
                             location = \"SYSTEM\" }, ...]`, from a `fundamentals` input",
                        ),
                );
            }
        }
        let (Some(forecaster), true) = (forecaster, errors.is_empty()) else {
            return Err(errors);
        };
        let model_name = parsed.model_name.clone().unwrap_or_else(|| {
            folder.file_name().map_or_else(
                || parsed.model.clone(),
                |n| n.to_string_lossy().into_owned(),
            )
        });
        let horizon_hours = forecaster.horizon_hours();
        Ok(Arc::new(ForecastPlan {
            settings: ForecastSettings {
                name: Arc::from(name),
                model_name: Arc::from(model_name),
                forecaster,
                clock_offset_hours: parsed.clock_offset_hours,
                horizon_hours,
                only: SeriesFilter {
                    markets: parsed.markets,
                    products: parsed.products,
                    locations: parsed
                        .locations
                        .iter()
                        .map(|l| Arc::from(l.as_str()))
                        .collect(),
                },
                exogenous: parsed
                    .exogenous
                    .iter()
                    .map(|input| ExogenousInput {
                        market: input.market,
                        series: Arc::from(input.series.as_str()),
                        location: Arc::from(input.location.as_str()),
                    })
                    .collect(),
            },
        }))
    }
}

impl OperatorPlan for ForecastPlan {
    fn describe(&self) -> String {
        let mut text = format!(
            "{} ({}); {} h ahead; days on UTC{:+}",
            self.settings.model_name,
            self.settings.forecaster.describe(),
            self.settings.horizon_hours,
            self.settings.clock_offset_hours
        );
        let model_reads = self.settings.forecaster.exogenous();
        for (input, column) in self.settings.exogenous.iter().zip(&model_reads) {
            text.push_str(&format!("; {column} from {input}"));
        }
        text
    }

    fn accepts(&self) -> &'static [StreamKind] {
        &[StreamKind::Prices, StreamKind::Quantities]
    }

    fn requires(&self) -> Vec<StreamKind> {
        let mut kinds = vec![StreamKind::Prices];
        if !self.settings.exogenous.is_empty() {
            kinds.push(StreamKind::Quantities);
        }
        kinds
    }

    fn output(&self) -> StreamKind {
        StreamKind::Forecasts
    }

    fn build<'scope>(&self, inputs: Vec<Stream<'scope>>, _context: &BuildContext) -> Built<'scope> {
        let quantities: Vec<_> = inputs
            .iter()
            .filter_map(|stream| match stream {
                Stream::Quantities(collection) => Some(collection.clone()),
                _ => None,
            })
            .collect();
        let all = crate::series::all_prices(inputs, "forecast");
        let scope = all.scope();
        let exogenous = quantities.into_iter().reduce(|all, next| all.concat(next));
        Built {
            output: Stream::Forecasts(all.forecast(exogenous, &self.settings)),
            // Prices the model does not read (not hourly) pass by; nothing is refused.
            rejects: differential_dataflow::collection::concatenate(scope, Vec::new()),
        }
    }
}
