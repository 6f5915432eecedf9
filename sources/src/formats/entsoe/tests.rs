use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use std::collections::BTreeSet;

const FR: &str = "entsoe/FR_prices.xml";
const ES: &str = "entsoe/ES_day_ahead_price.xml";
const FALL: &str = "entsoe/DE_LU_dst_2023-10-29.xml";
const SPRING: &str = "entsoe/DE_LU_dst_2023-03-26.xml";

fn parser() -> EntsoeA44 {
    EntsoeA44::new(None).unwrap()
}

fn price_at(out: &SourceOutput, start: &str) -> Price {
    let start = utc(start);
    prices(out)
        .into_iter()
        .find(|price| start_of(price) == start)
        .unwrap_or_else(|| panic!("no price at {start}"))
        .price
}

#[test]
fn france_a01_is_pinned() {
    let out = parse_ok(&parser(), FR, &fixture(FR));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 48);
    let first = prices[0];
    assert_eq!(first.market, Market::Epex);
    assert_eq!(&*first.location, "FR");
    assert_eq!(first.location_type, LocationType::Area);
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(first.price, p("106.78"));
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2023-05-06T22:00:00Z"),
            end: utc("2023-05-06T23:00:00Z"),
        }
    );
    assert_eq!(first.currency, Currency::EUR);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(first.published_at, Some(utc("2023-05-09T11:24:10Z")));
    assert_eq!(first.revision, Some(1));
    assert_eq!(first.origin.line, 24, "the line of the <Point>");
    assert_eq!(prices[1].origin.line, 28);
    assert_eq!(price_at(&out, "2023-05-07T22:00:00Z"), p("98.24"));
    let starts: BTreeSet<_> = prices.iter().map(|price| start_of(price)).collect();
    assert_eq!(starts.len(), 48);
}

#[test]
fn spain_a03_fills_omitted_positions() {
    let out = parse_ok(&parser(), ES, &fixture(ES));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    // Two hourly days, then two 15-minute days (delivery from 2025-10-01).
    assert_eq!(prices.len(), 24 + 24 + 96 + 96);
    assert!(
        prices
            .iter()
            .all(|price| price.market == Market::Omie && &*price.location == "ES")
    );
    let starts: BTreeSet<_> = prices.iter().map(|price| start_of(price)).collect();
    assert_eq!(starts.len(), prices.len());
    // Period 3 starts 2025-09-30T22:00Z: position 12 (00:45Z) is omitted and repeats 11.
    assert_eq!(price_at(&out, "2025-10-01T00:30:00Z"), p("100"));
    assert_eq!(price_at(&out, "2025-10-01T00:45:00Z"), p("100"));
    assert_eq!(price_at(&out, "2025-10-01T01:00:00Z"), p("97.57"));
    let filled = prices
        .iter()
        .find(|price| start_of(price) == utc("2025-10-01T00:45:00Z"))
        .unwrap();
    assert_eq!(filled.product, Product::DayAhead15Min);
    assert_eq!(
        filled.origin.line, 299,
        "a filled slot carries its source point's line"
    );
    // Period 4 starts 2025-10-01T22:00Z: positions 10-12 are omitted and repeat 9 (00:00Z).
    let ninth = price_at(&out, "2025-10-02T00:00:00Z");
    assert_eq!(price_at(&out, "2025-10-02T00:15:00Z"), ninth);
    assert_eq!(price_at(&out, "2025-10-02T00:45:00Z"), ninth);
    assert_eq!(price_at(&out, "2025-10-02T01:00:00Z"), p("95.5"));
    assert_eq!(prices[0].published_at, Some(utc("2025-10-01T22:50:06Z")));
}

#[test]
fn a03_last_value_extends_to_the_period_end() {
    let text = r#"<Publication_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-3:publicationdocument:7:3">
<TimeSeries><in_Domain.mRID codingScheme="A01">10YNL----------L</in_Domain.mRID>
<currency_Unit.name>EUR</currency_Unit.name><price_Measure_Unit.name>MWH</price_Measure_Unit.name>
<curveType>A03</curveType><Period><timeInterval><start>2025-10-01T22:00Z</start><end>2025-10-01T23:00Z</end></timeInterval>
<resolution>PT15M</resolution>
<Point><position>1</position><price.amount>-3.5</price.amount></Point>
<Point><position>2</position><price.amount>7</price.amount></Point>
</Period></TimeSeries></Publication_MarketDocument>"#;
    let out = parse_ok(&parser(), "nl.xml", text.as_bytes());
    let values: Vec<_> = prices(&out).iter().map(|price| price.price).collect();
    assert_eq!(values, [p("-3.5"), p("7"), p("7"), p("7")]);
    assert_eq!(prices(&out)[3].origin.line, 7);
    assert_eq!(&*prices(&out)[0].location, "NL");
}

