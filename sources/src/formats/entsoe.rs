//! ENTSO-E Transparency Platform day-ahead prices (document type A44), XML
//! `Publication_MarketDocument`, any namespace version (7:0, 7:3, ...).
//!
//! Each `TimeSeries` names its bidding zone by EIC code (`in_Domain.mRID`), its currency
//! and unit, and a `curveType`: A01 lists every position, A03 omits positions whose value
//! repeats the previous one (the last value extends to the period end). Each `Period` has a
//! UTC `timeInterval` and a `resolution` (PT60M, PT15M, PT30M); position 1 is the period
//! start. The document's `createdDateTime` is every value's publication time and its
//! `revisionNumber` the revision.
//!
//! An origin's `line` is the line of the `<Point>` element; a position filled in from an
//! A03 gap carries the line of the point whose value it repeats.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Price, Product,
    PublishedPrice, Unit,
};
use jiff::{SignedDuration, Timestamp};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::common::{Context, iso_timestamp};
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

/// Elements whose text or nesting matters; everything else is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Root,
    Type,
    Created,
    Revision,
    TimeSeries,
    InDomain,
    Currency,
    PriceUnit,
    CurveType,
    Period,
    TimeInterval,
    Start,
    End,
    Resolution,
    Point,
    Position,
    Amount,
    Other,
}

impl Tag {
    fn of(local_name: &str) -> Tag {
        match local_name {
            "Publication_MarketDocument" => Tag::Root,
            "type" => Tag::Type,
            "createdDateTime" => Tag::Created,
            "revisionNumber" => Tag::Revision,
            "TimeSeries" => Tag::TimeSeries,
            "in_Domain.mRID" => Tag::InDomain,
            "currency_Unit.name" => Tag::Currency,
            "price_Measure_Unit.name" => Tag::PriceUnit,
            "curveType" => Tag::CurveType,
            "Period" => Tag::Period,
            "timeInterval" => Tag::TimeInterval,
            "start" => Tag::Start,
            "end" => Tag::End,
            "resolution" => Tag::Resolution,
            "Point" => Tag::Point,
            "position" => Tag::Position,
            "price.amount" => Tag::Amount,
            _ => Tag::Other,
        }
    }
}

#[derive(Default)]
struct Series {
    line: u64,
    domain: String,
    currency: String,
    unit: String,
    curve: String,
    rejected: bool,
}

#[derive(Default)]
struct Period {
    line: u64,
    start: String,
    end: String,
    resolution: String,
    points: Vec<RawPoint>,
}

#[derive(Default)]
struct RawPoint {
    line: u64,
    position: String,
    amount: String,
}

impl RawPoint {
    fn raw(&self) -> String {
        format!(
            "<Point><position>{}</position><price.amount>{}</price.amount></Point>",
            self.position, self.amount
        )
    }
}

/// Counts lines up to a byte offset, moving forward only, so the whole file is scanned once.
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

/// `PT60M`, `PT15M`, `PT30M`, `PT1H` as minutes.
fn resolution_minutes(text: &str) -> Option<i64> {
    let rest = text.trim().strip_prefix("PT")?;
    let (number, factor) = match rest.as_bytes().last()? {
        b'M' => (rest.strip_suffix('M')?, 1),
        b'H' => (rest.strip_suffix('H')?, 60),
        _ => return None,
    };
    let minutes = number.parse::<i64>().ok()? * factor;
    (1..=1440).contains(&minutes).then_some(minutes)
}

struct Document<'a> {
    context: &'a Context<'a>,
    product: Option<Product>,
    published_at: Option<Timestamp>,
    revision: Option<i64>,
    series: Series,
    period: Period,
}

