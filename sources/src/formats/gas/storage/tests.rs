use super::*;
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, quantities, replace_once, utc,
};
use gridflow_engine::record::{PublishedQuantity, Quantity, UtcInterval};
use jiff::civil::{Date, date};

const STORAGE: &str = "gas/eia_storage_wkly_2022-12.json";

fn level<'a>(
    quantities: &[&'a PublishedQuantity],
    location: &str,
    day: Date,
) -> Option<&'a PublishedQuantity> {
    quantities.iter().copied().find(|quantity| {
        &*quantity.location == location
            && matches!(&quantity.interval, NativeInterval::Day { date, .. } if *date == day)
    })
}

fn bcf(quantities: &[&PublishedQuantity], location: &str, day: Date) -> Quantity {
    level(quantities, location, day)
        .unwrap_or_else(|| panic!("no {location} on {day}"))
        .value
}

#[test]
fn storage_levels_of_the_fixture() {
    let out = parse_ok(&EiaStorage, STORAGE, &fixture(STORAGE));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let levels = quantities(&out);
    // Two report weeks, eight series each.
    assert_eq!(levels.len(), 16);
    let mut locations: Vec<&str> = levels.iter().map(|q| &*q.location).collect();
    locations.sort();
    locations.dedup();
    assert_eq!(
        locations,
        [
            "EAST",
            "LOWER_48",
            "MIDWEST",
            "MOUNTAIN",
            "PACIFIC",
            "SOUTH_CENTRAL",
            "SOUTH_CENTRAL_NONSALT",
            "SOUTH_CENTRAL_SALT",
        ]
    );
    for quantity in &levels {
        assert_eq!(quantity.market, Market::Gas);
        assert_eq!(quantity.product, Product::Weekly);
        assert_eq!(&*quantity.series, SERIES);
        assert_eq!(quantity.location_type, LocationType::Region);
        assert_eq!(quantity.unit, Unit::Bcf);
        assert_eq!(quantity.published_at, None);
        assert_eq!(quantity.revision, None);
    }
    // The first item: South Central nonsalt, week ending Friday 2 December 2022.
    let first = levels[0];
    assert_eq!(&*first.location, "SOUTH_CENTRAL_NONSALT");
    assert_eq!(first.value, p("864"));
    assert_eq!(first.origin.line, 1, "the item's ordinal");
    assert_eq!(levels[15].origin.line, 16);
    // The report of 8 December 2022 (week ending 2 December) and the week before.
    let (week, before) = (date(2022, 12, 2), date(2022, 11, 25));
    assert_eq!(bcf(&levels, "EAST", week), p("834"));
    assert_eq!(bcf(&levels, "MIDWEST", week), p("1028"));
    assert_eq!(bcf(&levels, "MOUNTAIN", week), p("193"));
    assert_eq!(bcf(&levels, "PACIFIC", week), p("217"));
    assert_eq!(bcf(&levels, "SOUTH_CENTRAL", week), p("1191"));
    assert_eq!(bcf(&levels, "SOUTH_CENTRAL_SALT", week), p("327"));
    assert_eq!(bcf(&levels, "SOUTH_CENTRAL_NONSALT", week), p("864"));
    assert_eq!(bcf(&levels, "LOWER_48", week), p("3462"));
    assert_eq!(bcf(&levels, "LOWER_48", before), p("3483"));
    assert_eq!(bcf(&levels, "SOUTH_CENTRAL_SALT", before), p("314"));
    // The report's "net change" of the total: -21 Bcf.
    assert_eq!(
        bcf(&levels, "LOWER_48", week).checked_sub(bcf(&levels, "LOWER_48", before)),
        Some(p("-21"))
    );
    // Regions add up to the total within the report's rounding.
    for day in [week, before] {
        let regions = ["EAST", "MIDWEST", "MOUNTAIN", "PACIFIC", "SOUTH_CENTRAL"]
            .iter()
            .map(|region| bcf(&levels, region, day).micros())
            .sum::<i64>();
        let total = bcf(&levels, "LOWER_48", day).micros();
        assert!(
            (regions - total).abs() <= 2_000_000,
            "{day}: {regions} vs {total}"
        );
    }
    // The Friday as a New York day: EST, so 05:00Z to 05:00Z.
    let east = level(&levels, "EAST", week).unwrap();
    assert_eq!(
        east.interval,
        NativeInterval::Day {
            date: week,
            clock: MarketClock::zone("America/New_York"),
        }
    );
    assert_eq!(
        east.interval.resolve().unwrap(),
        UtcInterval {
            start: utc("2022-12-02T05:00:00Z"),
            end: utc("2022-12-03T05:00:00Z"),
        }
    );
}

