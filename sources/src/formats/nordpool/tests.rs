use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use std::collections::{BTreeMap, BTreeSet};

const CURRENT: &str = "nordpool/se_current_day_price.json";
const NEXT: &str = "nordpool/se_next_day_price.json";
const QUARTERS: &str = "nordpool/dayaheadprices_2025-10-02_15min.json";
const FALL: &str = "nordpool/dayaheadprices_2024-10-27_dst.json";

const AREAS: [&str; 15] = [
    "NO1", "NO2", "NO3", "NO4", "NO5", "SE1", "SE2", "SE3", "SE4", "DK1", "DK2", "FI", "EE", "LV",
    "LT",
];

fn price_of(out: &SourceOutput, area: &str, start: &str) -> Price {
    let start = utc(start);
    prices(out)
        .into_iter()
        .find(|price| &*price.location == area && start_of(price) == start)
        .unwrap_or_else(|| panic!("no {area} price at {start}"))
        .price
}

#[test]
fn se4_first_price_is_exact() {
    let out = parse_ok(&NordPoolV2::default(), CURRENT, &fixture(CURRENT));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 24);
    let first = prices[0];
    assert_eq!(first.price.micros(), 79_670_000);
    assert_eq!(first.market, Market::NordPool);
    assert_eq!(&*first.location, "SE4");
    assert_eq!(first.location_type, LocationType::Area);
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(first.currency, Currency::EUR);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2024-07-07T22:00:00Z"),
            end: utc("2024-07-07T23:00:00Z"),
        }
    );
    assert_eq!(first.origin.line, 1, "the price's ordinal");
    assert_eq!(prices[23].origin.line, 24);
    assert_eq!(first.published_at, Some(utc("2024-07-08T07:10:29.997923Z")));
    assert_eq!(prices[2].price, p("72.3"));
    let next = parse_ok(&NordPoolV2::default(), NEXT, &fixture(NEXT));
    assert_eq!(next.observations.len(), 24);
    assert!(next.rejects.is_empty());
}

#[test]
fn number_text_is_the_exact_decimal() {
    let number = |text: &str| serde_json::from_str::<Number>(text).unwrap();
    assert_eq!(number_text(&number("79.67")), "79.67");
    assert_eq!(number_text(&number("-0.01")), "-0.01");
    assert_eq!(number_text(&number("1e-7")), "0.0000001");
    assert_eq!(number_text(&number("-1.5e3")), "-1500.0");
    assert_eq!(expand_exponent("-1.5", "3").as_deref(), Some("-1500"));
    assert_eq!(expand_exponent("2.5", "-3").as_deref(), Some("0.0025"));
    assert_eq!(expand_exponent("1", "999"), None);
    assert_eq!(number_text(&number("1234567.891")), "1234567.891");
    assert_eq!(number_text(&number("12")), "12");
    assert_eq!(
        number_text(&number("0.1"))
            .parse::<Price>()
            .unwrap()
            .micros(),
        100_000
    );
}

#[test]
fn multi_area_form_and_quarter_hours() {
    let text = r#"{"deliveryDateCET":"2025-10-02","version":3,"updatedAt":"2025-10-01T12:00:00Z",
        "market":"DayAhead","currency":"EUR","multiAreaEntries":[
        {"deliveryStart":"2025-10-01T22:00:00Z","deliveryEnd":"2025-10-01T22:15:00Z","entryPerArea":{"SE3":25.1,"SE4":-1.07}},
        {"deliveryStart":"2025-10-01T22:15:00Z","deliveryEnd":"2025-10-01T22:30:00Z","entryPerArea":{"SE3":24,"SE4":"x"}}]}"#;
    let out = parse_ok(&NordPoolV2::default(), "multi.json", text.as_bytes());
    let prices = prices(&out);
    assert_eq!(prices.len(), 3);
    assert!(
        prices
            .iter()
            .all(|price| price.product == Product::DayAhead15Min)
    );
    assert!(prices.iter().all(|price| price.revision == Some(3)));
    assert_eq!(prices[1].price, p("-1.07"));
    assert_eq!(&*prices[1].location, "SE4");
    assert_reject(&out.rejects[0], 4, &["price", "not a number"]);
}

