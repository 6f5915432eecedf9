//! The per-worker state of `forecast`: every followed series' hourly prices (with the
//! multiplicities of every value received) and the forecasts emitted for it.
//!
//! [`Forecasts::process`] applies one logical time's updates: it finds the issue times
//! whose inputs changed, builds the windows of those still forecastable, sends them all to
//! the model in one call, and emits the rows that differ from those held.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gridflow_engine::Diff;
use gridflow_engine::record::{
    Currency, ForecastKey, ForecastRecord, Price, PriceRecord, Quantity, QuantityRecord, Unit,
};
use jiff::Timestamp;

use super::{
    EXOGENOUS_WINDOW_HOURS, ForecastSettings, ForecastWindow, HISTORY_DAYS, HOURS_PER_DAY,
    HourForecast,
};
use crate::series::SeriesKey;

const SECONDS_PER_HOUR: i64 = 3_600;

/// Whether `record` is an hourly price: one hour long, starting on the hour.
pub(super) fn is_hourly(record: &PriceRecord) -> bool {
    let start = record.key.interval_start.as_second();
    record.interval_end.as_second() - start == SECONDS_PER_HOUR
        && start.rem_euclid(SECONDS_PER_HOUR) == 0
        && record.key.interval_start.subsec_nanosecond() == 0
}

/// One hour's value; of several current at once (which `normalize` never emits) the
/// greatest counts, so the choice never depends on arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct HourValue {
    price: Price,
    currency: Currency,
    unit: Unit,
}

/// Whether `record` is an hourly quantity: one hour long, starting on the hour.
pub(super) fn is_hourly_quantity(record: &QuantityRecord) -> bool {
    let start = record.key.interval_start.as_second();
    record.interval_end.as_second() - start == SECONDS_PER_HOUR
        && start.rem_euclid(SECONDS_PER_HOUR) == 0
        && record.key.interval_start.subsec_nanosecond() == 0
}

/// Every value received per hour (hours since the epoch, UTC), with its net multiplicity.
struct Hourly<V> {
    versions: BTreeMap<i64, Vec<(V, Diff)>>,
}

impl<V> Default for Hourly<V> {
    fn default() -> Self {
        Hourly {
            versions: BTreeMap::new(),
        }
    }
}

impl<V: Copy + Ord> Hourly<V> {
    /// Applies updates; adds the hours whose current value changed to `changed`.
    fn apply(&mut self, updates: Vec<(i64, V, Diff)>, changed: &mut BTreeSet<i64>) {
        let mut before: BTreeMap<i64, Option<V>> = BTreeMap::new();
        for (hour, value, diff) in updates {
            let versions = self.versions.entry(hour).or_default();
            before.entry(hour).or_insert_with(|| current(versions));
            match versions.iter_mut().find(|(held, _)| *held == value) {
                Some((_, count)) => *count += diff,
                None => versions.push((value, diff)),
            }
            versions.retain(|(_, count)| *count != 0);
            if versions.is_empty() {
                self.versions.remove(&hour);
            }
        }
        changed.extend(
            before
                .into_iter()
                .filter(|(hour, before)| *before != self.current(*hour))
                .map(|(hour, _)| hour),
        );
    }

    /// The current value of `hour`, if it has one.
    fn current(&self, hour: i64) -> Option<V> {
        self.versions.get(&hour).and_then(|v| current(v))
    }

    fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }
}

/// One series: its hourly prices, the model's forecasts and the rows emitted, per issue
/// time (UTC hour).
#[derive(Default)]
struct Series {
    inputs: Hourly<HourValue>,
    raw: BTreeMap<i64, Raw>,
    held: BTreeMap<i64, Vec<ForecastRecord>>,
}

/// One forecast as the model gave it, before recalibration, with its rows' currency and unit.
struct Raw {
    hours: Vec<HourForecast>,
    currency: Currency,
    unit: Unit,
}

impl Series {
    /// The 168 prices from UTC hour `first_hour` on and the last one's currency and unit,
    /// or `None` when one of the hours has no current price.
    fn window(&self, first_hour: i64) -> Option<(Vec<f64>, Currency, Unit)> {
        let hours = (HISTORY_DAYS * HOURS_PER_DAY) as i64;
        let mut prices = Vec::with_capacity(hours as usize);
        let mut last = None;
        for hour in first_hour..first_hour + hours {
            let value = self.inputs.current(hour)?;
            prices.push(value.price.to_f64());
            last = Some(value);
        }
        last.map(|value| (prices, value.currency, value.unit))
    }
}

/// The current value among an hour's versions: the greatest with a positive count.
fn current<V: Copy + Ord>(versions: &[(V, Diff)]) -> Option<V> {
    versions
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(value, _)| *value)
        .max()
}

