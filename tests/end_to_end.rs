//! The demo pipeline end to end: run the binary, read the lake back with the parquet crate
//! and with DuckDB and pyarrow, and check counts and hand-computed values.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{gridflow, micros, python, read_prices, read_rejects, stray_files};

/// Data rows per market in the demo's input files, counted from the files themselves.
fn input_rows_per_market(root: &Path) -> BTreeMap<String, usize> {
    let csv_rows = |pattern: &str| -> usize {
        let dir = root.join(pattern);
        let (dir, prefix) = (
            dir.parent().unwrap().to_path_buf(),
            dir.file_name().unwrap().to_string_lossy().to_string(),
        );
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
            // Non-blank lines minus the header (NYISO's file opens with a blank line).
            .map(|entry| {
                std::fs::read_to_string(entry.path())
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .count()
                    .saturating_sub(1)
            })
            .sum()
    };
    let mut rows = BTreeMap::new();
    rows.insert(
        "SPP".to_string(),
        csv_rows("data/spp/DA-LMP-SL-") + csv_rows("data/spp/RTBM-LMP-SL-"),
    );
    rows.insert("NYISO".to_string(), csv_rows("data/nyiso/lmp"));
    // Nord Pool: one price per `prices` item (per-area answers) or per area of each
    // `multiAreaEntries` item (multi-area answers).
    let nordpool: usize = std::fs::read_dir(root.join("data/nordpool"))
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "json"))
        .map(|entry| {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            let count = |items: &serde_json::Value, field: &str| -> usize {
                items.as_array().map_or(0, |items| {
                    items
                        .iter()
                        .map(|item| match &item[field] {
                            serde_json::Value::Array(prices) => prices.len(),
                            serde_json::Value::Object(areas) => areas.len(),
                            _ => 0,
                        })
                        .sum()
                })
            };
            if json.get("multiAreaEntries").is_some() {
                count(&json["multiAreaEntries"], "entryPerArea")
            } else {
                count(&json, "prices")
            }
        })
        .sum();
    rows.insert("NORDPOOL".to_string(), nordpool);
    // ENTSO-E: every Period covers (end - start) / resolution intervals, A03 gaps included.
    for entry in std::fs::read_dir(root.join("data/entsoe"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let market = if text.contains("10YES-REE------0") || text.contains("10YPT-REN------W") {
            "OMIE"
        } else {
            "EPEX"
        };
        for period in text.split("<Period>").skip(1) {
            let field = |tag: &str| {
                let start = period.find(&format!("<{tag}>")).unwrap() + tag.len() + 2;
                period[start..start + period[start..].find('<').unwrap()].to_string()
            };
            let start = micros(&field("start").replace('Z', ":00Z"));
            let end = micros(&field("end").replace('Z', ":00Z"));
            let minutes: i64 = field("resolution")
                .trim_start_matches("PT")
                .trim_end_matches('M')
                .parse()
                .unwrap();
            *rows.entry(market.to_string()).or_default() +=
                ((end - start) / (minutes * 60_000_000)) as usize;
        }
    }
    rows
}

#[test]
fn demo_pipeline_writes_a_lake_that_outside_readers_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("lake");
    let output = gridflow(
        &[
            "run",
            "pipelines/demo.toml",
            "--workers",
            "2",
            "--no-progress",
        ],
        &[("GRIDFLOW_LAKE", &lake)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("records/s"), "{stdout}");
    assert!(
        stray_files(&lake).is_empty(),
        "temporary files left: {:?}",
        stray_files(&lake)
    );

    let rows = read_prices(&lake);
    let rejects = read_rejects(&lake);
    assert!(
        rows.iter().all(|row| row.diff == 1),
        "a replay without revisions only inserts"
    );

    // Rows per market = input rows - rejects from that market's sources.
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    for row in &rows {
        *written.entry(row.market.clone()).or_default() += 1;
    }
    // FX rates are read on every worker before any price, so no missing-rate reject is
    // ever written and later retracted.
    assert!(
        rejects.iter().all(|r| r.diff == 1),
        "{:?}",
        rejects
            .iter()
            .filter(|r| r.diff != 1)
            .take(3)
            .collect::<Vec<_>>()
    );
    // Count net rejects all the same: the lake's contract is the sum of `diff`.
    let mut net_rejects: BTreeMap<(String, String, i64, String), i64> = BTreeMap::new();
    for reject in &rejects {
        *net_rejects
            .entry((
                reject.source.clone(),
                reject.file.clone(),
                reject.line,
                reject.reason.clone(),
            ))
            .or_default() += reject.diff;
    }
    let mut rejected_rows: BTreeMap<&str, usize> = BTreeMap::new();
    for ((source, _, line, _), _) in net_rejects
        .iter()
        .filter(|(key, net)| key.2 > 0 && **net > 0)
    {
        let _ = line;
        let market = match source.as_str() {
            "spp_da" | "spp_rt" => "SPP",
            "nyiso_rt" => "NYISO",
            "nordpool" => "NORDPOOL",
            other => panic!("unexpected row reject from {other}"),
        };
        *rejected_rows.entry(market).or_default() += 1;
    }
    let inputs = input_rows_per_market(root);
    for (market, input) in &inputs {
        let expected = input - rejected_rows.get(market.as_str()).copied().unwrap_or(0);
        assert_eq!(
            written.get(market).copied().unwrap_or(0),
            expected,
            "rows for {market}"
        );
    }
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        inputs.keys().collect::<Vec<_>>()
    );

    // The empty SPP file is a reject, not a crash and not silence.
    assert!(
        rejects.iter().any(|r| r.file.ends_with("RTBM-LMP-SL-202503310845.csv") && r.reason.contains("empty")),
        "{rejects:?}"
    );

    // Hand-computed spot values (ECB rate of the interval's UTC date, half away from zero):
    let find = |market: &str, location: &str, start: &str| {
        rows.iter()
            .find(|r| {
                r.market == market && r.location == location && r.interval_start == micros(start)
            })
            .unwrap_or_else(|| panic!("no {market} {location} {start}"))
    };
    // SPP DA AEC, interval ending 06:00Z: 9.6667 USD / 1.0897 USD per EUR (2025-03-19) = 8.870974 EUR.
    let aec = find("SPP", "AEC", "2025-03-19T05:00:00Z");
    assert_eq!(
        (aec.native_price, aec.price, aec.currency.as_str()),
        (9_666_700, 8_870_974, "EUR")
    );
    assert_eq!(aec.interval_end, micros("2025-03-19T06:00:00Z"));
    assert_eq!(aec.product, "DAY_AHEAD_HOURLY");
    // NYISO CAPITL "02/18/2016 00:15:00" is interval-ending EST: 05:10Z-05:15Z;
    // 21.53 USD / 1.1084 (2016-02-18) = 19.424396 EUR.
    let capitl = find("NYISO", "CAPITL", "2016-02-18T05:10:00Z");
    assert_eq!(
        (capitl.native_price, capitl.price),
        (21_530_000, 19_424_396)
    );
    assert_eq!(capitl.interval_end, micros("2016-02-18T05:15:00Z"));
    // Nord Pool SE4 and EPEX FR are published in EUR: unchanged.
    assert_eq!(
        find("NORDPOOL", "SE4", "2024-07-07T22:00:00Z").price,
        79_670_000
    );
    assert_eq!(
        find("EPEX", "FR", "2023-05-06T22:00:00Z").price,
        106_780_000
    );

    // A real outside reader: DuckDB runs the README's query with no extra options, and
    // pyarrow reads the same files as a Hive-partitioned dataset.
    let script = r#"
