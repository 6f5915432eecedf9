use super::basis::GasBasisCsv;
use super::eia_api::EiaApiV2;
use super::eia_csv::{self, EiaSpotCsv};
use super::*;
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::UtcInterval;
use jiff::civil::date;

const EIA_CSV: &str = "gas/Henry_Hub_Natural_Gas_Spot_Price.csv";
const EIA_API: &str = "gas/eia_api_v2_rngwhhd_2022-12.json";
const BASIS: &str = "gas/gas_basis_2024_sample.csv";

fn price_on<'a>(
    prices: &[&'a PublishedPrice],
    location: &str,
    day: Date,
) -> Option<&'a PublishedPrice> {
    prices.iter().copied().find(|price| {
        &*price.location == location
            && matches!(&price.interval, NativeInterval::Day { date, .. } if *date == day)
    })
}

fn chicago_day(day: Date) -> NativeInterval {
    NativeInterval::Day {
        date: day,
        clock: MarketClock::zone(CLOCK),
    }
}

#[test]
fn eia_csv_spot_values_and_rows() {
    let out = parse_ok(&EiaSpotCsv, EIA_CSV, &fixture(EIA_CSV));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects.first());
    let prices = prices(&out);
    // 6,519 data rows, one of them (01/5/2018) without a value.
    assert_eq!(prices.len(), 6518);
    let first = prices[0];
    assert_eq!(first.market, Market::Gas);
    assert_eq!(first.product, Product::Daily);
    assert_eq!(&*first.location, "HENRY_HUB");
    assert_eq!(first.location_type, LocationType::Hub);
    assert_eq!(first.currency, Currency::USD);
    assert_eq!(first.unit, Unit::MillionBtu);
    assert_eq!(first.components, Components::default());
    assert_eq!(first.interval, chicago_day(date(2022, 12, 13)));
    assert_eq!(first.price, p("7.2"));
    assert_eq!(
        first.origin.line, 6,
        "after 4 preamble lines and the header"
    );
    // Central standard time: the trade date runs 06:00Z..06:00Z.
    assert_eq!(
        first.interval.resolve().unwrap(),
        UtcInterval {
            start: utc("2022-12-13T06:00:00Z"),
            end: utc("2022-12-14T06:00:00Z"),
        }
    );
    let covid = price_on(&prices, "HENRY_HUB", date(2020, 3, 13)).unwrap();
    assert_eq!(covid.price, p("1.94"));
    assert_eq!(covid.origin.line, 695);
    // Daylight time from 2020-03-08: 05:00Z.
    assert_eq!(start_of(covid), utc("2020-03-13T05:00:00Z"));
    let last = *prices.last().unwrap();
    assert_eq!(last.interval, chicago_day(date(1997, 1, 7)));
    assert_eq!(last.price, p("3.82"));
    assert_eq!(last.origin.line, 6524);
    // Day without the zero pad.
    assert_eq!(
        price_on(&prices, "HENRY_HUB", date(1997, 1, 9))
            .unwrap()
            .price,
        p("3.61")
    );
    assert!(price_on(&prices, "HENRY_HUB", date(2018, 1, 5)).is_none());
    for price in &prices {
        price.interval.resolve().unwrap();
    }
}

#[test]
fn eia_csv_takes_the_hub_from_the_header() {
    let bytes = replace_once(
        &fixture(EIA_CSV),
        "Day,Henry Hub Natural",
        "Day,Waha Natural",
    );
    let out = parse_ok(&EiaSpotCsv, EIA_CSV, &bytes);
    assert_eq!(&*prices(&out)[0].location, "WAHA");
    // A file without the preamble reads the same.
    let out = parse_ok(
        &EiaSpotCsv,
        "hh.csv",
        b"Day,Henry Hub Natural Gas Spot Price Dollars per Million Btu\n12/13/2022,7.2\n",
    );
    assert_eq!(prices(&out)[0].price, p("7.2"));
    assert_eq!(prices(&out)[0].origin.line, 2);
    assert_eq!(
        hub_location("SoCal Citygate Spot Price"),
        Some("SOCAL_CITYGATE".into())
    );
    assert_eq!(
        hub_location("Henry Hub Natural Gas Spot Price (Dollars per Million Btu)"),
        Some("HENRY_HUB".into())
    );
    assert_eq!(hub_location(" Natural Gas Spot Price"), None);
}