#[test]
fn bad_entries_are_rejected_by_ordinal() {
    let text = r#"[{"deliveryArea":"NO1","currency":"NOK","unit":"NOK/MWh","prices":[
        {"price":10.5,"deliveryStart":"2024-07-07T22:00:00Z","deliveryEnd":"2024-07-07T23:00:00Z"},
        {"price":null,"deliveryStart":"2024-07-07T23:00:00Z","deliveryEnd":"2024-07-08T00:00:00Z"},
        {"price":"abc","deliveryStart":"2024-07-08T00:00:00Z","deliveryEnd":"2024-07-08T01:00:00Z"},
        {"price":11,"deliveryStart":"tomorrow","deliveryEnd":"2024-07-08T02:00:00Z"},
        {"price":12,"deliveryStart":"2024-07-08T02:00:00Z","deliveryEnd":"2024-07-08T02:30:00Z"}]}]"#;
    let out = parse_ok(&NordPoolV2::default(), "no1.json", text.as_bytes());
    assert_eq!(out.observations.len(), 1);
    assert_eq!(prices(&out)[0].currency, "NOK".parse::<Currency>().unwrap());
    let lines: Vec<_> = out.rejects.iter().map(|r| r.origin.line).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    assert_reject(&out.rejects[0], 2, &["no `price`"]);
    assert_reject(&out.rejects[1], 3, &["\"abc\"", "not a number"]);
    assert_reject(&out.rejects[2], 4, &["deliveryStart", "tomorrow"]);
    assert_reject(&out.rejects[3], 5, &["30-minute", "`product`"]);
    assert!(out.rejects[0].raw.contains("2024-07-07T23:00:00Z"));
    // A product override accepts the half hour.
    let parser = NordPoolV2::new(Some(Product::DayAheadHourly));
    let out = parse_ok(&parser, "no1.json", text.as_bytes());
    assert_eq!(out.observations.len(), 2);
}

#[test]
fn whole_file_problems() {
    let parser = NordPoolV2::default();
    assert_eq!(
        parse(&parser, CURRENT, b"").unwrap_err().reason(),
        "empty file"
    );
    let bytes = fixture(CURRENT);
    let error = parse(&parser, CURRENT, &bytes[..bytes.len() - 40]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { line: 1, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("nordpool_v2"), "{error}");
    let error = parse(&parser, CURRENT, b"{\"data\": 1}").unwrap_err();
    assert!(error.to_string().contains("multiAreaEntries"), "{error}");
    let error = parse(&parser, CURRENT, b"42").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
}

#[test]
fn quarter_hours_of_every_nordic_and_baltic_area() {
    let out = parse_ok(&NordPoolV2::default(), QUARTERS, &fixture(QUARTERS));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 96 * 15);
    let mut per_area: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for price in &prices {
        assert_eq!(price.market, Market::NordPool);
        assert_eq!(price.product, Product::DayAhead15Min);
        assert_eq!(price.location_type, LocationType::Area);
        assert_eq!(
            (price.currency, price.unit),
            (Currency::EUR, Unit::MegawattHour)
        );
        assert_eq!(price.revision, Some(2), "`version`");
        assert_eq!(
            price.published_at,
            Some(utc("2025-10-01T11:52:38.1462771Z")),
            "`updatedAt`"
        );
        per_area
            .entry(&*price.location)
            .or_default()
            .push(price.interval.resolve().unwrap());
    }
    let areas: BTreeSet<&str> = per_area.keys().copied().collect();
    assert_eq!(areas, AREAS.into_iter().collect());
    for (area, intervals) in &per_area {
        assert_eq!(intervals.len(), 96, "{area}");
        assert_eq!(intervals[0].start, utc("2025-10-01T22:00:00Z"), "{area}");
        assert_eq!(intervals[95].end, utc("2025-10-02T22:00:00Z"), "{area}");
        for pair in intervals.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{area}");
            assert_eq!(pair[0].end.duration_since(pair[0].start).as_mins(), 15);
        }
    }
    assert_eq!(price_of(&out, "SE3", "2025-10-01T22:00:00Z"), p("35.07"));
    assert_eq!(price_of(&out, "FI", "2025-10-01T22:00:00Z"), p("-0.43"));
    assert_eq!(price_of(&out, "FI", "2025-10-01T23:15:00Z"), p("-0.12"));
    assert_eq!(price_of(&out, "LT", "2025-10-01T22:00:00Z"), p("64.86"));
    assert_eq!(price_of(&out, "SE4", "2025-10-02T21:45:00Z"), p("79"));
    // Ordinals run entry by entry, each entry's areas in alphabetical order (DK1 first).
    assert_eq!(&*prices[0].location, "DK1");
    assert_eq!(prices[0].origin.line, 1);
    assert_eq!(&*prices[15].location, "DK1");
    assert_eq!(start_of(prices[15]), utc("2025-10-01T22:15:00Z"));
    assert_eq!(prices[15].origin.line, 16);
}

