use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::{Anchor, MarketClock, NativeInterval, Occurrence, PublishedPrice};
use jiff::SignedDuration;

const FIVE_MIN: &str = "nem/aemo_5min_data.json";

fn parser() -> NemDispatchJson {
    NemDispatchJson::new(None).unwrap()
}

fn at<'a>(prices: &[&'a PublishedPrice], line: u64) -> &'a PublishedPrice {
    prices
        .iter()
        .find(|price| price.origin.line == line)
        .unwrap_or_else(|| panic!("no price from row {line}"))
}

#[test]
fn dispatch_prices_are_pinned_by_hand() {
    let out = parse_ok(&parser(), FIVE_MIN, &fixture(FIVE_MIN));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    // Five regions x 576 five-minute intervals (two days).
    assert_eq!(prices.len(), 2880);

    // Row 1: NSW1, SETTLEMENTDATE 2021-10-06T15:00:00, RRP 0.00000.
    let first = prices[0];
    assert_eq!(first.market, Market::Nem);
    assert_eq!(first.product, Product::RealTime5Min);
    assert_eq!(&*first.location, "NSW1");
    assert_eq!(first.location_type, LocationType::Region);
    assert_eq!(first.price, p("0"));
    assert_eq!(first.currency, Currency::AUD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(first.origin.line, 1);
    assert_eq!(
        first.interval,
        NativeInterval::Local {
            time: jiff::civil::date(2021, 10, 6).at(15, 0, 0, 0),
            anchor: Anchor::End,
            minutes: 5,
            clock: MarketClock::FixedOffsetMinutes(600),
            occurrence: Occurrence::Unstated,
        }
    );
    // Interval-ending in UTC+10: 15:00 market time ends 04:55Z-05:00Z.
    let resolved = first.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2021-10-06T04:55:00Z"));
    assert_eq!(resolved.end, utc("2021-10-06T05:00:00Z"));

    // Row 5: NSW1 15:20, RRP 15.82342 (five decimals kept exactly).
    let nsw = at(&prices, 5);
    assert_eq!(nsw.price, p("15.82342"));
    assert_eq!(start_of(nsw), utc("2021-10-06T05:15:00Z"));
    // Row 1480: SA1 2021-10-07T18:15:00, the file's highest price 493.85840.
    let high = at(&prices, 1480);
    assert_eq!(&*high.location, "SA1");
    assert_eq!(high.price, p("493.8584"));
    assert_eq!(start_of(high), utc("2021-10-07T08:10:00Z"));
    // Row 1690: SA1 2021-10-08T11:45:00, the lowest, -200.00000.
    let low = at(&prices, 1690);
    assert_eq!(low.price, p("-200"));
    assert_eq!(start_of(low), utc("2021-10-08T01:40:00Z"));
    // Last row: VIC1 2021-10-08T14:55:00, -38.01000.
    let last = at(&prices, 2880);
    assert_eq!(&*last.location, "VIC1");
    assert_eq!(last.price, p("-38.01"));
    assert_eq!(start_of(last), utc("2021-10-08T04:50:00Z"));
}

#[test]
fn each_region_has_consecutive_five_minute_intervals() {
    let out = parse_ok(&parser(), FIVE_MIN, &fixture(FIVE_MIN));
    let prices = prices(&out);
    for region in ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"] {
        let intervals: Vec<_> = prices
            .iter()
            .filter(|price| &*price.location == region)
            .map(|price| price.interval.resolve().unwrap())
            .collect();
        assert_eq!(intervals.len(), 576, "{region}");
        assert_eq!(intervals[0].start, utc("2021-10-06T04:55:00Z"));
        for pair in intervals.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{region}");
            assert_eq!(
                pair[0].end.duration_since(pair[0].start),
                SignedDuration::from_mins(5)
            );
        }
    }
}

#[test]
fn forecast_rows_are_skipped() {
    let bytes = replace_once(&fixture(FIVE_MIN), "\"ACTUAL\"", "\"FORECAST\"");
    let out = parse_ok(&parser(), FIVE_MIN, &bytes);
    assert!(out.rejects.is_empty());
    assert_eq!(out.observations.len(), 2879);
    assert_eq!(prices(&out)[0].origin.line, 2);
}

#[test]
fn malformed_rows_are_rejected_with_their_position() {
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "\"RRP\":0.00000",
            "\"RRP\":\"n/a\"",
            &["RRP", "not a number"],
        ),
        ("\"RRP\":0.00000", "\"RRP\":null", &["no `RRP`"]),
        (
            "\"2021-10-06T15:00:00\"",
            "\"2021-10-06T15:02:00\"",
            &["5-minute"],
        ),
        (
            "\"2021-10-06T15:00:00\"",
            "\"06/10/2021 15:00\"",
            &["SETTLEMENTDATE", "06/10/2021 15:00"],
        ),
        (",\"PERIODTYPE\":\"ACTUAL\"", "", &["missing `PERIODTYPE`"]),
    ];
    for (from, to, fragments) in cases {
        let out = parse_ok(
            &parser(),
            FIVE_MIN,
            &replace_once(&fixture(FIVE_MIN), from, to),
        );
        assert_eq!(out.observations.len(), 2879, "{to}");
        assert_eq!(out.rejects.len(), 1, "{to}");
        assert_reject(&out.rejects[0], 1, fragments);
        assert!(
            out.rejects[0].raw.contains("NSW1"),
            "{}",
            out.rejects[0].raw
        );
    }
    let out = parse_ok(
        &parser(),
        FIVE_MIN,
        br#"{"5MIN": [1, {"PERIODTYPE": "ACTUAL"}]}"#,
    );
    assert_reject(&out.rejects[0], 1, &["must be an object"]);
    assert_reject(&out.rejects[1], 2, &["missing `SETTLEMENTDATE`"]);
}

#[test]
fn other_documents_are_file_errors() {
    let error = parse(&parser(), FIVE_MIN, br#"{"prices": []}"#).unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    assert!(error.to_string().contains("`5MIN`"), "{error}");
    let bytes = fixture(FIVE_MIN);
    let error = parse(&parser(), FIVE_MIN, &bytes[..1000]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { line: 1, .. }),
        "{error}"
    );
    assert_eq!(
        parse(&parser(), FIVE_MIN, b"").unwrap_err().kind,
        FileErrorKind::Empty
    );
    // A bare array of rows is read as well.
    let out = parse_ok(
        &parser(),
        FIVE_MIN,
        br#"[{"SETTLEMENTDATE":"2021-10-06T15:05:00","REGIONID":"SA1","RRP":-1000,"PERIODTYPE":"ACTUAL"}]"#,
    );
    assert_eq!(prices(&out)[0].price, p("-1000"));
    assert!(NemDispatchJson::new(Some(Product::RealTime5Min)).is_ok());
    assert!(NemDispatchJson::new(Some(Product::DayAheadHourly)).is_err());
}