fn assert_distinct_hours(file: &str, hours: usize, negative: bool) {
    let out = parse_ok(&parser(), file, &fixture(file));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), hours);
    let intervals: BTreeSet<_> = prices
        .iter()
        .map(|price| price.interval.resolve().unwrap())
        .collect();
    assert_eq!(intervals.len(), hours);
    let intervals: Vec<_> = intervals.into_iter().collect();
    for pair in intervals.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "contiguous");
        assert_eq!(pair[0].end.duration_since(pair[0].start).as_hours(), 1);
    }
    assert!(
        prices
            .iter()
            .all(|price| &*price.location == "DE-LU" && price.market == Market::Epex)
    );
    assert_eq!(
        prices.iter().any(|price| price.price < Price::ZERO),
        negative
    );
}

#[test]
fn de_lu_dst_days_have_25_and_23_hours() {
    assert_distinct_hours(FALL, 25, false);
    assert_distinct_hours(SPRING, 23, true);
    let out = parse_ok(&parser(), FALL, &fixture(FALL));
    assert_eq!(price_at(&out, "2023-10-28T22:00:00Z"), p("104.92"));
    assert_eq!(price_at(&out, "2023-10-29T22:00:00Z"), p("85.30"));
}

#[test]
fn unknown_bidding_zone_is_one_reject_per_series() {
    let bytes = fixture(FR);
    let text = String::from_utf8(bytes)
        .unwrap()
        .replace("10YFR-RTE------C", "10YXX-UNKNOWN--Z");
    let out = parse_ok(&parser(), FR, text.as_bytes());
    assert!(out.observations.is_empty());
    assert_eq!(out.rejects.len(), 2);
    assert_reject(
        &out.rejects[0],
        10,
        &["10YXX-UNKNOWN--Z", "10YFR-RTE------C (FR)"],
    );
    assert_eq!(out.rejects[1].origin.line, 122);
}

#[test]
fn bad_point_is_rejected_at_its_line() {
    let bytes = replace_once(&fixture(FR), "<price.amount>95.02<", "<price.amount>95,02<");
    let out = parse_ok(&parser(), FR, &bytes);
    assert_eq!(out.observations.len(), 47);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 28, &["price.amount", "95,02"]);
    assert!(out.rejects[0].raw.contains("<position>2</position>"));

    // In an A03 curve a refused point is not papered over with the previous value.
    let bytes = replace_once(
        &fixture(ES),
        "<price.amount>100</price.amount>",
        "<price.amount>x</price.amount>",
    );
    let out = parse_ok(&parser(), ES, &bytes);
    assert_eq!(out.observations.len(), 240 - 2);
    assert_reject(&out.rejects[0], 299, &["price.amount"]);

    let bytes = replace_once(
        &fixture(FR),
        "<position>24</position>",
        "<position>25</position>",
    );
    let out = parse_ok(&parser(), FR, &bytes);
    assert!(
        out.rejects[0].reason.contains("1..=24"),
        "{:?}",
        out.rejects[0]
    );
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        parse(&parser(), FR, b"  \n").unwrap_err().reason(),
        "empty file"
    );

    let bytes = fixture(FR);
    let error = parse(&parser(), FR, &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { .. }),
        "{error}"
    );

    let bytes = replace_once(&fixture(FR), "</Point>", "</Pointe>");
    let error = parse(&parser(), FR, &bytes).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { line: 27, .. }),
        "{error}"
    );

    let ack = b"<?xml version=\"1.0\"?><Acknowledgement_MarketDocument><Reason><code>999</code></Reason></Acknowledgement_MarketDocument>";
    let error = parse(&parser(), FR, ack).unwrap_err();
    assert!(
        error.to_string().contains("Publication_MarketDocument"),
        "{error}"
    );
    assert!(error.to_string().contains("acknowledgement"), "{error}");

    let bytes = replace_once(&fixture(FR), "<type>A44</type>", "<type>A65</type>");
    assert!(
        parse(&parser(), FR, &bytes)
            .unwrap_err()
            .to_string()
            .contains("A65")
    );

    let error = parse(&parser(), FR, b"\xff\xfe<x/>").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Encoding(_)), "{error}");
}
