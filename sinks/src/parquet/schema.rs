//! The tables of the lake (prices, rejects, quantities; regimes in `regimes.rs`, forecasts
//! in `forecasts.rs`):
//! their Arrow schemas, partition keys and column builders.
//!
//! Rows are appended straight into Arrow builders (no per-row allocation beyond the
//! builders' amortised growth); a batch is cut from them when a writer needs one.

use std::hash::Hash;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use arrow_array::RecordBatch;
use arrow_array::builder::{
    ArrayBuilder, Decimal128Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use gridflow_engine::record::{Market, Price, PriceRecord, QuantityRecord, Reject};
use gridflow_engine::{Diff, Time};

mod forecasts;
mod regimes;

pub(crate) use forecasts::Forecasts;
pub use forecasts::forecasts_schema;
pub(crate) use regimes::Regimes;
pub use regimes::regimes_schema;

/// Precision of the decimal price columns: the most digits that Parquet stores as a plain
/// INT64, which every reader understands.
const DECIMAL_PRECISION: u8 = 18;
/// Scale of the decimal price columns: [`Price`] is fixed-point with this many decimals.
const DECIMAL_SCALE: i8 = Price::DECIMALS as i8;
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// The zone of every timestamp column; Parquet records it as `isAdjustedToUTC = true`.
const UTC: &str = "UTC";

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

fn decimal() -> DataType {
    DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
}

static PRICES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("location", DataType::Utf8, false),
        Field::new("location_type", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("interval_start", timestamp(), false),
        Field::new("interval_end", timestamp(), false),
        Field::new("price", decimal(), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("energy", decimal(), true),
        Field::new("congestion", decimal(), true),
        Field::new("loss", decimal(), true),
        Field::new("greenhouse_gas", decimal(), true),
        Field::new("native_price", decimal(), false),
        Field::new("native_currency", DataType::Utf8, false),
        Field::new("native_unit", DataType::Utf8, false),
        Field::new("revision", DataType::Int64, true),
        Field::new("published_at", timestamp(), false),
        Field::new("changed_at", timestamp(), false),
        Field::new("diff", DataType::Int64, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
    ]))
});

static QUANTITIES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("series", DataType::Utf8, false),
        Field::new("location", DataType::Utf8, false),
        Field::new("location_type", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("interval_start", timestamp(), false),
        Field::new("interval_end", timestamp(), false),
        Field::new("value", decimal(), false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("revision", DataType::Int64, true),
        Field::new("published_at", timestamp(), false),
        Field::new("changed_at", timestamp(), false),
        Field::new("diff", DataType::Int64, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
    ]))
});

static REJECTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("changed_at", timestamp(), false),
        Field::new("diff", DataType::Int64, false),
    ]))
});

/// The schema of the prices table's files (partition columns `market` and `date` live in
/// the directory names only).
pub fn prices_schema() -> SchemaRef {
    PRICES_SCHEMA.clone()
}

/// The schema of the rejects table's files (partition columns `source` and `date` live in
/// the directory names only).
pub fn rejects_schema() -> SchemaRef {
    REJECTS_SCHEMA.clone()
}

/// The schema of the quantities (fundamentals) table's files (partition columns `market`
/// and `date` live in the directory names only).
pub fn quantities_schema() -> SchemaRef {
    QUANTITIES_SCHEMA.clone()
}

/// One table of the lake: what its rows are made of and how they are partitioned.
pub(crate) trait Table: 'static {
    /// The record type written.
    type Record;
    /// The Hive partition a row belongs to.
    type Key: PartitionKey + Clone + Eq + Hash;
    /// Builders for one partition's pending rows.
    type Columns: Columns<Self::Record>;

    /// The table's kind, for logs.
    const KIND: &'static str;

    /// The files' schema.
    fn schema() -> SchemaRef;
    /// The partition of a row; `time` is the update's dataflow time.
    fn key(record: &Self::Record, time: Time) -> Self::Key;
}

/// A Hive partition of a table.
pub(crate) trait PartitionKey {
    /// Its directory under the table, e.g. `market=PJM/date=2024-01-31`.
    fn directory(&self) -> PathBuf;
}

/// Builders accumulating one partition's rows.
pub(crate) trait Columns<R> {
    /// Empty builders sized for `rows` rows.
    fn with_capacity(rows: usize) -> Self;
    /// Appends one update.
    fn push(&mut self, record: &R, time: Time, diff: Diff);
    /// Rows pending.
    fn len(&self) -> usize;
    /// Takes the pending rows as a batch, leaving the builders empty and reusable.
    fn finish(&mut self) -> Result<RecordBatch, ArrowError>;
}

