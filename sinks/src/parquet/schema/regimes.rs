//! The regimes table: one row per change of a `regime` operator's output, partitioned like
//! prices (market, UTC day of `interval_start`).

use std::sync::{Arc, LazyLock};

use arrow_array::RecordBatch;
use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Decimal128Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use gridflow_engine::record::{Probability, RegimeRecord};
use gridflow_engine::{Diff, Time};

use super::{
    Columns, MarketDay, Table, decimal, decimal_builder, diff, micros, timestamp, timestamp_builder,
};

/// Precision of the probability columns: one digit before the point, nine after
/// ([`Probability`] counts 10⁻⁹); Parquet stores it as INT64.
const PROBABILITY_PRECISION: u8 = 10;

fn probability() -> DataType {
    DataType::Decimal128(PROBABILITY_PRECISION, Probability::DECIMALS as i8)
}

fn probability_builder(rows: usize) -> Decimal128Builder {
    Decimal128Builder::with_capacity(rows).with_data_type(probability())
}

static REGIMES_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("location", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("interval_start", timestamp(), false),
        Field::new("interval_end", timestamp(), false),
        Field::new("operator", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new(
            "probabilities",
            DataType::List(Arc::new(Field::new("item", probability(), true))),
            true,
        ),
        Field::new("state", DataType::Int32, true),
        Field::new("previous_state", DataType::Int32, true),
        Field::new("changed", DataType::Boolean, false),
        Field::new("run_length", DataType::Int64, true),
        Field::new("change_probability", probability(), true),
        Field::new("price", decimal(), false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("changed_at", timestamp(), false),
        Field::new("diff", DataType::Int64, false),
    ]))
});

/// The schema of the regimes table's files (partition columns `market` and `date` live in
/// the directory names only).
pub fn regimes_schema() -> SchemaRef {
    REGIMES_SCHEMA.clone()
}

/// The regimes table.
pub(crate) struct Regimes;

impl Table for Regimes {
    type Record = RegimeRecord;
    /// Partitioned like prices: the market and the UTC day of `interval_start`.
    type Key = MarketDay;
    type Columns = RegimeColumns;

    const KIND: &'static str = "regimes";

    fn schema() -> SchemaRef {
        regimes_schema()
    }

    #[inline]
    fn key(record: &RegimeRecord, _time: Time) -> MarketDay {
        MarketDay::of(record.key.market, record.key.interval_start)
    }
}

/// Builders of the regimes table.
pub(crate) struct RegimeColumns {
    location: StringBuilder,
    product: StringBuilder,
    interval_start: TimestampMicrosecondBuilder,
    interval_end: TimestampMicrosecondBuilder,
    operator: StringBuilder,
    method: StringBuilder,
    probabilities: ListBuilder<Decimal128Builder>,
    state: Int32Builder,
    previous_state: Int32Builder,
    changed: BooleanBuilder,
    run_length: Int64Builder,
    change_probability: Decimal128Builder,
    price: Decimal128Builder,
    currency: StringBuilder,
    unit: StringBuilder,
    changed_at: TimestampMicrosecondBuilder,
    diff: Int64Builder,
}

impl Columns<RegimeRecord> for RegimeColumns {
    fn with_capacity(rows: usize) -> Self {
        let text = |bytes_per_row: usize| StringBuilder::with_capacity(rows, rows * bytes_per_row);
        RegimeColumns {
            location: text(16),
            product: text(16),
            interval_start: timestamp_builder(rows),
            interval_end: timestamp_builder(rows),
            operator: text(8),
            method: text(5),
            probabilities: ListBuilder::with_capacity(probability_builder(rows * 3), rows),
            state: Int32Builder::with_capacity(rows),
            previous_state: Int32Builder::with_capacity(rows),
            changed: BooleanBuilder::with_capacity(rows),
            run_length: Int64Builder::with_capacity(rows),
            change_probability: probability_builder(rows),
            price: decimal_builder(rows),
            currency: text(3),
            unit: text(3),
            changed_at: timestamp_builder(rows),
            diff: Int64Builder::with_capacity(rows),
        }
    }

    fn push(&mut self, record: &RegimeRecord, time: Time, update: Diff) {
        let units = |p: Probability| i128::from(p.units());
        self.location.append_value(&*record.key.location);
        self.product.append_value(record.key.product.as_str());
        self.interval_start
            .append_value(record.key.interval_start.as_microsecond());
        self.interval_end
            .append_value(record.interval_end.as_microsecond());
        self.operator.append_value(&*record.key.operator);
        self.method.append_value(record.method.as_str());
        if record.probabilities.is_empty() {
            self.probabilities.append_null();
        } else {
            for p in &record.probabilities {
                self.probabilities.values().append_value(units(*p));
            }
            self.probabilities.append(true);
        }
        self.state.append_option(record.state.map(i32::from));
        self.previous_state
            .append_option(record.previous_state.map(i32::from));
        self.changed.append_value(record.changed);
        self.run_length
            .append_option(record.run_length.map(i64::from));
        self.change_probability
            .append_option(record.change_probability.map(units));
        self.price.append_value(i128::from(record.price.micros()));
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
            regimes_schema(),
            vec![
                Arc::new(self.location.finish()),
                Arc::new(self.product.finish()),
                Arc::new(self.interval_start.finish()),
                Arc::new(self.interval_end.finish()),
                Arc::new(self.operator.finish()),
                Arc::new(self.method.finish()),
                Arc::new(self.probabilities.finish()),
                Arc::new(self.state.finish()),
                Arc::new(self.previous_state.finish()),
                Arc::new(self.changed.finish()),
                Arc::new(self.run_length.finish()),
                Arc::new(self.change_probability.finish()),
                Arc::new(self.price.finish()),
                Arc::new(self.currency.finish()),
                Arc::new(self.unit.finish()),
                Arc::new(self.changed_at.finish()),
                Arc::new(self.diff.finish()),
            ],
        )
    }
}