/// The values of `inputs` a forecast issued at UTC hour `issue` reads, or `None` when one
/// of them is missing.
fn exogenous_window(inputs: &[Hourly<Quantity>], issue: i64) -> Option<Vec<Vec<f64>>> {
    let first = issue - KNOWN_HOURS;
    inputs
        .iter()
        .map(|input| {
            (first..first + EXOGENOUS_WINDOW_HOURS as i64)
                .map(|hour| input.current(hour).map(|value| value.to_f64()))
                .collect()
        })
        .collect()
}

/// A forecast to compute this time.
struct Request {
    series: SeriesKey,
    /// The issue time: hours since the epoch, UTC.
    issue: i64,
    known_prices: Vec<f64>,
    exogenous: Vec<Vec<f64>>,
    currency: Currency,
    unit: Unit,
}

/// Every followed series of this worker.
pub(super) struct Forecasts {
    settings: Arc<ForecastSettings>,
    series: HashMap<SeriesKey, Series>,
    /// The values of each exogenous input, in the settings' order.
    exogenous: Vec<Hourly<Quantity>>,
}

impl Forecasts {
    pub(super) fn new(settings: Arc<ForecastSettings>) -> Self {
        Forecasts {
            exogenous: settings
                .exogenous
                .iter()
                .map(|_| Hourly::default())
                .collect(),
            settings,
            series: HashMap::new(),
        }
    }

    /// Applies one logical time's updates (prices, and values of the exogenous inputs) and
    /// appends the net row changes to `out`.
    pub(super) fn process(
        &mut self,
        updates: Vec<(PriceRecord, Diff)>,
        exogenous: Vec<(QuantityRecord, Diff)>,
        out: &mut Vec<(ForecastRecord, Diff)>,
    ) {
        let hour_of = |start: Timestamp| start.as_second().div_euclid(SECONDS_PER_HOUR);
        let mut exogenous_changed = BTreeSet::new();
        let mut by_input: Vec<Vec<(i64, Quantity, Diff)>> = vec![Vec::new(); self.exogenous.len()];
        for (record, diff) in exogenous {
            if let Some(index) = self
                .settings
                .exogenous
                .iter()
                .position(|i| i.matches(&record))
            {
                by_input[index].push((hour_of(record.key.interval_start), record.value, diff));
            }
        }
        for (input, updates) in self.exogenous.iter_mut().zip(by_input) {
            input.apply(updates, &mut exogenous_changed);
        }
        let mut by_series: BTreeMap<SeriesKey, Vec<(i64, HourValue, Diff)>> = BTreeMap::new();
        for (record, diff) in updates {
            let value = HourValue {
                price: record.price,
                currency: record.currency,
                unit: record.unit,
            };
            by_series.entry(SeriesKey::of(&record)).or_default().push((
                hour_of(record.key.interval_start),
                value,
                diff,
            ));
        }
        let grid = IssueGrid::of(&self.settings);
        // An exogenous value is read by forecasts issued up to a day before it, and by every
        // series.
        let exogenous_issues = grid.issues_reading(&exogenous_changed, HOURS_PER_DAY as i64);
        let mut keys: BTreeSet<SeriesKey> = by_series.keys().cloned().collect();
        if !exogenous_issues.is_empty() {
            keys.extend(self.series.keys().cloned());
        }
        let mut requests = Vec::new();
        // Issues whose model forecast may change, and hours whose price changed, by series.
        let mut touched: BTreeMap<SeriesKey, (BTreeSet<i64>, BTreeSet<i64>)> = BTreeMap::new();
        for key in keys {
            let series = self.series.entry(key.clone()).or_default();
            let mut changed = BTreeSet::new();
            if let Some(updates) = by_series.remove(&key) {
                series.inputs.apply(updates, &mut changed);
            }
            let mut issues: BTreeSet<i64> = grid.issues_reading(&changed, 0).into_iter().collect();
            issues.extend(&exogenous_issues);
            for &issue in &issues {
                let window = series.window(issue - KNOWN_HOURS);
                let exogenous = window
                    .as_ref()
                    .and_then(|_| exogenous_window(&self.exogenous, issue));
                match (window, exogenous) {
                    (Some((known_prices, currency, unit)), Some(exogenous)) => {
                        requests.push(Request {
                            series: key.clone(),
                            issue,
                            known_prices,
                            exogenous,
                            currency,
                            unit,
                        })
                    }
                    _ => {
                        series.raw.remove(&issue);
                    }
                }
            }
            touched.insert(key, (issues, changed));
        }
        self.forecast(requests);
        for (key, (issues, prices)) in touched {
            self.emit(&key, issues, &prices, out);
        }
    }

