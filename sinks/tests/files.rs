//! The `parquet` sink's file cuts: rolling by rows, row groups, the buffer budget, commits
//! by age while the input stays open, and a failed partition beside healthy ones.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{Batch, files, read, read_partition, record, run, run_with};
use crate::lake::{hours, no_temporary_files, rows, sink, total_rows};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::record::Market;
use gridflow_sinks::parquet::ParquetSinkConfig;

#[test]
fn rolls_files_by_rows_and_cuts_row_groups() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    let mut config = ParquetSinkConfig::new(&root);
    config.row_group_rows = 3;
    config.max_file_rows = 7;
    let counters = run(
        sink(config),
        vec![Batch {
            prices: hours(Market::Spp, "2024-03-10", 20),
            rejects: vec![],
            ..Batch::default()
        }],
    );
    no_temporary_files(&root);
    let partition = read_partition(&root, "prices/market=SPP/date=2024-03-10");
    let mut shapes: Vec<Vec<i64>> = partition
        .iter()
        .map(|(metadata, _)| metadata.row_groups().iter().map(|g| g.num_rows()).collect())
        .collect();
    shapes.sort();
    assert_eq!(shapes, [vec![3, 3], vec![3, 3, 1], vec![3, 3, 1]]);
    let mut prices: Vec<i128> = partition
        .iter()
        .flat_map(|(_, batches)| rows(batches))
        .map(|row| row.price)
        .collect();
    prices.sort();
    assert_eq!(
        prices,
        (0..20)
            .map(|i| i * 1_000_000 + 250_000)
            .collect::<Vec<i128>>()
    );
    assert_eq!(ComponentCounters::get(&counters.files), 3);
    assert_eq!(ComponentCounters::get(&counters.records_out), 20);
}

#[test]
fn a_full_buffer_commits_the_largest_file_early() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    let mut config = ParquetSinkConfig::new(&root);
    config.max_buffer_megabytes = 1;
    // Three partitions filled in turn with incompressible locations: several megabytes in
    // all, far below max_file_rows, so only the buffer budget can cut files.
    let days = ["2024-01-01", "2024-01-02", "2024-01-03"];
    let per_day = 20_000;
    let mut prices = Vec::with_capacity(per_day * days.len());
    for i in 0..per_day {
        for day in days {
            let mut row = record(
                Market::Nyiso,
                &format!(
                    "{i:08}-{:064x}",
                    (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c)
                ),
                &format!("{day}T{:02}:00:00Z", i % 24),
                "1.5",
                None,
                i as u64,
            );
            row.origin.line = i as u64;
            prices.push((row, 1));
        }
    }
    let counters = run(
        sink(config),
        vec![Batch {
            prices,
            rejects: vec![],
            ..Batch::default()
        }],
    );
    no_temporary_files(&root);
    let mut files_written = 0;
    for day in days {
        let partition = read_partition(&root, &format!("prices/market=NYISO/date={day}"));
        assert_eq!(total_rows(&partition), per_day as i64);
        files_written += partition.len();
    }
    assert!(files_written > days.len(), "no early commit");
    assert_eq!(
        ComponentCounters::get(&counters.records_out),
        3 * per_day as u64
    );
    assert_eq!(
        ComponentCounters::get(&counters.files) as usize,
        files_written
    );
}

#[test]
fn commits_old_files_while_the_input_stays_open() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    let mut config = ParquetSinkConfig::new(&root);
    config.max_file_age_seconds = 1;
    let seen = Arc::new(AtomicBool::new(false));
    let (seen_inside, root_inside) = (seen.clone(), root.clone());
    run_with(
        sink(config),
        vec![Batch {
            prices: hours(Market::Miso, "2024-06-01", 3),
            rejects: vec![],
            ..Batch::default()
        }],
        move |step| {
            for _ in 0..40 {
                step(Duration::from_millis(100));
                if !files(&root_inside).is_empty() {
                    seen_inside.store(true, Ordering::Relaxed);
                    break;
                }
            }
        },
    );
    assert!(seen.load(Ordering::Relaxed), "no file committed by age");
    assert_eq!(
        total_rows(&read_partition(&root, "prices/market=MISO/date=2024-06-01")),
        3
    );
}

#[test]
fn a_failed_partition_is_counted_and_the_rest_is_written() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    // A plain file where the PJM partition's directory belongs: creating it fails.
    std::fs::create_dir_all(root.join("prices")).unwrap();
    std::fs::write(root.join("prices/market=PJM"), b"not a directory").unwrap();
    let mut prices = hours(Market::Pjm, "2024-01-01", 4);
    prices.extend(hours(Market::Ercot, "2024-01-01", 2));
    let counters = run(
        sink(ParquetSinkConfig::new(&root)),
        vec![Batch {
            prices,
            rejects: vec![],
            ..Batch::default()
        }],
    );
    assert_eq!(ComponentCounters::get(&counters.rejected), 4);
    assert_eq!(ComponentCounters::get(&counters.records_out), 2);
    assert_eq!(
        total_rows(&read_partition(
            &root,
            "prices/market=ERCOT/date=2024-01-01"
        )),
        2
    );
    let parquet: Vec<PathBuf> = files(&root)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
        .collect();
    assert_eq!(parquet.len(), 1);
    // Reading a single committed file works on its own, too.
    let (metadata, _) = read(&root.join(&parquet[0]));
    assert_eq!(metadata.file_metadata().num_rows(), 2);
}
