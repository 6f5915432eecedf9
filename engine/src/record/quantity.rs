//! Quantities: fundamentals such as gas in storage (and later load or generation), as
//! published and as normalized.
//!
//! A quantity is not a price: it has no currency, is never converted, and goes through the
//! `fundamentals` operator rather than `normalize`. It shares the price's exact decimal
//! ([`Quantity`] is [`Price`](super::Price)), its native time ([`NativeInterval`]) and its
//! version rule ([`Version`]), so revisions behave the same way.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{LocationType, Market, NativeInterval, Origin, Product, Quantity, Unit, Version};

/// A quantity exactly as a publisher stated it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublishedQuantity {
    /// Publishing market (`GAS` for EIA storage).
    pub market: Market,
    /// Product: how often the figure is published (`WEEKLY`).
    pub product: Product,
    /// What is measured, in upper-case words: `WORKING_GAS_STORAGE`. Load or generation
    /// series will have their own names.
    pub series: Arc<str>,
    /// Where: a region, zone or area as the publisher names it (`EAST`, `LOWER_48`).
    pub location: Arc<str>,
    /// What kind of location it is.
    pub location_type: LocationType,
    /// Time as stated by the publication.
    pub interval: NativeInterval,
    /// The value in `unit`; negative values (net withdrawals, net exports) are kept.
    pub value: Quantity,
    /// Published unit (`Bcf`).
    pub unit: Unit,
    /// When the value was published, if the publication says (else the ingestion time).
    pub published_at: Option<Timestamp>,
    /// The source's own revision marker, if it has one.
    pub revision: Option<i64>,
    /// Where it came from.
    pub origin: Origin,
}

/// The identity of a quantity: one value per key is current at any time.
///
/// Like [`PriceKey`](super::PriceKey), declared interval first and hashed without the
/// interval (market, series, location), so that differential sends a series' every
/// interval at a location to one worker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QuantityKey {
    /// UTC interval start.
    pub interval_start: Timestamp,
    /// Publishing market.
    pub market: Market,
    /// Product.
    pub product: Product,
    /// What is measured.
    pub series: Arc<str>,
    /// Location name.
    pub location: Arc<str>,
}

impl std::hash::Hash for QuantityKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.market.hash(state);
        self.series.hash(state);
        self.location.hash(state);
    }
}

/// A normalized quantity: the row of the lake's fundamentals table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QuantityRecord {
    /// Identity.
    pub key: QuantityKey,
    /// Kind of location.
    pub location_type: LocationType,
    /// UTC interval end (exclusive).
    pub interval_end: Timestamp,
    /// The value as published, in `unit` (quantities are never converted).
    pub value: Quantity,
    /// The published unit.
    pub unit: Unit,
    /// The version that made this value current.
    pub version: Version,
    /// Where the current value came from.
    pub origin: Origin,
}
