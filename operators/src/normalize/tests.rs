use std::sync::Arc;

use differential_dataflow::input::Input;
use gridflow_engine::record::*;
use jiff::civil::date;
use timely::dataflow::operators::capture::{Capture, Extract};

use super::*;

/// Final records with their net multiplicity.
type Weighted<D> = Vec<(D, isize)>;
/// What `capture` collects: batches of updates per time.
type Captured<D> = Vec<(u64, Vec<(D, u64, isize)>)>;

fn origin() -> Origin {
    Origin {
        source: Arc::from("test"),
        file: Arc::from("test.csv"),
        line: 1,
    }
}

fn published(
    location: &str,
    hour: i8,
    price: &str,
    currency: Currency,
    published_at: i64,
) -> Observation {
    Observation::Price(PublishedPrice {
        market: Market::Spp,
        product: Product::DayAheadHourly,
        location: Arc::from(location),
        location_type: LocationType::Node,
        interval: NativeInterval::HourEnding {
            date: date(2025, 3, 19),
            hour_ending: hour as u8,
            clock: MarketClock::zone("America/Chicago"),
            occurrence: Occurrence::Unstated,
        },
        price: price.parse().unwrap(),
        currency,
        unit: Unit::MegawattHour,
        components: Components::default(),
        published_at: Some(jiff::Timestamp::from_second(published_at).unwrap()),
        revision: None,
        origin: origin(),
    })
}

fn rate(day: i8, currency: Currency, per_euro: &str) -> Observation {
    Observation::Rate(FxRate {
        date: date(2025, 3, day),
        currency,
        per_euro: per_euro.parse().unwrap(),
        origin: origin(),
    })
}

/// Runs normalize over rounds of updates; returns the consolidated final prices and rejects.
fn run(
    rounds: Vec<Vec<(Observation, isize)>>,
    base: Currency,
) -> (Weighted<PriceRecord>, Weighted<Reject>) {
    let (prices, rejects) = timely::execute_directly(move |worker| {
        let (mut input, prices, rejects) = worker.dataflow::<u64, _, _>(|scope| {
            let (input, observations) = scope.new_collection::<Observation, isize>();
            let (prices, rejects) = observations.normalize(NormalizeSettings {
                base_currency: base,
                max_rate_age_days: 7,
            });
            (input, prices.inner.capture(), rejects.inner.capture())
        });
        for (round, updates) in rounds.into_iter().enumerate() {
            input.advance_to(round as u64);
            for (observation, diff) in updates {
                input.update(observation, diff);
            }
        }
        input.close();
        while worker.step() {}
        (prices, rejects)
    });
    (
        consolidate(prices.extract()),
        consolidate(rejects.extract()),
    )
}

fn consolidate<D: Ord + Clone>(batches: Captured<D>) -> Weighted<D> {
    let mut all: Vec<(D, isize)> = batches
        .into_iter()
        .flat_map(|(_, b)| b)
        .map(|(d, _, r)| (d, r))
        .collect();
    differential_dataflow::consolidation::consolidate(&mut all);
    all
}

#[test]
fn converts_to_base_currency_with_rate_in_force() {
    // 19 March 2025 has no rate in the stream; the 17th's is in force.
    let (prices, rejects) = run(
        vec![vec![
            (rate(17, Currency::USD, "1.0900"), 1),
            (published("A", 1, "109", Currency::USD, 10), 1),
        ]],
        Currency::EUR,
    );
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].0.price, Price::from_units(100));
    assert_eq!(prices[0].0.native_price, Price::from_units(109));
    assert_eq!(prices[0].0.currency, Currency::EUR);
    // HE1 in Chicago (CDT on 19 March) starts at 05:00Z.
    assert_eq!(
        prices[0].0.key.interval_start,
        "2025-03-19T05:00:00Z".parse().unwrap()
    );
}

