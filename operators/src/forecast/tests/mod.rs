//! The operator against a batch computation over the final prices, with the 168-hour naive
//! forecast (the EPF benchmark's own yardstick) as the model: its forecasts are easy to
//! state independently, so the rules (which days, which prices, what is retracted) are
//! what is tested.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gridflow_engine::record::*;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::state::{IssueGrid, exact};
use super::*;

mod exogenous;

/// A final row with its net multiplicity.
type Net = BTreeMap<ForecastRecord, isize>;

/// 2025-03-29T23:00:00Z: midnight of 2025-03-30 at UTC+1.
const T0_HOUR: i64 = 1_743_289_200 / 3_600;

/// The 168-hour naive forecast with a band: the price a week earlier, ± 10 % of the week's
/// range plus the weekday number (so the calendar reaches the output). Counts calls and
/// windows, to check batching.
struct Naive168 {
    horizon: usize,
    /// Exogenous inputs read: each adds a thousandth of its value at the target hour to
    /// the median, and a ten-thousandth of its first value to the band.
    exogenous: usize,
    /// `interval_window_days`.
    window_days: usize,
    calls: AtomicUsize,
    windows: AtomicUsize,
}

impl Default for Naive168 {
    fn default() -> Self {
        Naive168::with_horizon(24)
    }
}

impl Naive168 {
    fn with_horizon(horizon: usize) -> Self {
        Naive168::with_exogenous(horizon, 0)
    }

    fn with_exogenous(horizon: usize, exogenous: usize) -> Self {
        Naive168 {
            horizon,
            exogenous,
            window_days: 0,
            calls: AtomicUsize::new(0),
            windows: AtomicUsize::new(0),
        }
    }
}

/// `issue_hour` is on the local clock: the band depends on the local weekday and hour.
fn naive_hours(
    known_prices: &[f64],
    exogenous: &[Vec<f64>],
    issue_hour: i64,
    horizon: usize,
) -> Vec<HourForecast> {
    let high = known_prices.iter().copied().fold(f64::MIN, f64::max);
    let low = known_prices.iter().copied().fold(f64::MAX, f64::min);
    let calendar = (issue_hour.div_euclid(24) + 3).rem_euclid(7) + issue_hour.rem_euclid(24);
    let band = 1.0
        + 0.1 * (high - low)
        + calendar as f64
        + exogenous.iter().map(|values| 1e-4 * values[0]).sum::<f64>();
    known_prices[..horizon]
        .iter()
        .enumerate()
        .map(|(k, &naive)| {
            // Hours past the day after the issue time have no exogenous value: the last.
            let target = (168 + k).min(EXOGENOUS_WINDOW_HOURS - 1);
            let median = naive + exogenous.iter().map(|v| 1e-3 * v[target]).sum::<f64>();
            HourForecast {
                location: median,
                scale: band,
            }
        })
        .collect()
}

impl Forecaster for Naive168 {
    fn describe(&self) -> String {
        "168-hour naive".into()
    }

    fn horizon_hours(&self) -> usize {
        self.horizon
    }

    fn exogenous(&self) -> Vec<String> {
        (0..self.exogenous).map(|i| format!("x{i}")).collect()
    }

    fn quantile(&self, hour: HourForecast, tau: f64) -> f64 {
        naive_quantile(hour, tau)
    }

    fn standardized_error(&self, hour: HourForecast, price: f64) -> f64 {
        (price - hour.location).abs() / hour.scale
    }

    fn interval_window_days(&self) -> usize {
        self.window_days
    }

