//! The `parquet` sink end to end: a tiny dataflow writes a lake that is read back with the
//! parquet crate's Arrow reader.

use std::path::Path;
use std::sync::Arc;

use crate::common::{
    Batch, STEP, T0, bocpd_regime, files, first_int, first_text, forecast, hmm_regime,
    read_partition, record, reject, run, storage,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::record::{Market, Price, PriceRecord};
use gridflow_sinks::parquet::{ParquetSink, ParquetSinkConfig};
use parquet::basic::{
    Compression, Encoding, LogicalType, TimeUnit as ParquetTimeUnit, Type as PhysicalType,
};

pub(crate) fn sink(config: ParquetSinkConfig) -> ParquetSink {
    ParquetSink::new(config).unwrap()
}

pub(crate) fn no_temporary_files(root: &Path) {
    let all = files(root);
    assert!(
        all.iter()
            .all(|file| file.extension().is_some_and(|e| e == "parquet")),
        "stray files: {all:?}"
    );
    assert!(
        all.iter()
            .all(|file| !file.file_name().unwrap().to_string_lossy().starts_with('.')),
        "hidden files left: {all:?}"
    );
}

pub(crate) fn total_rows(
    partition: &[(parquet::file::metadata::ParquetMetaData, Vec<RecordBatch>)],
) -> i64 {
    partition
        .iter()
        .map(|(metadata, _)| metadata.file_metadata().num_rows())
        .sum()
}

/// One row of the prices table, as the tests compare it.
#[derive(Debug, PartialEq)]
pub(crate) struct Row {
    location: String,
    interval_start: i64,
    pub(crate) price: i128,
    revision: Option<i64>,
    changed_at: i64,
    diff: i64,
}

pub(crate) fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for batch in batches {
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let location = column("location");
        let location = location.as_string::<i32>();
        let start = column("interval_start");
        let start = start.as_primitive::<TimestampMicrosecondType>();
        let price = column("price");
        let price = price.as_primitive::<Decimal128Type>();
        let revision = column("revision");
        let revision = revision.as_primitive::<Int64Type>();
        let changed = column("changed_at");
        let changed = changed.as_primitive::<TimestampMicrosecondType>();
        let diff = column("diff");
        let diff = diff.as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            out.push(Row {
                location: location.value(i).to_string(),
                interval_start: start.value(i),
                price: price.value(i),
                revision: revision.is_valid(i).then(|| revision.value(i)),
                changed_at: changed.value(i),
                diff: diff.value(i),
            });
        }
    }
    out
}

fn micros(text: &str) -> i64 {
    crate::common::utc(text).as_microsecond()
}