#[test]
fn eia_csv_header_problems_name_expected_and_found() {
    let bytes = replace_once(&fixture(EIA_CSV), "Day,Henry", "Date,Henry");
    let error = parse(&EiaSpotCsv, EIA_CSV, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, eia_csv::HEADER);
    assert_eq!(
        found,
        "Date,Henry Hub Natural Gas Spot Price Dollars per Million Btu"
    );
    assert_eq!(missing, &["Day".to_string()]);
    // A petroleum series in another unit.
    let bytes = replace_once(
        &fixture(EIA_CSV),
        "Dollars per Million Btu",
        "Dollars per Barrel",
    );
    let error = parse(&EiaSpotCsv, EIA_CSV, &bytes).unwrap_err();
    assert!(error.to_string().contains("Dollars per Barrel"), "{error}");
    assert!(
        error.to_string().contains("Dollars per Million Btu"),
        "{error}"
    );
    // Only a preamble.
    let error = parse(
        &EiaSpotCsv,
        EIA_CSV,
        b"Henry Hub Natural Gas Spot Price\r\nsource\r\n",
    )
    .unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Header { .. }),
        "{error:?}"
    );
    assert_eq!(
        parse(&EiaSpotCsv, EIA_CSV, b"").unwrap_err().reason(),
        "empty file"
    );
}

#[test]
fn eia_csv_malformed_rows_are_rejected_with_their_line() {
    let bytes = replace_once(&fixture(EIA_CSV), "12/12/2022,6.73", "12/12/2022,n/a");
    let bytes = replace_once(&bytes, "12/9/2022,4.98", "2022-12-09,4.98");
    let bytes = replace_once(&bytes, "12/8/2022,4.79", "12/8/2022,4.79,1");
    let out = parse_ok(&EiaSpotCsv, EIA_CSV, &bytes);
    assert_eq!(out.rejects.len(), 3, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 7, &["n/a"]);
    assert_eq!(out.rejects[0].raw, "12/12/2022,n/a");
    assert_reject(&out.rejects[1], 8, &["Day", "2022-12-09", "MM/DD/YYYY"]);
    assert_reject(&out.rejects[2], 9, &["expected 2 fields, found 3"]);
    assert_eq!(prices(&out).len(), 6515);
    assert_eq!(prices(&out)[0].price, p("7.2"));
}

#[test]
fn products_other_than_daily_are_refused() {
    assert!(EiaSpotCsv::new(Some(Product::Daily)).is_ok());
    assert!(EiaSpotCsv::new(Some(Product::DayAheadHourly)).is_err());
    assert!(EiaApiV2::new(Some(Product::RealTime5Min)).is_err());
    let error = GasBasisCsv::new(Some(Product::RealTimeHourly)).unwrap_err();
    assert!(error.to_string().contains("DAILY"), "{error}");
}

#[test]
fn eia_api_matches_the_csv_download() {
    let out = parse_ok(&EiaApiV2, EIA_API, &fixture(EIA_API));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let api = prices(&out);
    assert_eq!(api.len(), 9);
    let first = api[0];
    assert_eq!(&*first.location, "HENRY_HUB");
    assert_eq!(first.interval, chicago_day(date(2022, 12, 13)));
    assert_eq!(first.price, p("7.2"));
    assert_eq!(first.origin.line, 1, "the item's ordinal");
    assert_eq!(api[8].origin.line, 9);
    assert_eq!(api[8].price, p("6.33"));
    let csv = parse_ok(&EiaSpotCsv, EIA_CSV, &fixture(EIA_CSV));
    let csv = prices(&csv);
    for price in &api {
        let NativeInterval::Day { date, .. } = price.interval else {
            panic!("{price:?}");
        };
        let same = price_on(&csv, "HENRY_HUB", date).unwrap();
        assert_eq!(same.price, price.price, "{date}");
        assert_eq!(same.interval, price.interval);
        assert_eq!(
            (same.market, same.product, same.location_type, same.unit),
            (price.market, price.product, price.location_type, price.unit)
        );
    }
}

fn api_answer(items: &str) -> Vec<u8> {
    format!(
        r#"{{"response":{{"total":"1","dateFormat":"YYYY-MM-DD","frequency":"daily","data":[{items}]}},"request":{{"command":"/v2/natural-gas/pri/fut/data/"}},"apiVersion":"2.1.8"}}"#
    )
    .into_bytes()
}