impl Document<'_> {
    fn reject_series(&mut self, raw: &str, reason: String, out: &mut SourceOutput) {
        if !self.series.rejected {
            self.series.rejected = true;
            out.rejects
                .push(self.context.reject(self.series.line, raw, reason));
        }
    }

    /// Emits the finished period's points, filling A03 gaps.
    fn finish_period(&mut self, out: &mut SourceOutput) {
        let period = std::mem::take(&mut self.period);
        if self.series.rejected {
            return;
        }
        if self.series.line == 0 {
            let reason = "a <Period> outside a <TimeSeries> has no bidding zone";
            out.rejects
                .push(self.context.reject(period.line, "<Period>", reason));
            return;
        }
        let series = &self.series;
        let domain = series.domain.trim();
        let Some((area, market)) = bidding_zone(domain) else {
            let known: Vec<String> = BIDDING_ZONES
                .iter()
                .map(|(code, area, _)| format!("{code} ({area})"))
                .collect();
            let reason = format!(
                "unknown bidding zone EIC code `{domain}` in `in_Domain.mRID`; known: {}",
                known.join(", ")
            );
            let raw = domain.to_string();
            return self.reject_series(&raw, reason, out);
        };
        let currency = match series.currency.parse::<Currency>() {
            Ok(currency) => currency,
            Err(error) => {
                let raw = series.currency.clone();
                return self.reject_series(&raw, format!("`currency_Unit.name`: {error}"), out);
            }
        };
        if !series.unit.trim().eq_ignore_ascii_case("MWH") {
            let raw = series.unit.clone();
            let reason = format!("`price_Measure_Unit.name` `{raw}` is not MWH");
            return self.reject_series(&raw, reason, out);
        }
        let repeats = match series.curve.trim() {
            "" | "A01" => false,
            "A03" => true,
            other => {
                let raw = other.to_string();
                let reason = format!("`curveType` `{raw}` is neither A01 nor A03");
                return self.reject_series(&raw, reason, out);
            }
        };
        let context = self.context;
        let period_reject = |out: &mut SourceOutput, reason: String| {
            let raw = format!(
                "<timeInterval><start>{}</start><end>{}</end></timeInterval>\
                 <resolution>{}</resolution>",
                period.start, period.end, period.resolution
            );
            out.rejects.push(context.reject(period.line, &raw, reason));
        };
        let (Some(start), Some(end)) = (iso_timestamp(&period.start), iso_timestamp(&period.end))
        else {
            return period_reject(
                out,
                "period `timeInterval` start/end are not UTC times like 2023-05-06T22:00Z".into(),
            );
        };
        let Some(minutes) = resolution_minutes(&period.resolution) else {
            let reason = format!(
                "`resolution` `{}` is not PT60M, PT30M or PT15M",
                period.resolution
            );
            return period_reject(out, reason);
        };
        let span = end.duration_since(start).as_mins();
        if span <= 0 || span % minutes != 0 {
            let reason = format!(
                "the period {start}..{end} is not a whole number of {minutes}-minute steps"
            );
            return period_reject(out, reason);
        }
        let slots = span / minutes;
        let product = match (self.product, minutes) {
            (Some(product), _) => product,
            (None, 60) => Product::DayAheadHourly,
            (None, 15) => Product::DayAhead15Min,
            (None, _) => {
                let reason = format!(
                    "gridflow has no product for {minutes}-minute day-ahead prices; set \
                     `product` in the pipeline to read them"
                );
                return period_reject(out, reason);
            }
        };
        // (position, price or None when rejected, line), in position order.
        let mut points: Vec<(i64, Option<Price>, u64)> = Vec::with_capacity(period.points.len());
        for point in &period.points {
            let reject = |out: &mut SourceOutput, reason: String| {
                out.rejects
                    .push(context.reject(point.line, &point.raw(), reason));
            };
            let position = match point.position.trim().parse::<i64>() {
                Ok(position) if (1..=slots).contains(&position) => position,
                _ => {
                    let reason = format!(
                        "`position` `{}` is not a whole number in 1..={slots}",
                        point.position
                    );
                    reject(out, reason);
                    continue;
                }
            };
            let price = match point.amount.parse::<Price>() {
                Ok(price) => Some(price),
                Err(error) => {
                    reject(out, format!("`price.amount`: {error}"));
                    None
                }
            };
            points.push((position, price, point.line));
        }
        points.sort_by_key(|&(position, _, _)| position);
        let area: Arc<str> = Arc::from(area);
        for (index, &(position, price, line)) in points.iter().enumerate() {
            let next = points
                .get(index + 1)
                .map_or(slots + 1, |&(next, _, _)| next);
            if next == position {
                let raw = format!("position {position}");
                let reason = format!("position {position} appears twice in one period");
                out.rejects.push(context.reject(line, &raw, reason));
                continue;
            }
            let Some(price) = price else { continue };
            let last = if repeats { next - 1 } else { position };
            for slot in position..=last {
                let at = |steps: i64| start.checked_add(SignedDuration::from_mins(steps * minutes));
                let (Ok(from), Ok(to)) = (at(slot - 1), at(slot)) else {
                    break;
                };
                out.observations.push(Observation::Price(PublishedPrice {
                    market,
                    product,
                    location: area.clone(),
                    location_type: LocationType::Area,
                    interval: NativeInterval::Utc {
                        start: from,
                        end: to,
                    },
                    price,
                    currency,
                    unit: Unit::MegawattHour,
                    components: Components::default(),
                    published_at: self.published_at,
                    revision: self.revision,
                    origin: context.origin(line),
                }));
            }
        }
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
        let mut lines = Lines {
            bytes,
            offset: 0,
            line: 1,
        };
        let mut document = Document {
            context: &context,
            product: self.product,
            published_at: None,
            revision: None,
            series: Series::default(),
            period: Period::default(),
        };
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
                    let tag = Tag::of(element.local_name().into_inner());
                    if !seen_root {
                        check_root(tag, element.name().into_inner(), &context)?;
                        seen_root = true;
                    }
                    let line = lines.at(reader.buffer_position());
                    document.open(tag, line);
                    if is_start {
                        stack.push(tag);
                    } else {
                        document.close(tag, out);
                    }
                }
                Event::End(_) => {
                    if let Some(tag) = stack.pop() {
                        document.close(tag, out);
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

impl Document<'_> {
    fn open(&mut self, tag: Tag, line: u64) {
        match tag {
            Tag::TimeSeries => {
                self.series = Series {
                    line,
                    ..Series::default()
                }
            }
            Tag::Period => {
                self.period = Period {
                    line,
                    ..Period::default()
                }
            }
            Tag::Point => self.period.points.push(RawPoint {
                line,
                ..RawPoint::default()
            }),
            _ => {}
        }
    }

    fn close(&mut self, tag: Tag, out: &mut SourceOutput) {
        match tag {
            Tag::Period => self.finish_period(out),
            Tag::TimeSeries => self.series = Series::default(),
            _ => {}
        }
    }

    fn text(&mut self, stack: &[Tag], text: &str, context: &Context<'_>) -> Result<(), FileError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let (tag, parent) = match stack {
            [.., parent, tag] => (*tag, *parent),
            _ => return Ok(()),
        };
        let target = match (parent, tag) {
            (Tag::Root, Tag::Type) => {
                if text != "A44" {
                    return Err(context.error(FileErrorKind::Structure(format!(
                        "document `type` is {text}, not A44 (prices)"
                    ))));
                }
                return Ok(());
            }
            (Tag::Root, Tag::Created) => {
                self.published_at = iso_timestamp(text);
                return Ok(());
            }
            (Tag::Root, Tag::Revision) => {
                self.revision = text.parse().ok();
                return Ok(());
            }
            (Tag::TimeSeries, Tag::InDomain) => &mut self.series.domain,
            (Tag::TimeSeries, Tag::Currency) => &mut self.series.currency,
            (Tag::TimeSeries, Tag::PriceUnit) => &mut self.series.unit,
            (Tag::TimeSeries, Tag::CurveType) => &mut self.series.curve,
            (Tag::Period, Tag::Resolution) => &mut self.period.resolution,
            (Tag::TimeInterval, Tag::Start | Tag::End) => {
                // The document's own `period.timeInterval` is a different tag; only the
                // Period's `timeInterval` bounds the points.
                if !matches!(stack, [.., Tag::Period, Tag::TimeInterval, _]) {
                    return Ok(());
                }
                if tag == Tag::Start {
                    &mut self.period.start
                } else {
                    &mut self.period.end
                }
            }
            (Tag::Point, Tag::Position) => match self.period.points.last_mut() {
                Some(point) => &mut point.position,
                None => return Ok(()),
            },
            (Tag::Point, Tag::Amount) => match self.period.points.last_mut() {
                Some(point) => &mut point.amount,
                None => return Ok(()),
            },
            _ => return Ok(()),
        };
        target.push_str(text);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
