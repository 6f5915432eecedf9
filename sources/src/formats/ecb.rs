//! ECB euro foreign exchange reference rates, CSV and XML.
//!
//! One format reads every file the ECB publishes at `ecb.europa.eu/stats/eurofxref/`; a file
//! whose first character (after a byte-order mark and blanks) is `<` is read as XML (module
//! `ecb/xml.rs`): `eurofxref-daily.xml`, `eurofxref-hist-90d.xml`, `eurofxref-hist.xml`.
//! Two CSV layouts, told apart by nothing but their style, are read by the same code:
//! - the history file `eurofxref-hist.csv`: `Date,USD,JPY,...,` with ISO dates, every line
//!   ending in a comma (an empty last column), and `N/A` where a currency has no rate;
//! - the daily file `eurofxref.csv`: fields separated by `, `, the date written
//!   `30 October 2026`, a trailing `, ` on both lines.
//!
//! Values are units of the currency per one euro. `N/A` and empty cells mean "no rate that
//! day" (legacy currencies, BGN since 2026) and are skipped silently, not rejected.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Currency, FxRate, Observation, Price, Product};
use jiff::civil::Date;

use super::common::{Context, header_text, iso_date, next_record, raw_text};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "ecb_fx"`.
pub const NAME: &str = "ecb_fx";

/// The shape of the header both layouts share.
pub const HEADER: &str = "Date,USD,JPY,...";

/// Parser for ECB reference-rate CSV files.
#[derive(Clone, Debug, Default)]
pub struct EcbFx;

impl EcbFx {
    /// The parser; rates have no product, so a `product` setting is refused.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "ECB files hold FX reference rates, not prices; remove `product`".into(),
            }),
            None => Ok(EcbFx),
        }
    }
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `30 October 2026` (also `30 Oct 2026`).
fn long_date(text: &[u8]) -> Option<Date> {
    let text = std::str::from_utf8(text).ok()?;
    let mut parts = text.split_whitespace();
    let day: i8 = parts.next()?.parse().ok()?;
    let month_name = parts.next()?.to_ascii_lowercase();
    let year: i16 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || month_name.len() < 3 {
        return None;
    }
    let month = MONTHS
        .iter()
        .position(|name| name.starts_with(&month_name))?;
    Date::new(year, i8::try_from(month + 1).ok()?, day).ok()
}

fn reference_date(text: &[u8]) -> Option<Date> {
    iso_date(text).or_else(|| long_date(text))
}

impl Format for EcbFx {
    fn name(&self) -> &'static str {
        NAME
    }

    fn reference_data(&self) -> bool {
        true
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
        if bytes.trim_ascii_start().starts_with(b"<") {
            return xml::parse(&context, bytes, out);
        }
        // Fields are trimmed where read: the daily file separates them with `, `.
        let (mut reader, mut record) = context.open_csv(bytes)?;
        let header_error = |missing: &str| {
            context.error(FileErrorKind::Header {
                expected: HEADER.to_string(),
                found: header_text(&record),
                missing: vec![missing.to_string()],
            })
        };
        if !record
            .get(0)
            .is_some_and(|first| first.trim_ascii().eq_ignore_ascii_case(b"Date"))
        {
            return Err(header_error("Date"));
        }
        // Column index and currency, skipping the empty trailing column.
        let mut currencies = Vec::new();
        for (index, field) in record.iter().enumerate().skip(1) {
            let field = field.trim_ascii();
            if field.is_empty() {
                continue;
            }
            let currency = std::str::from_utf8(field)
                .ok()
                .and_then(|text| text.parse::<Currency>().ok())
                .ok_or_else(|| {
                    header_error(&format!(
                        "a currency code instead of `{}`",
                        String::from_utf8_lossy(field)
                    ))
                })?;
            currencies.push((index, currency));
        }
        if currencies.is_empty() {
            return Err(header_error("USD"));
        }
        let width = record.len();
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            let reject = |out: &mut SourceOutput, reason: String| {
                let raw = raw_text(bytes, start, stop);
                out.rejects.push(context.reject(line, &raw, reason));
            };
            if record.len() != width {
                reject(
                    out,
                    format!(
                        "expected {width} fields, found {} (truncated or malformed row)",
                        record.len()
                    ),
                );
                continue;
            }
            let date_field = record.get(0).unwrap_or_default();
            let Some(date) = reference_date(date_field) else {
                reject(
                    out,
                    format!(
                        "`Date` `{}` is not a date written YYYY-MM-DD or `30 October 2026`",
                        String::from_utf8_lossy(date_field)
                    ),
                );
                continue;
            };
            for &(index, currency) in &currencies {
                let cell = record.get(index).unwrap_or_default().trim_ascii();
                if cell.is_empty() || cell.eq_ignore_ascii_case(b"N/A") {
                    continue;
                }
                let parsed = std::str::from_utf8(cell)
                    .map_err(|_| "not UTF-8 text".to_string())
                    .and_then(|text| text.parse::<Price>().map_err(|e| e.to_string()));
                match parsed {
                    Ok(per_euro) if per_euro > Price::ZERO => {
                        out.observations.push(Observation::Rate(FxRate {
                            date,
                            currency,
                            per_euro,
                            origin: context.origin(line),
                        }));
                    }
                    Ok(per_euro) => reject(
                        out,
                        format!("{currency} rate {per_euro} on {date} is not positive"),
                    ),
                    Err(error) => reject(out, format!("{currency} rate on {date}: {error}")),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
mod xml;
