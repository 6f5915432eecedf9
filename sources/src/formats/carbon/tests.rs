use std::io::{Read, Write};

use super::eex::{self, EexEuaAuction};
use super::investing::{self, InvestingEuaCsv};
use super::*;
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::UtcInterval;
use jiff::civil::date;

const INVESTING: &str = "carbon/Carbon_Emissions_Futures_Historical_Data.csv";
const EEX: &str = "carbon/eex_primary_market_auction_2025-02_sample.xlsx";

fn day_of(price: &PublishedPrice) -> Date {
    match price.interval {
        NativeInterval::Day { date, .. } => date,
        _ => panic!("not a day: {price:?}"),
    }
}

fn berlin_day(day: Date) -> NativeInterval {
    NativeInterval::Day {
        date: day,
        clock: MarketClock::zone(CLOCK),
    }
}

#[test]
fn investing_spot_values_and_rows() {
    let out = parse_ok(&InvestingEuaCsv, INVESTING, &fixture(INVESTING));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects.first());
    let prices = prices(&out);
    assert_eq!(prices.len(), 1053);
    let first = prices[0];
    assert_eq!(first.market, Market::Carbon);
    assert_eq!(first.product, Product::Daily);
    assert_eq!(&*first.location, investing::LOCATION);
    assert_eq!(first.location_type, LocationType::Region);
    assert_eq!(first.currency, Currency::EUR);
    assert_eq!(first.unit, Unit::TonneCo2);
    assert_eq!(first.interval, berlin_day(date(2025, 2, 27)));
    assert_eq!(first.price, p("70.33"));
    assert_eq!(first.origin.line, 2);
    // Central European time: the day starts at 23:00 UTC the evening before.
    assert_eq!(
        first.interval.resolve().unwrap(),
        UtcInterval {
            start: utc("2025-02-26T23:00:00Z"),
            end: utc("2025-02-27T23:00:00Z"),
        }
    );
    let december = prices
        .iter()
        .find(|price| day_of(price) == date(2021, 12, 2))
        .unwrap();
    assert_eq!(december.price, p("80.25"));
    assert_eq!(december.origin.line, 834);
    // An empty volume does not matter; summer time starts at 22:00 UTC.
    let empty_volume = prices
        .iter()
        .find(|price| day_of(price) == date(2024, 9, 16))
        .unwrap();
    assert_eq!(empty_volume.price, p("63.21"));
    assert_eq!(start_of(empty_volume), utc("2024-09-15T22:00:00Z"));
    let last = *prices.last().unwrap();
    assert_eq!(last.interval, berlin_day(date(2021, 1, 27)));
    assert_eq!(last.price, p("33.51"));
    assert_eq!(last.origin.line, 1054);
    for price in &prices {
        price.interval.resolve().unwrap();
    }
}

