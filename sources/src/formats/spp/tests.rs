use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, utc,
};
use gridflow_engine::record::Price;

const RTBM: &str = "spp/RTBM-LMP-SL-202503310840.csv";
const DA: &str = "spp/DA-LMP-SL-202503190100.csv";

fn parser() -> SppLmp {
    SppLmp::new(None).unwrap()
}

#[test]
fn rtbm_row_is_pinned_field_by_field() {
    // Line 2: 03/31/2025 08:40:00,03/31/2025 13:40:00,AEC,SOUC,35.6875,-6.9891,-247.3823,290.0589
    let out = parse_ok(&parser(), RTBM, &fixture(RTBM));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 1234);
    let first = prices[0];
    assert_eq!(first.market, Market::Spp);
    assert_eq!(first.product, Product::RealTime5Min);
    assert_eq!(&*first.location, "AEC");
    assert_eq!(first.location_type, LocationType::Node);
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2025-03-31T13:35:00Z"),
            end: utc("2025-03-31T13:40:00Z"),
        }
    );
    assert_eq!(first.price.micros(), 35_687_500);
    assert_eq!(first.components.energy, Some(p("290.0589")));
    assert_eq!(first.components.congestion, Some(p("-247.3823")));
    assert_eq!(first.components.loss, Some(p("-6.9891")));
    assert_eq!(first.currency, Currency::USD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(first.origin.line, 2);
    assert_eq!(&*first.origin.file, RTBM);
    assert_eq!(first.published_at, None);
    // LMP = MEC + MCC + MLC, and the negative congestion is kept as published.
    let sum = [
        first.components.energy,
        first.components.congestion,
        first.components.loss,
    ]
    .into_iter()
    .flatten()
    .fold(Price::ZERO, |a, b| a.checked_add(b).unwrap());
    assert_eq!(sum, first.price);
}

#[test]
fn hubs_are_recognized_by_name() {
    let out = parse_ok(&parser(), RTBM, &fixture(RTBM));
    let hub = prices(&out)
        .into_iter()
        .find(|price| &*price.location == "GRDA_HUB")
        .unwrap();
    assert_eq!(hub.location_type, LocationType::Hub);
    assert_eq!(hub.origin.line, 231);
    assert_eq!(hub.price, p("33.1183"));
    let hubs = prices(&out)
        .iter()
        .filter(|price| price.location_type == LocationType::Hub)
        .count();
    assert_eq!(hubs, 35);
}

#[test]
fn day_ahead_file_is_hourly_and_interns_locations() {
    let out = parse_ok(&parser(), DA, &fixture(DA));
    assert!(out.rejects.is_empty());
    let prices = prices(&out);
    assert_eq!(prices.len(), 29_616);
    let first = prices[0];
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(&*first.location, "AEC");
    assert_eq!(first.price, p("9.6667"));
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2025-03-19T05:00:00Z"),
            end: utc("2025-03-19T06:00:00Z"),
        }
    );
    let aec: Vec<_> = prices
        .iter()
        .filter(|price| &*price.location == "AEC")
        .collect();
    assert_eq!(aec.len(), 24);
    assert!(
        aec.iter()
            .all(|price| Arc::ptr_eq(&price.location, &first.location))
    );
}

#[test]
fn product_override_changes_the_interval_length() {
    let parser = SppLmp::new(Some(Product::RealTime15Min)).unwrap();
    let out = parse_ok(&parser, "spp/other-name.csv", &fixture(RTBM));
    let first = prices(&out)[0];
    assert_eq!(first.product, Product::RealTime15Min);
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2025-03-31T13:25:00Z"),
            end: utc("2025-03-31T13:40:00Z"),
        }
    );
    assert!(SppLmp::new(Some(Product::Daily)).is_err());
}

#[test]
fn unknown_file_name_asks_for_a_product() {
    let error = parse(&parser(), "prices.csv", &fixture(RTBM)).unwrap_err();
    assert!(error.to_string().contains("RTBM-LMP-SL-"), "{error}");
    assert!(error.to_string().contains("`product`"), "{error}");
}

#[test]
fn empty_file_is_one_file_error() {
    let error = parse(
        &parser(),
        "spp/RTBM-LMP-SL-202503310845.csv",
        &fixture("spp/RTBM-LMP-SL-202503310845.csv"),
    )
    .unwrap_err();
    assert_eq!(error.kind, FileErrorKind::Empty);
    assert_eq!(error.reason(), "empty file");
    assert!(parse(&parser(), RTBM, b"\n \r\n").is_err());
}

#[test]
fn renamed_header_names_expected_and_found() {
    let bytes = replace_once(&fixture(RTBM), "Pnode,LMP,", "Pnode,Price,");
    let error = parse(&parser(), RTBM, &bytes).unwrap_err();
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
        "Interval,GMTIntervalEnd,Settlement Location,Pnode,Price,MLC,MCC,MEC"
    );
    assert_eq!(missing, &["LMP".to_string()]);
    let message = error.to_string();
    assert!(
        message.contains("spp_lmp") && message.contains(RTBM),
        "{message}"
    );
    assert_eq!(error.raw(), found);
}

#[test]
fn non_numeric_price_rejects_only_its_row() {
    let bytes = replace_once(&fixture(RTBM), "38.8023", "n/a");
    let out = parse_ok(&parser(), RTBM, &bytes);
    assert_eq!(out.observations.len(), 1233);
    assert_eq!(out.rejects.len(), 1);
    let reject = &out.rejects[0];
    assert_reject(reject, 3, &["LMP", "n/a", "not a decimal"]);
    assert!(
        reject
            .raw
            .starts_with("03/31/2025 08:40:00,03/31/2025 13:40:00,AECC_CSWS")
    );
    assert_eq!(&*reject.origin.file, RTBM);
}

