use super::*;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::Occurrence;
use jiff::{SignedDuration, Timestamp};

const DA: &str = "miso/20240310_da_expost_lmp.csv";
const EXANTE: &str = "miso/20240310_da_exante_lmp.csv";
const FINAL: &str = "miso/20241103_rt_lmp_final.csv";
const PRELIM: &str = "miso/20241103_rt_lmp_prelim.csv";

fn parser() -> MisoLmp {
    MisoLmp::new(None).unwrap()
}

/// The price of `node` whose hour starts at `start` (UTC).
fn find<'a>(out: &'a SourceOutput, node: &str, start: &str) -> &'a PublishedPrice {
    let start = utc(start);
    prices(out)
        .into_iter()
        .find(|price| &*price.location == node && start_of(price) == start)
        .unwrap_or_else(|| panic!("no {node} at {start}"))
}

#[test]
fn day_ahead_hour_is_pinned_field_by_field() {
    // Line 15: INDIANA.HUB,Hub,LMP,16.12,...; line 16 MCC -.73; line 17 MLC -.77.
    let out = parse_ok(&parser(), DA, &fixture(DA));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 5 * 24);
    let price = find(&out, "INDIANA.HUB", "2024-03-10T05:00:00Z");
    assert_eq!(price.market, Market::Miso);
    assert_eq!(price.product, Product::DayAheadHourlyExPost);
    assert_eq!(price.location_type, LocationType::Hub);
    assert_eq!(price.price.micros(), 16_120_000);
    assert_eq!(price.components.congestion, Some(p("-0.73")));
    assert_eq!(price.components.loss, Some(p("-0.77")));
    assert_eq!(price.components.energy, Some(p("17.62")));
    assert_eq!(
        price.interval,
        NativeInterval::HourEnding {
            date: jiff::civil::date(2024, 3, 10),
            hour_ending: 1,
            clock: MarketClock::FixedOffsetMinutes(-300),
            occurrence: Occurrence::Unstated,
        }
    );
    assert_eq!(
        price.interval.resolve().unwrap().end,
        utc("2024-03-10T06:00:00Z")
    );
    assert_eq!(price.currency, Currency::USD);
    assert_eq!(price.unit, Unit::MegawattHour);
    assert_eq!(price.origin.line, 15, "the LMP row's line");
    assert_eq!(&*price.origin.file, DA);
    assert_eq!(price.published_at, None);
    assert_eq!(price.revision, None);
}

#[test]
fn negative_price_keeps_its_components() {
    // MINN.HUB HE 3: LMP -7.97, MCC -24.35, MLC -1.45, so energy = -7.97 + 24.35 + 1.45.
    let out = parse_ok(&parser(), DA, &fixture(DA));
    let price = find(&out, "MINN.HUB", "2024-03-10T07:00:00Z");
    assert_eq!(price.price, p("-7.97"));
    assert_eq!(price.components.congestion, Some(p("-24.35")));
    assert_eq!(price.components.loss, Some(p("-1.45")));
    assert_eq!(price.components.energy, Some(p("17.83")));
    let negative = prices(&out)
        .iter()
        .filter(|price| price.price < Price::ZERO)
        .count();
    assert_eq!(negative, 4, "MINN.HUB HE 2 to HE 5");
}

#[test]
fn energy_is_lmp_minus_congestion_minus_loss_and_one_per_hour() {
    for file in [DA, EXANTE, FINAL, PRELIM] {
        let out = parse_ok(&parser(), file, &fixture(file));
        let mut energy_at = HashMap::new();
        for price in prices(&out) {
            let Components {
                energy: Some(energy),
                congestion: Some(congestion),
                loss: Some(loss),
                greenhouse_gas: None,
            } = price.components
            else {
                panic!("{file}: components missing on {price:?}");
            };
            let sum = energy
                .checked_add(congestion)
                .and_then(|sum| sum.checked_add(loss));
            assert_eq!(sum, Some(price.price), "{file} {}", price.location);
            // Fixtures follow MISO: the energy part is system-wide, the same at every node.
            let first = *energy_at.entry(start_of(price)).or_insert(energy);
            assert_eq!(
                first,
                energy,
                "{file} {} {}",
                price.location,
                start_of(price)
            );
        }
        assert_eq!(energy_at.len(), 24, "{file}");
    }
}