#[test]
fn carbon_days_across_daylight_saving_changes() {
    let bytes = "\u{feff}\"Date\",\"Price\",\"Open\",\"High\",\"Low\",\"Vol.\",\"Change %\"\n\
        \"03/30/2025\",\"1,234.50\",\"1\",\"1\",\"1\",\"\",\"0.00%\"\n\
        \"10/26/2025\",\"60.00\",\"1\",\"1\",\"1\",\"\",\"0.00%\"";
    let out = parse_ok(&InvestingEuaCsv, "dst.csv", bytes.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(
        prices[0].price,
        p("1234.5"),
        "thousands separators are dropped"
    );
    let spring = prices[0].interval.resolve().unwrap();
    assert_eq!(spring.start, utc("2025-03-29T23:00:00Z"));
    assert_eq!(spring.end.duration_since(spring.start).as_hours(), 23);
    let fall = prices[1].interval.resolve().unwrap();
    assert_eq!(fall.start, utc("2025-10-25T22:00:00Z"));
    assert_eq!(fall.end.duration_since(fall.start).as_hours(), 25);
}

#[test]
fn investing_header_and_row_problems() {
    let bytes = replace_once(&fixture(INVESTING), "\"Price\"", "\"Close\"");
    let error = parse(&InvestingEuaCsv, INVESTING, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, investing::HEADER);
    assert_eq!(found, "Date,Close,Open,High,Low,Vol.,Change %");
    assert_eq!(missing, &["Price".to_string()]);

    let bytes = replace_once(
        &fixture(INVESTING),
        "\"02/26/2025\",\"69.56\"",
        "\"02/26/2025\",\"-\"",
    );
    let bytes = replace_once(&bytes, "\"02/25/2025\"", "\"2025-02-25\"");
    let bytes = replace_once(&bytes, "\"02/24/2025\",\"72.14\",", "\"02/24/2025\",");
    let out = parse_ok(&InvestingEuaCsv, INVESTING, &bytes);
    assert_eq!(out.rejects.len(), 3, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 3, &["Price", "-"]);
    assert!(
        out.rejects[0].raw.starts_with("\"02/26/2025\""),
        "{:?}",
        out.rejects[0]
    );
    assert_reject(&out.rejects[1], 4, &["Date", "2025-02-25", "MM/DD/YYYY"]);
    assert_reject(&out.rejects[2], 5, &["expected 7 fields, found 6"]);
    assert_eq!(prices(&out).len(), 1050);
    assert_eq!(
        parse(&InvestingEuaCsv, INVESTING, b"\xEF\xBB\xBF")
            .unwrap_err()
            .reason(),
        "empty file"
    );
    assert!(InvestingEuaCsv::new(Some(Product::DayAheadHourly)).is_err());
}

#[test]
fn eex_auctions_by_instrument_and_zone() {
    let out = parse_ok(&EexEuaAuction, EEX, &fixture(EEX));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    let summary: Vec<(&str, Date, Price, u64)> = prices
        .iter()
        .map(|price| {
            (
                &*price.location,
                day_of(price),
                price.price,
                price.origin.line,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("EUA_AUCTION_EU", date(2025, 2, 24), p("71.2"), 7),
            // Written 69.450000000000003 in the workbook.
            ("EUA_AUCTION_EU", date(2025, 2, 25), p("69.45"), 8),
            ("EUA_AUCTION_PL", date(2025, 2, 26), p("68.85"), 9),
            ("EUAA_AUCTION_EU", date(2025, 2, 26), p("68.7"), 10),
            ("EUA_AUCTION_EU", date(2025, 2, 27), p("69.6"), 11),
            ("EUA_AUCTION_DE", date(2025, 2, 28), p("69.05"), 12),
        ]
    );
    let first = prices[0];
    assert_eq!(first.market, Market::Carbon);
    assert_eq!(first.product, Product::Daily);
    assert_eq!(first.location_type, LocationType::Region);
    assert_eq!(
        (first.currency, first.unit),
        (Currency::EUR, Unit::TonneCo2)
    );
    assert_eq!(first.interval, berlin_day(date(2025, 2, 24)));
    assert_eq!(start_of(first), utc("2025-02-23T23:00:00Z"));
}

/// The fixture workbook with one part's XML edited.
fn edited_workbook(part: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
    let bytes = fixture(EEX);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        let name = file.name().unwrap().to_string();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        if name == part {
            let edited = edit(text.clone());
            assert_ne!(edited, text, "the edit changed nothing in {part}");
            text = edited;
        }
        writer.start_file(name, options).unwrap();
        writer.write_all(text.as_bytes()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Replaces the whole `<c r="{reference}" ...>...</c>` element.
fn set_cell(xml: String, reference: &str, cell: &str) -> String {
    let start = xml.find(&format!("<c r=\"{reference}\"")).unwrap();
    let end = start + xml[start..].find("</c>").unwrap() + "</c>".len();
    format!("{}{cell}{}", &xml[..start], &xml[end..])
}

#[test]
fn eex_cancelled_auctions_are_skipped_and_bad_rows_rejected() {
    let bytes = edited_workbook("xl/worksheets/sheet1.xml", |xml| {
        let xml = set_cell(
            xml,
            "F9",
            r#"<c r="F9" t="inlineStr"><is><t>cancelled</t></is></c>"#,
        );
        let xml = set_cell(xml, "G9", r#"<c r="G9"></c>"#);
        let xml = set_cell(xml, "G8", r#"<c r="G8"><v>abc</v></c>"#);
        let xml = set_cell(
            xml,
            "B10",
            r#"<c r="B10" t="inlineStr"><is><t>soon</t></is></c>"#,
        );
        let xml = set_cell(xml, "Z11", r#"<c r="Z11"><v></v></c>"#);
        set_cell(xml, "G12", r#"<c r="G12"></c>"#)
    });
    let out = parse_ok(&EexEuaAuction, EEX, &bytes);
    assert_eq!(out.rejects.len(), 4, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 8, &["Auction Price", "abc"]);
    assert!(
        out.rejects[0].raw.contains("Auction CAP3 EU"),
        "{:?}",
        out.rejects[0]
    );
    assert_reject(&out.rejects[1], 10, &["`Date` `soon`"]);
    assert_reject(&out.rejects[2], 11, &["empty `Zone`"]);
    assert_reject(&out.rejects[3], 12, &["no `Auction Price"]);
    let prices = prices(&out);
    assert_eq!(prices.len(), 1, "row 9 (cancelled) gives nothing");
    assert_eq!(prices[0].origin.line, 7);
}

#[test]
fn eex_header_problems_name_expected_and_found() {
    let bytes = edited_workbook("xl/sharedStrings.xml", |xml| {
        xml.replacen("Auction Price €/tCO2", "Clearing Price", 1)
    });
    let error = parse(&EexEuaAuction, EEX, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, eex::HEADER);
    assert!(
        found.starts_with("Date,Time,Auction Name,Contract,Status,Clearing Price,"),
        "{found}"
    );
    assert!(
        found.contains("Austria (AT)"),
        "line breaks are spaces: {found}"
    );
    assert_eq!(missing, &["Auction Price €/tCO2".to_string()]);
    // Older reports: `EUR/tCO2` and `Country`.
    let bytes = edited_workbook("xl/sharedStrings.xml", |xml| {
        xml.replacen("Auction Price €/tCO2", "Auction Price EUR/tCO2", 1)
            .replacen("<t>Zone</t>", "<t>Country</t>", 1)
    });
    assert_eq!(prices(&parse_ok(&EexEuaAuction, EEX, &bytes)).len(), 6);
    let bytes = edited_workbook("xl/sharedStrings.xml", |xml| {
        xml.replacen("<t>Date</t>", "<t>Day</t>", 1)
    });
    let error = parse(&EexEuaAuction, EEX, &bytes).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Header { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("Day,Time,Auction Name"),
        "{error}"
    );
}

#[test]
fn eex_whole_file_problems() {
    let error = parse(&EexEuaAuction, EEX, &fixture(INVESTING)).unwrap_err();
    assert!(
        error.to_string().contains("not an XLSX workbook"),
        "{error}"
    );
    let truncated = &fixture(EEX)[..2000];
    assert!(parse(&EexEuaAuction, EEX, truncated).is_err());
    assert_eq!(
        parse(&EexEuaAuction, EEX, b"").unwrap_err().reason(),
        "empty file"
    );
    let bytes = edited_workbook("xl/worksheets/sheet1.xml", |xml| {
        xml.replacen("</sheetData>", "", 1)
            .replacen("</worksheet>", "", 1)
    });
    let error = parse(&EexEuaAuction, EEX, &bytes).unwrap_err();
    assert!(error.to_string().contains("sheet1.xml"), "{error}");
    assert!(EexEuaAuction::new(Some(Product::Daily)).is_ok());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

    /// Zip checksums catch byte flips in the archive, so the worksheet XML is mutated
    /// inside a valid archive instead.
    #[test]
    fn mutated_worksheets_never_panic(
        edits in proptest::collection::vec((0usize..100_000, "[<>/=\"a-z0-9 .]{0,6}", 0usize..12), 1..6)
    ) {
        for part in ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"] {
            let bytes = edited_workbook(part, |xml| {
                let mut xml = xml.into_bytes();
                for (at, insert, remove) in &edits {
                    let at = at % xml.len().max(1);
                    let end = (at + remove).min(xml.len());
                    xml.splice(at..end, insert.bytes());
                }
                let mut text = String::from_utf8_lossy(&xml).into_owned();
                text.push(' ');
                text
            });
            if let Ok(out) = parse(&EexEuaAuction, EEX, &bytes) {
                for reject in &out.rejects {
                    proptest::prop_assert!(reject.origin.line > 0, "{:?}", reject);
                }
            }
        }
    }
}
