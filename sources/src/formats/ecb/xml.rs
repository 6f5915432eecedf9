//! The ECB's XML reference-rate files: `eurofxref-daily.xml` (one day), and
//! `eurofxref-hist-90d.xml` and `eurofxref-hist.xml` (one dated cube per day, newest first).
//!
//! ```xml
//! <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
//!                  xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
//!   <gesmes:subject>Reference rates</gesmes:subject>
//!   <gesmes:Sender><gesmes:name>European Central Bank</gesmes:name></gesmes:Sender>
//!   <Cube>
//!     <Cube time='2026-10-30'>
//!       <Cube currency='USD' rate='1.1172'/> ...
//! ```
//!
//! Elements are matched by local name, attributes in either quote style. A rate's origin
//! `line` is the line of its `<Cube currency=...>` element (the history files put a whole
//! day, or the whole file, on one line). A dated cube with a bad `time` is one reject and
//! its rates are skipped; a bad currency or rate is a reject of that rate alone.

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Currency, FxRate, Observation, Price};
use jiff::civil::Date;
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::formats::common::{Context, iso_date};
use crate::formats::{FileError, FileErrorKind};

/// Counts lines up to a byte offset, moving forward only.
struct Lines<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u64,
}

impl Lines<'_> {
    fn at(&mut self, offset: u64) -> u64 {
        let offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if offset > self.offset {
            let newlines = self
                .bytes
                .get(self.offset..offset)
                .map_or(0, |slice| slice.iter().filter(|&&b| b == b'\n').count());
            self.line += newlines as u64;
            self.offset = offset;
        }
        self.line
    }
}

/// What an open `<Cube>` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cube {
    /// The outer cube, or anything without `time` or `currency`.
    Outer,
    /// A day: its date, or `None` when the date was rejected.
    Dated(Option<Date>),
    /// A rate (normally self-closing).
    Rate,
}

fn attribute(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .attributes()
        .with_checks(false)
        .flatten()
        .find(|attribute| attribute.key.local_name().into_inner() == name)
        .and_then(|attribute| {
            attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .ok()
                .map(|value| value.trim().to_string())
        })
}

/// The raw text of a start tag, for rejects.
fn raw(element: &BytesStart<'_>) -> String {
    format!("<{}{}>", element.name().as_ref(), element.attributes_raw())
}

/// Parses an ECB XML file whose content (BOM stripped, not blank) is `bytes`.
pub(super) fn parse(
    context: &Context<'_>,
    bytes: &[u8],
    out: &mut SourceOutput,
) -> Result<(), FileError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| context.error(FileErrorKind::Encoding(error.to_string())))?;
    let mut reader = Reader::from_str(text);
    let mut lines = Lines {
        bytes,
        offset: 0,
        line: 1,
    };
    let mut seen_root = false;
    let mut days = 0usize;
    let mut depth = 0usize;
    let mut cubes: Vec<Cube> = Vec::new();
    loop {
        let event = reader.read_event().map_err(|error| {
            context.error(FileErrorKind::Syntax {
                line: lines.at(reader.error_position()),
                message: error.to_string(),
            })
        })?;
        let is_start = matches!(event, Event::Start(_));
        match event {
            Event::Start(element) | Event::Empty(element) => {
                let name = element.local_name().into_inner().to_string();
                if !seen_root {
                    if name != "Envelope" {
                        return Err(context.error(FileErrorKind::Structure(format!(
                            "expected root element <gesmes:Envelope> (ECB eurofxref XML), \
                             found <{}>",
                            element.name().as_ref()
                        ))));
                    }
                    seen_root = true;
                }
                if is_start {
                    depth += 1;
                }
                if name != "Cube" {
                    continue;
                }
                let line = lines.at(reader.buffer_position());
                let cube = cube(context, &element, &cubes, line, out);
                if matches!(cube, Cube::Dated(_)) {
                    days += 1;
                }
                if is_start {
                    cubes.push(cube);
                }
            }
            Event::End(element) => {
                depth = depth.saturating_sub(1);
                if element.local_name().into_inner() == "Cube" {
                    cubes.pop();
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err(context.error(FileErrorKind::Structure(
            "no <gesmes:Envelope> element".into(),
        )));
    }
    if depth > 0 {
        return Err(context.error(FileErrorKind::Syntax {
            line: lines.at(bytes.len() as u64),
            message: "the document ends inside an open element: truncated file?".into(),
        }));
    }
    if days == 0 {
        return Err(context.error(FileErrorKind::Structure(
            "no dated <Cube time='YYYY-MM-DD'> in the envelope".into(),
        )));
    }
    Ok(())
}

/// Reads one `<Cube>`: a dated cube opens a day, a currency cube is a rate of the open day.
fn cube(
    context: &Context<'_>,
    element: &BytesStart<'_>,
    open: &[Cube],
    line: u64,
    out: &mut SourceOutput,
) -> Cube {
    if let Some(time) = attribute(element, "time") {
        let date = iso_date(time.as_bytes());
        if date.is_none() {
            let reason = format!("`time` `{time}` is not a date written YYYY-MM-DD");
            out.rejects
                .push(context.reject(line, &raw(element), reason));
        }
        return Cube::Dated(date);
    }
    let Some(currency) = attribute(element, "currency") else {
        return Cube::Outer;
    };
    let mut reject = |reason: String| {
        out.rejects
            .push(context.reject(line, &raw(element), reason))
    };
    let day = open.iter().rev().find_map(|cube| match cube {
        Cube::Dated(date) => Some(*date),
        _ => None,
    });
    let date = match day {
        Some(Some(date)) => date,
        // The day's date was rejected already.
        Some(None) => return Cube::Rate,
        None => {
            reject(format!(
                "a {currency} rate outside a dated <Cube time='YYYY-MM-DD'>"
            ));
            return Cube::Rate;
        }
    };
    let currency = match currency.parse::<Currency>() {
        Ok(currency) => currency,
        Err(error) => {
            reject(format!("`currency`: {error}"));
            return Cube::Rate;
        }
    };
    let rate = attribute(element, "rate").unwrap_or_default();
    match rate.parse::<Price>() {
        Ok(per_euro) if per_euro > Price::ZERO => {
            out.observations.push(Observation::Rate(FxRate {
                date,
                currency,
                per_euro,
                origin: context.origin(line),
            }));
        }
        Ok(per_euro) => reject(format!(
            "{currency} rate {per_euro} on {date} is not positive"
        )),
        Err(error) => reject(format!("{currency} rate `{rate}` on {date}: {error}")),
    }
    Cube::Rate
}
