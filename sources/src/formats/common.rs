//! Helpers every parser shares: origins and rejects, CSV headers, interning, and the
//! fixed-layout timestamp and decimal parsing that keeps the hot loops allocation-free.

use std::collections::HashMap;
use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::record::{Origin, Price, Product, Reject};
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};

use super::{FileError, FileErrorKind, FormatLookupError};

/// What every parser needs to name where a value came from.
pub(crate) struct Context<'a> {
    pub(crate) format: &'static str,
    pub(crate) file: &'a Arc<str>,
    pub(crate) source: &'a Arc<str>,
}

impl<'a> Context<'a> {
    /// The context of one file of a format, read by one source component.
    pub(crate) fn new(format: &'static str, file: &'a Arc<str>, source: &'a Arc<str>) -> Self {
        Context {
            format,
            file,
            source,
        }
    }

    pub(crate) fn origin(&self, line: u64) -> Origin {
        Origin {
            source: self.source.clone(),
            file: self.file.clone(),
            line,
        }
    }

    pub(crate) fn reject(&self, line: u64, raw: &str, reason: impl Into<String>) -> Reject {
        Reject::new(self.origin(line), "parse", raw, reason)
    }

    pub(crate) fn error(&self, kind: FileErrorKind) -> FileError {
        FileError {
            format: self.format,
            file: self.file.clone(),
            kind,
        }
    }

    /// Refuses empty (or whitespace-only) input, which publishers do emit (SPP's RTBM feed
    /// has zero-byte files), and strips a UTF-8 byte-order mark.
    pub(crate) fn content<'b>(&self, bytes: &'b [u8]) -> Result<&'b [u8], FileError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(self.error(FileErrorKind::Empty));
        }
        Ok(bytes)
    }

    /// A file's content as a JSON document: empty, non-UTF-8 and malformed files are
    /// file errors (the last with the line serde_json stopped at).
    pub(crate) fn json(&self, bytes: &[u8]) -> Result<serde_json::Value, FileError> {
        let text = std::str::from_utf8(self.content(bytes)?)
            .map_err(|error| self.error(FileErrorKind::Encoding(error.to_string())))?;
        serde_json::from_str(text).map_err(|error| {
            self.error(FileErrorKind::Syntax {
                line: error.line() as u64,
                message: error.to_string(),
            })
        })
    }

    /// A CSV reader over a file's content, positioned after its header, which is returned
    /// in the record buffer the parser then reuses for every row.
    pub(crate) fn open_csv<'b>(
        &self,
        bytes: &'b [u8],
    ) -> Result<(CsvRows<'b>, ByteRecord), FileError> {
        let content = self.content(bytes)?;
        let mut reader = csv_reader(content, false);
        reader.offset = (bytes.len() - content.len()) as u64;
        let mut header = ByteRecord::new();
        if next_record(&mut reader, &mut header).is_none() {
            return Err(self.error(FileErrorKind::Empty));
        }
        Ok((reader, header))
    }
}

/// Shares one allocation per distinct location name: an SPP real-time file repeats the
/// same ~1,100 names every five minutes, so most rows clone an `Arc` instead of allocating.
///
/// The names live in a map per thread (one per timely worker), kept across files and
/// sources; it is emptied when it passes [`Interner::MOST_NAMES`], which bounds its memory
/// whatever the input. Hashed with foldhash: names come from market files, not adversaries,
/// and SipHash cost a tenth of CSV parsing.
#[derive(Default)]
pub(crate) struct Interner;

type Names = HashMap<Box<[u8]>, Arc<str>, foldhash::fast::RandomState>;

thread_local! {
    static NAMES: std::cell::RefCell<Names> = std::cell::RefCell::default();
}

impl Interner {
    /// Distinct names a thread keeps before it starts afresh.
    const MOST_NAMES: usize = 1 << 20;

    pub(crate) fn get(&mut self, bytes: &[u8]) -> Option<Arc<str>> {
        NAMES.with_borrow_mut(|names| {
            if let Some(name) = names.get(bytes) {
                return Some(name.clone());
            }
            let text = std::str::from_utf8(bytes).ok()?.trim();
            let name: Arc<str> = Arc::from(text);
            if names.len() >= Self::MOST_NAMES {
                names.clear();
            }
            names.insert(bytes.into(), name.clone());
            Some(name)
        })
    }
}

/// Counts lines up to a byte offset, moving forward only, so a file is scanned once.
pub(crate) struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> Lines<'a> {
    /// A counter at the start of `bytes` (line 1).
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Lines {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of the byte at `offset`.
    pub(crate) fn at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if offset < self.offset {
            *self = Lines::new(self.bytes);
        }
        let newlines = self.bytes[self.offset..offset]
            .iter()
            .filter(|&&byte| byte == b'\n')
            .count();
        self.line += newlines as u64;
        self.offset = offset;
        self.line
    }
}

