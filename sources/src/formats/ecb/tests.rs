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
            Observation::Price(_) => None,
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
