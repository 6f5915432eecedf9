use super::*;
use crate::formats::testing::{assert_reject, fixture, p, parse, parse_ok, replace_once};
use jiff::civil::date;

const HISTORY: &str = "fx/eurofxref-hist_excerpt.csv";
const DAILY: &str = "fx/eurofxref.csv";

fn rates(out: &SourceOutput) -> Vec<&FxRate> {
    out.observations
        .iter()
        .filter_map(|observation| match observation {
            Observation::Rate(rate) => Some(rate),
            Observation::Price(_) | Observation::Quantity(_) => None,
        })
        .collect()
}

fn rate(out: &SourceOutput, day: Date, code: &str) -> Option<Price> {
    let currency: Currency = code.parse().unwrap();
    rates(out)
        .into_iter()
        .find(|rate| rate.date == day && rate.currency == currency)
        .map(|rate| rate.per_euro)
}

#[test]
fn history_spot_values() {
    let out = parse_ok(&EcbFx, HISTORY, &fixture(HISTORY));
    assert!(
        out.rejects.is_empty(),
        "N/A is not a reject: {:?}",
        out.rejects.first()
    );
    assert_eq!(rate(&out, date(2026, 10, 30), "USD"), Some(p("1.1172")));
    assert_eq!(rate(&out, date(2026, 10, 30), "JPY"), Some(p("175.68")));
    assert_eq!(rate(&out, date(2026, 10, 30), "GBP"), Some(p("0.8338")));
    assert_eq!(
        rate(&out, date(2026, 10, 30), "BGN"),
        None,
        "BGN is N/A since 2026"
    );
    assert_eq!(rate(&out, date(2025, 6, 2), "USD"), Some(p("1.1419")));
    assert_eq!(rate(&out, date(2025, 6, 2), "BGN"), Some(p("1.9558")));
    assert_eq!(rate(&out, date(1999, 1, 4), "USD"), Some(p("1.1789")));
    assert_eq!(rate(&out, date(1999, 1, 4), "GBP"), Some(p("0.7111")));
    let first = rates(&out)[0];
    assert_eq!(first.origin.line, 2);
    assert_eq!(&*first.origin.file, HISTORY);
    let days: std::collections::BTreeSet<_> = rates(&out).iter().map(|rate| rate.date).collect();
    assert_eq!(days.len(), 460);
}

#[test]
fn daily_file_spot_values() {
    let out = parse_ok(&EcbFx, DAILY, &fixture(DAILY));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(rates(&out).len(), 29);
    let day = date(2026, 10, 30);
    assert_eq!(rate(&out, day, "USD"), Some(p("1.1172")));
    assert_eq!(rate(&out, day, "JPY"), Some(p("175.68")));
    assert_eq!(rate(&out, day, "ZAR"), Some(p("18.6455")));
    assert_eq!(rates(&out)[0].origin.line, 2);
}

#[test]
fn bad_cells_and_rows_are_rejected() {
    let bytes = replace_once(
        &fixture(HISTORY),
        "2026-10-30,1.1172,175.68",
        "2026-10-30,1.1172,lots",
    );
    let out = parse_ok(&EcbFx, HISTORY, &bytes);
    assert_eq!(out.rejects.len(), 1);
    assert_reject(&out.rejects[0], 2, &["JPY", "2026-10-30", "lots"]);
    assert_eq!(rate(&out, date(2026, 10, 30), "USD"), Some(p("1.1172")));

    let bytes = replace_once(&fixture(HISTORY), "2026-10-29,", "29/10/2026,");
    let out = parse_ok(&EcbFx, HISTORY, &bytes);
    assert_reject(&out.rejects[0], 3, &["Date", "29/10/2026"]);

    let bytes = replace_once(&fixture(DAILY), "1.1172", "-1.1172");
    let out = parse_ok(&EcbFx, DAILY, &bytes);
    assert_reject(&out.rejects[0], 2, &["not positive"]);

    let bytes = fixture(HISTORY);
    let cut = &bytes[..400];
    let out = parse_ok(&EcbFx, HISTORY, cut);
    assert_eq!(out.rejects.len(), 1);
    assert!(
        out.rejects[0].reason.contains("fields"),
        "{:?}",
        out.rejects[0]
    );
}

