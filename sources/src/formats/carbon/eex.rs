//! EEX primary-market auction results for EU emission allowances: the yearly workbook
//! `emission-spot-primary-market-auction-report-<year>-data.xlsx` that EEX publishes at
//! `public.eex-group.com/eex/eua-auction-report/` (linked from the "Emissions Auctions"
//! page). EEX publishes these results as XLSX only; there is no CSV.
//!
//! One sheet, "Primary Market Auction". Above the table are a few lines of banner ("Public",
//! "More information" with a link, "EEX Emissions market / Primary Market Auction", and a
//! band of group titles: References, Prices, Volumes, Participants, Revenue); the header row
//! (row 6 in recent reports) starts at column B: `Date, Time, Auction Name, Contract, Status,
//! Auction Price €/tCO2, Minimum Bid €/tCO2, Maximum Bid €/tCO2, Mean €/tCO2, Median €/tCO2,
//! Auction Volume tCO2, ..., Cover Ratio, Total Number of Bidders, Number of Successful
//! Bidders, Total Revenue €, Zone`, then one revenue column per beneficiary (`Austria\n(AT)`
//! ...). One row per auction follows. `Date` is an Excel date serial (shown `dd.mm.yyyy`),
//! `Time` the serial with the time of day (shown `hh:mm`).
//!
//! The header row is found as the first row whose first cell is `Date`; columns are matched
//! by name, ignoring case and line breaks. Reports before 2017 wrote `EUR/tCO2` for `€/tCO2`
//! and `Country` for `Zone`: both spellings are accepted.
//!
//! Each successful auction is one price, the auction clearing price, on its date (a day in
//! `Europe/Berlin`). Several auctions can clear on one date (the common EU auction, the
//! German and Polish ones, aviation allowances), so the location names the instrument and
//! the zone: `EUA_AUCTION_EU`, `EUA_AUCTION_DE`, `EUA_AUCTION_PL`, `EUAA_AUCTION_EU`. The
//! instrument comes from `Contract`: `T3PA` is the phase 3+ general allowance (EUA), `EAA3`
//! the aviation allowance (EUAA); any other contract code is used as written. A row whose
//! `Status` is given and is not `successful` (a cancelled auction) has no clearing price
//! and is skipped. An origin's `line` is the worksheet row number.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{MarketClock, Price, Product};

