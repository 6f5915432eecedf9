//! With exogenous inputs: values gate the forecasts that read them, arrive late, are
//! revised and withdrawn, and the operator still ends where a batch computation over the
//! final prices and values ends.

use super::*;

fn exogenous_value(input: usize, hour: i64) -> i64 {
    40_000_000_000 + input as i64 * 3_000_000_000 + (hour * 7_777_777) % 5_000_000_000
}

#[test]
fn exogenous_values_gate_forecasts_and_revisions_reach_them() {
    let model = Arc::new(Naive168::with_exogenous(24, 2));
    let prices: Vec<(PriceRecord, isize)> = (0..9 * 24)
        .map(|h| (hourly(0, h, series_price(0, h), 1), 1))
        .collect();
    let mut exogenous: BTreeMap<(usize, i64), i64> = (0..2)
        .flat_map(|input| (0..9 * 24).map(move |h| ((input, h), exogenous_value(input, h))))
        .filter(|&((input, h), _)| (input, h) != (1, 200))
        .collect();
    let values = |values: &BTreeMap<(usize, i64), i64>| -> Vec<(QuantityRecord, isize)> {
        values
            .iter()
            .map(|(&(input, h), &v)| (quantity(input, h, v, 1), 1))
            .collect()
    };
    let prices_finals: BTreeMap<(usize, i64), i64> =
        (0..9 * 24).map(|h| ((0, h), series_price(0, h))).collect();
    // Days 7 and 8 (T0 is midnight at UTC+1) have their week of prices; day 8's window
    // (hours 24..216) lacks one exogenous value, and day 9's has none after hour 215.
    let first = run_with(
        vec![(prices.clone(), values(&exogenous))],
        settings(model.clone(), 1),
        1,
    );
    assert_eq!(first, batch_with(&prices_finals, &exogenous, 2, 1, 24, 0));
    assert_eq!(first.len(), 24, "day 7 only");
    assert!(
        first
            .keys()
            .all(|row| row.key.issued_at.as_second() / 3_600 == T0_HOUR + 7 * 24)
    );
    // The missing value arrives late, then an exogenous value both windows read is
    // revised, and a value no input names passes by.
    let late = quantity(1, 200, exogenous_value(1, 200), 1);
    let old = quantity(0, 170, exogenous_value(0, 170), 1);
    let revised = quantity(0, 170, exogenous_value(0, 170) + 9_000_000_000, 2);
    let mut stranger = quantity(0, 100, 1, 1);
    stranger.key.series = Arc::from("SOLAR");
    let rounds: Rounds = vec![
        (prices.clone(), values(&exogenous)),
        (Vec::new(), vec![(late, 1), (stranger, 1)]),
        (Vec::new(), vec![(old, -1), (revised, 1)]),
    ];
    exogenous.insert((1, 200), exogenous_value(1, 200));
    exogenous.insert((0, 170), exogenous_value(0, 170) + 9_000_000_000);
    for workers in [1, 2] {
        let model = Arc::new(Naive168::with_exogenous(24, 2));
        let net = run_with(rounds.clone(), settings(model, 1), workers);
        assert_eq!(net, batch_with(&prices_finals, &exogenous, 2, 1, 24, 0));
        assert_eq!(net.len(), 2 * 24, "days 7 and 8");
    }
    // The revision (hour 170: day 7's third hour) moved day 7's median there.
    let final_net = run_with(rounds, settings(model, 1), 1);
    let day_7_median = |net: &Net| {
        net.keys()
            .find(|row| row.horizon_hours == 3)
            .map(|row| row.median)
    };
    assert_ne!(day_7_median(&first), day_7_median(&final_net));
}

/// An edit of the exogenous input `input` (0 or 1) instead of a price, as (2 + input).
fn exogenous_rounds_strategy() -> impl Strategy<Value = (Vec<Vec<Edit>>, i32)> {
    let edit = (0usize..4, 0i64..11 * 24, 0i64..4, prop::bool::weighted(0.3));
    (
        1usize..4,
        prop::collection::vec(prop::collection::vec(edit, 0..6), 1..6),
        -6i32..=10,
        any::<u64>(),
    )
        .prop_map(|(loading, edits, offset, seed)| {
            let mut all: Vec<Vec<Edit>> = vec![Vec::new(); loading];
            // Prices of two series for ten days; exogenous values for eleven.
            for (stream, days) in [(0, 10), (1, 10), (2, 11), (3, 11)] {
                for hour in 0..days * 24 {
                    // Input 1's hour 250 is missing until an edit inserts it: it holds back
                    // the forecasts issued after hour 226.
                    if (stream, hour) != (3, 250) {
                        let mixed = (hour as u64 * 0x9E37_79B9 + stream as u64 * 17) ^ seed;
                        all[(mixed % loading as u64) as usize].push((stream, hour, 0, 1));
                    }
                }
            }
            push_edit_rounds(&mut all, edits, |stream, hour| {
                stream >= 2 || hour < 10 * 24
            });
            (all, offset)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn with_exogenous_inputs_incremental_equals_batch((rounds, offset) in exogenous_rounds_strategy()) {
        // Streams 0 and 1 are price series, 2 and 3 the exogenous inputs 0 and 1.
        let mut held: BTreeMap<(usize, i64, i64), isize> = BTreeMap::new();
        let mut updates: Rounds = Vec::new();
        let value = |stream: usize, hour: i64, revision: i64| {
            if stream < 2 {
                series_price(stream, hour) + revision * 1_000_000
            } else {
                exogenous_value(stream - 2, hour) + revision * 500_000_000
            }
        };
        for round in &rounds {
            let (mut prices, mut quantities) = (Vec::new(), Vec::new());
            for &(stream, hour, revision, diff) in round {
                let key = (stream, hour, if diff < 0 { 0 } else { revision });
                let count = held.entry(key).or_default();
                if diff < 0 && *count == 0 {
                    continue;
                }
                *count += diff;
                let micros = value(stream, hour, key.2);
                if stream < 2 {
                    prices.push((hourly(stream, hour, micros, key.2), diff));
                } else {
                    quantities.push((quantity(stream - 2, hour, micros, key.2), diff));
                }
            }
            updates.push((prices, quantities));
        }
        let (mut finals, mut exogenous) = (BTreeMap::new(), BTreeMap::new());
        for (&(stream, hour, revision), &count) in &held {
            if count > 0 {
                let (map, index) = if stream < 2 {
                    (&mut finals, stream)
                } else {
                    (&mut exogenous, stream - 2)
                };
                let micros = value(stream, hour, revision);
                let entry = map.entry((index, hour)).or_insert(micros);
                *entry = (*entry).max(micros);
            }
        }
        for (horizon, window_days) in [(24, 1), (6, 0)] {
            let expected = batch_with(&finals, &exogenous, 2, offset, horizon, window_days);
            for workers in [1, 2] {
                let model = Naive168 {
                    window_days: window_days as usize,
                    ..Naive168::with_exogenous(horizon, 2)
                };
                let net = run_with(updates.clone(), settings(Arc::new(model), offset), workers);
                prop_assert_eq!(&net, &expected, "horizon {} workers {}", horizon, workers);
            }
        }
    }
}
