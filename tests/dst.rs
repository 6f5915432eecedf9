//! Daylight-saving time: 23- and 25-interval days resolve to the right UTC instants.

use std::collections::BTreeSet;
use std::path::Path;

use gridflow_engine::record::{MarketClock, NativeInterval, Occurrence};

use crate::common::{gridflow, micros, read_prices};

/// CAISO writes the Pacific operating day and hour ending (`OPR_DT`, `OPR_HR`; the repeated
/// fall-back hour is `OPR_HR` 25) beside the UTC start. Resolving the local hour-ending through
/// the engine must give the UTC start CAISO printed, on every row of both DST days.
fn check_caiso_file(name: &str, day: &str, expected_hours: usize) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/caiso")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (start_column, date_column, hour_column) = (
        column("INTERVALSTARTTIME_GMT"),
        column("OPR_DT"),
        column("OPR_HR"),
    );
    let mut starts = BTreeSet::new();
    let mut checked = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if fields[date_column] != day {
            continue;
        }
        let hour: u8 = fields[hour_column].parse().unwrap();
        let (hour_ending, occurrence) = if hour == 25 {
            (2, Occurrence::Repeated)
        } else {
            (hour, Occurrence::Unstated)
        };
        let occurrence = if hour == 2 && expected_hours == 25 {
            Occurrence::First
        } else {
            occurrence
        };
        let interval = NativeInterval::HourEnding {
            date: day.parse().unwrap(),
            hour_ending,
            clock: MarketClock::zone("America/Los_Angeles"),
            occurrence,
        }
        .resolve()
        .unwrap_or_else(|error| panic!("{line}: {error}"));
        let printed = micros(&fields[start_column].replace("-00:00", "Z"));
        assert_eq!(interval.start.as_microsecond(), printed, "{line}");
        assert_eq!(interval.end.as_microsecond() - printed, 3_600_000_000);
        starts.insert(printed);
        checked += 1;
    }
    assert!(checked > 0);
    assert_eq!(starts.len(), expected_hours, "distinct hours on {day}");
}

#[test]
fn us_hour_ending_spring_forward_has_23_hours() {
    check_caiso_file(
        "20190301_20190401_PRC_LMP_DAM_20200603_09_21_36_v1_excerpt_20190310.csv",
        "2019-03-10",
        23,
    );
}

#[test]
fn us_hour_ending_fall_back_has_25_distinct_hours() {
    check_caiso_file(
        "20191101_20191201_PRC_LMP_DAM_20200603_00_24_23_v1_excerpt_20191102-04.csv",
        "2019-11-03",
        25,
    );
}

