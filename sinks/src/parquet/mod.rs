//! The `parquet` sink: normalized prices, normalized quantities (fundamentals such as gas
//! in storage), regimes and forecasts of prices and upstream rejects into a Hive-partitioned
//! Parquet lake.
//!
//! ```text
//! <path>/<stream>/market=<MARKET>/date=<YYYY-MM-DD>/part-<run>-w<worker>-<seq>.parquet
//! <path>/<quantities_stream>/market=<MARKET>/date=<YYYY-MM-DD>/part-<run>-w<worker>-<seq>.parquet
//! <path>/<regimes_stream>/market=<MARKET>/date=<YYYY-MM-DD>/part-<run>-w<worker>-<seq>.parquet
//! <path>/<forecasts_stream>/market=<MARKET>/date=<YYYY-MM-DD>/part-<run>-w<worker>-<seq>.parquet
//! <path>/<rejects_stream>/source=<SOURCE>/date=<YYYY-MM-DD>/part-<run>-w<worker>-<seq>.parquet
//! ```
//!
//! Every differential update becomes one row with its `changed_at` (dataflow time) and
//! `diff` (+1 insert, -1 retract), so the lake keeps every version ever current.
//! `docs/lake.md` documents the columns, the guarantees and how to query the lake.

mod config;
mod schema;
mod sink;
mod writer;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::parquet::basic::{Compression, Encoding, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use ::parquet::schema::types::ColumnPath;
use gridflow_engine::Collection;
use gridflow_engine::component::{BuildContext, SinkError, SinkKind, SinkPlan, Stream, StreamKind};
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use gridflow_engine::record::{ForecastRecord, PriceRecord, QuantityRecord, RegimeRecord, Reject};

pub use config::{InvalidField, ParquetSinkConfig};
pub use schema::{
    forecasts_schema, prices_schema, quantities_schema, regimes_schema, rejects_schema,
};

use schema::{Forecasts, Prices, Quantities, Regimes, Rejects, Table};
use writer::{Limits, Naming, TableWriter};

/// Columns (of any table) written without a dictionary.
const PLAIN_COLUMNS: &[&str] = &[
    "interval_start",
    "interval_end",
    "price",
    "energy",
    "congestion",
    "loss",
    "greenhouse_gas",
    "native_price",
    "value",
    "change_probability",
    "median",
    "lower_90",
    "upper_90",
    "issued_at",
    "published_at",
    "changed_at",
    "line",
];

/// Integer columns written with `DELTA_BINARY_PACKED`: instants repeat or step evenly
/// within a file and source lines count up, so their deltas pack into a few bits and ZSTD
/// has a fraction of the bytes to scan (half of the sink's compression time was spent on
/// such columns). Prices and components too: bit-packed differences take a half to a third
/// of the plain 8 bytes (a component constant over a file packs to nothing), which cut the
/// sink's ZSTD time by three quarters in `gridflow bench` for files 7 % smaller; the small
/// files of the demo came out 3.5 % larger (docs/performance.md).
const DELTA_COLUMNS: &[&str] = &[
    "interval_start",
    "interval_end",
    "issued_at",
    "price",
    "energy",
    "congestion",
    "loss",
    "greenhouse_gas",
    "native_price",
    "published_at",
    "changed_at",
    "line",
];

/// The `parquet` sink kind, for [`Registry::add_sink`](gridflow_engine::Registry::add_sink).
#[derive(Clone, Copy, Debug, Default)]
pub struct ParquetSinkKind;

impl SinkKind for ParquetSinkKind {
    fn kind(&self) -> &'static str {
        "parquet"
    }

    fn summary(&self) -> &'static str {
        "Hive-partitioned Parquet lake: prices, quantities, regimes and forecasts by \
         market/date, rejects by source/date"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SinkPlan>, Vec<ConfigError>> {
        let parsed: ParquetSinkConfig = config.deserialize()?;
        match ParquetSink::new(parsed) {
            Ok(sink) => Ok(Arc::new(sink)),
            Err(invalid) => Err(invalid
                .into_iter()
                .map(|invalid| {
                    config.error(Some(config.span_of(invalid.field)), invalid.to_string())
                })
                .collect()),
        }
    }
}

