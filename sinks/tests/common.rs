//! Drives a `parquet` sink with a tiny timely dataflow and reads the lake back.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use differential_dataflow::input::Input;
use gridflow_engine::component::{BuildContext, SinkPlan, Stream, WorkerInfo};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::pipeline::PipelineSettings;
use gridflow_engine::record::{
    Components, Currency, ForecastKey, ForecastRecord, LocationType, Market, Origin, Price,
    PriceKey, PriceRecord, Probability, Product, QuantityKey, QuantityRecord, RegimeKey,
    RegimeMethod, RegimeRecord, Reject, Unit, Version,
};
use gridflow_engine::{Diff, Time};
use gridflow_sinks::parquet::ParquetSink;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::ParquetMetaData;

/// Dataflow time of the first batch: 2023-11-14T22:13:20Z.
pub(crate) const T0: Time = 1_700_000_000_000_000;
/// Batches are one second apart.
pub(crate) const STEP: Time = 1_000_000;

/// What one dataflow time carries.
#[derive(Default)]
pub(crate) struct Batch {
    pub(crate) prices: Vec<(PriceRecord, Diff)>,
    pub(crate) rejects: Vec<(Reject, Diff)>,
    pub(crate) quantities: Vec<(QuantityRecord, Diff)>,
    pub(crate) regimes: Vec<(RegimeRecord, Diff)>,
    pub(crate) forecasts: Vec<(ForecastRecord, Diff)>,
}

pub(crate) fn utc(text: &str) -> jiff::Timestamp {
    text.parse().unwrap()
}

/// A PJM-style record; `price` is a decimal text.
pub(crate) fn record(
    market: Market,
    location: &str,
    start: &str,
    price: &str,
    revision: Option<i64>,
    line: u64,
) -> PriceRecord {
    let start = utc(start);
    let price: Price = price.parse().unwrap();
    PriceRecord {
        key: PriceKey {
            market,
            location: Arc::from(location),
            product: Product::DayAheadHourly,
            interval_start: start,
        },
        location_type: LocationType::Hub,
        interval_end: start + jiff::SignedDuration::from_hours(1),
        price,
        currency: Currency::EUR,
        unit: Unit::MegawattHour,
        components: Components::default(),
        native_price: price,
        native_currency: Currency::USD,
        native_unit: Unit::MegawattHour,
        version: Version {
            revision,
            published_at: utc("2024-01-01T12:00:00Z"),
        },
        origin: Origin {
            source: Arc::from("pjm_da"),
            file: Arc::from("data/pjm/da.csv"),
            line,
        },
    }
}

/// An EIA-style weekly storage level (Bcf) of `region` for the week ending on the Friday
/// `friday` (a day in New York: 05:00 UTC in winter); `value` is a decimal text.
pub(crate) fn storage(region: &str, friday: &str, value: &str, line: u64) -> QuantityRecord {
    let start = utc(&format!("{friday}T05:00:00Z"));
    QuantityRecord {
        key: QuantityKey {
            interval_start: start,
            market: Market::Gas,
            product: Product::Weekly,
            series: Arc::from("WORKING_GAS_STORAGE"),
            location: Arc::from(region),
        },
        location_type: LocationType::Region,
        interval_end: start + jiff::SignedDuration::from_hours(24),
        value: value.parse().unwrap(),
        unit: Unit::Bcf,
        version: Version {
            revision: None,
            published_at: utc("2022-12-08T15:30:00Z"),
        },
        origin: Origin {
            source: Arc::from("gas_storage"),
            file: Arc::from("data/gas/storage.json"),
            line,
        },
    }
}

/// A three-regime HMM row of `record`'s price; `probabilities` are decimal texts summing
/// to 1.
pub(crate) fn hmm_regime(
    record: &PriceRecord,
    probabilities: [&str; 3],
    state: u8,
    previous_state: Option<u8>,
) -> RegimeRecord {
    let probability = |text: &str| {
        let micros: Price = text.parse().unwrap();
        Probability::from_units(u32::try_from(micros.micros() * 1_000).unwrap())
    };
    RegimeRecord {
        key: RegimeKey {
            interval_start: record.key.interval_start,
            market: record.key.market,
            product: record.key.product,
            location: record.key.location.clone(),
            operator: Arc::from("regimes"),
        },
        interval_end: record.interval_end,
        method: RegimeMethod::Hmm,
        price: record.price,
        currency: record.currency,
        unit: record.unit,
        probabilities: probabilities.iter().map(|p| probability(p)).collect(),
        state: Some(state),
        previous_state,
        changed: previous_state.is_some_and(|previous| previous != state),
        run_length: None,
        change_probability: None,
    }
}

/// A BOCPD row of `record`'s price.
pub(crate) fn bocpd_regime(
    record: &PriceRecord,
    run_length: u32,
    change_probability: f64,
) -> RegimeRecord {
    let mut row = hmm_regime(record, ["1", "0", "0"], 0, None);
    row.key.operator = Arc::from("changes");
    row.method = RegimeMethod::Bocpd;
    row.probabilities = Vec::new();
    row.state = None;
    row.run_length = Some(run_length);
    row.change_probability = Some(Probability::from_f64(change_probability));
    row
}

pub(crate) fn reject(source: &str, line: u64, reason: &str) -> Reject {
    Reject::new(
        Origin {
            source: Arc::from(source),
            file: Arc::from("data/spp/DA.csv"),
            line,
        },
        "parse",
        "2024-01-01,HB,abc",
        reason,
    )
}

