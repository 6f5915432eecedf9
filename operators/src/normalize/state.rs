//! One worker's normalization state and how one logical time's updates change it.
//!
//! Per [`PriceKey`] the worker keeps the versions received (in their published currency,
//! with multiplicities), which of them it last emitted as current and with which
//! conversion factor, and the conversion rejects it last emitted. A time's updates mark
//! keys dirty; each dirty key is then recomputed from its versions and the rates, and only
//! the difference from what was emitted leaves the operator. That is the answer a `join`
//! with the rates and a `reduce` per key would give.
//!
//! Keys are held per interval start, in order: market data arrives interval by interval,
//! so one batch touches a few small per-interval tables that stay in cache, and a rate
//! change finds the keys of its days by a range of intervals.

use std::collections::{BTreeMap, HashMap};

use std::sync::Arc;

use gridflow_engine::record::{Currency, Market, PriceRecord, Product, Reject};
use gridflow_engine::{Diff, Time};

use super::currency::{self, RateBook, RateUpdate};
use super::{NormalizeSettings, Shared, current_version};

/// The keys of one interval. Hashed with foldhash: SipHash's resistance to chosen keys buys
/// nothing for location names a market publishes, and cost a tenth of the operator's time.
type IntervalKeys = HashMap<Slot, KeyState, foldhash::fast::RandomState>;

/// A price's key within its interval.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Slot {
    market: Market,
    product: Product,
    location: Arc<str>,
}

impl Slot {
    fn of(record: &PriceRecord) -> Self {
        Slot {
            market: record.key.market,
            product: record.key.product,
            location: record.key.location.clone(),
        }
    }
}

/// `(numerator, denominator)` applied to a version to emit it; `None` in the base currency.
type Factor = Option<(i64, i64)>;

/// What a key emitted as current: a version and the conversion applied to it. The record
/// itself is rebuilt when it must be retracted, instead of being kept a second time.
#[derive(Clone)]
struct Current {
    version: Shared,
    factor: Factor,
}

impl Current {
    fn same(&self, other: &Current) -> bool {
        self.factor == other.factor
            && (Arc::ptr_eq(&self.version, &other.version) || self.version == other.version)
    }
}

#[derive(Default)]
struct KeyState {
    /// The version received, when it is the only one and counted once (almost always).
    single: Option<Shared>,
    /// All versions with their multiplicities otherwise.
    versions: Vec<(Shared, Diff)>,
    current: Option<Current>,
    /// The conversion rejects last emitted.
    rejects: Vec<(Reject, Diff)>,
    /// Whether the key waits to be recomputed at the time being processed.
    dirty: bool,
}

impl KeyState {
    fn add(&mut self, record: Shared, diff: Diff) {
        if self.versions.is_empty() {
            match self.single.take() {
                None if diff == 1 => {
                    self.single = Some(record);
                    return;
                }
                None => {}
                Some(single) => self.versions.push((single, 1)),
            }
        }
        match self.versions.iter_mut().find(|(v, _)| *v == record) {
            Some((_, count)) => *count += diff,
            None => self.versions.push((record, diff)),
        }
        self.versions.retain(|(_, count)| *count != 0);
        if let [(_, 1)] = self.versions.as_slice()
            && let Some((only, _)) = self.versions.pop()
        {
            self.single = Some(only);
        }
    }

    fn has_currency(&self, currency: Currency) -> bool {
        self.single.as_ref().is_some_and(|v| v.currency == currency)
            || self.versions.iter().any(|(v, _)| v.currency == currency)
    }

    fn is_empty(&self) -> bool {
        self.single.is_none()
            && self.versions.is_empty()
            && self.current.is_none()
            && self.rejects.is_empty()
    }
}

/// What one time's processing emits, as updates at that time.
pub(super) struct Changes {
    time: Time,
    /// Changes to the current prices.
    pub(super) prices: Vec<(PriceRecord, Time, Diff)>,
    /// Changes to the conversion rejects.
    pub(super) rejects: Vec<(Reject, Time, Diff)>,
}

impl Changes {
    /// Empty changes at `time`, with room for `prices` price changes.
    pub(super) fn at(time: Time, prices: usize) -> Self {
        Changes {
            time,
            prices: Vec::with_capacity(prices),
            rejects: Vec::new(),
        }
    }
}

/// One worker's share of the normalization state.
pub(super) struct Normalizer {
    base: Currency,
    rates: RateBook,
    /// Keys by interval start (microseconds since the epoch), then within the interval.
    intervals: BTreeMap<i64, IntervalKeys>,
    /// Keys in the interval filled last: a new interval's table starts that large, since
    /// a market publishes much the same locations every interval (growing a table from
    /// empty rehashed it a dozen times).
    typical_interval: usize,
    dirty: Vec<(i64, Slot)>,
}

impl Normalizer {
    pub(super) fn new(settings: NormalizeSettings) -> Self {
        Normalizer {
            base: settings.base_currency,
            rates: RateBook::new(settings),
            intervals: BTreeMap::new(),
            typical_interval: 0,
            dirty: Vec::new(),
        }
    }

