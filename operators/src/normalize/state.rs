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

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use gridflow_engine::record::{Currency, Market, PriceRecord, Product, Reject};
use gridflow_engine::{Diff, Time};
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use super::currency::{self, RateBook, RateUpdate};
use super::{NormalizeSettings, Shared, current_version};

/// foldhash: SipHash's resistance to chosen keys buys nothing for location names a market
/// publishes, and cost a tenth of the operator's time.
type Hasher = foldhash::fast::RandomState;

/// A price's key within its interval.
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

    fn matches(&self, record: &PriceRecord) -> bool {
        self.market == record.key.market
            && self.product == record.key.product
            && *self.location == *record.key.location
    }

    fn hash(&self, hasher: &Hasher) -> u64 {
        hasher.hash_one((self.market, self.product, &*self.location))
    }

    fn hash_of(record: &PriceRecord, hasher: &Hasher) -> u64 {
        hasher.hash_one((record.key.market, record.key.product, &*record.key.location))
    }
}

/// The keys of one interval: their states side by side, found through a table of indices.
///
/// A dense vector keeps the per-key cost to the state itself (a table of 4-byte indices
/// beside it), and lets a time's dirty keys be revisited by index instead of hashed again.
#[derive(Default)]
struct IntervalKeys {
    index: HashTable<u32>,
    keys: Vec<(Slot, KeyState)>,
}

impl IntervalKeys {
    fn with_capacity(keys: usize) -> Self {
        IntervalKeys {
            index: HashTable::with_capacity(keys),
            keys: Vec::with_capacity(keys),
        }
    }

    /// The index of `record`'s key, added when new.
    fn index_of(&mut self, record: &PriceRecord, hasher: &Hasher) -> u32 {
        let keys = &self.keys;
        let entry = self.index.entry(
            Slot::hash_of(record, hasher),
            |&index| keys[index as usize].0.matches(record),
            |&index| keys[index as usize].0.hash(hasher),
        );
        match entry {
            Entry::Occupied(entry) => *entry.get(),
            Entry::Vacant(entry) => {
                let index = self.keys.len() as u32;
                entry.insert(index);
                self.keys.push((Slot::of(record), KeyState::default()));
                index
            }
        }
    }

    /// Removes the key at `index`; the last key takes its place.
    fn remove(&mut self, index: u32, hasher: &Hasher) {
        let removed = &self.keys[index as usize].0;
        if let Ok(entry) = self.index.find_entry(removed.hash(hasher), |&i| i == index) {
            entry.remove();
        }
        let last = self.keys.len() as u32 - 1;
        if index != last {
            let moved = self.keys[last as usize].0.hash(hasher);
            if let Some(entry) = self.index.find_mut(moved, |&i| i == last) {
                *entry = index;
            }
        }
        self.keys.swap_remove(index as usize);
    }
}

/// `(numerator, denominator)` applied to a version to emit it; `None` in the base currency.
type Factor = Option<(i64, i64)>;

/// Conversion factors by a small number, so that each key stores four bytes, not 24.
/// `0` stands for no conversion. Factors are few (a currency's rates, day by day) and kept.
#[derive(Default)]
struct Factors {
    values: Vec<(i64, i64)>,
    ids: std::collections::HashMap<(i64, i64), u32, Hasher>,
    /// Consecutive prices almost always share a factor.
    last: Option<((i64, i64), u32)>,
}

impl Factors {
    fn id(&mut self, factor: Factor) -> u32 {
        let Some(factor) = factor else {
            return 0;
        };
        if let Some((last, id)) = self.last
            && last == factor
        {
            return id;
        }
        let id = *self.ids.entry(factor).or_insert_with(|| {
            self.values.push(factor);
            self.values.len() as u32
        });
        self.last = Some((factor, id));
        id
    }

    fn get(&self, id: u32) -> Factor {
        id.checked_sub(1).map(|index| self.values[index as usize])
    }
}

/// What few keys need: several versions, or conversion rejects.
#[derive(Default)]
struct Rare {
    /// All versions with their multiplicities, when there is not exactly one counted once.
    versions: Vec<(Shared, Diff)>,
    /// The conversion rejects last emitted.
    rejects: Vec<(Reject, Diff)>,
}

#[derive(Default)]
struct KeyState {
    /// The version received, when it is the only one and counted once (almost always).
    single: Option<Shared>,
    /// The version last emitted as current (rebuilt with `factor` when it must be
    /// retracted, instead of keeping the converted record too).
    current: Option<Shared>,
    /// The conversion applied to `current` ([`Factors`]).
    factor: u32,
    /// Whether the key waits to be recomputed at the time being processed.
    dirty: bool,
    rare: Option<Box<Rare>>,
}

