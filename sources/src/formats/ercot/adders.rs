//! NP6-323-CD real-time ORDC and reliability deployment price adders and reserves, one row
//! per SCED run.
//!
//! Of the row's ~30 columns, four are prices in USD/MWh and become one price each, for the
//! whole system ([`LocationType::Region`], location named after the column): `SystemLambda`
//! (the SCED energy price), `RTORPA` (online reserve price adder, the ORDC adder),
//! `RTOFFPA` (offline reserve price adder) and `RTORDPA` (reliability deployment price
//! adder). The rest are reserve quantities in MW and are not read. Time is the SCED run's,
//! as for `ercot_sced_lmp`.

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{LocationType, Observation, Product};
use jiff::tz::TimeZone;

use super::super::common::{Context, price_field, require_columns};
use super::super::{FileError, Format, FormatLookupError};
use super::sced::{FLAG_COLUMN, STAMP_COLUMN, sced_interval};
use super::{Report, Rows, central_time, own_product, read};

/// `format = "ercot_rt_adders"`.
pub const NAME: &str = "ercot_rt_adders";

/// The header ERCOT publishes (as read by gridstatus's `get_real_time_adders_and_reserves`).
pub const HEADER: &str = "SCEDTimestamp,RepeatedHourFlag,BatchID,SystemLambda,PRC,RTORPA,\
RTOFFPA,RTOLCAP,RTOFFCAP,RTOLHSL,RTBP,RTCLRCAP,RTCLRREG,RTCLRBP,RTCLRLSL,RTCLRNS,RTNCLRRRS,\
RTOLNSRS,RTCST30HSL,RTOFFNSHSL,RTRUCCST30HSL,RTORDPA,RTRRUC,RTRRMR,RTDNCLR,RTDERS,\
RTDCTIEIMPORT,RTDCTIEEXPORT,RTBLTIMPORT,RTBLTEXPORT,RTOLLASL,RTOLHASL,RTNCLRNSCAP,RTNCLRECRS";

/// The price columns read, each published as a location of that name.
pub const ADDER_COLUMNS: [&str; 4] = ["SystemLambda", "RTORPA", "RTOFFPA", "RTORDPA"];

/// Parser for NP6-323-CD files (`REAL_TIME_SCED`, system-wide).
#[derive(Clone, Debug)]
pub struct ErcotRtAdders {
    product: Product,
    zone: Option<TimeZone>,
}

impl ErcotRtAdders {
    /// A parser for `REAL_TIME_SCED`, the only product the report publishes.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        Ok(ErcotRtAdders {
            product: own_product(NAME, Product::RealTimeSced, product)?,
            zone: central_time(),
        })
    }
}

pub(super) struct Columns {
    stamp: usize,
    flag: usize,
    prices: [usize; 4],
}

impl Report for ErcotRtAdders {
    const NAME: &'static str = NAME;
    type Columns = Columns;

    fn columns(context: &Context<'_>, header: &ByteRecord) -> Result<Columns, FileError> {
        let [stamp, flag, lambda, online, offline, deployment] = require_columns(
            context,
            header,
            HEADER,
            [
                STAMP_COLUMN,
                FLAG_COLUMN,
                &["SystemLambda", "System Lambda"],
                &["RTORPA"],
                &["RTOFFPA"],
                &["RTORDPA"],
            ],
        )?;
        Ok(Columns {
            stamp,
            flag,
            prices: [lambda, online, offline, deployment],
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
        let interval = sced_interval(rows, field(columns.stamp), field(columns.flag))?;
        let mut prices = [None; 4];
        for (slot, (&index, column)) in prices
            .iter_mut()
            .zip(columns.prices.iter().zip(ADDER_COLUMNS))
        {
            *slot = Some(price_field(record.get(index), column)?);
        }
        for (price, column) in prices.into_iter().zip(ADDER_COLUMNS) {
            let Some(price) = price else { continue };
            let location = rows.location(column.as_bytes(), column, b"")?;
            out.push(rows.price(
                location,
                LocationType::Region,
                interval.clone(),
                price,
                line,
            ));
        }
        Ok(())
    }
}

impl Format for ErcotRtAdders {
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
