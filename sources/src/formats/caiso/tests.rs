use std::io::{Cursor, Read, Write};

use super::*;
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, data_path, fixture, p, parse, parse_ok, prices, replace_once, utc,
};

const RTPD: &str = "caiso/20230917_20230919_PRC_RTPD_LMP_RTPD_20230921_11_49_39_v2.csv";
/// The same CSV, zipped as OASIS serves it (`resultformat=6`).
const RTPD_ZIP: &str = "caiso/20230917_20230919_PRC_RTPD_LMP_RTPD_20230921_11_49_39_v2.zip";
/// Hand-made `PRC_INTVL_LMP` (RTM, 5-minute): 5 nodes, one hour, zipped.
const RTM_ZIP: &str = "caiso/20240414_20240414_PRC_INTVL_LMP_RTM_20240415_09_12_44_v3.zip";
const FALL: &str =
    "caiso/20191101_20191201_PRC_LMP_DAM_20200603_00_24_23_v1_excerpt_20191102-04.csv";
const SPRING: &str =
    "caiso/20190301_20190401_PRC_LMP_DAM_20200603_09_21_36_v1_excerpt_20190310.csv";

fn parser() -> CaisoOasis {
    CaisoOasis::new(None)
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

/// The one member of a zip fixture.
fn unzipped(relative: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(fixture(relative))).unwrap();
    assert_eq!(archive.len(), 1, "{relative}");
    let mut text = Vec::new();
    archive.by_index(0).unwrap().read_to_end(&mut text).unwrap();
    text
}

fn structure_error(name: &str, bytes: &[u8]) -> String {
    match parse(&parser(), name, bytes) {
        Err(error) => match error.kind {
            FileErrorKind::Structure(message) => message,
            other => panic!("{other:?}"),
        },
        Ok(out) => panic!("parsed {} observations", out.observations.len()),
    }
}

fn find<'a>(out: &'a SourceOutput, node: &str, start: &str) -> &'a PublishedPrice {
    let start = utc(start);
    prices(out)
        .into_iter()
        .find(|price| {
            &*price.location == node
                && matches!(price.interval, NativeInterval::Utc { start: s, .. } if s == start)
        })
        .unwrap_or_else(|| panic!("no {node} at {start}"))
}

