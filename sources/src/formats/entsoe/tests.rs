use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::{Currency, LocationType, NativeInterval, Price, Unit};
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

const AT: &str = "entsoe/AT_2023-06-14.xml";
const CH: &str = "entsoe/CH_2023-12-05.xml";
const BE: &str = "entsoe/BE_2025-09-14.xml";
const NL: &str = "entsoe/NL_2025-09-23.xml";
const QUARTERS: &str = "entsoe/DE_LU_15min_2026-05-01.xml";
const QUARTERS_FALL: &str = "entsoe/DE_LU_15min_2025-10-26.xml";

#[test]
fn every_epex_area_is_known_by_its_eic_code() {
    let epex = [
        ("10Y1001A1001A82H", "DE-LU"),
        ("10YFR-RTE------C", "FR"),
        ("10YAT-APG------L", "AT"),
        ("10YCH-SWISSGRIDZ", "CH"),
        ("10YBE----------2", "BE"),
        ("10YNL----------L", "NL"),
    ];
    for (eic, area) in epex {
        assert_eq!(bidding_zone(eic), Some((area, Market::Epex)), "{eic}");
        assert_eq!(
            bidding_zone(&format!(" {eic}\n")),
            Some((area, Market::Epex))
        );
    }
    assert_eq!(bidding_zone("10YES-REE------0"), Some(("ES", Market::Omie)));
    assert_eq!(bidding_zone("10YPT-REN------W"), Some(("PT", Market::Omie)));
    // The DE-AT-LU zone split on 2018-10-01 and the German control area are not price zones here.
    assert_eq!(bidding_zone("10Y1001A1001A63L"), None);
    assert_eq!(bidding_zone("10Y1001A1001A83F"), None);
}