use super::xlsx::{self, CellKind, Row, XlsxError};
use super::{CLOCK, carbon_price};
use crate::formats::common::{Context, Interner, daily_product, iso_date};
use crate::formats::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "eex_eua_auction"`.
pub const NAME: &str = "eex_eua_auction";

/// The columns of the report's header this format reads (the header has more).
pub const HEADER: &str = "Date,Time,Auction Name,Contract,Status,Auction Price €/tCO2,...,Zone";

/// Rows searched for the header.
const MOST_BANNER_ROWS: usize = 30;

/// Parser for EEX primary-market auction reports.
#[derive(Clone, Debug, Default)]
pub struct EexEuaAuction;

impl EexEuaAuction {
    /// The parser; the only product is `DAILY`.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        daily_product(NAME, product)?;
        Ok(EexEuaAuction)
    }
}

/// Header text with line breaks and runs of spaces made one space.
fn header_name(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn header_text(row: &Row) -> String {
    row.cells
        .iter()
        .map(|cell| header_name(&cell.text))
        .collect::<Vec<_>>()
        .join(",")
}

fn find(row: &Row, aliases: &[&str]) -> Option<usize> {
    row.cells
        .iter()
        .find(|cell| {
            let name = header_name(&cell.text);
            aliases.iter().any(|alias| name.eq_ignore_ascii_case(alias))
        })
        .map(|cell| cell.column)
}

struct Columns {
    date: usize,
    contract: usize,
    status: Option<usize>,
    price: usize,
    zone: usize,
}

fn columns(context: &Context<'_>, rows: &[Row]) -> Result<(usize, Columns), FileError> {
    let header = rows.iter().take(MOST_BANNER_ROWS).position(|row| {
        row.cells
            .first()
            .is_some_and(|cell| cell.text.trim().eq_ignore_ascii_case("Date"))
    });
    let Some(at) = header else {
        let found = rows
            .iter()
            .take(MOST_BANNER_ROWS)
            .max_by_key(|row| row.cells.len())
            .map(header_text)
            .unwrap_or_default();
        return Err(context.error(FileErrorKind::Header {
            expected: HEADER.to_string(),
            found,
            missing: vec!["Date".to_string()],
        }));
    };
    let row = &rows[at];
    let wanted: [&[&str]; 4] = [
        &["Date"],
        &["Contract"],
        &["Auction Price €/tCO2", "Auction Price EUR/tCO2"],
        &["Zone", "Country"],
    ];
    let mut found = [0usize; 4];
    let mut missing = Vec::new();
    for (slot, aliases) in found.iter_mut().zip(wanted) {
        match find(row, aliases) {
            Some(column) => *slot = column,
            None => missing.push(aliases[0].to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(context.error(FileErrorKind::Header {
            expected: HEADER.to_string(),
            found: header_text(row),
            missing,
        }));
    }
    let [date, contract, price, zone] = found;
    Ok((
        at,
        Columns {
            date,
            contract,
            status: find(row, &["Status"]),
            price,
            zone,
        },
    ))
}

/// `dd.mm.yyyy` (how the report displays dates), for a date cell written as text.
fn dotted_date(text: &str) -> Option<jiff::civil::Date> {
    let mut parts = text.trim().split('.');
    let day: i8 = parts.next()?.parse().ok()?;
    let month: i8 = parts.next()?.parse().ok()?;
    let year_text = parts.next()?;
    if year_text.len() != 4 || parts.next().is_some() {
        return None;
    }
    jiff::civil::Date::new(year_text.parse().ok()?, month, day).ok()
}

/// The instrument a contract code stands for.
fn instrument(contract: &str) -> &str {
    match contract {
        "T3PA" => "EUA",
        "EAA3" => "EUAA",
        other => other,
    }
}

fn file_error(context: &Context<'_>, error: XlsxError) -> FileError {
    context.error(FileErrorKind::Structure(error.to_string()))
}

impl Format for EexEuaAuction {
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
        let rows = xlsx::first_sheet(bytes).map_err(|error| file_error(&context, error))?;
        let (header, columns) = columns(&context, &rows)?;
        let clock = MarketClock::zone(CLOCK);
        let mut interner = Interner;
        for row in rows.iter().skip(header + 1) {
            if row.cells.is_empty() {
                continue;
            }
            let mut observation = || -> Result<Option<_>, String> {
                if let Some(status) = columns.status {
                    let status = row.text(status);
                    if !status.is_empty() && !status.eq_ignore_ascii_case("successful") {
                        return Ok(None);
                    }
                }
                let date_cell = row.get(columns.date);
                let date = match date_cell {
                    Some(cell) if cell.kind == CellKind::Number => xlsx::excel_date(&cell.text),
                    Some(cell) => {
                        dotted_date(&cell.text).or_else(|| iso_date(cell.text.trim().as_bytes()))
                    }
                    None => None,
                }
                .ok_or_else(|| {
                    format!(
                        "`Date` `{}` is not a date (an Excel date, or text dd.mm.yyyy)",
                        row.text(columns.date)
                    )
                })?;
                let price_text = row.text(columns.price);
                if price_text.is_empty() {
                    return Err("no `Auction Price €/tCO2` for a successful auction".into());
                }
                let price = price_text
                    .parse::<Price>()
                    .map_err(|error| format!("`Auction Price €/tCO2`: {error}"))?;
                let contract = row.text(columns.contract);
                if contract.is_empty() {
                    return Err("empty `Contract`".into());
                }
                let zone = row.text(columns.zone);
                if zone.is_empty() {
                    return Err("empty `Zone`".into());
                }
                let location = format!(
                    "{}_AUCTION_{}",
                    instrument(contract),
                    zone.to_ascii_uppercase()
                );
                let location = interner
                    .get(location.as_bytes())
                    .ok_or("the location is not UTF-8 text")?;
                Ok(Some(carbon_price(
                    location,
                    date,
                    &clock,
                    price,
                    context.origin(row.number),
                )))
            };
            match observation() {
                Ok(Some(observation)) => out.observations.push(observation),
                Ok(None) => {}
                Err(reason) => {
                    out.rejects
                        .push(context.reject(row.number, &row.raw(), reason));
                }
            }
        }
        Ok(())
    }
}