fn answer(items: &str) -> Vec<u8> {
    format!(
        r#"{{"response":{{"total":"1","dateFormat":"YYYY-MM-DD","frequency":"weekly","data":[{items}]}},"request":{{"command":"/v2/natural-gas/stor/wkly/data/"}},"apiVersion":"2.1.8"}}"#
    )
    .into_bytes()
}

fn item(period: &str, region: &str, value: &str) -> String {
    format!(
        r#"{{"period":"{period}","duoarea":"R31","area-name":"NA","product":"EPG0","product-name":"Natural Gas","process":"SWO","process-name":"Underground Storage - Working Gas","series":"NW2_EPG0_SWO_R31_BCF","series-description":"Weekly {region} Natural Gas Working Underground Storage (Billion Cubic Feet)","value":{value},"units":"BCF"}}"#
    )
}

#[test]
fn a_summer_friday_starts_at_four_utc() {
    let out = parse_ok(
        &EiaStorage,
        "storage.json",
        &answer(&item("2022-06-03", "East Region", "\"432\"")),
    );
    let levels = quantities(&out);
    assert_eq!(levels.len(), 1);
    let resolved = levels[0].interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2022-06-03T04:00:00Z"));
    assert_eq!(resolved.end, utc("2022-06-04T04:00:00Z"));
}

#[test]
fn regions_from_the_api_and_the_spreadsheet_wording() {
    let cases = [
        ("Weekly East Region", Some("EAST")),
        ("Weekly Midwest Region", Some("MIDWEST")),
        ("Weekly Mountain Region", Some("MOUNTAIN")),
        ("Weekly Pacific Region", Some("PACIFIC")),
        ("Weekly South Central Region", Some("SOUTH_CENTRAL")),
        // The EIA's spreadsheet writes two spaces here.
        ("Weekly South Central  Region", Some("SOUTH_CENTRAL")),
        ("Weekly Salt Region", Some("SOUTH_CENTRAL_SALT")),
        (
            "Weekly Salt South Central Region",
            Some("SOUTH_CENTRAL_SALT"),
        ),
        ("Weekly Nonsalt Region", Some("SOUTH_CENTRAL_NONSALT")),
        (
            "Weekly Nonsalt South Central Region",
            Some("SOUTH_CENTRAL_NONSALT"),
        ),
        ("Weekly Lower 48 States", Some("LOWER_48")),
        ("Lower 48 States", Some("LOWER_48")),
        ("Weekly Alaska Region", None),
        ("Weekly", None),
    ];
    for (name, expected) in cases {
        let description =
            format!("{name} Natural Gas Working Underground Storage (Billion Cubic Feet)");
        assert_eq!(region(&description), expected, "{description}");
    }
    assert_eq!(
        region("Henry Hub Natural Gas Spot Price (Dollars per Million Btu)"),
        None
    );
}

