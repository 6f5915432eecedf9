use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};

use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use crate::formats::{FORMAT_NAMES, FileErrorKind, Format, FormatOptions, format_by_name};
use gridflow_engine::record::{Anchor, TimeError};
use jiff::Timestamp;

const DAM_FALL: &str = "ercot/cdr.00012331.0000000000000000.20241102.123150.DAMSPNP4190.csv";
const DAM_SPRING_ZIP: &str =
    "ercot/cdr.00012331.0000000000000000.20240309.123145812.DAMSPNP4190_csv.zip";
const RT_FALL: &str = "ercot/rt_spp_2024-11-03_0000-0300_combined.csv";
const RT_CAP_ZIP: &str =
    "ercot/cdr.00012301.0000000000000000.20230906.194701385.SPPHLZNP6905_20230906_1945_csv.zip";
const SCED_FALL: &str = "ercot/sced_lmp_2024-11-03_0055-0200_combined.csv";
const ADDERS: &str = "ercot/rt_adders_2023-09-06_1925-1940_combined.csv";

fn dam() -> ErcotDamSpp {
    ErcotDamSpp::new(None).unwrap()
}

fn rt() -> ErcotRtSpp {
    ErcotRtSpp::new(None).unwrap()
}

fn sced() -> ErcotScedLmp {
    ErcotScedLmp::new(None).unwrap()
}

/// The price of `location` whose interval starts at `start` (UTC).
fn price_at(out: &SourceOutput, location: &str, start: &str) -> PublishedPrice {
    let start = utc(start);
    let found: Vec<_> = prices(out)
        .into_iter()
        .filter(|price| &*price.location == location && start_of(price) == start)
        .collect();
    assert_eq!(found.len(), 1, "{location} at {start}: {found:?}");
    found[0].clone()
}

/// Distinct UTC interval starts of one location; asserts every interval resolves.
fn starts_of(out: &SourceOutput, location: &str) -> Vec<Timestamp> {
    let starts: BTreeSet<_> = prices(out)
        .into_iter()
        .filter(|price| &*price.location == location)
        .map(start_of)
        .collect();
    starts.into_iter().collect()
}

fn occurrence_of(price: &PublishedPrice) -> Occurrence {
    match &price.interval {
        NativeInterval::HourEnding { occurrence, .. }
        | NativeInterval::Local { occurrence, .. } => *occurrence,
        other => panic!("{other:?}"),
    }
}

fn unzip(bytes: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut text = Vec::new();
    archive.by_index(0).unwrap().read_to_end(&mut text).unwrap();
    text
}

fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, bytes) in members {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn dam_fall_back_day_has_25_distinct_hours() {
    let out = parse_ok(&dam(), DAM_FALL, &fixture(DAM_FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let all = prices(&out);
    assert_eq!(all.len(), 25 * 9);
    let locations: BTreeSet<_> = all.iter().map(|price| price.location.clone()).collect();
    assert_eq!(locations.len(), 9);
    for location in &locations {
        let starts = starts_of(&out, location);
        assert_eq!(starts.len(), 25, "{location}");
        assert_eq!(starts[0], utc("2024-11-03T05:00:00Z"));
        // Hour ending 24:00 is 23:00-24:00 CST.
        assert_eq!(starts[24], utc("2024-11-04T05:00:00Z"));
    }

    // Hour ending 02:00 twice: 01:00 CDT, then (DSTFlag=Y) 01:00 CST an hour later.
    let first = price_at(&out, "HB_NORTH", "2024-11-03T06:00:00Z");
    let repeated = price_at(&out, "HB_NORTH", "2024-11-03T07:00:00Z");
    assert_eq!(first.price, p("18.04"));
    assert_eq!(repeated.price, p("17.44"));
    assert_eq!(first.origin.line, 16);
    assert_eq!(repeated.origin.line, 25);
    assert_eq!(occurrence_of(&first), Occurrence::First);
    assert_eq!(occurrence_of(&repeated), Occurrence::Repeated);
    assert_eq!(
        repeated.interval,
        NativeInterval::HourEnding {
            date: jiff::civil::date(2024, 11, 3),
            hour_ending: 2,
            clock: MarketClock::zone(ZONE),
            occurrence: Occurrence::Repeated,
        }
    );
    assert_eq!(
        first.interval.resolve().unwrap().end,
        repeated.interval.resolve().unwrap().start
    );
    // Hour ending 03:00 is 02:00-03:00 CST.
    let third = price_at(&out, "HB_NORTH", "2024-11-03T08:00:00Z");
    assert_eq!(third.price, p("16.10"));
    assert_eq!(occurrence_of(&third), Occurrence::Unstated);

    assert_eq!(first.market, Market::Ercot);
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(first.currency, Currency::USD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(first.components, Components::default());
}

#[test]
fn dam_spring_forward_day_read_from_its_zip_has_23_hours() {
    let out = parse_ok(&dam(), DAM_SPRING_ZIP, &fixture(DAM_SPRING_ZIP));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(prices(&out).len(), 23 * 9);
    let starts = starts_of(&out, "HB_WEST");
    assert_eq!(starts.len(), 23);
    // Hour ending 02:00 is 01:00 CST; the next published hour, 04:00, starts at 03:00 CDT.
    let second = price_at(&out, "HB_WEST", "2024-03-10T07:00:00Z");
    let fourth = price_at(&out, "HB_WEST", "2024-03-10T08:00:00Z");
    assert_eq!(second.price, p("-3.02"));
    assert_eq!(fourth.price, p("-1.48"));
    assert!(matches!(
        fourth.interval,
        NativeInterval::HourEnding { hour_ending: 4, .. }
    ));
    // Line numbers are those of the CSV inside the zip.
    assert_eq!(second.origin.line, 17);
    assert_eq!(
        price_at(&out, "HB_NORTH", "2024-03-10T06:00:00Z").price,
        p("16.38")
    );
    assert_eq!(starts[22], utc("2024-03-11T04:00:00Z"));
}

#[test]
fn dam_location_types_follow_the_name_prefix() {
    let out = parse_ok(&dam(), DAM_FALL, &fixture(DAM_FALL));
    let type_of = |name: &str| {
        prices(&out)
            .into_iter()
            .find(|price| &*price.location == name)
            .unwrap()
            .location_type
    };
    assert_eq!(type_of("HB_NORTH"), LocationType::Hub);
    assert_eq!(type_of("HB_BUSAVG"), LocationType::Hub);
    assert_eq!(type_of("LZ_WEST"), LocationType::Zone);
    assert_eq!(type_of("DC_E"), LocationType::Zone);
    assert_eq!(type_of("7RNCHSLR_ALL"), LocationType::Node);
}

#[test]
fn zip_and_bare_csv_parse_the_same() {
    let zipped = fixture(DAM_SPRING_ZIP);
    let from_zip = parse_ok(&dam(), "dam.csv", &zipped);
    let from_csv = parse_ok(&dam(), "dam.csv", &unzip(&zipped));
    assert_eq!(from_zip.observations, from_csv.observations);
    // And a CSV zipped here, with a directory entry beside it, reads like the bare file.
    let csv = fixture(DAM_FALL);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .add_directory("reports/", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer
        .start_file("reports/x.csv", zip::write::SimpleFileOptions::default())
        .unwrap();
    writer.write_all(&csv).unwrap();
    let zipped = writer.finish().unwrap().into_inner();
    assert_eq!(
        parse_ok(&dam(), "x", &zipped).observations,
        parse_ok(&dam(), "x", &csv).observations
    );
}

#[test]
fn a_broken_zip_is_a_file_error() {
    let zipped = fixture(DAM_SPRING_ZIP);
    let structure = |bytes: &[u8]| match parse(&dam(), "x.zip", bytes) {
        Err(error) => match error.kind {
            FileErrorKind::Structure(message) => message,
            other => panic!("{other:?}"),
        },
        Ok(out) => panic!("parsed {} observations", out.observations.len()),
    };
    // Truncated: the central directory is gone.
    assert!(structure(&zipped[..zipped.len() / 2]).contains("zip"));
    // The compressed data corrupted (the CRC or the deflate stream fails).
    let mut corrupt = zipped.clone();
    for byte in corrupt.iter_mut().skip(120).take(200) {
        *byte ^= 0x5A;
    }
    assert!(structure(&corrupt).contains("zip"));
    // Two CSVs, no CSV, and an empty archive.
    let two = zip_of(&[("a.csv", b"x".as_slice()), ("b.csv", b"y".as_slice())]);
    assert!(
        structure(&two).contains("a.csv, b.csv"),
        "{}",
        structure(&two)
    );
    let none = zip_of(&[("a.txt", b"x".as_slice()), ("b.xml", b"y".as_slice())]);
    assert!(structure(&none).contains("found 2 files"));
    assert!(structure(&zip_of(&[])).contains("found 0 files"));
    // A monthly bundle: a zip of zips.
    let bundle = zip_of(&[("inner_csv.zip", zipped.as_slice())]);
    assert!(structure(&bundle).contains("itself a zip"));
    // One member that is empty is an empty file.
    let empty = zip_of(&[("a.csv", b"".as_slice())]);
    assert_eq!(
        parse(&dam(), "x.zip", &empty).unwrap_err().kind,
        FileErrorKind::Empty
    );
}

#[test]
fn rt_spp_repeated_hour_has_eight_distinct_quarter_hours() {
    let out = parse_ok(&rt(), RT_FALL, &fixture(RT_FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(prices(&out).len(), 16 * 7);
    // 00:00 CDT .. 02:45 CST: sixteen consecutive quarter-hours, none shared.
    let starts = starts_of(&out, "HB_NORTH");
    assert_eq!(starts.len(), 16);
    for (index, start) in starts.iter().enumerate() {
        let minutes = i64::try_from(index).unwrap() * 15;
        assert_eq!(
            *start,
            utc("2024-11-03T05:00:00Z") + jiff::SignedDuration::from_mins(minutes)
        );
    }
    // DeliveryHour 2 twice: 01:00-02:00 CDT (06:00Z-07:00Z), then DSTFlag=Y 01:00-02:00 CST.
    let repeated_hour: Vec<_> = prices(&out)
        .into_iter()
        .filter(|price| &*price.location == "HB_NORTH")
        .filter(|price| {
            matches!(price.interval, NativeInterval::Local { time, .. } if time.hour() == 1)
        })
        .collect();
    assert_eq!(repeated_hour.len(), 8);
    let first = price_at(&out, "HB_NORTH", "2024-11-03T06:00:00Z");
    let repeated = price_at(&out, "HB_NORTH", "2024-11-03T07:00:00Z");
    assert_eq!(first.price, p("20.00"));
    assert_eq!(repeated.price, p("19.20"));
    assert_eq!(repeated.origin.line, 62);
    assert_eq!(
        repeated.interval,
        NativeInterval::Local {
            time: jiff::civil::date(2024, 11, 3).at(1, 0, 0, 0),
            anchor: Anchor::Start,
            minutes: 15,
            clock: MarketClock::zone(ZONE),
            occurrence: Occurrence::Repeated,
        }
    );
    assert_eq!(
        price_at(&out, "HB_NORTH", "2024-11-03T06:45:00Z")
            .interval
            .resolve()
            .unwrap()
            .end,
        utc("2024-11-03T07:00:00Z")
    );
    assert_eq!(
        price_at(&out, "HB_NORTH", "2024-11-03T07:45:00Z").price,
        p("19.65")
    );
    assert_eq!(first.product, Product::RealTime15Min);
}

#[test]
fn rt_spp_settlement_point_types_and_energy_weighted_zones() {
    let out = parse_ok(&rt(), RT_FALL, &fixture(RT_FALL));
    let zone = price_at(&out, "LZ_HOUSTON", "2024-11-03T05:00:00Z");
    let weighted = price_at(&out, "LZ_HOUSTON_EW", "2024-11-03T05:00:00Z");
    assert_eq!(zone.price, p("21.66"));
    assert_eq!(weighted.price, p("20.38"));
    assert_eq!(zone.location_type, LocationType::Zone);
    assert_eq!(weighted.location_type, LocationType::Zone);
    let type_of = |name: &str| price_at(&out, name, "2024-11-03T05:00:00Z").location_type;
    assert_eq!(type_of("HB_BUSAVG"), LocationType::Hub);
    assert_eq!(type_of("HB_HOUSTON"), LocationType::Hub);
    assert_eq!(type_of("DC_E"), LocationType::Zone);
    assert_eq!(type_of("7RNCHSLR_ALL"), LocationType::Node);

    // The stated type wins over the name; an unknown type falls back to the name.
    let text = format!(
        "{}\n01/15/2024,1,1,HB_ODD,RN,25.50,N\n01/15/2024,1,1,HB_NEW,ZZ,25.50,N\n",
        rt::HEADER
    );
    let out = parse_ok(&rt(), "rt.csv", text.as_bytes());
    let prices = prices(&out);
    assert_eq!(prices[0].location_type, LocationType::Node);
    assert_eq!(prices[1].location_type, LocationType::Hub);
    assert_eq!(start_of(prices[0]), utc("2024-01-15T06:00:00Z"));
}

#[test]
fn rt_spp_keeps_the_cap_and_negative_prices() {
    let out = parse_ok(&rt(), RT_CAP_ZIP, &fixture(RT_CAP_ZIP));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(prices(&out).len(), 12);
    // DeliveryHour 20, interval 3: 19:30-19:45 CDT.
    let north = price_at(&out, "HB_NORTH", "2023-09-07T00:30:00Z");
    assert_eq!(north.price, p("5000"));
    assert_eq!(
        price_at(&out, "SWEETWN2_WND1", "2023-09-07T00:30:00Z").price,
        p("-25.31")
    );
    assert_eq!(
        price_at(&out, "LZ_WEST_EW", "2023-09-07T00:30:00Z").price,
        p("4991.37")
    );
    assert_eq!(
        price_at(&out, "HB_HUBAVG", "2023-09-07T00:30:00Z").location_type,
        LocationType::Hub
    );
}

#[test]
fn sced_runs_across_the_repeated_hour() {
    let out = parse_ok(&sced(), SCED_FALL, &fixture(SCED_FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(prices(&out).len(), 8 * 5);
    let starts = starts_of(&out, "HB_NORTH");
    assert_eq!(
        starts,
        [
            utc("2024-11-03T05:55:13Z"),
            utc("2024-11-03T06:00:14Z"),
            utc("2024-11-03T06:30:12Z"),
            utc("2024-11-03T06:55:13Z"),
            utc("2024-11-03T07:00:13Z"),
            utc("2024-11-03T07:30:15Z"),
            utc("2024-11-03T07:55:12Z"),
            utc("2024-11-03T08:00:14Z"),
        ]
    );
    // 01:00:14 CDT and 01:00:13 CST: the same wall clock an hour apart.
    let first = price_at(&out, "HB_NORTH", "2024-11-03T06:00:14Z");
    let repeated = price_at(&out, "HB_NORTH", "2024-11-03T07:00:13Z");
    assert_eq!(first.price, p("18.71"));
    assert_eq!(repeated.price, p("19.95"));
    assert_eq!(occurrence_of(&first), Occurrence::First);
    assert_eq!(occurrence_of(&repeated), Occurrence::Repeated);
    assert_eq!(repeated.origin.line, 24);
    let resolved = repeated.interval.resolve().unwrap();
    assert_eq!(resolved.end, utc("2024-11-03T07:05:13Z"));
    assert_eq!(repeated.product, Product::RealTimeSced);
    // 02:00:14 is unambiguous again (CST).
    assert_eq!(
        occurrence_of(&price_at(&out, "HB_NORTH", "2024-11-03T08:00:14Z")),
        Occurrence::Unstated
    );
    let negative = price_at(&out, "SWEETWN2_WND1", "2024-11-03T07:00:13Z");
    assert_eq!(negative.price, p("-14.47"));
    assert_eq!(negative.location_type, LocationType::Node);
    assert_eq!(
        price_at(&out, "DC_L", "2024-11-03T07:00:13Z").location_type,
        LocationType::Zone
    );
}

#[test]
fn an_unflagged_ambiguous_time_is_refused_not_guessed() {
    // The DSTFlag left empty on the fall-back day's hour ending 02:00.
    let dam_text = format!("{}\n11/03/2024,02:00,HB_NORTH, 20.00,\n", dam::HEADER);
    let rt_text = format!("{}\n11/03/2024,2,3,HB_NORTH,HU,20.00,\n", rt::HEADER);
    let sced_text = format!("{}\n11/03/2024 01:30:12,,HB_NORTH,20.00\n", sced::HEADER);
    let cases: [(&dyn Format, &str); 3] = [
        (&dam(), &dam_text),
        (&rt(), &rt_text),
        (&sced(), &sced_text),
    ];
    for (format, text) in cases {
        let out = parse_ok(format, "x.csv", text.as_bytes());
        let price = prices(&out)[0];
        assert_eq!(occurrence_of(price), Occurrence::Unstated);
        assert!(
            matches!(price.interval.resolve(), Err(TimeError::Ambiguous(_))),
            "{}: {:?}",
            format.name(),
            price.interval.resolve()
        );
    }
    // A Y flag on an hour that is not repeated is refused too.
    let text = format!("{}\n11/03/2024,04:00,HB_NORTH, 20.00,Y\n", dam::HEADER);
    let out = parse_ok(&dam(), "x.csv", text.as_bytes());
    assert!(matches!(
        prices(&out)[0].interval.resolve(),
        Err(TimeError::NotRepeated(_))
    ));
    // And hour ending 03:00 on the spring-forward day does not exist.
    let text = format!("{}\n03/10/2024,03:00,HB_NORTH, 20.00,N\n", dam::HEADER);
    let out = parse_ok(&dam(), "x.csv", text.as_bytes());
    assert!(matches!(
        prices(&out)[0].interval.resolve(),
        Err(TimeError::Nonexistent(_))
    ));
}

#[test]
fn a_renamed_column_is_one_header_error() {
    let cases: [(&dyn Format, &str, &str, &str); 4] = [
        (&dam(), DAM_FALL, "SettlementPointPrice", dam::HEADER),
        (&rt(), RT_FALL, "DeliveryInterval", rt::HEADER),
        (&sced(), SCED_FALL, "RepeatedHourFlag", sced::HEADER),
        (
            &ErcotRtAdders::new(None).unwrap(),
            ADDERS,
            "RTORPA",
            adders::HEADER,
        ),
    ];
    for (format, path, column, header) in cases {
        let bytes = replace_once(&fixture(path), column, "Renamed");
        let error = parse(format, path, &bytes).unwrap_err();
        match error.kind {
            FileErrorKind::Header {
                expected,
                found,
                missing,
            } => {
                assert_eq!(expected, header);
                assert!(found.contains("Renamed"), "{found}");
                assert_eq!(missing, [column]);
            }
            other => panic!("{}: {other:?}", format.name()),
        }
    }
}

#[test]
fn malformed_dam_rows_are_rejects_with_their_lines() {
    let text = format!(
        "{}\n\
         11/03/2024,01:00,HB_NORTH, 18.62,N\n\
         11/03/2024,01:00,HB_WEST, n/a,N\n\
         11/03/2024,25:00,HB_NORTH, 18.62,N\n\
         11/33/2024,03:00,HB_NORTH, 18.62,N\n\
         11/03/2024,04:00,HB_NORTH\n\
         11/03/2024,05:00,HB_NORTH, 18.62,X\n\
         11/03/2024,06:30,HB_NORTH, 18.62,N\n\
         11/03/2024,07:00,, 18.62,N\n\
         11/03/2024,24:00,HB_NORTH, -5.00,N\n",
        dam::HEADER
    );
    let out = parse_ok(&dam(), "dam.csv", text.as_bytes());
    let prices = prices(&out);
    assert_eq!(prices.len(), 2);
    assert_eq!(prices[1].price, p("-5"));
    assert_eq!(start_of(prices[1]), utc("2024-11-04T05:00:00Z"));
    let rejects = &out.rejects;
    assert_eq!(rejects.len(), 7, "{rejects:?}");
    assert_reject(&rejects[0], 3, &["SettlementPointPrice"]);
    assert_eq!(&*rejects[0].raw, "11/03/2024,01:00,HB_WEST, n/a,N");
    assert_reject(&rejects[1], 4, &["HourEnding", "25:00", "DSTFlag=Y"]);
    assert_reject(&rejects[2], 5, &["DeliveryDate", "11/33/2024"]);
    assert_reject(&rejects[3], 6, &["expected 5 fields, found 3"]);
    assert_reject(&rejects[4], 7, &["DSTFlag", "`X`"]);
    assert_reject(&rejects[5], 8, &["HourEnding", "06:30"]);
    assert_reject(&rejects[6], 9, &["empty `SettlementPoint`"]);
}

#[test]
fn malformed_rt_and_sced_rows_are_rejects_with_their_lines() {
    let text = format!(
        "{}\n\
         11/03/2024,1,1,HB_NORTH,HU,19.30,N\n\
         11/03/2024,1,5,HB_NORTH,HU,19.30,N\n\
         11/03/2024,0,1,HB_NORTH,HU,19.30,N\n\
         11/03/2024,1,2,HB_NORTH,HU,1e3,N\n",
        rt::HEADER
    );
    let out = parse_ok(&rt(), "rt.csv", text.as_bytes());
    assert_eq!(prices(&out).len(), 1);
    assert_reject(&out.rejects[0], 3, &["DeliveryInterval", "`5`"]);
    assert_reject(&out.rejects[1], 4, &["DeliveryHour", "`0`"]);
    assert_reject(&out.rejects[2], 5, &["SettlementPointPrice"]);

    let text = format!(
        "{}\n\
         11/03/2024 01:00:14,N,HB_NORTH,18.71\n\
         11/03/2024T01:05:14,N,HB_NORTH,18.71\n\
         11/03/2024 01:10:14,N,HB_NORTH,18.71,extra\n\
         11/03/2024 01:15:14,N,HB_NORTH,\n",
        sced::HEADER
    );
    let out = parse_ok(&sced(), "sced.csv", text.as_bytes());
    assert_eq!(prices(&out).len(), 1);
    assert_reject(
        &out.rejects[0],
        3,
        &["SCEDTimestamp", "MM/DD/YYYY HH:MM:SS"],
    );
    assert_reject(&out.rejects[1], 4, &["expected 4 fields, found 5"]);
    assert_reject(&out.rejects[2], 5, &["LMP"]);
}

#[test]
fn crlf_line_endings_read_the_same() {
    let lf = fixture(SCED_FALL);
    let crlf = String::from_utf8(lf.clone())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    // Same prices, same line numbers (the csv crate alone counts CRLF lines one short).
    assert_eq!(
        parse_ok(&sced(), "x", &lf).observations,
        parse_ok(&sced(), "x", &crlf).observations
    );
    let text = format!(
        "{}\r\n11/03/2024 01:00:14,N,HB_NORTH,18.71\r\n\r\n11/03/2024 01:05:14,N,HB_NORTH,x\r\n",
        sced::HEADER
    );
    let out = parse_ok(&sced(), "x", text.as_bytes());
    assert_eq!(prices(&out)[0].origin.line, 2);
    assert_reject(&out.rejects[0], 4, &["LMP"]);
    assert_eq!(&*out.rejects[0].raw, "11/03/2024 01:05:14,N,HB_NORTH,x");
}

#[test]
fn adders_are_system_wide_prices_per_sced_run() {
    let format = ErcotRtAdders::new(None).unwrap();
    let out = parse_ok(&format, ADDERS, &fixture(ADDERS));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(prices(&out).len(), 4 * ADDER_COLUMNS.len());
    let lambda = price_at(&out, "SystemLambda", "2023-09-07T00:40:13Z");
    assert_eq!(lambda.price, p("4999.9999"));
    assert_eq!(lambda.location_type, LocationType::Region);
    assert_eq!(lambda.product, Product::RealTimeSced);
    assert_eq!(lambda.origin.line, 5);
    assert_eq!(
        price_at(&out, "RTORPA", "2023-09-07T00:30:12Z").price,
        p("2689.55")
    );
    assert_eq!(
        price_at(&out, "RTOFFPA", "2023-09-07T00:25:14Z").price,
        p("1201.57")
    );
    assert_eq!(
        price_at(&out, "RTORDPA", "2023-09-07T00:25:14Z").price,
        Price::ZERO
    );
    // One bad adder rejects the whole run: no partial rows.
    let bytes = replace_once(&fixture(ADDERS), "2689.55", "x");
    let out = parse_ok(&format, ADDERS, &bytes);
    assert_eq!(prices(&out).len(), 3 * ADDER_COLUMNS.len());
    assert_reject(&out.rejects[0], 3, &["RTORPA"]);
}

#[test]
fn each_report_publishes_its_own_product_only() {
    assert!(ErcotDamSpp::new(Some(Product::DayAheadHourly)).is_ok());
    assert!(ErcotDamSpp::new(Some(Product::RealTime15Min)).is_err());
    assert!(ErcotRtSpp::new(Some(Product::RealTime5Min)).is_err());
    assert!(ErcotScedLmp::new(Some(Product::RealTimeSced)).is_ok());
    let error = ErcotRtAdders::new(Some(Product::Daily)).unwrap_err();
    assert!(error.to_string().contains("REAL_TIME_SCED"), "{error}");
    for name in [dam::NAME, rt::NAME, sced::NAME, adders::NAME] {
        assert!(FORMAT_NAMES.contains(&name));
        assert_eq!(
            format_by_name(name, FormatOptions::default())
                .unwrap()
                .name(),
            name
        );
    }
}

#[test]
fn names_and_types_map_to_location_types() {
    assert_eq!(location_type("HB_PAN"), LocationType::Hub);
    assert_eq!(location_type("LZ_LCRA"), LocationType::Zone);
    assert_eq!(location_type("DC_R"), LocationType::Zone);
    assert_eq!(location_type("CALAVER_JKS1"), LocationType::Node);
    assert_eq!(
        settlement_point_type("LZ_DCEW"),
        Some((LocationType::Zone, true))
    );
    assert_eq!(
        settlement_point_type("pccrn"),
        Some((LocationType::Node, false))
    );
    assert_eq!(
        settlement_point_type("AH"),
        Some((LocationType::Hub, false))
    );
    assert_eq!(settlement_point_type("XX"), None);
}