/// Every node of the file has 24 consecutive EST hours from 05:00 UTC on `day`.
fn assert_24_est_hours(file: &str, day: &str, nodes: usize) {
    let out = parse_ok(&parser(), file, &fixture(file));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let mut by_node: HashMap<&str, Vec<_>> = HashMap::new();
    for price in prices(&out) {
        by_node
            .entry(&price.location)
            .or_default()
            .push(price.interval.resolve().unwrap());
    }
    assert_eq!(by_node.len(), nodes, "{file}");
    let midnight_est = utc(&format!("{day}T05:00:00Z"));
    for (node, hours) in by_node {
        assert_eq!(hours.len(), 24, "{file} {node}");
        for (index, hour) in hours.iter().enumerate() {
            let offset = SignedDuration::from_hours(i64::try_from(index).unwrap());
            assert_eq!(
                hour.start,
                midnight_est.checked_add(offset).unwrap(),
                "{node}"
            );
            assert_eq!(
                hour.end,
                hour.start
                    .checked_add(SignedDuration::from_hours(1))
                    .unwrap()
            );
        }
    }
}

#[test]
fn spring_forward_day_still_has_24_hours() {
    // 2024-03-10: US clocks skip 02:00-03:00, MISO's EST hours do not.
    assert_24_est_hours(DA, "2024-03-10", 5);
    assert_24_est_hours(EXANTE, "2024-03-10", 2);
    let out = parse_ok(&parser(), DA, &fixture(DA));
    // HE 3 is 02:00-03:00 EST, a wall-clock hour New York skips.
    assert_eq!(find(&out, "AECI", "2024-03-10T07:00:00Z").price, p("17.72"));
}

#[test]
fn fall_back_day_still_has_24_hours() {
    // 2024-11-03: US clocks repeat 01:00-02:00, MISO's EST hours do not.
    assert_24_est_hours(FINAL, "2024-11-03", 6);
    assert_24_est_hours(PRELIM, "2024-11-03", 6);
    let out = parse_ok(&parser(), FINAL, &fixture(FINAL));
    let last = find(&out, "NSP.PRISL1", "2024-11-04T04:00:00Z");
    assert_eq!(last.price, p("19.91"));
    assert_eq!(
        last.interval.resolve().unwrap().end,
        utc("2024-11-04T05:00:00Z")
    );
}

#[test]
fn prelim_and_final_are_separate_products() {
    let prelim = parse_ok(&parser(), PRELIM, &fixture(PRELIM));
    let settled = parse_ok(&parser(), FINAL, &fixture(FINAL));
    assert!(prelim.rejects.is_empty() && settled.rejects.is_empty());
    assert_eq!(prelim.observations.len(), 6 * 24);
    assert_eq!(settled.observations.len(), 6 * 24);
    // MINN.HUB HE 18 (17:00 EST = 22:00 UTC): congestion revised from 8.2 to -4.2.
    let (before, after) = (
        find(&prelim, "MINN.HUB", "2024-11-03T22:00:00Z"),
        find(&settled, "MINN.HUB", "2024-11-03T22:00:00Z"),
    );
    assert_eq!(before.product, Product::RealTimeHourlyPrelim);
    assert_eq!(after.product, Product::RealTimeHourlyFinal);
    assert_eq!((before.price, after.price), (p("42.11"), p("29.71")));
    assert_eq!(
        (before.components.congestion, after.components.congestion),
        (Some(p("8.2")), Some(p("-4.2")))
    );
    assert_eq!(before.components.energy, Some(p("33.88")));
    assert_eq!(after.components.energy, Some(p("33.88")));
    assert_eq!(before.origin.line, 18);
    // INDIANA.HUB HE 8: 25.83 preliminary, 25.88 final.
    assert_eq!(
        find(&prelim, "INDIANA.HUB", "2024-11-03T12:00:00Z").price,
        p("25.83")
    );
    assert_eq!(
        find(&settled, "INDIANA.HUB", "2024-11-03T12:00:00Z").price,
        p("25.88")
    );
    // Every other node-hour is the same in both.
    let same = prices(&prelim)
        .iter()
        .zip(prices(&settled))
        .filter(|(a, b)| a.price == b.price && a.components == b.components)
        .count();
    assert_eq!(same, 6 * 24 - 2);
}

#[test]
fn negative_real_time_price_at_a_generator_node() {
    // Line 21: NSP.PRISL1,Gennode,LMP,-23.91,...; MCC -41.8, MLC -.54.
    let out = parse_ok(&parser(), FINAL, &fixture(FINAL));
    let price = find(&out, "NSP.PRISL1", "2024-11-03T05:00:00Z");
    assert_eq!(price.price, p("-23.91"));
    assert_eq!(price.location_type, LocationType::Node);
    assert_eq!(price.components.energy, Some(p("18.43")));
    assert_eq!(price.origin.line, 21);
    // `-25` is written without decimals.
    assert_eq!(
        find(&out, "NSP.PRISL1", "2024-11-03T06:00:00Z").price,
        p("-25")
    );
}