#[test]
fn fall_back_day_has_25_distinct_hours_per_area() {
    let out = parse_ok(&NordPoolV2::default(), FALL, &fixture(FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 25 * 5);
    for area in ["NO1", "SE3", "DK1", "FI", "EE"] {
        let intervals: BTreeSet<_> = prices
            .iter()
            .filter(|price| &*price.location == area)
            .map(|price| price.interval.resolve().unwrap())
            .collect();
        assert_eq!(intervals.len(), 25, "{area}");
        let intervals: Vec<_> = intervals.into_iter().collect();
        assert_eq!(intervals[0].start, utc("2024-10-26T22:00:00Z"));
        assert_eq!(intervals[24].end, utc("2024-10-27T23:00:00Z"));
        for pair in intervals.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(pair[0].end.duration_since(pair[0].start).as_hours(), 1);
        }
    }
    assert!(
        prices
            .iter()
            .all(|price| price.product == Product::DayAheadHourly && price.revision == Some(3))
    );
    // 02:00-03:00 local time twice: 00:00Z (CEST) and 01:00Z (CET), two prices.
    assert_eq!(price_of(&out, "NO1", "2024-10-27T00:00:00Z"), p("29.88"));
    assert_eq!(price_of(&out, "NO1", "2024-10-27T01:00:00Z"), p("29.05"));
    assert_eq!(price_of(&out, "FI", "2024-10-27T04:00:00Z"), p("-0.05"));
    assert_eq!(price_of(&out, "EE", "2024-10-27T22:00:00Z"), p("58.4"));
}

#[test]
fn renamed_field_is_one_header_error() {
    let bytes = replace_once(&fixture(QUARTERS), "\"entryPerArea\"", "\"pricePerArea\"");
    let error = parse(&NordPoolV2::default(), QUARTERS, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, MULTI_FIELDS);
    assert_eq!(missing, &["entryPerArea".to_string()]);
    assert!(found.contains("pricePerArea"), "{found}");

    let bytes = replace_once(
        &fixture(CURRENT),
        "\"deliveryStart\"",
        "\"deliveryPeriodStart\"",
    );
    let error = parse(&NordPoolV2::default(), CURRENT, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected, missing, ..
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, AREA_FIELDS);
    assert_eq!(missing, &["deliveryStart".to_string()]);
    assert!(error.to_string().contains("nordpool_v2"), "{error}");

    let bytes = replace_once(&fixture(CURRENT), "\"deliveryArea\"", "\"area\"");
    let error = parse(&NordPoolV2::default(), CURRENT, &bytes).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Header { .. }),
        "{error}"
    );
}

#[test]
fn a_missing_area_or_bad_entry_is_rejected_and_the_rest_parses() {
    // The first entry lacks NO1: its 14 other prices are ordinals 1-14, the gap is 15.
    let bytes = replace_once(&fixture(QUARTERS), "\"NO1\": 37.42,\n", "");
    let out = parse_ok(&NordPoolV2::default(), QUARTERS, &bytes);
    assert_eq!(out.observations.len(), 96 * 15 - 1);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 15, &["NO1", "deliveryAreas"]);
    assert!(out.rejects[0].raw.contains("2025-10-01T22:00:00Z"));

    // A bad end time refuses the entry's 15 prices; a string price refuses one.
    let bytes = replace_once(
        &fixture(QUARTERS),
        "\"deliveryEnd\": \"2025-10-01T22:30:00Z\"",
        "\"deliveryEnd\": \"2025-10-01T22:30:00\"",
    );
    let bytes = replace_once(&bytes, "\"SE3\": 35.07", "\"SE3\": \"35.07\"");
    let out = parse_ok(&NordPoolV2::default(), QUARTERS, &bytes);
    assert_eq!(out.observations.len(), 96 * 15 - 16);
    let lines: Vec<_> = out
        .rejects
        .iter()
        .map(|reject| reject.origin.line)
        .collect();
    assert_eq!(lines, [14].into_iter().chain(16..=30).collect::<Vec<_>>());
    assert_reject(&out.rejects[0], 14, &["price", "not a number"]);
    assert_reject(&out.rejects[1], 16, &["deliveryEnd", "2025-10-01T22:30:00"]);
}