/// A validated `parquet` sink, ready to be built on every worker.
pub struct ParquetSink {
    config: ParquetSinkConfig,
    properties: WriterProperties,
    /// Start of the run in microseconds, shared by all workers for their file names.
    run: OnceLock<u64>,
}

impl ParquetSink {
    /// Validates `config`.
    pub fn new(config: ParquetSinkConfig) -> Result<Self, Vec<InvalidField>> {
        config.validate()?;
        let level = ZstdLevel::try_new(config.compression_level).map_err(|error| {
            vec![InvalidField {
                field: "compression_level",
                message: error.to_string(),
            }]
        })?;
        let mut properties = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(config.row_group_rows))
            .set_max_row_group_bytes(None)
            .set_created_by(format!("gridflow {}", env!("CARGO_PKG_VERSION")));
        // Dictionaries pay off for the repetitive text columns only: prices and times are
        // nearly unique per row, and plain values compress better under ZSTD (measured:
        // files 38% smaller and encoding faster than with dictionaries everywhere).
        for column in PLAIN_COLUMNS {
            properties = properties.set_column_dictionary_enabled(ColumnPath::from(*column), false);
        }
        for column in DELTA_COLUMNS {
            properties = properties
                .set_column_encoding(ColumnPath::from(*column), Encoding::DELTA_BINARY_PACKED);
        }
        let properties = properties.build();
        Ok(ParquetSink {
            config,
            properties,
            run: OnceLock::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ParquetSinkConfig {
        &self.config
    }

    /// `<path>/<stream>`: the prices table's directory.
    pub fn prices_directory(&self) -> PathBuf {
        self.config.path.join(&self.config.stream)
    }

    /// `<path>/<rejects_stream>`: the rejects table's directory.
    pub fn rejects_directory(&self) -> PathBuf {
        self.config.path.join(&self.config.rejects_stream)
    }

    /// `<path>/<quantities_stream>`: the quantities (fundamentals) table's directory.
    pub fn quantities_directory(&self) -> PathBuf {
        self.config.path.join(&self.config.quantities_stream)
    }

    /// `<path>/<regimes_stream>`: the regimes table's directory.
    pub fn regimes_directory(&self) -> PathBuf {
        self.config.path.join(&self.config.regimes_stream)
    }

    /// `<path>/<forecasts_stream>`: the forecasts table's directory.
    pub fn forecasts_directory(&self) -> PathBuf {
        self.config.path.join(&self.config.forecasts_stream)
    }
}

/// What every table writer of one sink and worker shares, and its table's directory.
struct TableWriterParts<'a> {
    directory: PathBuf,
    limits: &'a Limits,
    naming: &'a Naming,
    context: &'a BuildContext,
}

impl ParquetSink {
    /// A writer of table `T`; `count_rows`: whether its rows count as the sink's records.
    fn table_writer<T: Table>(
        &self,
        parts: TableWriterParts<'_>,
        count_rows: bool,
    ) -> TableWriter<T> {
        TableWriter::<T>::new(
            parts.context.name.clone(),
            parts.directory,
            self.properties.clone(),
            parts.limits.clone(),
            parts.naming.clone(),
            parts.context.counters.clone(),
            count_rows,
        )
    }
}

impl SinkPlan for ParquetSink {
    fn describe(&self) -> String {
        format!(
            "{} (market/date), rejects to {} (source/date), quantities to {}, regimes to {} \
             and forecasts to {} (market/date)",
            self.prices_directory().display(),
            self.rejects_directory().display(),
            self.quantities_directory().display(),
            self.regimes_directory().display(),
            self.forecasts_directory().display()
        )
    }