#[test]
fn day_ahead_ex_ante_from_its_file_name() {
    let out = parse_ok(&parser(), EXANTE, &fixture(EXANTE));
    assert_eq!(out.observations.len(), 2 * 24);
    let price = find(&out, "ARKANSAS.HUB", "2024-03-10T05:00:00Z");
    assert_eq!(price.product, Product::DayAheadHourlyExAnte);
    assert_eq!(price.price, p("16.94"));
    // ARKANSAS.HUB HE 9 MLC is written `0`.
    assert_eq!(
        find(&out, "ARKANSAS.HUB", "2024-03-10T13:00:00Z")
            .components
            .loss,
        Some(Price::ZERO)
    );
}

#[test]
fn location_types_follow_the_type_column() {
    let out = parse_ok(&parser(), FINAL, &fixture(FINAL));
    let type_of = |node: &str| {
        prices(&out)
            .into_iter()
            .find(|price| &*price.location == node)
            .unwrap()
            .location_type
    };
    assert_eq!(type_of("AECI"), LocationType::Node);
    assert_eq!(type_of("AMIL.BGS6"), LocationType::Zone);
    assert_eq!(type_of("ARKANSAS.HUB"), LocationType::Hub);
    assert_eq!(type_of("NSP.PRISL1"), LocationType::Node);
    assert_eq!(location_type("LOADZONE"), Some(LocationType::Zone));
    assert_eq!(location_type("Interface"), Some(LocationType::Node));
    assert_eq!(location_type("Aggregate"), None);
}

#[test]
fn product_names_and_overrides() {
    assert_eq!(
        product_of_file_name("/x/20241103_RT_LMP_PRELIM.CSV"),
        Some(Product::RealTimeHourlyPrelim)
    );
    assert_eq!(product_of_file_name("prices.csv"), None);
    let error = parse(&parser(), "miso/prices.csv", &fixture(DA)).unwrap_err();
    assert!(matches!(error.kind, FileErrorKind::Structure(_)), "{error}");
    assert!(error.to_string().contains("_rt_lmp_final.csv"), "{error}");
    assert!(error.to_string().contains("`product`"), "{error}");

    let parser = MisoLmp::new(Some(Product::RealTimeHourly)).unwrap();
    let out = parse_ok(&parser, "miso/prices.csv", &fixture(DA));
    assert!(
        prices(&out)
            .iter()
            .all(|price| price.product == Product::RealTimeHourly)
    );
    let out = parse_ok(&parser, FINAL, &fixture(FINAL));
    assert_eq!(prices(&out)[0].product, Product::RealTimeHourly);
    assert!(MisoLmp::new(Some(Product::RealTime5Min)).is_err());
    assert!(MisoLmp::new(Some(Product::Daily)).is_err());
}