#[test]
fn rtpd_groups_five_rows_into_one_price() {
    let out = parse_ok(&parser(), RTPD, &fixture(RTPD));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 192);
    let price = find(&out, "CAS_PP_GNODE7", "2023-09-18T00:00:00Z");
    assert_eq!(price.market, Market::Caiso);
    assert_eq!(price.product, Product::RealTime15Min);
    assert_eq!(price.price.micros(), 23_998_400);
    assert_eq!(price.components.energy, Some(p("24.13477")));
    assert_eq!(price.components.congestion, Some(p("0.0012")));
    assert_eq!(price.components.loss, Some(p("-0.13758")));
    assert_eq!(
        price.interval,
        NativeInterval::Utc {
            start: utc("2023-09-18T00:00:00Z"),
            end: utc("2023-09-18T00:15:00Z"),
        }
    );
    assert_eq!(price.currency, Currency::USD);
    assert_eq!(price.location_type, LocationType::Node);
    assert_eq!(location_type("TH_NP15_GEN-APND"), LocationType::Hub);
    assert_eq!(location_type("DLAP_PGAE-APND"), LocationType::Zone);
    assert_eq!(price.origin.line, 2, "the LMP row's line");
    assert_eq!(
        find(&out, "CAS_PP_GNODE7", "2023-09-18T00:45:00Z").price,
        p("62.83352")
    );
    // Sorted by interval start although the file is not.
    let starts: Vec<_> = prices(&out)
        .iter()
        .map(|price| price.interval.resolve().unwrap().start)
        .collect();
    assert!(starts.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn dam_fall_back_day_has_25_hours() {
    let out = parse_ok(&parser(), FALL, &fixture(FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 3 * (24 + 25 + 24));
    for (start, lmp) in [
        ("2019-11-03T07:00:00Z", "41.92401"),
        ("2019-11-03T08:00:00Z", "39.67876"),
        ("2019-11-03T09:00:00Z", "40.17748"),
        ("2019-11-03T10:00:00Z", "38.15912"),
    ] {
        let price = find(&out, "ZP26SLAK_5_N001", start);
        assert_eq!(price.price, p(lmp), "{start}");
        assert_eq!(price.product, Product::DayAheadHourly);
        assert!(price.components.energy.is_some());
    }
}

#[test]
fn dam_spring_forward_day_has_23_hours() {
    let out = parse_ok(&parser(), SPRING, &fixture(SPRING));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 3 * 23);
    assert_eq!(
        find(&out, "SP26SLAK_5_N001", "2019-03-10T09:00:00Z").price,
        p("50.67966")
    );
    assert_eq!(
        find(&out, "SP26SLAK_5_N001", "2019-03-10T10:00:00Z").price,
        p("39.03672")
    );
    assert_eq!(
        find(&out, "SP26SLAK_5_N001", "2019-03-10T08:00:00Z")
            .components
            .energy,
        Some(p("46.66598"))
    );
}

#[test]
fn operating_hours_resolve_to_the_gmt_start() {
    for file in [FALL, SPRING] {
        let rows = operating_hours(&fixture(file), &Arc::from(data_path(file))).unwrap();
        assert_eq!(rows.len(), if file == FALL { 876 } else { 276 });
        for row in rows {
            let hour = row.operating_hour.as_ref().unwrap();
            assert_eq!(
                hour.resolve().unwrap().start,
                row.interval_start.unwrap(),
                "{file} line {}",
                row.line
            );
        }
    }
    let repeated = operating_hour("2019-11-03", "25").unwrap();
    assert_eq!(
        repeated.resolve().unwrap().start,
        utc("2019-11-03T09:00:00Z")
    );
    assert_eq!(
        operating_hour("2019-11-03", "2")
            .unwrap()
            .resolve()
            .unwrap()
            .start,
        utc("2019-11-03T08:00:00Z")
    );
    assert!(operating_hour("2019-11-03", "26").is_err());
    assert!(operating_hour("11/03/2019", "2").is_err());
    // 15-minute rows: the operating hour contains the interval.
    for row in operating_hours(&fixture(RTPD), &Arc::from(RTPD)).unwrap() {
        let hour = row.operating_hour.unwrap().resolve().unwrap();
        let start = row.interval_start.unwrap();
        assert!(hour.start <= start && start < hour.end, "line {}", row.line);
    }
}

#[test]
fn group_without_lmp_is_rejected() {
    let bytes = replace_once(
        &fixture(RTPD),
        "2023-09-18T00:00:00-00:00,2023-09-18T00:15:00-00:00,2023-09-17,18,CAS_PP_GNODE7,CAS_PP_GNODE7,CAS_PP_GNODE7,RTPD,LMP,LMP_PRC,CAS_PP_GNODE7,ALL,1,23.9984,1,1\n",
        "",
    );
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert_eq!(out.observations.len(), 191);
    assert_eq!(out.rejects.len(), 1);
    let reject = &out.rejects[0];
    assert!(
        reject.reason.contains("no `LMP_TYPE` LMP row"),
        "{reject:?}"
    );
    assert!(reject.reason.contains("CAS_PP_GNODE7"), "{reject:?}");
    assert!(
        reject.raw.contains("2023-09-18T00:00:00-00:00"),
        "{reject:?}"
    );
}

#[test]
fn bad_rows() {
    let bytes = replace_once(&fixture(RTPD), ",23.9984,", ",abc,");
    let out = parse_ok(&parser(), RTPD, &bytes);
    // One reject, for the row; the interval is not written (no second reject for it).
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert_reject(
        &out.rejects[0],
        2,
        &["LMP row", "`PRC`", "abc", "CAS_PP_GNODE7", "rejected whole"],
    );
    assert_eq!(out.observations.len(), 191);

    // An unknown LMP_TYPE is rejected alone: the interval still has its price.
    let bytes = replace_once(&fixture(RTPD), "RTPD,MGHG,", "RTPD,MXYZ,");
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert_eq!(out.rejects.len(), 1);
    assert!(out.rejects[0].reason.contains("MXYZ"));
    assert_eq!(out.observations.len(), 192);

    let bytes = replace_once(
        &fixture(RTPD),
        "2023-09-18T00:00:00-00:00,2023-09-18T00:15:00-00:00,2023-09-17,18,CAS_PP_GNODE7",
        "2023-09-18 midnight,2023-09-18T00:15:00-00:00,2023-09-17,18,CAS_PP_GNODE7",
    );
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert_reject(&out.rejects[0], 2, &["INTERVALSTARTTIME_GMT", "midnight"]);

    let bytes = replace_once(&fixture(RTPD), ",RTPD,LMP,", ",RUC,LMP,");
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert!(
        out.rejects
            .iter()
            .any(|r| r.reason.contains("MARKET_RUN_ID"))
    );

    let bytes = fixture(RTPD);
    let out = parse_ok(&parser(), RTPD, &bytes[..bytes.len() - 20]);
    assert!(
        out.rejects
            .iter()
            .any(|r| r.reason.contains("expected 16 fields"))
    );
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        parse(&parser(), RTPD, b"").unwrap_err().reason(),
        "empty file"
    );
    let bytes = replace_once(&fixture(RTPD), ",PRC,", ",PRICE,");
    let error = parse(&parser(), RTPD, &bytes).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("missing: PRC"), "{message}");
    assert!(
        message.contains(HEADER) && message.contains("POS,PRICE,OPR_INTERVAL"),
        "{message}"
    );
}

