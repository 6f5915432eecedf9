//! A minimal XLSX (Office Open XML spreadsheet) reader: the cells of a workbook's first
//! worksheet, as text, with their row numbers.
//!
//! An XLSX file is a zip archive. `xl/workbook.xml` lists the sheets, each with a
//! relationship id that `xl/_rels/workbook.xml.rels` maps to its part (usually
//! `xl/worksheets/sheet1.xml`); without those two parts the reader falls back to that usual
//! path. Text cells (`t="s"`) index `xl/sharedStrings.xml`; inline strings (`t="inlineStr"`)
//! carry their text; numbers (no `t`, or `t="n"`) are kept as the decimal text Excel wrote,
//! which for a date is the serial day count (see [`excel_date`]). Formulas are ignored and
//! their cached value, if any, is read. Styles (and so display formats) are not read.
//!
//! Every part is read at most [`MOST_PART_BYTES`] uncompressed, whatever the archive claims,
//! and rows are kept sparse, so a hostile file cannot exhaust memory.

use jiff::ToSpan;
use jiff::civil::Date;
use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use std::io::Read;

/// The most bytes any part of a workbook is read uncompressed.
pub const MOST_PART_BYTES: u64 = 64 << 20;

/// What a cell holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// A number (dates and times are numbers).
    Number,
    /// Text, shared or inline.
    Text,
    /// Anything else: a boolean, an error (`#N/A`), a formula's string result.
    Other,
}

/// One non-empty cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// 0-based column (A is 0).
    pub column: usize,
    /// The cell's kind.
    pub kind: CellKind,
    /// The value as written: the text, or a number's decimal text.
    pub text: String,
}

/// One row of a worksheet.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// The 1-based row number, as the spreadsheet shows it.
    pub number: u64,
    /// The non-empty cells, in column order.
    pub cells: Vec<Cell>,
}

impl Row {
    /// The cell in `column`, if it holds anything.
    pub fn get(&self, column: usize) -> Option<&Cell> {
        self.cells.iter().find(|cell| cell.column == column)
    }

    /// The text in `column`, trimmed; empty when the cell is empty.
    pub fn text(&self, column: usize) -> &str {
        self.get(column).map_or("", |cell| cell.text.trim())
    }

    /// The row as comma-separated cell text, for rejects.
    pub fn raw(&self) -> String {
        self.cells
            .iter()
            .map(|cell| cell.text.trim())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Why a workbook cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum XlsxError {
    /// Not a zip archive.
    #[error("not an XLSX workbook (a zip archive): {0}")]
    NotZip(String),
    /// A required part is absent.
    #[error("the workbook has no `{0}` part")]
    Missing(String),
    /// A part is larger than [`MOST_PART_BYTES`].
    #[error("the workbook part `{0}` is larger than {MOST_PART_BYTES} bytes")]
    TooLarge(String),
    /// A part cannot be read or is not well-formed XML.
    #[error("the workbook part `{part}` is malformed: {message}")]
    Malformed {
        /// The part.
        part: String,
        /// What is wrong.
        message: String,
    },
}

type Archive<'a> = zip::ZipArchive<std::io::Cursor<&'a [u8]>>;

fn read_part(archive: &mut Archive<'_>, name: &str) -> Result<Option<String>, XlsxError> {
    let file = match archive.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(error) => {
            return Err(XlsxError::Malformed {
                part: name.to_string(),
                message: error.to_string(),
            });
        }
    };
    let mut bytes = Vec::new();
    file.take(MOST_PART_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| XlsxError::Malformed {
            part: name.to_string(),
            message: error.to_string(),
        })?;
    if bytes.len() as u64 > MOST_PART_BYTES {
        return Err(XlsxError::TooLarge(name.to_string()));
    }
    let bytes = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .map(<[u8]>::to_vec)
        .unwrap_or(bytes);
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|error| XlsxError::Malformed {
            part: name.to_string(),
            message: format!("not UTF-8 text: {error}"),
        })
}

fn malformed(part: &str, error: impl std::fmt::Display) -> XlsxError {
    XlsxError::Malformed {
        part: part.to_string(),
        message: error.to_string(),
    }
}

fn attribute(element: &BytesStart<'_>, local: &str) -> Option<String> {
    element
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|attribute| attribute.key.local_name().into_inner() == local)
        .and_then(|attribute| {
            attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|value| value.into_owned())
        })
}

fn reference_text(reference: &BytesRef<'_>) -> String {
    if reference.is_char_ref() {
        if let Ok(Some(character)) = reference.resolve_char_ref() {
            return character.to_string();
        }
        return String::new();
    }
    resolve_predefined_entity(reference)
        .unwrap_or_default()
        .to_string()
}

