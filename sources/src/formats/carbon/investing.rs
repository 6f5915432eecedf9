//! Investing.com daily history CSV of "Carbon Emissions Futures", the ICE EUA futures
//! continuation (the front December contract, rolled by Investing.com).
//!
//! UTF-8 with a byte-order mark, every field double-quoted, newest first:
//! `"Date","Price","Open","High","Low","Vol.","Change %"`, then rows such as
//! `"02/27/2025","70.33","69.77","70.33","69.66","0.05K","1.11%"`. `Date` is MM/DD/YYYY;
//! `Price` is the day's close (the settlement), the record's price; `Open`, `High`, `Low`,
//! the abbreviated volume (`15.68K`, sometimes empty) and the change are not read.
//! Investing.com writes thousands separators in prices of 1,000 and more (`1,234.50`);
//! they are dropped. The location is [`LOCATION`]: the file names neither exchange nor
//! contract, and a continuation is not one contract.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{MarketClock, Product};

use super::{CLOCK, carbon_price};
use crate::formats::common::{
    Context, daily_product, next_record, price_field, raw_text, require_columns, us_date,
};
use crate::formats::{FileError, Format, FormatLookupError};

/// `format = "investing_eua_csv"`.
pub const NAME: &str = "investing_eua_csv";

/// The header Investing.com writes (without the quotes).
pub const HEADER: &str = "Date,Price,Open,High,Low,Vol.,Change %";

/// The location of every price: the EUA futures continuation.
pub const LOCATION: &str = "EUA_FUTURES_CONTINUOUS";

/// Parser for Investing.com EUA futures history CSV.
#[derive(Clone, Debug, Default)]
pub struct InvestingEuaCsv;

impl InvestingEuaCsv {
    /// The parser; the only product is `DAILY`.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        daily_product(NAME, product)?;
        Ok(InvestingEuaCsv)
    }
}

impl Format for InvestingEuaCsv {
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
        let bytes = context.content(bytes)?;
        let (mut reader, mut record) = context.open_csv(bytes)?;
        let [date_column, price_column] =
            require_columns(&context, &record, HEADER, [&["Date"], &["Price"]])?;
        let width = record.len();
        let location: Arc<str> = Arc::from(LOCATION);
        let clock = MarketClock::zone(CLOCK);
        let mut digits = Vec::new();
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            let mut row = || {
                if record.len() != width {
                    return Err(format!(
                        "expected {width} fields, found {} (truncated or malformed row)",
                        record.len()
                    ));
                }
                let date_field = record.get(date_column).unwrap_or_default();
                let date = us_date(date_field).ok_or_else(|| {
                    format!(
                        "`Date` `{}` is not a date written MM/DD/YYYY",
                        String::from_utf8_lossy(date_field)
                    )
                })?;
                digits.clear();
                digits.extend(
                    record
                        .get(price_column)
                        .unwrap_or_default()
                        .iter()
                        .filter(|&&byte| byte != b','),
                );
                let price = price_field(Some(&digits), "Price")?;
                Ok(carbon_price(
                    location.clone(),
                    date,
                    &clock,
                    price,
                    context.origin(line),
                ))
            };
            match row() {
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
