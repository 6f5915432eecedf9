//! NP6-905-CD real-time settlement point prices: one price per settlement point and
//! 15-minute settlement interval, adders included.

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Anchor, NativeInterval, Observation, Product};
use jiff::tz::TimeZone;

use super::super::common::{Context, price_field, require_columns};
use super::super::{FileError, Format, FormatLookupError};
use super::{
    Report, Rows, central_time, location_type, own_product, read, settlement_point_type,
    small_number,
};

/// `format = "ercot_rt_spp"`.
pub const NAME: &str = "ercot_rt_spp";

/// The header ERCOT publishes.
pub const HEADER: &str = "DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,\
SettlementPointType,SettlementPointPrice,DSTFlag";

/// Parser for NP6-905-CD files (`REAL_TIME_15_MIN`).
#[derive(Clone, Debug)]
pub struct ErcotRtSpp {
    product: Product,
    zone: Option<TimeZone>,
}

impl ErcotRtSpp {
    /// A parser for `REAL_TIME_15_MIN`, the only product the report publishes.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        Ok(ErcotRtSpp {
            product: own_product(NAME, Product::RealTime15Min, product)?,
            zone: central_time(),
        })
    }
}

pub(super) struct Columns {
    date: usize,
    hour: usize,
    interval: usize,
    point: usize,
    point_type: usize,
    price: usize,
    flag: usize,
}

impl Report for ErcotRtSpp {
    const NAME: &'static str = NAME;
    type Columns = Columns;

    fn columns(context: &Context<'_>, header: &ByteRecord) -> Result<Columns, FileError> {
        let [date, hour, interval, point, point_type, price, flag] = require_columns(
            context,
            header,
            HEADER,
            [
                &["DeliveryDate", "Delivery Date"],
                &["DeliveryHour", "Delivery Hour"],
                &["DeliveryInterval", "Delivery Interval"],
                &["SettlementPointName", "Settlement Point Name"],
                &["SettlementPointType", "Settlement Point Type"],
                &["SettlementPointPrice", "Settlement Point Price"],
                &["DSTFlag", "RepeatedHourFlag", "Repeated Hour Flag"],
            ],
        )?;
        Ok(Columns {
            date,
            hour,
            interval,
            point,
            point_type,
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
        let hour = small_number(field(columns.hour))
            .filter(|hour| (1..=24).contains(hour))
            .ok_or_else(|| {
                format!(
                    "`DeliveryHour` `{}` is not an hour ending 1..24",
                    String::from_utf8_lossy(field(columns.hour))
                )
            })?;
        let quarter = small_number(field(columns.interval))
            .filter(|quarter| (1..=4).contains(quarter))
            .ok_or_else(|| {
                format!(
                    "`DeliveryInterval` `{}` is not a quarter-hour 1..4",
                    String::from_utf8_lossy(field(columns.interval))
                )
            })?;
        let start = date.at(
            i8::try_from(hour - 1).unwrap_or_default(),
            i8::try_from((quarter - 1) * 15).unwrap_or_default(),
            0,
            0,
        );
        let occurrence = rows.occurrence(field(columns.flag), "DSTFlag", start)?;
        let type_text = String::from_utf8_lossy(field(columns.point_type));
        let stated = settlement_point_type(&type_text);
        let energy_weighted = stated.is_some_and(|(_, weighted)| weighted);
        let suffix: &[u8] = if energy_weighted { b"_EW" } else { b"" };
        let location = rows.location(field(columns.point), "SettlementPointName", suffix)?;
        let location_type = stated.map_or_else(|| location_type(&location), |(kind, _)| kind);
        let interval = NativeInterval::Local {
            time: start,
            anchor: Anchor::Start,
            minutes: 15,
            clock: rows.clock.clone(),
            occurrence,
        };
        out.push(rows.price(location, location_type, interval, price, line));
        Ok(())
    }
}

impl Format for ErcotRtSpp {
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