    fn accepts(&self) -> &'static [StreamKind] {
        &[
            StreamKind::Prices,
            StreamKind::Quantities,
            StreamKind::Regimes,
            StreamKind::Forecasts,
        ]
    }

    fn build<'scope>(
        &self,
        inputs: Vec<Stream<'scope>>,
        rejects: Collection<'scope, Reject>,
        context: &BuildContext,
    ) -> Result<(), SinkError> {
        let mut prices: Vec<Collection<'scope, PriceRecord>> = Vec::with_capacity(inputs.len());
        let mut quantities: Vec<Collection<'scope, QuantityRecord>> = Vec::new();
        let mut regimes: Vec<Collection<'scope, RegimeRecord>> = Vec::new();
        let mut forecasts: Vec<Collection<'scope, ForecastRecord>> = Vec::new();
        for input in inputs {
            match input {
                Stream::Prices(collection) => prices.push(collection),
                Stream::Quantities(collection) => quantities.push(collection),
                Stream::Regimes(collection) => regimes.push(collection),
                Stream::Forecasts(collection) => forecasts.push(collection),
                other => {
                    return Err(SinkError::Other {
                        sink: context.name.to_string(),
                        message: format!(
                            "accepts prices, quantities, regimes and forecasts, not {}; route the input \
                             through `normalize` or `fundamentals`",
                            other.kind().as_str()
                        ),
                    });
                }
            }
        }
        // A table's directory exists once the sink can write to it: prices and rejects
        // always (as before quantities existed), quantities and regimes when an input
        // produces them.
        let mut directories = vec![self.prices_directory(), self.rejects_directory()];
        if !quantities.is_empty() {
            directories.push(self.quantities_directory());
        }
        if !regimes.is_empty() {
            directories.push(self.regimes_directory());
        }
        if !forecasts.is_empty() {
            directories.push(self.forecasts_directory());
        }
        let scope = rejects.scope();
        let prices = differential_dataflow::collection::concatenate(scope, prices);
        let quantities = differential_dataflow::collection::concatenate(scope, quantities);
        let regimes = differential_dataflow::collection::concatenate(scope, regimes);
        let forecasts = differential_dataflow::collection::concatenate(scope, forecasts);

        // Fail the build, not every later file, when the lake cannot be created at all.
        for directory in directories {
            writer::create_directories(&directory).map_err(|error| SinkError::Io {
                sink: context.name.to_string(),
                path: directory.display().to_string(),
                error,
            })?;
        }

        let naming = Naming {
            run: *self.run.get_or_init(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |elapsed| elapsed.as_micros() as u64)
            }),
            worker: context.worker.index,
        };
        let limits = Limits {
            row_group_rows: self.config.row_group_rows,
            max_file_rows: self.config.max_file_rows,
            max_file_age: Duration::from_secs(self.config.max_file_age_seconds),
            max_buffer_bytes: self.config.max_buffer_megabytes.saturating_mul(1 << 20),
        };
        let writer = |directory| TableWriterParts {
            directory,
            limits: &limits,
            naming: &naming,
            context,
        };
        let price_writer = self.table_writer::<Prices>(writer(self.prices_directory()), true);
        let quantity_writer =
            self.table_writer::<Quantities>(writer(self.quantities_directory()), true);
        let regime_writer = self.table_writer::<Regimes>(writer(self.regimes_directory()), true);
        let forecast_writer =
            self.table_writer::<Forecasts>(writer(self.forecasts_directory()), true);
        // Rejects are counted where they arise, not again as rows written.
        let reject_writer = self.table_writer::<Rejects>(writer(self.rejects_directory()), false);
        sink::attach(
            sink::Inputs {
                prices,
                quantities,
                regimes,
                forecasts,
                rejects,
            },
            sink::Writers {
                prices: price_writer,
                quantities: quantity_writer,
                regimes: regime_writer,
                forecasts: forecast_writer,
                rejects: reject_writer,
            },
            context,
        );
        Ok(())
    }
}
