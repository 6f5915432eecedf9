//! The state of one A44 document while it is read: the current `TimeSeries` and `Period`,
//! the layout check on the first of each, and the conversion of a finished period's points
//! into prices.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, NativeInterval, Observation, Price, Product,
    PublishedPrice, Unit,
};
use jiff::{SignedDuration, Timestamp};

use super::{BIDDING_ZONES, bidding_zone};
use crate::formats::common::{Context, iso_timestamp};
use crate::formats::{FileError, FileErrorKind};

/// The layout the parser reads, for the error a renamed element gives.
const EXPECTED: &str = "TimeSeries{in_Domain.mRID, out_Domain.mRID, currency_Unit.name, \
                        price_Measure_Unit.name, curveType, Period{timeInterval{start, end}, \
                        resolution, Point{position, price.amount}}}";

/// Elements whose text or nesting matters; everything else is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tag {
    Root,
    Type,
    Created,
    Revision,
    TimeSeries,
    InDomain,
    OutDomain,
    Sequence,
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
    pub(super) fn of(local_name: &str) -> Tag {
        match local_name {
            "Publication_MarketDocument" => Tag::Root,
            "type" => Tag::Type,
            "createdDateTime" => Tag::Created,
            "revisionNumber" => Tag::Revision,
            "TimeSeries" => Tag::TimeSeries,
            "in_Domain.mRID" => Tag::InDomain,
            "out_Domain.mRID" => Tag::OutDomain,
            "classificationSequence_AttributeInstanceComponent.position" => Tag::Sequence,
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
    in_domain: String,
    out_domain: String,
    sequence: String,
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

/// The child elements of the document's first `TimeSeries`, `Period` and `Point`: a
/// renamed element shows there, and is one file error instead of a reject per point.
#[derive(Default)]
struct Layout {
    series: Vec<String>,
    period: Vec<String>,
    point: Vec<String>,
    series_checked: bool,
    point_checked: bool,
}

impl Layout {
    fn has(names: &[String], name: &str) -> bool {
        names.iter().any(|found| found == name)
    }

    fn check_point(&mut self, context: &Context<'_>) -> Result<(), FileError> {
        self.point_checked = true;
        let missing: Vec<String> = ["position", "price.amount"]
            .into_iter()
            .filter(|name| !Self::has(&self.point, name))
            .map(str::to_string)
            .collect();
        self.result(missing, context)
    }

    fn check_series(&mut self, context: &Context<'_>) -> Result<(), FileError> {
        self.series_checked = true;
        let mut missing = Vec::new();
        if !Self::has(&self.series, "in_Domain.mRID") && !Self::has(&self.series, "out_Domain.mRID")
        {
            missing.push("in_Domain.mRID".to_string());
        }
        for name in ["currency_Unit.name", "price_Measure_Unit.name"] {
            if !Self::has(&self.series, name) {
                missing.push(name.to_string());
            }
        }
        for name in ["timeInterval", "resolution"] {
            if !Self::has(&self.period, name) {
                missing.push(name.to_string());
            }
        }
        self.result(missing, context)
    }

    fn result(&self, missing: Vec<String>, context: &Context<'_>) -> Result<(), FileError> {
        if missing.is_empty() {
            return Ok(());
        }
        let mut found = format!("TimeSeries{{{}", self.series.join(", "));
        if !self.period.is_empty() {
            found.push_str(&format!(", Period{{{}", self.period.join(", ")));
            if !self.point.is_empty() {
                found.push_str(&format!(", Point{{{}}}", self.point.join(", ")));
            }
            found.push('}');
        }
        found.push('}');
        Err(context.error(FileErrorKind::Header {
            expected: EXPECTED.to_string(),
            found,
            missing,
        }))
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

pub(super) struct Document<'a> {
    context: &'a Context<'a>,
    product: Option<Product>,
    published_at: Option<Timestamp>,
    revision: Option<i64>,
    series: Series,
    period: Period,
    layout: Layout,
}

impl<'a> Document<'a> {
    pub(super) fn new(context: &'a Context<'a>, product: Option<Product>) -> Self {
        Document {
            context,
            product,
            published_at: None,
            revision: None,
            series: Series::default(),
            period: Period::default(),
            layout: Layout::default(),
        }
    }

    fn reject_series(&mut self, raw: &str, reason: String, out: &mut SourceOutput) {
        if !self.series.rejected {
            self.series.rejected = true;
            out.rejects
                .push(self.context.reject(self.series.line, raw, reason));
        }
    }

    /// The series' bidding zone: `in_Domain.mRID`, or `out_Domain.mRID` when that is the
    /// only one given; an A44 price names the same zone in both.
    fn domain(&mut self, out: &mut SourceOutput) -> Option<String> {
        let in_domain = self.series.in_domain.trim().to_string();
        let out_domain = self.series.out_domain.trim().to_string();
        match (in_domain.is_empty(), out_domain.is_empty()) {
            (false, false) if in_domain != out_domain => {
                let raw = format!("{in_domain} / {out_domain}");
                let reason = format!(
                    "`in_Domain.mRID` {in_domain} and `out_Domain.mRID` {out_domain} differ: \
                     an A44 day-ahead price names one bidding zone in both"
                );
                self.reject_series(&raw, reason, out);
                None
            }
            (false, _) => Some(in_domain),
            (true, false) => Some(out_domain),
            (true, true) => {
                let reason = "the series names no bidding zone: `in_Domain.mRID` and \
                              `out_Domain.mRID` are empty"
                    .to_string();
                self.reject_series("", reason, out);
                None
            }
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
        let Some(domain) = self.domain(out) else {
            return;
        };
        let Some((area, market)) = bidding_zone(&domain) else {
            let known: Vec<String> = BIDDING_ZONES
                .iter()
                .map(|(code, area, _)| format!("{code} ({area})"))
                .collect();
            let reason = format!(
                "unknown bidding zone EIC code `{domain}` in `in_Domain.mRID`; known: {}",
                known.join(", ")
            );
            return self.reject_series(&domain, reason, out);
        };
        let sequence = self.series.sequence.trim();
        if !sequence.is_empty() && sequence != "1" {
            let raw = format!(
                "<classificationSequence_AttributeInstanceComponent.position>{sequence}\
                 </classificationSequence_AttributeInstanceComponent.position>"
            );
            let reason = format!(
                "classification sequence {sequence} of {area}: only sequence 1, the \
                 coupled (SDAC) day-ahead price, is read; DE-LU and AT publish EXAA's \
                 separate 10:15 auction as sequence 2 (query ENTSO-E with \
                 classificationSequence_AttributeInstanceComponent.position=1)"
            );
            return self.reject_series(&raw, reason, out);
        }
        let series = &self.series;
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

    /// An element opens inside `parent` (the innermost open element, if any).
    pub(super) fn open(&mut self, parent: Option<Tag>, name: &str, tag: Tag, line: u64) {
        let layout = &mut self.layout;
        let children = match parent {
            Some(Tag::TimeSeries) if !layout.series_checked => Some(&mut layout.series),
            Some(Tag::Period) if !layout.series_checked => Some(&mut layout.period),
            Some(Tag::Point) if !layout.point_checked => Some(&mut layout.point),
            _ => None,
        };
        if let Some(children) = children
            && !Layout::has(children, name)
        {
            children.push(name.to_string());
        }
        match tag {
            Tag::TimeSeries => {
                self.series = Series {
                    line,
                    ..Series::default()
                };
                if !layout.series_checked {
                    layout.series.clear();
                    layout.period.clear();
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

    pub(super) fn close(&mut self, tag: Tag, out: &mut SourceOutput) -> Result<(), FileError> {
        match tag {
            Tag::Point if !self.layout.point_checked => self.layout.check_point(self.context)?,
            Tag::Period => {
                if !self.layout.series_checked && self.series.line != 0 {
                    self.layout.check_series(self.context)?;
                }
                self.finish_period(out);
            }
            Tag::TimeSeries => self.series = Series::default(),
            _ => {}
        }
        Ok(())
    }

    pub(super) fn text(
        &mut self,
        stack: &[Tag],
        text: &str,
        context: &Context<'_>,
    ) -> Result<(), FileError> {
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
            (Tag::TimeSeries, Tag::InDomain) => &mut self.series.in_domain,
            (Tag::TimeSeries, Tag::OutDomain) => &mut self.series.out_domain,
            (Tag::TimeSeries, Tag::Sequence) => &mut self.series.sequence,
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
