//! Throughput of the `parquet` sink alone, on one worker. Ignored by default; run with
//! `cargo test -p gridflow-sinks --release --test tests throughput -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use crate::common::{Batch, record, run};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::record::Market;
use gridflow_sinks::parquet::{ParquetSink, ParquetSinkConfig};

#[test]
#[ignore = "a measurement, not a check; run in release"]
fn one_worker_writes_a_million_records_per_second() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    // Two markets, 500 locations, 42 days of hours, in differential's output order
    // (market, location, interval): each location walks through every date partition.
    let locations = 500;
    let days = 42;
    let mut batches = Vec::new();
    let started_building = Instant::now();
    for market in [Market::Pjm, Market::Ercot] {
        let mut prices = Vec::with_capacity(locations * days * 24);
        for location in 0..locations {
            for day in 0..days as i64 {
                for hour in 0..24 {
                    let start =
                        jiff::Timestamp::from_second(1_704_067_200 + (day * 24 + hour) * 3600)
                            .unwrap()
                            .to_string();
                    let price = format!(
                        "{}.{:06}",
                        hour - 5,
                        (location as i64 * 7919 + day) % 1_000_000
                    );
                    prices.push((
                        record(
                            market,
                            &format!("NODE_{location:05}"),
                            &start,
                            &price,
                            Some(1),
                            hour as u64,
                        ),
                        1,
                    ));
                }
            }
        }
        // Batches the size a source poll yields.
        let mut rows = prices.into_iter().peekable();
        while rows.peek().is_some() {
            batches.push(Batch {
                prices: rows.by_ref().take(10_000).collect(),
                rejects: vec![],
            });
        }
    }
    let records: usize = batches.iter().map(|b| b.prices.len()).sum();
    eprintln!(
        "built {records} records in {:?}",
        started_building.elapsed()
    );

    let copy = |batches: &[Batch]| -> Vec<Batch> {
        batches
            .iter()
            .map(|batch| Batch {
                prices: batch.prices.clone(),
                rejects: vec![],
            })
            .collect()
    };
    // Best of three, on this thread's CPU time where Linux reports it: other work on the
    // machine disturbs wall-clock times.
    let mut best = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        // The same input into a dataflow that only counts: what the plumbing costs.
        let input = copy(&batches);
        let started = cpu_time();
        crate::common::run_counting(input);
        let plumbing = cpu_time() - started;

        let _ = std::fs::remove_dir_all(&root);
        let input = copy(&batches);
        let started = cpu_time();
        let counters = run(
            ParquetSink::new(ParquetSinkConfig::new(&root)).unwrap(),
            input,
        );
        let elapsed = cpu_time() - started;
        assert_eq!(
            ComponentCounters::get(&counters.records_out) as usize,
            records
        );
        best = (
            best.0.min(elapsed),
            best.1.min(elapsed.saturating_sub(plumbing)),
        );
    }
    let bytes: u64 = crate::common::files(&root)
        .iter()
        .map(|file| std::fs::metadata(root.join(file)).unwrap().len())
        .sum();
    eprintln!(
        "{records} records, {:.1} MB ({:.1} bytes/record); best of 3: {:?} in all, \
         {:.0} records/s; the sink alone {:?}, {:.0} records/s",
        bytes as f64 / 1e6,
        bytes as f64 / records as f64,
        best.0,
        records as f64 / best.0.as_secs_f64(),
        best.1,
        records as f64 / best.1.as_secs_f64(),
    );
}

/// Time this thread has spent on a CPU (falls back to the wall clock off Linux).
fn cpu_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .map_or_else(
            || START.get_or_init(Instant::now).elapsed(),
            Duration::from_nanos,
        )
}
