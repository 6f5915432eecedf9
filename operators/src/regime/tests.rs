//! `regime` against a batch computation written straight from the rules of the module
//! documentation with `gridflow-regime`: random series with revisions, retractions and
//! out-of-order arrivals, both methods, one and two workers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use gridflow_engine::record::*;
use gridflow_regime::{Bocpd, BocpdSettings, FitOptions, GaussianHmm, NormalGammaPrior};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use super::*;

/// A final row with its net multiplicity.
type Net = BTreeMap<RegimeRecord, isize>;

const T0: i64 = 1_743_465_600; // 2025-04-01T00:00:00Z

fn start(interval: usize) -> Timestamp {
    Timestamp::from_second(T0 + 300 * interval as i64).unwrap()
}

fn price(location: usize, interval: usize, micros: i64, revision: i64) -> PriceRecord {
    let start = start(interval);
    let price = Price::from_micros(micros);
    crate::series::testing::price_record(
        PriceKey {
            interval_start: start,
            market: Market::Nem,
            product: Product::RealTime5Min,
            location: Arc::from(format!("L{location}")),
        },
        LocationType::Region,
        start + SignedDuration::from_mins(5),
        price,
        Currency::AUD,
        revision,
        interval as u64,
    )
}

fn hmm_settings(warm_up: usize, refit_every: usize, window: usize) -> RegimeSettings {
    RegimeSettings {
        name: Arc::from("regimes"),
        method: MethodSettings::Hmm(HmmSettings {
            states: 2,
            refit_every,
            window,
            initialisations: 2,
            seed: 7,
            fit: FitOptions::default(),
        }),
        warm_up,
        checkpoint_every: 3,
        max_checkpoints: 2,
        only: SeriesFilter::default(),
    }
}

fn bocpd_settings(warm_up: usize) -> RegimeSettings {
    RegimeSettings {
        name: Arc::from("changes"),
        method: MethodSettings::Bocpd(BocpdSettings {
            prior: NormalGammaPrior {
                mean: 40.0,
                mean_observations: 0.1,
                shape: 1.0,
                rate: 20.0,
            },
            hazard: 0.1,
            // Short, so that long series merge run lengths too.
            max_run_length: 6,
        }),
        warm_up,
        checkpoint_every: 4,
        max_checkpoints: 1,
        only: SeriesFilter::default(),
    }
}

/// Runs `regime` over rounds of price updates (one logical time each) on `workers`
/// workers and returns the net output.
fn run(rounds: Vec<Vec<(PriceRecord, isize)>>, settings: RegimeSettings, workers: usize) -> Net {
    crate::series::testing::net_output(rounds, workers, move |prices| prices.regime(&settings))
}

