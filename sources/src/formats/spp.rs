//! SPP LMP by settlement location: day-ahead `DA-LMP-SL-*.csv` and real-time balancing
//! market `RTBM-LMP-SL-*.csv`.
//!
//! Header `Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP,MLC,MCC,MEC`. Time comes
//! from `GMTIntervalEnd` (UTC, interval-ending, `MM/DD/YYYY HH:MM:SS`); the local
//! `Interval` column is ignored because UTC needs no DST rule. SPP names hubs with `HUB`
//! (`SPPNORTH_HUB`, `GRDAHUB2`); every other settlement location is a node.

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Product,
    PublishedPrice, Unit,
};
use jiff::Timestamp;

use super::common::{
    Context, Interner, add_minutes, file_name, next_record, optional_price, price_field,
    product_minutes, raw_text, require_columns, us_datetime, utc,
};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "spp_lmp"`.
pub const NAME: &str = "spp_lmp";

/// The header SPP publishes.
pub const HEADER: &str = "Interval,GMTIntervalEnd,Settlement Location,Pnode,LMP,MLC,MCC,MEC";

/// Parser for SPP LMP CSV files.
#[derive(Clone, Debug, Default)]
pub struct SppLmp {
    product: Option<(Product, u32)>,
}

impl SppLmp {
    /// A parser choosing the product from the file name (`DA-` day-ahead hourly, `RTBM-`
    /// real-time 5-minute), unless `product` overrides it.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        let product = product
            .map(|product| {
                product_minutes(product)
                    .map(|minutes| (product, minutes))
                    .ok_or(FormatLookupError::Product {
                        format: NAME,
                        product,
                        reason: "SPP publishes 5-minute and hourly intervals only".into(),
                    })
            })
            .transpose()?;
        Ok(SppLmp { product })
    }

    fn product_for(&self, context: &Context<'_>) -> Result<(Product, u32), FileError> {
        if let Some(product) = self.product {
            return Ok(product);
        }
        let name = file_name(context.file).to_ascii_uppercase();
        if name.starts_with("DA-") || name.starts_with("DA_") {
            Ok((Product::DayAheadHourly, 60))
        } else if name.starts_with("RTBM-") || name.starts_with("RTBM_") {
            Ok((Product::RealTime5Min, 5))
        } else {
            Err(context.error(FileErrorKind::Structure(format!(
                "cannot tell the product from the file name `{}`: SPP names day-ahead files \
                 `DA-LMP-SL-*` and real-time files `RTBM-LMP-SL-*`; rename the file or set \
                 `product` in the pipeline",
                file_name(context.file)
            ))))
        }
    }
}

/// Column indices in the file's header.
struct Columns {
    width: usize,
    end: usize,
    location: usize,
    lmp: usize,
    mlc: usize,
    mcc: usize,
    mec: usize,
}

/// The per-file state of the row loop.
struct Rows<'a> {
    context: &'a Context<'a>,
    columns: Columns,
    product: Product,
    minutes: i64,
    interner: Interner,
    // Every row of an interval repeats the same timestamp text: parse it once.
    last_end_text: Vec<u8>,
    last_interval: Option<(Timestamp, Timestamp)>,
}

impl Rows<'_> {
    fn interval(&mut self, text: &[u8]) -> Result<(Timestamp, Timestamp), String> {
        if let Some(interval) = self.last_interval
            && self.last_end_text == text
        {
            return Ok(interval);
        }
        let end = us_datetime(text).and_then(utc).ok_or_else(|| {
            format!(
                "`GMTIntervalEnd` `{}` is not a time written MM/DD/YYYY HH:MM:SS",
                String::from_utf8_lossy(text)
            )
        })?;
        let start = add_minutes(end, -self.minutes).ok_or("interval start out of range")?;
        self.last_end_text.clear();
        self.last_end_text.extend_from_slice(text);
        self.last_interval = Some((start, end));
        Ok((start, end))
    }

    fn row(&mut self, record: &ByteRecord, line: u64) -> Result<Observation, String> {
        let columns = &self.columns;
        if record.len() != columns.width {
            return Err(format!(
                "expected {} fields, found {} (truncated or malformed row)",
                columns.width,
                record.len()
            ));
        }
        let (mlc, mcc, mec) = (columns.mlc, columns.mcc, columns.mec);
        let price = price_field(record.get(columns.lmp), "LMP")?;
        let components = Components {
            greenhouse_gas: None,
            energy: optional_price(record.get(mec), "MEC")?,
            congestion: optional_price(record.get(mcc), "MCC")?,
            loss: optional_price(record.get(mlc), "MLC")?,
        };
        let location_field = record.get(columns.location).unwrap_or_default();
        let location = self
            .interner
            .get(location_field)
            .ok_or("`Settlement Location` is not UTF-8 text")?;
        if location.is_empty() {
            return Err("empty `Settlement Location`".into());
        }
        let (start, end) = self.interval(record.get(self.columns.end).unwrap_or_default())?;
        let location_type = if location.contains("HUB") {
            LocationType::Hub
        } else {
            LocationType::Node
        };
        Ok(Observation::Price(PublishedPrice {
            market: Market::Spp,
            product: self.product,
            location,
            location_type,
            interval: NativeInterval::Utc { start, end },
            price,
            currency: Currency::USD,
            unit: Unit::MegawattHour,
            components,
            published_at: None,
            revision: None,
            origin: self.context.origin(line),
        }))
    }
}

impl Format for SppLmp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn parse(
        &self,
        bytes: &[u8],
        file: &Arc<str>,
        source: &Arc<str>,
        out: &mut SourceOutput,
    ) -> Result<(), FileError> {
        let context = Context::new(NAME, file, source);
        let (mut reader, mut record) = context.open_csv(bytes)?;
        let (product, minutes) = self.product_for(&context)?;
        let [end, location, lmp, mlc, mcc, mec] = require_columns(
            &context,
            &record,
            HEADER,
            [
                &["GMTIntervalEnd"],
                &["Settlement Location"],
                &["LMP"],
                &["MLC"],
                &["MCC"],
                &["MEC"],
            ],
        )?;
        let mut rows = Rows {
            context: &context,
            columns: Columns {
                width: record.len(),
                end,
                location,
                lmp,
                mlc,
                mcc,
                mec,
            },
            product,
            minutes: i64::from(minutes),
            interner: Interner,
            last_end_text: Vec::new(),
            last_interval: None,
        };
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            match rows.row(&record, line) {
                Ok(observation) => out.observations.push(observation),
                Err(reason) => {
                    let raw = raw_text(bytes, start, stop);
                    out.rejects.push(context.reject(line, &raw, reason));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
