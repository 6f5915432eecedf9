use super::*;
use crate::formats::testing::{assert_reject, fixture, p, parse, parse_ok, prices, utc};

const CURRENT: &str = "nordpool/se_current_day_price.json";
const NEXT: &str = "nordpool/se_next_day_price.json";

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
