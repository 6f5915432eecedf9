//! The `normalize` operator kind: its pipeline-file table and plan node.

use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, Built, OperatorKind, OperatorPlan, Stream, StreamKind,
};
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use serde::Deserialize;

use super::{Normalize, NormalizeSettings};

/// `[operators.NAME]` with `kind = "normalize"`.
///
/// Inputs are sources (observations); FX rate sources go in the same `inputs` list.
/// The base currency is the pipeline's `[pipeline] base_currency`.
///
/// ```toml
/// [operators.normalize]
/// kind = "normalize"
/// inputs = ["spp_da", "nordpool", "ecb_rates"]
/// max_rate_age_days = 7
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Days an ECB reference rate stays in force when no newer one is published (weekends
    /// and TARGET holidays have none). A price dated later than that after the last rate
    /// is rejected rather than converted with a stale rate. Default 7; at most 31.
    /// Example: `max_rate_age_days = 4`.
    #[serde(default = "default_max_rate_age_days")]
    pub max_rate_age_days: u8,
}

fn default_max_rate_age_days() -> u8 {
    7
}

/// Registers as `kind = "normalize"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NormalizeKind;

struct NormalizePlan {
    config: NormalizeConfig,
}

impl OperatorKind for NormalizeKind {
    fn kind(&self) -> &'static str {
        "normalize"
    }

    fn summary(&self) -> &'static str {
        "native time, currency and units to UTC, base currency per MWh; dedup and revisions"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn OperatorPlan>, Vec<ConfigError>> {
        let parsed: NormalizeConfig = config.deserialize()?;
        if parsed.max_rate_age_days > 31 {
            return Err(vec![config.error(
                Some(config.span_of("max_rate_age_days")),
                format!(
                    "max_rate_age_days = {} is more than 31",
                    parsed.max_rate_age_days
                ),
            )]);
        }
        Ok(Arc::new(NormalizePlan { config: parsed }))
    }
}

impl OperatorPlan for NormalizePlan {
    fn describe(&self) -> String {
        format!(
            "UTC, base currency, per MWh; rates in force up to {} days",
            self.config.max_rate_age_days
        )
    }

    fn accepts(&self) -> &'static [StreamKind] {
        &[StreamKind::Observations]
    }

    fn output(&self) -> StreamKind {
        StreamKind::Prices
    }

    fn build<'scope>(&self, inputs: Vec<Stream<'scope>>, context: &BuildContext) -> Built<'scope> {
        let settings = NormalizeSettings {
            base_currency: context.settings.base_currency,
            max_rate_age_days: self.config.max_rate_age_days,
        };
        let mut observations = inputs.into_iter().filter_map(|stream| match stream {
            Stream::Observations(collection) => Some(collection),
            // The plan's type check admits only observations.
            Stream::Prices(_)
            | Stream::Quantities(_)
            | Stream::Regimes(_)
            | Stream::Forecasts(_) => None,
        });
        let first = observations
            .next()
            .expect("the plan gives normalize at least one input");
        let all = observations.fold(first, |all, next| all.concat(next));
        let (prices, rejects) = all.normalize(settings);
        Built {
            output: Stream::Prices(prices),
            rejects,
        }
    }
}