/// The prices table.
pub(crate) struct Prices;

/// A partition of the prices, quantities, regimes and forecasts tables: the market and the
/// UTC day (since the epoch) of `interval_start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MarketDay {
    market: Market,
    day: i64,
}

impl PartitionKey for MarketDay {
    fn directory(&self) -> PathBuf {
        PathBuf::from(format!("market={}", partition_value(self.market.as_str())))
            .join(format!("date={}", utc_date(self.day)))
    }
}

/// A partition of the rejects table: the source component and the UTC day of the
/// rejection's dataflow time.
impl PartitionKey for (Arc<str>, i64) {
    fn directory(&self) -> PathBuf {
        PathBuf::from(format!("source={}", partition_value(&self.0)))
            .join(format!("date={}", utc_date(self.1)))
    }
}

impl MarketDay {
    /// The partition of a row for `market` whose interval starts at `interval_start`.
    fn of(market: Market, interval_start: jiff::Timestamp) -> Self {
        MarketDay {
            market,
            day: interval_start.as_microsecond().div_euclid(MICROS_PER_DAY),
        }
    }
}

impl Table for Prices {
    type Record = PriceRecord;
    type Key = MarketDay;
    type Columns = PriceColumns;

    const KIND: &'static str = "prices";

    fn schema() -> SchemaRef {
        prices_schema()
    }

    #[inline]
    fn key(record: &PriceRecord, _time: Time) -> MarketDay {
        MarketDay::of(record.key.market, record.key.interval_start)
    }
}

/// The quantities (fundamentals) table.
pub(crate) struct Quantities;

impl Table for Quantities {
    type Record = QuantityRecord;
    /// Partitioned like prices: the market and the UTC day of `interval_start`.
    type Key = MarketDay;
    type Columns = QuantityColumns;

    const KIND: &'static str = "quantities";

    fn schema() -> SchemaRef {
        quantities_schema()
    }

    #[inline]
    fn key(record: &QuantityRecord, _time: Time) -> MarketDay {
        MarketDay::of(record.key.market, record.key.interval_start)
    }
}

/// The rejects table.
pub(crate) struct Rejects;

impl Table for Rejects {
    type Record = Reject;
    /// The source component and the UTC day of the rejection's dataflow time.
    type Key = (Arc<str>, i64);
    type Columns = RejectColumns;

    const KIND: &'static str = "rejects";

    fn schema() -> SchemaRef {
        rejects_schema()
    }

    fn key(record: &Reject, time: Time) -> (Arc<str>, i64) {
        (
            record.origin.source.clone(),
            micros(time).div_euclid(MICROS_PER_DAY),
        )
    }
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (UTC).
fn utc_date(day: i64) -> String {
    jiff::Timestamp::from_second(day.saturating_mul(86_400)).map_or_else(
        |_| format!("day{day}"),
        |start| start.strftime("%Y-%m-%d").to_string(),
    )
}

/// A Hive partition value that is one safe path component: bytes other than ASCII
/// letters, digits, `_`, `-` and `.` (and a leading `.`, which would hide the directory)
/// are percent-encoded, as Hive does.
fn partition_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (index, byte) in value.bytes().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || matches!(byte, b'_' | b'-')
            || (byte == b'.' && index > 0);
        if plain {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.is_empty() {
        // Hive's spelling of a null partition value; an empty name is not a directory.
        out.push_str("__HIVE_DEFAULT_PARTITION__");
    }
    out
}

/// Dataflow times are microseconds since the epoch; clamp the (theoretical) excess.
#[inline]
fn micros(time: Time) -> i64 {
    i64::try_from(time).unwrap_or(i64::MAX)
}

#[inline]
fn diff(diff: Diff) -> i64 {
    diff as i64
}

fn decimal_builder(rows: usize) -> Decimal128Builder {
    Decimal128Builder::with_capacity(rows).with_data_type(decimal())
}

fn timestamp_builder(rows: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC)
}

/// Builders of the prices table.
pub(crate) struct PriceColumns {
    location: StringBuilder,
    location_type: StringBuilder,
    product: StringBuilder,
    interval_start: TimestampMicrosecondBuilder,
    interval_end: TimestampMicrosecondBuilder,
    price: Decimal128Builder,
    currency: StringBuilder,
    unit: StringBuilder,
    energy: Decimal128Builder,
    congestion: Decimal128Builder,
    loss: Decimal128Builder,
    greenhouse_gas: Decimal128Builder,
    native_price: Decimal128Builder,
    native_currency: StringBuilder,
    native_unit: StringBuilder,
    revision: Int64Builder,
    published_at: TimestampMicrosecondBuilder,
    changed_at: TimestampMicrosecondBuilder,
    diff: Int64Builder,
    source: StringBuilder,
    file: StringBuilder,
    line: Int64Builder,
}

