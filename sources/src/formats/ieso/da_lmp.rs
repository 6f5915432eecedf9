//! `ieso_da_lmp`: IESO day-ahead energy LMP by pricing location, the CSV report
//! `DAHourlyEnergyLMP` of the renewed market (since 2025-05-01). One file per delivery day,
//! `PUB_DAHourlyEnergyLMP_YYYYMMDD.csv` (YYYYMMDD = the delivery date; published around
//! 12:30 EST the day before; the archive also keeps versions `..._vN.csv`, and
//! `PUB_DAHourlyEnergyLMP.csv` is the latest day).
//!
//! ```text
//! CREATED AT 2025/11/01 12:33:41 FOR 2025/11/02
//! Delivery Hour,Pricing Location,LMP,Energy Loss Price,Energy Congestion Price
//! 1,ABITIBISF-LT.AG_T1,25.45,1.27,0.00
//! ```
//!
//! The layout of [`super::lmp`] (`ieso_rt_lmp`) without `Interval`, read by the same code:
//! the preamble gives the creation time (the publication time) and the delivery date (for
//! a file without it, the `YYYYMMDD` of its name); `Delivery Hour` n (1-24) is the hour
//! ending n:00 on that date, Eastern Standard Time all year
//! ([`NativeInterval::HourEnding`](gridflow_engine::record::NativeInterval::HourEnding) on
//! [`super::clock`]), so every delivery day has 24 hours. `LMP` is the price,
//! `Energy Loss Price` the loss and `Energy Congestion Price` the congestion part; energy
//! is derived. Location names and types, `:LMP` suffixes and the ordering of versions by creation time are handled
//! as in [`super::lmp`]. A header with an `Interval` column is refused: it is a
//! five-minute report.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::Product;

use super::super::common::product_minutes;
use super::super::{FileError, Format, FormatLookupError};
use super::lmp::{Layout, Report, parse_report};

/// `format = "ieso_da_lmp"`.
pub const NAME: &str = "ieso_da_lmp";

/// The header IESO publishes (after the preamble line).
pub const HEADER: &str =
    "Delivery Hour,Pricing Location,LMP,Energy Loss Price,Energy Congestion Price";

/// Parser for IESO `DAHourlyEnergyLMP` CSV files.
#[derive(Clone, Debug)]
pub struct IesoDaLmp {
    product: Product,
}

impl IesoDaLmp {
    /// A parser for `DAY_AHEAD_HOURLY` prices, or `product` (an hourly one) instead.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None => Ok(IesoDaLmp {
                product: Product::DayAheadHourly,
            }),
            Some(product) if product_minutes(product) == Some(60) => Ok(IesoDaLmp { product }),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the report has hourly prices only".into(),
            }),
        }
    }
}

impl Format for IesoDaLmp {
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
        let report = Report {
            name: NAME,
            header: HEADER,
            layout: Layout::Hourly,
        };
        parse_report(report, self.product, bytes, file, source, out)
    }
}

#[cfg(test)]
mod tests;