    fn forecast(&self, windows: &[ForecastWindow<'_>]) -> Result<Vec<HourForecast>, String> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.windows.fetch_add(windows.len(), Ordering::Relaxed);
        for window in windows {
            assert_eq!(window.exogenous.len(), self.exogenous);
            assert!(
                window
                    .exogenous
                    .iter()
                    .all(|v| v.len() == EXOGENOUS_WINDOW_HOURS)
            );
        }
        Ok(windows
            .iter()
            .flat_map(|w| naive_hours(w.known_prices, w.exogenous, w.issue_hour, self.horizon))
            .collect())
    }
}

/// The naive model's distributions are Gaussian in price space.
fn naive_quantile(hour: HourForecast, tau: f64) -> f64 {
    let z = match tau {
        0.5 => 0.0,
        0.05 => -1.644_853_626_951_472_2,
        0.95 => 1.644_853_626_951_472_2,
        _ => panic!("quantile {tau} not asked for"),
    };
    hour.location + hour.scale * z
}

fn settings(model: Arc<Naive168>, clock_offset_hours: i32) -> ForecastSettings {
    ForecastSettings {
        name: Arc::from("forecast"),
        model_name: Arc::from("naive"),
        horizon_hours: model.horizon,
        exogenous: (0..model.exogenous).map(exogenous_input).collect(),
        forecaster: model,
        clock_offset_hours,
        only: SeriesFilter::default(),
    }
}

fn exogenous_input(index: usize) -> ExogenousInput {
    ExogenousInput {
        market: Market::NordPool,
        series: Arc::from(format!("X{index}")),
        location: Arc::from("SYSTEM"),
    }
}

/// Exogenous input `input`'s value for UTC hour `T0_HOUR + hour`.
fn quantity(input: usize, hour: i64, micros: i64, revision: i64) -> QuantityRecord {
    let start = Timestamp::from_second((T0_HOUR + hour) * 3_600).unwrap();
    let exogenous = exogenous_input(input);
    QuantityRecord {
        key: QuantityKey {
            interval_start: start,
            market: exogenous.market,
            product: Product::DayAheadHourly,
            series: exogenous.series,
            location: exogenous.location,
        },
        location_type: LocationType::Region,
        interval_end: start + SignedDuration::from_hours(1),
        value: Quantity::from_micros(micros),
        unit: Unit::Megawatt,
        version: crate::series::testing::version(revision),
        origin: crate::series::testing::origin(hour as u64),
    }
}

fn hourly(location: usize, hour: i64, micros: i64, revision: i64) -> PriceRecord {
    price(location, hour * 60, 60, micros, revision)
}

fn price(location: usize, minute: i64, minutes: i64, micros: i64, revision: i64) -> PriceRecord {
    let start = Timestamp::from_second((T0_HOUR * 60 + minute) * 60).unwrap();
    let price = Price::from_micros(micros);
    crate::series::testing::price_record(
        PriceKey {
            interval_start: start,
            market: Market::NordPool,
            product: Product::DayAheadHourly,
            location: Arc::from(format!("L{location}")),
        },
        LocationType::Area,
        start + SignedDuration::from_mins(minutes),
        price,
        Currency::EUR,
        revision,
        minute as u64,
    )
}

/// Runs `forecast` over rounds of updates (one logical time each) on `workers` workers.
fn run(rounds: Vec<Vec<(PriceRecord, isize)>>, settings: ForecastSettings, workers: usize) -> Net {
    crate::series::testing::net_output(rounds, workers, move |prices| {
        prices.forecast(None, &settings)
    })
}

/// Rounds of prices and exogenous values.
type Rounds = Vec<crate::series::testing::Round<QuantityRecord>>;

/// As [`run`], with exogenous values.
fn run_with(rounds: Rounds, settings: ForecastSettings, workers: usize) -> Net {
    crate::series::testing::net_output_with(rounds, workers, move |prices, quantities| {
        prices.forecast(Some(quantities), &settings)
    })
}

/// The forecasts of the final prices, straight from the rules: `finals` maps (location,
/// UTC hour index from T0) to micro-units.
fn batch(finals: &BTreeMap<(usize, i64), i64>, offset: i32, horizon: usize) -> Net {
    batch_with(finals, &BTreeMap::new(), 0, offset, horizon, 0)
}

/// As [`batch`], for a model reading `inputs` exogenous series whose final values
/// `exogenous` maps by (input, UTC hour index from T0).
fn batch_with(
    finals: &BTreeMap<(usize, i64), i64>,
    exogenous: &BTreeMap<(usize, i64), i64>,
    inputs: usize,
    offset: i32,
    horizon: usize,
    window_days: i64,
) -> Net {
    let mut net = Net::new();
    let grid = IssueGrid {
        every: horizon.min(24) as i64,
        offset: i64::from(offset),
    };
    let locations: std::collections::BTreeSet<usize> = finals.keys().map(|(l, _)| *l).collect();
    for location in locations {
        let hours: BTreeMap<i64, i64> = finals
            .iter()
            .filter(|((l, _), _)| *l == location)
            .map(|((_, h), p)| (T0_HOUR + h, *p))
            .collect();
        let (Some(first), Some(last)) = (hours.keys().next(), hours.keys().last()) else {
            continue;
        };
        // The model's forecasts first, then their rows with the day's interval factor.
        let mut raw: BTreeMap<i64, Vec<HourForecast>> = BTreeMap::new();
        let mut issue = grid.at_or_after(*first);
        while issue <= last + 1 + 168 {
            let known: Option<Vec<f64>> = (issue - 168..issue)
                .map(|h| hours.get(&h).map(|&p| Price::from_micros(p).to_f64()))
                .collect();
            let window: Option<Vec<Vec<f64>>> = (0..inputs)
                .map(|input| {
                    (issue - 168..issue + 24)
                        .map(|h| {
                            let value = exogenous.get(&(input, h - T0_HOUR))?;
                            Some(Quantity::from_micros(*value).to_f64())
                        })
                        .collect()
                })
                .collect();
            if let (Some(known), Some(window)) = (known, window) {
                let local = issue + i64::from(offset);
                raw.insert(issue, naive_hours(&known, &window, local, horizon));
            }
            issue += grid.every;
        }
        for (&issue, forecasts) in &raw {
            let day = issue - (issue + i64::from(offset)).rem_euclid(24);
            let mut errors = Vec::new();
            if window_days > 0 {
                for (&past, past_forecasts) in
                    raw.range(day - window_days * 24..=day - horizon as i64)
                {
                    for (k, forecast) in past_forecasts.iter().enumerate() {
                        if let Some(&price) = hours.get(&(past + k as i64)) {
                            let price = Price::from_micros(price).to_f64();
                            errors.push((price - forecast.location).abs() / forecast.scale);
                        }
                    }
                }
            }
            let factor = interval_factor(errors);
            for (k, hour) in forecasts.iter().enumerate() {
                let scaled = HourForecast {
                    location: hour.location,
                    scale: hour.scale * factor,
                };
                let start = Timestamp::from_second((issue + k as i64) * 3_600).unwrap();
                let record = ForecastRecord {
                    key: ForecastKey {
                        interval_start: start,
                        market: Market::NordPool,
                        product: Product::DayAheadHourly,
                        location: Arc::from(format!("L{location}")),
                        issued_at: Timestamp::from_second(issue * 3_600).unwrap(),
                        operator: Arc::from("forecast"),
                    },
                    interval_end: start + SignedDuration::from_hours(1),
                    horizon_hours: k as u16 + 1,
                    median: exact(naive_quantile(scaled, 0.5)).unwrap(),
                    lower_90: exact(naive_quantile(scaled, 0.05)).unwrap(),
                    upper_90: exact(naive_quantile(scaled, 0.95)).unwrap(),
                    currency: Currency::EUR,
                    unit: Unit::MegawattHour,
                    model: Arc::from("naive"),
                };
                net.insert(record, 1);
            }
        }
    }
    net
}

fn series_price(location: usize, hour: i64) -> i64 {
    30_000_000 + ((location as i64 * 7_919 + hour * 104_729) % 20_000_000) - 5_000_000
}

#[test]
fn nine_days_in_order_give_two_forecast_days_batched_per_time() {
    let model = Arc::new(Naive168::default());
    // Three series, nine days each, one logical time per day (all series at once).
    let rounds: Vec<Vec<(PriceRecord, isize)>> = (0..9)
        .map(|day| {
            (0..3)
                .flat_map(|location| {
                    (day * 24..(day + 1) * 24)
                        .map(move |h| (hourly(location, h, series_price(location, h), 1), 1))
                })
                .collect()
        })
        .collect();
    let finals: BTreeMap<(usize, i64), i64> = (0..3)
        .flat_map(|l| (0..9 * 24).map(move |h| ((l, h), series_price(l, h))))
        .collect();
    let net = run(rounds, settings(model.clone(), 1), 1);
    assert_eq!(net, batch(&finals, 1, 24));
    // Days 7, 8 and 9 (after the last price) of three series: 9 forecasts of 24 hours.
    assert_eq!(net.len(), 3 * 3 * 24);
    let first = net.keys().next().unwrap();
    // Day 7 starts 7 days after T0 (midnight at UTC+1).
    assert_eq!(
        first.key.issued_at,
        Timestamp::from_second((T0_HOUR + 7 * 24) * 3_600).unwrap()
    );
    assert_eq!(first.horizon_hours, 1);
    // One model call per logical time that completed a week, all series in it.
    assert_eq!(model.calls.load(Ordering::Relaxed), 3);
    assert_eq!(model.windows.load(Ordering::Relaxed), 9);
}

#[test]
fn a_missing_hour_withholds_the_week_after_it_and_a_late_hour_restores_it() {
    let model = Arc::new(Naive168::default());
    let mut first: Vec<(PriceRecord, isize)> = (0..8 * 24)
        .filter(|&h| h != 30)
        .map(|h| (hourly(0, h, series_price(0, h), 1), 1))
        .collect();
    let net = run(vec![first.clone()], settings(model.clone(), 0), 1);
    // T0 is 23:00 UTC, so the UTC days of the data are hour 0 alone, then hours 1..=168
    // (seven whole days, hour 30 among them) and 169..=191: only the day after the seven
    // could be forecast, and hour 30 is missing from its week.
    assert!(net.is_empty(), "{} rows", net.len());
    first.push((hourly(0, 30, series_price(0, 30), 1), 1));
    let late = vec![
        first.clone(),
        vec![(hourly(0, 30, series_price(0, 30), 1), 1)],
    ];
    let finals: BTreeMap<(usize, i64), i64> =
        (0..8 * 24).map(|h| ((0, h), series_price(0, h))).collect();
    let mut finals_counted = finals.clone();
    // The late round inserted hour 30 twice: still one current value.
    finals_counted.insert((0, 30), series_price(0, 30));
    assert_eq!(
        run(late, settings(model, 0), 2),
        batch(&finals_counted, 0, 24)
    );
}

#[test]
fn sub_hourly_prices_are_not_forecast() {
    let model = Arc::new(Naive168::default());
    let five_minute: Vec<(PriceRecord, isize)> = (0..8 * 24 * 12)
        .map(|i| (price(0, i * 5, 5, 40_000_000, 1), 1))
        .collect();
    assert!(run(vec![five_minute], settings(model.clone(), 0), 1).is_empty());
    assert_eq!(model.calls.load(Ordering::Relaxed), 0);
}

/// (location, hour, revision, +1 insert or -1 withdrawal).
type Edit = (usize, i64, i64, isize);

/// Appends one round per drawn list of `(stream, hour, revision, withdraw)` edits, keeping
/// those `keep` accepts.
fn push_edit_rounds(
    all: &mut Vec<Vec<Edit>>,
    edits: Vec<Vec<(usize, i64, i64, bool)>>,
    keep: impl Fn(usize, i64) -> bool,
) {
    for round in edits {
        all.push(
            round
                .into_iter()
                .filter(|&(stream, hour, _, _)| keep(stream, hour))
                .map(|(stream, hour, revision, withdraw)| {
                    (stream, hour, revision, if withdraw { -1 } else { 1 })
                })
                .collect(),
        );
    }
}

/// Random rounds: every hour of two series spread over a few loading rounds, then rounds
/// of a few edits each (revisions, withdrawals, re-insertions), so that a lone change late
/// in a run must reach every forecast that reads it.
fn rounds_strategy() -> impl Strategy<Value = (Vec<Vec<Edit>>, i32)> {
    let edit = (0usize..2, 0i64..10 * 24, 0i64..4, prop::bool::weighted(0.3));
    (
        1usize..4,
        prop::collection::vec(prop::collection::vec(edit, 0..6), 1..8),
        -6i32..=10,
        any::<u64>(),
    )
        .prop_map(|(loading, edits, offset, seed)| {
            let mut all: Vec<Vec<Edit>> = vec![Vec::new(); loading];
            for location in 0..2 {
                for hour in 0..10 * 24 {
                    let mixed = (hour as u64 * 0x9E37_79B9 + location as u64 * 17) ^ seed;
                    all[(mixed % loading as u64) as usize].push((location, hour, 0, 1));
                }
            }
            push_edit_rounds(&mut all, edits, |_, _| true);
            (all, offset)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn incremental_equals_batch_at_one_and_two_workers((rounds, offset) in rounds_strategy()) {
        // Revision r of an hour has its own price; a withdrawal retracts the original
        // (revision 0) when it is still held, keeping multiplicities non-negative.
        let mut held: BTreeMap<(usize, i64, i64), isize> = BTreeMap::new();
        let mut updates: Vec<Vec<(PriceRecord, isize)>> = Vec::new();
        for round in &rounds {
            let mut batch_updates = Vec::new();
            for &(location, hour, revision, diff) in round {
                let key = (location, hour, if diff < 0 { 0 } else { revision });
                let count = held.entry(key).or_default();
                if diff < 0 && *count == 0 {
                    continue;
                }
                *count += diff;
                let micros = series_price(location, hour) + key.2 * 1_000_000;
                batch_updates.push((hourly(location, hour, micros, key.2), diff));
            }
            updates.push(batch_updates);
        }
        // The current value of an hour: the greatest price held (revisions raise it).
        let mut finals: BTreeMap<(usize, i64), i64> = BTreeMap::new();
        for (&(location, hour, revision), &count) in &held {
            if count > 0 {
                let micros = series_price(location, hour) + revision * 1_000_000;
                let entry = finals.entry((location, hour)).or_insert(micros);
                *entry = (*entry).max(micros);
            }
        }
        // The day-ahead grid, and the 6-hour and week-ahead ones; the intervals
        // recalibrated from the errors of the last two days (day-ahead) and one (6 hours).
        for (horizon, window_days) in [(24, 2), (6, 1), (168, 0)] {
            let expected = batch_with(&finals, &BTreeMap::new(), 0, offset, horizon, window_days);
            for workers in [1, 2] {
                let model = Naive168 {
                    window_days: window_days as usize,
                    ..Naive168::with_horizon(horizon)
                };
                let net = run(updates.clone(), settings(Arc::new(model), offset), workers);
                prop_assert_eq!(&net, &expected, "horizon {} workers {}", horizon, workers);
            }
        }
    }
}

#[test]
fn an_hourly_model_forecasts_from_every_hour_with_a_full_week() {
    let model = Arc::new(Naive168::with_horizon(1));
    // 170 hours in order, one per logical time: issues at hours 168, 169 and 170 (the
    // hour after the last price) have a full week before them.
    let rounds: Vec<Vec<(PriceRecord, isize)>> = (0..170)
        .map(|h| vec![(hourly(0, h, series_price(0, h), 1), 1)])
        .collect();
    let finals: BTreeMap<(usize, i64), i64> =
        (0..170).map(|h| ((0, h), series_price(0, h))).collect();
    let net = run(rounds, settings(model.clone(), 0), 1);
    assert_eq!(net, batch(&finals, 0, 1));
    assert_eq!(net.len(), 3);
    assert!(
        net.keys()
            .all(|row| row.horizon_hours == 1 && row.key.interval_start == row.key.issued_at)
    );
    assert_eq!(model.windows.load(Ordering::Relaxed), 3);
}

#[test]
fn a_revised_price_recalibrates_the_intervals_of_every_day_whose_window_holds_it() {
    // 18 days; a 10-day recalibration window. A revision at hour 7·24 + 5 (a target of
    // day 7's forecast) changes the inputs of the forecasts up to day 14 and the errors in
    // the windows of days 8 to 17: days 15 to 17 change through recalibration alone.
    let days = 18;
    let revised_hour = 7 * 24 + 5;
    let prices: Vec<(PriceRecord, isize)> = (0..days * 24)
        .map(|h| (hourly(0, h, series_price(0, h), 1), 1))
        .collect();
    let old = hourly(0, revised_hour, series_price(0, revised_hour), 1);
    let new_micros = series_price(0, revised_hour) + 400_000_000;
    let new = hourly(0, revised_hour, new_micros, 2);
    let mut finals: BTreeMap<(usize, i64), i64> = (0..days * 24)
        .map(|h| ((0, h), series_price(0, h)))
        .collect();
    let model = || {
        Arc::new(Naive168 {
            window_days: 10,
            ..Naive168::default()
        })
    };
    let before = run(vec![prices.clone()], settings(model(), 0), 1);
    assert_eq!(before, batch_with(&finals, &BTreeMap::new(), 0, 0, 24, 10));
    finals.insert((0, revised_hour), new_micros);
    let expected = batch_with(&finals, &BTreeMap::new(), 0, 0, 24, 10);
    for workers in [1, 2] {
        let rounds = vec![prices.clone(), vec![(old.clone(), -1), (new.clone(), 1)]];
        assert_eq!(run(rounds, settings(model(), 0), workers), expected);
    }
    // Day 16's intervals (T0 is 23:00 UTC: its forecast is issued at hour 16·24 + 1)
    // widened, its medians did not move.
    let day_16 = |net: &Net| -> Vec<(Price, Price)> {
        net.keys()
            .filter(|row| row.key.issued_at.as_second() / 3_600 == T0_HOUR + 16 * 24 + 1)
            .map(|row| (row.median, row.upper_90))
            .collect()
    };
    let (old_rows, new_rows) = (day_16(&before), day_16(&expected));
    assert_eq!(old_rows.len(), 24);
    for (old, new) in old_rows.iter().zip(&new_rows) {
        assert_eq!(old.0, new.0);
        assert!(new.1 > old.1, "{old:?} {new:?}");
    }
}
