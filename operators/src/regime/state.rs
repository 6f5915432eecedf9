//! The per-worker state of `regime`: every followed series' prices, the rows emitted for
//! it, its fitted models and its detector checkpoints.
//!
//! [`Regimes::process`] applies one logical time's price updates. For each series it
//! works out the first position whose price changed, re-runs the detector from there
//! ([`super::run`]) and emits the difference between the rows it held and the new ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gridflow_engine::Diff;
use gridflow_engine::record::{Currency, Price, PriceRecord, RegimeRecord, Unit};
use jiff::Timestamp;

use super::RegimeSettings;
use super::run::{Change, Detector};
use crate::series::SeriesKey;

/// What a series holds for one interval; of several (which `normalize` never emits at
/// once) the greatest is current, so the choice never depends on arrival order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Value {
    pub(super) end: Timestamp,
    pub(super) price: Price,
    pub(super) currency: Currency,
    pub(super) unit: Unit,
}

/// One price of the current series.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Point {
    pub(super) start: Timestamp,
    pub(super) value: Value,
}

/// The input multiset of one interval: values with their net multiplicities.
type Versions = Vec<(Value, Diff)>;

/// One series' state.
pub(super) struct Series {
    /// Every value received per interval, with multiplicities (retractions net out).
    inputs: BTreeMap<Timestamp, Versions>,
    /// The current series, sorted by interval start: position = index.
    pub(super) points: Vec<Point>,
    /// The rows emitted, one per position from `warm_up − 1` (`None`: no row there).
    pub(super) rows: Vec<Option<RegimeRecord>>,
    /// Fitted models and checkpoints.
    pub(super) detector: Detector,
}

/// Every series of this worker.
pub(super) struct Regimes {
    settings: Arc<RegimeSettings>,
    series: HashMap<SeriesKey, Series>,
}

impl Regimes {
    pub(super) fn new(settings: Arc<RegimeSettings>) -> Self {
        Regimes {
            settings,
            series: HashMap::new(),
        }
    }

    /// Applies one logical time's updates and appends the net row changes to `out`.
    pub(super) fn process(
        &mut self,
        updates: Vec<(PriceRecord, Diff)>,
        out: &mut Vec<(RegimeRecord, Diff)>,
    ) {
        let mut by_series: BTreeMap<SeriesKey, Vec<(Timestamp, Value, Diff)>> = BTreeMap::new();
        for (record, diff) in updates {
            let key = SeriesKey::of(&record);
            let value = Value {
                end: record.interval_end,
                price: record.price,
                currency: record.currency,
                unit: record.unit,
            };
            by_series
                .entry(key)
                .or_default()
                .push((record.key.interval_start, value, diff));
        }
        for (key, updates) in by_series {
            let series = self.series.entry(key.clone()).or_insert_with(|| Series {
                inputs: BTreeMap::new(),
                points: Vec::new(),
                rows: Vec::new(),
                detector: Detector::default(),
            });
            if let Some(change) = series.apply(updates) {
                series.rerun(&key, change, &self.settings, out);
            }
            if series.inputs.is_empty() {
                self.series.remove(&key);
            }
        }
    }
}

impl Series {
    /// Applies updates to the inputs and the current series; says where the series
    /// changed, if it did.
    fn apply(&mut self, updates: Vec<(Timestamp, Value, Diff)>) -> Option<Change> {
        // Each touched interval's current value before the updates.
        let mut before: BTreeMap<Timestamp, Option<Value>> = BTreeMap::new();
        for (start, value, diff) in updates {
            let versions = self.inputs.entry(start).or_default();
            before
                .entry(start)
                .or_insert_with(|| current(versions).cloned());
            match versions.iter_mut().find(|(held, _)| *held == value) {
                Some((_, count)) => *count += diff,
                None => versions.push((value, diff)),
            }
            versions.retain(|(_, count)| *count != 0);
            if versions.is_empty() {
                self.inputs.remove(&start);
            }
        }
        let mut first: Option<Timestamp> = None;
        let mut structural = false;
        let mut revised = Vec::new();
        // In interval order, so that a first load appends at the end every time.
        for (start, before) in before {
            let after = self.inputs.get(&start).and_then(|v| current(v)).cloned();
            if before == after {
                continue;
            }
            first.get_or_insert(start);
            match (self.points.binary_search_by_key(&start, |p| p.start), after) {
                (Ok(index), Some(value)) => {
                    self.points[index].value = value;
                    revised.push(start);
                }
                (Ok(index), None) => {
                    self.points.remove(index);
                    structural = true;
                }
                (Err(index), Some(value)) => {
                    self.points.insert(index, Point { start, value });
                    structural = true;
                }
                (Err(_), None) => {}
            }
        }
        let first = first?;
        let position = |start: &Timestamp| self.points.partition_point(|p| p.start < *start);
        Some(Change {
            first: position(&first),
            // Positions of revised values; only consulted when no position moved.
            revised: if structural {
                Vec::new()
            } else {
                revised.iter().map(position).collect()
            },
            structural,
        })
    }

    /// Re-runs the detector from the change and emits the rows that differ.
    fn rerun(
        &mut self,
        key: &SeriesKey,
        change: Change,
        settings: &RegimeSettings,
        out: &mut Vec<(RegimeRecord, Diff)>,
    ) {
        let first_row = settings.warm_up - 1;
        let kept = change.first.saturating_sub(first_row).min(self.rows.len());
        let old = self.rows.split_off(kept);
        let mut fresh = Vec::new();
        self.detector.rerun(
            key,
            &self.points,
            &change,
            settings,
            &mut |position, row| {
                debug_assert_eq!(position, first_row + kept + fresh.len());
                fresh.push(row);
            },
        );
        emit_differences(&old, &fresh, out);
        self.rows.extend(fresh);
    }
}

/// The current value among an interval's versions: the greatest with a positive count.
fn current(versions: &Versions) -> Option<&Value> {
    versions
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(value, _)| value)
        .max()
}

/// Retractions of old rows that changed or vanished and insertions of new ones, merging
/// both lists by interval (each holds at most one row per interval, in order).
fn emit_differences(
    old: &[Option<RegimeRecord>],
    new: &[Option<RegimeRecord>],
    out: &mut Vec<(RegimeRecord, Diff)>,
) {
    let mut old = old.iter().flatten().peekable();
    let mut new = new.iter().flatten().peekable();
    loop {
        match (old.peek(), new.peek()) {
            (Some(a), Some(b)) => match a.key.interval_start.cmp(&b.key.interval_start) {
                std::cmp::Ordering::Less => out.push(((*old.next().unwrap()).clone(), -1)),
                std::cmp::Ordering::Greater => out.push(((*new.next().unwrap()).clone(), 1)),
                std::cmp::Ordering::Equal => {
                    let (a, b) = (old.next().unwrap(), new.next().unwrap());
                    if a != b {
                        out.push((a.clone(), -1));
                        out.push((b.clone(), 1));
                    }
                }
            },
            (Some(_), None) => out.push(((*old.next().unwrap()).clone(), -1)),
            (None, Some(_)) => out.push(((*new.next().unwrap()).clone(), 1)),
            (None, None) => break,
        }
    }
}
