use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::Version;

const DA: &str = "pjm/da_hrl_lmps_2026-06-09.json";
const RT5: &str = "pjm/rt_unverified_fivemin_lmps_2026-06-10.json";
const RT_2024: &str = "pjm/rt_hrl_lmps_2024-02-20_excerpt.json";
const DA_2024: &str = "pjm/da_hrl_lmps_2024-02-20_excerpt.json";
const SPRING: &str = "pjm/da_hrl_lmps_2024-03-10_dst_handwritten.json";
const FALL: &str = "pjm/rt_hrl_lmps_2024-11-03_dst_handwritten.json";

fn parser() -> PjmDataMiner {
    PjmDataMiner::new(None).unwrap()
}

fn find<'a>(out: &'a SourceOutput, location: &str, start: &str) -> &'a PublishedPrice {
    let start = utc(start);
    prices(out)
        .into_iter()
        .find(|price| &*price.location == location && start_of(price) == start)
        .unwrap_or_else(|| panic!("no {location} at {start}"))
}

fn locations(out: &SourceOutput) -> BTreeSet<&str> {
    prices(out).iter().map(|price| &*price.location).collect()
}

/// `{"items": [...]}` around item objects written as JSON text.
fn envelope(items: &[&str]) -> Vec<u8> {
    format!(
        "{{\"items\":[{}],\"totalRows\":{}}}",
        items.join(","),
        items.len()
    )
    .into_bytes()
}

fn sum(components: &Components) -> Price {
    [components.energy, components.congestion, components.loss]
        .into_iter()
        .map(Option::unwrap)
        .fold(Price::ZERO, |a, b| a.checked_add(b).unwrap())
}

#[test]
fn day_ahead_day_pins_the_readme_spot_values() {
    let out = parse_ok(&parser(), DA, &fixture(DA));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let all = prices(&out);
    assert_eq!(all.len(), 552);
    assert_eq!(locations(&out).len(), 23);
    let first = all[0];
    assert_eq!(first.market, Market::Pjm);
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(&*first.location, "PJM-RTO");
    assert_eq!(first.location_type, LocationType::Zone);
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2026-06-09T04:00:00Z"),
            end: utc("2026-06-09T05:00:00Z"),
        }
    );
    assert_eq!(first.price.micros(), 31_862_345);
    assert_eq!(first.currency, Currency::USD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(first.components, Components::default(), "not requested");
    assert_eq!(first.revision, None);
    assert_eq!(first.published_at, None);
    assert_eq!(first.origin.line, 1, "the item's ordinal");
    assert_eq!(all[551].origin.line, 552);
    assert_eq!(
        find(&out, "BGE", "2026-06-09T04:00:00Z").price,
        p("44.243725")
    );
    assert_eq!(
        find(&out, "BGE", "2026-06-09T20:00:00Z").price,
        p("143.532063")
    );
    // The EPT day 2026-06-09 is 24 UTC hours from 04:00.
    let starts: BTreeSet<_> = all.iter().map(|price| start_of(price)).collect();
    assert_eq!(starts.len(), 24);
    assert_eq!(starts.first(), Some(&utc("2026-06-09T04:00:00Z")));
    assert_eq!(starts.last(), Some(&utc("2026-06-10T03:00:00Z")));
}

#[test]
fn unverified_five_minute_prices_are_exact_and_newest_first() {
    let out = parse_ok(&parser(), RT5, &fixture(RT5));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let all = prices(&out);
    assert_eq!(all.len(), 154);
    assert_eq!(locations(&out).len(), 22);
    let starts: BTreeSet<_> = all.iter().map(|price| start_of(price)).collect();
    assert_eq!(starts.len(), 7);
    let first = find(&out, "PJM-RTO", "2026-06-10T19:10:00Z");
    assert!(std::ptr::eq(first, all[0]), "the file is newest first");
    assert_eq!(first.product, Product::RealTime5MinPrelim);
    assert_eq!(
        first.interval,
        NativeInterval::Utc {
            start: utc("2026-06-10T19:10:00Z"),
            end: utc("2026-06-10T19:15:00Z"),
        }
    );
    assert_eq!(first.price.micros(), 545_530_000);
    // No `type` in a field-restricted query: a node.
    assert_eq!(first.location_type, LocationType::Node);
    assert_eq!(
        find(&out, "BGE", "2026-06-10T19:10:00Z").price.micros(),
        1_070_330_000
    );
    assert_eq!(find(&out, "DOM", "2026-06-10T18:40:00Z").price, p("689.08"));
    assert_eq!(
        find(&out, "PJM-RTO", "2026-06-10T18:40:00Z").price,
        p("564.17")
    );
}

