//! The forecasts table: one row per change of a `forecast` operator's output, partitioned
//! like prices (market, UTC day of the forecast hour's `interval_start`).

use std::sync::{Arc, LazyLock};

use arrow_array::RecordBatch;
use arrow_array::builder::{
    ArrayBuilder, Decimal128Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use gridflow_engine::record::ForecastRecord;
use gridflow_engine::{Diff, Time};

use super::{
    Columns, MarketDay, Table, decimal, decimal_builder, diff, micros, timestamp, timestamp_builder,
};

static FORECASTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("location", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("interval_start", timestamp(), false),
        Field::new("interval_end", timestamp(), false),
        Field::new("issued_at", timestamp(), false),
        Field::new("horizon_hours", DataType::Int32, false),
        Field::new("operator", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("median", decimal(), false),
        Field::new("lower_90", decimal(), false),
        Field::new("upper_90", decimal(), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("changed_at", timestamp(), false),
        Field::new("diff", DataType::Int64, false),
    ]))
});

/// The schema of the forecasts table's files (partition columns `market` and `date` live
/// in the directory names only).
pub fn forecasts_schema() -> SchemaRef {
    FORECASTS_SCHEMA.clone()
}

/// The forecasts table.
pub(crate) struct Forecasts;

impl Table for Forecasts {
    type Record = ForecastRecord;
    /// Partitioned like prices: the market and the UTC day of the forecast hour.
    type Key = MarketDay;
    type Columns = ForecastColumns;

    const KIND: &'static str = "forecasts";

    fn schema() -> SchemaRef {
        forecasts_schema()
    }

    #[inline]
    fn key(record: &ForecastRecord, _time: Time) -> MarketDay {
        MarketDay::of(record.key.market, record.key.interval_start)
    }
}

/// Builders of the forecasts table.
pub(crate) struct ForecastColumns {
    location: StringBuilder,
    product: StringBuilder,
    interval_start: TimestampMicrosecondBuilder,
    interval_end: TimestampMicrosecondBuilder,
    issued_at: TimestampMicrosecondBuilder,
    horizon_hours: Int32Builder,
    operator: StringBuilder,
    model: StringBuilder,
    median: Decimal128Builder,
    lower_90: Decimal128Builder,
    upper_90: Decimal128Builder,
    currency: StringBuilder,
    unit: StringBuilder,
    changed_at: TimestampMicrosecondBuilder,
    diff: Int64Builder,
}

impl Columns<ForecastRecord> for ForecastColumns {
    fn with_capacity(rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        ForecastColumns {
            location: text(16),
            product: text(16),
            interval_start: timestamp_builder(rows),
            interval_end: timestamp_builder(rows),
            issued_at: timestamp_builder(rows),
            horizon_hours: Int32Builder::with_capacity(rows),
            operator: text(8),
            model: text(8),
            median: decimal_builder(rows),
            lower_90: decimal_builder(rows),
            upper_90: decimal_builder(rows),
            currency: text(3),
            unit: text(3),
            changed_at: timestamp_builder(rows),
            diff: Int64Builder::with_capacity(rows),
        }
    }

    fn push(&mut self, record: &ForecastRecord, time: Time, update: Diff) {
        self.location.append_value(&*record.key.location);
        self.product.append_value(record.key.product.as_str());
        self.interval_start
            .append_value(record.key.interval_start.as_microsecond());
        self.interval_end
            .append_value(record.interval_end.as_microsecond());
        self.issued_at
            .append_value(record.key.issued_at.as_microsecond());
        self.horizon_hours
            .append_value(i32::from(record.horizon_hours));
        self.operator.append_value(&*record.key.operator);
        self.model.append_value(&*record.model);
        self.median.append_value(i128::from(record.median.micros()));
        self.lower_90
            .append_value(i128::from(record.lower_90.micros()));
        self.upper_90
            .append_value(i128::from(record.upper_90.micros()));
        self.currency.append_value(record.currency.as_str());
        self.unit.append_value(record.unit.as_str());
        self.changed_at.append_value(micros(time));
        self.diff.append_value(diff(update));
    }

    fn len(&self) -> usize {
        self.diff.len()
    }

    fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            forecasts_schema(),
            vec![
                Arc::new(self.location.finish()),
                Arc::new(self.product.finish()),
                Arc::new(self.interval_start.finish()),
                Arc::new(self.interval_end.finish()),
                Arc::new(self.issued_at.finish()),
                Arc::new(self.horizon_hours.finish()),
                Arc::new(self.operator.finish()),
                Arc::new(self.model.finish()),
                Arc::new(self.median.finish()),
                Arc::new(self.lower_90.finish()),
                Arc::new(self.upper_90.finish()),
                Arc::new(self.currency.finish()),
                Arc::new(self.unit.finish()),
                Arc::new(self.changed_at.finish()),
                Arc::new(self.diff.finish()),
            ],
        )
    }
}
