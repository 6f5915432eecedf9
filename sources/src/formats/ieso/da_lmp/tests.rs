use std::collections::{BTreeMap, BTreeSet};

use gridflow_engine::record::{
    Currency, LocationType, Market, MarketClock, NativeInterval, Occurrence, Price, Product,
    PublishedPrice, Unit,
};
use jiff::civil::date;

use super::{HEADER, IesoDaLmp};
use crate::formats::FileErrorKind;
use crate::formats::ieso::lmp::{self, IesoRtLmp};
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};

/// Hand-written after the published layout (see data/ieso/README.md): 4 locations × 24
/// hours of 2025-11-02, the day North America falls back.
const DAY: &str = "ieso/PUB_DAHourlyEnergyLMP_20251102.csv";
const RT_HOUR_3: &str = "ieso/PUB_RealtimeEnergyLMP_2025110203.csv";

fn da() -> IesoDaLmp {
    IesoDaLmp::new(None).unwrap()
}

fn sum(price: &PublishedPrice) -> Price {
    let parts = &price.components;
    [parts.energy, parts.loss, parts.congestion]
        .into_iter()
        .map(Option::unwrap)
        .fold(Price::ZERO, |a, b| a.checked_add(b).unwrap())
}

fn at<'a>(prices: &[&'a PublishedPrice], location: &str, start: &str) -> &'a PublishedPrice {
    let start = utc(start);
    prices
        .iter()
        .copied()
        .find(|price| &*price.location == location && start_of(price) == start)
        .unwrap_or_else(|| panic!("no {location} at {start}"))
}

#[test]
fn da_lmp_day_file_is_pinned() {
    // Line 3: 1,ABITIBISF-LT.AG_T1,25.45,1.27,0.00
    let out = parse_ok(&da(), DAY, &fixture(DAY));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 96);
    let locations: BTreeSet<&str> = prices.iter().map(|price| &*price.location).collect();
    assert_eq!(
        locations.into_iter().collect::<Vec<_>>(),
        [
            "ABITIBISF-LT.AG_T1",
            "BRUCE_GEN:PZ",
            "BRUCE_SOUTHWEST_LOAD:PZ",
            "BUCHANAN-230",
        ]
    );
    let first = prices[0];
    assert_eq!(first.market, Market::Ieso);
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(&*first.location, "ABITIBISF-LT.AG_T1");
    assert_eq!(first.location_type, LocationType::Node);
    assert_eq!(first.currency, Currency::CAD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(
        first.interval,
        NativeInterval::HourEnding {
            date: date(2025, 11, 2),
            hour_ending: 1,
            clock: MarketClock::FixedOffsetMinutes(-300),
            occurrence: Occurrence::Unstated,
        }
    );
    // Hour ending 1 EST: 00:00-01:00 EST = 05:00Z-06:00Z (Toronto is still on EDT then).
    let resolved = first.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2025-11-02T05:00:00Z"));
    assert_eq!(resolved.end, utc("2025-11-02T06:00:00Z"));
    assert_eq!(first.price, p("25.45"));
    assert_eq!(first.components.loss, Some(p("1.27")));
    assert_eq!(first.components.congestion, Some(p("0")));
    assert_eq!(first.components.energy, Some(p("24.18")));
    assert_eq!(first.origin.line, 3);
    // `CREATED AT 2025/11/01 12:33:41` EST, the day before delivery.
    assert_eq!(first.published_at, Some(utc("2025-11-01T17:33:41Z")));
    assert_eq!(first.revision, None);

    // Line 20: 18,ABITIBISF-LT.AG_T1,57.38,1.90,7.56 (a congested evening hour).
    let evening = prices[17];
    assert_eq!(evening.origin.line, 20);
    assert_eq!(start_of(evening), utc("2025-11-02T22:00:00Z"));
    assert_eq!(evening.price, p("57.38"));
    assert_eq!(evening.components.congestion, Some(p("7.56")));
    assert_eq!(evening.components.energy, Some(p("47.92")));

    let zone = prices[24];
    assert_eq!(&*zone.location, "BRUCE_GEN:PZ");
    assert_eq!(zone.location_type, LocationType::Zone);
    assert_eq!(zone.origin.line, 27);
    // Line 98, the last: `24,BUCHANAN-230:LMP,25.79,-0.15,0.00`; `:LMP` is dropped.
    let last = prices[95];
    assert_eq!(&*last.location, "BUCHANAN-230");
    assert_eq!(last.location_type, LocationType::Node);
    assert_eq!(last.origin.line, 98);
    assert_eq!(last.price, p("25.79"));
    assert_eq!(start_of(last), utc("2025-11-03T04:00:00Z"));
    assert!(prices.iter().all(|price| sum(price) == price.price));
    // One system energy price per hour: every location's energy part agrees.
    let mut energy: BTreeMap<_, BTreeSet<Price>> = BTreeMap::new();
    for price in &prices {
        energy
            .entry(start_of(price))
            .or_default()
            .insert(price.components.energy.unwrap());
    }
    assert!(energy.values().all(|parts| parts.len() == 1), "{energy:?}");
}