#[test]
fn full_field_excerpts_carry_components_and_versions() {
    let out = parse_ok(&parser(), RT_2024, &fixture(RT_2024));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 2);
    let rto = find(&out, "PJM-RTO", "2024-02-20T05:00:00Z");
    assert_eq!(rto.product, Product::RealTimeHourly);
    assert_eq!(rto.price, p("17.956076"));
    assert_eq!(rto.components.energy, Some(p("17.94")));
    assert_eq!(rto.components.congestion, Some(p("0.005357")));
    assert_eq!(rto.components.loss, Some(p("0.011552")));
    // Real-time hourly components are kept as published although they do not add up to
    // the total exactly (17.94 + 0.005357 + 0.011552 = 17.956909, total 17.956076).
    assert_eq!(sum(&rto.components), p("17.956909"));
    assert_eq!(rto.revision, Some(1));
    assert_eq!(rto.location_type, LocationType::Zone);
    let aps = find(&out, "MID-ATL/APS", "2024-02-20T05:00:00Z");
    assert_eq!(aps.price, p("18.101796"));
    assert_eq!(aps.components.congestion, Some(p("-0.133939")));
    assert_eq!(sum(&aps.components), p("18.102629"));

    let out = parse_ok(&parser(), DA_2024, &fixture(DA_2024));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let rto = find(&out, "PJM-RTO", "2024-02-20T05:00:00Z");
    assert_eq!(rto.product, Product::DayAheadHourly);
    assert_eq!(rto.price, p("23.632196"));
    assert_eq!(rto.components.energy, Some(p("23.49")));
    assert_eq!(rto.components.congestion, Some(p("-0.045139")));
    assert_eq!(sum(&rto.components), rto.price);
}

#[test]
fn six_decimal_numbers_are_exact() {
    let items = [
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"A","total_lmp_rt":1070.330000}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"B","total_lmp_rt":31.862345}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"C","total_lmp_rt":-0.000001}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"D","total_lmp_rt":12345.678901}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"E","total_lmp_rt":-25}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"F","total_lmp_rt":0.1}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"G","total_lmp_rt":-0.0}"#,
        r#"{"datetime_beginning_utc":"2026-06-10T19:10:00","pnode_name":"H","total_lmp_rt":9999.999999}"#,
    ];
    let out = parse_ok(&parser(), "rt_fivemin_hrl_lmps.json", &envelope(&items));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let micros: Vec<i64> = prices(&out)
        .iter()
        .map(|price| price.price.micros())
        .collect();
    assert_eq!(
        micros,
        [
            1_070_330_000,
            31_862_345,
            -1,
            12_345_678_901,
            -25_000_000,
            100_000,
            0,
            9_999_999_999
        ]
    );
}

#[test]
fn spring_forward_day_has_23_distinct_hours() {
    let out = parse_ok(&parser(), SPRING, &fixture(SPRING));
    assert!(
        out.rejects.is_empty(),
        "EPT agrees everywhere: {:?}",
        out.rejects
    );
    assert_eq!(out.observations.len(), 2 * 23);
    for location in ["PJM-RTO", "WESTERN HUB"] {
        let starts: Vec<_> = prices(&out)
            .iter()
            .filter(|price| &*price.location == location)
            .map(|price| {
                let resolved = price.interval.resolve().unwrap();
                assert_eq!(resolved.end.duration_since(resolved.start).as_hours(), 1);
                resolved.start
            })
            .collect();
        assert_eq!(starts.len(), 23, "{location}");
        // Consecutive UTC hours: the missing local 02:00 leaves no gap in UTC.
        assert!(
            starts
                .windows(2)
                .all(|pair| pair[1].duration_since(pair[0]).as_hours() == 1)
        );
        assert_eq!(starts[0], utc("2024-03-10T05:00:00Z"));
        assert_eq!(starts[22], utc("2024-03-11T03:00:00Z"));
    }
    // EPT 01:00 (EST) is 06:00 UTC, the next item's EPT 03:00 (EDT) is 07:00 UTC.
    assert_eq!(
        find(&out, "PJM-RTO", "2024-03-10T06:00:00Z").price,
        p("13.452786")
    );
    assert_eq!(
        find(&out, "PJM-RTO", "2024-03-10T07:00:00Z").price,
        p("15.924020")
    );
    let hub = find(&out, "WESTERN HUB", "2024-03-10T07:00:00Z");
    assert_eq!(hub.location_type, LocationType::Hub);
    assert_eq!(hub.price, p("16.037764"));
    assert_eq!(sum(&hub.components), hub.price);
}

