use std::collections::{BTreeMap, BTreeSet};

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Currency, LocationType, Market, MarketClock, NativeInterval, Occurrence, Price,
    Product, PublishedPrice, Unit,
};
use jiff::civil::date;

use super::lmp::{self, IesoRtLmp};
use super::zonal::{self, IesoDaZonal};
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};

const DA: &str = "ieso/da_hourly_ontario_zonal_price_report_20260528.xml";
const HOUR_3: &str = "ieso/PUB_RealtimeEnergyLMP_2025110203.csv";
const HOUR_4: &str = "ieso/PUB_RealtimeEnergyLMP_2025110204.csv";

fn da() -> IesoDaZonal {
    IesoDaZonal::new(None).unwrap()
}

fn rt() -> IesoRtLmp {
    IesoRtLmp::new(None).unwrap()
}

fn sum(price: &PublishedPrice) -> Price {
    let parts = &price.components;
    [parts.energy, parts.loss, parts.congestion]
        .into_iter()
        .map(Option::unwrap)
        .fold(Price::ZERO, |a, b| a.checked_add(b).unwrap())
}

fn at<'a>(out: &'a SourceOutput, location: &str, start: &str) -> &'a PublishedPrice {
    let start = utc(start);
    prices(out)
        .into_iter()
        .find(|price| &*price.location == location && start_of(price) == start)
        .unwrap_or_else(|| panic!("no {location} at {start}"))
}

#[test]
fn da_zonal_real_report_is_pinned() {
    let out = parse_ok(&da(), DA, &fixture(DA));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 24);
    let first = prices[0];
    assert_eq!(first.market, Market::Ieso);
    assert_eq!(first.product, Product::DayAheadHourly);
    assert_eq!(&*first.location, "ONTARIO");
    assert_eq!(first.location_type, LocationType::Zone);
    assert_eq!(first.currency, Currency::CAD);
    assert_eq!(first.unit, Unit::MegawattHour);
    assert_eq!(
        first.interval,
        NativeInterval::HourEnding {
            date: date(2026, 5, 28),
            hour_ending: 1,
            clock: MarketClock::FixedOffsetMinutes(-300),
            occurrence: Occurrence::Unstated,
        }
    );
    // Hour ending 1 EST starts at 00:00 EST = 05:00Z, although Toronto is on EDT in May.
    assert_eq!(start_of(first), utc("2026-05-28T05:00:00Z"));
    assert_eq!(first.price, p("17.76"));
    assert_eq!(first.components.loss, Some(p("0.02")));
    assert_eq!(first.components.congestion, Some(p("-0.26")));
    assert_eq!(first.components.energy, Some(p("18")));
    assert_eq!(first.origin.line, 14);
    assert_eq!(first.revision, Some(1), "the report's DocRevision");
    assert_eq!(first.published_at, Some(utc("2026-05-27T17:31:16Z")));

    assert_eq!(prices[6].price, p("48.46"));
    assert_eq!(start_of(prices[6]), utc("2026-05-28T11:00:00Z"));
    // `<ZonalPrice>45</ZonalPrice>`: an integer written without decimals.
    let hour_8 = prices[7];
    assert_eq!(hour_8.price.micros(), 45_000_000);
    assert_eq!(hour_8.components.energy, Some(p("41.49")));
    assert_eq!(hour_8.origin.line, 63);
    let last = prices[23];
    assert_eq!(last.price, p("26.01"));
    assert_eq!(last.components.congestion, Some(p("5.03")));
    assert_eq!(last.components.energy, Some(p("21.01")));
    assert_eq!(start_of(last), utc("2026-05-29T04:00:00Z"));
    assert!(prices.iter().all(|price| sum(price) == price.price));
}

#[test]
fn da_zonal_renamed_element_is_one_header_error() {
    let bytes = replace_once(
        &fixture(DA),
        "<ZonalPrice>17.76</ZonalPrice>",
        "<Price>17.76</Price>",
    );
    let error = parse(&da(), DA, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, zonal::ELEMENTS);
    assert_eq!(
        found,
        "PricingHour,Price,LossPriceCapped,CongestionPriceCapped,Flag"
    );
    assert_eq!(missing, &["ZonalPrice".to_string()]);
    assert!(error.to_string().contains("ieso_da_zonal"), "{error}");
}

