use super::*;
use crate::formats::testing::{assert_reject, fixture, p, parse, parse_ok, prices, start_of, utc};
use jiff::SignedDuration;

const SPOT: &str = "jepx/spot_summary_2025_excerpt.csv";

fn parser() -> JepxSpot {
    JepxSpot::new(None).unwrap()
}

/// The fixture as UTF-8 text, decoded here independently of the parser.
fn text() -> String {
    let bytes = fixture(SPOT);
    let (text, _, malformed) = SHIFT_JIS.decode(&bytes);
    assert!(!malformed);
    text.into_owned()
}

/// UTF-8 text encoded back to Shift-JIS, as JEPX publishes.
fn sjis(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = SHIFT_JIS.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

/// The fixture with the first occurrence of `from` replaced, in Shift-JIS.
fn edited(from: &str, to: &str) -> Vec<u8> {
    let text = text();
    assert!(text.contains(from), "fixture lacks `{from}`");
    sjis(&text.replacen(from, to, 1))
}

fn find<'a>(prices: &[&'a PublishedPrice], location: &str, start: &str) -> &'a PublishedPrice {
    let start = utc(start);
    prices
        .iter()
        .find(|price| &*price.location == location && start_of(price) == start)
        .unwrap_or_else(|| panic!("no {location} price starting {start}"))
}

#[test]
fn spot_prices_are_pinned_by_hand() {
    let out = parse_ok(&parser(), SPOT, &fixture(SPOT));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    // 17 days x 48 half-hours x (system + 9 areas).
    assert_eq!(prices.len(), 17 * 48 * 10);

    // Line 2: 2025/04/01, code 1, system 13.50, Hokkaido 15.41, ..., Shikoku 7.81.
    let system = prices[0];
    assert_eq!(system.market, Market::Jepx);
    assert_eq!(system.product, Product::DayAhead30Min);
    assert_eq!(&*system.location, "SYSTEM");
    assert_eq!(system.location_type, LocationType::Region);
    assert_eq!(system.price, p("13.50"));
    assert_eq!(system.currency, Currency::JPY);
    assert_eq!(system.unit, Unit::KilowattHour);
    assert_eq!(system.origin.line, 2);
    assert_eq!(
        system.interval,
        NativeInterval::Local {
            time: jiff::civil::date(2025, 4, 1).at(0, 0, 0, 0),
            anchor: Anchor::Start,
            minutes: 30,
            clock: MarketClock::FixedOffsetMinutes(540),
            occurrence: Occurrence::Unstated,
        }
    );
    let resolved = system.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2025-03-31T15:00:00Z"));
    assert_eq!(resolved.end, utc("2025-03-31T15:30:00Z"));

    let hokkaido = find(&prices, "HOKKAIDO", "2025-03-31T15:00:00Z");
    assert_eq!(hokkaido.price, p("15.41"));
    assert_eq!(hokkaido.location_type, LocationType::Area);
    assert_eq!(
        find(&prices, "SHIKOKU", "2025-03-31T15:00:00Z").price,
        p("7.81")
    );
    assert_eq!(
        find(&prices, "KYUSHU", "2025-03-31T15:00:00Z").price,
        p("11.00")
    );
    // Line 19: 2025/04/01 code 18 (08:30 JST): Shikoku at the 0.01 yen floor.
    let shikoku = find(&prices, "SHIKOKU", "2025-03-31T23:30:00Z");
    assert_eq!(shikoku.price, p("0.01"));
    assert_eq!(shikoku.origin.line, 19);
    assert_eq!(
        find(&prices, "CHUGOKU", "2025-03-31T23:30:00Z").price,
        p("14.47")
    );
    assert_eq!(
        find(&prices, "TOKYO", "2025-03-31T23:30:00Z").price,
        p("18.06")
    );
    // Line 20: code 19, Hokkaido split from Tohoku/Tokyo.
    assert_eq!(
        find(&prices, "HOKKAIDO", "2025-04-01T00:00:00Z").price,
        p("11.25")
    );
    assert_eq!(
        find(&prices, "TOHOKU", "2025-04-01T00:00:00Z").price,
        p("19.01")
    );
    // Line 49: code 48 of 2025/04/01 starts at 23:30 JST.
    assert_eq!(
        find(&prices, "SYSTEM", "2025-04-01T14:30:00Z").price,
        p("12.96")
    );
    // Line 104: 2025/04/03 code 7, the excerpt's highest price (Hokkaido 20.96).
    let high = find(&prices, "HOKKAIDO", "2025-04-02T18:00:00Z");
    assert_eq!(high.price, p("20.96"));
    assert_eq!(high.origin.line, 104);
    // Last line 817: 2025/04/17 code 48.
    let last = find(&prices, "KANSAI", "2025-04-17T14:30:00Z");
    assert_eq!(last.price, p("8.36"));
    assert_eq!(last.origin.line, 817);
    assert_eq!(
        find(&prices, "HOKURIKU", "2025-04-17T14:30:00Z").price,
        p("8.36")
    );
    assert_eq!(
        find(&prices, "CHUBU", "2025-04-17T14:30:00Z").price,
        p("11.00")
    );
}

