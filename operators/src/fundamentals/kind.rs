//! The `fundamentals` operator kind: its pipeline-file table and plan node.

use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, Built, OperatorKind, OperatorPlan, Stream, StreamKind,
};
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use serde::Deserialize;

use super::Fundamentals;

/// `[operators.NAME]` with `kind = "fundamentals"`. It has no fields of its own.
///
/// Inputs are sources (observations) that publish quantities, such as the EIA weekly
/// storage report; prices and FX rates among them are ignored.
///
/// ```toml
/// [operators.fundamentals]
/// kind = "fundamentals"
/// inputs = ["gas_storage"]
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundamentalsConfig {}

/// Registers as `kind = "fundamentals"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FundamentalsKind;

struct FundamentalsPlan;

impl OperatorKind for FundamentalsKind {
    fn kind(&self) -> &'static str {
        "fundamentals"
    }

    fn summary(&self) -> &'static str {
        "quantities (gas storage, ...) to UTC intervals; dedup and revisions"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn OperatorPlan>, Vec<ConfigError>> {
        let _: FundamentalsConfig = config.deserialize()?;
        Ok(Arc::new(FundamentalsPlan))
    }
}

impl OperatorPlan for FundamentalsPlan {
    fn describe(&self) -> String {
        "quantities to UTC; one current value per series, location and interval".to_string()
    }

    fn accepts(&self) -> &'static [StreamKind] {
        &[StreamKind::Observations]
    }

    fn output(&self) -> StreamKind {
        StreamKind::Quantities
    }

    fn build<'scope>(&self, inputs: Vec<Stream<'scope>>, _context: &BuildContext) -> Built<'scope> {
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
            .expect("the plan gives fundamentals at least one input");
        let all = observations.fold(first, |all, next| all.concat(next));
        let (quantities, rejects) = all.fundamentals();
        Built {
            output: Stream::Quantities(quantities),
            rejects,
        }
    }
}
