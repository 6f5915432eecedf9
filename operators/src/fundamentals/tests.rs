use std::sync::Arc;

use differential_dataflow::input::Input;
use gridflow_engine::record::*;
use jiff::civil::{Date, date};
use timely::dataflow::operators::capture::{Capture, Extract};

use super::*;

/// What `capture` collects: batches of updates per time.
type Captured<D> = Vec<(u64, Vec<(D, u64, isize)>)>;

fn origin(line: u64) -> Origin {
    Origin {
        source: Arc::from("storage"),
        file: Arc::from("storage.json"),
        line,
    }
}

fn friday(day: Date) -> NativeInterval {
    NativeInterval::Day {
        date: day,
        clock: MarketClock::zone("America/New_York"),
    }
}

fn storage(location: &str, day: Date, bcf: &str, published_at: i64, line: u64) -> Observation {
    Observation::Quantity(PublishedQuantity {
        market: Market::Gas,
        product: Product::Weekly,
        series: Arc::from("WORKING_GAS_STORAGE"),
        location: Arc::from(location),
        location_type: LocationType::Region,
        interval: friday(day),
        value: bcf.parse().unwrap(),
        unit: Unit::Bcf,
        published_at: Some(jiff::Timestamp::from_second(published_at).unwrap()),
        revision: None,
        origin: origin(line),
    })
}

fn utc(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

/// Runs fundamentals over rounds of updates; returns every update it emitted (by round)
/// and every reject update.
fn run(rounds: Vec<Vec<(Observation, isize)>>) -> (Captured<QuantityRecord>, Captured<Reject>) {
    let (quantities, rejects) = timely::execute_directly(move |worker| {
        let (mut input, quantities, rejects) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, observations) = scope.new_collection::<Observation, isize>();
            let (quantities, rejects) = observations.fundamentals();
            (input, quantities.inner.capture(), rejects.inner.capture())
        });
        for (round, updates) in rounds.into_iter().enumerate() {
            input.advance_to(round as u64);
            for (observation, diff) in updates {
                input.update(observation, diff);
            }
        }
        input.close();
        while worker.step() {}
        (quantities, rejects)
    });
    (quantities.extract(), rejects.extract())
}

/// The updates at each time, consolidated, as (time, location, value, line, diff).
fn changes(captured: &Captured<QuantityRecord>) -> Vec<(u64, String, String, u64, isize)> {
    let mut all: Vec<((u64, String, String, u64), isize)> = captured
        .iter()
        .flat_map(|(_, batch)| batch.iter())
        .map(|(record, time, diff)| {
            let key = (
                *time,
                record.key.location.to_string(),
                record.value.to_string(),
                record.origin.line,
            );
            (key, *diff)
        })
        .collect();
    differential_dataflow::consolidation::consolidate(&mut all);
    all.into_iter()
        .map(|((time, location, value, line), diff)| (time, location, value, line, diff))
        .collect()
}

#[test]
fn a_week_ending_friday_resolves_to_its_eastern_day() {
    let (quantities, rejects) = run(vec![vec![(
        storage("EAST", date(2022, 12, 2), "834", 10, 1),
        1,
    )]]);
    assert!(rejects.is_empty(), "{rejects:?}");
    let records: Vec<&QuantityRecord> = quantities
        .iter()
        .flat_map(|(_, batch)| batch.iter().map(|(record, _, _)| record))
        .collect();
    assert_eq!(records.len(), 1);
    let record = records[0];
    // Friday 2 December 2022, EST (UTC-5): 05:00Z to 05:00Z the next day.
    assert_eq!(record.key.interval_start, utc("2022-12-02T05:00:00Z"));
    assert_eq!(record.interval_end, utc("2022-12-03T05:00:00Z"));
    assert_eq!(record.value, Quantity::from_units(834));
    assert_eq!(record.unit, Unit::Bcf);
    assert_eq!(&*record.key.series, "WORKING_GAS_STORAGE");
    assert_eq!(record.key.product, Product::Weekly);
    assert_eq!(record.version.published_at.as_second(), 10);
}

#[test]
fn an_identical_republication_changes_nothing() {
    let day = date(2022, 12, 2);
    let (quantities, _) = run(vec![
        vec![(storage("EAST", day, "834", 10, 1), 1)],
        vec![(storage("EAST", day, "834.0", 20, 7), 1)],
    ]);
    // One insertion at the first time, nothing at the second: the first version stays.
    assert_eq!(
        changes(&quantities),
        [(0, "EAST".into(), "834".into(), 1, 1)]
    );
}

#[test]
fn a_changed_value_retracts_and_inserts() {
    let day = date(2022, 12, 2);
    let (quantities, _) = run(vec![
        vec![(storage("EAST", day, "834", 10, 1), 1)],
        // The next week's report revises the week (EIA reclassifications do this).
        vec![(storage("EAST", day, "836", 20, 9), 1)],
    ]);
    assert_eq!(
        changes(&quantities),
        [
            (0, "EAST".into(), "834".into(), 1, 1),
            (1, "EAST".into(), "834".into(), 1, -1),
            (1, "EAST".into(), "836".into(), 9, 1),
        ]
    );
}

#[test]
fn an_older_version_arriving_late_does_not_replace_the_newer() {
    let day = date(2022, 12, 2);
    let (quantities, _) = run(vec![
        vec![(storage("EAST", day, "836", 20, 9), 1)],
        vec![(storage("EAST", day, "834", 10, 1), 1)],
    ]);
    assert_eq!(
        changes(&quantities),
        [(0, "EAST".into(), "836".into(), 9, 1)]
    );
}

