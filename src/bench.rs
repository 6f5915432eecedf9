//! `gridflow bench`: end-to-end throughput and peak memory on synthetic ticks.
//!
//! Each case runs as a child `gridflow run` so its peak memory (VmHWM) is its own. Cases:
//! synthetic observations → normalize → Parquet (no parsing), and SPP-format CSV files →
//! parse → normalize → Parquet, at 1 and 2 workers; the ECB history alone (the fixed cost
//! inside every case); then DuckDB converting the same CSV to ZSTD Parquet with
//! `SET threads=1`, for scale. Every case runs `repeat` times; the table gives the median
//! wall time and the range, since a shared VM varies by ±15 % between runs.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

mod parsers;

/// What one case measured.
struct Measurement {
    records: u64,
    seconds: f64,
    peak_mib: Option<f64>,
}

fn write_csv(dir: &Path, nodes: u32, intervals: u32) -> Result<u64> {
    std::fs::create_dir_all(dir)?;
    let mut bytes = 0;
    for interval in 0..intervals {
        // 5-minute intervals ending from 2025-03-31 00:05 local (CDT = UTC-5).
        let end_minutes = 5 * (interval + 1);
        let (hour, minute) = (end_minutes / 60, end_minutes % 60);
        let local = format!("03/31/2025 {hour:02}:{minute:02}:00");
        let gmt = format!("03/31/2025 {:02}:{minute:02}:00", hour + 5);
        let path = dir.join(format!("RTBM-LMP-SL-20250331{hour:02}{minute:02}.csv"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
        writeln!(
            out,
            "Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP,MLC,MCC,MEC"
        )?;
        for node in 0..nodes {
            let cents = (u64::from(node) * 7919 + u64::from(interval) * 104_729) % 30_000;
            let lmp = cents as f64 / 100.0 - 50.0;
            writeln!(
                out,
                "{local},{gmt},N{node:05},PN{node:05},{lmp:.4},0.2300,1.0000,{:.4}",
                lmp - 1.23
            )?;
        }
        out.flush()?;
        bytes += std::fs::metadata(&path)?.len();
    }
    Ok(bytes)
}

/// The median and the range of repeated measurements of one case.
struct Repeated {
    median: Measurement,
    fastest: f64,
    slowest: f64,
}

fn repeated(runs: usize, mut measure: impl FnMut() -> Result<Measurement>) -> Result<Repeated> {
    let mut all = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        all.push(measure()?);
    }
    all.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let fastest = all[0].seconds;
    let slowest = all[all.len() - 1].seconds;
    let median = all.swap_remove(all.len() / 2);
    Ok(Repeated {
        median,
        fastest,
        slowest,
    })
}

fn pipeline(source: &str, lake: &Path) -> String {
    format!(
        r#"[pipeline]
name = "bench"
base_currency = "EUR"

{source}

[sources.ecb_rates]
kind = "files"
format = "ecb_fx"
path = "data/fx/eurofxref-hist.csv"

[operators.normalize]
kind = "normalize"
inputs = [{inputs}]

[sinks.lake]
kind = "parquet"
inputs = ["normalize"]
path = "{}"
"#,
        lake.display(),
        inputs = if source.is_empty() {
            r#""ecb_rates""#
        } else {
            r#""ticks", "ecb_rates""#
        },
    )
}

/// Runs one case; `ticks` says whether the records counted are the ticks' (else the rates').
fn run_case(
    binary: &Path,
    pipeline_file: &Path,
    workers: usize,
    ticks: bool,
) -> Result<Measurement> {
    let output = Command::new(binary)
        .args([
            "run",
            &pipeline_file.display().to_string(),
            "--no-progress",
            "--workers",
            &workers.to_string(),
        ])
        .output()
        .context("starting gridflow run")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "gridflow run failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let counted = if ticks { "ticks" } else { "ecb_rates" };
    let line = stdout
        .lines()
        .find(|line| line.starts_with("source ") && line.split_whitespace().nth(1) == Some(counted))
        .context("no line for the counted source in the summary")?;
    let records: u64 = line
        .split_whitespace()
        .nth(2)
        .context("no count")?
        .parse()?;
    let total = stdout
        .lines()
        .find(|line| line.starts_with("total:"))
        .context("no total line")?;
    let seconds: f64 = total
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .context("no wall time")?
        .parse()?;
    let peak_mib = stdout
        .lines()
        .find_map(|line| line.strip_prefix("peak memory: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|value| value.parse().ok());
    Ok(Measurement {
        records,
        seconds,
        peak_mib,
    })
}

fn duckdb_seconds(csv_glob: &Path, out: &Path) -> Result<Option<f64>> {
    let python = Path::new(".venv/bin/python");
    if !python.exists() {
        return Ok(None);
    }
    let script = format!(
        "import duckdb, time\ncon = duckdb.connect()\ncon.execute('SET threads=1')\nt = time.perf_counter()\ncon.execute(\"COPY (SELECT * FROM read_csv('{}')) TO '{}' (FORMAT parquet, COMPRESSION zstd)\")\nprint(time.perf_counter() - t)",
        csv_glob.display(),
        out.display()
    );
    let output = Command::new(python).arg("-c").arg(script).output()?;
    if !output.status.success() {
        bail!("duckdb failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(Some(
        String::from_utf8_lossy(&output.stdout).trim().parse()?,
    ))
}

/// Prints only the parser throughput table.
pub(crate) fn parsers_only(format: Option<&str>) -> Result<()> {
    print!(
        "{}",
        parsers::throughput(Duration::from_millis(500), format)?
    );
    Ok(())
}

/// The regime models' online updates on one thread (`gridflow_regime::throughput`), as
/// Markdown: HMM filter updates (K = 3) and BOCPD updates (R = 1,000 run lengths).
fn regime_throughput() -> String {
    let hmm = gridflow_regime::throughput::hmm_filter(20_000_000);
    let bocpd = gridflow_regime::throughput::bocpd(200_000, 1_000);
    let mut table = String::from("| model | updates | seconds | updates/s |\n|---|---|---|---|\n");
    for (name, measured) in [("HMM filter, K = 3", hmm), ("BOCPD, R = 1,000", bocpd)] {
        let _ = writeln!(
            table,
            "| {name} | {} | {:.3} | {:.0} |",
            measured.updates,
            measured.elapsed.as_secs_f64(),
            measured.per_second()
        );
    }
    table
}

/// Prints only the regime models' throughput table.
pub(crate) fn regimes_only() -> Result<()> {
    print!("{}", regime_throughput());
    Ok(())
}

/// Prints the forecaster's inference throughput on `device` (`cpu`, `cuda` or `wgpu`) as
/// Markdown: per batch size the median time of a forward pass, series/s, GFLOP/s and its
/// share of a plain matrix product's GFLOP/s measured in the same run.
pub(crate) fn forecast_only(device: &str) -> Result<()> {
    use gridflow_forecast::throughput::{BenchSettings, inference};
    use gridflow_forecast::{DeviceChoice, ModelConfig};

    let choice: DeviceChoice = device.parse()?;
    let config = ModelConfig::default();
    let report = inference(choice, &config, &BenchSettings::default())?;
    let layout = config.layout();
    let mut out = format!(
        "Device: {} (asked: {choice}). Network: d_model {}, {} heads, {} layers, d_ff {}, \
         {} tokens × {} features (168 h of context and the target day), linear skip {}.\n\
         FLOPs per series (matrix products only, a lower bound): {}. An ensemble of k \
         members costs k times one network; its rows count k times the FLOPs.\n\n",
        report.device,
        config.d_model,
        config.n_heads,
        config.n_layers,
        config.d_ff,
        layout.tokens(),
        layout.token_width(),
        config.linear_skip,
        report.flops_per_series,
    );
    for (when, baseline) in [
        ("before", &report.matmul_before),
        ("after", &report.matmul_after),
    ] {
        let _ = writeln!(
            out,
            "Plain matmul {n} × {n} · {n} × {n} f32 ({when} the network): median {:.2} ms \
             ({:.2}–{:.2}, {} runs), {:.1} GFLOP/s.",
            baseline.timing.median * 1e3,
            baseline.timing.fastest * 1e3,
            baseline.timing.slowest * 1e3,
            baseline.timing.passes,
            baseline.gflops(),
            n = baseline.size,
        );
    }
    let _ = writeln!(
        out,
        "\n| path | series | timed passes | ms per pass, median (range) | series/s | GFLOP/s | of matmul's {:.1} GFLOP/s |\n|---|---|---|---|---|---|---|",
        report.matmul_gflops()
    );
    for batch in &report.batches {
        let series = match batch.sub_batch {
            Some(sub_batch) => format!("{} (as passes of ≤ {sub_batch})", batch.batch),
            None => batch.batch.to_string(),
        };
        let path = match batch.networks {
            1 => batch.path.to_string(),
            networks => format!("{}, ensemble of {networks}", batch.path),
        };
        let _ = writeln!(
            out,
            "| {path} | {series} | {} | {:.3} ({:.3}–{:.3}) | {:.0} | {:.2} | {:.1} % |",
            batch.timing.passes,
            batch.timing.median * 1e3,
            batch.timing.fastest * 1e3,
            batch.timing.slowest * 1e3,
            batch.series_per_second(),
            batch.gflops(report.flops_per_series),
            100.0 * report.matmul_fraction(batch),
        );
    }
    print!("{out}");
    Ok(())
}

/// Runs every case `repeat` times and prints a Markdown table.
pub(crate) fn bench(
    nodes: u32,
    intervals: u32,
    repeat: usize,
    work: Option<PathBuf>,
) -> Result<()> {
    let binary = std::env::current_exe()?;
    let work = work.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("gridflow-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&work)?;
    let csv_dir = work.join("csv");
    let started = Instant::now();
    let csv_bytes = write_csv(&csv_dir, nodes, intervals)?;
    eprintln!(
        "wrote {} rows ({:.1} MB) of SPP-format CSV in {:.1} s",
        u64::from(nodes) * u64::from(intervals),
        csv_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let synthetic = format!(
        "[sources.ticks]\nkind = \"synthetic\"\nnodes = {nodes}\nintervals = {intervals}\ninterval_minutes = 5\nstart = \"2025-03-31T05:00:00Z\""
    );
    let files = format!(
        "[sources.ticks]\nkind = \"files\"\nformat = \"spp_lmp\"\npath = \"{}/RTBM-LMP-SL-*.csv\"",
        csv_dir.display()
    );
    let mut table = format!(
        "Median of {repeat} runs per case (range in brackets).\n\n| case | workers | records | wall s | records/s | MB/s of CSV | peak RSS MiB |\n|---|---|---|---|---|---|---|\n",
    );
    let file = work.join("bench.toml");
    let mut run = |name: &str, source: &str, workers: usize| -> Result<Repeated> {
        let lake = work.join("lake");
        std::fs::write(&file, pipeline(source, &lake))?;
        let measured = repeated(repeat, || {
            let _ = std::fs::remove_dir_all(&lake);
            run_case(&binary, &file, workers, !source.is_empty())
        })?;
        let _ = std::fs::remove_dir_all(&lake);
        let seconds = measured.median.seconds;
        let rate = measured.median.records as f64 / seconds;
        let mb = if source == files {
            format!("{:.1}", csv_bytes as f64 / 1e6 / seconds)
        } else {
            "–".into()
        };
        let _ = writeln!(
            table,
            "| {name} | {workers} | {} | {seconds:.2} ({:.2}–{:.2}) | {rate:.0} | {mb} | {} |",
            measured.median.records,
            measured.fastest,
            measured.slowest,
            measured
                .median
                .peak_mib
                .map_or("–".to_string(), |m| format!("{m:.0}"))
        );
        eprintln!("{name}, {workers} worker(s): {rate:.0} records/s");
        Ok(measured)
    };
    let mut csv_one_worker = None;
    for (name, source) in [
        ("normalize → Parquet", &synthetic),
        ("parse CSV → normalize → Parquet", &files),
    ] {
        for workers in [1, 2] {
            let measured = run(name, source, workers)?;
            if source == &files && workers == 1 {
                csv_one_worker = Some(measured.median.seconds);
            }
        }
    }
    run("ECB history alone (inside every case above)", "", 1)?;
    let duckdb = repeated(repeat, || {
        let seconds = duckdb_seconds(&csv_dir.join("*.csv"), &work.join("duckdb.parquet"))?;
        Ok(Measurement {
            records: u64::from(nodes) * u64::from(intervals),
            seconds: seconds.unwrap_or(f64::NAN),
            peak_mib: None,
        })
    })?;
    if duckdb.median.seconds.is_finite() {
        let seconds = duckdb.median.seconds;
        let _ = writeln!(
            table,
            "| DuckDB CSV → ZSTD Parquet (`SET threads=1`) | 1 | {} | {seconds:.2} ({:.2}–{:.2}) | {:.0} | {:.1} | – |",
            duckdb.median.records,
            duckdb.fastest,
            duckdb.slowest,
            duckdb.median.records as f64 / seconds,
            csv_bytes as f64 / 1e6 / seconds
        );
        if let Some(ours) = csv_one_worker {
            let _ = writeln!(
                table,
                "\ngridflow (parse → normalize → Parquet, 1 worker) / DuckDB median time ratio: {:.2}",
                ours / seconds
            );
        }
    } else {
        table.push_str("\nDuckDB not measured: run scripts/setup-python first (creates .venv).\n");
    }
    table.push_str("\n### Parser throughput (one thread, in memory, largest bundled fixture)\n\n");
    table.push_str(&parsers::throughput(Duration::from_millis(500), None)?);
    table.push_str("\n### Regime detection (one thread, online updates)\n\n");
    table.push_str(&regime_throughput());
    print!("{table}");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