#[test]
fn malformed_items_are_rejected_with_their_ordinal() {
    let items = [
        // A Thursday (the release day), not the week's Friday.
        item("2022-12-01", "East Region", "\"834\""),
        item("12/02/2022", "East Region", "\"834\""),
        item("2022-12-02", "East Region", "\"n/a\""),
        item("2022-12-02", "East Region", "\"834\"").replace("\"BCF\"", "\"MMCF\""),
        item("2022-12-02", "Alaska Region", "\"30\""),
        "7".to_string(),
        item("2022-12-02", "East Region", "true"),
        // Withheld: skipped, still counted in the ordinals.
        item("2022-12-02", "Midwest Region", "null"),
        item("2022-12-02", "Pacific Region", "217"),
        item("2022-12-02", "Mountain Region", "\"193\""),
    ]
    .join(",");
    let out = parse_ok(&EiaStorage, "storage.json", &answer(&items));
    assert_eq!(out.rejects.len(), 7, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 1, &["`2022-12-01`", "Thursday", "Friday"]);
    assert_reject(&out.rejects[1], 2, &["`period` `12/02/2022`"]);
    assert_reject(&out.rejects[2], 3, &["`value`", "n/a"]);
    assert_reject(&out.rejects[3], 4, &["`units` `MMCF`"]);
    assert_reject(&out.rejects[4], 5, &["Alaska", "report region"]);
    assert_reject(&out.rejects[5], 6, &["must be an object"]);
    assert_reject(&out.rejects[6], 7, &["`value` true is not a number"]);
    assert!(out.rejects[0].raw.contains("\"period\":\"2022-12-01\""));
    let levels = quantities(&out);
    let parsed: Vec<(&str, Quantity, u64)> = levels
        .iter()
        .map(|q| (&*q.location, q.value, q.origin.line))
        .collect();
    assert_eq!(
        parsed,
        [("PACIFIC", p("217"), 9), ("MOUNTAIN", p("193"), 10)],
        "numbers and strings both read; the null item is skipped"
    );
}

#[test]
fn a_renamed_field_refuses_the_answer_with_the_fields_expected_and_found() {
    let drifted = replace_once(
        &fixture(STORAGE),
        "\"series-description\"",
        "\"seriesDescription\"",
    );
    let error = parse(&EiaStorage, STORAGE, &drifted).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, "period,series-description,value,units");
    assert!(found.contains("seriesDescription"), "{found}");
    assert_eq!(missing, &["series-description".to_string()]);
    assert!(
        error
            .reason()
            .contains("expected `period,series-description,value,units`"),
        "{}",
        error.reason()
    );
    // A later item missing a field is one reject, not a refused answer.
    let items = [
        item("2022-12-02", "East Region", "\"834\""),
        item("2022-12-02", "Midwest Region", "\"1028\"").replace(",\"units\":\"BCF\"", ""),
    ]
    .join(",");
    let out = parse_ok(&EiaStorage, "storage.json", &answer(&items));
    assert_eq!(out.rejects.len(), 1, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 2, &["missing `units`"]);
    assert_eq!(quantities(&out).len(), 1);
}

#[test]
fn whole_answer_problems() {
    let error = parse(
        &EiaStorage,
        "storage.json",
        br#"{"error":"Invalid frequency 'daily' provided.","code":400}"#,
    )
    .unwrap_err();
    assert!(error.to_string().contains("Invalid frequency"), "{error}");
    let monthly = replace_once(
        &fixture(STORAGE),
        "\"frequency\":\"weekly\"",
        "\"frequency\":\"monthly\"",
    );
    let error = parse(&EiaStorage, STORAGE, &monthly).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`frequency` is `monthly`: eia_storage reads weekly storage levels"),
        "{error}"
    );
    let error = parse(&EiaStorage, STORAGE, br#"{"response":{"data":{}}}"#).unwrap_err();
    assert!(error.to_string().contains("`data`"), "{error}");
    let error = parse(&EiaStorage, STORAGE, b"").unwrap_err();
    assert_eq!(error.kind, FileErrorKind::Empty);
    let error = parse(&EiaStorage, STORAGE, &fixture(STORAGE)[..400]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { line: 1, .. }),
        "{error:?}"
    );
    // An empty answer (a week not yet published) is no error and no value.
    let out = parse_ok(&EiaStorage, "storage.json", &answer(""));
    assert!(out.observations.is_empty() && out.rejects.is_empty());
}

#[test]
fn only_the_weekly_product_fits() {
    assert!(EiaStorage::new(None).is_ok());
    assert!(EiaStorage::new(Some(Product::Weekly)).is_ok());
    let error = EiaStorage::new(Some(Product::Daily)).unwrap_err();
    assert!(error.to_string().contains("only `WEEKLY`"), "{error}");
}