/// The worksheet part of the workbook's first sheet.
fn first_sheet_part(archive: &mut Archive<'_>) -> Result<String, XlsxError> {
    const FALLBACK: &str = "xl/worksheets/sheet1.xml";
    let Some(workbook) = read_part(archive, "xl/workbook.xml")? else {
        return Ok(FALLBACK.to_string());
    };
    let mut reader = Reader::from_str(&workbook);
    let mut id = None;
    loop {
        match reader
            .read_event()
            .map_err(|error| malformed("xl/workbook.xml", error))?
        {
            Event::Start(element) | Event::Empty(element)
                if element.local_name().into_inner() == "sheet" =>
            {
                id = attribute(&element, "id");
                break;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let (Some(id), Some(rels)) = (id, read_part(archive, "xl/_rels/workbook.xml.rels")?) else {
        return Ok(FALLBACK.to_string());
    };
    let mut reader = Reader::from_str(&rels);
    loop {
        match reader
            .read_event()
            .map_err(|error| malformed("xl/_rels/workbook.xml.rels", error))?
        {
            Event::Start(element) | Event::Empty(element)
                if element.local_name().into_inner() == "Relationship"
                    && attribute(&element, "Id").as_deref() == Some(id.as_str()) =>
            {
                let target = attribute(&element, "Target").unwrap_or_default();
                return Ok(match target.strip_prefix('/') {
                    Some(absolute) => absolute.to_string(),
                    None => format!("xl/{target}"),
                });
            }
            Event::Eof => return Ok(FALLBACK.to_string()),
            _ => {}
        }
    }
}

fn shared_strings(archive: &mut Archive<'_>) -> Result<Vec<String>, XlsxError> {
    const PART: &str = "xl/sharedStrings.xml";
    let Some(text) = read_part(archive, PART)? else {
        return Ok(Vec::new());
    };
    let mut reader = Reader::from_str(&text);
    let mut strings = Vec::new();
    let mut current: Option<String> = None;
    // Depth inside a `<t>` of the string (not of a phonetic `<rPh>` run).
    let mut in_text = false;
    let mut in_phonetic = false;
    loop {
        match reader
            .read_event()
            .map_err(|error| malformed(PART, error))?
        {
            Event::Start(element) => match element.local_name().into_inner() {
                "si" => current = Some(String::new()),
                "rPh" => in_phonetic = true,
                "t" => in_text = !in_phonetic,
                _ => {}
            },
            Event::Empty(element) if element.local_name().into_inner() == "si" => {
                strings.push(String::new());
            }
            Event::End(element) => match element.local_name().into_inner() {
                "si" => strings.push(current.take().unwrap_or_default()),
                "rPh" => in_phonetic = false,
                "t" => in_text = false,
                _ => {}
            },
            Event::Text(text) if in_text => {
                if let Some(current) = current.as_mut() {
                    current.push_str(&text);
                }
            }
            Event::CData(text) if in_text => {
                if let Some(current) = current.as_mut() {
                    current.push_str(&text);
                }
            }
            Event::GeneralRef(reference) if in_text => {
                if let Some(current) = current.as_mut() {
                    current.push_str(&reference_text(&reference));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(strings)
}

/// The 0-based column of a cell reference such as `B7` or `AA12`.
fn column_of(reference: &str) -> Option<usize> {
    let letters = reference
        .bytes()
        .take_while(u8::is_ascii_alphabetic)
        .collect::<Vec<_>>();
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let column = letters.iter().fold(0usize, |column, letter| {
        column * 26 + usize::from(letter.to_ascii_uppercase() - b'A') + 1
    });
    // XLSX has at most 16,384 columns (A..XFD).
    (column <= 16_384).then(|| column - 1)
}

/// The cell being read.
struct Open {
    column: usize,
    kind: Option<String>,
    value: String,
    inline: String,
}

/// Reads the first worksheet of a workbook.
pub fn first_sheet(bytes: &[u8]) -> Result<Vec<Row>, XlsxError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|error| XlsxError::NotZip(error.to_string()))?;
    let part = first_sheet_part(&mut archive)?;
    let strings = shared_strings(&mut archive)?;
    let text = read_part(&mut archive, &part)?.ok_or(XlsxError::Missing(part.clone()))?;
    let mut reader = Reader::from_str(&text);
    let mut rows = Vec::new();
    let mut row: Option<Row> = None;
    let mut cell: Option<Open> = None;
    // Which text the reader is in: a cell's `<v>` or an inline string's `<t>`.
    let mut in_value = false;
    let mut in_inline = false;
    let mut last_number = 0u64;
    let mut in_sheet_data = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|error| malformed(&part, error))?;
        match event {
            Event::Start(element) if element.local_name().into_inner() == "row" => {
                let number = row_number(&element, last_number);
                last_number = number;
                row = Some(Row {
                    number,
                    cells: Vec::new(),
                });
            }
            Event::Empty(element) if element.local_name().into_inner() == "row" => {
                let number = row_number(&element, last_number);
                last_number = number;
                rows.push(Row {
                    number,
                    cells: Vec::new(),
                });
            }
            Event::Start(element) if element.local_name().into_inner() == "c" => {
                let next = row
                    .as_ref()
                    .and_then(|row| row.cells.last())
                    .map_or(0, |cell| cell.column + 1);
                let column = attribute(&element, "r")
                    .and_then(|reference| column_of(&reference))
                    .unwrap_or(next);
                cell = Some(Open {
                    column,
                    kind: attribute(&element, "t"),
                    value: String::new(),
                    inline: String::new(),
                });
            }
            Event::Start(element) => match element.local_name().into_inner() {
                "sheetData" => in_sheet_data = true,
                "v" => in_value = cell.is_some(),
                "t" => in_inline = cell.is_some(),
                _ => {}
            },
            Event::End(element) => match element.local_name().into_inner() {
                "sheetData" => in_sheet_data = false,
                "v" => in_value = false,
                "t" => in_inline = false,
                "c" => {
                    if let (Some(open), Some(row)) = (cell.take(), row.as_mut())
                        && let Some(cell) = finish_cell(open, &strings, &part)?
                    {
                        row.cells.push(cell);
                    }
                }
                "row" => {
                    if let Some(mut row) = row.take() {
                        row.cells.sort_by_key(|cell| cell.column);
                        rows.push(row);
                    }
                }
                _ => {}
            },
            Event::Text(text) => push_text(&mut cell, in_value, in_inline, &text),
            Event::CData(text) => push_text(&mut cell, in_value, in_inline, &text),
            Event::GeneralRef(reference) => {
                push_text(&mut cell, in_value, in_inline, &reference_text(&reference));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if in_sheet_data || row.is_some() || cell.is_some() {
        return Err(malformed(
            &part,
            "the worksheet ends inside its <sheetData>: truncated file?",
        ));
    }
    Ok(rows)
}

/// A `<row>`'s `r` number, or the one after the previous row's.
fn row_number(element: &BytesStart<'_>, previous: u64) -> u64 {
    attribute(element, "r")
        .and_then(|r| r.trim().parse::<u64>().ok())
        .filter(|&number| number > 0)
        .unwrap_or(previous.saturating_add(1))
}

fn push_text(cell: &mut Option<Open>, in_value: bool, in_inline: bool, text: &str) {
    if let Some(cell) = cell.as_mut() {
        if in_value {
            cell.value.push_str(text);
        } else if in_inline {
            cell.inline.push_str(text);
        }
    }
}

fn finish_cell(open: Open, strings: &[String], part: &str) -> Result<Option<Cell>, XlsxError> {
    let (kind, text) = match open.kind.as_deref().unwrap_or("n") {
        "s" => {
            let index = open.value.trim();
            if index.is_empty() {
                return Ok(None);
            }
            let text = index
                .parse::<usize>()
                .ok()
                .and_then(|index| strings.get(index))
                .ok_or_else(|| {
                    malformed(
                        part,
                        format!("cell refers to shared string `{index}`, which does not exist"),
                    )
                })?;
            (CellKind::Text, text.clone())
        }
        "inlineStr" => (CellKind::Text, open.inline),
        "n" => (CellKind::Number, open.value),
        _ => (CellKind::Other, open.value),
    };
    if text.is_empty() {
        return Ok(None);
    }
    Ok(Some(Cell {
        column: open.column,
        kind,
        text,
    }))
}

/// The date of an Excel serial day number in the 1900 date system (day 1 is 1900-01-01,
/// with Excel's phantom 1900-02-29 counted, so from day 61 on the count starts at
/// 1899-12-30). A fraction (the time of day) is ignored.
pub fn excel_date(serial: &str) -> Option<Date> {
    let whole = serial.trim().split('.').next()?;
    let days: i64 = whole.parse().ok()?;
    if !(61..=2_958_465).contains(&days) {
        return None;
    }
    jiff::civil::date(1899, 12, 30)
        .checked_add(days.days())
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_serial_dates() {
        assert_eq!(column_of("A1"), Some(0));
        assert_eq!(column_of("B7"), Some(1));
        assert_eq!(column_of("Z6"), Some(25));
        assert_eq!(column_of("AA6"), Some(26));
        assert_eq!(column_of("BI6"), Some(60));
        assert_eq!(column_of("XFD1"), Some(16_383));
        assert_eq!(column_of("XFE1"), None);
        assert_eq!(column_of("7"), None);
        assert_eq!(excel_date("45712"), Some(jiff::civil::date(2025, 2, 24)));
        assert_eq!(
            excel_date("45712.4583333333"),
            Some(jiff::civil::date(2025, 2, 24))
        );
        assert_eq!(excel_date("61"), Some(jiff::civil::date(1900, 3, 1)));
        assert_eq!(excel_date("-3"), None);
        assert_eq!(excel_date("abc"), None);
    }

    #[test]
    fn not_a_zip_is_refused() {
        assert!(matches!(
            first_sheet(b"Date,Price\n"),
            Err(XlsxError::NotZip(_))
        ));
    }
}
