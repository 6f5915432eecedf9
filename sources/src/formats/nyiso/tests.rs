use super::*;
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, start_of, utc,
};
use gridflow_engine::record::{Market, Price};
use jiff::Timestamp;

const FILE: &str = "nyiso/lmp.csv";

fn parser() -> NyisoLbmp {
    NyisoLbmp::new(None).unwrap()
}

#[test]
fn capitl_is_pinned_and_resolves_to_est() {
    let out = parse_ok(&parser(), FILE, &fixture(FILE));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 45);
    let capitl = prices[0];
    assert_eq!(&*capitl.location, "CAPITL");
    assert_eq!(capitl.market, Market::Nyiso);
    assert_eq!(capitl.product, Product::RealTime5Min);
    assert_eq!(capitl.location_type, LocationType::Zone);
    assert_eq!(capitl.origin.line, 3);
    assert_eq!(capitl.price, p("21.53"));
    assert_eq!(capitl.components.loss, Some(p("1.69")));
    assert_eq!(capitl.components.congestion, Some(Price::ZERO));
    assert_eq!(capitl.components.energy, Some(p("19.84")));
    assert_eq!(
        capitl.interval,
        NativeInterval::Local {
            time: jiff::civil::date(2016, 2, 18).at(0, 15, 0, 0),
            anchor: Anchor::End,
            minutes: 5,
            clock: MarketClock::zone(ZONE),
            occurrence: Occurrence::Unstated,
        }
    );
    let resolved = capitl.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2016-02-18T05:10:00Z"));
    assert_eq!(resolved.end, utc("2016-02-18T05:15:00Z"));
}

#[test]
fn congestion_sign_is_flipped() {
    let text = format!("{HEADER}\n\"07/01/2016 14:05:00\",\"N.Y.C.\",61761,30.00,1.00,-5.00\n");
    let out = parse_ok(&parser(), FILE, text.as_bytes());
    let price = prices(&out)[0];
    assert_eq!(price.components.congestion, Some(p("5")));
    assert_eq!(price.components.loss, Some(p("1")));
    assert_eq!(price.components.energy, Some(p("24")));
    let sum = p("24")
        .checked_add(p("5"))
        .unwrap()
        .checked_add(p("1"))
        .unwrap();
    assert_eq!(sum, price.price);
}

#[test]
fn time_zone_column_tells_the_repeated_hour() {
    let text = "\"Time Stamp\",\"Time Zone\",\"Name\",\"PTID\",\"LBMP ($/MWHr)\",\
\"Marginal Cost Losses ($/MWHr)\",\"Marginal Cost Congestion ($/MWHr)\"
\"11/06/2016 01:05:00\",\"EDT\",\"WEST\",61752,20.00,0.50,0.00
\"11/06/2016 01:05:00\",\"EST\",\"WEST\",61752,21.00,0.50,0.00
\"11/06/2016 03:05:00\",\"EST\",\"WEST\",61752,22.00,0.50,0.00
\"11/06/2016 03:05:00\",\"XST\",\"WEST\",61752,22.00,0.50,0.00
";
    let out = parse_ok(&parser(), FILE, text.as_bytes());
    let prices = prices(&out);
    let ends: Vec<_> = prices
        .iter()
        .map(|p| p.interval.resolve().unwrap().end)
        .collect();
    assert_eq!(
        ends,
        [
            utc("2016-11-06T05:05:00Z"),
            utc("2016-11-06T06:05:00Z"),
            utc("2016-11-06T08:05:00Z")
        ]
    );
    assert_reject(&out.rejects[0], 5, &["Time Zone", "XST"]);
}