fn api_item(series: &str, process: &str, description: &str, value: &str) -> String {
    format!(
        r#"{{"period":"2024-01-02","duoarea":"RGC","area-name":"NA","product":"EPG0","product-name":"Natural Gas","process":"PS0","process-name":"{process}","series":"{series}","series-description":"{description}","value":{value},"units":"$/MMBTU"}}"#
    )
}

#[test]
fn eia_api_values_may_be_numbers_strings_or_null() {
    let spot = |value: &str| {
        api_item(
            "RNGWHHD",
            "Spot Price",
            "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)",
            value,
        )
    };
    let items = [
        spot("2.57"),
        spot("\"2.57\""),
        spot("null"),
        spot("\".306\""),
    ]
    .join(",");
    let out = parse_ok(&EiaApiV2, "api.json", &api_answer(&items));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let values: Vec<_> = prices(&out).iter().map(|price| price.price).collect();
    assert_eq!(values, [p("2.57"), p("2.57"), p("0.306")]);
    assert_eq!(prices(&out)[2].origin.line, 4, "the null item still counts");
    assert_eq!(start_of(prices(&out)[0]), utc("2024-01-02T06:00:00Z"));
}

#[test]
fn eia_api_rejects_futures_and_bad_items() {
    let items = [
        api_item(
            "RNGC1",
            "Future Contract 1",
            "Natural Gas Futures Contract 1 (Dollars per Million Btu)",
            "\"2.64\"",
        ),
        api_item(
            "RNGWHHD",
            "Spot Price",
            "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)",
            "\"abc\"",
        ),
        api_item(
            "RNGWHHD",
            "Spot Price",
            "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)",
            "true",
        ),
        api_item(
            "RNGWHHD",
            "Spot Price",
            "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)",
            "\"2.5\"",
        )
        .replace("2024-01-02", "01/02/2024"),
        api_item(
            "RNGWHHD",
            "Spot Price",
            "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)",
            "\"2.5\"",
        )
        .replace("$/MMBTU", "$/BBL"),
        "7".to_string(),
        api_item(
            "RNGWHHD",
            "Spot Price",
            "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)",
            "\"-0.5\"",
        ),
    ]
    .join(",");
    let out = parse_ok(&EiaApiV2, "api.json", &api_answer(&items));
    assert_eq!(out.rejects.len(), 6, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 1, &["RNGC1", "Futures Contract 1", "spot"]);
    assert!(out.rejects[0].raw.contains("\"series\":\"RNGC1\""));
    assert_reject(&out.rejects[1], 2, &["`value`", "abc"]);
    assert_reject(&out.rejects[2], 3, &["`value` true is not a number"]);
    assert_reject(&out.rejects[3], 4, &["`period` `01/02/2024`"]);
    assert_reject(&out.rejects[4], 5, &["$/BBL"]);
    assert_reject(&out.rejects[5], 6, &["must be an object"]);
    let prices = prices(&out);
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].price, p("-0.5"), "negative prices are kept");
    assert_eq!(prices[0].origin.line, 7);
}

#[test]
fn eia_api_whole_answer_problems() {
    let error = parse(
        &EiaApiV2,
        "api.json",
        br#"{"error":"Invalid frequency 'yearly' provided.","code":400}"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("Invalid frequency"), "{error}");
    let monthly = replace_once(
        &fixture(EIA_API),
        "\"frequency\":\"daily\"",
        "\"frequency\":\"monthly\"",
    );
    let error = parse(&EiaApiV2, EIA_API, &monthly).unwrap_err();
    assert!(error.to_string().contains("monthly"), "{error}");
    let error = parse(&EiaApiV2, EIA_API, b"[1,2]").unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Structure(_)),
        "{error:?}"
    );
    let error = parse(&EiaApiV2, EIA_API, br#"{"response":{"data":7}}"#).unwrap_err();
    assert!(error.to_string().contains("`data`"), "{error}");
    let truncated = &fixture(EIA_API)[..500];
    let error = parse(&EiaApiV2, EIA_API, truncated).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { line: 1, .. }),
        "{error:?}"
    );
}