impl Columns<PriceRecord> for PriceColumns {
    fn with_capacity(rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        PriceColumns {
            location: text(16),
            location_type: text(4),
            product: text(16),
            interval_start: timestamp_builder(rows),
            interval_end: timestamp_builder(rows),
            price: decimal_builder(rows),
            currency: text(3),
            unit: text(3),
            energy: decimal_builder(rows),
            congestion: decimal_builder(rows),
            loss: decimal_builder(rows),
            greenhouse_gas: decimal_builder(rows),
            native_price: decimal_builder(rows),
            native_currency: text(3),
            native_unit: text(3),
            revision: Int64Builder::with_capacity(rows),
            published_at: timestamp_builder(rows),
            changed_at: timestamp_builder(rows),
            diff: Int64Builder::with_capacity(rows),
            source: text(8),
            file: text(48),
            line: Int64Builder::with_capacity(rows),
        }
    }

    #[inline]
    fn push(&mut self, record: &PriceRecord, time: Time, update: Diff) {
        let decimal = |price: Price| i128::from(price.micros());
        self.location.append_value(&*record.key.location);
        self.location_type
            .append_value(record.location_type.as_str());
        self.product.append_value(record.key.product.as_str());
        self.interval_start
            .append_value(record.key.interval_start.as_microsecond());
        self.interval_end
            .append_value(record.interval_end.as_microsecond());
        self.price.append_value(decimal(record.price));
        self.currency.append_value(record.currency.as_str());
        self.unit.append_value(record.unit.as_str());
        self.energy
            .append_option(record.components.energy.map(decimal));
        self.congestion
            .append_option(record.components.congestion.map(decimal));
        self.loss.append_option(record.components.loss.map(decimal));
        self.greenhouse_gas
            .append_option(record.components.greenhouse_gas.map(decimal));
        self.native_price.append_value(decimal(record.native_price));
        self.native_currency
            .append_value(record.native_currency.as_str());
        self.native_unit.append_value(record.native_unit.as_str());
        self.revision.append_option(record.version.revision);
        self.published_at
            .append_value(record.version.published_at.as_microsecond());
        self.changed_at.append_value(micros(time));
        self.diff.append_value(diff(update));
        self.source.append_value(&*record.origin.source);
        self.file.append_value(&*record.origin.file);
        self.line
            .append_value(i64::try_from(record.origin.line).unwrap_or(i64::MAX));
    }

    fn len(&self) -> usize {
        self.diff.len()
    }

    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            prices_schema(),
            vec![
                Arc::new(self.location.finish()),
                Arc::new(self.location_type.finish()),
                Arc::new(self.product.finish()),
                Arc::new(self.interval_start.finish()),
                Arc::new(self.interval_end.finish()),
                Arc::new(self.price.finish()),
                Arc::new(self.currency.finish()),
                Arc::new(self.unit.finish()),
                Arc::new(self.energy.finish()),
                Arc::new(self.congestion.finish()),
                Arc::new(self.loss.finish()),
                Arc::new(self.greenhouse_gas.finish()),
                Arc::new(self.native_price.finish()),
                Arc::new(self.native_currency.finish()),
                Arc::new(self.native_unit.finish()),
                Arc::new(self.revision.finish()),
                Arc::new(self.published_at.finish()),
                Arc::new(self.changed_at.finish()),
                Arc::new(self.diff.finish()),
                Arc::new(self.source.finish()),
                Arc::new(self.file.finish()),
                Arc::new(self.line.finish()),
            ],
        )
    }
}

/// Builders of the quantities table.
pub(crate) struct QuantityColumns {
    series: StringBuilder,
    location: StringBuilder,
    location_type: StringBuilder,
    product: StringBuilder,
    interval_start: TimestampMicrosecondBuilder,
    interval_end: TimestampMicrosecondBuilder,
    value: Decimal128Builder,
    unit: StringBuilder,
    revision: Int64Builder,
    published_at: TimestampMicrosecondBuilder,
    changed_at: TimestampMicrosecondBuilder,
    diff: Int64Builder,
    source: StringBuilder,
    file: StringBuilder,
    line: Int64Builder,
}