/// The rows of one sorted series, straight from the rules.
fn batch_series(
    location: &str,
    prices: &[(usize, i64)],
    settings: &RegimeSettings,
) -> Vec<RegimeRecord> {
    let xs: Vec<f64> = prices
        .iter()
        .map(|(_, micros)| *micros as f64 / 1e6)
        .collect();
    let n = xs.len();
    let w = settings.warm_up;
    if n < w {
        return Vec::new();
    }
    let row = |position: usize| -> RegimeRecord {
        let (interval, micros) = prices[position];
        let record = price(0, interval, micros, 0);
        RegimeRecord {
            key: RegimeKey {
                interval_start: record.key.interval_start,
                market: Market::Nem,
                product: Product::RealTime5Min,
                location: Arc::from(location),
                operator: settings.name.clone(),
            },
            interval_end: record.interval_end,
            method: settings.method.method(),
            price: record.price,
            currency: Currency::AUD,
            unit: Unit::MegawattHour,
            probabilities: Vec::new(),
            state: None,
            previous_state: None,
            changed: false,
            run_length: None,
            change_probability: None,
        }
    };
    let mut rows: Vec<Option<RegimeRecord>> = Vec::new();
    match &settings.method {
        MethodSettings::Hmm(hmm) => {
            let mut previous: Option<u8> = None;
            let mut k = 0;
            loop {
                let fit_point = w + k * hmm.refit_every;
                let first = if k == 0 { w - 1 } else { fit_point };
                if first >= n || (k > 0 && hmm.refit_every == 0) {
                    break;
                }
                let end = if hmm.refit_every == 0 {
                    n
                } else {
                    (fit_point + hmm.refit_every).min(n)
                };
                let window_start = fit_point.saturating_sub(hmm.window);
                let model = GaussianHmm::fit_seeded(
                    hmm.states,
                    &xs[window_start..fit_point],
                    &hmm.fit,
                    hmm.initialisations,
                    hmm.seed,
                )
                .map(|fit| fit.model.ordered_by_mean());
                let mut filter = model.as_ref().ok().map(|m| m.filter());
                if let Some(filter) = filter.as_mut() {
                    for x in &xs[window_start..first] {
                        let _ = filter.update(*x);
                    }
                }
                for (p, x) in xs.iter().enumerate().take(end).skip(first) {
                    let record = filter.as_mut().and_then(|f| {
                        f.update(*x).ok()?;
                        let mut record = row(p);
                        let state = f.most_likely_state().map(|s| s as u8);
                        record.probabilities = Probability::distribution(f.probabilities());
                        record.state = state;
                        record.previous_state = previous;
                        record.changed = previous.is_some() && previous != state;
                        Some(record)
                    });
                    previous = record.as_ref().and_then(|r| r.state);
                    rows.push(record);
                }
                k += 1;
            }
        }
        MethodSettings::Bocpd(bocpd) => {
            let mut detector = Bocpd::new(bocpd.clone()).unwrap();
            let mut previous: Option<u32> = None;
            for (p, x) in xs.iter().enumerate() {
                let summary = detector.update(*x).unwrap();
                if p + 1 < w {
                    continue;
                }
                let mut record = row(p);
                let run_length = summary.most_likely_run_length as u32;
                record.run_length = Some(run_length);
                record.change_probability = Some(Probability::from_f64(summary.change_probability));
                record.changed = previous.is_some_and(|before| {
                    run_length != (before + 1).min(bocpd.max_run_length as u32)
                });
                previous = Some(run_length);
                rows.push(Some(record));
            }
        }
    }
    rows.into_iter().flatten().collect()
}

/// Rounds of updates, and the final prices per location: (interval, micro-units).
type Updates = (
    Vec<Vec<(PriceRecord, isize)>>,
    BTreeMap<usize, Vec<(usize, i64)>>,
);

/// A generated history: per round, (location, interval, price or retraction).
#[derive(Clone, Debug)]
struct Script {
    rounds: Vec<Vec<(usize, usize, Option<i64>)>>,
}

impl Script {
    /// The updates a versioning upstream would send: the old value retracted, the new one
    /// inserted; and the final series.
    fn updates(&self) -> Updates {
        let mut current: BTreeMap<(usize, usize), (i64, i64)> = BTreeMap::new();
        let mut rounds = Vec::new();
        let mut revision = 0;
        for round in &self.rounds {
            let mut updates = Vec::new();
            for (location, interval, value) in round {
                revision += 1;
                if let Some((old, old_revision)) = current.remove(&(*location, *interval)) {
                    updates.push((price(*location, *interval, old, old_revision), -1));
                }
                if let Some(micros) = value {
                    updates.push((price(*location, *interval, *micros, revision), 1));
                    current.insert((*location, *interval), (*micros, revision));
                }
            }
            rounds.push(updates);
        }
        let mut series: BTreeMap<usize, Vec<(usize, i64)>> = BTreeMap::new();
        for ((location, interval), (micros, _)) in current {
            series.entry(location).or_default().push((interval, micros));
        }
        (rounds, series)
    }
}

