//! ENTSO-E Transparency Platform day-ahead prices (document type A44), XML
//! `Publication_MarketDocument`, any namespace version (7:0, 7:3, ...): the coupled
//! day-ahead prices of the EPEX SPOT areas (DE-LU, FR, AT, CH, BE, NL) and of OMIE (ES, PT).
//!
//! Each `TimeSeries` names its bidding zone by EIC code (`in_Domain.mRID`, equal to
//! `out_Domain.mRID` for prices; either one is enough, and two different codes are a
//! reject), its currency and unit, and a `curveType`: A01 lists every position, A03 omits
//! positions whose value repeats the previous one (the last value extends to the period
//! end). Each `Period` has a UTC `timeInterval` and a `resolution` (PT60M, PT15M, PT30M);
//! position 1 is the period start, so time is [`NativeInterval::Utc`] and needs no clock.
//! PT60M is `DAY_AHEAD_HOURLY`, PT15M (the SDAC market time unit from delivery day
//! 2025-10-01) `DAY_AHEAD_15_MIN`. The document's `createdDateTime` is every value's
//! publication time and its `revisionNumber` the revision.
//!
//! A series with `classificationSequence_AttributeInstanceComponent.position` other than 1
//! is rejected: DE-LU and AT publish EXAA's separate auction as sequence 2 next to the
//! coupled price (sequence 1), and both cannot be the same market's price.
//!
//! The first `TimeSeries`, `Period` and `Point` show whether an element was renamed: a
//! missing `in_Domain.mRID`/`out_Domain.mRID`, `currency_Unit.name`,
//! `price_Measure_Unit.name`, `timeInterval`, `resolution`, `position` or `price.amount`
//! there refuses the file with a [`FileErrorKind::Header`] error naming what was found.
//!
//! An origin's `line` is the line of the `<Point>` element; a position filled in from an
//! A03 gap carries the line of the point whose value it repeats.

mod document;

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
#[cfg(doc)]
use gridflow_engine::record::NativeInterval;
use gridflow_engine::record::{Market, Product};
use quick_xml::Reader;
use quick_xml::events::Event;

use self::document::{Document, Tag};
use super::common::{Context, Lines};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "entsoe_a44"`.
pub const NAME: &str = "entsoe_a44";

/// Bidding zones read, by EIC code: (code, area name, market).
pub const BIDDING_ZONES: &[(&str, &str, Market)] = &[
    ("10YFR-RTE------C", "FR", Market::Epex),
    ("10Y1001A1001A82H", "DE-LU", Market::Epex),
    ("10YAT-APG------L", "AT", Market::Epex),
    ("10YCH-SWISSGRIDZ", "CH", Market::Epex),
    ("10YBE----------2", "BE", Market::Epex),
    ("10YNL----------L", "NL", Market::Epex),
    ("10YES-REE------0", "ES", Market::Omie),
    ("10YPT-REN------W", "PT", Market::Omie),
];

/// The area name and market of an EIC bidding-zone code.
pub fn bidding_zone(eic: &str) -> Option<(&'static str, Market)> {
    BIDDING_ZONES
        .iter()
        .find(|(code, _, _)| *code == eic.trim())
        .map(|&(_, area, market)| (area, market))
}

/// Parser for ENTSO-E A44 XML documents.
#[derive(Clone, Debug, Default)]
pub struct EntsoeA44 {
    product: Option<Product>,
}

impl EntsoeA44 {
    /// A parser choosing the product from each period's resolution (PT60M day-ahead
    /// hourly, PT15M day-ahead 15-minute), unless `product` overrides it.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        Ok(EntsoeA44 { product })
    }
}

impl Format for EntsoeA44 {
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
        let text = std::str::from_utf8(bytes)
            .map_err(|error| context.error(FileErrorKind::Encoding(error.to_string())))?;
        let mut reader = Reader::from_str(text);
        let mut lines = Lines::new(bytes);
        let mut document = Document::new(&context, self.product);
        let mut stack: Vec<Tag> = Vec::with_capacity(8);
        let mut seen_root = false;
        loop {
            let event = reader.read_event().map_err(|error| {
                let line = lines.at(reader.error_position());
                context.error(FileErrorKind::Syntax {
                    line,
                    message: error.to_string(),
                })
            })?;
            let is_start = matches!(event, Event::Start(_));
            match event {
                Event::Start(element) | Event::Empty(element) => {
                    let name = element.local_name().into_inner();
                    let tag = Tag::of(name);
                    if !seen_root {
                        check_root(tag, element.name().into_inner(), &context)?;
                        seen_root = true;
                    }
                    let line = lines.at(reader.buffer_position());
                    document.open(stack.last().copied(), name, tag, line);
                    if is_start {
                        stack.push(tag);
                    } else {
                        document.close(tag, out)?;
                    }
                }
                Event::End(_) => {
                    if let Some(tag) = stack.pop() {
                        document.close(tag, out)?;
                    }
                }
                Event::Text(text) => document.text(&stack, &text, &context)?,
                Event::CData(text) => document.text(&stack, &text, &context)?,
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_root {
            return Err(context.error(FileErrorKind::Structure(
                "no <Publication_MarketDocument> element".into(),
            )));
        }
        if let Some(open) = stack.last() {
            return Err(context.error(FileErrorKind::Syntax {
                line: lines.at(bytes.len() as u64),
                message: format!(
                    "the document ends inside an open element ({open:?}): truncated file?"
                ),
            }));
        }
        Ok(())
    }
}

fn check_root(tag: Tag, found: &str, context: &Context<'_>) -> Result<(), FileError> {
    if tag == Tag::Root {
        return Ok(());
    }
    let hint = if found.contains("Acknowledgement") {
        " (ENTSO-E answers a query that has no data with an acknowledgement document)"
    } else {
        ""
    };
    Err(context.error(FileErrorKind::Structure(format!(
        "expected root element <Publication_MarketDocument>, found <{found}>{hint}"
    ))))
}

#[cfg(test)]
mod tests;