#[test]
fn missing_rate_is_a_reject_until_the_rate_arrives() {
    let price = published("A", 1, "50", Currency::USD, 10);
    let (prices, rejects) = run(vec![vec![(price.clone(), 1)]], Currency::EUR);
    assert!(prices.is_empty());
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0]
            .0
            .reason
            .contains("no ECB reference rate for USD"),
        "{}",
        rejects[0].0.reason
    );

    let (prices, rejects) = run(
        vec![vec![(price, 1)], vec![(rate(18, Currency::USD, "1.25"), 1)]],
        Currency::EUR,
    );
    assert!(
        rejects.is_empty(),
        "the reject is retracted once the rate arrives: {rejects:?}"
    );
    assert_eq!(prices[0].0.price, Price::from_units(40));
}

#[test]
fn a_stale_rate_is_not_used() {
    let (prices, rejects) = run(
        vec![vec![
            (rate(1, Currency::USD, "1.0"), 1),
            (published("A", 1, "50", Currency::USD, 10), 1),
        ]],
        Currency::EUR,
    );
    assert!(prices.is_empty());
    assert_eq!(rejects.len(), 1);
}

#[test]
fn cross_rates_through_the_euro() {
    // EUR base -> USD base: 100 EUR at 1.25 USD/EUR = 125 USD; 175.68 JPY/EUR.
    let mut eur_price = published("B", 2, "100", Currency::EUR, 10);
    if let Observation::Price(p) = &mut eur_price {
        p.market = Market::Epex;
    }
    let (prices, rejects) = run(
        vec![vec![
            (rate(18, Currency::USD, "1.25"), 1),
            (rate(18, Currency::JPY, "175.68"), 1),
            (eur_price, 1),
            (published("C", 3, "17568", Currency::JPY, 10), 1),
        ]],
        Currency::USD,
    );
    assert!(rejects.is_empty(), "{rejects:?}");
    let by_location = |name: &str| {
        prices
            .iter()
            .find(|(p, _)| &*p.key.location == name)
            .unwrap()
            .0
            .price
    };
    assert_eq!(by_location("B"), Price::from_units(125));
    assert_eq!(by_location("C"), Price::from_units(125));
}

#[test]
fn revision_retracts_and_identical_republication_is_deduplicated() {
    let first = published("A", 1, "30", Currency::EUR, 10);
    let same_again = published("A", 1, "30", Currency::EUR, 20);
    let revised = published("A", 1, "31.5", Currency::EUR, 30);
    let (prices, _) = run(vec![vec![(first, 1)], vec![(same_again, 1)]], Currency::EUR);
    assert_eq!(prices.len(), 1);
    assert_eq!(
        prices[0].0.version.published_at.as_second(),
        10,
        "the earliest publication of the value is kept"
    );

    let (prices, _) = run(
        vec![
            vec![(published("A", 1, "30", Currency::EUR, 10), 1)],
            vec![(revised.clone(), 1)],
        ],
        Currency::EUR,
    );
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].0.price, "31.5".parse().unwrap());

    // Out of order: the later publication arrives first and still wins.
    let (prices, _) = run(
        vec![
            vec![(revised, 1)],
            vec![(published("A", 1, "30", Currency::EUR, 10), 1)],
        ],
        Currency::EUR,
    );
    assert_eq!(prices[0].0.price, "31.5".parse().unwrap());
}

#[test]
fn nonexistent_local_time_is_rejected() {
    let mut observation = published("A", 3, "10", Currency::EUR, 10);
    if let Observation::Price(p) = &mut observation {
        p.interval = NativeInterval::HourEnding {
            date: date(2025, 3, 9),
            hour_ending: 3,
            clock: MarketClock::zone("America/Chicago"),
            occurrence: Occurrence::Unstated,
        };
    }
    let (prices, rejects) = run(vec![vec![(observation, 1)]], Currency::EUR);
    assert!(prices.is_empty());
    assert!(
        rejects[0].0.reason.contains("does not exist"),
        "{}",
        rejects[0].0.reason
    );
}

#[test]
fn kilowatt_hour_prices_become_per_megawatt_hour() {
    let mut observation = published("A", 1, "12.5", Currency::EUR, 10);
    if let Observation::Price(p) = &mut observation {
        p.unit = Unit::KilowattHour;
    }
    let (prices, _) = run(vec![vec![(observation, 1)]], Currency::EUR);
    assert_eq!(prices[0].0.price, Price::from_units(12_500));
    assert_eq!(prices[0].0.unit, Unit::MegawattHour);
    assert_eq!(prices[0].0.native_unit, Unit::KilowattHour);
}