fn scripts() -> impl Strategy<Value = Script> {
    let publication = (0..2usize, 0..36usize, value_strategy(), 0..5usize);
    let later = (
        0..2usize,
        0..36usize,
        prop::option::weighted(0.7, value_strategy()),
        0..5usize,
    );
    (
        prop::collection::vec(publication, 10..70),
        prop::collection::vec(later, 0..12),
    )
        .prop_map(|(first, later)| {
            let mut rounds = vec![Vec::new(); 5];
            for (location, interval, micros, round) in first {
                rounds[round].push((location, interval, Some(micros)));
            }
            // Revisions and retractions come in the later rounds, after the publications.
            for (location, interval, value, round) in later {
                rounds[round.max(2)].push((location, interval, value));
            }
            Script { rounds }
        })
}

/// Prices in two regimes (around 40 and around 300, in micro-units), so fits have structure.
fn value_strategy() -> impl Strategy<Value = i64> {
    (any::<bool>(), -2_000i64..2_000)
        .prop_map(|(spike, noise)| (if spike { 300_000_000 } else { 40_000_000 }) + noise * 10_000)
}

fn expected(series: &BTreeMap<usize, Vec<(usize, i64)>>, settings: &RegimeSettings) -> Net {
    series
        .iter()
        .flat_map(|(location, prices)| batch_series(&format!("L{location}"), prices, settings))
        .map(|record| (record, 1))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn incremental_rows_equal_a_batch_recomputation(script in scripts()) {
        let (rounds, series) = script.updates();
        for settings in [hmm_settings(8, 5, 10), hmm_settings(6, 0, 6), bocpd_settings(3)] {
            let want = expected(&series, &settings);
            for workers in [1, 2] {
                let got = run(rounds.clone(), settings.clone(), workers);
                prop_assert!(
                    got == want,
                    "{} at {workers} worker(s): {} rows, {} expected; first differences: {:?}",
                    settings.name,
                    got.len(),
                    want.len(),
                    got.iter().filter(|(r, _)| !want.contains_key(*r)).take(2).collect::<Vec<_>>()
                );
            }
        }
    }
}

#[test]
fn rows_are_the_forward_probabilities_of_the_fitted_model() {
    // Calm stretches and two spikes (one in the warm-up, one after it), arriving out of
    // order in three rounds.
    let micros: Vec<i64> = (0..60)
        .map(|t| {
            let level = if (10..15).contains(&t) || (40..46).contains(&t) {
                250
            } else {
                40
            };
            (level * 1_000_000) + ((t * 7919) % 13) * 250_000
        })
        .collect();
    let mut rounds = vec![Vec::new(); 3];
    for (t, m) in micros.iter().enumerate() {
        rounds[(t * 5) % 3].push((price(0, t, *m, 1), 1));
    }
    let settings = hmm_settings(30, 0, 30);
    let got = run(rounds, settings.clone(), 1);
    assert_eq!(got.len(), 31, "one row per price from the 30th");
    let xs: Vec<f64> = micros.iter().map(|m| *m as f64 / 1e6).collect();
    let MethodSettings::Hmm(hmm) = &settings.method else {
        unreachable!()
    };
    let model = GaussianHmm::fit_seeded(2, &xs[..30], &hmm.fit, 2, 7)
        .unwrap()
        .model
        .ordered_by_mean();
    for (record, diff) in &got {
        assert_eq!(*diff, 1);
        let t = ((record.key.interval_start.as_second() - T0) / 300) as usize;
        // The last row of the smoothed posteriors of a prefix is the filtered one.
        let forward = model.posteriors(&xs[..=t]).unwrap();
        let expected = Probability::distribution(forward.at(t));
        for (a, b) in record.probabilities.iter().zip(&expected) {
            assert!(a.units().abs_diff(b.units()) <= 2, "{t}: {a} vs {b}");
        }
        assert_eq!(
            record.probabilities.iter().map(|p| p.units()).sum::<u32>(),
            Probability::SCALE
        );
    }
    // The spike is the high regime, and entering it is an event.
    let spike = got
        .keys()
        .find(|r| r.key.interval_start == start(42))
        .unwrap();
    assert_eq!(spike.state, Some(1));
    assert!(
        got.keys()
            .any(|r| r.changed && r.state == Some(1) && r.previous_state == Some(0))
    );
}