#[test]
fn without_time_zone_a_stamp_written_twice_is_first_then_repeated() {
    let text = format!(
        "{HEADER}\n\"11/06/2016 01:05:00\",\"WEST\",61752,20.00,0.50,0.00\n\
         \"11/06/2016 01:05:00\",\"CAPITL\",61757,20.50,0.50,0.00\n\
         \"11/06/2016 01:05:00\",\"WEST\",61752,21.00,0.50,0.00\n"
    );
    let out = parse_ok(&parser(), FILE, text.as_bytes());
    let prices = prices(&out);
    let occurrences: Vec<_> = prices
        .iter()
        .map(|price| match &price.interval {
            NativeInterval::Local { occurrence, .. } => *occurrence,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        occurrences,
        [
            Occurrence::First,
            Occurrence::Unstated,
            Occurrence::Repeated
        ]
    );
    // 01:05 EDT, then 01:05 EST an hour later.
    assert_eq!(
        prices[0].interval.resolve().unwrap().end,
        utc("2016-11-06T05:05:00Z")
    );
    assert_eq!(
        prices[2].interval.resolve().unwrap().end,
        utc("2016-11-06T06:05:00Z")
    );
    assert!(
        prices[1].interval.resolve().is_err(),
        "a fold stamp written once stays ambiguous and is refused, not guessed"
    );
}

#[test]
fn older_header_and_day_ahead_files() {
    let text = "\"Time Stamp\",\"Name\",\"PTID\",\"LBMP ($/MWH)\",\"Marginal Cost Losses ($/MWH)\",\
\"Marginal Cost Congestion ($/MWH)\"\n\"02/18/2016 00:00\",\"CAPITL\",61757,25.00,1.00,0.00\n";
    let out = parse_ok(&parser(), "nyiso/20160218damlbmp_zone.csv", text.as_bytes());
    let price = prices(&out)[0];
    assert_eq!(price.product, Product::DayAheadHourly);
    let resolved = price.interval.resolve().unwrap();
    assert_eq!(resolved.start, utc("2016-02-18T05:00:00Z"));
    assert_eq!(resolved.end, utc("2016-02-18T06:00:00Z"));
    let out = parse_ok(&parser(), "nyiso/20160218rtlbmp_gen.csv", text.as_bytes());
    assert_eq!(prices(&out)[0].location_type, LocationType::Node);
}

#[test]
fn bad_inputs() {
    let error = parse(&parser(), FILE, b"").unwrap_err();
    assert_eq!(error.reason(), "empty file");

    let renamed = replace_once(&fixture(FILE), "\"LBMP ($/MWHr)\"", "\"Price\"");
    let error = parse(&parser(), FILE, &renamed).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(HEADER), "{message}");
    assert!(
        message.contains("found `Time Stamp,Name,PTID,Price,"),
        "{message}"
    );
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["LBMP ($/MWHr)"])
    );

    let bad = replace_once(&fixture(FILE), "21.53", "twenty");
    let out = parse_ok(&parser(), FILE, &bad);
    assert_eq!(out.observations.len(), 44);
    assert_reject(&out.rejects[0], 3, &["LBMP", "twenty"]);

    let bytes = fixture(FILE);
    let cut = &bytes[..bytes.len() - 12];
    let out = parse_ok(&parser(), FILE, cut);
    assert_eq!(out.observations.len(), 44);
    assert_reject(&out.rejects[0], 47, &["expected 6 fields, found 4"]);

    let extra = replace_once(&fixture(FILE), "1.69,0.00", "1.69,0.00,7");
    let out = parse_ok(&parser(), FILE, &extra);
    assert_reject(&out.rejects[0], 3, &["expected 6 fields, found 7"]);
}

const DA_FALL: &str = "nyiso/20241103damlbmp_zone.csv";
const DA_SPRING: &str = "nyiso/20240310damlbmp_zone.csv";
const DA_GEN: &str = "nyiso/20241103damlbmp_gen.csv";
const RT_GEN: &str = "nyiso/20241103realtime_gen.csv";

fn occurrence_of(price: &PublishedPrice) -> Occurrence {
    match &price.interval {
        NativeInterval::Local { occurrence, .. } => *occurrence,
        other => panic!("{other:?}"),
    }
}

/// Every location's UTC interval starts, in file order, checking they follow each other
/// with no gap or overlap of `minutes`.
fn contiguous_starts(prices: &[&PublishedPrice], location: &str, minutes: i64) -> Vec<Timestamp> {
    let starts: Vec<_> = prices
        .iter()
        .filter(|price| &*price.location == location)
        .map(|price| {
            let resolved = price.interval.resolve().unwrap();
            assert_eq!(
                resolved.end.duration_since(resolved.start).as_mins(),
                minutes
            );
            resolved.start
        })
        .collect();
    for pair in starts.windows(2) {
        assert_eq!(
            pair[1].duration_since(pair[0]).as_mins(),
            minutes,
            "{location}: {} then {}",
            pair[0],
            pair[1]
        );
    }
    starts
}

