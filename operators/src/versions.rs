//! The version rule every operator that keeps "one current value per key" shares.
//!
//! Per key the greatest [`Version`] is current — the source's revision marker first, then
//! the publication time — with ties broken by content so that the choice never depends on
//! arrival order. Among the greatest versions that carry the same value the earliest is
//! kept: an identical re-publication changes nothing, while a changed value replaces the
//! old one. `normalize` applies it to prices, `fundamentals` to quantities.

use std::sync::Arc;

use gridflow_engine::record::{PriceRecord, QuantityRecord, Version};

/// A record with a version and a value that can be told apart from where it was learned.
pub(crate) trait Versioned: Ord {
    /// The version that orders it among the records of its key.
    fn version(&self) -> Version;
    /// Whether two records of the same key carry the same value, ignoring when and where
    /// each was learned.
    fn same_value(&self, other: &Self) -> bool;
}

impl Versioned for PriceRecord {
    fn version(&self) -> Version {
        self.version
    }

    fn same_value(&self, other: &Self) -> bool {
        self.price == other.price
            && self.components == other.components
            && self.native_price == other.native_price
            && self.native_currency == other.native_currency
            && self.native_unit == other.native_unit
            && self.interval_end == other.interval_end
            && self.location_type == other.location_type
    }
}

impl Versioned for QuantityRecord {
    fn version(&self) -> Version {
        self.version
    }

    fn same_value(&self, other: &Self) -> bool {
        self.value == other.value
            && self.unit == other.unit
            && self.interval_end == other.interval_end
            && self.location_type == other.location_type
    }
}

impl<T: Versioned> Versioned for Arc<T> {
    fn version(&self) -> Version {
        T::version(self)
    }

    fn same_value(&self, other: &Self) -> bool {
        T::same_value(self, other)
    }
}

/// The current record among a key's versions with their multiplicities: the greatest
/// version, represented by the earliest version with the same value. `None` when no version
/// is present (every count is zero or negative).
pub(crate) fn current_version<'a, T: Versioned>(versions: &[(&'a T, isize)]) -> Option<&'a T> {
    // Almost every key has one version: answer it without sorting or allocating.
    if let [(record, count)] = versions {
        return (*count > 0).then_some(*record);
    }
    let mut present: Vec<&T> = versions
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(record, _)| *record)
        .collect();
    // Ties on version are broken by content so the choice never depends on arrival order.
    present.sort_by(|a, b| a.version().cmp(&b.version()).then_with(|| a.cmp(b)));
    let latest = *present.last()?;
    let mut earliest = latest;
    for record in present.iter().rev().skip(1) {
        if record.same_value(latest) {
            earliest = record;
        } else {
            break;
        }
    }
    Some(earliest)
}