/// EPEX DE-LU through the whole pipeline: the local delivery days of the 2023 clock changes
/// have 23 and 25 hourly prices, and the repeated 02:00 hour is two distinct UTC instants.
#[test]
fn european_dst_days_through_the_pipeline() {
    let temp = tempfile::tempdir().unwrap();
    let pipeline = temp.path().join("dst.toml");
    std::fs::write(
        &pipeline,
        r#"
[sources.entsoe]
kind = "files"
format = "entsoe_a44"
path = "data/entsoe/DE_LU_dst_*.xml"

[operators.normalize]
kind = "normalize"
inputs = ["entsoe"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "${GRIDFLOW_LAKE}"
"#,
    )
    .unwrap();
    let lake = temp.path().join("lake");
    let output = gridflow(
        &["run", pipeline.to_str().unwrap(), "--no-progress"],
        &[("GRIDFLOW_LAKE", &lake)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = read_prices(&lake);
    let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
    let local_day = |start: i64| {
        jiff::Timestamp::from_microsecond(start)
            .unwrap()
            .to_zoned_datetime(berlin.clone())
            .date()
            .to_string()
    };
    let hours_on = |day: &str| {
        rows.iter()
            .filter(|r| r.market == "EPEX" && local_day(r.interval_start) == day)
            .count()
    };
    assert_eq!(hours_on("2023-03-26"), 23);
    assert_eq!(hours_on("2023-10-29"), 25);
    // 02:00 local on 29 October happens twice: 00:00Z (CEST) and 01:00Z (CET).
    for start in ["2023-10-29T00:00:00Z", "2023-10-29T01:00:00Z"] {
        assert!(
            rows.iter().any(|r| r.interval_start == micros(start)),
            "missing {start}"
        );
    }
    // No 02:00 local on 26 March: 00:59Z is followed directly by 01:00Z = 03:00 CEST.
    let spring: BTreeSet<i64> = rows
        .iter()
        .map(|r| r.interval_start)
        .filter(|s| local_day(*s) == "2023-03-26")
        .collect();
    assert!(
        spring
            .iter()
            .zip(spring.iter().skip(1))
            .all(|(a, b)| b - a == 3_600_000_000)
    );
}

/// NYISO real-time: local interval-ending stamps with no `Time Zone` column. On the
/// fall-back day 2024-11-03 the stamps 01:00..01:55 are written twice; through the whole
/// pipeline every 5-minute interval from 04:00Z to 07:00Z must land exactly once.
#[test]
fn us_interval_ending_fall_back_without_a_dst_column() {
    let temp = tempfile::tempdir().unwrap();
    let mut csv = String::from(
        "\"Time Stamp\",\"Name\",\"PTID\",\"LBMP ($/MWHr)\",\"Marginal Cost Losses ($/MWHr)\",\"Marginal Cost Congestion ($/MWHr)\"\n",
    );
    let new_york = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let mut expected_ends = BTreeSet::new();
    for step in 1..=36 {
        let end = micros("2024-11-03T04:00:00Z") + step * 300_000_000;
        expected_ends.insert(end);
        let local = jiff::Timestamp::from_microsecond(end)
            .unwrap()
            .to_zoned_datetime(new_york.clone());
        csv.push_str(&format!(
            "\"{}\",\"WEST\",61752,{}.00,0.50,0.00\n",
            local.strftime("%m/%d/%Y %H:%M:%S"),
            20 + step
        ));
    }
    // `realtime_zone` files hold the 5-minute prices (`rtlbmp` ones the hourly integration).
    std::fs::write(temp.path().join("20241103realtime_zone.csv"), &csv).unwrap();
    let pipeline = temp.path().join("nyiso.toml");
    std::fs::write(
        &pipeline,
        format!(
            "[pipeline]\nbase_currency = \"USD\"\n\n[sources.nyiso]\nkind = \"files\"\nformat = \"nyiso_lbmp\"\npath = \"{}/*.csv\"\n\n[operators.normalize]\nkind = \"normalize\"\ninputs = [\"nyiso\"]\n\n[sinks.lake]\nkind = \"parquet\"\ninputs = [\"normalize\"]\npath = \"${{GRIDFLOW_LAKE}}\"\n",
            temp.path().display()
        ),
    )
    .unwrap();
    let lake = temp.path().join("lake");
    let output = gridflow(
        &["run", pipeline.to_str().unwrap(), "--no-progress"],
        &[("GRIDFLOW_LAKE", &lake)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows = read_prices(&lake);
    let ends: BTreeSet<i64> = rows.iter().map(|r| r.interval_end).collect();
    assert_eq!(
        rows.len(),
        36,
        "every interval once, none rejected as ambiguous"
    );
    assert_eq!(ends, expected_ends);
    // The two "01:00" stamps: 05:00Z (EDT) priced 32, then 06:00Z (EST) priced 44.
    let price_at = |end: &str| {
        rows.iter()
            .find(|r| r.interval_end == micros(end))
            .unwrap()
            .price
    };
    assert_eq!(price_at("2024-11-03T05:00:00Z"), 32_000_000);
    assert_eq!(price_at("2024-11-03T06:00:00Z"), 44_000_000);
}