#[test]
fn whole_file_problems() {
    assert_eq!(
        parse(&EcbFx, DAILY, b"").unwrap_err().reason(),
        "empty file"
    );
    let bytes = replace_once(&fixture(DAILY), "Date", "Day");
    let error = parse(&EcbFx, DAILY, &bytes).unwrap_err();
    assert!(
        error.to_string().contains("expected `Date,USD,JPY,...`"),
        "{error}"
    );
    assert!(error.to_string().contains("found `Day,USD,JPY"), "{error}");
    let bytes = replace_once(&fixture(DAILY), "USD", "US Dollar");
    assert!(
        parse(&EcbFx, DAILY, &bytes)
            .unwrap_err()
            .to_string()
            .contains("US Dollar")
    );
    assert!(EcbFx::new(Some(Product::Daily)).is_err());
}

#[test]
fn whole_history_file_parses_cleanly() {
    let file = "fx/eurofxref-hist.csv";
    let out = parse_ok(&EcbFx, file, &fixture(file));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects.first());
    let days: std::collections::BTreeSet<_> = rates(&out).iter().map(|rate| rate.date).collect();
    assert_eq!(days.len(), 7126);
    assert_eq!(rate(&out, date(2026, 10, 30), "USD"), Some(p("1.1172")));
    assert_eq!(rate(&out, date(1999, 1, 4), "USD"), Some(p("1.1789")));
}

const DAILY_XML: &str = "fx/eurofxref-daily.xml";
const HIST_90D_XML: &str = "fx/eurofxref-hist-90d_sample.xml";

fn triples(out: &SourceOutput) -> std::collections::BTreeSet<(Date, String, Price)> {
    rates(out)
        .iter()
        .map(|rate| (rate.date, rate.currency.to_string(), rate.per_euro))
        .collect()
}

#[test]
fn daily_xml_matches_the_daily_csv() {
    assert!(EcbFx.reference_data());
    let out = parse_ok(&EcbFx, DAILY_XML, &fixture(DAILY_XML));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(rates(&out).len(), 29);
    let day = date(2026, 10, 30);
    assert_eq!(rate(&out, day, "USD"), Some(p("1.1172")));
    assert_eq!(rate(&out, day, "JPY"), Some(p("175.68")));
    assert_eq!(rate(&out, day, "ZAR"), Some(p("18.6455")));
    assert_eq!(rate(&out, day, "GBP"), Some(p("0.8338")));
    let first = rates(&out)[0];
    assert_eq!(
        first.origin.line, 9,
        "the line of <Cube currency='USD' ...>"
    );
    assert_eq!(rates(&out)[28].origin.line, 37);
    let csv = parse_ok(&EcbFx, DAILY, &fixture(DAILY));
    assert_eq!(triples(&out), triples(&csv));
}

#[test]
fn ninety_day_xml_has_a_cube_per_day() {
    let out = parse_ok(&EcbFx, HIST_90D_XML, &fixture(HIST_90D_XML));
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(rates(&out).len(), 87);
    let days: std::collections::BTreeSet<_> = rates(&out).iter().map(|rate| rate.date).collect();
    assert_eq!(days.len(), 3);
    assert_eq!(rate(&out, date(2026, 10, 29), "USD"), Some(p("1.113")));
    assert!(rate(&out, date(2026, 10, 28), "ZAR").is_some());
    assert_eq!(
        rate(&out, date(2026, 10, 29), "BGN"),
        None,
        "N/A in the CSV, absent here"
    );
    // Every rate equals the history CSV's.
    let history = parse_ok(&EcbFx, HISTORY, &fixture(HISTORY));
    let history = triples(&history);
    assert!(triples(&out).is_subset(&history));
}