/// Writes the lake the tests (and docs/lake.md's queries) read: two markets, two dates, a
/// negative price, a revision that retracts the first version, and rejects of two sources.
pub(crate) fn write_example_lake(root: &Path) -> Arc<ComponentCounters> {
    let first = record(
        Market::Pjm,
        "WESTERN HUB",
        "2024-01-01T23:00:00Z",
        "25.5",
        Some(1),
        2,
    );
    let negative = record(
        Market::Pjm,
        "WESTERN HUB",
        "2024-01-02T00:00:00Z",
        "-12.345678",
        Some(1),
        3,
    );
    let mut ercot = record(
        Market::Ercot,
        "HB_NORTH",
        "2024-01-01T05:00:00Z",
        "30.000001",
        None,
        4,
    );
    ercot.components.energy = Some("29.5".parse().unwrap());
    ercot.components.congestion = Some("0.500001".parse().unwrap());
    let mut revised = first.clone();
    revised.price = "27.25".parse().unwrap();
    revised.version.revision = Some(2);
    revised.version.published_at = crate::common::utc("2024-01-02T09:30:00Z");
    revised.origin.line = 9;

    // Gas in storage: two weeks of the East region and the Lower 48 total (the EIA's
    // figures for the weeks ending 25 November and 2 December 2022), and a revision of the
    // East's latest week (invented: 836.5).
    let east = storage("EAST", "2022-12-02", "834", 2);
    let mut east_revised = storage("EAST", "2022-12-02", "836.5", 2);
    east_revised.version.published_at = crate::common::utc("2022-12-15T15:30:00Z");
    east_revised.origin.file = Arc::from("data/gas/storage_revised.json");

    // Regimes: a three-regime HMM on the PJM hub, whose rows both change when the revision
    // arrives (a filter depends on every earlier price), and a change-point row for ERCOT.
    let hub_late = hmm_regime(&first, ["0.05", "0.9", "0.05"], 1, None);
    let hub_night = hmm_regime(&negative, ["0.8", "0.19", "0.01"], 0, Some(1));
    let hub_late_revised = hmm_regime(&revised, ["0.04", "0.92", "0.04"], 1, None);
    let hub_night_revised = hmm_regime(&negative, ["0.81", "0.18", "0.01"], 0, Some(1));
    let north = bocpd_regime(&ercot, 1, 1.0);

    // Forecasts of the PJM hub's two hours, issued at the start of their day on EST
    // (05:00 UTC); the later hour is forecast again when a price of its week is revised.
    let issued = "2024-01-01T05:00:00Z";
    let late_forecast = forecast(&first, issued, ["24.1", "15.2", "36.75"]);
    let night_forecast = forecast(&negative, issued, ["18.5", "-3.25", "29"]);
    let night_reforecast = forecast(&negative, issued, ["17.9", "-4.1", "28.6"]);

    run(
        sink(ParquetSinkConfig::new(root)),
        vec![
            Batch {
                prices: vec![(first.clone(), 1), (negative.clone(), 1), (ercot, 1)],
                rejects: vec![
                    (reject("spp_da", 7, "not a decimal number: `abc`"), 1),
                    (reject("caiso rt/2", 8, "unknown product `XX`"), 1),
                ],
                quantities: vec![
                    (storage("EAST", "2022-11-25", "840", 10), 1),
                    (east.clone(), 1),
                    (storage("LOWER_48", "2022-11-25", "3483", 17), 1),
                    (storage("LOWER_48", "2022-12-02", "3462", 9), 1),
                ],
                regimes: vec![(hub_late.clone(), 1), (hub_night.clone(), 1), (north, 1)],
                forecasts: vec![(late_forecast, 1), (night_forecast.clone(), 1)],
            },
            Batch {
                prices: vec![(first, -1), (revised, 1)],
                rejects: vec![],
                quantities: vec![(east, -1), (east_revised, 1)],
                regimes: vec![
                    (hub_late, -1),
                    (hub_night, -1),
                    (hub_late_revised, 1),
                    (hub_night_revised, 1),
                ],
                forecasts: vec![(night_forecast, -1), (night_reforecast, 1)],
            },
        ],
    )
}

