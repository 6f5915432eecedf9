//! EIA daily spot price CSV, as downloaded from a series page such as
//! `https://www.eia.gov/dnav/ng/hist/rngwhhdD.htm` (Henry Hub, series RNGWHHD).
//!
//! The file opens with a preamble of one-field lines (series title, source URL, download
//! time, `Data Source: Thomson Reuters`), then the header `Day,<Hub> Natural Gas Spot Price
//! Dollars per Million Btu`, then one `M/D/YYYY,value` row per trade date, newest first. The
//! month is zero-padded and the day is not (`12/9/2022`, `01/9/1997`); lines end in CRLF and
//! the last has no newline. A day with no price has an empty value and is skipped.
//!
//! The header is the first line with two fields. Its second field names the hub and the
//! unit: the location is taken from the name (`Henry Hub` → `HENRY_HUB`, see
//! [`hub_location`]), so another EIA hub's daily spot CSV reads the same way; a unit other
//! than dollars per million Btu (an EIA petroleum series in dollars per barrel) is refused.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Components, MarketClock, Product};

use super::{CLOCK, gas_price, hub_location};
use crate::formats::common::{
    Context, csv_reader, daily_product, header_text, next_record, price_field, raw_text, us_date,
};
use crate::formats::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "eia_spot_csv"`.
pub const NAME: &str = "eia_spot_csv";

/// The header of the Henry Hub file.
pub const HEADER: &str = "Day,Henry Hub Natural Gas Spot Price Dollars per Million Btu";

/// The unit every series this format reads is stated in, at the end of the header.
const UNIT: &str = "Dollars per Million Btu";

/// Preamble lines tolerated before the header.
const MOST_PREAMBLE_LINES: usize = 20;

/// Parser for EIA daily spot price CSV downloads.
#[derive(Clone, Debug, Default)]
pub struct EiaSpotCsv;

impl EiaSpotCsv {
    /// The parser; the only product is `DAILY`.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        daily_product(NAME, product)?;
        Ok(EiaSpotCsv)
    }
}

impl Format for EiaSpotCsv {
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
        let mut reader = csv_reader(bytes, false);
        let mut record = csv::ByteRecord::new();
        let mut first_line = None;
        let mut preamble = 0;
        // The header is the first record with two fields; the preamble has one per line.
        loop {
            let Some(_) = next_record(&mut reader, &mut record) else {
                return Err(context.error(FileErrorKind::Header {
                    expected: HEADER.to_string(),
                    found: first_line.unwrap_or_default(),
                    missing: vec!["Day".to_string()],
                }));
            };
            if first_line.is_none() {
                first_line = Some(header_text(&record));
            }
            if record.len() >= 2 {
                break;
            }
            preamble += 1;
            if preamble > MOST_PREAMBLE_LINES {
                return Err(context.error(FileErrorKind::Header {
                    expected: HEADER.to_string(),
                    found: first_line.unwrap_or_default(),
                    missing: vec!["Day".to_string()],
                }));
            }
        }
        let location = header_location(&context, &record)?;
        let location: Arc<str> = Arc::from(location);
        let clock = MarketClock::zone(CLOCK);
        let width = record.len();
        let column = String::from_utf8_lossy(record.get(1).unwrap_or_default())
            .trim()
            .to_string();
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            let row = || -> Result<Option<_>, String> {
                if record.len() != width {
                    return Err(format!(
                        "expected {width} fields, found {} (truncated or malformed row)",
                        record.len()
                    ));
                }
                let day = record.get(0).unwrap_or_default();
                let date = us_date(day).ok_or_else(|| {
                    format!(
                        "`Day` `{}` is not a date written MM/DD/YYYY",
                        String::from_utf8_lossy(day)
                    )
                })?;
                let value = record.get(1).unwrap_or_default();
                if value.trim_ascii().is_empty() {
                    // No price published that day.
                    return Ok(None);
                }
                let price = price_field(Some(value), &column)?;
                Ok(Some(gas_price(
                    location.clone(),
                    date,
                    &clock,
                    price,
                    Components::default(),
                    context.origin(line),
                )))
            };
            match row() {
                Ok(Some(observation)) => out.observations.push(observation),
                Ok(None) => {}
                Err(reason) => {
                    let raw = raw_text(bytes, start, stop);
                    out.rejects.push(context.reject(line, &raw, reason));
                }
            }
        }
        Ok(())
    }
}

/// Checks the header `Day,<Hub> Natural Gas Spot Price Dollars per Million Btu` and returns
/// the hub's location code.
fn header_location(context: &Context<'_>, header: &csv::ByteRecord) -> Result<String, FileError> {
    let error = |missing: &str| {
        context.error(FileErrorKind::Header {
            expected: HEADER.to_string(),
            found: header_text(header),
            missing: vec![missing.to_string()],
        })
    };
    let first = header.get(0).unwrap_or_default().trim_ascii();
    if !first.eq_ignore_ascii_case(b"Day") {
        return Err(error("Day"));
    }
    let series = std::str::from_utf8(header.get(1).unwrap_or_default())
        .unwrap_or_default()
        .trim();
    let lower = series.to_ascii_lowercase();
    let unit = UNIT.to_ascii_lowercase();
    if !lower.ends_with(&unit) || !lower.contains("spot price") {
        return Err(error(&format!("<Hub> Natural Gas Spot Price {UNIT}")));
    }
    hub_location(series.get(..series.len() - UNIT.len()).unwrap_or_default())
        .ok_or_else(|| error(&format!("a hub name before `Spot Price {UNIT}`")))
}