    /// Runs the model once over every request and keeps its forecasts; on a failure the
    /// forecasts stay as they were.
    fn forecast(&mut self, requests: Vec<Request>) {
        if requests.is_empty() {
            return;
        }
        let offset = i64::from(self.settings.clock_offset_hours);
        let windows: Vec<ForecastWindow<'_>> = requests
            .iter()
            .map(|request| ForecastWindow {
                known_prices: &request.known_prices,
                exogenous: &request.exogenous,
                issue_hour: request.issue + offset,
            })
            .collect();
        let horizon = self.settings.horizon_hours;
        let hours = match self.settings.forecaster.forecast(&windows) {
            Ok(hours) if hours.len() == requests.len() * horizon => hours,
            Ok(hours) => {
                tracing::error!(
                    operator = %self.settings.name,
                    expected = requests.len() * horizon,
                    got = hours.len(),
                    "the model returned the wrong number of hours; forecasts left as they were"
                );
                return;
            }
            Err(error) => {
                tracing::error!(operator = %self.settings.name, %error, "the model failed; forecasts left as they were");
                return;
            }
        };
        for (request, hours) in requests.into_iter().zip(hours.chunks(horizon)) {
            let series = self.series.entry(request.series).or_default();
            series.raw.insert(
                request.issue,
                Raw {
                    hours: hours.to_vec(),
                    currency: request.currency,
                    unit: request.unit,
                },
            );
        }
    }

    /// Emits the row changes of series `key`: of the forecasts of `issues` (recomputed or
    /// gone), and, with recalibration, of every forecast on a day whose window holds one of
    /// them or a forecast of an hour in `prices` (changed).
    fn emit(
        &mut self,
        key: &SeriesKey,
        issues: BTreeSet<i64>,
        prices: &BTreeSet<i64>,
        out: &mut Vec<(ForecastRecord, Diff)>,
    ) {
        let Some(series) = self.series.get_mut(key) else {
            return;
        };
        let calibration = Calibration::of(&self.settings);
        let mut emit = issues;
        if calibration.window_hours > 0 {
            let horizon = calibration.horizon;
            let mut sources: BTreeSet<i64> = emit.clone();
            for &hour in prices {
                sources.extend(series.raw.range(hour - horizon + 1..=hour).map(|(s, _)| *s));
            }
            let mut days = BTreeSet::new();
            for source in sources {
                days.extend(calibration.days_reading(source));
            }
            for day in days {
                emit.extend(
                    series
                        .raw
                        .range(day..day + HOURS_PER_DAY as i64)
                        .map(|(s, _)| *s),
                );
            }
        }
        let mut factors: HashMap<i64, f64> = HashMap::new();
        for issue in emit {
            let rows = match series.raw.get(&issue) {
                Some(raw) => {
                    let day = calibration.day_of(issue);
                    let factor = *factors
                        .entry(day)
                        .or_insert_with(|| calibration.factor(series, day, &self.settings));
                    rows(&self.settings, key, issue, raw, factor)
                }
                None => Vec::new(),
            };
            let old = series.held.remove(&issue).unwrap_or_default();
            if old != rows {
                out.extend(old.into_iter().map(|row| (row, -1)));
                out.extend(rows.iter().cloned().map(|row| (row, 1)));
            }
            if !rows.is_empty() {
                series.held.insert(issue, rows);
            }
        }
        if series.inputs.is_empty() && series.held.is_empty() && series.raw.is_empty() {
            self.series.remove(key);
        }
    }
}

/// The interval recalibration of one operator (see the module documentation).
struct Calibration {
    /// `interval_window_days` in hours; 0 when the model's scales are kept.
    window_hours: i64,
    horizon: i64,
    offset: i64,
}

impl Calibration {
    fn of(settings: &ForecastSettings) -> Self {
        Calibration {
            window_hours: settings.forecaster.interval_window_days() as i64 * HOURS_PER_DAY as i64,
            horizon: settings.horizon_hours as i64,
            offset: i64::from(settings.clock_offset_hours),
        }
    }

    /// The midnight (UTC hour) on the clock that starts the day of UTC hour `hour`.
    fn day_of(&self, hour: i64) -> i64 {
        hour - (hour + self.offset).rem_euclid(HOURS_PER_DAY as i64)
    }

    /// The days (their midnights) whose window holds the forecast issued at `issue`: those
    /// from the first midnight its hours are all due by to `window` days after it.
    fn days_reading(&self, issue: i64) -> impl Iterator<Item = i64> + use<> {
        let due = issue + self.horizon;
        let first = self.day_of(due + HOURS_PER_DAY as i64 - 1);
        let last = issue + self.window_hours;
        (first..=last).step_by(HOURS_PER_DAY)
    }