/// A CSV reader over in-memory bytes that knows each record's true line number.
///
/// The csv crate's own line count comes out one short after a blank line in CRLF files
/// (MISO's preamble has one), so lines are counted here from the record's byte offset.
pub(crate) struct CsvRows<'a> {
    reader: csv::Reader<&'a [u8]>,
    content: &'a [u8],
    /// Where `content` starts in the slice the parser holds (after a byte-order mark), so
    /// that positions index the parser's own bytes.
    offset: u64,
    lines: Lines<'a>,
}

impl CsvRows<'_> {
    /// The 1-based line on which the record reported at `position` (of `content`) starts.
    fn line_at(&mut self, position: usize) -> u64 {
        // The reported offset can still point at the line ends before the record (the
        // crate reads `\r` and `\n` as separate terminators): skip to its first byte.
        let mut position = position.min(self.content.len());
        while matches!(self.content.get(position), Some(b'\r' | b'\n')) {
            position += 1;
        }
        self.lines.at(position as u64)
    }
}

/// A CSV reader over in-memory bytes; the header is read as an ordinary record so that a
/// malformed header is reported by the parser, not swallowed by the csv crate.
pub(crate) fn csv_reader(bytes: &[u8], trim: bool) -> CsvRows<'_> {
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(if trim {
            csv::Trim::All
        } else {
            csv::Trim::None
        })
        .from_reader(bytes);
    CsvRows {
        reader,
        content: bytes,
        offset: 0,
        lines: Lines::new(bytes),
    }
}

