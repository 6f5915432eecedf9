//! Parser throughput per format: each format parses its largest bundled fixture in memory,
//! repeatedly, on one thread (no dataflow, no I/O), and reports records/s and MB/s.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use gridflow_engine::component::SourceOutput;
use gridflow_sources::formats::{FormatOptions, format_by_name};

/// (format, fixture under the repository root, kind of text).
const CASES: &[(&str, &str, &str)] = &[
    ("spp_lmp", "data/spp/DA-LMP-SL-202503190100.csv", "CSV"),
    ("nyiso_lbmp", "data/nyiso/lmp.csv", "CSV"),
    (
        "caiso_oasis",
        "data/caiso/20230917_20230919_PRC_RTPD_LMP_RTPD_20230921_11_49_39_v2.csv",
        "CSV",
    ),
    ("miso_lmp", "data/miso/20240310_da_expost_lmp.csv", "CSV"),
    (
        "ercot_dam_spp",
        "data/ercot/cdr.00012331.0000000000000000.20241102.123150.DAMSPNP4190.csv",
        "CSV",
    ),
    (
        "ieso_rt_lmp",
        "data/ieso/PUB_RealtimeEnergyLMP_2025110201.csv",
        "CSV",
    ),
    (
        "ieso_da_lmp",
        "data/ieso/PUB_DAHourlyEnergyLMP_20251102.csv",
        "CSV",
    ),
    ("ecb_fx", "data/fx/eurofxref-hist.csv", "CSV"),
    (
        "pjm_dataminer",
        "data/pjm/da_hrl_lmps_2026-06-09.json",
        "JSON",
    ),
    (
        "nordpool_v2",
        "data/nordpool/se_current_day_price.json",
        "JSON",
    ),
    (
        "aeso_pool_price",
        "data/aeso/poolprice_2024-11-03.json",
        "JSON",
    ),
    ("entsoe_a44", "data/entsoe/ES_day_ahead_price.xml", "XML"),
    (
        "ieso_da_zonal",
        "data/ieso/da_hourly_ontario_zonal_price_report_20260528.xml",
        "XML",
    ),
    (
        "jepx_spot",
        "data/jepx/spot_summary_2025_excerpt.csv",
        "CSV (Shift-JIS)",
    ),
    (
        "nem_mms",
        "data/nem/PUBLIC_DISPATCHIS_202510121230_0000000475309120.CSV",
        "CSV",
    ),
    ("nem_dispatch_json", "data/nem/aemo_5min_data.json", "JSON"),
    (
        "eia_spot_csv",
        "data/gas/Henry_Hub_Natural_Gas_Spot_Price.csv",
        "CSV",
    ),
    (
        "eia_api_v2",
        "data/gas/eia_api_v2_rngwhhd_2022-12.json",
        "JSON",
    ),
    (
        "investing_eua_csv",
        "data/carbon/Carbon_Emissions_Futures_Historical_Data.csv",
        "CSV",
    ),
    ("ecb_fx", "data/fx/eurofxref-hist-90d_sample.xml", "XML"),
];

/// Small fixtures measure the cost of a file, not a rate: these are also parsed scaled up
/// to about 1 MB by repeating their data rows under new location names (`NAME_1`, ...),
/// the size of a real day (MISO day-ahead, NYISO real-time) or hour (IESO real-time) file.
/// (format, fixture, 0-based line of the header, 0-based column of the location).
const SCALED: &[(&str, &str, usize, usize)] = &[
    ("nyiso_lbmp", "data/nyiso/lmp.csv", 1, 1),
    ("miso_lmp", "data/miso/20240310_da_expost_lmp.csv", 4, 0),
    (
        "ieso_rt_lmp",
        "data/ieso/PUB_RealtimeEnergyLMP_2025110201.csv",
        1,
        2,
    ),
    (
        "ieso_da_lmp",
        "data/ieso/PUB_DAHourlyEnergyLMP_20251102.csv",
        1,
        1,
    ),
    (
        "ercot_dam_spp",
        "data/ercot/cdr.00012331.0000000000000000.20241102.123150.DAMSPNP4190.csv",
        0,
        2,
    ),
];

/// `bytes` with its data rows repeated until about `target` bytes, each copy renaming the
/// location column so that every row is a distinct price.
fn scaled(bytes: &[u8], header_line: usize, location: usize, target: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let head = lines.len().min(header_line + 1);
    let rows = &lines[head..];
    let row_bytes: usize = rows.iter().map(|row| row.len() + 1).sum::<usize>().max(1);
    let copies = target.div_ceil(row_bytes).max(1);
    let mut out = lines[..head].join("\n");
    for copy in 0..copies {
        for row in rows.iter().filter(|row| !row.trim().is_empty()) {
            let fields: Vec<String> = row
                .split(',')
                .enumerate()
                .map(
                    |(index, field)| match (index == location, field.strip_suffix('"')) {
                        (true, Some(quoted)) => format!("{quoted}_{copy}\""),
                        (true, None) => format!("{field}_{copy}"),
                        (false, _) => field.to_string(),
                    },
                )
                .collect();
            out.push('\n');
            out.push_str(&fields.join(","));
        }
    }
    out.push('\n');
    out.into_bytes()
}

/// Parses each fixture (only `only`'s, when given) for at least `budget`; a Markdown table.
pub(crate) fn throughput(budget: Duration, only: Option<&str>) -> Result<String> {
    let mut table = String::from(
        "| format | text | fixture | bytes | records per file | records/s | MB/s |\n|---|---|---|---|---|---|---|\n",
    );
    let wanted = |name: &str| only.is_none_or(|only| only == name);
    for (format_name, path, text) in CASES.iter().filter(|case| wanted(case.0)) {
        let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        table.push_str(&measure(format_name, path, text, &bytes, budget)?);
    }
    for (format_name, path, header_line, location) in SCALED.iter().filter(|case| wanted(case.0)) {
        let original = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let bytes = scaled(&original, *header_line, *location, 1_000_000);
        table.push_str(&measure(
            format_name,
            path,
            "CSV, scaled to ~1 MB",
            &bytes,
            budget,
        )?);
    }
    Ok(table)
}

/// One table row: `bytes` parsed as the file `path` by `format_name` for `budget`.
fn measure(
    format_name: &str,
    path: &str,
    text: &str,
    bytes: &[u8],
    budget: Duration,
) -> Result<String> {
    let source: Arc<str> = Arc::from("bench");
    let format = format_by_name(format_name, FormatOptions::default())?;
    let name = Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
    let file: Arc<str> = Arc::from(name.as_str());
    let mut out = SourceOutput::default();
    let parse = |out: &mut SourceOutput| -> Result<usize> {
        out.observations.clear();
        out.rejects.clear();
        format
            .parse(bytes, &file, &source, out)
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        anyhow::ensure!(
            out.rejects.is_empty(),
            "{format_name} rejected rows of {name}: {:?}",
            out.rejects.first()
        );
        Ok(out.observations.len())
    };
    let records = parse(&mut out)?;
    let started = Instant::now();
    let mut files = 0u64;
    while started.elapsed() < budget {
        parse(&mut out)?;
        files += 1;
    }
    let per_second = files as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "{format_name} ({text}): {:.1} MB/s",
        per_second * bytes.len() as f64 / 1e6
    );
    Ok(format!(
        "| `{format_name}` | {text} | `{name}` | {} | {records} | {:.0} | {:.1} |\n",
        bytes.len(),
        per_second * records as f64,
        per_second * bytes.len() as f64 / 1e6,
    ))
}