#[test]
fn a_late_or_corrected_base_currency_rate_reconverts_every_foreign_price() {
    // USD base: a JPY price needs the JPY and the USD rate of its day.
    let jpy_price = published("C", 3, "17568", Currency::JPY, 10);
    let first_rounds = vec![
        vec![
            (jpy_price.clone(), 1),
            (rate(18, Currency::JPY, "175.68"), 1),
        ],
        vec![(rate(18, Currency::USD, "1.25"), 1)],
    ];
    let (prices, rejects) = run(first_rounds.clone(), Currency::USD);
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].0.price, Price::from_units(125));

    let mut corrected = first_rounds;
    corrected.push(vec![
        (rate(18, Currency::USD, "1.25"), -1),
        (rate(18, Currency::USD, "1.5"), 1),
    ]);
    let (prices, rejects) = run(corrected.clone(), Currency::USD);
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(prices, vec![(prices[0].0.clone(), 1)]);
    assert_eq!(prices[0].0.price, Price::from_units(150));

    // Withdrawing the USD rate makes the price a reject again.
    corrected.push(vec![(rate(18, Currency::USD, "1.5"), -1)]);
    let (prices, rejects) = run(corrected, Currency::USD);
    assert!(prices.is_empty(), "{prices:?}");
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0].0.reason.contains("JPY and USD"),
        "{}",
        rejects[0].0.reason
    );
}

#[test]
fn a_daily_price_on_a_local_day_uses_the_rate_of_its_own_date() {
    // An EUA settlement for Wednesday 19 March 2025 in Berlin starts at 23:00Z on the 18th;
    // in a USD lake it converts with the 19th's rates, not the 18th's.
    let mut eua = published("EUA", 1, "70", Currency::EUR, 10);
    if let Observation::Price(price) = &mut eua {
        price.market = Market::Carbon;
        price.product = Product::Daily;
        price.unit = Unit::TonneCo2;
        price.interval = NativeInterval::Day {
            date: date(2025, 3, 19),
            clock: MarketClock::zone("Europe/Berlin"),
        };
    }
    let (prices, rejects) = run(
        vec![vec![
            (rate(18, Currency::USD, "1.0"), 1),
            (rate(19, Currency::USD, "1.5"), 1),
            (eua, 1),
        ]],
        Currency::USD,
    );
    assert!(rejects.is_empty(), "{rejects:?}");
    assert_eq!(prices.len(), 1);
    assert_eq!(
        prices[0].0.key.interval_start,
        "2025-03-18T23:00:00Z".parse().unwrap()
    );
    assert_eq!(prices[0].0.price, Price::from_units(105));
}

#[test]
fn a_quantity_is_a_reject_that_names_fundamentals() {
    let storage = Observation::Quantity(PublishedQuantity {
        market: Market::Gas,
        product: Product::Weekly,
        series: Arc::from("WORKING_GAS_STORAGE"),
        location: Arc::from("EAST"),
        location_type: LocationType::Region,
        interval: NativeInterval::Day {
            date: date(2022, 12, 2),
            clock: MarketClock::zone("America/New_York"),
        },
        value: Quantity::from_units(834),
        unit: Unit::Bcf,
        published_at: None,
        revision: None,
        origin: origin(),
    });
    let (prices, rejects) = run(
        vec![vec![
            (storage, 1),
            (published("A", 1, "50", Currency::EUR, 10), 1),
        ]],
        Currency::EUR,
    );
    assert_eq!(prices.len(), 1, "the price beside it is normalized");
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let (reject, count) = &rejects[0];
    assert_eq!(*count, 1);
    assert_eq!(&*reject.stage, "normalize");
    assert!(
        reject.reason.contains("WORKING_GAS_STORAGE is a quantity")
            && reject.reason.contains("`fundamentals`"),
        "{}",
        reject.reason
    );
}
