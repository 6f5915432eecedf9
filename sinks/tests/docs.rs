//! Every query in docs/lake.md runs, with outside readers, against a lake the sink wrote,
//! and returns what the doc shows: the reference cannot drift from the lake.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs the doc's code blocks: each `sql` block in DuckDB (compared with the `text` table
/// that follows it, when there is one), each `python` block as is, then the doc's claims.
const CHECK: &str = r#"
import datetime, re, sys
import duckdb

doc = open(sys.argv[1]).read()
blocks = re.findall(r"```(\w+)\n(.*?)```", doc, re.S)
failures = []

def cell(value):
    if value is None:
        return "NULL"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S") + "+00"
    return str(value)

def shown(text):
    rows = [[c.strip() for c in line.strip().strip("│").split("│")]
            for line in text.splitlines() if line.startswith("│")]
    return rows[0], rows[1:]

def connect():
    con = duckdb.connect()
    con.sql("SET TimeZone = 'UTC'")
    return con

def column(table, name):
    values = table[name]
    return values.to_pylist() if hasattr(values, "to_pylist") else values.to_list()

sql = python = 0
for index, (language, body) in enumerate(blocks):
    if language == "sql":
        sql += 1
        try:
            result = connect().sql(body)
            rows = [[cell(v) for v in row] for row in result.fetchall()]
        except Exception as error:
            failures.append(f"query fails: {error}\n{body}")
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else ("", "")
        if following[0] == "text" and "│" in following[1]:
            header, expected = shown(following[1])
            if header != list(result.columns) or expected != rows:
                failures.append(f"{body}\nshows {header} {expected}\nreturns {result.columns} {rows}")
        if body.startswith("DESCRIBE"):
            listed = " ".join(l[3:] for l in body.splitlines() if l.startswith("-- "))
            expected = [tuple(item.strip().split(" ", 1)) for item in listed.split(", ")]
            described = [(name, kind) for name, kind, *_ in rows]
            if expected != described:
                failures.append(f"DESCRIBE shows {described}, the doc says {expected}")
    elif language == "python":
        python += 1
        names = {}
        exec(body, names)
        prices = sorted(str(p) for p in column(names["current"], "price"))
        if prices != ["-12.345678", "27.250000", "30.000001"]:
            failures.append(f"current prices: {prices}\n{body}")
        if "known" in names and sorted(str(p) for p in column(names["known"], "price")) != ["-12.345678", "25.500000"]:
            failures.append(f"known prices: {column(names['known'], 'price')}")
        if "per_source" in names and sorted(column(names["per_source"], "rejects")) != [1, 1]:
            failures.append(f"rejects per source: {names['per_source']}")

plan = connect().sql("""EXPLAIN ANALYZE SELECT count(*)
    FROM read_parquet('lake/prices/**/*.parquet', hive_partitioning = true)
    WHERE market = 'PJM' AND date = DATE '2024-01-01'""").fetchall()[0][1]
if "Scanning Files: 1/3" not in plan:
    failures.append(f"partition pruning not as the doc says:\n{plan}")

print(f"{sql} sql and {python} python blocks run")
if sql < 17 or python < 2:
    failures.append("fewer blocks than expected: did the doc's format change?")
if failures:
    print("\n\n".join(failures))
    sys.exit(1)
"#;

/// The project's Python with duckdb, pyarrow and polars, made by `scripts/test` (or
/// `$GRIDFLOW_PYTHON`).
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("GRIDFLOW_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run the tests with scripts/test, which creates it (duckdb, pyarrow, polars)",
        venv.display()
    );
    venv
}

#[test]
fn every_query_in_the_lake_reference_returns_what_it_shows() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    crate::lake::write_example_lake(&root);
    // What a crash leaves behind: readers must not see it.
    std::fs::write(
        root.join("prices/market=PJM/date=2024-01-01/.part-0-w0-000000.parquet.tmp"),
        b"PAR1 half a file",
    )
    .unwrap();
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/lake.md");
    let output = Command::new(python())
        .arg("-c")
        .arg(CHECK)
        .arg(&doc)
        .current_dir(temporary.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