/// The DA fixture with its data rows (lines 6..) reordered by `order`.
fn reordered(order: impl Fn(&mut Vec<&str>)) -> Vec<u8> {
    let text = String::from_utf8(fixture(DA)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (head, rows) = lines.split_at(5);
    let mut rows = rows.to_vec();
    order(&mut rows);
    let mut out = head.join("\n");
    for row in rows {
        out.push('\n');
        out.push_str(row);
    }
    out.push('\n');
    out.into_bytes()
}

fn summary(out: &SourceOutput) -> Vec<(String, Timestamp, Price, Components)> {
    let mut rows: Vec<_> = prices(out)
        .iter()
        .map(|price| {
            (
                price.location.to_string(),
                start_of(price),
                price.price,
                price.components,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn rows_of_a_node_may_come_in_any_order() {
    let expected = summary(&parse_ok(&parser(), DA, &fixture(DA)));
    let bytes = reordered(|rows| rows.reverse());
    let out = parse_ok(&parser(), DA, &bytes);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(summary(&out), expected);
    // Reversed, MINN.HUB's MLC row comes first (line 6) and its LMP row is line 8.
    assert_eq!(
        find(&out, "MINN.HUB", "2024-03-10T05:00:00Z").origin.line,
        8
    );
    // Grouped by `Value`: every LMP row, then every MCC row, then every MLC row.
    let bytes = reordered(|rows| rows.sort_by_key(|row| row.split(',').nth(2).map(str::to_string)));
    let out = parse_ok(&parser(), DA, &bytes);
    assert_eq!(summary(&out), expected);
}

#[test]
fn missing_component_row_keeps_the_lmp() {
    let bytes = reordered(|rows| rows.retain(|row| !row.starts_with("MINN.HUB,Hub,MLC,")));
    let out = parse_ok(&parser(), DA, &bytes);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(out.observations.len(), 5 * 24);
    let price = find(&out, "MINN.HUB", "2024-03-10T07:00:00Z");
    assert_eq!(price.price, p("-7.97"));
    assert_eq!(price.components.congestion, Some(p("-24.35")));
    assert_eq!(price.components.loss, None);
    assert_eq!(price.components.energy, None, "not derivable without MLC");
}

#[test]
fn node_without_lmp_row_is_one_reject() {
    let bytes = reordered(|rows| rows.retain(|row| !row.starts_with("AECI,Interface,LMP,")));
    let out = parse_ok(&parser(), DA, &bytes);
    assert_eq!(out.observations.len(), 4 * 24);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 6, &["no `Value` LMP row", "AECI"]);
    assert!(out.rejects[0].raw.starts_with("AECI,Interface,MCC,"));
}

#[test]
fn non_numeric_cell_rejects_its_node_hour_only() {
    // MINN.HUB's MCC row is line 19; HE 3 is -24.35.
    let bytes = replace_once(&fixture(DA), ",-24.35,", ",n/a,");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_eq!(out.observations.len(), 5 * 24 - 1);
    assert_eq!(out.rejects.len(), 1);
    let reject = &out.rejects[0];
    assert_reject(
        reject,
        19,
        &[
            "MINN.HUB",
            "MCC",
            "hour ending 3",
            "HE 3",
            "n/a",
            "not a decimal",
        ],
    );
    assert!(reject.raw.starts_with("MINN.HUB,Hub,MCC,.67,-23.35,n/a,"));
    assert!(
        !prices(&out)
            .iter()
            .any(|price| &*price.location == "MINN.HUB"
                && start_of(price) == utc("2024-03-10T07:00:00Z"))
    );

    // A bad LMP cell: the reject is on the LMP row.
    let bytes = replace_once(
        &fixture(DA),
        "INDIANA.HUB,Hub,LMP,16.12,",
        "INDIANA.HUB,Hub,LMP,x,",
    );
    let out = parse_ok(&parser(), DA, &bytes);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(
        &out.rejects[0],
        15,
        &["INDIANA.HUB", "LMP", "hour ending 1", "`x`"],
    );

    // An empty LMP cell is a reject too; an empty component is "not published".
    let bytes = replace_once(
        &fixture(DA),
        "INDIANA.HUB,Hub,LMP,16.12,",
        "INDIANA.HUB,Hub,LMP,,",
    );
    let out = parse_ok(&parser(), DA, &bytes);
    assert_reject(&out.rejects[0], 15, &["empty `HE 1`"]);
    let bytes = replace_once(
        &fixture(DA),
        "INDIANA.HUB,Hub,MCC,-.73,",
        "INDIANA.HUB,Hub,MCC,,",
    );
    let out = parse_ok(&parser(), DA, &bytes);
    assert!(out.rejects.is_empty());
    let price = find(&out, "INDIANA.HUB", "2024-03-10T05:00:00Z");
    assert_eq!(price.components.congestion, None);
    assert_eq!(price.components.energy, None);
}

#[test]
fn malformed_rows_are_rejected_with_their_line() {
    // Wrong field count: the row's hours are lost and the node has no LMP row.
    let bytes = replace_once(&fixture(DA), "AECI,Interface,LMP,", "AECI,Interface,LMP,1,");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_reject(&out.rejects[0], 6, &["expected 27 fields, found 28"]);
    assert_reject(&out.rejects[1], 7, &["no `Value` LMP row", "AECI"]);
    assert_eq!(out.observations.len(), 4 * 24);

    let bytes = replace_once(&fixture(DA), "AECI,Interface,MLC,", "AECI,Interface,MEC,");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(
        &out.rejects[0],
        8,
        &["unknown `Value` `MEC`", "LMP, MCC or MLC"],
    );
    assert_eq!(
        find(&out, "AECI", "2024-03-10T05:00:00Z").components.loss,
        None
    );

    let bytes = replace_once(&fixture(DA), "AECI,Interface,MLC,", "AECI,Interface,LMP,");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_reject(
        &out.rejects[0],
        8,
        &["duplicate `Value` LMP", "first on line 6"],
    );

    let bytes = replace_once(&fixture(DA), "AECI,Interface,MCC,", "AECI,Hub,MCC,");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_reject(
        &out.rejects[0],
        7,
        &["`Type` `Hub` differs from `Interface` on line 6"],
    );

    let bytes = replace_once(
        &fixture(DA),
        "AMIL.BGS6,Loadzone,LMP,",
        "AMIL.BGS6,Pnode,LMP,",
    );
    let out = parse_ok(&parser(), DA, &bytes);
    assert_reject(&out.rejects[0], 9, &["unknown `Type` `Pnode`", "Loadzone"]);

    let bytes = replace_once(&fixture(DA), "AECI,Interface,LMP,", ",Interface,LMP,");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_reject(&out.rejects[0], 6, &["empty `Node`"]);

    // Truncated in the middle of the last row.
    let bytes = fixture(DA);
    let out = parse_ok(&parser(), DA, &bytes[..bytes.len() - 40]);
    assert_reject(&out.rejects[0], 20, &["expected 27 fields"]);
    assert_eq!(out.observations.len(), 5 * 24);
}

#[test]
fn renamed_or_missing_column_is_one_header_error() {
    let bytes = replace_once(&fixture(DA), "Node,Type,Value,", "Node,Type,Component,");
    let error = parse(&parser(), DA, &bytes).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, HEADER);
    assert!(found.starts_with("Node,Type,Component,HE 1,"), "{found}");
    assert_eq!(missing, &["Value".to_string()]);
    let message = error.to_string();
    assert!(
        message.contains("miso_lmp") && message.contains(DA),
        "{message}"
    );
    assert_eq!(error.raw(), found);

    let bytes = replace_once(&fixture(DA), ",HE 23,HE 24\n", ",HE 23,HE 25\n");
    let error = parse(&parser(), DA, &bytes).unwrap_err();
    let FileErrorKind::Header { missing, .. } = &error.kind else {
        panic!("{error:?}");
    };
    assert_eq!(missing, &["HE 24".to_string()]);

    // A file of another market: its header is not MISO's.
    let error = parse(
        &parser(),
        DA,
        b"Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP\n",
    )
    .unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Header { .. }),
        "{error}"
    );
    // Only a preamble.
    let error = parse(&parser(), DA, b"Day Ahead Market ExPost LMPs\n03/10/2024\n").unwrap_err();
    let FileErrorKind::Header { found, .. } = &error.kind else {
        panic!("{error:?}");
    };
    assert_eq!(found, "03/10/2024");
}

#[test]
fn market_date_comes_from_the_preamble_and_must_match_the_file_name() {
    let error = parse(&parser(), "miso/20240311_da_expost_lmp.csv", &fixture(DA)).unwrap_err();
    assert!(
        error.to_string().contains("2024-03-10") && error.to_string().contains("2024-03-11"),
        "{error}"
    );
    // No date line: the file name's date is used.
    let bytes = replace_once(&fixture(DA), "03/10/2024\n", "");
    let out = parse_ok(&parser(), DA, &bytes);
    assert_eq!(start_of(prices(&out)[0]), utc("2024-03-10T05:00:00Z"));
    // Neither: refused.
    let error = parse(&parser(), "miso/da_expost_lmp.csv", &bytes).unwrap_err();
    assert!(error.to_string().contains("no market date"), "{error}");
    // Renamed, the preamble's date still places the hours.
    let out = parse_ok(&parser(), "miso/copy_da_expost_lmp.csv", &fixture(DA));
    assert_eq!(out.observations.len(), 5 * 24);
}

#[test]
fn crlf_line_endings_parse_the_same() {
    let expected = summary(&parse_ok(&parser(), FINAL, &fixture(FINAL)));
    let text = String::from_utf8(fixture(FINAL))
        .unwrap()
        .replace('\n', "\r\n");
    let out = parse_ok(&parser(), FINAL, text.as_bytes());
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(summary(&out), expected);
    assert_eq!(
        find(&out, "NSP.PRISL1", "2024-11-03T05:00:00Z").origin.line,
        21
    );
    // A byte-order mark changes nothing either.
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    let bytes = replace_once(
        &bytes,
        "NSP.PRISL1,Gennode,MCC,-41.8,",
        "NSP.PRISL1,Gennode,MCC,?,",
    );
    let out = parse_ok(&parser(), FINAL, &bytes);
    assert_reject(&out.rejects[0], 22, &["NSP.PRISL1", "hour ending 1"]);
    assert!(out.rejects[0].raw.starts_with("NSP.PRISL1,Gennode,MCC,?,"));
}

#[test]
fn empty_file_is_one_file_error() {
    let error = parse(&parser(), FINAL, b"").unwrap_err();
    assert_eq!(error.kind, FileErrorKind::Empty);
    assert_eq!(error.reason(), "empty file");
    assert!(parse(&parser(), FINAL, b" \r\n").is_err());
}