#[test]
fn fall_back_day_has_25_hours_and_the_repeated_hour_twice() {
    let bytes = fixture(FALL);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(
        text.matches(r#""datetime_beginning_ept": "2024-11-03T01:00:00""#)
            .count(),
        4,
        "EPT 01:00 appears twice per location"
    );
    let out = parse_ok(&parser(), FALL, &bytes);
    assert!(
        out.rejects.is_empty(),
        "EPT agrees everywhere: {:?}",
        out.rejects
    );
    assert_eq!(out.observations.len(), 2 * 25);
    let mut by_location: BTreeMap<&str, Vec<Timestamp>> = BTreeMap::new();
    for price in prices(&out) {
        assert_eq!(price.product, Product::RealTimeHourly);
        by_location
            .entry(&price.location)
            .or_default()
            .push(price.interval.resolve().unwrap().start);
    }
    for (location, starts) in &by_location {
        let distinct: BTreeSet<_> = starts.iter().collect();
        assert_eq!(distinct.len(), 25, "{location}");
        assert_eq!(starts[0], utc("2024-11-03T04:00:00Z"));
        assert_eq!(starts[24], utc("2024-11-04T04:00:00Z"));
    }
    // EPT 01:00 EDT and 01:00 EST: two instants, two prices.
    let first = find(&out, "PJM-RTO", "2024-11-03T05:00:00Z");
    let repeated = find(&out, "PJM-RTO", "2024-11-03T06:00:00Z");
    assert_eq!(first.price, p("13.452786"));
    assert_eq!(repeated.price, p("13.594020"));
    assert_eq!((first.origin.line, repeated.origin.line), (3, 5));
}

#[test]
fn ept_disagreeing_with_utc_rejects_the_item() {
    // The first EPT 02:00 (07:00 UTC, item 7) written as 01:00.
    let bytes = replace_once(
        &fixture(FALL),
        r#""datetime_beginning_ept": "2024-11-03T02:00:00""#,
        r#""datetime_beginning_ept": "2024-11-03T01:00:00""#,
    );
    let out = parse_ok(&parser(), FALL, &bytes);
    assert_eq!(out.observations.len(), 49);
    assert_eq!(out.rejects.len(), 1);
    let reject = &out.rejects[0];
    assert_reject(
        reject,
        7,
        &[
            "datetime_beginning_ept",
            "2024-11-03T01:00:00",
            "2024-11-03T07:00:00Z",
            "2024-11-03T02:00:00",
            "America/New_York",
        ],
    );
    assert!(
        reject.raw.contains(r#""pnode_name":"PJM-RTO""#),
        "{}",
        reject.raw
    );
    assert!(
        reject.raw.contains(r#""total_lmp_rt":14.621552"#),
        "{}",
        reject.raw
    );
    // An unreadable EPT is a reject too.
    let bytes = replace_once(&fixture(RT_2024), "\"2024-02-20T00:00:00\"", "\"midnight\"");
    let out = parse_ok(&parser(), RT_2024, &bytes);
    assert_reject(&out.rejects[0], 1, &["datetime_beginning_ept", "midnight"]);
    assert_eq!(out.observations.len(), 1);
}

#[test]
fn older_versions_are_emitted_and_lose_to_the_current_one() {
    let items = [
        r#"{"datetime_beginning_utc":"2024-02-20T05:00:00","datetime_beginning_ept":"2024-02-20T00:00:00","pnode_name":"PJM-RTO","type":"ZONE","total_lmp_rt":17.5,"row_is_current":false,"version_nbr":1}"#,
        r#"{"datetime_beginning_utc":"2024-02-20T05:00:00","datetime_beginning_ept":"2024-02-20T00:00:00","pnode_name":"PJM-RTO","type":"ZONE","total_lmp_rt":17.956076,"row_is_current":true,"version_nbr":2}"#,
        r#"{"datetime_beginning_utc":"2024-02-20T06:00:00","pnode_name":"PJM-RTO","total_lmp_rt":18,"row_is_current":false}"#,
    ];
    let out = parse_ok(&parser(), "rt_hrl_lmps.json", &envelope(&items));
    let all = prices(&out);
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].revision, all[0].price), (Some(1), p("17.5")));
    assert_eq!((all[1].revision, all[1].price), (Some(2), p("17.956076")));
    // Normalize keeps the greatest version: the revision dominates publication time, so
    // the current row wins whichever the lake learned first.
    let older = Version {
        revision: all[0].revision,
        published_at: utc("2024-02-21T00:00:00Z"),
    };
    let current = Version {
        revision: all[1].revision,
        published_at: utc("2024-02-20T00:00:00Z"),
    };
    assert!(current > older);
    // A superseded row without a version number cannot be ordered: rejected.
    assert_reject(&out.rejects[0], 3, &["row_is_current", "version_nbr"]);
}

