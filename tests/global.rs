//! `pipelines/global.toml`: every market's fixtures in one run and one lake, queried with
//! DuckDB. A source whose file drifted (a renamed column) costs one clear reject and the
//! other markets are written all the same.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{gridflow, python, read_rejects};

/// Every market of the platform with prices in the bundled fixtures.
const MARKETS: &[&str] = &[
    "AESO", "CAISO", "CARBON", "EPEX", "ERCOT", "GAS", "IESO", "JEPX", "MISO", "NEM", "NORDPOOL",
    "NYISO", "OMIE", "PJM", "SPP",
];

/// One line per market from DuckDB: rows, currencies, earliest and latest interval start.
const PER_MARKET: &str = r#"
import duckdb, sys
lake = sys.argv[1]
# A query slower than two seconds (a busy machine) would print DuckDB's progress bar into
# the rows this test parses.
duckdb.sql("SET enable_progress_bar = false")
rows = duckdb.sql(f"""
    SELECT market, sum(diff), string_agg(DISTINCT currency, '+'),
           strftime(min(interval_start) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M'),
           strftime(max(interval_start) AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M')
    FROM read_parquet('{lake}/prices/**/*.parquet', hive_partitioning = true)
    GROUP BY market ORDER BY market
""").fetchall()
for row in rows:
    print(*row)
spot = duckdb.sql(f"""
    SELECT market, location, product,
           strftime(interval_start AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M'), price, native_price, native_currency
    FROM read_parquet('{lake}/prices/**/*.parquet', hive_partitioning = true)
    WHERE (market = 'JEPX' AND location = 'SYSTEM' AND interval_start = TIMESTAMPTZ '2025-03-31 15:00:00+00')
       OR (market = 'SPP' AND location = 'AEC' AND product = 'DAY_AHEAD_HOURLY'
           AND interval_start = TIMESTAMPTZ '2025-03-19 05:00:00+00')
       OR (market = 'GAS' AND location = 'HENRY_HUB' AND interval_start = TIMESTAMPTZ '2022-12-13 06:00:00+00')
    ORDER BY market
""").fetchall()
for row in spot:
    print('spot', *row)
storage = duckdb.sql(f"""
    SELECT location, sum(diff), count(DISTINCT date), any_value(unit),
           sum(diff * value) FILTER (WHERE interval_start = TIMESTAMPTZ '2022-12-02 05:00:00+00')
    FROM read_parquet('{lake}/fundamentals/**/*.parquet', hive_partitioning = true)
    WHERE market = 'GAS' AND series = 'WORKING_GAS_STORAGE' AND product = 'WEEKLY'
    GROUP BY location ORDER BY location
""").fetchall()
for row in storage:
    print('storage', *row)
"#;

