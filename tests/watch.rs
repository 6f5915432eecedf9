//! The `watch` source: files dropped into a folder are ingested while gridflow runs, a
//! replaced file with a changed value becomes a revision, and a restart with positions
//! does not read unchanged files again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{LakeRow, read_prices, stray_files};

const FIXTURE: &str = "data/spp/RTBM-LMP-SL-202503310840.csv";
const NAME: &str = "RTBM-LMP-SL-202503310840.csv";
/// Data rows in the fixture (1,235 lines less the header).
const ROWS: usize = 1234;

fn pipeline(dir: &Path) -> PathBuf {
    let file = dir.join("watch.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[pipeline]
base_currency = "USD"

[sources.spp_live]
kind = "watch"
format = "spp_lmp"
directory = "{drop}"
pattern = "RTBM-LMP-SL-*.csv"
poll_interval_seconds = 0.2
settle_seconds = 0.2
positions = "{state}"

[operators.normalize]
kind = "normalize"
inputs = ["spp_live"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "{lake}"
max_file_age_seconds = 1
"#,
            drop = dir.join("drop").display(),
            state = dir.join("state/positions.json").display(),
            lake = dir.join("lake").display(),
        ),
    )
    .unwrap();
    file
}

fn start(pipeline: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_gridflow"))
        .args(["run", pipeline.to_str().unwrap(), "--no-progress"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn interrupt(child: Child) -> String {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Publishes `content` the way a careful publisher does: a hidden name, then a rename.
fn publish(drop: &Path, content: &[u8]) {
    let hidden = drop.join(format!(".{NAME}.part"));
    std::fs::write(&hidden, content).unwrap();
    std::fs::rename(&hidden, drop.join(NAME)).unwrap();
}

fn wait_for(lake: &Path, what: &str, done: impl Fn(&[LakeRow]) -> bool) -> Vec<LakeRow> {
    let started = Instant::now();
    loop {
        let rows = read_prices(lake);
        if done(&rows) {
            return rows;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {} rows",
            rows.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Net diff per (location, interval start, price).
fn net(rows: &[LakeRow]) -> BTreeMap<(String, i64, i128), i64> {
    let mut net = BTreeMap::new();
    for row in rows {
        *net.entry((row.location.clone(), row.interval_start, row.price))
            .or_default() += row.diff;
    }
    net.retain(|_, diff| *diff != 0);
    net
}

#[test]
fn dropped_files_are_ingested_replacements_revise_and_restarts_do_not_reread() {
    let temp = tempfile::tempdir().unwrap();
    let drop = temp.path().join("drop");
    std::fs::create_dir_all(&drop).unwrap();
    let lake = temp.path().join("lake");
    let pipeline = pipeline(temp.path());
    let original = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)).unwrap();

    let child = start(&pipeline);
    publish(&drop, &original);
    wait_for(&lake, "the dropped file", |rows| rows.len() >= ROWS);

    // SPP corrects AEC's price in a re-published file.
    let text = String::from_utf8(original.clone()).unwrap();
    let corrected = text.replacen(",AEC,SOUC,35.6875,", ",AEC,SOUC,41.25,", 1);
    assert_ne!(text, corrected);
    publish(&drop, corrected.as_bytes());
    let rows = wait_for(&lake, "the revision", |rows| {
        rows.iter().any(|row| row.diff < 0)
    });
    // The same bytes again: nothing new.
    publish(&drop, corrected.as_bytes());
    std::thread::sleep(Duration::from_millis(1500));
    let stdout = interrupt(child);
    assert!(stdout.contains("stopped by Ctrl-C"), "{stdout}");

    let rows_after = read_prices(&lake);
    assert_eq!(
        rows_after.len(),
        rows.len(),
        "re-publishing identical bytes wrote rows"
    );
    assert_eq!(
        rows_after.len(),
        ROWS + 2,
        "inserts, one retraction, one insert"
    );
    let retractions: Vec<&LakeRow> = rows_after.iter().filter(|row| row.diff < 0).collect();
    assert_eq!(retractions.len(), 1);
    assert_eq!(retractions[0].location, "AEC");
    assert_eq!(retractions[0].price, 35_687_500);
    let net = net(&rows_after);
    assert_eq!(net.len(), ROWS, "one current price per location");
    assert!(net.values().all(|diff| *diff == 1));
    let aec: Vec<_> = net
        .keys()
        .filter(|(location, _, _)| location == "AEC")
        .collect();
    assert_eq!(aec.len(), 1);
    assert_eq!(aec[0].2, 41_250_000);
    assert!(stray_files(&lake).is_empty());

    let positions = std::fs::read_to_string(temp.path().join("state/positions.json")).unwrap();
    assert!(positions.contains(NAME), "{positions}");
    assert!(
        positions.contains(&format!("\"size\": {}", corrected.len())),
        "{positions}"
    );

    // A restart with the positions reads nothing: the file has not changed.
    let child = start(&pipeline);
    std::thread::sleep(Duration::from_secs(3));
    let stdout = interrupt(child);
    assert_eq!(
        read_prices(&lake).len(),
        rows_after.len(),
        "the restart read an unchanged file again:\n{stdout}"
    );
}
