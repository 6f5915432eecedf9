//! The JEPX and NEM example pipelines end to end: yen per kWh and Australian dollars per
//! MWh come out of the lake in euros per MWh, at the UTC instants the markets' clocks imply.

use std::path::Path;

use crate::common::{LakeRow, gridflow, micros, net_content, read_prices, read_rejects};

/// Runs `pipelines/<name>.toml` into a fresh lake and returns its net price rows.
fn run(name: &str) -> Vec<LakeRow> {
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("lake");
    let pipeline = format!("pipelines/{name}.toml");
    let output = gridflow(
        &["run", &pipeline, "--no-progress"],
        &[("GRIDFLOW_LAKE", &lake)],
    );
    assert!(
        output.status.success(),
        "{pipeline} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(read_rejects(&lake).is_empty(), "{pipeline} rejected rows");
    net_content(&read_prices(Path::new(&lake)))
        .into_iter()
        .map(|(row, count)| {
            assert_eq!(count, 1, "{row:?}");
            row
        })
        .collect()
}

fn find<'a>(rows: &'a [LakeRow], location: &str, product: &str, start: &str) -> &'a LakeRow {
    rows.iter()
        .find(|row| {
            row.location == location
                && row.product == product
                && row.interval_start == micros(start)
        })
        .unwrap_or_else(|| panic!("no {location} {product} at {start}"))
}

#[test]
fn jepx_yen_per_kwh_become_euros_per_mwh() {
    let rows = run("jepx");
    assert_eq!(rows.len(), 8160);
    // Code 1 of 2025/04/01 starts 2025-03-31T15:00Z: 13.50 JPY/kWh = 13,500 JPY/MWh,
    // at the ECB's 161.6 JPY per EUR of 2025-03-31: 83.539604 EUR/MWh.
    let system = find(&rows, "SYSTEM", "DAY_AHEAD_30_MIN", "2025-03-31T15:00:00Z");
    assert_eq!(system.market, "JEPX");
    assert_eq!(system.interval_end, micros("2025-03-31T15:30:00Z"));
    assert_eq!(system.native_price, 13_500_000);
    assert_eq!(system.native_currency, "JPY");
    assert_eq!(system.currency, "EUR");
    assert_eq!(system.price, 83_539_604);
}

#[test]
fn nem_australian_dollars_become_euros_per_mwh() {
    let rows = run("nem");
    // Three DispatchIS reports (5 regions x 11 products) and the 5-minute API (2,880).
    assert_eq!(rows.len(), 3 * 55 + 2880);
    // SA1 at the cap, interval ending 18:05 AEST: 17,500 AUD at 1.6639 AUD per EUR.
    let cap = find(&rows, "SA1", "REAL_TIME_5_MIN", "2025-01-21T08:00:00Z");
    assert_eq!(cap.native_price, 17_500_000_000);
    assert_eq!(cap.native_currency, "AUD");
    assert_eq!(cap.price, 10_517_458_982);
    let fcas = find(&rows, "SA1", "FCAS_RAISE_6_SEC", "2025-01-21T08:00:00Z");
    assert_eq!(fcas.native_price, 1_389_940_000);
    // The floor on Sunday 2025-10-12 uses Friday's rate (1.765): -566.572238 EUR/MWh.
    let floor = find(&rows, "SA1", "REAL_TIME_5_MIN", "2025-10-12T02:25:00Z");
    assert_eq!(floor.price, -566_572_238);
    // The API's NSW1 15.82342 at 1.5913 AUD per EUR (2021-10-06).
    let api = find(&rows, "NSW1", "REAL_TIME_5_MIN", "2021-10-06T05:15:00Z");
    assert_eq!(api.price, 9_943_706);
}