#[test]
fn feed_comes_from_the_file_name_or_the_fields() {
    assert_eq!(
        Feed::from_file_name("x/PJM_rt_fivemin_hrl_lmps_2024.json"),
        Some(Feed::RealTimeFiveMinute)
    );
    assert_eq!(
        Feed::from_file_name("rt_unverified_fivemin_lmps.json"),
        Some(Feed::RealTimeFiveMinuteUnverified)
    );
    assert_eq!(
        Feed::from_file_name("rt_hrl_lmps.json"),
        Some(Feed::RealTimeHourly)
    );
    assert_eq!(
        Feed::from_file_name("da_hrl_lmps.json"),
        Some(Feed::DayAheadHourly)
    );
    assert_eq!(Feed::from_file_name("rt_hrl_lmps/prices.json"), None);

    // Verified five-minute prices.
    let out = parse_ok(&parser(), "rt_fivemin_hrl_lmps_1.json", &fixture(RT5));
    let first = prices(&out)[0];
    assert_eq!(first.product, Product::RealTime5MinFinal);
    assert_eq!(
        first.interval.resolve().unwrap().end,
        utc("2026-06-10T19:15:00Z")
    );
    // No feed in the name: `total_lmp_da` says day-ahead hourly...
    let out = parse_ok(&parser(), "prices.json", &fixture(DA));
    assert_eq!(out.observations.len(), 552);
    assert_eq!(prices(&out)[0].product, Product::DayAheadHourly);
    // ... but `total_lmp_rt` could be hourly or five-minute: refused, asking for `product`.
    let error = parse(&parser(), "prices.json", &fixture(RT5)).unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    let message = error.to_string();
    for fragment in [
        "prices.json",
        "total_lmp_rt",
        "rt_unverified_fivemin_lmps",
        "`product`",
    ] {
        assert!(message.contains(fragment), "{message}");
    }
    // `product` reads it, and overrides a name's feed.
    let five = PjmDataMiner::new(Some(Product::RealTime5Min)).unwrap();
    let out = parse_ok(&five, "prices.json", &fixture(RT5));
    assert_eq!(out.observations.len(), 154);
    assert_eq!(prices(&out)[0].product, Product::RealTime5Min);
    let out = parse_ok(&five, RT_2024, &fixture(RT_2024));
    assert_eq!(prices(&out)[0].product, Product::RealTime5Min);
    assert_eq!(
        prices(&out)[0].interval.resolve().unwrap().end,
        utc("2024-02-20T05:05:00Z")
    );
    assert!(PjmDataMiner::new(Some(Product::Daily)).is_err());
    assert!(PjmDataMiner::new(Some(Product::RealTime15Min)).is_err());
}

#[test]
fn bare_array_of_items_is_accepted() {
    let text = String::from_utf8(fixture(DA)).unwrap();
    let start = text.find("\"items\":").unwrap() + "\"items\":".len();
    let end = text.find(",\"searchSpecification\"").unwrap();
    let out = parse_ok(&parser(), DA, &text.as_bytes()[start..end]);
    assert_eq!(out.observations.len(), 552);
    assert_eq!(parse_ok(&parser(), DA, b"[]").observations.len(), 0);
}