#[test]
fn writes_every_version_into_hive_partitions() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    let counters = write_example_lake(&root);

    // Layout: partition directories, committed files only.
    let directories: Vec<String> = files(&root)
        .iter()
        .map(|file| file.parent().unwrap().display().to_string())
        .collect();
    assert_eq!(
        directories,
        [
            "forecasts/market=PJM/date=2024-01-01",
            "forecasts/market=PJM/date=2024-01-02",
            "fundamentals/market=GAS/date=2022-11-25",
            "fundamentals/market=GAS/date=2022-12-02",
            "prices/market=ERCOT/date=2024-01-01",
            "prices/market=PJM/date=2024-01-01",
            "prices/market=PJM/date=2024-01-02",
            "regimes/market=ERCOT/date=2024-01-01",
            "regimes/market=PJM/date=2024-01-01",
            "regimes/market=PJM/date=2024-01-02",
            "rejects/source=caiso%20rt%2F2/date=2023-11-14",
            "rejects/source=spp_da/date=2023-11-14",
        ]
    );
    no_temporary_files(&root);
    for file in files(&root) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("part-") && name.contains("-w0-"), "{name}");
    }

    // Schema: partition columns only in paths; UTC microsecond timestamps; exact decimals.
    let pjm = read_partition(&root, "prices/market=PJM/date=2024-01-01");
    assert_eq!(pjm.len(), 1);
    let (metadata, batches) = &pjm[0];
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "location",
            "location_type",
            "product",
            "interval_start",
            "interval_end",
            "price",
            "currency",
            "unit",
            "energy",
            "congestion",
            "loss",
            "greenhouse_gas",
            "native_price",
            "native_currency",
            "native_unit",
            "revision",
            "published_at",
            "changed_at",
            "diff",
            "source",
            "file",
            "line",
        ]
    );
    let utc_micros = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    for name in [
        "interval_start",
        "interval_end",
        "published_at",
        "changed_at",
    ] {
        assert_eq!(
            schema.field_with_name(name).unwrap().data_type(),
            &utc_micros
        );
    }
    for name in ["price", "native_price", "energy", "congestion", "loss"] {
        assert_eq!(
            schema.field_with_name(name).unwrap().data_type(),
            &DataType::Decimal128(18, 6)
        );
    }
    let descriptor = metadata.file_metadata().schema_descr();
    let column = |name: &str| {
        (0..descriptor.num_columns())
            .map(|i| descriptor.column(i))
            .find(|c| c.name() == name)
            .unwrap()
    };
    assert_eq!(
        column("interval_start").logical_type_ref(),
        Some(&LogicalType::timestamp(true, ParquetTimeUnit::MICROS))
    );
    assert_eq!(column("price").physical_type(), PhysicalType::INT64);
    assert_eq!(
        column("price").logical_type_ref(),
        Some(&LogicalType::decimal(6, 18))
    );
    assert!(matches!(
        metadata.row_group(0).column(0).compression(),
        Compression::ZSTD(_)
    ));
    let encodings = |name: &str| {
        let group = metadata.row_group(0);
        let index = (0..group.num_columns())
            .find(|&i| group.column(i).column_path().string() == name)
            .unwrap();
        group.column(index).encodings().collect::<Vec<_>>()
    };
    for name in ["interval_start", "changed_at", "line", "price", "energy"] {
        assert!(
            encodings(name).contains(&Encoding::DELTA_BINARY_PACKED),
            "{name}: {:?}",
            encodings(name)
        );
    }
    // Text columns are dictionary-encoded, not delta.
    assert!(!encodings("location").contains(&Encoding::DELTA_BINARY_PACKED));

    // Rows: the first version, its retraction and the revision, each at its dataflow time.
    let hour = micros("2024-01-01T23:00:00Z");
    let changed = T0 as i64;
    assert_eq!(
        rows(batches),
        [
            Row {
                location: "WESTERN HUB".into(),
                interval_start: hour,
                price: 25_500_000,
                revision: Some(1),
                changed_at: changed,
                diff: 1
            },
            Row {
                location: "WESTERN HUB".into(),
                interval_start: hour,
                price: 25_500_000,
                revision: Some(1),
                changed_at: changed + STEP as i64,
                diff: -1
            },
            Row {
                location: "WESTERN HUB".into(),
                interval_start: hour,
                price: 27_250_000,
                revision: Some(2),
                changed_at: changed + STEP as i64,
                diff: 1
            },
        ]
    );
    let published = batches[0].column_by_name("published_at").unwrap();
    let published = published.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(published.value(2), micros("2024-01-02T09:30:00Z"));

    let next_day = read_partition(&root, "prices/market=PJM/date=2024-01-02");
    let next_day = rows(&next_day[0].1);
    assert_eq!(next_day.len(), 1);
    assert_eq!(
        next_day[0].price,
        i128::from(Price::from_micros(-12_345_678).micros())
    );

    // Components: exact, with a null where the market publishes none.
    let ercot = read_partition(&root, "prices/market=ERCOT/date=2024-01-01");
    let batch = &ercot[0].1[0];
    let decimal = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Decimal128Type>()
            .clone()
    };
    assert_eq!(decimal("price").value(0), 30_000_001);
    assert_eq!(decimal("energy").value(0), 29_500_000);
    assert_eq!(decimal("congestion").value(0), 500_001);
    assert!(decimal("loss").is_null(0));
    assert!(batch.column_by_name("revision").unwrap().is_null(0));
    let text = |name: &str| first_text(batch, name);
    assert_eq!(text("currency"), "EUR");
    assert_eq!(text("native_currency"), "USD");
    assert_eq!(text("unit"), "MWh");
    assert_eq!(text("product"), "DAY_AHEAD_HOURLY");
    assert_eq!(text("location_type"), "HUB");
    assert_eq!(text("source"), "pjm_da");
    assert_eq!(text("file"), "data/pjm/da.csv");
    assert_eq!(first_int(batch, "line"), 4);

    // Rejects: where, why, when.
    let rejects = read_partition(&root, "rejects/source=spp_da/date=2023-11-14");
    let batch = &rejects[0].1[0];
    assert_eq!(batch.num_rows(), 1);
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "file",
            "line",
            "stage",
            "raw",
            "reason",
            "changed_at",
            "diff"
        ]
    );
    let text = |name: &str| first_text(batch, name);
    assert_eq!(text("file"), "data/spp/DA.csv");
    assert_eq!(text("stage"), "parse");
    assert_eq!(text("raw"), "2024-01-01,HB,abc");
    assert_eq!(text("reason"), "not a decimal number: `abc`");
    assert_eq!(first_int(batch, "line"), 7);
    assert_eq!(first_int(batch, "diff"), 1);
    assert_eq!(
        batch
            .column_by_name("changed_at")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>()
            .value(0),
        changed
    );

    // Prices 5 updates, quantities 6, regimes 7, forecasts 4; rejects are counted where
    // they arise.
    assert_eq!(ComponentCounters::get(&counters.records_in), 22);
    assert_eq!(ComponentCounters::get(&counters.records_out), 22);
    assert_eq!(ComponentCounters::get(&counters.files), 12);
    assert_eq!(ComponentCounters::get(&counters.rejected), 0);
    assert_eq!(
        counters.durable_through(1),
        u64::MAX,
        "every table committed at the end"
    );
}