#[test]
fn da_zonal_bad_hours_are_rejected_at_their_line() {
    let bytes = replace_once(&fixture(DA), "<ZonalPrice>48.46<", "<ZonalPrice>n/a<");
    let out = parse_ok(&da(), DA, &bytes);
    assert_eq!(out.observations.len(), 23);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 56, &["ZonalPrice", "n/a"]);
    assert!(out.rejects[0].raw.contains("<PricingHour>7</PricingHour>"));

    let bytes = replace_once(
        &fixture(DA),
        "<PricingHour>24</PricingHour>",
        "<PricingHour>25</PricingHour>",
    );
    let out = parse_ok(&da(), DA, &bytes);
    assert_eq!(out.observations.len(), 23);
    assert_reject(&out.rejects[0], 175, &["PricingHour", "25", "1-24"]);

    let bytes = replace_once(
        &fixture(DA),
        "<PricingHour>2</PricingHour>",
        "<PricingHour>1</PricingHour>",
    );
    let out = parse_ok(&da(), DA, &bytes);
    assert_reject(&out.rejects[0], 21, &["appears twice"]);

    let bytes = replace_once(&fixture(DA), "<LossPriceCapped>0.07</LossPriceCapped>", "");
    let out = parse_ok(&da(), DA, &bytes);
    assert_reject(&out.rejects[0], 28, &["missing <LossPriceCapped>"]);
}

#[test]
fn da_zonal_whole_file_problems() {
    assert_eq!(parse(&da(), DA, b" \n").unwrap_err().reason(), "empty file");
    let bytes = fixture(DA);
    let error = parse(&da(), DA, &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { .. }),
        "{error}"
    );
    let bytes = replace_once(&fixture(DA), "<DeliveryDate>2026-05-28</DeliveryDate>", "");
    let error = parse(&da(), DA, &bytes).unwrap_err();
    assert!(error.to_string().contains("DeliveryDate"), "{error}");
    let bytes = replace_once(
        &fixture(DA),
        "<DeliveryDate>2026-05-28<",
        "<DeliveryDate>28/05/2026<",
    );
    let error = parse(&da(), DA, &bytes).unwrap_err();
    assert!(error.to_string().contains("28/05/2026"), "{error}");
    let bytes = replace_once(
        &fixture(DA),
        "docID=\"DAHourlyOntarioZonalPrice\"",
        "docID=\"RealtimeOntarioZonalPrice\"",
    );
    let error = parse(&da(), DA, &bytes).unwrap_err();
    assert!(
        error.to_string().contains("RealtimeOntarioZonalPrice"),
        "{error}"
    );
    let error = parse(&da(), DA, b"<?xml version=\"1.0\"?><Other/>").unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    assert!(IesoDaZonal::new(Some(Product::RealTime5Min)).is_err());
    let parser = IesoDaZonal::new(Some(Product::DayAheadHourlyExPost)).unwrap();
    assert_eq!(
        prices(&parse_ok(&parser, DA, &fixture(DA)))[0].product,
        Product::DayAheadHourlyExPost
    );
}

