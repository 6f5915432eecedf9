//! The per-worker state of `forecast`: every followed series' hourly prices (with the
//! multiplicities of every value received) and the forecasts emitted for it.
//!
//! [`Forecasts::process`] applies one logical time's updates: it finds the days whose
//! inputs changed, builds the windows of those still forecastable, sends them all to the
//! model in one call, and emits the rows that differ from those held.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use gridflow_engine::Diff;
use gridflow_engine::record::{Currency, ForecastKey, ForecastRecord, Price, PriceRecord, Unit};
use jiff::Timestamp;

use super::{ForecastSettings, ForecastWindow, HISTORY_DAYS, HOURS_PER_DAY, HourForecast};
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

/// One series: every value received per hour (hours since the epoch, UTC) with its net
/// multiplicity, and the rows emitted per forecast day.
#[derive(Default)]
struct Series {
    inputs: BTreeMap<i64, Vec<(HourValue, Diff)>>,
    held: BTreeMap<i64, Vec<ForecastRecord>>,
}

impl Series {
    /// Applies updates; returns the hours whose current value changed.
    fn apply(&mut self, updates: Vec<(i64, HourValue, Diff)>) -> BTreeSet<i64> {
        let mut before: BTreeMap<i64, Option<HourValue>> = BTreeMap::new();
        for (hour, value, diff) in updates {
            let versions = self.inputs.entry(hour).or_default();
            before.entry(hour).or_insert_with(|| current(versions));
            match versions.iter_mut().find(|(held, _)| *held == value) {
                Some((_, count)) => *count += diff,
                None => versions.push((value, diff)),
            }
            versions.retain(|(_, count)| *count != 0);
            if versions.is_empty() {
                self.inputs.remove(&hour);
            }
        }
        before
            .into_iter()
            .filter(|(hour, before)| *before != self.inputs.get(hour).and_then(|v| current(v)))
            .map(|(hour, _)| hour)
            .collect()
    }

    /// The 168 prices from UTC hour `first_hour` on and the last one's currency and unit,
    /// or `None` when one of the hours has no current price.
    fn window(&self, first_hour: i64) -> Option<(Vec<f64>, Currency, Unit)> {
        let hours = (HISTORY_DAYS * HOURS_PER_DAY) as i64;
        let mut prices = Vec::with_capacity(hours as usize);
        let mut last = None;
        for hour in first_hour..first_hour + hours {
            let value = self.inputs.get(&hour).and_then(|v| current(v))?;
            prices.push(value.price.to_f64());
            last = Some(value);
        }
        last.map(|value| (prices, value.currency, value.unit))
    }
}

/// The current value among an hour's versions: the greatest with a positive count.
fn current(versions: &[(HourValue, Diff)]) -> Option<HourValue> {
    versions
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|(value, _)| *value)
        .max()
}

/// A forecast to compute this time.
struct Request {
    series: SeriesKey,
    day: i64,
    known_prices: Vec<f64>,
    currency: Currency,
    unit: Unit,
}

/// Every followed series of this worker.
pub(super) struct Forecasts {
    settings: Arc<ForecastSettings>,
    series: HashMap<SeriesKey, Series>,
}

impl Forecasts {
    pub(super) fn new(settings: Arc<ForecastSettings>) -> Self {
        Forecasts {
            settings,
            series: HashMap::new(),
        }
    }

    /// Applies one logical time's updates and appends the net row changes to `out`.
    pub(super) fn process(
        &mut self,
        updates: Vec<(PriceRecord, Diff)>,
        out: &mut Vec<(ForecastRecord, Diff)>,
    ) {
        let mut by_series: BTreeMap<SeriesKey, Vec<(i64, HourValue, Diff)>> = BTreeMap::new();
        for (record, diff) in updates {
            let hour = record
                .key
                .interval_start
                .as_second()
                .div_euclid(SECONDS_PER_HOUR);
            let value = HourValue {
                price: record.price,
                currency: record.currency,
                unit: record.unit,
            };
            by_series
                .entry(SeriesKey::of(&record))
                .or_default()
                .push((hour, value, diff));
        }
        let offset = self.settings.clock_offset_hours;
        let mut requests = Vec::new();
        for (key, updates) in by_series {
            let series = self.series.entry(key.clone()).or_default();
            let changed = series.apply(updates);
            // A price of day c is read by the forecasts of days c+1 ..= c+7.
            let mut days = BTreeSet::new();
            for hour in changed {
                let day = day_of(hour, offset);
                days.extend(day + 1..=day + HISTORY_DAYS as i64);
            }
            for day in days {
                match series.window(first_hour(day - HISTORY_DAYS as i64, offset)) {
                    Some((known_prices, currency, unit)) => requests.push(Request {
                        series: key.clone(),
                        day,
                        known_prices,
                        currency,
                        unit,
                    }),
                    None => {
                        for row in series.held.remove(&day).unwrap_or_default() {
                            out.push((row, -1));
                        }
                    }
                }
            }
            if series.inputs.is_empty() && series.held.is_empty() {
                self.series.remove(&key);
            }
        }
        self.forecast(requests, out);
    }