impl KeyState {
    fn versions(&self) -> &[(Shared, Diff)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.versions)
    }

    fn rejects(&self) -> &[(Reject, Diff)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.rejects)
    }

    fn rare(&mut self) -> &mut Rare {
        self.rare.get_or_insert_default()
    }

    /// Drops the rare part once it holds nothing.
    fn tidy(&mut self) {
        if self
            .rare
            .as_ref()
            .is_some_and(|rare| rare.versions.is_empty() && rare.rejects.is_empty())
        {
            self.rare = None;
        }
    }

    fn add(&mut self, record: Shared, diff: Diff) {
        if self.versions().is_empty() {
            match self.single.take() {
                None if diff == 1 => {
                    self.single = Some(record);
                    return;
                }
                None => {}
                Some(single) => self.rare().versions.push((single, 1)),
            }
        }
        let versions = &mut self.rare().versions;
        match versions.iter_mut().find(|(v, _)| *v == record) {
            Some((_, count)) => *count += diff,
            None => versions.push((record, diff)),
        }
        versions.retain(|(_, count)| *count != 0);
        if let [(_, 1)] = versions.as_slice()
            && let Some((only, _)) = versions.pop()
        {
            self.single = Some(only);
        }
        self.tidy();
    }

    fn has_currency(&self, currency: Currency) -> bool {
        self.single.as_ref().is_some_and(|v| v.currency == currency)
            || self.versions().iter().any(|(v, _)| v.currency == currency)
    }

    fn is_foreign(&self, base: Currency) -> bool {
        self.single.as_ref().is_some_and(|v| v.currency != base)
            || self.versions().iter().any(|(v, _)| v.currency != base)
    }

    fn is_empty(&self) -> bool {
        self.single.is_none() && self.current.is_none() && self.rare.is_none()
    }
}

/// Price changes per container. Containers of this size are allocated from the heap's free
/// lists (the sink frees the previous ones), where one container per time would be a fresh
/// mapping whose every page faults: that was a tenth of the operator's time.
const CHANGES_PER_CONTAINER: usize = 512;

/// What one time's processing emits, as updates at that time.
pub(super) struct Changes {
    time: Time,
    /// Changes to the current prices, in containers of at most [`CHANGES_PER_CONTAINER`].
    pub(super) prices: Vec<Vec<(PriceRecord, Time, Diff)>>,
    /// Changes to the conversion rejects.
    pub(super) rejects: Vec<(Reject, Time, Diff)>,
}

impl Changes {
    /// Empty changes at `time`, with room for `prices` price changes.
    pub(super) fn at(time: Time, prices: usize) -> Self {
        Changes {
            time,
            prices: Vec::with_capacity(prices.div_ceil(CHANGES_PER_CONTAINER)),
            rejects: Vec::new(),
        }
    }

    fn price(&mut self, record: PriceRecord, diff: Diff) {
        let container = match self.prices.last_mut() {
            Some(last) if last.len() < CHANGES_PER_CONTAINER => last,
            _ => {
                self.prices.push(Vec::with_capacity(CHANGES_PER_CONTAINER));
                self.prices.last_mut().expect("pushed above")
            }
        };
        container.push((record, self.time, diff));
    }
}

/// One worker's share of the normalization state.
pub(super) struct Normalizer {
    base: Currency,
    rates: RateBook,
    factors: Factors,
    hasher: Hasher,
    /// Keys by interval start (microseconds since the epoch), then within the interval.
    intervals: BTreeMap<i64, IntervalKeys>,
    /// Keys of the interval table filled last.
    last_filled: usize,
    dirty: Vec<(i64, u32)>,
    emptied: Vec<(i64, u32)>,
}

impl Normalizer {
    pub(super) fn new(settings: NormalizeSettings) -> Self {
        Normalizer {
            base: settings.base_currency,
            rates: RateBook::new(settings),
            factors: Factors::default(),
            hasher: Hasher::default(),
            intervals: BTreeMap::new(),
            last_filled: 0,
            dirty: Vec::new(),
            emptied: Vec::new(),
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
                for (index, (_, state)) in keys.keys.iter_mut().enumerate() {
                    let affected = if currency == self.base {
                        !state.dirty && state.is_foreign(self.base)
                    } else {
                        !state.dirty && state.has_currency(currency)
                    };
                    if affected {
                        state.dirty = true;
                        self.dirty.push((*interval, index as u32));
                    }
                }
            }
        }
        // Consecutive prices usually share an interval: find its table once per run. A new
        // table is sized for its run, or like the table filled last when that is larger (a
        // batch may end in the middle of an interval); growing one from empty rehashed it a
        // dozen times.
        let mut prices = prices.into_iter();
        let mut rest = prices.as_slice();
        while let Some((first, _)) = rest.first() {
            let interval = first.key.interval_start.as_microsecond();
            let run = rest
                .iter()
                .position(|(record, _)| record.key.interval_start.as_microsecond() != interval)
                .unwrap_or(rest.len());
            let keys = self
                .intervals
                .entry(interval)
                .or_insert_with(|| IntervalKeys::with_capacity(run.max(self.last_filled)));
            for (record, diff) in prices.by_ref().take(run) {
                let index = keys.index_of(&record, &self.hasher);
                let state = &mut keys.keys[index as usize].1;
                if !state.dirty {
                    state.dirty = true;
                    self.dirty.push((interval, index));
                }
                state.add(record, diff);
            }
            self.last_filled = keys.keys.len();
            rest = prices.as_slice();
        }
        let mut cursor: Option<(i64, &mut IntervalKeys)> = None;
        for (interval, index) in self.dirty.drain(..) {
            if cursor.as_ref().is_none_or(|(at, _)| *at != interval) {
                cursor = self
                    .intervals
                    .get_mut(&interval)
                    .map(|keys| (interval, keys));
            }
            let Some((_, keys)) = cursor.as_mut() else {
                continue;
            };
            let Some((_, state)) = keys.keys.get_mut(index as usize) else {
                continue;
            };
            recompute(state, &self.rates, self.base, &mut self.factors, changes);
            if state.is_empty() {
                self.emptied.push((interval, index));
            }
        }
        // Highest index first, so that the key moved into a freed place was already seen.
        self.emptied.sort_unstable_by(|a, b| b.cmp(a));
        for (interval, index) in self.emptied.drain(..) {
            if let Some(keys) = self.intervals.get_mut(&interval) {
                keys.remove(index, &self.hasher);
                if keys.keys.is_empty() {
                    self.intervals.remove(&interval);
                }
            }
        }
    }
}

