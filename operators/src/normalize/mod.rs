//! `normalize`: published values to UTC, base currency and per-MWh prices, with revisions.
//!
//! Three stages, all incremental:
//! 1. **Time and unit**: each [`PublishedPrice`]'s native interval is resolved to UTC
//!    ([`NativeInterval::resolve`]); prices per kWh become per MWh. Impossible or ambiguous
//!    local times become rejects.
//! 2. **Currency** ([`currency`]): the ECB rate in force for the interval's UTC date; a
//!    price with no rate in force is a reject, retracted if the rate arrives later.
//! 3. **Versions**: per [`PriceKey`] the greatest [`Version`] is current; among versions
//!    carrying the same value the earliest is kept, so an identical re-publication changes
//!    nothing while a changed value retracts the old record and inserts the new one (the
//!    rule of [`crate::versions`], shared with `fundamentals`).
//!
//! Quantities (gas in storage, ...) are not prices: `normalize` refuses each with a reject
//! that names the `fundamentals` operator, rather than dropping it.
//!
//! Stage 1 is a stateless routing step; stages 2 and 3 share one stateful operator per
//! worker ([`state`]), fed prices by (market, location) and every rate. Its output is the
//! differential collection a `join` with the rates followed by a `reduce` per key would
//! give, maintained in a hash map: nearly every key is written once, and differential's
//! sorted indexes spent most of the run merging batches no later update would read.

mod currency;
mod kind;
mod operator;
mod state;

use std::sync::Arc;

use gridflow_engine::Collection;
use gridflow_engine::record::{
    Components, Currency, Observation, Price, PriceKey, PriceRecord, PublishedPrice,
    PublishedQuantity, Reject, Version,
};

use crate::versions::current_version;

pub use kind::{NormalizeConfig, NormalizeKind};

/// A record shared between the operator's state and its output, not copied.
type Shared = Arc<PriceRecord>;

/// What normalization needs to know.
#[derive(Clone, Copy, Debug)]
pub struct NormalizeSettings {
    /// The currency every price is converted to.
    pub base_currency: Currency,
    /// Days an ECB rate stays in force when no newer one is published.
    pub max_rate_age_days: u8,
}

/// Normalizes a collection of observations.
pub trait Normalize<'scope> {
    /// Normalized prices (one current record per [`PriceKey`]) and rejects.
    fn normalize(
        self,
        settings: NormalizeSettings,
    ) -> (Collection<'scope, PriceRecord>, Collection<'scope, Reject>);
}

impl<'scope> Normalize<'scope> for Collection<'scope, Observation> {
    fn normalize(
        self,
        settings: NormalizeSettings,
    ) -> (Collection<'scope, PriceRecord>, Collection<'scope, Reject>) {
        let (prices, rates, time_rejects) = operator::route(self);
        let (current, conversion_rejects) = operator::convert_and_version(prices, rates, settings);
        (current, time_rejects.concat(conversion_rejects))
    }
}

fn scale(price: Price, factor: i64) -> Option<Price> {
    price.micros().checked_mul(factor).map(Price::from_micros)
}

fn describe(price: &PublishedPrice) -> String {
    format!(
        "{} {} {} {:?} {} {}/{}",
        price.market,
        price.product,
        price.location,
        price.interval,
        price.price,
        price.currency,
        price.unit
    )
}

/// The reject of a quantity that reached `normalize`.
fn quantity_reject(quantity: &PublishedQuantity) -> Reject {
    Reject::new(
        quantity.origin.clone(),
        "normalize",
        &format!(
            "{} {} {} {} {:?} {} {}",
            quantity.market,
            quantity.product,
            quantity.series,
            quantity.location,
            quantity.interval,
            quantity.value,
            quantity.unit
        ),
        format!(
            "{} is a quantity, not a price: `normalize` converts prices only; route this \
             source through a `fundamentals` operator",
            quantity.series
        ),
    )
}

/// Stage 1: UTC interval and normalized unit, still in the published currency.
fn resolve(published: PublishedPrice) -> Result<PriceRecord, Reject> {
    let interval = match published.interval.resolve() {
        Ok(interval) => interval,
        Err(error) => {
            return Err(Reject::new(
                published.origin.clone(),
                "normalize",
                &describe(&published),
                error.to_string(),
            ));
        }
    };
    let (unit, factor) = published.unit.normalized();
    let scaled = |value: Option<Price>| value.and_then(|v| scale(v, factor));
    let Some(price) = scale(published.price, factor) else {
        return Err(Reject::new(
            published.origin.clone(),
            "normalize",
            &describe(&published),
            "price overflows after unit conversion",
        ));
    };
    Ok(PriceRecord {
        key: PriceKey {
            market: published.market,
            location: published.location,
            product: published.product,
            interval_start: interval.start,
        },
        location_type: published.location_type,
        interval_end: interval.end,
        price,
        currency: published.currency,
        unit,
        components: Components {
            energy: scaled(published.components.energy),
            congestion: scaled(published.components.congestion),
            loss: scaled(published.components.loss),
            greenhouse_gas: scaled(published.components.greenhouse_gas),
        },
        native_price: published.price,
        native_currency: published.currency,
        native_unit: published.unit,
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
