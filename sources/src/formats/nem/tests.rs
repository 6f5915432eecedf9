use std::io::Write;

use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};

const CAP: &str = "nem/PUBLIC_DISPATCHIS_202501211805_0000000449135472.zip";
const NOT_FIRM: &str = "nem/PUBLIC_DISPATCHIS_202501211810_0000000449135601.zip";
const FLOOR: &str = "nem/PUBLIC_DISPATCHIS_202510121230_0000000475309120.CSV";
const DEMAND: &str = "nem/PUBLIC_FORECAST_OPERATIONAL_DEMAND_HH_202504011800_20250401173353.zip";

fn parser() -> NemMms {
    NemMms::new(None).unwrap()
}

fn find<'a>(prices: &[&'a PublishedPrice], region: &str, product: Product) -> &'a PublishedPrice {
    let found: Vec<_> = prices
        .iter()
        .filter(|price| &*price.location == region && price.product == product)
        .collect();
    assert_eq!(found.len(), 1, "{region} {product}");
    found[0]
}

/// `members` written into one deflated zip archive, as AEMO publishes them.
fn zipped(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in members {
        writer.start_file(*name, options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn dispatchis_zip_at_the_price_cap_is_pinned_by_hand() {
    let out = parse_ok(&parser(), CAP, &fixture(CAP));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    // Five regions, each with RRP and ten FCAS prices (pricing run only).
    assert_eq!(prices.len(), 5 * 11);

    // Line 10: SA1 at the FY2024-25 market price cap, `17500`.
    let sa = find(&prices, "SA1", Product::RealTime5Min);
    assert_eq!(sa.price, p("17500"));
    assert_eq!(sa.market, Market::Nem);
    assert_eq!(sa.location_type, LocationType::Region);
    assert_eq!(sa.currency, Currency::AUD);
    assert_eq!(sa.unit, Unit::MegawattHour);
    assert_eq!(sa.origin.line, 10);
    assert_eq!(&*sa.origin.file, CAP);
    assert_eq!(sa.revision, Some(1));
    assert_eq!(sa.published_at, Some(utc("2025-01-21T08:00:08Z")));
    assert_eq!(
        sa.interval,
        NativeInterval::Local {
            time: jiff::civil::date(2025, 1, 21).at(18, 5, 0, 0),
            anchor: Anchor::End,
            minutes: 5,
            clock: MarketClock::FixedOffsetMinutes(600),
            occurrence: Occurrence::Unstated,
        }
    );
    // SETTLEMENTDATE 18:05 AEST ends the interval 08:00Z-08:05Z.
    let resolved = sa.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2025-01-21T08:00:00Z"));
    assert_eq!(resolved.end, utc("2025-01-21T08:05:00Z"));

    // Every FCAS price of SA1, one product each.
    for (product, price) in [
        (Product::FcasRaise6Sec, "1389.94"),
        (Product::FcasRaise60Sec, "245.01"),
        (Product::FcasRaise5Min, "36.5"),
        (Product::FcasRaiseReg, "1489.28"),
        (Product::FcasLower6Sec, "0.02"),
        (Product::FcasLower60Sec, "0.03"),
        (Product::FcasLower5Min, "0.05"),
        (Product::FcasLowerReg, "9.4"),
        (Product::FcasRaise1Sec, "312.16"),
        (Product::FcasLower1Sec, "0.01"),
    ] {
        let fcas = find(&prices, "SA1", product);
        assert_eq!(fcas.price, p(price), "{product}");
        assert_eq!(start_of(fcas), utc("2025-01-21T08:00:00Z"));
        assert_eq!(fcas.origin.line, 10);
    }
    assert_eq!(
        find(&prices, "VIC1", Product::RealTime5Min).price,
        p("2450.12")
    );
    assert_eq!(
        find(&prices, "NSW1", Product::RealTime5Min).price,
        p("312.54")
    );
    assert_eq!(
        find(&prices, "QLD1", Product::RealTime5Min).price,
        p("298.77")
    );
    assert_eq!(
        find(&prices, "TAS1", Product::RealTime5Min).price,
        p("210.05")
    );
    assert_eq!(
        find(&prices, "TAS1", Product::FcasRaiseReg).price,
        p("14.98")
    );
}

#[test]
fn intervention_run_rows_are_skipped_not_rejected() {
    // Lines 7, 9, 11, 13 and 15 are the INTERVENTION = 1 (physical) run.
    let out = parse_ok(&parser(), CAP, &fixture(CAP));
    assert!(out.rejects.is_empty());
    let prices = prices(&out);
    assert!(
        prices
            .iter()
            .all(|price| [6, 8, 10, 12, 14].contains(&price.origin.line))
    );
    assert!(!prices.iter().any(|price| price.price == p("15211.87")));
}

#[test]
fn not_firm_prices_are_revision_zero() {
    let out = parse_ok(&parser(), NOT_FIRM, &fixture(NOT_FIRM));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 55);
    assert!(prices.iter().all(|price| price.revision == Some(0)));
    let sa = find(&prices, "SA1", Product::RealTime5Min);
    assert_eq!(sa.price, p("17500"));
    assert_eq!(start_of(sa), utc("2025-01-21T08:05:00Z"));
    assert_eq!(sa.published_at, Some(utc("2025-01-21T08:05:09Z")));
}

#[test]
fn plain_csv_with_prices_at_and_near_the_floor() {
    let out = parse_ok(&parser(), FLOOR, &fixture(FLOOR));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 55);
    let sa = find(&prices, "SA1", Product::RealTime5Min);
    assert_eq!(sa.price, p("-1000"));
    assert_eq!(sa.origin.line, 7);
    let resolved = sa.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2025-10-12T02:25:00Z"));
    assert_eq!(resolved.end, utc("2025-10-12T02:30:00Z"));
    assert_eq!(
        find(&prices, "VIC1", Product::RealTime5Min).price,
        p("-987.62")
    );
    assert_eq!(
        find(&prices, "TAS1", Product::RealTime5Min).price,
        p("-0.01")
    );
    assert_eq!(
        find(&prices, "NSW1", Product::FcasLowerReg).price,
        p("21.3")
    );
    assert_eq!(
        find(&prices, "TAS1", Product::FcasLower1Sec).price,
        p("0.15")
    );
    let mut regions: Vec<_> = prices.iter().map(|price| &*price.location).collect();
    regions.dedup();
    assert_eq!(regions, ["NSW1", "QLD1", "SA1", "TAS1", "VIC1"]);
}

#[test]
fn zipped_nested_and_plain_files_parse_the_same() {
    let plain = fixture(FLOOR);
    let member = "PUBLIC_DISPATCHIS_202510121230_0000000475309120.CSV";
    let expected = parse_ok(&parser(), "x.zip", &plain);
    let zip = zipped(&[(member, &plain)]);
    assert_eq!(
        parse_ok(&parser(), "x.zip", &zip).observations,
        expected.observations
    );

    // NEMWEB's archive: a zip of zips. Each member names its own origin.
    let second = fixture(CAP);
    let archive = zipped(&[("a.zip", &zip), ("b.zip", &second)]);
    let out = parse_ok(&parser(), "day.zip", &archive);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 110);
    assert_eq!(&*prices[0].origin.file, format!("day.zip!a.zip!{member}"));
    assert_eq!(
        &*prices[55].origin.file,
        "day.zip!b.zip!PUBLIC_DISPATCHIS_202501211805_0000000449135472.CSV"
    );
}