#[test]
fn mghg_is_the_greenhouse_gas_component() {
    // The fixture README's spot values: LMP = MCE + MCC + MCL + MGHG, MGHG 0.
    let out = parse_ok(&parser(), RTPD, &fixture(RTPD));
    let price = find(&out, "CAS_PP_GNODE7", "2023-09-18T00:00:00Z");
    let components = &price.components;
    assert_eq!(components.greenhouse_gas, Some(p("0")));
    let sum = components.energy.unwrap().micros()
        + components.congestion.unwrap().micros()
        + components.loss.unwrap().micros()
        + components.greenhouse_gas.unwrap().micros();
    assert_eq!(sum, 23_998_390);
    assert!((price.price.micros() - sum).abs() <= 100, "to 1e-4");

    // Line 114 is that interval's MGHG row: its value is the stored component, and the
    // price and the other parts stay as published.
    let mghg = "RTPD,MGHG,LMP_GHG_PRC,CAS_PP_GNODE7,ALL,1,0,1,5\n";
    let bytes = replace_once(
        &fixture(RTPD),
        mghg,
        "RTPD,MGHG,LMP_GHG_PRC,CAS_PP_GNODE7,ALL,1,1.25,1,5\n",
    );
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let changed = find(&out, "CAS_PP_GNODE7", "2023-09-18T00:00:00Z");
    assert_eq!(changed.price, p("23.9984"));
    assert_eq!(changed.components.greenhouse_gas, Some(p("1.25")));
    assert_eq!(changed.components.energy, price.components.energy);
    assert_eq!(changed.components.loss, price.components.loss);

    // A non-numeric MGHG rejects the interval: one reject at its line, one price fewer.
    for bad in ["n/a", ""] {
        let row = format!("RTPD,MGHG,LMP_GHG_PRC,CAS_PP_GNODE7,ALL,1,{bad},1,5\n");
        let bytes = replace_once(&fixture(RTPD), mghg, &row);
        let out = parse_ok(&parser(), RTPD, &bytes);
        assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
        assert_reject(
            &out.rejects[0],
            114,
            &["MGHG row", "`PRC`", "CAS_PP_GNODE7", "rejected whole"],
        );
        assert_eq!(out.observations.len(), 191);
        assert!(prices(&out).iter().all(|price| {
            price.interval.resolve().unwrap().start != utc("2023-09-18T00:00:00Z")
        }));
    }
}

#[test]
fn duplicate_part_rejects_the_interval() {
    let row = "2023-09-18T00:00:00-00:00,2023-09-18T00:15:00-00:00,2023-09-17,18,CAS_PP_GNODE7,\
CAS_PP_GNODE7,CAS_PP_GNODE7,RTPD,MCE,LMP_ENE_PRC,CAS_PP_GNODE7,ALL,1,24.13477,1,3\n";
    let mut bytes = fixture(RTPD);
    bytes.extend_from_slice(row.as_bytes());
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert_reject(
        &out.rejects[0],
        962,
        &["duplicate `LMP_TYPE` MCE", "line 58"],
    );
    assert_eq!(out.observations.len(), 191);

    // A different end for the same node and start.
    let bytes = replace_once(
        &fixture(RTPD),
        "2023-09-18T00:00:00-00:00,2023-09-18T00:15:00-00:00,2023-09-17,18,CAS_PP_GNODE7,CAS_PP_GNODE7,CAS_PP_GNODE7,RTPD,MCC",
        "2023-09-18T00:00:00-00:00,2023-09-18T00:05:00-00:00,2023-09-17,18,CAS_PP_GNODE7,CAS_PP_GNODE7,CAS_PP_GNODE7,RTPD,MCC",
    );
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 30, &["INTERVALENDTIME_GMT", "line 2"]);
    assert_eq!(out.observations.len(), 191);
}