impl Columns<QuantityRecord> for QuantityColumns {
    fn with_capacity(rows: usize) -> Self {
        // Fundamentals are a few rows per region and week: start small.
        let rows = rows.min(1024);
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        QuantityColumns {
            series: text(20),
            location: text(12),
            location_type: text(6),
            product: text(8),
            interval_start: timestamp_builder(rows),
            interval_end: timestamp_builder(rows),
            value: decimal_builder(rows),
            unit: text(3),
            revision: Int64Builder::with_capacity(rows),
            published_at: timestamp_builder(rows),
            changed_at: timestamp_builder(rows),
            diff: Int64Builder::with_capacity(rows),
            source: text(8),
            file: text(48),
            line: Int64Builder::with_capacity(rows),
        }
    }

    fn push(&mut self, record: &QuantityRecord, time: Time, update: Diff) {
        self.series.append_value(&*record.key.series);
        self.location.append_value(&*record.key.location);
        self.location_type
            .append_value(record.location_type.as_str());
        self.product.append_value(record.key.product.as_str());
        self.interval_start
            .append_value(record.key.interval_start.as_microsecond());
        self.interval_end
            .append_value(record.interval_end.as_microsecond());
        self.value.append_value(i128::from(record.value.micros()));
        self.unit.append_value(record.unit.as_str());
        self.revision.append_option(record.version.revision);
        self.published_at
            .append_value(record.version.published_at.as_microsecond());
        self.changed_at.append_value(micros(time));
        self.diff.append_value(diff(update));
        self.source.append_value(&*record.origin.source);
        self.file.append_value(&*record.origin.file);
        self.line
            .append_value(i64::try_from(record.origin.line).unwrap_or(i64::MAX));
    }

    fn len(&self) -> usize {
        self.diff.len()
    }

    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            quantities_schema(),
            vec![
                Arc::new(self.series.finish()),
                Arc::new(self.location.finish()),
                Arc::new(self.location_type.finish()),
                Arc::new(self.product.finish()),
                Arc::new(self.interval_start.finish()),
                Arc::new(self.interval_end.finish()),
                Arc::new(self.value.finish()),
                Arc::new(self.unit.finish()),
                Arc::new(self.revision.finish()),
                Arc::new(self.published_at.finish()),
                Arc::new(self.changed_at.finish()),
                Arc::new(self.diff.finish()),
                Arc::new(self.source.finish()),
                Arc::new(self.file.finish()),
                Arc::new(self.line.finish()),
            ],
        )
    }
}

/// Builders of the rejects table.
pub(crate) struct RejectColumns {
    file: StringBuilder,
    line: Int64Builder,
    stage: StringBuilder,
    raw: StringBuilder,
    reason: StringBuilder,
    changed_at: TimestampMicrosecondBuilder,
    diff: Int64Builder,
}

impl Columns<Reject> for RejectColumns {
    fn with_capacity(rows: usize) -> Self {
        // Rejects are rare: start small and let the builders grow.
        let rows = rows.min(1024);
        RejectColumns {
            file: StringBuilder::with_capacity(rows, rows * 48),
            line: Int64Builder::with_capacity(rows),
            stage: StringBuilder::with_capacity(rows, rows * 8),
            raw: StringBuilder::with_capacity(rows, rows * 64),
            reason: StringBuilder::with_capacity(rows, rows * 64),
            changed_at: timestamp_builder(rows),
            diff: Int64Builder::with_capacity(rows),
        }
    }

    fn push(&mut self, record: &Reject, time: Time, update: Diff) {
        self.file.append_value(&*record.origin.file);
        self.line
            .append_value(i64::try_from(record.origin.line).unwrap_or(i64::MAX));
        self.stage.append_value(&*record.stage);
        self.raw.append_value(&record.raw);
        self.reason.append_value(&record.reason);
        self.changed_at.append_value(micros(time));
        self.diff.append_value(diff(update));
    }

    fn len(&self) -> usize {
        self.diff.len()
    }

    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            rejects_schema(),
            vec![
                Arc::new(self.file.finish()),
                Arc::new(self.line.finish()),
                Arc::new(self.stage.finish()),
                Arc::new(self.raw.finish()),
                Arc::new(self.reason.finish()),
                Arc::new(self.changed_at.finish()),
                Arc::new(self.diff.finish()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(-1), "1969-12-31");
        assert_eq!(utc_date(19_723), "2024-01-01");
    }

    #[test]
    fn partition_values_are_one_safe_component() {
        assert_eq!(partition_value("spp_da-2.x"), "spp_da-2.x");
        assert_eq!(partition_value("a b/c=d%"), "a%20b%2Fc%3Dd%25");
        assert_eq!(partition_value(".."), "%2E.");
        assert_eq!(partition_value(""), "__HIVE_DEFAULT_PARTITION__");
    }
}