#[test]
fn retracting_the_input_retracts_the_record_and_keys_stay_apart() {
    let (quantities, _) = run(vec![
        vec![
            (storage("EAST", date(2022, 12, 2), "834", 10, 1), 1),
            (storage("EAST", date(2022, 11, 25), "840", 10, 2), 1),
            (storage("LOWER_48", date(2022, 12, 2), "3462", 10, 3), 1),
        ],
        vec![(storage("EAST", date(2022, 12, 2), "834", 10, 1), -1)],
    ]);
    assert_eq!(
        changes(&quantities),
        [
            (0, "EAST".into(), "834".into(), 1, 1),
            (0, "EAST".into(), "840".into(), 2, 1),
            (0, "LOWER_48".into(), "3462".into(), 3, 1),
            (1, "EAST".into(), "834".into(), 1, -1),
        ]
    );
}

#[test]
fn an_impossible_time_is_a_reject_and_prices_and_rates_are_ignored() {
    let mut gap = storage("EAST", date(2022, 12, 2), "834", 10, 4);
    if let Observation::Quantity(quantity) = &mut gap {
        // 02:30 on the spring-forward day does not exist in New York.
        quantity.interval = NativeInterval::Local {
            time: date(2022, 3, 13).at(2, 30, 0, 0),
            anchor: Anchor::Start,
            minutes: 60,
            clock: MarketClock::zone("America/New_York"),
            occurrence: Occurrence::Unstated,
        };
    }
    let price = Observation::Price(PublishedPrice {
        market: Market::Gas,
        product: Product::Daily,
        location: Arc::from("HENRY_HUB"),
        location_type: LocationType::Hub,
        interval: NativeInterval::Day {
            date: date(2022, 12, 2),
            clock: MarketClock::zone("America/Chicago"),
        },
        price: "4.92".parse().unwrap(),
        currency: Currency::USD,
        unit: Unit::MillionBtu,
        components: Components::default(),
        published_at: None,
        revision: None,
        origin: origin(5),
    });
    let rate = Observation::Rate(FxRate {
        date: date(2022, 12, 2),
        currency: Currency::USD,
        per_euro: "1.0538".parse().unwrap(),
        origin: origin(6),
    });
    let (quantities, rejects) = run(vec![vec![(gap, 1), (price, 1), (rate, 1)]]);
    assert!(changes(&quantities).is_empty());
    let rejects: Vec<&Reject> = rejects
        .iter()
        .flat_map(|(_, batch)| batch.iter().map(|(reject, _, _)| reject))
        .collect();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0].origin.line, 4);
    assert_eq!(&*rejects[0].stage, "fundamentals");
    assert!(
        rejects[0].reason.contains("does not exist"),
        "{}",
        rejects[0].reason
    );
}

mod incremental_equals_batch {
    use super::*;
    use proptest::prelude::*;

    /// (round, location, week, value, published_at, insert or retract)
    type Update = (usize, usize, usize, i64, i64, bool);

    const LOCATIONS: [&str; 2] = ["EAST", "LOWER_48"];
    const WEEKS: [(i16, i8, i8); 2] = [(2022, 11, 25), (2022, 12, 2)];

    fn observation(location: usize, week: usize, value: i64, published_at: i64) -> Observation {
        let (year, month, day) = WEEKS[week];
        storage(
            LOCATIONS[location],
            date(year, month, day),
            &value.to_string(),
            published_at,
            1,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn the_final_state_is_the_batch_answer(
            updates in proptest::collection::vec(
                (0usize..4, 0usize..2, 0usize..2, 0i64..3, 0i64..3, proptest::bool::weighted(0.8)),
                1..24,
            )
        ) {
            // Only retract what was inserted before, so every multiplicity stays 0 or more.
            let mut present: Vec<Update> = Vec::new();
            let mut rounds: Vec<Vec<(Observation, isize)>> = vec![Vec::new(); 4];
            for update in &updates {
                let (round, location, week, value, published_at, insert) = *update;
                let key = |u: &Update| (u.1, u.2, u.3, u.4);
                if insert {
                    present.push(*update);
                    rounds[round].push((observation(location, week, value, published_at), 1));
                } else if let Some(at) = present
                    .iter()
                    .position(|p| key(p) == key(update) && p.0 <= round)
                {
                    present.remove(at);
                    rounds[round].push((observation(location, week, value, published_at), -1));
                }
            }
            let (quantities, rejects) = run(rounds);
            prop_assert!(rejects.is_empty());
            let mut incremental: Vec<(QuantityRecord, isize)> = quantities
                .into_iter()
                .flat_map(|(_, batch)| batch)
                .map(|(record, _, diff)| (record, diff))
                .collect();
            differential_dataflow::consolidation::consolidate(&mut incremental);

            // Batch: resolve the final inputs, then the version rule per key.
            let mut finals: Vec<(QuantityRecord, isize)> = present
                .iter()
                .map(|u| {
                    let Observation::Quantity(quantity) = observation(u.1, u.2, u.3, u.4) else {
                        unreachable!()
                    };
                    (resolve(quantity).unwrap(), 1)
                })
                .collect();
            differential_dataflow::consolidation::consolidate(&mut finals);
            let mut batch: Vec<(QuantityRecord, isize)> = Vec::new();
            for location in LOCATIONS {
                for (year, month, day) in WEEKS {
                    let versions: Vec<(&QuantityRecord, isize)> = finals
                        .iter()
                        .filter(|(r, _)| {
                            &*r.key.location == location
                                && r.key.interval_start
                                    == friday(date(year, month, day)).resolve().unwrap().start
                        })
                        .map(|(r, count)| (r, *count))
                        .collect();
                    if let Some(current) = current_version(&versions) {
                        batch.push((current.clone(), 1));
                    }
                }
            }
            differential_dataflow::consolidation::consolidate(&mut batch);
            prop_assert_eq!(incremental, batch);
        }
    }
}
