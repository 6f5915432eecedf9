//! NP6-788-CD LMPs by resource node, load zone and trading hub, one file per SCED run.
//!
//! `SCEDTimestamp` is when the run executed (`MM/DD/YYYY HH:MM:SS`, Central prevailing
//! time), not a settlement interval boundary: runs come about every five minutes, at
//! irregular seconds, and extra runs happen. gridflow keeps the stamp exactly as the start
//! of a 5-minute interval, so two runs never share a key; gridstatus instead floors the
//! stamp to the 5-minute boundary for `Interval Start` and keeps the exact time as
//! `SCED Timestamp`.

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Anchor, NativeInterval, Observation, Product};
use jiff::tz::TimeZone;

use super::super::common::{Context, price_field, require_columns, us_datetime};
use super::super::{FileError, Format, FormatLookupError};
use super::{Report, Rows, central_time, location_type, own_product, read};

/// `format = "ercot_sced_lmp"`.
pub const NAME: &str = "ercot_sced_lmp";

/// The header ERCOT publishes.
pub const HEADER: &str = "SCEDTimestamp,RepeatedHourFlag,SettlementPoint,LMP";

/// The interval a SCED run's price is taken to cover.
pub const SCED_MINUTES: u32 = 5;

/// Parser for NP6-788-CD files (`REAL_TIME_SCED`).
#[derive(Clone, Debug)]
pub struct ErcotScedLmp {
    product: Product,
    zone: Option<TimeZone>,
}

impl ErcotScedLmp {
    /// A parser for `REAL_TIME_SCED`, the only product the report publishes.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        Ok(ErcotScedLmp {
            product: own_product(NAME, Product::RealTimeSced, product)?,
            zone: central_time(),
        })
    }
}

pub(super) struct Columns {
    stamp: usize,
    flag: usize,
    point: usize,
    lmp: usize,
}

/// `SCEDTimestamp` and its `RepeatedHourFlag` as a 5-minute interval starting at the run.
pub(super) fn sced_interval(
    rows: &Rows<'_>,
    stamp: &[u8],
    flag: &[u8],
) -> Result<NativeInterval, String> {
    let time = us_datetime(stamp).ok_or_else(|| {
        format!(
            "`SCEDTimestamp` `{}` is not a time written MM/DD/YYYY HH:MM:SS",
            String::from_utf8_lossy(stamp)
        )
    })?;
    let occurrence = rows.occurrence(flag, "RepeatedHourFlag", time)?;
    Ok(NativeInterval::Local {
        time,
        anchor: Anchor::Start,
        minutes: SCED_MINUTES,
        clock: rows.clock.clone(),
        occurrence,
    })
}

/// The spellings ERCOT uses for the run time and its flag across SCED reports.
pub(super) const STAMP_COLUMN: &[&str] = &["SCEDTimestamp", "SCED Timestamp", "SCED Time Stamp"];
pub(super) const FLAG_COLUMN: &[&str] = &[
    "RepeatedHourFlag",
    "RepeatHourFlag",
    "Repeated Hour Flag",
    "DSTFlag",
];

impl Report for ErcotScedLmp {
    const NAME: &'static str = NAME;
    type Columns = Columns;

    fn columns(context: &Context<'_>, header: &ByteRecord) -> Result<Columns, FileError> {
        let [stamp, flag, point, lmp] = require_columns(
            context,
            header,
            HEADER,
            [
                STAMP_COLUMN,
                FLAG_COLUMN,
                &["SettlementPoint", "Settlement Point", "SettlementPointName"],
                &["LMP"],
            ],
        )?;
        Ok(Columns {
            stamp,
            flag,
            point,
            lmp,
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
        let price = price_field(record.get(columns.lmp), "LMP")?;
        let interval = sced_interval(rows, field(columns.stamp), field(columns.flag))?;
        let location = rows.location(field(columns.point), "SettlementPoint", b"")?;
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

impl Format for ErcotScedLmp {
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