#[test]
fn zip_and_csv_parse_the_same() {
    let zipped = fixture(RTPD_ZIP);
    assert!(zipped.starts_with(b"PK\x03\x04"));
    assert_eq!(
        unzipped(RTPD_ZIP),
        fixture(RTPD),
        "the member is the real CSV"
    );
    let from_zip = parse_ok(&parser(), RTPD, &zipped);
    let from_csv = parse_ok(&parser(), RTPD, &fixture(RTPD));
    assert!(from_zip.rejects.is_empty(), "{:?}", from_zip.rejects);
    assert_eq!(from_zip.observations.len(), 192);
    assert_eq!(from_zip.observations, from_csv.observations);
    // One CSV in the zip: origins name the zip, lines are the CSV's.
    let out = parse_ok(&parser(), RTPD_ZIP, &zipped);
    let price = find(&out, "CAS_PP_GNODE7", "2023-09-18T00:00:00Z");
    assert_eq!(&*price.origin.file, RTPD_ZIP);
    assert_eq!(price.origin.line, 2);
}

#[test]
fn a_zip_of_one_csv_per_lmp_type_is_one_file() {
    // A `grp_type=ALL` query: OASIS packs one CSV per LMP_TYPE into the zip. Split the
    // fall-back DAM excerpt that way, in reverse order, LMP last.
    let text = String::from_utf8(fixture(FALL)).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let member = |lmp_type: &str| {
        let mut csv = format!("{header}\n");
        for row in rows.lines() {
            if row.contains(&format!(",DAM,{lmp_type},")) {
                csv.push_str(row);
                csv.push('\n');
            }
        }
        (
            format!("20191102_20191104_PRC_LMP_DAM_{lmp_type}_v1.csv"),
            csv.into_bytes(),
        )
    };
    let members: Vec<_> = ["MCL", "MCE", "MCC", "LMP"].map(member).into();
    let listed: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .chain([("readme.txt", b"not a CSV".as_slice())])
        .collect();
    let zipped = zip_of(&listed);
    let out = parse_ok(&parser(), "dam.zip", &zipped);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let from_csv = parse_ok(&parser(), FALL, &fixture(FALL));
    assert_eq!(out.observations.len(), from_csv.observations.len());
    for (zipped, bare) in prices(&out).iter().zip(prices(&from_csv)) {
        assert_eq!(
            (&zipped.location, &zipped.interval, zipped.price),
            (&bare.location, &bare.interval, bare.price)
        );
        assert_eq!(zipped.components, bare.components);
        assert!(zipped.components.energy.is_some() && zipped.components.loss.is_some());
    }
    // The origin is the LMP row, in its member.
    let price = find(&out, "ZP26SLAK_5_N001", "2019-11-03T09:00:00Z");
    assert_eq!(price.price, p("40.17748"));
    assert_eq!(
        &*price.origin.file,
        "dam.zip!20191102_20191104_PRC_LMP_DAM_LMP_v1.csv"
    );
    // A bad row names its member and its line there.
    let mut broken = members.clone();
    broken[1].1 = replace_once(&broken[1].1, ",25.02438,", ",25.02.438,");
    let listed: Vec<(&str, &[u8])> = broken
        .iter()
        .map(|(name, bytes)| (name.as_str(), bytes.as_slice()))
        .collect();
    let out = parse_ok(&parser(), "dam.zip", &zip_of(&listed));
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert_eq!(
        &*out.rejects[0].origin.file,
        "dam.zip!20191102_20191104_PRC_LMP_DAM_MCE_v1.csv"
    );
    assert_eq!(out.rejects[0].origin.line, 2);
    assert!(
        out.rejects[0].reason.contains("MCE row"),
        "{:?}",
        out.rejects
    );
    assert_eq!(out.observations.len(), from_csv.observations.len() - 1);
}