/// One hourly delivery day of an EPEX area: 24 contiguous UTC hours, no rejects.
fn assert_hourly_day(file: &str, area: &str, first: &str) -> SourceOutput {
    let out = parse_ok(&parser(), file, &fixture(file));
    assert!(out.rejects.is_empty(), "{file}: {:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 24, "{file}");
    for price in &prices {
        assert_eq!((price.market, &*price.location), (Market::Epex, area));
        assert_eq!(price.product, Product::DayAheadHourly);
        assert_eq!(price.location_type, LocationType::Area);
        assert_eq!(
            (price.currency, price.unit),
            (Currency::EUR, Unit::MegawattHour)
        );
        assert_eq!(price.revision, Some(1));
    }
    let starts: Vec<_> = prices.iter().map(|price| start_of(price)).collect();
    assert_eq!(starts[0], utc(first), "{file}");
    for (hour, start) in starts.iter().enumerate() {
        let hours = i64::try_from(hour).unwrap();
        assert_eq!(
            *start,
            utc(first)
                .checked_add(jiff::SignedDuration::from_hours(hours))
                .unwrap()
        );
    }
    out
}

#[test]
fn austria_switzerland_belgium_netherlands_days_are_pinned() {
    // 7:0 layout, curve A01 (every position written).
    let at = assert_hourly_day(AT, "AT", "2023-06-13T22:00:00Z");
    assert_eq!(price_at(&at, "2023-06-13T22:00:00Z"), p("101.50"));
    assert_eq!(price_at(&at, "2023-06-14T11:00:00Z"), p("69.90"));
    assert_eq!(
        prices(&at)[0].published_at,
        Some(utc("2023-06-16T08:41:57Z"))
    );
    assert_eq!(prices(&at)[0].origin.line, 24);
    let ch = assert_hourly_day(CH, "CH", "2023-12-04T23:00:00Z");
    assert_eq!(price_at(&ch, "2023-12-05T16:00:00Z"), p("168.94"));
    // 7:3 layout, curve A03: BE leaves out the repeated -0.01 and 0 hours.
    let be = assert_hourly_day(BE, "BE", "2025-09-13T22:00:00Z");
    let noon: Vec<_> = (8..=15)
        .map(|hour| price_at(&be, &format!("2025-09-14T{hour:02}:00:00Z")))
        .collect();
    assert_eq!(
        noon,
        [
            p("-0.01"),
            p("-0.01"),
            p("-0.01"),
            p("-5.02"),
            p("-0.01"),
            p("0"),
            p("0"),
            p("35.6")
        ]
    );
    assert_eq!(
        prices(&be)[0].published_at,
        Some(utc("2025-09-15T07:33:48Z"))
    );
    let nl = assert_hourly_day(NL, "NL", "2025-09-22T22:00:00Z");
    assert_eq!(price_at(&nl, "2025-09-23T10:00:00Z"), p("76.45"));
    assert_eq!(
        price_at(&nl, "2025-09-23T11:00:00Z"),
        p("76.45"),
        "A03 repeat"
    );
    assert_eq!(price_at(&nl, "2025-09-23T21:00:00Z"), p("91.3"));
}

#[test]
fn out_domain_alone_names_the_zone_and_a_mismatch_is_rejected() {
    let text = String::from_utf8(fixture(AT)).unwrap();
    let without_in = text.replace(
        "\t\t<in_Domain.mRID codingScheme=\"A01\">10YAT-APG------L</in_Domain.mRID>\n",
        "",
    );
    assert_ne!(without_in, text);
    let out = parse_ok(&parser(), AT, without_in.as_bytes());
    assert_eq!(out.observations.len(), 24);
    assert!(prices(&out).iter().all(|price| &*price.location == "AT"));

    let mismatch = replace_once(
        &fixture(AT),
        ">10YAT-APG------L</in_Domain.mRID>",
        ">10YCH-SWISSGRIDZ</in_Domain.mRID>",
    );
    let out = parse_ok(&parser(), AT, &mismatch);
    assert!(out.observations.is_empty());
    assert_eq!(out.rejects.len(), 1);
    assert_reject(
        &out.rejects[0],
        10,
        &["10YCH-SWISSGRIDZ", "10YAT-APG------L", "differ"],
    );
}

#[test]
fn de_lu_quarter_hours_fill_a03_gaps_and_keep_the_harmonised_minimum() {
    let out = parse_ok(&parser(), QUARTERS, &fixture(QUARTERS));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    // 93 points written, 96 quarter-hours: positions 54-56 repeat position 53.
    assert_eq!(prices.len(), 96);
    assert!(prices.iter().all(|price| {
        price.product == Product::DayAhead15Min
            && price.market == Market::Epex
            && &*price.location == "DE-LU"
    }));
    let intervals: Vec<_> = prices
        .iter()
        .map(|price| price.interval.resolve().unwrap())
        .collect();
    assert_eq!(intervals[0].start, utc("2026-04-30T22:00:00Z"));
    assert_eq!(intervals[95].end, utc("2026-05-01T22:00:00Z"));
    for pair in intervals.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        assert_eq!(pair[0].end.duration_since(pair[0].start).as_mins(), 15);
    }
    assert_eq!(price_at(&out, "2026-04-30T22:00:00Z"), p("85.35"));
    assert_eq!(price_at(&out, "2026-05-01T10:45:00Z"), p("-243.59"));
    // The harmonised SDAC minimum, -500 EUR/MWh, for 13:00-14:00 CEST: kept, never clamped.
    for minute in ["00", "15", "30", "45"] {
        let price = price_at(&out, &format!("2026-05-01T11:{minute}:00Z"));
        assert_eq!(price, p("-500"));
    }
    let filled = prices
        .iter()
        .find(|price| start_of(price) == utc("2026-05-01T11:45:00Z"))
        .unwrap();
    assert_eq!(filled.origin.line, 240, "the line of position 53's <Point>");
    assert_eq!(price_at(&out, "2026-05-01T12:00:00Z"), p("-193.35"));
    assert_eq!(price_at(&out, "2026-05-01T21:45:00Z"), p("91.01"));
    assert_eq!(prices[0].published_at, Some(utc("2026-05-02T06:14:09Z")));
    assert_eq!(prices[0].revision, Some(1));
}

#[test]
fn harmonised_maximum_and_beyond_are_kept() {
    let bytes = replace_once(
        &fixture(QUARTERS),
        "<price.amount>91.01</price.amount>",
        "<price.amount>4000</price.amount>",
    );
    let out = parse_ok(&parser(), QUARTERS, &bytes);
    assert_eq!(price_at(&out, "2026-05-01T21:45:00Z"), p("4000"));
    let bytes = replace_once(
        &fixture(QUARTERS),
        "<price.amount>-500</price.amount>",
        "<price.amount>-500.01</price.amount>",
    );
    let out = parse_ok(&parser(), QUARTERS, &bytes);
    assert!(out.rejects.is_empty());
    assert_eq!(price_at(&out, "2026-05-01T11:30:00Z"), p("-500.01"));
}