#[test]
fn truncated_file_rejects_the_cut_row() {
    let bytes = fixture(RTBM);
    let second_row_end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(2)
        .unwrap()
        .0;
    // Cut in the middle of the third data row.
    let cut = &bytes[..second_row_end + 60];
    let out = parse_ok(&parser(), RTBM, cut);
    assert_eq!(out.observations.len(), 2);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 4, &["expected 8 fields, found 4"]);
}

#[test]
fn wrong_field_count_and_bad_time_are_rejected() {
    let bytes = replace_once(&fixture(RTBM), "290.0589\n", "290.0589,extra\n");
    let out = parse_ok(&parser(), RTBM, &bytes);
    assert_reject(&out.rejects[0], 2, &["expected 8 fields, found 9"]);
    let bytes = replace_once(
        &fixture(RTBM),
        "03/31/2025 13:40:00,AEC,",
        "2025-03-31 13:40,AEC,",
    );
    let out = parse_ok(&parser(), RTBM, &bytes);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 2, &["GMTIntervalEnd", "MM/DD/YYYY"]);
}

#[test]
fn crlf_blank_lines_and_a_byte_order_mark_keep_lines_and_raw_text_exact() {
    // The csv crate counts one line short after a blank line in CRLF files, and its byte
    // offsets start after a byte-order mark: lines and raw text must still be the file's.
    let text = String::from_utf8(replace_once(&fixture(RTBM), "38.8023", "n/a")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(lines.join("\r\n").as_bytes());
    let out = parse_ok(&parser(), RTBM, &bytes);
    assert_eq!(out.observations.len(), 1233);
    assert_eq!(out.rejects.len(), 1);
    // Header (1), AEC (2), blank (3), AECC_CSWS (4).
    assert_reject(&out.rejects[0], 4, &["LMP", "n/a"]);
    assert!(
        out.rejects[0]
            .raw
            .starts_with("03/31/2025 08:40:00,03/31/2025 13:40:00,AECC_CSWS"),
        "{}",
        out.rejects[0].raw
    );
}

const DA_FALL: &str = "spp/dst/DA-LMP-SL-202411030100.csv";

#[test]
fn day_ahead_fall_back_day_has_25_distinct_hours() {
    // The local `Interval` column writes `11/03/2024 01:00:00` twice (01:00 CDT and
    // 01:00 CST); `GMTIntervalEnd` is UTC and needs no DST rule.
    let out = parse_ok(&parser(), DA_FALL, &fixture(DA_FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 25 * 5);
    for location in [
        "AEC",
        "CANADIAN_HILLS_1",
        "KCPL_KCPL",
        "SPPNORTH_HUB",
        "SPPSOUTH_HUB",
    ] {
        let intervals: Vec<_> = prices
            .iter()
            .filter(|price| &*price.location == location)
            .map(|price| price.interval.resolve().unwrap())
            .collect();
        assert_eq!(intervals.len(), 25, "{location}");
        assert_eq!(intervals[0].start, utc("2024-11-03T05:00:00Z"), "00:00 CDT");
        assert_eq!(intervals[24].end, utc("2024-11-04T06:00:00Z"), "24:00 CST");
        for pair in intervals.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "{location}");
            assert_eq!(pair[1].end.duration_since(pair[1].start).as_hours(), 1);
        }
    }
    let at = |line| {
        prices
            .iter()
            .find(|price| price.origin.line == line)
            .unwrap()
    };
    // Line 5: 11/03/2024 01:00:00,11/03/2024 06:00:00,SPPNORTH_HUB,SPPNORTH_H,15.6559,...
    // Line 10: 11/03/2024 01:00:00,11/03/2024 07:00:00,SPPNORTH_HUB,SPPNORTH_H,12.7900,...
    let (cdt, cst) = (at(5), at(10));
    assert_eq!(
        (&*cdt.location, &*cst.location),
        ("SPPNORTH_HUB", "SPPNORTH_HUB")
    );
    assert_eq!(cdt.location_type, LocationType::Hub);
    assert_eq!(cdt.product, Product::DayAheadHourly);
    assert_eq!(cdt.price, p("15.6559"));
    assert_eq!(cst.price, p("12.79"));
    assert_eq!(
        cdt.interval,
        NativeInterval::Utc {
            start: utc("2024-11-03T05:00:00Z"),
            end: utc("2024-11-03T06:00:00Z"),
        }
    );
    assert_eq!(
        cst.interval,
        NativeInterval::Utc {
            start: utc("2024-11-03T06:00:00Z"),
            end: utc("2024-11-03T07:00:00Z"),
        }
    );
    assert_eq!(cst.components.energy, Some(p("15.7721")));
    assert_eq!(cst.components.congestion, Some(p("-2.6817")));
    assert_eq!(cst.components.loss, Some(p("-0.3004")));
    // Line 123: the wind node's last hour, negative with heavy congestion.
    let wind = at(123);
    assert_eq!(&*wind.location, "CANADIAN_HILLS_1");
    assert_eq!(wind.location_type, LocationType::Node);
    assert_eq!(wind.price, p("-15.7528"));
    assert_eq!(wind.components.congestion, Some(p("-32.2244")));
}