    /// Runs the model once over every request and emits the rows that changed.
    fn forecast(&mut self, requests: Vec<Request>, out: &mut Vec<(ForecastRecord, Diff)>) {
        if requests.is_empty() {
            return;
        }
        let windows: Vec<ForecastWindow<'_>> = requests
            .iter()
            .map(|request| ForecastWindow {
                known_prices: &request.known_prices,
                day: request.day,
            })
            .collect();
        let hours = match self.settings.forecaster.forecast(&windows) {
            Ok(hours) if hours.len() == requests.len() * HOURS_PER_DAY => hours,
            Ok(hours) => {
                tracing::error!(
                    operator = %self.settings.name,
                    expected = requests.len() * HOURS_PER_DAY,
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
        for (request, hours) in requests.iter().zip(hours.chunks(HOURS_PER_DAY)) {
            let rows = self.rows(request, hours);
            let series = self.series.entry(request.series.clone()).or_default();
            let old = series.held.remove(&request.day).unwrap_or_default();
            if old != rows {
                out.extend(old.into_iter().map(|row| (row, -1)));
                out.extend(rows.iter().cloned().map(|row| (row, 1)));
            }
            if !rows.is_empty() {
                series.held.insert(request.day, rows);
            }
        }
    }

    /// The 24 rows of one forecast; none when the model gave a value that is not a number.
    fn rows(&self, request: &Request, hours: &[HourForecast]) -> Vec<ForecastRecord> {
        let offset = self.settings.clock_offset_hours;
        let first_hour = first_hour(request.day, offset);
        debug_assert_eq!(day_of(first_hour, offset), request.day);
        let at = |hour: i64| Timestamp::from_second(hour * SECONDS_PER_HOUR).ok();
        let Some(issued_at) = at(first_hour) else {
            return Vec::new();
        };
        let mut rows = Vec::with_capacity(HOURS_PER_DAY);
        for (offset, forecast) in (0i64..).zip(hours) {
            let (Some(start), Some(end)) = (at(first_hour + offset), at(first_hour + offset + 1))
            else {
                return Vec::new();
            };
            let (Some(median), Some(lower_90), Some(upper_90)) = (
                exact(forecast.median),
                exact(forecast.lower_90),
                exact(forecast.upper_90),
            ) else {
                tracing::warn!(operator = %self.settings.name, location = %request.series.location, day = request.day, "the model gave a value that is not a finite price; no forecast for the day");
                return Vec::new();
            };
            rows.push(ForecastRecord {
                key: ForecastKey {
                    interval_start: start,
                    market: request.series.market,
                    product: request.series.product,
                    location: request.series.location.clone(),
                    issued_at,
                    operator: self.settings.name.clone(),
                },
                interval_end: end,
                horizon_hours: (offset + 1) as u16,
                median,
                lower_90,
                upper_90,
                currency: request.currency,
                unit: request.unit,
                model: self.settings.model_name.clone(),
            });
        }
        rows
    }
}

/// The day (days since the epoch on a clock `offset` hours east of UTC) that UTC hour
/// `hour` (hours since the epoch) falls in.
pub(super) fn day_of(hour: i64, offset: i32) -> i64 {
    (hour + i64::from(offset)).div_euclid(HOURS_PER_DAY as i64)
}

/// The UTC hour (since the epoch) at which day `day` starts on a clock `offset` hours east
/// of UTC.
pub(super) fn first_hour(day: i64, offset: i32) -> i64 {
    day * HOURS_PER_DAY as i64 - i64::from(offset)
}

/// A model output as an exact price (rounded to the micro-unit), if it is a finite one.
pub(super) fn exact(value: f64) -> Option<Price> {
    let micros = (value * Price::SCALE as f64).round();
    (micros.is_finite() && micros.abs() < 9.0e18).then(|| Price::from_micros(micros as i64))
}