#[test]
fn day_ahead_fall_back_day_has_25_distinct_hours() {
    let out = parse_ok(&parser(), DA_FALL, &fixture(DA_FALL));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 25 * 6);
    assert!(prices.iter().all(|price| {
        price.product == Product::DayAheadHourly && price.location_type == LocationType::Zone
    }));
    for location in ["CAPITL", "HUD VL", "LONGIL", "N.Y.C.", "PJM", "WEST"] {
        let starts = contiguous_starts(&prices, location, 60);
        assert_eq!(starts.len(), 25, "{location}");
        assert_eq!(
            starts
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            25
        );
        assert_eq!(starts[0], utc("2024-11-03T04:00:00Z"), "00:00 EDT");
        assert_eq!(starts[24], utc("2024-11-04T04:00:00Z"), "23:00 EST");
    }
    // The `01:00` block is written twice: the first is EDT, the second EST.
    // Line 8: 11/03/2024 01:00,CAPITL,61757,24.44,0.85,0.00
    // Line 14: 11/03/2024 01:00,CAPITL,61757,24.73,0.87,0.00
    let capitl: Vec<_> = prices
        .iter()
        .filter(|price| &*price.location == "CAPITL")
        .collect();
    let (first, repeated) = (capitl[1], capitl[2]);
    assert_eq!(
        (first.origin.line, repeated.origin.line),
        (8, 14),
        "rows in file order"
    );
    assert_eq!(occurrence_of(first), Occurrence::First);
    assert_eq!(occurrence_of(repeated), Occurrence::Repeated);
    assert_eq!(first.price, p("24.44"));
    assert_eq!(repeated.price, p("24.73"));
    assert_eq!(start_of(first), utc("2024-11-03T05:00:00Z"));
    assert_eq!(start_of(repeated), utc("2024-11-03T06:00:00Z"));
    assert_eq!(
        first.interval,
        NativeInterval::Local {
            time: jiff::civil::date(2024, 11, 3).at(1, 0, 0, 0),
            anchor: Anchor::Start,
            minutes: 60,
            clock: MarketClock::zone(ZONE),
            occurrence: Occurrence::First,
        }
    );
    // Hours outside the fold are not marked.
    assert_eq!(occurrence_of(capitl[0]), Occurrence::Unstated);
    assert_eq!(occurrence_of(capitl[3]), Occurrence::Unstated);
}

#[test]
fn day_ahead_congestion_sign_is_flipped_and_energy_is_system_wide() {
    let out = parse_ok(&parser(), DA_FALL, &fixture(DA_FALL));
    let prices = prices(&out);
    // Line 107: 11/03/2024 16:00,N.Y.C.,61761,46.24,2.37,-3.54 (16:00 EST = 21:00Z).
    let nyc = prices
        .iter()
        .find(|price| price.origin.line == 107)
        .unwrap();
    assert_eq!(&*nyc.location, "N.Y.C.");
    assert_eq!(start_of(nyc), utc("2024-11-03T21:00:00Z"));
    assert_eq!(nyc.price, p("46.24"));
    assert_eq!(nyc.components.loss, Some(p("2.37")));
    assert_eq!(
        nyc.components.congestion,
        Some(p("3.54")),
        "raw -3.54 raises the price"
    );
    assert_eq!(nyc.components.energy, Some(p("40.33")));
    // NYISO's energy is the reference-bus price: the same in every zone in an hour, which
    // holds only with the sign flip.
    let mut by_hour = std::collections::BTreeMap::<Timestamp, Vec<Price>>::new();
    for price in &prices {
        let sum = [price.components.energy, price.components.congestion]
            .into_iter()
            .flatten()
            .fold(price.components.loss.unwrap(), |a, b| {
                a.checked_add(b).unwrap()
            });
        assert_eq!(sum, price.price, "line {}", price.origin.line);
        by_hour
            .entry(start_of(price))
            .or_default()
            .push(price.components.energy.unwrap());
    }
    assert_eq!(by_hour.len(), 25);
    for (hour, energies) in by_hour {
        assert_eq!(energies.len(), 6);
        assert!(
            energies.iter().all(|e| *e == energies[0]),
            "{hour}: {energies:?}"
        );
    }
}