#[test]
fn the_real_demand_report_parses_to_no_prices() {
    // A real MMS container (OPERATIONAL_DEMAND,FORECAST,1): every row is another table.
    let out = parse_ok(&parser(), DEMAND, &fixture(DEMAND));
    assert!(out.observations.is_empty());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
}

#[test]
fn corrupt_zip_is_a_file_error() {
    let bytes = fixture(CAP);
    let error = parse(&parser(), CAP, &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    assert!(error.to_string().contains("corrupt zip archive"), "{error}");
    // A damaged deflate stream inside a well-formed directory.
    let mut damaged = bytes.clone();
    for byte in &mut damaged[120..400] {
        *byte ^= 0x5A;
    }
    assert!(parse(&parser(), CAP, &damaged).is_err());
    let error = parse(&parser(), CAP, &zipped(&[])).unwrap_err();
    assert!(error.to_string().contains("holds no files"), "{error}");
}

#[test]
fn renamed_price_column_names_expected_and_found() {
    let bytes = replace_once(&fixture(FLOOR), "INTERVENTION,RRP,", "INTERVENTION,PRICE,");
    let error = parse(&parser(), FLOOR, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, DISPATCHPRICE_HEADER);
    assert!(
        found.starts_with("I,DISPATCH,PRICE,5,SETTLEMENTDATE,RUNNO,REGIONID,DISPATCHINTERVAL,INTERVENTION,PRICE,EEP"),
        "{found}"
    );
    assert_eq!(missing, &["RRP".to_string()]);
    assert!(error.to_string().contains("nem_mms"), "{error}");

    let bytes = replace_once(&fixture(FLOOR), "LOWERREGRRP,", "LOWERREG_RRP,");
    let error = parse(&parser(), FLOOR, &bytes).unwrap_err();
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["LOWERREGRRP".to_string()]),
        "{error:?}"
    );
}

