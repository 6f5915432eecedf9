use super::*;
use crate::formats::FileErrorKind;
use crate::formats::testing::{
    assert_reject, fixture, p, parse, parse_ok, prices, replace_once, utc,
};
use gridflow_engine::record::{Market, Price};

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