#[test]
fn day_ahead_spring_forward_day_has_23_hours() {
    let out = parse_ok(&parser(), DA_SPRING, &fixture(DA_SPRING));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 23 * 6);
    for location in ["CAPITL", "HUD VL", "LONGIL", "N.Y.C.", "PJM", "WEST"] {
        let starts = contiguous_starts(&prices, location, 60);
        assert_eq!(starts.len(), 23, "{location}");
        assert_eq!(starts[0], utc("2024-03-10T05:00:00Z"), "00:00 EST");
        assert_eq!(starts[22], utc("2024-03-11T03:00:00Z"), "23:00 EDT");
    }
    // Line 8: 01:00 EST; line 14: 03:00 EDT, the next hour.
    let at = |line| {
        prices
            .iter()
            .find(|price| price.origin.line == line)
            .unwrap()
    };
    assert_eq!(at(8).price, p("24.86"));
    assert_eq!(start_of(at(8)), utc("2024-03-10T06:00:00Z"));
    assert_eq!(at(14).price, p("21.76"));
    assert_eq!(start_of(at(14)), utc("2024-03-10T07:00:00Z"));
    // Line 100: 03/10/2024 17:00,LONGIL,61762,48.69,3.34,-3.55
    let longil = at(100);
    assert_eq!(&*longil.location, "LONGIL");
    assert_eq!(start_of(longil), utc("2024-03-10T21:00:00Z"));
    assert_eq!(longil.components.congestion, Some(p("3.55")));
    assert_eq!(longil.components.energy, Some(p("41.80")));
    assert!(
        prices
            .iter()
            .all(|price| occurrence_of(price) == Occurrence::Unstated)
    );
}

#[test]
fn day_ahead_generator_file_prices_nodes() {
    let out = parse_ok(&parser(), DA_GEN, &fixture(DA_GEN));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 25 * 3);
    assert!(prices.iter().all(|price| {
        price.product == Product::DayAheadHourly && price.location_type == LocationType::Node
    }));
    for location in ["59TH STREET_GT_1", "BOWLINE___1", "NIAGARA___GEN"] {
        assert_eq!(contiguous_starts(&prices, location, 60).len(), 25);
    }
    // Line 53: 11/03/2024 16:00,59TH STREET_GT_1,24138,50.01,2.47,-7.21
    let unit = prices.iter().find(|price| price.origin.line == 53).unwrap();
    assert_eq!(&*unit.location, "59TH STREET_GT_1");
    assert_eq!(start_of(unit), utc("2024-11-03T21:00:00Z"));
    assert_eq!(unit.price, p("50.01"));
    assert_eq!(unit.components.loss, Some(p("2.47")));
    assert_eq!(unit.components.congestion, Some(p("7.21")));
    // The same reference-bus energy as the zones that hour (40.33 in the zonal file).
    assert_eq!(unit.components.energy, Some(p("40.33")));
}

#[test]
fn real_time_generator_file_on_the_fall_back_day() {
    let out = parse_ok(&parser(), RT_GEN, &fixture(RT_GEN));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    let prices = prices(&out);
    assert_eq!(prices.len(), 300 * 2);
    assert!(prices.iter().all(|price| {
        price.product == Product::RealTime5Min && price.location_type == LocationType::Node
    }));
    for location in ["59TH STREET_GT_1", "NIAGARA___GEN"] {
        let starts = contiguous_starts(&prices, location, 5);
        assert_eq!(starts.len(), 300, "25 hours of 5-minute intervals");
        assert_eq!(starts[0], utc("2024-11-03T04:00:00Z"));
        assert_eq!(starts[299], utc("2024-11-04T04:55:00Z"));
    }
    let at = |line| {
        prices
            .iter()
            .find(|price| price.origin.line == line)
            .unwrap()
    };
    // `01:00:00` ends 00:55-01:00 EDT (line 24), and again 01:55 EDT-01:00 EST (line 48).
    assert_eq!(at(24).price, p("34.72"));
    assert_eq!(occurrence_of(at(24)), Occurrence::First);
    assert_eq!(
        at(24).interval.resolve().unwrap().end,
        utc("2024-11-03T05:00:00Z")
    );
    assert_eq!(at(48).price, p("34.01"));
    assert_eq!(occurrence_of(at(48)), Occurrence::Repeated);
    assert_eq!(
        at(48).interval.resolve().unwrap().end,
        utc("2024-11-03T06:00:00Z")
    );
    // 02:00:00 EST (line 72) is not ambiguous; the day ends at 00:00:00 the next day.
    assert_eq!(occurrence_of(at(72)), Occurrence::Unstated);
    assert_eq!(
        at(72).interval.resolve().unwrap().end,
        utc("2024-11-03T07:00:00Z")
    );
    assert_eq!(at(600).price, p("38.08"));
    assert_eq!(
        at(600).interval.resolve().unwrap().end,
        utc("2024-11-04T05:00:00Z")
    );
}

