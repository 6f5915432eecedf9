//! The record model: what sources observe, what the lake stores, and what is rejected.
//!
//! These record types flow through a pipeline:
//! - [`Observation`]: a value exactly as a source published it (native time, currency,
//!   unit), an FX reference rate, or a quantity (a fundamental such as gas in storage).
//!   Sources emit these.
//! - [`PriceRecord`]: a normalized price: UTC interval, base currency per normalized unit,
//!   the native value kept beside it, and the version that made it current.
//! - [`QuantityRecord`]: a normalized quantity: UTC interval, the value as published in its
//!   unit, and the version that made it current.
//! - [`RegimeRecord`]: what the `regime` operator concludes from a normalized price: regime
//!   probabilities (hidden Markov model) or the run length since a change point (BOCPD),
//!   with exact fixed-point [`Probability`]s.
//! - [`ForecastRecord`]: what the `forecast` operator predicts for an hour of a price
//!   series' next day: median and 90 % interval as exact [`Price`]s.
//! - [`Reject`]: input that could not become a record, with where it came from and why.
//!
//! `docs/schema.md` is the reference for every field.

mod forecast;
mod interval;
mod price;
mod quantity;
mod regime;
mod vocabulary;

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

pub use forecast::{ForecastKey, ForecastRecord};
pub use interval::{Anchor, MarketClock, NativeInterval, Occurrence, TimeError, UtcInterval};
pub use price::{Price, PriceParseError, Quantity};
pub use quantity::{PublishedQuantity, QuantityKey, QuantityRecord};
pub use regime::{Probability, RegimeKey, RegimeMethod, RegimeRecord};
pub use vocabulary::{Currency, LocationType, Market, Product, Unit};

/// Where a value came from: the source component, the file (or URL) and the line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// Name of the source component in the pipeline file.
    pub source: Arc<str>,
    /// File path or URL.
    pub file: Arc<str>,
    /// 1-based line (or record ordinal for formats without lines).
    pub line: u64,
}

/// Energy, congestion, loss and greenhouse-gas parts of a locational price, where the market
/// publishes them.
///
/// Signs follow the convention `price = energy + congestion + loss + greenhouse_gas`
/// (NYISO's reversed congestion sign is flipped by its parser; only CAISO publishes a
/// greenhouse-gas part, `MGHG`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Components {
    /// System energy component.
    pub energy: Option<Price>,
    /// Congestion component.
    pub congestion: Option<Price>,
    /// Marginal loss component.
    pub loss: Option<Price>,
    /// Greenhouse-gas component (CAISO `MGHG`: the cost of compliance attributed to
    /// imports into California's GHG area).
    pub greenhouse_gas: Option<Price>,
}

/// A price exactly as a market published it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublishedPrice {
    /// Publishing market.
    pub market: Market,
    /// Product (day-ahead, real-time, ...).
    pub product: Product,
    /// Node, hub, zone, area or region name as the market writes it.
    pub location: Arc<str>,
    /// What kind of location it is.
    pub location_type: LocationType,
    /// Time as stated by the publication.
    pub interval: NativeInterval,
    /// Price in `currency` per `unit`.
    pub price: Price,
    /// Published currency.
    pub currency: Currency,
    /// Published quantity unit.
    pub unit: Unit,
    /// Published components, same currency and unit as `price`.
    pub components: Components,
    /// When the value was published, if the publication says (else the ingestion time is used).
    pub published_at: Option<Timestamp>,
    /// The source's own revision marker (e.g. PJM `version_nbr`), if it has one.
    pub revision: Option<i64>,
    /// Where it came from.
    pub origin: Origin,
}

/// An ECB euro reference rate: units of `currency` per one euro on `date`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FxRate {
    /// The reference date.
    pub date: Date,
    /// The quoted currency.
    pub currency: Currency,
    /// Units of `currency` per EUR.
    pub per_euro: Price,
    /// Where it came from.
    pub origin: Origin,
}

/// What a source emits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Observation {
    /// A market price.
    Price(PublishedPrice),
    /// A currency reference rate.
    Rate(FxRate),
    /// A quantity (gas in storage, ...), for the `fundamentals` operator.
    Quantity(PublishedQuantity),
}

impl Observation {
    /// Where the observation came from.
    pub fn origin(&self) -> &Origin {
        match self {
            Observation::Price(price) => &price.origin,
            Observation::Rate(rate) => &rate.origin,
            Observation::Quantity(quantity) => &quantity.origin,
        }
    }
}

/// The identity of a price: one value per key is current at any time.
///
/// Its `Hash` covers only market and location, so that differential's exchange sends every
/// interval of a location to the same worker (see ARCHITECTURE.md, "Data placement").
///
/// Fields are declared (and so ordered) interval first: markets publish roughly in time
/// order, so new keys sort after the ones already indexed and differential's searches of
/// its index stay short instead of comparing location names across the whole history.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PriceKey {
    /// UTC interval start.
    pub interval_start: Timestamp,
    /// Publishing market.
    pub market: Market,
    /// Product.
    pub product: Product,
    /// Location name.
    pub location: Arc<str>,
}

impl std::hash::Hash for PriceKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.market.hash(state);
        self.location.hash(state);
    }
}

/// Orders versions of the same key: the greatest is current. A source's revision marker
/// dominates, then the publication time, then the content (so ties are deterministic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The source's revision marker, if any (`None` sorts first).
    pub revision: Option<i64>,
    /// When the value was published or learned.
    pub published_at: Timestamp,
}

/// A normalized price: the row of the `prices` table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PriceRecord {
    /// Identity.
    pub key: PriceKey,
    /// Kind of location.
    pub location_type: LocationType,
    /// UTC interval end (exclusive).
    pub interval_end: Timestamp,
    /// Price in `currency` (the pipeline's base currency) per `unit`.
    pub price: Price,
    /// The base currency.
    pub currency: Currency,
    /// Normalized unit (MWh for power).
    pub unit: Unit,
    /// Components converted like `price`.
    pub components: Components,
    /// The value as published.
    pub native_price: Price,
    /// The published currency.
    pub native_currency: Currency,
    /// The published unit.
    pub native_unit: Unit,
    /// The version that made this value current.
    pub version: Version,
    /// Where the current value came from.
    pub origin: Origin,
}

/// Input that could not become a record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Reject {
    /// Where it came from (`line` 0 when the whole file is refused).
    pub origin: Origin,
    /// The pipeline stage that refused it (`parse`, `normalize`, ...).
    pub stage: Arc<str>,
    /// The offending text, truncated to a readable length.
    pub raw: String,
    /// Why, in words a user can act on.
    pub reason: String,
}

impl Reject {
    /// Longest `raw` text kept, in bytes.
    pub const MAX_RAW: usize = 1024;

    /// A reject with `raw` truncated at a character boundary.
    pub fn new(origin: Origin, stage: &str, raw: &str, reason: impl Into<String>) -> Self {
        let mut end = raw.len().min(Self::MAX_RAW);
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        Reject {
            origin,
            stage: Arc::from(stage),
            raw: raw[..end].to_string(),
            reason: reason.into(),
        }
    }
}
