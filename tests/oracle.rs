//! The oracle: a run with revisions, duplicates and out-of-order arrivals leaves a lake whose
//! net content (sum of `diff` per row) equals a batch computation over the final inputs,
//! at one worker and at two.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, SourceError, SourceKind, SourceOutput, SourcePlan, SourceReader, SourceStatus,
};
use gridflow_engine::metrics::Metrics;
use gridflow_engine::pipeline::{self, ComponentConfig, ConfigError};
use gridflow_engine::record::*;
use gridflow_engine::runtime::{self, RunOptions};
use jiff::Timestamp;
use jiff::civil::date;
use proptest::prelude::*;

use crate::common::{LakeRow, net_content, read_prices};

/// A source that replays scripted rounds; each round becomes one batch (one logical time).
struct ScriptedKind {
    rounds: Arc<Vec<Vec<Observation>>>,
}

struct ScriptedPlan {
    rounds: Arc<Vec<Vec<Observation>>>,
}

struct ScriptedReader {
    rounds: Arc<Vec<Vec<Observation>>>,
    next: usize,
    worker: usize,
    peers: usize,
}

impl SourceKind for ScriptedKind {
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn summary(&self) -> &'static str {
        "test rounds"
    }
    fn configure(&self, _: &ComponentConfig<'_>) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>> {
        Ok(Arc::new(ScriptedPlan {
            rounds: self.rounds.clone(),
        }))
    }
}

impl SourcePlan for ScriptedPlan {
    fn describe(&self) -> String {
        format!("{} rounds", self.rounds.len())
    }
    fn bounded(&self) -> bool {
        true
    }
    fn open(&self, context: &BuildContext) -> Result<Box<dyn SourceReader>, SourceError> {
        Ok(Box::new(ScriptedReader {
            rounds: self.rounds.clone(),
            next: 0,
            worker: context.worker.index,
            peers: context.worker.peers,
        }))
    }
}

impl SourceReader for ScriptedReader {
    fn poll(&mut self, out: &mut SourceOutput) -> SourceStatus {
        let Some(round) = self.rounds.get(self.next) else {
            return SourceStatus::Finished;
        };
        // Workers split each round, so arrivals interleave across workers too.
        out.observations.extend(
            round
                .iter()
                .enumerate()
                .filter(|(i, _)| i % self.peers == self.worker)
                .map(|(_, o)| o.clone()),
        );
        self.next += 1;
        SourceStatus::Ready
    }
}

const PIPELINE: &str = r#"
[pipeline]
base_currency = "EUR"

[sources.feed]
kind = "scripted"