/// The header fields as text, for messages.
pub(crate) fn header_text(header: &ByteRecord) -> String {
    header
        .iter()
        .map(|field| String::from_utf8_lossy(field).trim().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Index of the first header field equal (ASCII case-insensitively, trimmed) to any alias.
pub(crate) fn find_column(header: &ByteRecord, aliases: &[&str]) -> Option<usize> {
    header.iter().position(|field| {
        let field = field.trim_ascii();
        aliases
            .iter()
            .any(|alias| field.eq_ignore_ascii_case(alias.as_bytes()))
    })
}

/// Locates required columns (each a list of accepted spellings, canonical first), or
/// returns the header error naming every missing one.
pub(crate) fn require_columns<const N: usize>(
    context: &Context<'_>,
    header: &ByteRecord,
    expected: &str,
    wanted: [&[&str]; N],
) -> Result<[usize; N], FileError> {
    let mut found = [0usize; N];
    let mut missing = Vec::new();
    for (slot, aliases) in found.iter_mut().zip(wanted) {
        match find_column(header, aliases) {
            Some(index) => *slot = index,
            None => missing.push(aliases.first().copied().unwrap_or_default().to_string()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(context.error(FileErrorKind::Header {
            expected: expected.to_string(),
            found: header_text(header),
            missing,
        }))
    }
}

/// The text of the record that ended at the reader's current position, for rejects.
pub(crate) fn raw_text(bytes: &[u8], start: u64, end: u64) -> String {
    let start = usize::try_from(start)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let end = usize::try_from(end)
        .unwrap_or(usize::MAX)
        .clamp(start, bytes.len());
    let slice = bytes.get(start..end).unwrap_or_default();
    String::from_utf8_lossy(slice.trim_ascii()).into_owned()
}

/// Reads the next record; `Ok(None)` at the end. CSV syntax errors cannot stop the loop:
/// the csv crate only fails on I/O (impossible over a slice) or invalid UTF-8 in `String`
/// records, and we read bytes.
///
/// Returns the record's 1-based line and the byte range it came from, as offsets into the
/// slice the parser passed to [`Context::open_csv`] (for [`raw_text`]).
pub(crate) fn next_record(
    rows: &mut CsvRows<'_>,
    record: &mut ByteRecord,
) -> Option<(u64, u64, u64)> {
    let start = rows.reader.position().byte();
    match rows.reader.read_byte_record(record) {
        Ok(true) => {
            let at = record.position().map_or(start, |p| p.byte());
            let line = rows.line_at(usize::try_from(at).unwrap_or(usize::MAX));
            let end = rows.reader.position().byte();
            Some((line, start + rows.offset, end + rows.offset))
        }
        Ok(false) | Err(_) => None,
    }
}

/// A decimal field as an exact price, or a reason naming the column.
pub(crate) fn price_field(field: Option<&[u8]>, column: &str) -> Result<Price, String> {
    let Some(field) = field else {
        return Err(format!("missing `{column}` field"));
    };
    Price::from_ascii(field).map_err(|error| {
        if std::str::from_utf8(field).is_err() {
            format!("`{column}` is not UTF-8 text")
        } else {
            format!("`{column}`: {error}")
        }
    })
}

/// An optional price column: empty text means "not published".
pub(crate) fn optional_price(field: Option<&[u8]>, column: &str) -> Result<Option<Price>, String> {
    match field.map(<[u8]>::trim_ascii) {
        None | Some(b"") => Ok(None),
        Some(_) => price_field(field, column).map(Some),
    }
}

fn digits(bytes: &[u8]) -> Option<i32> {
    if bytes.is_empty() || bytes.len() > 9 {
        return None;
    }
    bytes.iter().try_fold(0i32, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i32::from(byte - b'0'))
    })
}

fn civil(year: i32, month: i32, day: i32, hour: i32, minute: i32, second: i32) -> Option<DateTime> {
    let date = Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    let time = Time::new(
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    Some(DateTime::from_parts(date, time))
}

/// `MM/DD/YYYY HH:MM[:SS]` (SPP, NYISO), with one-digit month or day tolerated.
pub(crate) fn us_datetime(text: &[u8]) -> Option<DateTime> {
    let text = text.trim_ascii();
    let space = text.iter().position(|&b| b == b' ')?;
    let (date, time) = (
        text.get(..space)?,
        text.get(space + 1..)?.trim_ascii_start(),
    );
    let mut parts = date.split(|&b| b == b'/');
    let month = digits(parts.next()?)?;
    let day = digits(parts.next()?)?;
    let year = digits(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    let mut parts = time.split(|&b| b == b':');
    let hour = digits(parts.next()?)?;
    let minute = digits(parts.next()?)?;
    let second = match parts.next() {
        Some(second) => digits(second)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    civil(year, month, day, hour, minute, second)
}

/// `YYYY/MM/DD` (JEPX, AEMO), with a one-digit month or day tolerated.
pub(crate) fn slash_date(text: &[u8]) -> Option<Date> {
    let mut parts = text.trim_ascii().split(|&b| b == b'/');
    let year = digits(parts.next()?)?;
    let month = digits(parts.next()?)?;
    let day = digits(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    civil(year, month, day, 0, 0, 0).map(|datetime| datetime.date())
}

/// `YYYY/MM/DD HH:MM:SS` (AEMO MMS `SETTLEMENTDATE`, `LASTCHANGED`); seconds optional.
pub(crate) fn slash_datetime(text: &[u8]) -> Option<DateTime> {
    let text = text.trim_ascii();
    let space = text.iter().position(|&b| b == b' ')?;
    let date = slash_date(text.get(..space)?)?;
    let mut parts = text
        .get(space + 1..)?
        .trim_ascii_start()
        .split(|&b| b == b':');
    let hour = digits(parts.next()?)?;
    let minute = digits(parts.next()?)?;
    let second = match parts.next() {
        Some(second) => digits(second)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    civil(
        i32::from(date.year()),
        i32::from(date.month()),
        i32::from(date.day()),
        hour,
        minute,
        second,
    )
}

/// `MM/DD/YYYY` with a four-digit year, one-digit month or day tolerated (EIA writes
/// `12/9/2022` and `01/9/1997`; Investing.com `02/27/2025`).
pub(crate) fn us_date(text: &[u8]) -> Option<Date> {
    let mut parts = text.trim_ascii().split(|&b| b == b'/');
    let month = digits(parts.next()?)?;
    let day = digits(parts.next()?)?;
    let year_text = parts.next()?;
    if year_text.len() != 4 || parts.next().is_some() {
        return None;
    }
    Date::new(
        i16::try_from(digits(year_text)?).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// Checks a `product` setting for a format that publishes one daily price per day.
pub(crate) fn daily_product(
    format: &'static str,
    product: Option<Product>,
) -> Result<(), FormatLookupError> {
    match product {
        None | Some(Product::Daily) => Ok(()),
        Some(product) => Err(FormatLookupError::Product {
            format,
            product,
            reason: "this format publishes one price per day: only `DAILY` fits".into(),
        }),
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn iso_date(text: &[u8]) -> Option<Date> {
    let text = text.trim_ascii();
    if text.len() != 10 || text.get(4) != Some(&b'-') || text.get(7) != Some(&b'-') {
        return None;
    }
    Date::new(
        i16::try_from(digits(text.get(0..4)?)?).ok()?,
        i8::try_from(digits(text.get(5..7)?)?).ok()?,
        i8::try_from(digits(text.get(8..10)?)?).ok()?,
    )
    .ok()
}

/// An ISO 8601 instant with an offset: `2023-05-06T22:00Z`, `2024-07-07T22:00:00Z`,
/// `2023-09-18T00:00:00-00:00`. The fixed layouts are parsed by hand (they are in every
/// row); anything else, such as fractional seconds, goes through jiff.
pub(crate) fn iso_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    fast_iso_timestamp(text.as_bytes()).or_else(|| text.parse().ok())
}

fn fast_iso_timestamp(bytes: &[u8]) -> Option<Timestamp> {
    let date = iso_date(bytes.get(0..10)?)?;
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) || bytes.get(13) != Some(&b':') {
        return None;
    }
    let hour = digits(bytes.get(11..13)?)?;
    let minute = digits(bytes.get(14..16)?)?;
    let (second, rest) = if bytes.get(16) == Some(&b':') {
        (digits(bytes.get(17..19)?)?, bytes.get(19..)?)
    } else {
        (0, bytes.get(16..)?)
    };
    let offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            let magnitude = hours * 60 + minutes;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    let datetime = civil(
        i32::from(date.year()),
        i32::from(date.month()),
        i32::from(date.day()),
        hour,
        minute,
        second,
    )?;
    let offset = Offset::from_seconds(offset_minutes * 60).ok()?;
    offset.to_timestamp(datetime).ok()
}

/// A civil time read as UTC.
pub(crate) fn utc(datetime: DateTime) -> Option<Timestamp> {
    Offset::UTC.to_timestamp(datetime).ok()
}

/// `time` moved by `minutes`, `None` outside jiff's range.
pub(crate) fn add_minutes(time: Timestamp, minutes: i64) -> Option<Timestamp> {
    time.checked_add(SignedDuration::from_mins(minutes)).ok()
}

/// The interval length a product implies, for formats whose rows do not say.
pub(crate) fn product_minutes(product: Product) -> Option<u32> {
    match product {
        Product::DayAheadHourly
        | Product::DayAheadHourlyExAnte
        | Product::DayAheadHourlyExPost
        | Product::RealTimeHourly
        | Product::RealTimeHourlyPrelim
        | Product::RealTimeHourlyFinal => Some(60),
        Product::DayAhead30Min => Some(30),
        Product::DayAhead15Min | Product::RealTime15Min => Some(15),
        Product::RealTime5Min | Product::RealTime5MinPrelim | Product::RealTime5MinFinal => Some(5),
        _ => None,
    }
}

/// The file name without its directories, for choosing a product by naming convention.
pub(crate) fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_market_layouts() {
        let expected: Timestamp = "2023-09-18T00:00:00Z".parse().unwrap();
        assert_eq!(iso_timestamp("2023-09-18T00:00:00-00:00"), Some(expected));
        assert_eq!(iso_timestamp("2023-09-18T00:00Z"), Some(expected));
        assert_eq!(iso_timestamp("2023-09-18T02:00+02:00"), Some(expected));
        assert_eq!(
            iso_timestamp("2024-07-08T11:12:16.0856629Z").map(|t| t.as_second()),
            Some(1_720_437_136)
        );
        assert_eq!(iso_timestamp("2023-09-18"), None);
        assert_eq!(iso_timestamp("2023-02-30T00:00Z"), None);
        assert_eq!(
            us_datetime(b"03/31/2025 13:40:00"),
            Some(jiff::civil::date(2025, 3, 31).at(13, 40, 0, 0))
        );
        assert_eq!(
            us_datetime(b"3/1/2025 13:40"),
            Some(jiff::civil::date(2025, 3, 1).at(13, 40, 0, 0))
        );
        assert_eq!(us_datetime(b"13/31/2025 13:40:00"), None);
        assert_eq!(
            slash_datetime(b"2025/01/21 18:05:00"),
            Some(jiff::civil::date(2025, 1, 21).at(18, 5, 0, 0))
        );
        assert_eq!(slash_date(b"2025/4/1"), Some(jiff::civil::date(2025, 4, 1)));
        assert_eq!(slash_date(b"2025/02/30"), None);
        assert_eq!(slash_datetime(b"2025/01/21"), None);
        assert_eq!(slash_datetime(b"2025/01/21 24:00:00"), None);
        assert_eq!(us_datetime(b"03/31/2025"), None);
        assert_eq!(us_date(b"01/9/1997"), Some(jiff::civil::date(1997, 1, 9)));
        assert_eq!(
            us_date(b"12/13/2022"),
            Some(jiff::civil::date(2022, 12, 13))
        );
        assert_eq!(us_date(b"1/9/97"), None);
        assert_eq!(us_date(b"02/30/2024"), None);
        assert_eq!(us_date(b"02/27/2025 10:00"), None);
    }
}