pub(crate) fn context(counters: Arc<ComponentCounters>) -> BuildContext {
    BuildContext {
        name: Arc::from("lake"),
        settings: Arc::new(PipelineSettings::default()),
        worker: WorkerInfo { index: 0, peers: 1 },
        counters,
    }
}

/// Feeds `batches` at times `T0`, `T0 + STEP`, ... and runs the dataflow to completion.
pub(crate) fn run(sink: ParquetSink, batches: Vec<Batch>) -> Arc<ComponentCounters> {
    run_with(sink, batches, |_| {})
}

/// As [`run`], calling `before_close` with a function that steps the worker, after the
/// last batch but while the inputs are still open.
pub(crate) fn run_with(
    sink: ParquetSink,
    batches: Vec<Batch>,
    before_close: impl FnOnce(&mut dyn FnMut(Duration)) + Send + Sync + 'static,
) -> Arc<ComponentCounters> {
    let counters = Arc::new(ComponentCounters::default());
    let context = context(counters.clone());
    timely::execute_directly(move |worker| {
        let (mut prices, mut rejects, mut quantities, mut regimes, mut forecasts) = worker
            .dataflow::<Time, _, _>(|scope| {
                let (price_input, price_collection) = scope.new_collection::<PriceRecord, Diff>();
                let (reject_input, reject_collection) = scope.new_collection::<Reject, Diff>();
                let (quantity_input, quantity_collection) =
                    scope.new_collection::<QuantityRecord, Diff>();
                let (regime_input, regime_collection) =
                    scope.new_collection::<RegimeRecord, Diff>();
                let (forecast_input, forecast_collection) =
                    scope.new_collection::<ForecastRecord, Diff>();
                sink.build(
                    vec![
                        Stream::Prices(price_collection),
                        Stream::Quantities(quantity_collection),
                        Stream::Regimes(regime_collection),
                        Stream::Forecasts(forecast_collection),
                    ],
                    reject_collection,
                    &context,
                )
                .unwrap();
                (
                    price_input,
                    reject_input,
                    quantity_input,
                    regime_input,
                    forecast_input,
                )
            });
        let mut time = T0;
        for batch in batches {
            prices.advance_to(time);
            rejects.advance_to(time);
            quantities.advance_to(time);
            regimes.advance_to(time);
            forecasts.advance_to(time);
            for (record, diff) in batch.prices {
                prices.update(record, diff);
            }
            for (record, diff) in batch.rejects {
                rejects.update(record, diff);
            }
            for (record, diff) in batch.quantities {
                quantities.update(record, diff);
            }
            for (record, diff) in batch.regimes {
                regimes.update(record, diff);
            }
            for (record, diff) in batch.forecasts {
                forecasts.update(record, diff);
            }
            // As the runtime does: hand each batch to the dataflow before reading more.
            prices.flush();
            rejects.flush();
            quantities.flush();
            regimes.flush();
            forecasts.flush();
            worker.step();
            time += STEP;
        }
        prices.advance_to(time);
        rejects.advance_to(time);
        quantities.advance_to(time);
        regimes.advance_to(time);
        forecasts.advance_to(time);
        prices.flush();
        rejects.flush();
        quantities.flush();
        regimes.flush();
        forecasts.flush();
        let mut step = |duration: Duration| {
            let until = Instant::now() + duration;
            while Instant::now() < until {
                worker.step_or_park(Some(Duration::from_millis(20)));
            }
        };
        before_close(&mut step);
    });
    counters
}

/// Every file under `root`, relative to it, sorted.
pub(crate) fn files(root: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, directory: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(directory) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// The files under `root` in `directory` (relative), with their contents.
pub(crate) fn read_partition(
    root: &Path,
    directory: &str,
) -> Vec<(ParquetMetaData, Vec<RecordBatch>)> {
    files(root)
        .into_iter()
        .filter(|file| file.parent() == Some(Path::new(directory)))
        .map(|file| read(&root.join(file)))
        .collect()
}

pub(crate) fn read(path: &Path) -> (ParquetMetaData, Vec<RecordBatch>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let metadata = builder.metadata().as_ref().clone();
    let batches = builder.build().unwrap().map(Result::unwrap).collect();
    (metadata, batches)
}

/// The text in the first row of a string column.
pub(crate) fn first_text(batch: &RecordBatch, name: &str) -> String {
    use arrow_array::cast::AsArray;
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_string::<i32>()
        .value(0)
        .to_string()
}

/// The value in the first row of an Int64 column.
pub(crate) fn first_int(batch: &RecordBatch, name: &str) -> i64 {
    use arrow_array::cast::AsArray;
    batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .as_primitive::<arrow_array::types::Int64Type>()
        .value(0)
}

/// A day-ahead forecast of `record`'s hour, issued at `issued_at`; values are decimal texts.
pub(crate) fn forecast(
    record: &PriceRecord,
    issued_at: &str,
    [median, lower_90, upper_90]: [&str; 3],
) -> ForecastRecord {
    let issued_at = utc(issued_at);
    let price = |text: &str| text.parse::<Price>().unwrap();
    ForecastRecord {
        key: ForecastKey {
            interval_start: record.key.interval_start,
            market: record.key.market,
            product: record.key.product,
            location: record.key.location.clone(),
            issued_at,
            operator: Arc::from("forecast"),
        },
        interval_end: record.interval_end,
        horizon_hours: u16::try_from(
            (record.interval_end.as_second() - issued_at.as_second()) / 3_600,
        )
        .unwrap(),
        median: price(median),
        lower_90: price(lower_90),
        upper_90: price(upper_90),
        currency: record.currency,
        unit: record.unit,
        model: Arc::from("np-prices"),
    }
}
