//! `pipelines/regimes.toml` end to end: two days of NEM 5-minute prices through `normalize`
//! and two `regime` operators (HMM and BOCPD) into the lake, read back with DuckDB.

use std::path::Path;

use crate::common::{gridflow, python_stdout};

/// Per operator: rows, net rows, regions, rows whose probabilities do not sum to exactly
/// 1, rows with a state outside 0..3, events; then the HMM's mean price per regime.
const CHECK: &str = r#"
import duckdb, sys
lake = sys.argv[1]
duckdb.sql("SET enable_progress_bar = false")
regimes = f"read_parquet('{lake}/regimes/**/*.parquet', hive_partitioning = true)"
for row in duckdb.sql(f"""
    SELECT operator, method, count(*), sum(diff), count(DISTINCT location),
           count(*) FILTER (WHERE method = 'hmm' AND list_sum(probabilities) <> 1),
           count(*) FILTER (WHERE method = 'hmm'
               AND NOT (state BETWEEN 0 AND 2 AND len(probabilities) = 3)),
           count(*) FILTER (WHERE changed),
           count(*) FILTER (WHERE method = 'bocpd' AND (run_length < 1 OR change_probability IS NULL)),
           min(date), max(date), any_value(market), any_value(currency)
    FROM {regimes} GROUP BY ALL ORDER BY operator
""").fetchall():
    print(*row)
for row in duckdb.sql(f"""
    SELECT 'mean', state, round(avg(price), 2) FROM {regimes}
    WHERE method = 'hmm' GROUP BY state ORDER BY state
""").fetchall():
    print(*row)
prices = duckdb.sql(f"""
    SELECT count(*) FROM read_parquet('{lake}/prices/**/*.parquet', hive_partitioning = true)
""").fetchall()[0][0]
print('prices', prices)
"#;

#[test]
fn the_regimes_pipeline_writes_a_regimes_table_duckdb_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("lake");
    let output = gridflow(
        &[
            "run",
            root.join("pipelines/regimes.toml").to_str().unwrap(),
            "--no-progress",
            "--workers",
            "2",
        ],
        &[("GRIDFLOW_LAKE", &lake)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = python_stdout(CHECK, &[&lake]);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();

    // A backfill sees every price once: nothing is retracted. Five regions of 576 prices:
    // the HMM's rows start at the 288th price of each (289 rows each), BOCPD's at the 12th.
    let changes = &lines[0];
    assert_eq!(
        &changes[..5],
        ["changes", "bocpd", "2825", "2825", "5"],
        "{text}"
    );
    assert_eq!(changes[8], "0", "BOCPD rows without a run length: {text}");
    let regimes = &lines[1];
    assert_eq!(
        &regimes[..5],
        ["regimes", "hmm", "1445", "1445", "5"],
        "{text}"
    );
    assert_eq!(
        regimes[5], "0",
        "HMM rows whose probabilities do not sum to 1: {text}"
    );
    assert_eq!(regimes[6], "0", "HMM rows with impossible states: {text}");
    for operator in [changes, regimes] {
        assert!(operator[7].parse::<u32>().unwrap() > 0, "no events: {text}");
        assert_eq!(&operator[11..], ["NEM", "EUR"], "{text}");
    }
    // Regimes are ordered by mean: the mean price rises with the label.
    let means: Vec<f64> = lines
        .iter()
        .filter(|l| l[0] == "mean")
        .map(|l| l[2].parse().unwrap())
        .collect();
    assert!(means.len() >= 2, "{text}");
    assert!(means.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert_eq!(lines.last().unwrap(), &["prices", "2880"], "{text}");
}