#[test]
fn every_day_has_48_consecutive_half_hours_from_15z_the_day_before() {
    let out = parse_ok(&parser(), SPOT, &fixture(SPOT));
    let prices = prices(&out);
    for location in [
        "SYSTEM", "HOKKAIDO", "TOHOKU", "TOKYO", "CHUBU", "HOKURIKU", "KANSAI", "CHUGOKU",
        "SHIKOKU", "KYUSHU",
    ] {
        let intervals: Vec<_> = prices
            .iter()
            .filter(|price| &*price.location == location)
            .map(|price| price.interval.resolve().unwrap())
            .collect();
        assert_eq!(intervals.len(), 17 * 48, "{location}");
        assert_eq!(intervals[0].start, utc("2025-03-31T15:00:00Z"));
        for (index, interval) in intervals.iter().enumerate() {
            assert_eq!(
                interval.end.duration_since(interval.start),
                SignedDuration::from_mins(30)
            );
            let expected = utc("2025-03-31T15:00:00Z")
                .checked_add(SignedDuration::from_mins(30 * index as i64))
                .unwrap();
            assert_eq!(interval.start, expected, "{location} #{index}");
        }
        // Code 1 of every date starts at 15:00 UTC of the day before.
        for (day, interval) in intervals.iter().step_by(48).enumerate() {
            let date = jiff::civil::date(2025, 4, 1)
                .checked_add(jiff::Span::new().days(day as i64))
                .unwrap();
            let expected = date.yesterday().unwrap().at(15, 0, 0, 0);
            let expected = jiff::tz::Offset::UTC.to_timestamp(expected).unwrap();
            assert_eq!(interval.start, expected);
        }
    }
}

#[test]
fn a_utf8_copy_parses_the_same() {
    let sjis = parse_ok(&parser(), SPOT, &fixture(SPOT));
    let utf8 = parse_ok(&parser(), SPOT, text().as_bytes());
    assert_eq!(sjis.observations, utf8.observations);
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(text().as_bytes());
    assert_eq!(
        parse_ok(&parser(), SPOT, &with_bom).observations.len(),
        8160
    );
}

#[test]
fn undecodable_bytes_are_an_encoding_error() {
    let mut bytes = fixture(SPOT);
    let third_line = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .unwrap()
        .0
        + 1;
    bytes.insert(third_line, 0xFF);
    let error = parse(&parser(), SPOT, &bytes).unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Encoding(_)), "{error}");
    let message = error.to_string();
    assert!(message.contains("Shift-JIS"), "{message}");
    assert!(message.contains("0xff"), "{message}");
    assert!(message.contains("offset 1608 (line 3)"), "{message}");
    // A lead byte cut off at the end of the file.
    let mut cut = fixture(SPOT);
    cut.truncate(3);
    assert!(matches!(
        parse(&parser(), SPOT, &cut).unwrap_err().kind,
        FileErrorKind::Encoding(_)
    ));
}

#[test]
fn renamed_header_names_expected_and_found() {
    let bytes = edited("エリアプライス東京(円/kWh)", "エリアプライス東京(円/MWh)");
    let error = parse(&parser(), SPOT, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, HEADER);
    assert!(
        found.starts_with("年月日,時刻コード,売り入札量(kWh)"),
        "{found}"
    );
    assert!(found.contains("エリアプライス東京(円/MWh)"), "{found}");
    assert_eq!(missing, &["エリアプライス東京(円/kWh)".to_string()]);
    assert!(error.to_string().contains(SPOT));

    let bytes = edited("時刻コード", "時間");
    let error = parse(&parser(), SPOT, &bytes).unwrap_err();
    assert!(error.to_string().contains("missing: 時刻コード"), "{error}");
}

#[test]
fn a_bad_price_rejects_only_that_price() {
    // Line 3 (code 2): Shikoku 7.73 becomes text.
    let bytes = edited(",7.73,11.00,,13.20,", ",－,11.00,,13.20,");
    let out = parse_ok(&parser(), SPOT, &bytes);
    assert_eq!(out.observations.len(), 8159);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(
        &out.rejects[0],
        3,
        &["エリアプライス四国(円/kWh)", "not a decimal"],
    );
    assert!(out.rejects[0].raw.starts_with("2025/04/01,2,"));
    // The row's other nine prices are there.
    let row: Vec<_> = prices(&out)
        .into_iter()
        .filter(|price| price.origin.line == 3)
        .collect();
    assert_eq!(row.len(), 9);
    assert!(row.iter().all(|price| &*price.location != "SHIKOKU"));
}

#[test]
fn bad_date_code_or_field_count_rejects_the_row() {
    let out = parse_ok(&parser(), SPOT, &edited("2025/04/01,2,", "2025/04/01,49,"));
    assert_eq!(out.observations.len(), 8150);
    assert_reject(&out.rejects[0], 3, &["時刻コード", "49", "1-48"]);

    let out = parse_ok(&parser(), SPOT, &edited("2025/04/01,2,", "2025-04-01,2,"));
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 3, &["年月日", "2025-04-01", "YYYY/MM/DD"]);

    let out = parse_ok(
        &parser(),
        SPOT,
        &edited("2025/04/01,2,", "2025/04/01,2,extra,"),
    );
    assert_reject(&out.rejects[0], 3, &["expected 48 fields, found 49"]);

    // A file cut in the middle of its last row.
    let bytes = fixture(SPOT);
    let cut = &bytes[..bytes.len() - 100];
    let out = parse_ok(&parser(), SPOT, cut);
    assert_eq!(out.observations.len(), 8150);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 817, &["expected 48 fields"]);
}

#[test]
fn empty_file_and_product_option() {
    let error = parse(&parser(), SPOT, b"").unwrap_err();
    assert_eq!(error.kind, FileErrorKind::Empty);
    assert!(parse(&parser(), SPOT, b"\r\n").is_err());
    assert!(JepxSpot::new(Some(Product::DayAhead30Min)).is_ok());
    let error = JepxSpot::new(Some(Product::DayAheadHourly)).unwrap_err();
    assert!(error.to_string().contains("DAY_AHEAD_30_MIN"), "{error}");
}
