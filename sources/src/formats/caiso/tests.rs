use super::*;
use crate::formats::testing::{
    assert_reject, data_path, fixture, p, parse, parse_ok, prices, replace_once, utc,
};

const RTPD: &str = "caiso/20230917_20230919_PRC_RTPD_LMP_RTPD_20230921_11_49_39_v2.csv";
const FALL: &str =
    "caiso/20191101_20191201_PRC_LMP_DAM_20200603_00_24_23_v1_excerpt_20191102-04.csv";
const SPRING: &str =
    "caiso/20190301_20190401_PRC_LMP_DAM_20200603_09_21_36_v1_excerpt_20190310.csv";

fn parser() -> CaisoOasis {
    CaisoOasis::new(None)
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
    assert_reject(&out.rejects[0], 2, &["price", "abc"]);
    // The group lost its LMP row too.
    assert_eq!(out.rejects.len(), 2);

    let bytes = replace_once(&fixture(RTPD), "RTPD,MGHG,", "RTPD,MXYZ,");
    let out = parse_ok(&parser(), RTPD, &bytes);
    assert_eq!(out.rejects.len(), 1);
    assert!(out.rejects[0].reason.contains("MXYZ"));

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