/// The fixture without the columns named in `drop` (as files before October 2023 were).
fn without_columns(bytes: &[u8], drop: impl Fn(&str) -> bool) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let mut dropped = Vec::new();
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let fields: Vec<&str> = line.trim_end().split(',').collect();
        if line.starts_with("I,DISPATCH,PRICE,") {
            dropped = (0..fields.len()).filter(|&i| drop(fields[i])).collect();
        }
        if line.starts_with("I,DISPATCH,PRICE,") || line.starts_with("D,DISPATCH,PRICE,") {
            let kept: Vec<&str> = fields
                .iter()
                .enumerate()
                .filter(|(i, _)| !dropped.contains(i))
                .map(|(_, field)| *field)
                .collect();
            out.push_str(&kept.join(","));
            out.push_str("\r\n");
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

#[test]
fn one_second_fcas_columns_are_optional() {
    let older = without_columns(&fixture(FLOOR), |column| {
        column.contains("1SEC") || column.contains("_RAISE1_") || column.contains("_LOWER1_")
    });
    assert!(!String::from_utf8_lossy(&older).contains("RAISE1SECRRP"));
    let out = parse_ok(&parser(), FLOOR, &older);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 5 * 9);
    assert!(!prices.iter().any(|price| matches!(
        price.product,
        Product::FcasRaise1Sec | Product::FcasLower1Sec
    )));
    // An empty FCAS field is "not published", not an error.
    let bytes = replace_once(
        &fixture(FLOOR),
        "SA1,20251012102,0,-1000,0,-1000,0,0,\"2025/10/12 12:25:07\",0.01,",
        "SA1,20251012102,0,-1000,0,-1000,0,0,\"2025/10/12 12:25:07\",,",
    );
    let out = parse_ok(&parser(), FLOOR, &bytes);
    assert!(out.rejects.is_empty());
    assert_eq!(out.observations.len(), 54);
}

