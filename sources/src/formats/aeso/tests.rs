use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};

const FALL: &str = "aeso/poolprice_2024-11-03.json";
const SPRING: &str = "aeso/poolprice_2024-03-10.json";
const PARTIAL: &str = "aeso/poolprice_2024-11-04_partial.json";

fn parser() -> AesoPoolPrice {
    AesoPoolPrice::new(None).unwrap()
}

/// Every price's UTC start, asserting hourly intervals.
fn starts(out: &SourceOutput) -> Vec<Timestamp> {
    prices(out)
        .iter()
        .map(|price| {
            let interval = price.interval.resolve().unwrap();
            assert_eq!(interval.end.duration_since(interval.start).as_hours(), 1);
            interval.start
        })
        .collect()
}

fn contiguous(starts: &[Timestamp]) -> bool {
    starts
        .windows(2)
        .all(|pair| pair[1].duration_since(pair[0]).as_hours() == 1)
}

#[test]
fn fall_back_day_has_25_distinct_hours() {
    let out = parse_ok(&parser(), FALL, &fixture(FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 25);
    let first = prices[0];
    assert_eq!(first.market, Market::Aeso);
    assert_eq!(first.product, Product::RealTimeHourly);
    assert_eq!(&*first.location, "ALBERTA");
    assert_eq!(first.location_type, LocationType::Region);
    assert_eq!(first.currency, Currency::CAD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(first.components, Components::default());
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2024-11-03T06:00:00Z"),
            end: utc("2024-11-03T07:00:00Z"),
        }
    );
    assert_eq!(first.price, p("35.21"));
    assert_eq!(first.origin.line, 1);
    assert_eq!(first.published_at, Some(utc("2024-11-04T07:10:47.327Z")));
    assert_eq!(first.revision, None);
    // MPT 01:00 is written twice: 01:00 MDT and 01:00 MST, one hour apart in UTC.
    assert_eq!(start_of(prices[1]), utc("2024-11-03T07:00:00Z"));
    assert_eq!(prices[1].price, p("33.87"));
    assert_eq!(start_of(prices[2]), utc("2024-11-03T08:00:00Z"));
    assert_eq!(prices[2].price, p("31.02"));
    assert_eq!(prices[2].origin.line, 3);
    // The $0 floor is a price like any other (03:00 MST).
    assert_eq!(start_of(prices[4]), utc("2024-11-03T10:00:00Z"));
    assert_eq!(prices[4].price, Price::ZERO);
    let starts = starts(&out);
    assert!(contiguous(&starts));
    assert_eq!(starts[24], utc("2024-11-04T06:00:00Z"));
}

#[test]
fn spring_forward_day_has_23_hours() {
    let out = parse_ok(&parser(), SPRING, &fixture(SPRING));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let starts = starts(&out);
    assert_eq!(starts.len(), 23);
    assert!(contiguous(&starts));
    assert_eq!(starts[0], utc("2024-03-10T07:00:00Z"));
    assert_eq!(starts[22], utc("2024-03-11T05:00:00Z"));
    let prices = prices(&out);
    // 01:00 MST then 03:00 MDT: consecutive hours.
    assert_eq!(start_of(prices[1]), utc("2024-03-10T08:00:00Z"));
    assert_eq!(prices[1].price, p("25.90"));
    assert_eq!(start_of(prices[2]), utc("2024-03-10T09:00:00Z"));
    assert_eq!(prices[2].price, p("24.37"));
}

