//! Ctrl-C stops a live-paced run cleanly: sinks flush, files are committed, exit status 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{read_prices, stray_files};

#[test]
fn ctrl_c_flushes_the_sinks_and_exits_cleanly() {
    let temp = tempfile::tempdir().unwrap();
    let lake = temp.path().join("lake");
    let pipeline = temp.path().join("replay.toml");
    // 35 minutes of SPP real-time prices replayed at 60x would take 35 s.
    std::fs::write(
        &pipeline,
        format!(
            r#"
[pipeline]
base_currency = "USD"

[sources.spp_rt]
kind = "files"
format = "spp_lmp"
path = "data/spp/RTBM-LMP-SL-*.csv"
mode = "replay"
speed = 60.0

[operators.normalize]
kind = "normalize"
inputs = ["spp_rt"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "{}"
"#,
            lake.display()
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_gridflow"))
        .args(["run", pipeline.to_str().unwrap(), "--no-progress"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first replayed interval is in flight, then interrupt.
    std::thread::sleep(Duration::from_secs(3));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("stopped by Ctrl-C"), "{stdout}");

    let rows = read_prices(&lake);
    assert!(
        !rows.is_empty(),
        "what was processed before Ctrl-C is committed"
    );
    assert!(
        rows.len() < 6 * 1234,
        "the replay was interrupted, not finished: {} rows",
        rows.len()
    );
    assert!(stray_files(&lake).is_empty(), "{:?}", stray_files(&lake));
}
