//! Parser throughput per format: each format parses its largest bundled fixture in memory,
//! repeatedly, on one thread (no dataflow, no I/O), and reports records/s and MB/s.

use std::fmt::Write as _;
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

/// Parses each fixture for at least `budget` and returns a Markdown table.
pub(crate) fn throughput(budget: Duration) -> Result<String> {
    let mut table = String::from(
        "| format | text | fixture | bytes | records per file | records/s | MB/s |\n|---|---|---|---|---|---|---|\n",
    );
    let source: Arc<str> = Arc::from("bench");
    for (format_name, path, text) in CASES {
        let format = format_by_name(format_name, FormatOptions::default())?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let name = Path::new(path)
            .file_name()
            .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned());
        let file: Arc<str> = Arc::from(name.as_str());
        let mut out = SourceOutput::default();
        let parse = |out: &mut SourceOutput| -> Result<usize> {
            out.observations.clear();
            out.rejects.clear();
            format
                .parse(&bytes, &file, &source, out)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            Ok(out.observations.len())
        };
        let records = parse(&mut out)?;
        let started = Instant::now();
        let mut files = 0u64;
        while started.elapsed() < budget {
            parse(&mut out)?;
            files += 1;
        }
        let seconds = started.elapsed().as_secs_f64();
        let per_second = files as f64 / seconds;
        let _ = writeln!(
            table,
            "| `{format_name}` | {text} | `{name}` | {} | {records} | {:.0} | {:.1} |",
            bytes.len(),
            per_second * records as f64,
            per_second * bytes.len() as f64 / 1e6,
        );
        eprintln!(
            "{format_name}: {:.1} MB/s",
            per_second * bytes.len() as f64 / 1e6
        );
    }
    Ok(table)
}