#[test]
fn broken_zips_are_file_errors() {
    let zipped = fixture(RTPD_ZIP);
    // Truncated: the central directory is gone.
    assert!(structure_error("x.zip", &zipped[..zipped.len() / 2]).contains("zip"));
    // The compressed data corrupted (the CRC or the deflate stream fails).
    let mut corrupt = zipped.clone();
    for byte in corrupt.iter_mut().skip(150).take(300) {
        *byte ^= 0x5A;
    }
    assert!(structure_error("x.zip", &corrupt).contains("zip"));
    // OASIS answers a query it cannot serve with an XML error report in the zip.
    let report = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<m:OASISReport \
xmlns:m=\"http://www.caiso.com/soa/OASISReport_v1.xsd\"><m:MessagePayload><m:RTO>\
<m:ERROR><m:ERR_CODE>1000</m:ERR_CODE><m:ERR_DESC>No data returned for the specified \
selection</m:ERR_DESC></m:ERROR></m:RTO></m:MessagePayload></m:OASISReport>";
    let message = structure_error("x.zip", &zip_of(&[("INVALID_REQUEST.xml", report)]));
    assert!(message.contains("no CSV file"), "{message}");
    assert!(message.contains("INVALID_REQUEST.xml"), "{message}");
    assert!(
        message.contains("No data returned for the specified selection (ERR_CODE 1000)"),
        "{message}"
    );
    assert!(structure_error("x.zip", &zip_of(&[])).contains("found 0 files"));
    let nested = zip_of(&[("inner.zip", zipped.as_slice())]);
    assert!(structure_error("x.zip", &nested).contains("itself a zip"));
    // An empty CSV in the zip is an empty file; a renamed column in one member refuses
    // the file with a header error.
    let empty = zip_of(&[("a.csv", b"".as_slice())]);
    assert_eq!(
        parse(&parser(), "x.zip", &empty).unwrap_err().kind,
        FileErrorKind::Empty
    );
    let renamed = replace_once(&fixture(RTPD), ",NODE,", ",PNODE,");
    let two = zip_of(&[("a.csv", &fixture(RTPD)), ("b.csv", &renamed)]);
    let error = parse(&parser(), "x.zip", &two).unwrap_err();
    assert_eq!(&*error.file, "x.zip!b.csv");
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["NODE"]),
        "{error}"
    );
}

#[test]
fn rtm_five_minute_prices() {
    let out = parse_ok(&parser(), RTM_ZIP, &fixture(RTM_ZIP));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 5 * 12);
    let all = prices(&out);
    assert!(
        all.iter()
            .all(|price| price.product == Product::RealTime5Min)
    );
    let nodes: std::collections::BTreeSet<_> =
        all.iter().map(|price| price.location.clone()).collect();
    assert_eq!(nodes.len(), 5);
    for price in &all {
        let interval = price.interval.resolve().unwrap();
        assert_eq!(
            interval.end - interval.start,
            jiff::SignedDuration::from_mins(5)
        );
        assert!(interval.start >= utc("2024-04-14T19:00:00Z"));
        assert!(interval.end <= utc("2024-04-14T20:00:00Z"));
    }

    let sp15 = find(&out, "TH_SP15_GEN-APND", "2024-04-14T19:30:00Z");
    assert_eq!(sp15.price, p("-23.07385"));
    assert_eq!(sp15.components.energy, Some(p("-23.41589")));
    assert_eq!(sp15.components.congestion, Some(p("0")));
    assert_eq!(sp15.components.loss, Some(p("0.34204")));
    assert_eq!(sp15.location_type, LocationType::Hub);
    assert_eq!(sp15.currency, Currency::USD);
    assert_eq!(sp15.unit, Unit::MegawattHour);
    assert_eq!(sp15.origin.line, 44);
    assert_eq!(
        sp15.interval,
        NativeInterval::Utc {
            start: utc("2024-04-14T19:30:00Z"),
            end: utc("2024-04-14T19:35:00Z"),
        }
    );
    let pgae = find(&out, "DLAP_PGAE-APND", "2024-04-14T19:55:00Z");
    assert_eq!(pgae.price, p("1.59371"));
    assert_eq!(pgae.components.congestion, Some(p("6.40115")));
    assert_eq!(pgae.location_type, LocationType::Zone);

    // The bare CSV parses the same.
    let csv = unzipped(RTM_ZIP);
    assert!(csv.starts_with(b"INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,"));
    assert_eq!(
        parse_ok(&parser(), RTM_ZIP, &csv).observations,
        out.observations
    );
}