#[test]
fn off_schedule_stamps_in_the_repeated_hour_follow_the_clock() {
    // As in NYISO's 2021-11-07 real-time file: an extra stamp before the clock falls back,
    // and two written once after it.
    let text = format!(
        "{HEADER}\r\n\"11/07/2021 01:55:00\",\"CAPITL\",61757,109.59,-0.64,-120.38\r\n\
         \"11/07/2021 01:57:48\",\"CAPITL\",61757,405.17,0.60,-394.95\r\n\
         \"11/07/2021 01:00:00\",\"CAPITL\",61757,173.93,-0.09,-175.47\r\n\
         \"11/07/2021 01:02:48\",\"CAPITL\",61757,173.93,-0.09,-175.47\r\n\
         \"11/07/2021 01:05:00\",\"CAPITL\",61757,173.93,-0.09,-175.47\r\n\
         \"11/07/2021 02:00:00\",\"CAPITL\",61757,60.11,-0.04,-60.79\r\n"
    );
    let out = parse_ok(
        &parser(),
        "nyiso/20211107realtime_zone.csv",
        text.as_bytes(),
    );
    let prices = prices(&out);
    let occurrences: Vec<_> = prices.iter().map(|price| occurrence_of(price)).collect();
    assert_eq!(
        occurrences,
        [
            Occurrence::First,
            Occurrence::First,
            Occurrence::Repeated,
            Occurrence::Repeated,
            Occurrence::Repeated,
            Occurrence::Unstated
        ]
    );
    let ends: Vec<_> = prices
        .iter()
        .map(|price| price.interval.resolve().unwrap().end)
        .collect();
    assert_eq!(
        ends,
        [
            utc("2021-11-07T05:55:00Z"),
            utc("2021-11-07T05:57:48Z"),
            utc("2021-11-07T06:00:00Z"),
            utc("2021-11-07T06:02:48Z"),
            utc("2021-11-07T06:05:00Z"),
            utc("2021-11-07T07:00:00Z"),
        ]
    );
}

#[test]
fn truncated_congestion_header_of_older_files_is_accepted() {
    // MIS files before mid-2016 cut the last column name to `($/MWH`.
    let text = "\"Time Stamp\",\"Name\",\"PTID\",\"LBMP ($/MWHr)\",\"Marginal Cost Losses ($/MWHr)\",\
\"Marginal Cost Congestion ($/MWH\"\r\n\"03/01/2016 00:00\",\"CAPITL\",61757,14.16,0.47,-7.20\r\n";
    let out = parse_ok(&parser(), "nyiso/20160301damlbmp_zone.csv", text.as_bytes());
    let price = prices(&out)[0];
    assert_eq!(price.price, p("14.16"));
    assert_eq!(price.components.congestion, Some(p("7.20")));
    assert_eq!(price.components.energy, Some(p("6.49")));
    // The same cut name without quotes keeps a stray quote character.
    let bare = "Time Stamp,Name,PTID,LBMP ($/MWHr),Marginal Cost Losses ($/MWHr),\
Marginal Cost Congestion ($/MWH\"\n03/01/2016 00:00,CAPITL,61757,14.16,0.47,-7.20\n";
    let out = parse_ok(&parser(), "nyiso/20160301damlbmp_zone.csv", bare.as_bytes());
    assert_eq!(prices(&out)[0].components.congestion, Some(p("7.20")));
}

#[test]
fn integrated_real_time_files_are_hourly_and_start_stamped() {
    let text = "\"Time Stamp\",\"Name\",\"PTID\",\"LBMP ($/MWHr)\",\"Marginal Cost Losses ($/MWHr)\",\
\"Marginal Cost Congestion ($/MWHr)\"\r\n\"11/03/2024 01:00\",\"WEST\",61752,20.00,-1.00,0.00\r\n\
\"11/03/2024 01:00\",\"WEST\",61752,21.00,-1.00,0.00\r\n";
    let out = parse_ok(&parser(), "nyiso/20241103rtlbmp_zone.csv", text.as_bytes());
    let prices = prices(&out);
    assert_eq!(prices[0].product, Product::RealTimeHourly);
    let starts: Vec<_> = prices.iter().map(|price| start_of(price)).collect();
    assert_eq!(
        starts,
        [utc("2024-11-03T05:00:00Z"), utc("2024-11-03T06:00:00Z")]
    );
    // A product override keeps the stamping that goes with it.
    let hourly = NyisoLbmp::new(Some(Product::RealTimeHourly)).unwrap();
    let out = parse_ok(&hourly, "nyiso/prices.csv", text.as_bytes());
    assert_eq!(
        start_of(crate::formats::testing::prices(&out)[0]),
        utc("2024-11-03T05:00:00Z")
    );
    assert!(NyisoLbmp::new(Some(Product::Daily)).is_err());
}