/// The version current after a recomputation: the version, its conversion, the record.
type Materialized = (Shared, Factor, PriceRecord);

fn recompute(
    state: &mut KeyState,
    rates: &RateBook,
    base: Currency,
    factors: &mut Factors,
    changes: &mut Changes,
) {
    state.dirty = false;
    let (current, rejects) = match (&state.single, state.versions()) {
        // Almost every key: one version, converted or not.
        (Some(version), _) => match materialize(version, rates, base) {
            Ok(converted) => (Some(converted), Vec::new()),
            Err(reject) => (None, vec![(reject, 1)]),
        },
        (None, versions) => evaluate(versions, rates, base),
    };
    let current = current.map(|(version, factor, record)| (version, factors.id(factor), record));
    let unchanged = match (&state.current, &current) {
        (None, None) => true,
        (Some(old), Some((new, factor, _))) => {
            state.factor == *factor && (Arc::ptr_eq(old, new) || old == new)
        }
        _ => false,
    };
    let (version, factor, record) = match current {
        Some((version, factor, record)) => (Some(version), factor, Some(record)),
        None => (None, 0, None),
    };
    if !unchanged {
        let old = state
            .current
            .take()
            .and_then(|old| emit(&old, factors.get(state.factor), base).ok());
        // A new rate may round to the same value: then nothing changed downstream.
        if old != record {
            if let Some(old) = old {
                changes.price(old, -1);
            }
            if let Some(record) = record {
                changes.price(record, 1);
            }
        }
    }
    state.current = version;
    state.factor = factor;
    if rejects != state.rejects() {
        let time = changes.time;
        if let Some(rare) = state.rare.as_mut() {
            let retracted = rare
                .rejects
                .drain(..)
                .map(|(reject, count)| (reject, time, -count));
            changes.rejects.extend(retracted);
        }
        let added = rejects
            .iter()
            .map(|(reject, count)| (reject.clone(), time, *count));
        changes.rejects.extend(added);
        if !rejects.is_empty() {
            state.rare().rejects = rejects;
        }
        state.tidy();
    }
}

/// A version in the base currency, with how it was converted.
fn materialize(version: &Shared, rates: &RateBook, base: Currency) -> Result<Materialized, Reject> {
    let factor = factor(version, rates, base)?;
    let record = emit(version, factor, base)?;
    Ok((version.clone(), factor, record))
}

/// The current version among several once converted, and the versions that cannot be.
fn evaluate(
    versions: &[(Shared, Diff)],
    rates: &RateBook,
    base: Currency,
) -> (Option<Materialized>, Vec<(Reject, Diff)>) {
    let mut converted: Vec<(Shared, (Shared, Factor), Diff)> = Vec::with_capacity(versions.len());
    let mut rejects: Vec<(Reject, Diff)> = Vec::new();
    for (version, count) in versions {
        match materialize(version, rates, base) {
            Ok((version, factor, record)) => {
                converted.push((Arc::new(record), (version, factor), *count))
            }
            Err(reject) => rejects.push((reject, *count)),
        }
    }
    let borrowed: Vec<(&Shared, Diff)> = converted.iter().map(|(r, _, c)| (r, *c)).collect();
    let chosen = current_version(&borrowed).map(Arc::as_ptr);
    let current = converted
        .into_iter()
        .find(|(record, _, _)| Some(Arc::as_ptr(record)) == chosen)
        .map(|(record, (version, factor), _)| (version, factor, Arc::unwrap_or_clone(record)));
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

/// The record `version` stands for once converted with `factor`.
fn emit(version: &Shared, factor: Factor, base: Currency) -> Result<PriceRecord, Reject> {
    match factor {
        None => Ok(PriceRecord::clone(version)),
        Some(factor) => currency::convert(version, factor, base),
    }
}