#[test]
fn de_lu_fall_back_day_has_100_distinct_quarter_hours() {
    let out = parse_ok(&parser(), QUARTERS_FALL, &fixture(QUARTERS_FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 100);
    let intervals: BTreeSet<_> = prices
        .iter()
        .map(|price| price.interval.resolve().unwrap())
        .collect();
    assert_eq!(intervals.len(), 100);
    assert_eq!(
        intervals.first().unwrap().start,
        utc("2025-10-25T22:00:00Z")
    );
    assert_eq!(intervals.last().unwrap().end, utc("2025-10-26T23:00:00Z"));
    // 02:00-03:00 local happens twice: 00:00-01:00Z (CEST) and 01:00-02:00Z (CET).
    assert_eq!(price_at(&out, "2025-10-26T00:00:00Z"), p("92.82"));
    assert_eq!(price_at(&out, "2025-10-26T01:00:00Z"), p("90.22"));
    // Omitted positions repeat the previous value: 10 repeats 9, 51-52 repeat 50, and the
    // last position (100) repeats 99 up to the period end.
    assert_eq!(price_at(&out, "2025-10-26T00:15:00Z"), p("92.82"));
    assert_eq!(price_at(&out, "2025-10-26T10:30:00Z"), p("46.45"));
    assert_eq!(price_at(&out, "2025-10-26T10:45:00Z"), p("46.45"));
    assert_eq!(price_at(&out, "2025-10-26T22:45:00Z"), p("91.33"));
}

#[test]
fn a_malformed_quarter_hour_is_rejected_at_its_line_and_not_filled() {
    let bytes = replace_once(
        &fixture(QUARTERS),
        "<price.amount>-500</price.amount>",
        "<price.amount>-500 EUR</price.amount>",
    );
    let out = parse_ok(&parser(), QUARTERS, &bytes);
    assert_eq!(
        out.observations.len(),
        92,
        "53 and the positions repeating it"
    );
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 240, &["price.amount"]);
    assert!(
        out.rejects[0].raw.contains("-500 EUR"),
        "{:?}",
        out.rejects[0]
    );

    let bytes = replace_once(
        &fixture(QUARTERS),
        "<position>96</position>",
        "<position>97</position>",
    );
    let out = parse_ok(&parser(), QUARTERS, &bytes);
    assert_reject(&out.rejects[0], 400, &["1..=96", "97"]);
}

#[test]
fn exaa_sequence_2_is_rejected_and_sdac_sequence_1_kept() {
    let sequence = "classificationSequence_AttributeInstanceComponent.position";
    let bytes = replace_once(
        &fixture(QUARTERS),
        &format!(">1</{sequence}>"),
        &format!(">2</{sequence}>"),
    );
    let out = parse_ok(&parser(), QUARTERS, &bytes);
    assert!(out.observations.is_empty());
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 15, &["sequence 2", "EXAA", "DE-LU"]);

    // Both auctions in one answer, as ENTSO-E serves DE-LU and AT: only sequence 1 is read.
    let text = String::from_utf8(fixture(QUARTERS)).unwrap();
    let start = text.find("      <TimeSeries>").unwrap();
    let end = text.find("  </Publication_MarketDocument>").unwrap();
    let exaa = text[start..end]
        .replace(&format!(">1</{sequence}>"), &format!(">2</{sequence}>"))
        .replace("<price.amount>-500<", "<price.amount>-12.5<");
    let both = format!("{}{exaa}{}", &text[..end], &text[end..]);
    let out = parse_ok(&parser(), QUARTERS, both.as_bytes());
    assert_eq!(out.observations.len(), 96);
    assert_eq!(out.rejects.len(), 1);
    assert_eq!(price_at(&out, "2026-05-01T11:00:00Z"), p("-500"));
}

#[test]
fn renamed_element_is_one_header_error() {
    let bytes = replace_once(
        &fixture(AT),
        "<price.amount>101.50</price.amount>",
        "<priceAmount>101.50</priceAmount>",
    );
    let error = parse(&parser(), AT, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert!(expected.contains("price.amount"), "{expected}");
    assert_eq!(missing, &["price.amount".to_string()]);
    assert!(found.contains("Point{position, priceAmount}"), "{found}");
    assert!(error.to_string().contains("entsoe_a44"), "{error}");

    let text = String::from_utf8(fixture(BE))
        .unwrap()
        .replace("currency_Unit.name", "currency_Unit");
    let error = parse(&parser(), BE, text.as_bytes()).unwrap_err();
    let FileErrorKind::Header { found, missing, .. } = &error.kind else {
        panic!("{error:?}");
    };
    assert_eq!(missing, &["currency_Unit.name".to_string()]);
    assert!(found.contains("currency_Unit,"), "{found}");

    let text = String::from_utf8(fixture(NL))
        .unwrap()
        .replace("<resolution>", "<res>")
        .replace("</resolution>", "</res>");
    let error = parse(&parser(), NL, text.as_bytes()).unwrap_err();
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["resolution".to_string()]),
        "{error:?}"
    );
}