#[test]
fn day_ahead_header_drift_is_one_file_error() {
    let renamed = replace_once(&fixture(DA_FALL), "Marginal Cost Losses ($/MWHr)", "Losses");
    let error = parse(&parser(), DA_FALL, &renamed).unwrap_err();
    let FileErrorKind::Header {
        expected,
        found,
        missing,
    } = &error.kind
    else {
        panic!("{error:?}");
    };
    assert_eq!(expected, HEADER);
    assert_eq!(
        found,
        "Time Stamp,Name,PTID,LBMP ($/MWHr),Losses,Marginal Cost Congestion ($/MWHr)"
    );
    assert_eq!(missing, &["Marginal Cost Losses ($/MWHr)".to_string()]);

    let cut = replace_once(&fixture(DA_FALL), ",Marginal Cost Congestion ($/MWHr)", "");
    let error = parse(&parser(), DA_FALL, &cut).unwrap_err();
    assert!(
        matches!(&error.kind, FileErrorKind::Header { missing, .. } if missing == &["Marginal Cost Congestion ($/MWHr)"])
    );
}

#[test]
fn day_ahead_malformed_rows_are_rejected_with_their_line() {
    // Line 2: 11/03/2024 00:00,CAPITL,61757,21.22,0.68,0.00
    let bad = replace_once(&fixture(DA_FALL), "21.22,0.68", "n/a,0.68");
    let bad = String::from_utf8(bad).unwrap();
    // Line 9: the first 01:00 HUD VL row.
    let bad = bad.replacen("11/03/2024 01:00,HUD VL", "11/03/2024 1am,HUD VL", 1);
    // Line 21: the 02:00 HUD VL row loses its congestion.
    let bad = bad.replacen(
        "11/03/2024 02:00,HUD VL,61758,23.69,0.91,0.00",
        "11/03/2024 02:00,HUD VL,61758,23.69,0.91",
        1,
    );
    let out = parse_ok(&parser(), DA_FALL, bad.as_bytes());
    assert_eq!(out.rejects.len(), 3, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 2, &["LBMP", "n/a"]);
    assert_reject(&out.rejects[1], 9, &["Time Stamp", "1am"]);
    assert_reject(&out.rejects[2], 21, &["expected 6 fields, found 5"]);
    assert_eq!(out.observations.len(), 150 - 3);
    // The other rows keep their hours: CAPITL's repeated 01:00 (line 14) is still EST.
    let prices = prices(&out);
    let at = |line| {
        prices
            .iter()
            .find(|price| price.origin.line == line)
            .unwrap()
    };
    assert_eq!(occurrence_of(at(14)), Occurrence::Repeated);
    assert_eq!(start_of(at(14)), utc("2024-11-03T06:00:00Z"));
    // HUD VL lost its first 01:00 row, so its other one cannot be placed: it stays
    // unstated and the normalizer refuses it rather than guess.
    assert_eq!(occurrence_of(at(15)), Occurrence::Unstated);
    assert!(at(15).interval.resolve().is_err());
}

#[test]
fn day_ahead_file_reads_the_same_with_lf_line_ends_and_a_byte_order_mark() {
    let crlf = parse_ok(&parser(), DA_FALL, &fixture(DA_FALL));
    let text = String::from_utf8(fixture(DA_FALL))
        .unwrap()
        .replace("\r\n", "\n");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(text.as_bytes());
    let lf = parse_ok(&parser(), DA_FALL, &bytes);
    assert!(lf.rejects.is_empty());
    let (a, b) = (prices(&crlf), prices(&lf));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (&x.location, x.price, &x.interval, x.origin.line),
            (&y.location, y.price, &y.interval, y.origin.line)
        );
    }
}