#[test]
fn rt_lmp_hour_file_is_pinned() {
    // Line 3: 3,1,ABITIBISF-LT.AG_T1,15.87,-0.99,-0.43
    let out = parse_ok(&rt(), HOUR_3, &fixture(HOUR_3));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 36);
    let first = prices[0];
    assert_eq!(first.market, Market::Ieso);
    assert_eq!(first.product, Product::RealTime5Min);
    assert_eq!(&*first.location, "ABITIBISF-LT.AG_T1");
    assert_eq!(first.location_type, LocationType::Node);
    assert_eq!(first.currency, Currency::CAD);
    assert_eq!(
        first.interval,
        NativeInterval::Local {
            time: date(2025, 11, 2).at(2, 0, 0, 0),
            anchor: Anchor::Start,
            minutes: 5,
            clock: MarketClock::FixedOffsetMinutes(-300),
            occurrence: Occurrence::Unstated,
        }
    );
    // 02:00 EST on the fall-back day: Toronto's wall clock reads 02:00 EST too, but
    // 01:00 EST (hour 2) would be Toronto's repeated hour; EST needs no flag.
    assert_eq!(start_of(first), utc("2025-11-02T07:00:00Z"));
    assert_eq!(first.price, p("15.87"));
    assert_eq!(first.components.loss, Some(p("-0.99")));
    assert_eq!(first.components.congestion, Some(p("-0.43")));
    assert_eq!(first.components.energy, Some(p("17.29")));
    assert_eq!(first.origin.line, 3);
    assert_eq!(first.published_at, Some(utc("2025-11-02T08:04:26Z")));
    assert_eq!(first.revision, None);
    let zone = prices[1];
    assert_eq!(&*zone.location, "BRUCE_GEN:PZ");
    assert_eq!(zone.location_type, LocationType::Zone);
    // Line 38, the last: hour 3 interval 12 starts at 02:55 EST.
    assert_eq!(start_of(prices[35]), utc("2025-11-02T07:55:00Z"));
    assert_eq!(prices[35].origin.line, 38);
    assert!(prices.iter().all(|price| sum(price) == price.price));
}

#[test]
fn rt_lmp_dst_day_has_24_hours_of_288_est_intervals() {
    let mut out = SourceOutput::default();
    for hour in 1..=24 {
        let name = format!("ieso/PUB_RealtimeEnergyLMP_20251102{hour:02}.csv");
        let file = parse_ok(&rt(), &name, &fixture(&name));
        assert!(file.rejects.is_empty(), "{name}: {:?}", file.rejects);
        out.observations.extend(file.observations);
    }
    let mut starts: BTreeMap<&str, BTreeSet<_>> = BTreeMap::new();
    for price in prices(&out) {
        starts
            .entry(&*price.location)
            .or_default()
            .insert(price.interval.resolve().unwrap().start);
    }
    assert_eq!(starts.len(), 3);
    for (location, starts) in &starts {
        assert_eq!(starts.len(), 288, "{location}");
        let starts: Vec<_> = starts.iter().copied().collect();
        assert_eq!(starts[0], utc("2025-11-02T05:00:00Z"));
        assert_eq!(starts[287], utc("2025-11-03T04:55:00Z"));
        assert!(
            starts
                .windows(2)
                .all(|pair| pair[1].duration_since(pair[0]).as_mins() == 5)
        );
    }
    // Hour 2 interval 1, 01:00 EST: one instant, 06:00Z (Toronto shows 01:00 twice).
    assert_eq!(
        at(&out, "ABITIBISF-LT.AG_T1", "2025-11-02T06:00:00Z").price,
        p("20.17")
    );
    // A negative LMP is kept: hour 4 interval 3 (03:10 EST).
    let negative = at(&out, "BRUCE_GEN:PZ", "2025-11-02T08:10:00Z");
    assert_eq!(negative.price, p("-3.41"));
    assert_eq!(negative.components.congestion, Some(p("-21.95")));
    assert_eq!(negative.components.energy, Some(p("19.42")));
    // Hour 24's file is created after midnight; its `FOR` date is still the delivery day.
    let last = at(&out, "BRUCE_SOUTHWEST_LOAD:PZ", "2025-11-03T04:55:00Z");
    assert_eq!(last.price, p("25.72"));
    assert_eq!(last.published_at, Some(utc("2025-11-03T05:04:41Z")));
}

#[test]
fn rt_lmp_renamed_header_names_expected_and_found() {
    let bytes = replace_once(
        &fixture(HOUR_3),
        "Pricing Location,LMP,",
        "Pricing Location,Price,",
    );
    let error = parse(&rt(), HOUR_3, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, lmp::HEADER);
    assert_eq!(
        found,
        "Delivery Hour,Interval,Pricing Location,Price,Energy Loss Price,Energy Congestion Price"
    );
    assert_eq!(missing, &["LMP".to_string()]);
    assert_eq!(error.raw(), found);
}