#[test]
fn malformed_rows_are_rejected_with_line_and_reason() {
    let sa = "SA1,20251012102,0,-1000,";
    let cases: [(&str, &str, &[&str]); 5] = [
        (sa, "SA1,20251012102,0,n/a,", &["RRP", "n/a"]),
        (sa, "SA1,20251012102,2,-1000,", &["INTERVENTION", "`2`"]),
        (
            "\"2025/10/12 12:30:00\",1,SA1",
            "\"2025/10/12 12:32:00\",1,SA1",
            &["5-minute"],
        ),
        (
            "\"2025/10/12 12:30:00\",1,SA1",
            "\"12/10/2025 12:30\",1,SA1",
            &["SETTLEMENTDATE", "YYYY/MM/DD HH:MM:SS"],
        ),
        (
            sa,
            "SA1,20251012102,0,-1000,extra,",
            &["expected 70 fields, found 71"],
        ),
    ];
    for (from, to, fragments) in cases {
        let out = parse_ok(&parser(), FLOOR, &replace_once(&fixture(FLOOR), from, to));
        assert_eq!(out.observations.len(), 44, "{to}");
        assert_eq!(out.rejects.len(), 1, "{to}");
        assert_reject(&out.rejects[0], 7, fragments);
        assert!(out.rejects[0].raw.starts_with("D,DISPATCH,PRICE,5,"));
    }
    let out = parse_ok(
        &parser(),
        FLOOR,
        &replace_once(&fixture(FLOOR), ",FIRM,", ",MAYBE,"),
    );
    assert_reject(&out.rejects[0], 5, &["PRICE_STATUS", "MAYBE"]);
    // Rows that belong to no table, or have no known tag.
    let out = parse_ok(
        &parser(),
        FLOOR,
        &replace_once(
            &fixture(FLOOR),
            "D,DISPATCH,PRICE,5,\"2025/10/12 12:30:00\",1,SA1",
            "X,DISPATCH,PRICE,5,\"2025/10/12 12:30:00\",1,SA1",
        ),
    );
    assert_reject(&out.rejects[0], 7, &["unknown row tag `X`"]);
    let out = parse_ok(
        &parser(),
        FLOOR,
        &replace_once(
            &fixture(FLOOR),
            "D,DISPATCH,PRICE,5,\"2025/10/12 12:30:00\",1,SA1",
            "D,DISPATCH,REGIONSUM,9,\"2025/10/12 12:30:00\",1,SA1",
        ),
    );
    assert_reject(&out.rejects[0], 7, &["REGIONSUM", "PRICE"]);
}

#[test]
fn other_tables_are_ignored_and_a_d_row_needs_a_header() {
    let text = "C,NEMP.WORLD,DISPATCHIS,AEMO,PUBLIC,2025/10/12,12:25:12,1,DISPATCHIS,2\r\n\
        D,DISPATCH,REGIONSUM,9,\"2025/10/12 12:30:00\",1,SA1,20251012102,0,1760.17\r\n\
        I,DISPATCH,REGIONSUM,9,SETTLEMENTDATE,RUNNO,REGIONID,DISPATCHINTERVAL,INTERVENTION,TOTALDEMAND\r\n\
        D,DISPATCH,REGIONSUM,9,\"2025/10/12 12:30:00\",1,SA1,20251012102,0,1760.17\r\n\
        C,\"END OF REPORT\",5\r\n";
    let out = parse_ok(&parser(), "x.CSV", text.as_bytes());
    assert!(out.observations.is_empty());
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 2, &["before any `I` header"]);
}

#[test]
fn a_file_without_its_end_of_report_is_flagged_as_truncated() {
    let bytes = fixture(FLOOR);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let cut = text.find("C,\"END OF REPORT\"").unwrap();
    let out = parse_ok(&parser(), FLOOR, &bytes[..cut]);
    assert_eq!(out.observations.len(), 55);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 10, &["END OF REPORT", "truncated"]);

    let out = parse_ok(
        &parser(),
        FLOOR,
        &replace_once(&bytes, "\"END OF REPORT\",10", "\"END OF REPORT\",12"),
    );
    assert_eq!(out.observations.len(), 55);
    assert_reject(&out.rejects[0], 10, &["counts 12 lines", "line 10"]);

    let mut extra = bytes.clone();
    extra.extend_from_slice(b"D,DISPATCH,PRICE,5,late\r\n");
    let out = parse_ok(&parser(), FLOOR, &extra);
    assert_reject(&out.rejects[0], 11, &["after `C,\"END OF REPORT\"`"]);
}

#[test]
fn other_documents_and_options_are_refused() {
    let error = parse(&parser(), "x.json", br#"{"5MIN": []}"#).unwrap_err();
    assert!(
        error.to_string().contains("not an AEMO MMS file"),
        "{error}"
    );
    assert_eq!(
        parse(&parser(), "x.CSV", b" \r\n").unwrap_err().kind,
        FileErrorKind::Empty
    );
    assert!(NemMms::new(Some(Product::RealTime5Min)).is_ok());
    let error = NemMms::new(Some(Product::DayAheadHourly)).unwrap_err();
    assert!(error.to_string().contains("FCAS"), "{error}");
}