#[test]
fn every_market_lands_in_one_lake_in_utc_and_euros() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    // A publisher renamed SPP's `LMP` column: that file is one reject, the rest goes on.
    let drifted = temp.path().join("RTBM-LMP-SL-202503310840.csv");
    let original =
        std::fs::read_to_string(root.join("data/spp/RTBM-LMP-SL-202503310840.csv")).unwrap();
    std::fs::write(&drifted, original.replacen(",LMP,", ",Price,", 1)).unwrap();
    let pipeline = std::fs::read_to_string(root.join("pipelines/global.toml"))
        .unwrap()
        .replacen(
            "[operators.normalize]",
            &format!(
                "[sources.drifted]\nkind = \"files\"\nformat = \"spp_lmp\"\npath = \"{}\"\n\n[operators.normalize]",
                drifted.display()
            ),
            1,
        )
        .replacen("inputs = [\n", "inputs = [\n    \"drifted\",\n", 1);
    let file = temp.path().join("global.toml");
    std::fs::write(&file, pipeline).unwrap();
    let lake = temp.path().join("lake");
    let output = gridflow(
        &["run", file.to_str().unwrap(), "--no-progress"],
        &[("GRIDFLOW_LAKE", &lake)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let queried = std::process::Command::new(python())
        .arg("-c")
        .arg(PER_MARKET)
        .arg(&lake)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&queried.stdout);
    assert!(
        queried.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&queried.stderr)
    );
    let mut markets: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in printed
        .lines()
        .filter(|line| !line.starts_with("spot ") && !line.starts_with("storage "))
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        markets.insert(fields[0], fields[1..].to_vec());
    }
    assert_eq!(
        markets.keys().copied().collect::<Vec<_>>(),
        MARKETS,
        "{printed}"
    );
    for (market, fields) in &markets {
        let rows: i64 = fields[0].parse().unwrap();
        assert!(rows > 0, "{market}: {printed}");
        assert_eq!(fields[1], "EUR", "{market} is not in the base currency");
    }
    // UTC instants: JEPX code 1 of 2025-04-01 JST starts 2025-03-31T15:00Z; the first SPP
    // real-time interval ends 08:40 CDT = 13:40Z; Henry Hub's history starts in 1999 once
    // the pre-euro days are rejected; the EUA futures history starts in January 2021.
    assert_eq!(markets["JEPX"][2], "2025-03-31T15:00", "{printed}");
    assert_eq!(markets["SPP"][3], "2025-03-31T14:05", "{printed}");
    assert!(markets["GAS"][2].starts_with("1999-01"), "{printed}");
    assert!(markets["CARBON"][2].starts_with("2021-01"), "{printed}");

    // Spot values against hand computations with the ECB rates of the day:
    let spot: Vec<&str> = printed.lines().filter(|l| l.starts_with("spot ")).collect();
    let find = |market: &str| {
        spot.iter()
            .find(|line| line.split_whitespace().nth(1) == Some(market))
            .unwrap_or_else(|| panic!("no spot value for {market}:\n{printed}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    // 13.50 JPY/kWh (as published) = 13,500 JPY/MWh at 161.6 JPY per EUR (2025-03-31).
    assert_eq!(find("JEPX")[5..8], ["83.539604", "13.500000", "JPY"]);
    // SPP day-ahead AEC, HE1 of 2025-03-19 CDT: 9.6667 USD/MWh at 1.0897 USD per EUR.
    assert_eq!(find("SPP")[5..8], ["8.870974", "9.666700", "USD"]);
    // Henry Hub 7.20 USD/MMBtu on 2022-12-13 at 1.0545 USD per EUR.
    assert_eq!(find("GAS")[5..8], ["6.827881", "7.200000", "USD"]);

    // Gas in storage, through `fundamentals` into the same lake: every report region, two
    // weeks each, in Bcf; the Friday of the week ending 2 December is 05:00Z (EST).
    let storage: Vec<Vec<&str>> = printed
        .lines()
        .filter(|line| line.starts_with("storage "))
        .map(|line| line.split_whitespace().skip(1).collect())
        .collect();
    let regions: Vec<&str> = storage.iter().map(|row| row[0]).collect();
    assert_eq!(
        regions,
        [
            "EAST",
            "LOWER_48",
            "MIDWEST",
            "MOUNTAIN",
            "PACIFIC",
            "SOUTH_CENTRAL",
            "SOUTH_CENTRAL_NONSALT",
            "SOUTH_CENTRAL_SALT"
        ],
        "{printed}"
    );
    for row in &storage {
        assert_eq!(row[1..4], ["2", "2", "Bcf"], "{printed}");
    }
    assert_eq!(storage[0][4], "834.000000", "East, week ending 2022-12-02");
    assert_eq!(
        storage[1][4], "3462.000000",
        "Lower 48, week ending 2022-12-02"
    );

    let rejects = read_rejects(&lake);
    let drift: Vec<_> = rejects.iter().filter(|r| r.source == "drifted").collect();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert!(
        drift[0].reason.contains(
            "expected `Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP,MLC,MCC,MEC`"
        ) && drift[0].reason.contains("Price")
            && drift[0].reason.contains("missing: LMP"),
        "{}",
        drift[0].reason
    );
    let gas: Vec<_> = rejects.iter().filter(|r| r.source == "henry_hub").collect();
    assert_eq!(
        gas.len(),
        500,
        "the 1997-1998 Henry Hub days predate the euro"
    );
    assert!(
        gas.iter()
            .all(|r| r.reason.contains("no ECB reference rate for USD"))
    );
    let others: Vec<_> = rejects
        .iter()
        .filter(|r| !matches!(r.source.as_str(), "drifted" | "henry_hub"))
        .collect();
    assert_eq!(others.len(), 1, "{others:?}");
    assert_eq!(others[0].reason, "empty file", "SPP's empty 08:45 file");
}