    /// Applies every update of one logical time and appends what changed to `changes`.
    pub(super) fn process(
        &mut self,
        rates: Vec<RateUpdate>,
        prices: Vec<(Shared, Diff)>,
        changes: &mut Changes,
    ) {
        for ((currency, date, rate), diff) in rates {
            let days = self.rates.update(currency, date, rate, diff);
            for (interval, keys) in self.intervals.range_mut(RateBook::affected_starts(&days)) {
                for (slot, state) in keys.iter_mut() {
                    let affected = if currency == self.base {
                        !state.dirty && state.is_foreign(self.base)
                    } else {
                        !state.dirty && state.has_currency(currency)
                    };
                    if affected {
                        state.dirty = true;
                        self.dirty.push((*interval, slot.clone()));
                    }
                }
            }
        }
        // Consecutive prices usually share an interval: find its table once per run.
        let mut prices = prices.into_iter().peekable();
        while let Some((record, diff)) = prices.next() {
            let interval = record.key.interval_start.as_microsecond();
            let typical = self.typical_interval;
            let keys = self.intervals.entry(interval).or_insert_with(|| {
                IntervalKeys::with_capacity_and_hasher(typical, Default::default())
            });
            let mut next = Some((record, diff));
            while let Some((record, diff)) = next.take() {
                let state = keys.entry(Slot::of(&record)).or_default();
                if !state.dirty {
                    state.dirty = true;
                    self.dirty.push((interval, Slot::of(&record)));
                }
                state.add(record, diff);
                next = prices
                    .next_if(|(record, _)| record.key.interval_start.as_microsecond() == interval);
            }
        }
        let mut dirty = std::mem::take(&mut self.dirty);
        let mut cursor: Option<(i64, &mut IntervalKeys)> = None;
        for (interval, slot) in dirty.drain(..) {
            if cursor.as_ref().is_none_or(|(at, _)| *at != interval) {
                cursor = self
                    .intervals
                    .get_mut(&interval)
                    .map(|keys| (interval, keys));
            }
            let Some((_, keys)) = cursor.as_mut() else {
                continue;
            };
            let Some(state) = keys.get_mut(&slot) else {
                continue;
            };
            recompute(state, &self.rates, self.base, changes);
            if state.is_empty() {
                keys.remove(&slot);
            }
        }
        self.dirty = dirty;
        self.intervals.retain(|_, keys| !keys.is_empty());
    }
}

impl KeyState {
    fn is_foreign(&self, base: Currency) -> bool {
        self.single.as_ref().is_some_and(|v| v.currency != base)
            || self.versions.iter().any(|(v, _)| v.currency != base)
    }
}

fn recompute(state: &mut KeyState, rates: &RateBook, base: Currency, changes: &mut Changes) {
    state.dirty = false;
    let (current, rejects) = match (&state.single, state.versions.as_slice()) {
        // Almost every key: one version, converted or not.
        (Some(version), _) => match materialize(version, rates, base) {
            Ok(converted) => (Some(converted), Vec::new()),
            Err(reject) => (None, vec![(reject, 1)]),
        },
        (None, versions) => evaluate(versions, rates, base),
    };
    let unchanged = match (&state.current, &current) {
        (None, None) => true,
        (Some(old), Some((new, _))) => old.same(new),
        _ => false,
    };
    let (current, record) = current.unzip();
    if !unchanged {
        let old = state.current.take().and_then(|old| emit(&old, base).ok());
        // A new rate may round to the same value: then nothing changed downstream.
        if old != record {
            let time = changes.time;
            changes.prices.extend(old.map(|record| (record, time, -1)));
            changes
                .prices
                .extend(record.map(|record| (record, time, 1)));
        }
    }
    state.current = current;
    if rejects != state.rejects {
        let time = changes.time;
        let retracted = state
            .rejects
            .drain(..)
            .map(|(reject, count)| (reject, time, -count));
        changes.rejects.extend(retracted);
        let added = rejects
            .iter()
            .map(|(reject, count)| (reject.clone(), time, *count));
        changes.rejects.extend(added);
        state.rejects = rejects;
    }
}

type Materialized = (Current, PriceRecord);

/// A version in the base currency, with how it was converted.
fn materialize(version: &Shared, rates: &RateBook, base: Currency) -> Result<Materialized, Reject> {
    let current = Current {
        version: version.clone(),
        factor: factor(version, rates, base)?,
    };
    let record = emit(&current, base)?;
    Ok((current, record))
}

/// The current version among several once converted, and the versions that cannot be.
fn evaluate(
    versions: &[(Shared, Diff)],
    rates: &RateBook,
    base: Currency,
) -> (Option<Materialized>, Vec<(Reject, Diff)>) {
    let mut converted: Vec<(Shared, Current, Diff)> = Vec::with_capacity(versions.len());
    let mut rejects: Vec<(Reject, Diff)> = Vec::new();
    for (version, count) in versions {
        match materialize(version, rates, base) {
            Ok((current, record)) => converted.push((Arc::new(record), current, *count)),
            Err(reject) => rejects.push((reject, *count)),
        }
    }
    let borrowed: Vec<(&Shared, Diff)> = converted.iter().map(|(r, _, c)| (r, *c)).collect();
    let chosen = current_version(&borrowed).map(Arc::as_ptr);
    let current = converted
        .into_iter()
        .find(|(record, _, _)| Some(Arc::as_ptr(record)) == chosen)
        .map(|(record, current, _)| (current, Arc::unwrap_or_clone(record)));
    (current, rejects)
}

/// The conversion a version needs, or the reject for a missing rate.
fn factor(version: &Shared, rates: &RateBook, base: Currency) -> Result<Factor, Reject> {
    if version.currency == base {
        return Ok(None);
    }
    let day = currency::rate_day(version);
    match rates.factor(version.currency, day) {
        Some(factor) => Ok(Some(factor)),
        None => Err(Reject::new(
            version.origin.clone(),
            "normalize",
            &format!(
                "{} {} {} {} {}",
                version.key.market,
                version.key.location,
                version.key.interval_start,
                version.native_price,
                version.currency
            ),
            rates.missing_reason(version.currency, day),
        )),
    }
}

/// The record a [`Current`] stands for.
fn emit(current: &Current, base: Currency) -> Result<PriceRecord, Reject> {
    match current.factor {
        None => Ok(PriceRecord::clone(&current.version)),
        Some(factor) => currency::convert(&current.version, factor, base),
    }
}