#[test]
fn rtm_header_drift_and_bad_rows() {
    let csv = unzipped(RTM_ZIP);
    let name = "rtm.csv";
    // `VALUE` renamed: one header error naming what was expected and found.
    let renamed = replace_once(&csv, ",POS,VALUE,", ",POS,PRICE_VALUE,");
    let error = parse(&parser(), name, &renamed).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error}")
    };
    assert_eq!(missing, &["PRC"]);
    assert_eq!(expected, HEADER);
    assert!(found.contains("POS,PRICE_VALUE,OPR_INTERVAL"), "{found}");
    assert!(error.to_string().contains("PRICE_VALUE"), "{error}");
    // The same drift inside the zip.
    let zipped = zip_of(&[("rtm.csv", &renamed)]);
    assert!(matches!(
        parse(&parser(), "rtm.zip", &zipped).unwrap_err().kind,
        FileErrorKind::Header { .. }
    ));
    // `INTERVALENDTIME_GMT` missing.
    let dropped = replace_once(
        &csv,
        "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,",
        "INTERVALSTARTTIME_GMT,",
    );
    let error = parse(&parser(), name, &dropped).unwrap_err();
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["INTERVALENDTIME_GMT"]),
        "{error}"
    );

    // Line 44: TH_SP15_GEN-APND's LMP at 19:30Z.
    let row = "2024-04-14T19:30:00-00:00,2024-04-14T19:35:00-00:00,2024-04-14,13,TH_SP15_GEN-APND,\
TH_SP15_GEN-APND,TH_SP15_GEN-APND,RTM,LMP,LMP_PRC,TH_SP15_GEN-APND,ALL,1,-23.07385,7,1";
    let cases = [
        (
            row.replace("-23.07385", "-23,07385"),
            "expected 16 fields, found 17",
        ),
        (
            row.replace(",ALL,1,-23.07385,7,1", ",ALL,1,-23.07385"),
            "expected 16 fields, found 14",
        ),
        (
            row.replace("-23.07385", "1e3"),
            "not a decimal number: `1e3`",
        ),
        (
            row.replace("2024-04-14T19:35:00-00:00", "04/14/2024 12:35"),
            "`INTERVALENDTIME_GMT` `04/14/2024 12:35`",
        ),
        (
            row.replace("2024-04-14T19:35:00-00:00", "2024-04-14T19:25:00-00:00"),
            "before it starts",
        ),
        (
            row.replace(",RTM,", ",RTD,"),
            "unknown `MARKET_RUN_ID` `RTD`",
        ),
    ];
    for (changed, fragment) in cases {
        let bytes = replace_once(&csv, row, &changed);
        let out = parse_ok(&parser(), name, &bytes);
        assert_reject(&out.rejects[0], 44, &[fragment]);
        // The row's other parts are still there but the interval has no price: one more
        // reject for it, unless the row was readable enough to reject the whole interval.
        assert!(out.rejects.len() <= 2, "{:?}", out.rejects);
        assert_eq!(out.observations.len(), 59, "{fragment}");
        assert!(
            find_opt(&out, "TH_SP15_GEN-APND", "2024-04-14T19:30:00Z").is_none(),
            "{fragment}"
        );
        assert!(find_opt(&out, "TH_SP15_GEN-APND", "2024-04-14T19:35:00Z").is_some());
    }
}

fn find_opt<'a>(out: &'a SourceOutput, node: &str, start: &str) -> Option<&'a PublishedPrice> {
    let start = utc(start);
    prices(out).into_iter().find(|price| {
        &*price.location == node
            && matches!(price.interval, NativeInterval::Utc { start: s, .. } if s == start)
    })
}

#[test]
fn opr_interval_counts_the_intervals_of_the_operating_hour() {
    for (file, minutes, rows) in [(RTM_ZIP, 5, 300), (RTPD_ZIP, 15, 960)] {
        let bytes = fixture(file);
        let all = operating_hours(&bytes, &Arc::from(file)).unwrap();
        assert_eq!(all.len(), rows, "{file}");
        for row in all {
            let hour = row.operating_hour.as_ref().unwrap().resolve().unwrap();
            let start = row.interval_start.unwrap();
            let end = row.interval_end.unwrap();
            assert_eq!(end - start, jiff::SignedDuration::from_mins(minutes));
            let index = i64::from(row.opr_interval.unwrap()) - 1;
            assert_eq!(
                start,
                hour.start + jiff::SignedDuration::from_mins(minutes * index),
                "{file} line {}",
                row.line
            );
            assert_eq!(&*row.file, file);
        }
    }
    // Day-ahead rows have `OPR_INTERVAL` 0.
    let dam = operating_hours(&fixture(SPRING), &Arc::from(SPRING)).unwrap();
    assert!(dam.iter().all(|row| row.opr_interval == Some(0)));
}