#[test]
fn the_online_filter_equals_the_forward_pass() {
    let model = GaussianHmm::new(
        vec![0.2, 0.6, 0.2],
        vec![
            vec![0.8, 0.15, 0.05],
            vec![0.05, 0.9, 0.05],
            vec![0.05, 0.25, 0.7],
        ],
        vec![-10.0, 40.0, 300.0],
        vec![25.0, 36.0, 10_000.0],
    )
    .unwrap();
    let xs = gridflow_regime::throughput::price_series(200, 3);
    let mut filter = model.filter();
    for t in 0..xs.len() {
        filter.update(xs[t]).unwrap();
        let forward = model.posteriors(&xs[..=t]).unwrap();
        for (a, b) in filter.probabilities().iter().zip(forward.at(t)) {
            assert!((a - b).abs() < 1e-9, "{t}: {a} vs {b}");
        }
    }
}

#[test]
fn a_revision_retracts_only_what_changed_and_a_retraction_empties_the_series() {
    let settings = bocpd_settings(1);
    let first: Vec<(PriceRecord, isize)> =
        (0..10).map(|t| (price(0, t, 40_000_000, 1), 1)).collect();
    let revise = vec![
        (price(0, 9, 40_000_000, 1), -1),
        (price(0, 9, 90_000_000, 2), 1),
    ];
    let collected = run(vec![first.clone(), revise.clone()], settings.clone(), 1);
    assert_eq!(collected.len(), 10);
    let last = collected
        .keys()
        .find(|r| r.key.interval_start == start(9))
        .unwrap();
    assert_eq!(last.price, Price::from_units(90));
    // Withdrawing everything leaves nothing.
    let withdraw: Vec<(PriceRecord, isize)> = (0..9)
        .map(|t| (price(0, t, 40_000_000, 1), -1))
        .chain([(price(0, 9, 90_000_000, 2), -1)])
        .collect();
    assert!(run(vec![first, revise, withdraw], settings, 2).is_empty());
}

#[test]
fn filters_keep_only_the_named_series() {
    let mut settings = bocpd_settings(1);
    settings.only.locations = vec![Arc::from("L1")];
    let updates = (0..4)
        .flat_map(|t| {
            [
                (price(0, t, 1_000_000, 1), 1),
                (price(1, t, 1_000_000, 1), 1),
            ]
        })
        .collect();
    let rows = run(vec![updates], settings, 1);
    assert_eq!(rows.len(), 4);
    assert!(rows.keys().all(|r| &*r.key.location == "L1"));
}

#[test]
fn segments_follow_positions() {
    use super::run::{segment_count, segment_of};
    assert_eq!(segment_count(4, 5, 3), 0);
    assert_eq!(segment_count(5, 5, 3), 1);
    assert_eq!(segment_count(8, 5, 3), 1);
    assert_eq!(segment_count(9, 5, 3), 2);
    assert_eq!(segment_count(100, 5, 0), 1);
    assert_eq!(segment_of(4, 5, 3), 0);
    assert_eq!(segment_of(7, 5, 3), 0);
    assert_eq!(segment_of(8, 5, 3), 1);
}

#[test]
fn sets_of_rows_are_unique_per_interval() {
    let settings = hmm_settings(8, 5, 10);
    let updates = (0..30)
        .map(|t| (price(0, t, 40_000_000 + (t as i64 % 4) * 9_000_000, 1), 1))
        .collect();
    let rows = run(vec![updates], settings, 2);
    let intervals: BTreeSet<Timestamp> = rows.keys().map(|r| r.key.interval_start).collect();
    assert_eq!(intervals.len(), rows.len());
    assert_eq!(rows.len(), 23);
}