#[test]
fn da_lmp_fall_back_day_has_24_est_hours() {
    let out = parse_ok(&da(), DAY, &fixture(DAY));
    let prices = prices(&out);
    let mut starts: BTreeMap<&str, BTreeSet<_>> = BTreeMap::new();
    for price in &prices {
        let interval = price.interval.resolve().unwrap();
        assert_eq!(interval.end.duration_since(interval.start).as_mins(), 60);
        starts
            .entry(&*price.location)
            .or_default()
            .insert(interval.start);
    }
    assert_eq!(starts.len(), 4);
    for (location, starts) in &starts {
        // Toronto's wall clock has 25 hours on 2025-11-02; IESO's EST day has 24.
        assert_eq!(starts.len(), 24, "{location}");
        let starts: Vec<_> = starts.iter().copied().collect();
        assert_eq!(starts[0], utc("2025-11-02T05:00:00Z"));
        assert_eq!(starts[23], utc("2025-11-03T04:00:00Z"));
        assert!(
            starts
                .windows(2)
                .all(|pair| pair[1].duration_since(pair[0]).as_mins() == 60)
        );
    }
    // Hour ending 2 (01:00-02:00 EST) is one UTC hour, 06:00Z, although Toronto shows
    // 01:00 twice that night. Line 4: 2,ABITIBISF-LT.AG_T1,24.47,1.76,0.00
    assert_eq!(
        at(&prices, "ABITIBISF-LT.AG_T1", "2025-11-02T06:00:00Z").price,
        p("24.47")
    );
    // The negative price is kept: line 30, 4,BRUCE_GEN:PZ,-5.23,-0.99,-25.67.
    let negative = at(&prices, "BRUCE_GEN:PZ", "2025-11-02T08:00:00Z");
    assert_eq!(negative.price, p("-5.23"));
    assert_eq!(negative.price.micros(), -5_230_000);
    assert_eq!(negative.components.loss, Some(p("-0.99")));
    assert_eq!(negative.components.congestion, Some(p("-25.67")));
    assert_eq!(negative.components.energy, Some(p("21.43")));
    assert_eq!(negative.origin.line, 30);

    // The same rows for the spring-forward day (2026-03-08) are 24 EST hours too.
    let spring = replace_once(&fixture(DAY), "FOR 2025/11/02", "FOR 2026/03/08");
    let out = parse_ok(&da(), DAY, &spring);
    let starts: BTreeSet<_> = prices_of(&out, "BRUCE_GEN:PZ");
    assert_eq!(starts.len(), 24);
    assert_eq!(starts.first(), Some(&utc("2026-03-08T05:00:00Z")));
    assert_eq!(starts.last(), Some(&utc("2026-03-09T04:00:00Z")));
}

fn prices_of(
    out: &gridflow_engine::component::SourceOutput,
    location: &str,
) -> BTreeSet<jiff::Timestamp> {
    prices(out)
        .into_iter()
        .filter(|price| &*price.location == location)
        .map(start_of)
        .collect()
}

#[test]
fn da_lmp_renamed_or_missing_column_is_one_header_error() {
    let bytes = replace_once(
        &fixture(DAY),
        "Pricing Location,LMP,",
        "Pricing Location,Price,",
    );
    let error = parse(&da(), DAY, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, HEADER);
    assert_eq!(
        found,
        "Delivery Hour,Pricing Location,Price,Energy Loss Price,Energy Congestion Price"
    );
    assert_eq!(missing, &["LMP".to_string()]);
    assert_eq!(error.raw(), found);
    assert!(error.to_string().contains("ieso_da_lmp"), "{error}");

    let bytes = replace_once(&fixture(DAY), ",Energy Congestion Price", "");
    let error = parse(&da(), DAY, &bytes).unwrap_err();
    let FileErrorKind::Header { missing, .. } = &error.kind else {
        panic!("{error:?}");
    };
    assert_eq!(missing, &["Energy Congestion Price".to_string()]);

    // A real-time (five-minute) file is refused, not read as 12 prices per hour ...
    let error = parse(&da(), RT_HOUR_3, &fixture(RT_HOUR_3)).unwrap_err();
    assert!(
        matches!(&error.kind, FileErrorKind::Structure(reason)
            if reason.contains("`Interval`") && reason.contains(lmp::NAME)),
        "{error}"
    );
    // ... and the real-time format refuses a day-ahead file for its missing `Interval`.
    let error = parse(&IesoRtLmp::new(None).unwrap(), DAY, &fixture(DAY)).unwrap_err();
    let FileErrorKind::Header {
        expected, missing, ..
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, lmp::HEADER);
    assert_eq!(missing, &["Interval".to_string()]);
}

