//! The part of a MISO report before its rows: the preamble, the market date it states, the
//! header's columns, and line numbering.

use csv::ByteRecord;
use jiff::civil::Date;

use super::super::common::{
    Context, CsvRows, file_name, find_column, header_text, next_record, require_columns,
};
use super::super::{FileError, FileErrorKind};
use super::{HEADER, HOURS};

/// Records a preamble may hold before the header; more means this is not a MISO report.
const MOST_PREAMBLE_RECORDS: usize = 8;

/// `MM/DD/YYYY`, one-digit month or day tolerated.
fn us_date(text: &[u8]) -> Option<Date> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let mut parts = text.split('/');
    let month: i8 = parts.next()?.parse().ok()?;
    let day: i8 = parts.next()?.parse().ok()?;
    let year_text = parts.next()?;
    if parts.next().is_some() || year_text.len() != 4 {
        return None;
    }
    Date::new(year_text.parse().ok()?, month, day).ok()
}

/// The `YYYYMMDD` a MISO file name starts with, if it does.
fn file_name_date(path: &str) -> Option<Date> {
    let name = file_name(path);
    let digits = name.get(..8)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::new(
        digits.get(..4)?.parse().ok()?,
        digits.get(4..6)?.parse().ok()?,
        digits.get(6..8)?.parse().ok()?,
    )
    .ok()
}

/// Column indices in the file's header.
pub(super) struct Columns {
    pub(super) width: usize,
    pub(super) node: usize,
    pub(super) kind: usize,
    pub(super) value: usize,
    pub(super) hours: [usize; 24],
}

/// Finds the header after the preamble: the first record with at least four non-empty
/// fields (title, date, blank and note lines have at most one). Returns the market date the
/// preamble states, if any, and the header's column indices.
pub(super) fn read_header(
    context: &Context<'_>,
    reader: &mut CsvRows<'_>,
    record: &mut ByteRecord,
) -> Result<(Option<Date>, Columns), FileError> {
    let mut stated_date = None;
    let mut seen = 0;
    loop {
        let filled = record
            .iter()
            .filter(|field| !field.trim_ascii().is_empty())
            .count();
        if filled >= 4 {
            break;
        }
        if stated_date.is_none() {
            stated_date = record.iter().find_map(us_date);
        }
        seen += 1;
        let last = header_text(record);
        if seen >= MOST_PREAMBLE_RECORDS || next_record(reader, record).is_none() {
            return Err(context.error(FileErrorKind::Header {
                expected: HEADER.to_string(),
                found: last,
                missing: ["Node", "Type", "Value"].map(String::from).to_vec(),
            }));
        }
    }
    let [node, kind, value] =
        require_columns(context, record, HEADER, [&["Node"], &["Type"], &["Value"]])?;
    let mut hours = [0usize; 24];
    let mut missing = Vec::new();
    for (slot, name) in hours.iter_mut().zip(HOURS) {
        let compact = name.replace(' ', "");
        match find_column(record, &[name, &compact]) {
            Some(index) => *slot = index,
            None => missing.push(name.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(context.error(FileErrorKind::Header {
            expected: HEADER.to_string(),
            found: header_text(record),
            missing,
        }));
    }
    Ok((
        stated_date,
        Columns {
            width: record.len(),
            node,
            kind,
            value,
            hours,
        },
    ))
}

/// The market date: the preamble's, checked against a `YYYYMMDD` file-name prefix.
pub(super) fn market_date(context: &Context<'_>, stated: Option<Date>) -> Result<Date, FileError> {
    let named = file_name_date(context.file);
    match (stated, named) {
        (Some(stated), Some(named)) if stated != named => {
            Err(context.error(FileErrorKind::Structure(format!(
                "the preamble states market date {stated} but the file name says {named}; \
                 which day do these hours belong to?"
            ))))
        }
        (Some(date), _) | (None, Some(date)) => Ok(date),
        (None, None) => Err(context.error(FileErrorKind::Structure(
            "no market date: the preamble has no MM/DD/YYYY line and the file name does not \
             start with YYYYMMDD"
                .to_string(),
        ))),
    }
}