#[test]
fn rt_lmp_malformed_rows_are_rejected_with_their_line() {
    let bytes = replace_once(
        &fixture(HOUR_3),
        "3,1,BRUCE_GEN:PZ,12.37,",
        "3,1,BRUCE_GEN:PZ,n/a,",
    );
    let out = parse_ok(&rt(), HOUR_3, &bytes);
    assert_eq!(out.observations.len(), 35);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 4, &["LMP", "n/a"]);
    assert_eq!(out.rejects[0].raw, "3,1,BRUCE_GEN:PZ,n/a,-0.62,-4.3");

    let bytes = replace_once(&fixture(HOUR_3), "3,2,ABITIBISF", "3,13,ABITIBISF");
    let out = parse_ok(&rt(), HOUR_3, &bytes);
    assert_reject(&out.rejects[0], 6, &["`Interval` `13`", "1-12"]);

    let bytes = replace_once(&fixture(HOUR_3), "3,1,ABITIBISF", "0,1,ABITIBISF");
    let out = parse_ok(&rt(), HOUR_3, &bytes);
    assert_reject(&out.rejects[0], 3, &["Delivery Hour", "1-24"]);

    let bytes = replace_once(&fixture(HOUR_3), ",0.4,0.59\n", ",0.4\n");
    let out = parse_ok(&rt(), HOUR_3, &bytes);
    assert_eq!(out.observations.len(), 35);
    assert_reject(&out.rejects[0], 5, &["expected 6 fields, found 5"]);
}

#[test]
fn rt_lmp_date_from_preamble_or_file_name() {
    let bytes = fixture(HOUR_3);
    let text = String::from_utf8(bytes.clone()).unwrap();
    let without_preamble = text.split_once('\n').unwrap().1;
    // No preamble: the date comes from the name and lines count from the header.
    let out = parse_ok(&rt(), HOUR_3, without_preamble.as_bytes());
    assert_eq!(out.observations.len(), 36);
    assert_eq!(start_of(prices(&out)[0]), utc("2025-11-02T07:00:00Z"));
    assert_eq!(prices(&out)[0].origin.line, 2);
    assert_eq!(prices(&out)[0].published_at, None);
    let error = parse(&rt(), "ieso/latest.csv", without_preamble.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("delivery date"), "{error}");
    // The preamble's date wins over the name; a version in the name is not a revision.
    let out = parse_ok(&rt(), "PUB_RealtimeEnergyLMP_2025110303_v12.csv", &bytes);
    assert_eq!(start_of(prices(&out)[0]), utc("2025-11-02T07:00:00Z"));
    assert_eq!(prices(&out)[0].revision, None);
    let bad = replace_once(&bytes, "FOR 2025/11/02", "FOR tomorrow");
    let error = parse(&rt(), HOUR_3, &bad).unwrap_err();
    assert!(error.to_string().contains(lmp::PREAMBLE), "{error}");
    // `:LMP` suffixes are dropped so a node keeps one name.
    let suffixed = replace_once(
        &bytes,
        "3,1,ABITIBISF-LT.AG_T1,",
        "3,1,ABITIBISF-LT.AG_T1:LMP,",
    );
    let out = parse_ok(&rt(), HOUR_3, &suffixed);
    assert_eq!(&*prices(&out)[0].location, "ABITIBISF-LT.AG_T1");
    assert_eq!(
        lmp::name_parts("a/PUB_RealtimeEnergyLMP_2025051923_v3.csv"),
        (Some(date(2025, 5, 19)), Some(3))
    );
    assert_eq!(lmp::name_parts("PUB_RealtimeEnergyLMP.csv"), (None, None));
}

#[test]
fn rt_lmp_product_choice() {
    assert!(IesoRtLmp::new(Some(Product::RealTimeHourly)).is_err());
    let parser = IesoRtLmp::new(Some(Product::RealTime5MinPrelim)).unwrap();
    let out = parse_ok(&parser, HOUR_4, &fixture(HOUR_4));
    assert!(
        prices(&out)
            .iter()
            .all(|price| price.product == Product::RealTime5MinPrelim)
    );
    assert_eq!(
        parse(&rt(), HOUR_4, b"").unwrap_err().reason(),
        "empty file"
    );
}
