//! NP4-190-CD DAM settlement point prices: one hourly price per settlement point.

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{NativeInterval, Observation, Product};
use jiff::tz::TimeZone;

use super::super::common::{Context, price_field, require_columns};
use super::super::{FileError, Format, FormatLookupError};
use super::{Report, Rows, central_time, location_type, own_product, read};

/// `format = "ercot_dam_spp"`.
pub const NAME: &str = "ercot_dam_spp";

/// The header ERCOT publishes.
pub const HEADER: &str = "DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag";

/// Parser for NP4-190-CD files (`DAY_AHEAD_HOURLY`).
#[derive(Clone, Debug)]
pub struct ErcotDamSpp {
    product: Product,
    zone: Option<TimeZone>,
}

impl ErcotDamSpp {
    /// A parser for `DAY_AHEAD_HOURLY`, the only product the report publishes.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        Ok(ErcotDamSpp {
            product: own_product(NAME, Product::DayAheadHourly, product)?,
            zone: central_time(),
        })
    }
}

pub(super) struct Columns {
    date: usize,
    hour: usize,
    point: usize,
    price: usize,
    flag: usize,
}

/// `HH:00`, 1..=24.
fn hour_ending(field: &[u8]) -> Option<u8> {
    let field = field.trim_ascii();
    let (hour, minutes) = field.split_at_checked(field.iter().position(|&b| b == b':')?)?;
    if minutes != b":00" || hour.is_empty() || hour.len() > 2 {
        return None;
    }
    let hour = super::small_number(hour)?;
    (1..=24).contains(&hour).then_some(hour)
}

impl Report for ErcotDamSpp {
    const NAME: &'static str = NAME;
    type Columns = Columns;

    fn columns(context: &Context<'_>, header: &ByteRecord) -> Result<Columns, FileError> {
        let [date, hour, point, price, flag] = require_columns(
            context,
            header,
            HEADER,
            [
                &["DeliveryDate", "Delivery Date"],
                &["HourEnding", "Hour Ending"],
                &["SettlementPoint", "Settlement Point"],
                &["SettlementPointPrice", "Settlement Point Price"],
                &["DSTFlag", "RepeatedHourFlag", "Repeated Hour Flag"],
            ],
        )?;
        Ok(Columns {
            date,
            hour,
            point,
            price,
            flag,
        })
    }

    fn row(
        rows: &mut Rows<'_>,
        columns: &Columns,
        record: &ByteRecord,
        line: u64,
        out: &mut Vec<Observation>,
    ) -> Result<(), String> {
        rows.check_width(record)?;
        let field = |index: usize| record.get(index).unwrap_or_default();
        let price = price_field(record.get(columns.price), "SettlementPointPrice")?;
        let date = rows.date(field(columns.date), "DeliveryDate")?;
        let hour = hour_ending(field(columns.hour)).ok_or_else(|| {
            format!(
                "`HourEnding` `{}` is not an hour ending 01:00..24:00 (ERCOT marks the repeated \
                 fall-back hour with DSTFlag=Y, not with hour 25)",
                String::from_utf8_lossy(field(columns.hour))
            )
        })?;
        let start = date.at(i8::try_from(hour - 1).unwrap_or_default(), 0, 0, 0);
        let occurrence = rows.occurrence(field(columns.flag), "DSTFlag", start)?;
        let location = rows.location(field(columns.point), "SettlementPoint", b"")?;
        let interval = NativeInterval::HourEnding {
            date,
            hour_ending: hour,
            clock: rows.clock.clone(),
            occurrence,
        };
        out.push(rows.price(
            location.clone(),
            location_type(&location),
            interval,
            price,
            line,
        ));
        Ok(())
    }
}

impl Format for ErcotDamSpp {
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
        read::<Self>(self.product, self.zone.as_ref(), bytes, file, source, out)
    }
}