    /// The scale factor of the forecasts issued on the day that starts at `day`.
    fn factor(&self, series: &Series, day: i64, settings: &ForecastSettings) -> f64 {
        if self.window_hours == 0 {
            return 1.0;
        }
        let forecaster = &settings.forecaster;
        let mut errors = Vec::new();
        for (&issue, raw) in series
            .raw
            .range(day - self.window_hours..=day - self.horizon)
        {
            for (hour, forecast) in (issue..).zip(&raw.hours) {
                if let Some(value) = series.inputs.current(hour) {
                    errors.push(forecaster.standardized_error(*forecast, value.price.to_f64()));
                }
            }
        }
        forecaster.interval_factor(errors)
    }
}

/// The rows of the forecast of series `key` issued at `issue`, its scales multiplied by
/// `factor`: one per hour of its horizon; none when a quantile is not a finite price.
fn rows(
    settings: &ForecastSettings,
    key: &SeriesKey,
    issue: i64,
    raw: &Raw,
    factor: f64,
) -> Vec<ForecastRecord> {
    let at = |hour: i64| Timestamp::from_second(hour * SECONDS_PER_HOUR).ok();
    let Some(issued_at) = at(issue) else {
        return Vec::new();
    };
    let forecaster = &settings.forecaster;
    let mut rows = Vec::with_capacity(raw.hours.len());
    for (offset, forecast) in (0i64..).zip(&raw.hours) {
        let (Some(start), Some(end)) = (at(issue + offset), at(issue + offset + 1)) else {
            return Vec::new();
        };
        let scaled = HourForecast {
            location: forecast.location,
            scale: forecast.scale * factor,
        };
        let (Some(median), Some(lower_90), Some(upper_90)) = (
            exact(forecaster.quantile(scaled, 0.5)),
            exact(forecaster.quantile(scaled, 0.05)),
            exact(forecaster.quantile(scaled, 0.95)),
        ) else {
            tracing::warn!(operator = %settings.name, location = %key.location, issue, "the model gave a value that is not a finite price; no forecast from this issue time");
            return Vec::new();
        };
        rows.push(ForecastRecord {
            key: ForecastKey {
                interval_start: start,
                market: key.market,
                product: key.product,
                location: key.location.clone(),
                issued_at,
                operator: settings.name.clone(),
            },
            interval_end: end,
            horizon_hours: (offset + 1) as u16,
            median,
            lower_90,
            upper_90,
            currency: raw.currency,
            unit: raw.unit,
            model: settings.model_name.clone(),
        });
    }
    rows
}

/// Hours of known prices a forecast reads.
pub(super) const KNOWN_HOURS: i64 = (HISTORY_DAYS * HOURS_PER_DAY) as i64;

/// When forecasts are issued: every `every` hours from midnight on the operator's clock
/// (every midnight for day-ahead and longer horizons).
#[derive(Clone, Copy, Debug)]
pub(super) struct IssueGrid {
    /// Hours between issue times (1 to 24).
    pub(super) every: i64,
    /// The clock's offset east of UTC, in hours.
    pub(super) offset: i64,
}

impl IssueGrid {
    pub(super) fn of(settings: &ForecastSettings) -> Self {
        IssueGrid {
            every: settings.horizon_hours.clamp(1, HOURS_PER_DAY) as i64,
            offset: i64::from(settings.clock_offset_hours),
        }
    }

    /// The first issue time (UTC hour) at or after UTC hour `hour`.
    pub(super) fn at_or_after(&self, hour: i64) -> i64 {
        let local = hour + self.offset;
        let up = (self.every - local.rem_euclid(self.every)) % self.every;
        hour + up
    }

    /// The issue times whose forecasts read a value of any of `hours` (UTC), for values
    /// read from `lead` hours after the issue time back to 168 hours before it: the price
    /// of hour h (`lead` 0) is read by those issued in (h, h + 168], an exogenous day-ahead
    /// value (`lead` 24) by those in (h - 24, h + 168]. Each issue once, in order; a
    /// backfill's run of hours costs one pass, not 168 / `every` per hour.
    pub(super) fn issues_reading(&self, hours: &BTreeSet<i64>, lead: i64) -> Vec<i64> {
        let mut issues = Vec::new();
        // The first issue time not emitted yet: hours come in order, so the ranges only
        // move forward.
        let mut next = i64::MIN;
        for &hour in hours {
            let mut issue = self.at_or_after((hour + 1 - lead).max(next));
            while issue <= hour + KNOWN_HOURS {
                issues.push(issue);
                issue += self.every;
            }
            next = next.max(issue);
        }
        issues
    }
}

/// A model output as an exact price (rounded to the micro-unit), if it is a finite one.
pub(super) fn exact(value: f64) -> Option<Price> {
    let micros = (value * Price::SCALE as f64).round();
    (micros.is_finite() && micros.abs() < 9.0e18).then(|| Price::from_micros(micros as i64))
}