#[test]
fn location_types_follow_the_pnode_type() {
    assert_eq!(location_type(Some("ZONE")), LocationType::Zone);
    assert_eq!(
        location_type(Some("RESIDUAL_METERED_EDC")),
        LocationType::Zone
    );
    assert_eq!(location_type(Some("HUB")), LocationType::Hub);
    for kind in ["AGGREGATE", "INTERFACE", "GEN", "LOAD", "EHV", "EXT", ""] {
        assert_eq!(location_type(Some(kind)), LocationType::Node, "{kind}");
    }
    assert_eq!(location_type(None), LocationType::Node);
}

#[test]
fn renamed_field_in_the_first_item_is_a_header_error() {
    let bytes = replace_once(&fixture(DA), "\"pnode_name\"", "\"pnode\"");
    let error = parse(&parser(), DA, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, "datetime_beginning_utc,pnode_name,total_lmp_da");
    assert_eq!(
        found,
        "datetime_beginning_utc,pnode_id,pnode,type,total_lmp_da"
    );
    assert_eq!(missing, &["pnode_name".to_string()]);
    assert!(error.to_string().contains("pjm_dataminer"), "{error}");
    assert_eq!(error.raw(), found);
    // A real-time file named as day-ahead lacks `total_lmp_da`.
    let error = parse(&parser(), "da_hrl_lmps.json", &fixture(RT5)).unwrap_err();
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["total_lmp_da"]),
        "{error:?}"
    );
}

#[test]
fn malformed_items_are_rejected_by_ordinal() {
    let items = [
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"A","type":"ZONE","total_lmp_da":1.5}"#,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"B","total_lmp_da":"n/a"}"#,
        r#"{"datetime_beginning_utc":"tomorrow","pnode_name":"C","total_lmp_da":2}"#,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"D","total_lmp_da":null}"#,
        r#"42"#,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","total_lmp_da":3}"#,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"E","total_lmp_da":4,"congestion_price_da":[1]}"#,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"F","total_lmp_da":5,"version_nbr":1.5}"#,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"G","total_lmp_da":1e30}"#,
        r#"{"datetime_beginning_utc":"2026-06-09T05:00:00","pnode_name":"A\u00c9","type":"HUB","total_lmp_da":6,"extra":{"x":[1,2]}}"#,
    ];
    let out = parse_ok(&parser(), "da_hrl_lmps.json", &envelope(&items));
    let names: Vec<_> = prices(&out)
        .iter()
        .map(|price| price.location.to_string())
        .collect();
    assert_eq!(names, ["A", "AÉ"]);
    let lines: Vec<_> = out.rejects.iter().map(|r| r.origin.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9]);
    assert_reject(
        &out.rejects[0],
        2,
        &["total_lmp_da", "a string, not a number"],
    );
    assert_eq!(
        out.rejects[0].raw,
        r#"{"datetime_beginning_utc":"2026-06-09T04:00:00","pnode_name":"B","total_lmp_da":"n/a"}"#
    );
    assert_reject(&out.rejects[1], 3, &["datetime_beginning_utc", "tomorrow"]);
    assert_reject(&out.rejects[2], 4, &["total_lmp_da", "null"]);
    assert_reject(&out.rejects[3], 5, &["a number, not an object"]);
    assert_reject(&out.rejects[4], 6, &["missing `pnode_name`"]);
    assert_reject(&out.rejects[5], 7, &["congestion_price_da", "an array"]);
    assert_reject(&out.rejects[6], 8, &["version_nbr", "not an integer"]);
    assert_reject(&out.rejects[7], 9, &["total_lmp_da", "out of range"]);
}

#[test]
fn whole_file_problems() {
    let parser = parser();
    assert_eq!(parse(&parser, DA, b"").unwrap_err().reason(), "empty file");
    assert_eq!(
        parse(&parser, DA, b" \n").unwrap_err().kind,
        FileErrorKind::Empty
    );
    let bytes = fixture(RT_2024);
    let error = parse(&parser, RT_2024, &bytes[..bytes.len() - 200]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { line, .. } if line > 40),
        "{error}"
    );
    let error = parse(&parser, DA, b"{\"links\": [], \"totalRows\": 0}").unwrap_err();
    assert!(error.to_string().contains("without `items`"), "{error}");
    let error = parse(&parser, DA, b"{\"items\": 3}").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    let error = parse(&parser, DA, b"\"text\"").unwrap_err();
    assert!(error.to_string().contains("found a string"), "{error}");
    let error = parse(&parser, DA, b"{\"items\": []} x").unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { .. }),
        "{error}"
    );
    let error = parse(&parser, DA, b"[\xff]").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Encoding(_)), "{error}");
}