#[test]
fn basis_rows_carry_henry_hub_and_the_basis() {
    let out = parse_ok(&GasBasisCsv, BASIS, &fixture(BASIS));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 20);
    let locations: std::collections::BTreeSet<_> =
        prices.iter().map(|price| &*price.location).collect();
    assert_eq!(locations.len(), 5);
    // Waha below zero in the Permian glut.
    let waha = price_on(&prices, "WAHA", date(2024, 5, 6)).unwrap();
    assert_eq!(waha.price, p("-2.79"));
    assert_eq!(waha.components.energy, Some(p("1.955")));
    assert_eq!(waha.components.congestion, Some(p("-4.745")));
    assert_eq!(waha.components.loss, None);
    assert_eq!(waha.location_type, LocationType::Hub);
    assert_eq!(waha.origin.line, 15);
    assert_eq!(start_of(waha), utc("2024-05-06T05:00:00Z"));
    // Algonquin's winter spike.
    let algonquin = price_on(&prices, "ALGONQUIN_CITYGATES", date(2024, 1, 17)).unwrap();
    assert_eq!(algonquin.price, p("34.25"));
    assert_eq!(algonquin.components.congestion, Some(p("31.295")));
    for price in &prices {
        let components = price.components;
        let sum = components
            .energy
            .unwrap()
            .checked_add(components.congestion.unwrap())
            .unwrap();
        assert_eq!(sum, price.price, "{price:?}");
        let henry = price_on(
            &prices,
            "HENRY_HUB",
            match price.interval {
                NativeInterval::Day { date, .. } => date,
                _ => unreachable!(),
            },
        )
        .unwrap();
        assert_eq!(components.energy, Some(henry.price));
    }
}

#[test]
fn gas_days_across_daylight_saving_changes() {
    let bytes = b"trade_date,hub,index_usd_per_mmbtu\n\
        2024-03-09,HENRY_HUB,1.50\n2024-03-10,HENRY_HUB,1.51\n2024-03-11,HENRY_HUB,1.52\n\
        2024-11-03,HENRY_HUB,2.10\n";
    let out = parse_ok(&GasBasisCsv, "dst.csv", bytes);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let hours: Vec<i64> = prices(&out)
        .iter()
        .map(|price| {
            let interval = price.interval.resolve().unwrap();
            interval.end.duration_since(interval.start).as_hours()
        })
        .collect();
    assert_eq!(hours, [24, 23, 24, 25]);
    let spring = prices(&out)[1].interval.resolve().unwrap();
    assert_eq!(spring.start, utc("2024-03-10T06:00:00Z"));
    assert_eq!(spring.end, utc("2024-03-11T05:00:00Z"));
    // Without a basis column there are no components.
    assert_eq!(prices(&out)[0].components, Components::default());
}

#[test]
fn basis_header_and_row_problems() {
    let bytes = replace_once(&fixture(BASIS), "index_usd_per_mmbtu", "index");
    let error = parse(&GasBasisCsv, BASIS, &bytes).unwrap_err();
    let FileErrorKind::Header { found, missing, .. } = &error.kind else {
        panic!("{error:?}");
    };
    assert_eq!(found, "trade_date,hub,basis_usd_per_mmbtu,index");
    assert_eq!(missing, &["index_usd_per_mmbtu".to_string()]);
    assert!(error.to_string().contains(basis::HEADER), "{error}");

    let bytes = replace_once(
        &fixture(BASIS),
        "2024-01-16,WAHA,5.245,8.350",
        "2024-01-16,WAHA,5.245,",
    );
    let bytes = replace_once(
        &bytes,
        "2024-01-17,WAHA,0.630,3.585",
        "17/01/2024,WAHA,0.630,3.585",
    );
    let bytes = replace_once(
        &bytes,
        "2024-05-06,WAHA,-4.745,-2.790",
        "2024-05-06,WAHA,-4.745",
    );
    let bytes = replace_once(&bytes, "2024-05-07,WAHA,-3.660,", "2024-05-07,,-3.660,");
    let bytes = replace_once(
        &bytes,
        "2024-05-07,SOCAL_CITYGATE,0.190",
        "2024-05-07,SOCAL_CITYGATE,x",
    );
    let out = parse_ok(&GasBasisCsv, BASIS, &bytes);
    assert_eq!(out.rejects.len(), 5, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 5, &["index_usd_per_mmbtu"]);
    assert_reject(&out.rejects[1], 10, &["trade_date", "17/01/2024"]);
    assert_reject(&out.rejects[2], 15, &["expected 4 fields, found 3"]);
    assert_reject(&out.rejects[3], 20, &["empty `hub`"]);
    assert_reject(&out.rejects[4], 21, &["basis_usd_per_mmbtu", "x"]);
    assert_eq!(prices(&out).len(), 15);
}