import sys, duckdb, pyarrow.dataset as ds
lake = sys.argv[1]
con = duckdb.connect()
# Slow queries on a busy machine would print a progress bar among the parsed lines.
con.sql("SET enable_progress_bar = false")
con.execute("SET TimeZone = 'UTC'")  # display only: instants are stored UTC-adjusted
rows = con.execute(f"SELECT market, count(*), min(interval_start), max(price) FROM read_parquet('{lake}/prices/**/*.parquet', hive_partitioning=true) GROUP BY 1 ORDER BY 1").fetchall()
for market, count, first, top in rows:
    print(f"duckdb {market} {count} {first.isoformat()} {top}")
types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{lake}/prices/**/*.parquet', hive_partitioning=true)").fetchall()}
print("type interval_start", types["interval_start"])
print("type price", types["price"])
table = ds.dataset(f"{lake}/prices", format="parquet", partitioning="hive").to_table()
print("pyarrow rows", table.num_rows)
"#;
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(&lake)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed:\n{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (market, count) in &written {
        let line = printed
            .lines()
            .find(|l| l.starts_with(&format!("duckdb {market} ")))
            .unwrap_or_else(|| panic!("DuckDB shows no {market}:\n{printed}"));
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[2], count.to_string(), "{line}");
        let first_start = rows
            .iter()
            .filter(|r| &r.market == market)
            .map(|r| r.interval_start)
            .min()
            .unwrap();
        let shown: jiff::Timestamp = fields[3].parse().unwrap();
        assert_eq!(shown.as_microsecond(), first_start, "{line}");
        assert!(
            fields[3].ends_with("+00:00"),
            "timestamps are UTC-adjusted: {line}"
        );
        let top = rows
            .iter()
            .filter(|r| &r.market == market)
            .map(|r| r.price)
            .max()
            .unwrap();
        let shown_top: f64 = fields[4].parse().unwrap();
        assert!(
            (shown_top - top as f64 / 1e6).abs() < 1e-9,
            "{line} vs {top}"
        );
    }
    assert!(
        printed.contains("type interval_start TIMESTAMP WITH TIME ZONE"),
        "{printed}"
    );
    assert!(printed.contains("type price DECIMAL(18,6)"), "{printed}");
    assert!(
        printed.contains(&format!("pyarrow rows {}", rows.len())),
        "{printed}"
    );

    // The README's command, verbatim, with the DuckDB command-line client.
    let duckdb = python().with_file_name("duckdb");
    let query = "SELECT market, count(*), min(interval_start), max(price) FROM read_parquet('lake/prices/**/*.parquet', hive_partitioning=true) GROUP BY 1";
    let output = std::process::Command::new(duckdb)
        .args(["-c", query])
        .current_dir(temp.path())
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (market, count) in &written {
        let row = table
            .lines()
            .find(|l| l.contains(&format!(" {market} ")))
            .unwrap_or_else(|| panic!("{table}"));
        assert!(row.contains(&format!(" {count} ")), "{row}");
    }
    assert!(
        table.contains("timestamp with time zone") && table.contains("decimal(18,6)"),
        "{table}"
    );
}