#[test]
fn unsettled_hours_are_skipped_and_the_cap_is_kept() {
    let out = parse_ok(&parser(), PARTIAL, &fixture(PARTIAL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    // Settled through the hour beginning 18:00 MST; 19:00-23:00 have no pool price yet.
    assert_eq!(prices.len(), 19);
    let cap = prices[17];
    assert_eq!(start_of(cap), utc("2024-11-05T00:00:00Z"));
    assert_eq!(cap.price, p("999.99"));
    assert_eq!(cap.origin.line, 18);
    assert_eq!(start_of(prices[18]), utc("2024-11-05T01:00:00Z"));
}

#[test]
fn contradicting_local_time_is_rejected() {
    let bytes = replace_once(
        &fixture(FALL),
        "\"begin_datetime_mpt\": \"2024-11-03 00:00\"",
        "\"begin_datetime_mpt\": \"2024-11-03 01:00\"",
    );
    let out = parse_ok(&parser(), FALL, &bytes);
    assert_eq!(out.observations.len(), 24);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(
        &out.rejects[0],
        1,
        &[
            "begin_datetime_mpt",
            "2024-11-03 01:00",
            "America/Edmonton",
            "2024-11-03T00:00:00",
        ],
    );
    assert!(out.rejects[0].raw.contains("\"pool_price\":\"35.21\""));
}

#[test]
fn renamed_field_is_one_header_error() {
    let bytes = replace_once(&fixture(FALL), "\"pool_price\":", "\"poolPrice\":");
    let error = parse(&parser(), FALL, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, FIELDS);
    assert_eq!(missing, &["pool_price".to_string()]);
    assert!(found.contains("poolPrice"), "{found}");
    assert!(error.to_string().contains("aeso_pool_price"), "{error}");
}

#[test]
fn malformed_items_are_rejected_by_ordinal() {
    let text = r#"{"timestamp": "2024-04-19 03:29:58.480+0000", "responseCode": "200",
      "return": {"Pool Price Report": [
        {"begin_datetime_utc": "2024-04-14 06:00", "begin_datetime_mpt": "2024-04-14 00:00", "pool_price": "28.89"},
        {"begin_datetime_utc": "2024-04-14 07:00", "begin_datetime_mpt": "2024-04-14 01:00", "pool_price": "abc"},
        {"begin_datetime_utc": "14/04/2024 08:00", "begin_datetime_mpt": "2024-04-14 02:00", "pool_price": "30.10"},
        {"begin_datetime_utc": "2024-04-14 09:00", "begin_datetime_mpt": "2024-04-14 03:00", "pool_price": 31.5},
        {"begin_datetime_utc": "2024-04-14 10:00", "begin_datetime_mpt": "2024-04-14 04:00", "pool_price": "-"},
        42,
        {"begin_datetime_utc": "2024-04-14 12:00", "begin_datetime_mpt": "2024-04-14 06:00", "pool_price": null},
        {"begin_datetime_mpt": "2024-04-14 07:00", "pool_price": "33.00"},
        {"begin_datetime_utc": "2024-04-14 14:00", "begin_datetime_mpt": "2024-04-14 08:00", "pool_price": "-12.5"}
      ]}}"#;
    let out = parse_ok(&parser(), "aeso.json", text.as_bytes());
    let prices = prices(&out);
    assert_eq!(prices.len(), 3);
    assert_eq!(
        prices[0].published_at,
        Some(utc("2024-04-19T03:29:58.480Z"))
    );
    // A JSON number is read from its exact decimal text.
    assert_eq!(prices[1].price, p("31.5"));
    // Negative is out of AESO's range but never clamped or refused.
    assert_eq!(prices[2].price, p("-12.5"));
    let lines: Vec<_> = out.rejects.iter().map(|r| r.origin.line).collect();
    assert_eq!(lines, [2, 3, 5, 6, 8]);
    assert_reject(&out.rejects[0], 2, &["pool_price", "abc"]);
    assert_reject(
        &out.rejects[1],
        3,
        &["begin_datetime_utc", "14/04/2024 08:00"],
    );
    assert_reject(&out.rejects[2], 5, &["pool_price", "-"]);
    assert_reject(&out.rejects[3], 6, &["must be an object"]);
    assert_reject(&out.rejects[4], 8, &["missing `begin_datetime_utc`"]);
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        parse(&parser(), FALL, b"").unwrap_err().reason(),
        "empty file"
    );
    let bytes = fixture(FALL);
    let error = parse(&parser(), FALL, &bytes[..bytes.len() - 40]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { .. }),
        "{error}"
    );
    let error = parse(
        &parser(),
        FALL,
        br#"{"timestamp": "2024-04-19 03:29:58.480+0000", "responseCode": "401", "message": "Unauthorized"}"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    assert!(error.to_string().contains("Unauthorized"), "{error}");
    let error = parse(
        &parser(),
        FALL,
        br#"{"responseCode": "200", "return": {"System Marginal Price Report": []}}"#,
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("System Marginal Price Report"),
        "{error}"
    );
    let error = parse(&parser(), FALL, b"[1, 2]").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    // An empty report is no error: nothing to publish.
    let out = parse_ok(
        &parser(),
        FALL,
        br#"{"responseCode": "200", "return": {"Pool Price Report": []}}"#,
    );
    assert!(out.observations.is_empty() && out.rejects.is_empty());
}

#[test]
fn times_and_products() {
    assert_eq!(
        api_datetime("2024-11-03 07:00"),
        Some(jiff::civil::date(2024, 11, 3).at(7, 0, 0, 0))
    );
    assert_eq!(api_datetime("2024-11-03"), None);
    assert_eq!(
        answer_time("2024-11-04 07:10:47.327+0000"),
        Some(utc("2024-11-04T07:10:47.327Z"))
    );
    assert_eq!(
        answer_time("2024-11-04 01:10:47-0600"),
        Some(utc("2024-11-04T07:10:47Z"))
    );
    assert!(AesoPoolPrice::new(Some(Product::RealTime5Min)).is_err());
    let parser = AesoPoolPrice::new(Some(Product::RealTimeHourlyFinal)).unwrap();
    let out = parse_ok(&parser, FALL, &fixture(FALL));
    assert_eq!(prices(&out)[0].product, Product::RealTimeHourlyFinal);
}
