//! `fundamentals`: published quantities (gas in storage; later load, generation) to UTC
//! intervals, one current value per key.
//!
//! Two stages, both incremental:
//! 1. **Time**: each [`PublishedQuantity`]'s native interval is resolved to UTC
//!    ([`NativeInterval::resolve`](gridflow_engine::record::NativeInterval::resolve)); an
//!    impossible or ambiguous local time is a reject. The value and its unit are kept as
//!    published: a quantity has no currency, and no unit is converted.
//! 2. **Versions**: per [`QuantityKey`] the greatest [`Version`] is current, by the rule
//!    `normalize` applies to prices ([`crate::versions`]): an identical re-publication
//!    changes nothing, a changed value retracts the old record and inserts the new one.
//!
//! Prices and FX rates are not quantities: `fundamentals` ignores them (a source may feed
//! both operators; `normalize` refuses quantities with a reject that names this operator).
//!
//! Stage 2 is differential's `reduce` per key: fundamentals are a few rows a week per
//! region, far from the volumes that made `normalize` keep its own state.

mod kind;

use gridflow_engine::Collection;
use gridflow_engine::record::{
    Observation, PublishedQuantity, QuantityKey, QuantityRecord, Reject, Version,
};

pub use kind::{FundamentalsConfig, FundamentalsKind};

use crate::versions::current_version;

/// Resolves and versions the quantities of a collection of observations.
pub trait Fundamentals<'scope> {
    /// Current quantities (one per [`QuantityKey`]) and the rejects of times that cannot be
    /// resolved.
    fn fundamentals(
        self,
    ) -> (
        Collection<'scope, QuantityRecord>,
        Collection<'scope, Reject>,
    );
}

impl<'scope> Fundamentals<'scope> for Collection<'scope, Observation> {
    fn fundamentals(
        self,
    ) -> (
        Collection<'scope, QuantityRecord>,
        Collection<'scope, Reject>,
    ) {
        let resolved = self.flat_map(|observation| match observation {
            Observation::Quantity(quantity) => Some(resolve(quantity)),
            Observation::Price(_) | Observation::Rate(_) => None,
        });
        let rejects = resolved.clone().flat_map(Result::err);
        let current = resolved
            .flat_map(Result::ok)
            .map(|record| (record.key.clone(), record))
            .reduce_named(
                "Fundamentals: current version",
                |_key, versions, output: &mut Vec<(QuantityRecord, isize)>| {
                    if let Some(current) = current_version(versions) {
                        output.push((QuantityRecord::clone(current), 1));
                    }
                },
            )
            .map(|(_key, record)| record);
        (current, rejects)
    }
}

fn describe(quantity: &PublishedQuantity) -> String {
    format!(
        "{} {} {} {} {:?} {} {}",
        quantity.market,
        quantity.product,
        quantity.series,
        quantity.location,
        quantity.interval,
        quantity.value,
        quantity.unit
    )
}

/// Stage 1: the UTC interval; the value and unit as published.
fn resolve(published: PublishedQuantity) -> Result<QuantityRecord, Reject> {
    let interval = published.interval.resolve().map_err(|error| {
        Reject::new(
            published.origin.clone(),
            "fundamentals",
            &describe(&published),
            error.to_string(),
        )
    })?;
    Ok(QuantityRecord {
        key: QuantityKey {
            interval_start: interval.start,
            market: published.market,
            product: published.product,
            series: published.series,
            location: published.location,
        },
        location_type: published.location_type,
        interval_end: interval.end,
        value: published.value,
        unit: published.unit,
        version: Version {
            revision: published.revision,
            // The runtime stamps the ingestion time on values that do not state one.
            published_at: published
                .published_at
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        },
        origin: published.origin,
    })
}

#[cfg(test)]
mod tests;