#[test]
fn xml_on_one_line_with_double_quotes() {
    let bytes = br#"<?xml version="1.0" encoding="UTF-8"?><gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref"><gesmes:subject>Reference rates</gesmes:subject><gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender><Cube><Cube time="2026-10-30"><Cube currency="USD" rate="1.1172"/><Cube currency="JPY" rate="175.68"/></Cube><Cube time="2026-10-29"><Cube currency="USD" rate="1.113"/></Cube></Cube></gesmes:Envelope>"#;
    let out = parse_ok(&EcbFx, "eurofxref-hist.xml", bytes);
    assert!(out.rejects.is_empty(), "{:?}", out.rejects);
    assert_eq!(rates(&out).len(), 3);
    assert_eq!(rate(&out, date(2026, 10, 29), "USD"), Some(p("1.113")));
    assert!(rates(&out).iter().all(|rate| rate.origin.line == 1));
}

#[test]
fn xml_bad_cubes_are_rejected() {
    let bytes = replace_once(&fixture(HIST_90D_XML), "rate='175.68'", "rate='lots'");
    let bytes = replace_once(&bytes, "time='2026-10-29'", "time='29.10.2026'");
    let bytes = replace_once(
        &bytes,
        "currency='CZK' rate='24.353'",
        "currency='C1K' rate='24.353'",
    );
    let bytes = replace_once(
        &bytes,
        "currency='DKK' rate='7.4735'",
        "currency='DKK' rate='0'",
    );
    let out = parse_ok(&EcbFx, HIST_90D_XML, &bytes);
    assert_eq!(out.rejects.len(), 4, "{:?}", out.rejects);
    assert_reject(&out.rejects[0], 10, &["JPY", "lots", "2026-10-30"]);
    assert_eq!(out.rejects[0].raw, "<Cube currency='JPY' rate='lots'>");
    assert_reject(&out.rejects[1], 11, &["currency", "C1K"]);
    assert_reject(&out.rejects[2], 12, &["DKK", "not positive"]);
    assert_reject(&out.rejects[3], 39, &["time", "29.10.2026"]);
    // The rejected day's rates are skipped; the other days parse.
    assert_eq!(rates(&out).len(), 87 - 3 - 29);
    assert_eq!(rate(&out, date(2026, 10, 29), "USD"), None);
    assert!(rate(&out, date(2026, 10, 28), "USD").is_some());

    let bytes = br#"<gesmes:Envelope><Cube><Cube currency="USD" rate="1.1"/></Cube><Cube time="2026-10-30"/></gesmes:Envelope>"#;
    let out = parse_ok(&EcbFx, "x.xml", bytes);
    assert_reject(&out.rejects[0], 1, &["outside a dated"]);
}

#[test]
fn xml_whole_file_problems() {
    let error = parse(
        &EcbFx,
        "x.xml",
        b"<html><body>Service unavailable</body></html>",
    )
    .unwrap_err();
    assert!(error.to_string().contains("<gesmes:Envelope>"), "{error}");
    assert!(error.to_string().contains("found <html>"), "{error}");
    let bytes = fixture(DAILY_XML);
    let error = parse(&EcbFx, DAILY_XML, &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { .. }),
        "{error:?}"
    );
    let error = parse(
        &EcbFx,
        "x.xml",
        b"<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\"><Cube/></gesmes:Envelope>",
    )
    .unwrap_err();
    assert!(error.to_string().contains("no dated"), "{error}");
    let error = parse(&EcbFx, "x.xml", b"\xEF\xBB\xBF  <gesmes:Envelope><Cube time='2026-10-30'><Cube currency='USD' rate='1.1172'/></Cube>").unwrap_err();
    assert!(
        matches!(error.kind, FileErrorKind::Syntax { .. }),
        "{error:?}"
    );
}
