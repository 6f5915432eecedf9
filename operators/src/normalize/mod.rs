//! `normalize`: published values to UTC, base currency and per-MWh prices, with revisions.
//!
//! Three stages, all incremental:
//! 1. **Time and unit**: each [`PublishedPrice`]'s native interval is resolved to UTC
//!    ([`NativeInterval::resolve`]); prices per kWh become per MWh. Impossible or ambiguous
//!    local times become rejects.
//! 2. **Currency** ([`currency`]): an as-of join with the ECB rates in the same stream; a
//!    price with no rate in force for its date is a reject, retracted if the rate arrives.
//! 3. **Versions**: per [`PriceKey`] the greatest [`Version`] is current; among versions
//!    carrying the same value the earliest is kept, so an identical re-publication changes
//!    nothing while a changed value retracts the old record and inserts the new one.

mod currency;
mod kind;
mod split;

use std::sync::Arc;

use split::Either;

use gridflow_engine::Collection;
use gridflow_engine::record::{
    Components, Currency, Observation, Price, PriceKey, PriceRecord, PublishedPrice, Reject,
    Version,
};

pub use kind::{NormalizeConfig, NormalizeKind};

/// A record shared between differential's indexes inside the operator.
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
        let (rates, prices) = split::split(self, |observation| match observation {
            Observation::Rate(rate) => Either::Left((rate.currency, (rate.date, rate.per_euro))),
            Observation::Price(price) => Either::Right(price),
        });
        // Inside the operator records are shared, not copied: differential moves and clones
        // its values many times while sorting and merging its indexes, and a pointer is
        // cheaper to move than a 200-byte record.
        let (in_native_currency, time_rejects) =
            split::split(prices, |price| match resolve(price) {
                Ok(record) => Either::Left(Arc::new(record)),
                Err(reject) => Either::Right(reject),
            });

        let (converted, currency_rejects) = currency::convert(in_native_currency, rates, settings);
        let current = converted
            .map(|record| (record.key.clone(), record))
            .reduce_named("Normalize: current version", |_key, versions, output| {
                if let Some(record) = current_version(versions) {
                    output.push((record.clone(), 1));
                }
            })
            .map(|(_key, record)| Arc::unwrap_or_clone(record));
        // The antijoin behind a missing-rate reject emits a reject and its retraction at the
        // same time when the rate is already there; consolidating keeps both out of the lake.
        (current, time_rejects.concat(currency_rejects).consolidate())
    }
}

/// The value a record carries, ignoring when and where it was learned.
fn same_value(a: &PriceRecord, b: &PriceRecord) -> bool {
    a.price == b.price
        && a.components == b.components
        && a.native_price == b.native_price
        && a.native_currency == b.native_currency
        && a.native_unit == b.native_unit
        && a.interval_end == b.interval_end
        && a.location_type == b.location_type
}

/// The greatest version, represented by the earliest version with the same value.
fn current_version<'a>(versions: &[(&'a Shared, isize)]) -> Option<&'a Shared> {
    // Almost every key has one version: answer it without sorting or allocating.
    if let [(record, count)] = versions {
        return (*count > 0).then_some(*record);
    }
    let mut present: Vec<&Shared> = versions
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(record, _)| *record)
        .collect();
    // Ties on version are broken by content so the choice never depends on arrival order.
    present.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.cmp(b)));
    let latest = *present.last()?;
    let mut earliest = latest;
    for record in present.iter().rev().skip(1) {
        if same_value(record, latest) {
            earliest = record;
        } else {
            break;
        }
    }
    Some(earliest)
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
