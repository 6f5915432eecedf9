//! Bad input never crashes and never vanishes: it lands in the rejects table with file,
//! line and reason, and good rows around it still arrive.

use crate::common::{gridflow, read_prices, read_rejects};

const HEADER: &str = "Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP,MLC,MCC,MEC\n";
const GOOD: &str =
    "03/31/2025 09:00:00,03/31/2025 14:00:00,AEC,SOUC,28.0359,-0.6716,-0.0233,28.7308\n";

#[test]
fn malformed_files_become_rejects_with_file_line_and_reason() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("in");
    std::fs::create_dir(&data).unwrap();
    let write = |name: &str, text: &str| std::fs::write(data.join(name), text).unwrap();
    // Non-numeric price on line 3, between good rows.
    write(
        "RTBM-LMP-SL-202503310900.csv",
        &format!(
            "{HEADER}{GOOD}03/31/2025 09:00:00,03/31/2025 14:00:00,AECC_CSWS,CSWS_AECC_LA,abc,-0.5179,0.0438,28.7308\n{}",
            GOOD.replace("AEC,SOUC", "AECC_ELKINS,CSWSELKINSUNELKINS_RA")
        ),
    );
    // Truncated in the middle of its second data row.
    write(
        "RTBM-LMP-SL-202503310905.csv",
        &format!(
            "{HEADER}{}03/31/2025 09:05:00,03/31/20",
            GOOD.replace("09:00:00,03/31/2025 14:00", "09:05:00,03/31/2025 14:05")
        ),
    );
    // A renamed column: format drift.
    write(
        "RTBM-LMP-SL-202503310910.csv",
        &format!("{}{GOOD}", HEADER.replace("MEC", "Energy")),
    );
    // Empty, as SPP sometimes publishes.
    write("RTBM-LMP-SL-202503310915.csv", "");

    let pipeline = temp.path().join("bad.toml");
    std::fs::write(
        &pipeline,
        format!(
            r#"
[pipeline]
base_currency = "USD"

[sources.spp_rt]
kind = "files"
format = "spp_lmp"
path = "{}/RTBM-*.csv"

[operators.normalize]
kind = "normalize"
inputs = ["spp_rt"]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "{}/lake"
"#,
            data.display(),
            temp.path().display()
        ),
    )
    .unwrap();
    let output = gridflow(&["run", pipeline.to_str().unwrap(), "--no-progress"], &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let lake = temp.path().join("lake");
    let prices = read_prices(&lake);
    let mut locations: Vec<&str> = prices.iter().map(|r| r.location.as_str()).collect();
    locations.sort_unstable();
    // Good rows of the first two files survive; USD base needs no FX rate.
    assert_eq!(locations, ["AEC", "AEC", "AECC_ELKINS"], "{prices:?}");

    let rejects = read_rejects(&lake);
    let find = |file: &str| {
        rejects
            .iter()
            .filter(|r| r.file.ends_with(file))
            .collect::<Vec<_>>()
    };
    let non_numeric = find("0900.csv");
    assert_eq!(non_numeric.len(), 1, "{rejects:?}");
    assert_eq!(non_numeric[0].line, 3);
    assert!(
        non_numeric[0].reason.contains("abc"),
        "{}",
        non_numeric[0].reason
    );
    let truncated = find("0905.csv");
    assert_eq!(truncated.len(), 1, "{rejects:?}");
    assert_eq!(truncated[0].line, 3);
    let drift = find("0910.csv");
    assert_eq!(drift.len(), 1, "{rejects:?}");
    assert!(
        drift[0].reason.contains("MEC") && drift[0].reason.contains("Energy"),
        "names expected and found: {}",
        drift[0].reason
    );
    let empty = find("0915.csv");
    assert_eq!(empty.len(), 1);
    assert!(empty[0].reason.contains("empty"), "{}", empty[0].reason);
    assert!(rejects.iter().all(|r| r.source == "spp_rt"));
    assert!(
        stdout.contains("spp_rt"),
        "the summary counts rejects per source: {stdout}"
    );
}