[operators.normalize]
kind = "normalize"
inputs = ["feed"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "${LAKE}"
row_group_rows = 7
max_file_rows = 50
"#;

fn run_pipeline(rounds: &Arc<Vec<Vec<Observation>>>, lake: &Path, workers: usize) -> Vec<LakeRow> {
    let mut registry = gridflow::registry();
    registry.add_source(ScriptedKind {
        rounds: rounds.clone(),
    });
    let lake_text = lake.display().to_string();
    let plan = pipeline::load_with_environment("oracle.toml", PIPELINE, &registry, &|name| {
        (name == "LAKE").then(|| lake_text.clone())
    })
    .unwrap();
    let metrics = Arc::new(Metrics::new(
        plan.nodes.iter().map(|n| (n.role, n.name.clone())),
    ));
    runtime::run(
        Arc::new(plan),
        metrics,
        RunOptions {
            workers,
            ..RunOptions::default()
        },
    )
    .unwrap();
    read_prices(lake)
}

/// One publication in the generated stream.
#[derive(Clone, Debug)]
struct Publication {
    market: usize,
    location: usize,
    hour: usize,
    price_cents: i64,
    published_second: i64,
    revision: Option<i64>,
}

fn observation(publication: &Publication, line: u64) -> Observation {
    let (market, currency) =
        [(Market::Spp, Currency::USD), (Market::Epex, Currency::EUR)][publication.market];
    let start = Timestamp::from_second(1_742_342_400 + 3600 * publication.hour as i64).unwrap();
    Observation::Price(PublishedPrice {
        market,
        product: Product::DayAheadHourly,
        location: Arc::from(format!("L{}", publication.location)),
        location_type: LocationType::Node,
        interval: NativeInterval::Utc {
            start,
            end: Timestamp::from_second(start.as_second() + 3600).unwrap(),
        },
        price: Price::from_micros(publication.price_cents * 10_000),
        currency,
        unit: Unit::MegawattHour,
        components: Components::default(),
        published_at: Some(Timestamp::from_second(publication.published_second).unwrap()),
        revision: publication.revision,
        origin: Origin {
            source: Arc::from("feed"),
            file: Arc::from("generated"),
            line,
        },
    })
}

const USD_PER_EURO_MICROS: i64 = 1_089_700;

fn usd_rate() -> Observation {
    Observation::Rate(FxRate {
        date: date(2025, 3, 19),
        currency: Currency::USD,
        per_euro: Price::from_micros(USD_PER_EURO_MICROS),
        origin: Origin {
            source: Arc::from("feed"),
            file: Arc::from("rates"),
            line: 1,
        },
    })
}

/// Half-away-from-zero division, written independently of the engine's.
fn divide_rounded(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if 2 * remainder.abs() >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// The batch answer: per key the greatest (revision, published_at) wins; among the
/// consecutive greatest versions with the same price, the earliest publication is kept.
fn batch_final_state(publications: &[Publication]) -> BTreeSet<(String, String, i64, i128, i64)> {
    let mut by_key: BTreeMap<(usize, usize, usize), Vec<&Publication>> = BTreeMap::new();
    for publication in publications {
        by_key
            .entry((publication.market, publication.location, publication.hour))
            .or_default()
            .push(publication);
    }
    by_key
        .into_values()
        .map(|mut versions| {
            versions.sort_by_key(|p| (p.revision, p.published_second));
            let latest = *versions.last().unwrap();
            let kept = versions
                .iter()
                .rev()
                .take_while(|p| p.price_cents == latest.price_cents)
                .last()
                .copied()
                .unwrap();
            let native_micros = i128::from(latest.price_cents) * 10_000;
            let price = if latest.market == 0 {
                divide_rounded(native_micros * 1_000_000, i128::from(USD_PER_EURO_MICROS))
            } else {
                native_micros
            };
            let market = ["SPP", "EPEX"][latest.market].to_string();
            let start = (1_742_342_400 + 3600 * latest.hour as i64) * 1_000_000;
            (
                market,
                format!("L{}", latest.location),
                start,
                price,
                kept.published_second * 1_000_000,
            )
        })
        .collect()
}

fn lake_state(rows: &[LakeRow]) -> BTreeSet<(String, String, i64, i128, i64)> {
    let net = net_content(rows);
    assert!(
        net.values().all(|count| *count == 1),
        "net multiplicities other than 1: {net:?}"
    );
    net.keys()
        .map(|row| {
            (
                row.market.clone(),
                row.location.clone(),
                row.interval_start,
                row.price,
                row.published_at,
            )
        })
        .collect()
}

fn publications() -> impl Strategy<Value = (Vec<Publication>, Vec<usize>, usize, usize)> {
    let publication = (
        0..2usize,
        0..3usize,
        0..4usize,
        -5_000i64..50_000,
        prop::option::weighted(0.3, 0..3i64),
    );
    (
        prop::collection::vec(publication, 1..40),
        any::<prop::sample::Index>(),
        1..6usize,
        any::<prop::sample::Index>(),
    )
        .prop_flat_map(|(raw, rate_round, rounds, _)| {
            let count = raw.len();
            // Unique publication seconds, in an order unrelated to arrival.
            (
                Just(raw),
                Just(rate_round),
                Just(rounds),
                Just((1..=count as i64).collect::<Vec<_>>()).prop_shuffle(),
                prop::collection::vec(0..rounds, count),
                Just(count),
            )
        })
        .prop_map(|(raw, rate_round, rounds, seconds, arrival_rounds, _)| {
            let mut publications: Vec<Publication> = raw
                .into_iter()
                .zip(seconds)
                .map(
                    |((market, location, hour, price_cents, revision), second)| Publication {
                        market,
                        location,
                        hour,
                        price_cents,
                        published_second: 1_700_000_000 + second * 60,
                        revision: if market == 1 { revision } else { None },
                    },
                )
                .collect();
            // Re-publish some values unchanged later (deduplication) by copying a price.
            for i in (1..publications.len()).step_by(5) {
                let (earlier, later) = publications.split_at_mut(i);
                let source = &earlier[i - 1];
                if later[0].market == source.market && later[0].revision == source.revision {
                    later[0].price_cents = source.price_cents;
                }
            }
            (
                publications,
                arrival_rounds,
                rounds,
                rate_round.index(rounds),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn incremental_lake_equals_batch_recomputation((publications, arrival_rounds, rounds, rate_round) in publications()) {
        let mut script: Vec<Vec<Observation>> = vec![Vec::new(); rounds];
        for (index, (publication, round)) in publications.iter().zip(&arrival_rounds).enumerate() {
            script[*round].push(observation(publication, index as u64 + 1));
        }
        // The USD rate may arrive after the prices it converts: their rejects are retracted.
        script[rate_round].push(usd_rate());
        let script = Arc::new(script);
        let expected = batch_final_state(&publications);

        let one = tempfile::tempdir().unwrap();
        let rows_one = run_pipeline(&script, one.path(), 1);
        prop_assert_eq!(&lake_state(&rows_one), &expected);

        let two = tempfile::tempdir().unwrap();
        let rows_two = run_pipeline(&script, two.path(), 2);
        prop_assert_eq!(&lake_state(&rows_two), &expected);
    }
}