#[test]
fn da_lmp_malformed_rows_are_rejected_with_their_line() {
    let bytes = replace_once(
        &fixture(DAY),
        "2,ABITIBISF-LT.AG_T1,24.47,",
        "2,ABITIBISF-LT.AG_T1,n/a,",
    );
    let out = parse_ok(&da(), DAY, &bytes);
    assert_eq!(out.observations.len(), 95);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 4, &["LMP", "n/a"]);
    assert_eq!(out.rejects[0].raw, "2,ABITIBISF-LT.AG_T1,n/a,1.76,0.00");

    let bytes = replace_once(&fixture(DAY), "24,BRUCE_GEN:PZ,", "25,BRUCE_GEN:PZ,");
    let out = parse_ok(&da(), DAY, &bytes);
    assert_eq!(out.observations.len(), 95);
    assert_reject(&out.rejects[0], 50, &["`Delivery Hour` `25`", "1-24"]);

    let bytes = replace_once(&fixture(DAY), "3,BRUCE_GEN:PZ,", "HE3,BRUCE_GEN:PZ,");
    let out = parse_ok(&da(), DAY, &bytes);
    assert_reject(&out.rejects[0], 29, &["Delivery Hour", "HE3"]);

    let bytes = replace_once(&fixture(DAY), ",0.21,-0.42\n", ",0.21\n");
    let out = parse_ok(&da(), DAY, &bytes);
    assert_eq!(out.observations.len(), 95);
    assert_reject(&out.rejects[0], 54, &["expected 5 fields, found 4"]);

    let bytes = replace_once(&fixture(DAY), "5,BUCHANAN-230:LMP,", "5,,");
    let out = parse_ok(&da(), DAY, &bytes);
    assert_reject(&out.rejects[0], 79, &["empty `Pricing Location`"]);

    let bytes = replace_once(&fixture(DAY), ",-0.99,-25.67", ",-0.99,x");
    let out = parse_ok(&da(), DAY, &bytes);
    assert_reject(&out.rejects[0], 30, &["Energy Congestion Price", "x"]);
}

#[test]
fn da_lmp_hubs_dates_revisions_and_products() {
    // No `:HUB` name is in the real report (see data/ieso/README.md); if one appears it is
    // a hub, as in the real-time report.
    let text = String::from_utf8(fixture(DAY)).unwrap();
    let hubs = text.replace("BRUCE_SOUTHWEST_LOAD:PZ", "TORONTO:HUB");
    let out = parse_ok(&da(), DAY, hubs.as_bytes());
    let hub: Vec<_> = prices(&out)
        .into_iter()
        .filter(|price| &*price.location == "TORONTO:HUB")
        .collect();
    assert_eq!(hub.len(), 24);
    assert!(
        hub.iter()
            .all(|price| price.location_type == LocationType::Hub)
    );

    // No preamble: the date comes from the name and lines count from the header.
    let without_preamble = text.split_once('\n').unwrap().1;
    let out = parse_ok(&da(), DAY, without_preamble.as_bytes());
    assert_eq!(out.observations.len(), 96);
    assert_eq!(start_of(prices(&out)[0]), utc("2025-11-02T05:00:00Z"));
    assert_eq!(prices(&out)[0].origin.line, 2);
    assert_eq!(prices(&out)[0].published_at, None);
    let error = parse(
        &da(),
        "PUB_DAHourlyEnergyLMP.csv",
        without_preamble.as_bytes(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("delivery date"), "{error}");
    // The preamble's `FOR` date wins over the name; `_vN` is not a revision.
    let out = parse_ok(
        &da(),
        "PUB_DAHourlyEnergyLMP_20251101_v2.csv",
        text.as_bytes(),
    );
    assert_eq!(start_of(prices(&out)[0]), utc("2025-11-02T05:00:00Z"));
    assert_eq!(prices(&out)[0].revision, None);
    let bad = replace_once(text.as_bytes(), "FOR 2025/11/02", "FOR 02/11/2025");
    let error = parse(&da(), DAY, &bad).unwrap_err();
    assert!(error.to_string().contains(lmp::PREAMBLE), "{error}");
    // CRLF line endings read the same.
    let crlf = text.replace('\n', "\r\n");
    let out = parse_ok(&da(), DAY, crlf.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 96);
    assert_eq!(prices(&out)[95].origin.line, 98);

    assert!(IesoDaLmp::new(Some(Product::RealTime5Min)).is_err());
    let parser = IesoDaLmp::new(Some(Product::DayAheadHourlyExPost)).unwrap();
    let out = parse_ok(&parser, DAY, &fixture(DAY));
    assert!(
        prices(&out)
            .iter()
            .all(|price| price.product == Product::DayAheadHourlyExPost)
    );
    assert_eq!(parse(&da(), DAY, b"").unwrap_err().reason(), "empty file");
}