#[test]
fn writes_quantities_into_their_own_table() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    write_example_lake(&root);

    let week = read_partition(&root, "fundamentals/market=GAS/date=2022-12-02");
    assert_eq!(week.len(), 1);
    let (metadata, batches) = &week[0];
    let batch = &batches[0];
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "series",
            "location",
            "location_type",
            "product",
            "interval_start",
            "interval_end",
            "value",
            "unit",
            "revision",
            "published_at",
            "changed_at",
            "diff",
            "source",
            "file",
            "line",
        ]
    );
    assert_eq!(
        schema.field_with_name("value").unwrap().data_type(),
        &DataType::Decimal128(18, 6)
    );
    let descriptor = metadata.file_metadata().schema_descr();
    let value = (0..descriptor.num_columns())
        .map(|i| descriptor.column(i))
        .find(|c| c.name() == "value")
        .unwrap();
    assert_eq!(value.physical_type(), PhysicalType::INT64);
    assert_eq!(value.logical_type_ref(), Some(&LogicalType::decimal(6, 18)));

    // The East's first value, its retraction and the revision; the Lower 48 total once.
    let column = |name: &str| batch.column_by_name(name).unwrap().clone();
    let location = column("location");
    let location = location.as_string::<i32>();
    let values = column("value");
    let values = values.as_primitive::<Decimal128Type>();
    let diff = column("diff");
    let diff = diff.as_primitive::<Int64Type>();
    let changed = column("changed_at");
    let changed = changed.as_primitive::<TimestampMicrosecondType>();
    let mut rows: Vec<(String, i128, i64, i64)> = (0..batch.num_rows())
        .map(|i| {
            (
                location.value(i).to_string(),
                values.value(i),
                changed.value(i) - T0 as i64,
                diff.value(i),
            )
        })
        .collect();
    rows.sort();
    let step = STEP as i64;
    assert_eq!(
        rows,
        [
            ("EAST".to_string(), 834_000_000, 0, 1),
            ("EAST".to_string(), 834_000_000, step, -1),
            ("EAST".to_string(), 836_500_000, step, 1),
            ("LOWER_48".to_string(), 3_462_000_000, 0, 1),
        ]
    );
    let text = |name: &str| first_text(batch, name);
    assert_eq!(text("series"), "WORKING_GAS_STORAGE");
    assert_eq!(text("location_type"), "REGION");
    assert_eq!(text("product"), "WEEKLY");
    assert_eq!(text("unit"), "Bcf");
    assert_eq!(text("source"), "gas_storage");
    let start = column("interval_start");
    let start = start.as_primitive::<TimestampMicrosecondType>();
    assert_eq!(start.value(0), micros("2022-12-02T05:00:00Z"));
    assert!(batch.column_by_name("revision").unwrap().is_null(0));
}

#[test]
fn a_lost_quantities_file_holds_durability_back() {
    let temporary = tempfile::tempdir().unwrap();
    let root = temporary.path().join("lake");
    // A plain file where the GAS partition's directory belongs: creating it fails.
    std::fs::create_dir_all(root.join("fundamentals")).unwrap();
    std::fs::write(root.join("fundamentals/market=GAS"), b"not a directory").unwrap();
    let counters = run(
        sink(ParquetSinkConfig::new(&root)),
        vec![Batch {
            prices: hours(Market::Pjm, "2024-01-01", 2),
            rejects: vec![],
            quantities: vec![(storage("EAST", "2022-12-02", "834", 2), 1)],
            ..Batch::default()
        }],
    );
    assert_eq!(ComponentCounters::get(&counters.rejected), 1);
    assert_eq!(ComponentCounters::get(&counters.records_out), 2);
    assert!(
        counters.durable_through(1) < T0,
        "the quantities table lost a row, so the sink does not claim it durable: {}",
        counters.durable_through(1)
    );
}

pub(crate) fn hours(market: Market, day: &str, count: usize) -> Vec<(PriceRecord, isize)> {
    (0..count)
        .map(|i| {
            let record = record(
                market,
                &format!("NODE{i:03}"),
                &format!("{day}T{:02}:00:00Z", i % 24),
                &format!("{i}.25"),
                None,
                i as u64 + 2,
            );
            (record, 1)
        })
        .collect()
}
