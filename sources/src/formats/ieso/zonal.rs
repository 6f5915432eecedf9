//! `ieso_da_zonal`: the IESO XML report `DAHourlyOntarioZonalPrice`, the day-ahead
//! Ontario zonal price (`PUB_DAHourlyOntarioZonalPrice_YYYYMMDD.xml`).
//!
//! ```text
//! <Document docID="DAHourlyOntarioZonalPrice" xmlns="http://www.ieso.ca/schema">
//!   <DocHeader> ... <DocRevision>1</DocRevision> ... <CreatedAt>2026-05-27T12:31:16</CreatedAt>
//!   <DocBody>
//!     <DeliveryDate>2026-05-28</DeliveryDate>
//!     <HourlyPriceComponents>
//!       <PricingHour>1</PricingHour> <ZonalPrice>17.76</ZonalPrice>
//!       <LossPriceCapped>0.02</LossPriceCapped> <CongestionPriceCapped>-0.26</CongestionPriceCapped>
//!       <Flag>DSO-RD</Flag>
//! ```
//!
//! Each `HourlyPriceComponents` is one price for location `ONTARIO` (a zone), product
//! `DAY_AHEAD_HOURLY`: `PricingHour` is hour-ending EST on `DeliveryDate`
//! ([`NativeInterval::HourEnding`] on [`clock`]). `ZonalPrice` is the price,
//! `LossPriceCapped` the loss part, `CongestionPriceCapped` the congestion part, and the
//! energy part is derived. `Flag` (e.g. `DSO-RD`) is not represented. `CreatedAt` becomes
//! every price's publication time and `DocRevision` its revision. Elements are matched by
//! local name, so the namespace prefix does not matter.
//!
//! An origin's `line` is the line of the `<HourlyPriceComponents>` element.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Occurrence, Product,
    PublishedPrice, Unit,
};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::super::common::{
    Context, Lines, iso_date, optional_price, price_field, product_minutes,
};
use super::super::{FileError, FileErrorKind, Format, FormatLookupError};
use super::{clock, created_at, energy_part};

/// `format = "ieso_da_zonal"`.
pub const NAME: &str = "ieso_da_zonal";

/// The report's `docID`.
pub const DOC_ID: &str = "DAHourlyOntarioZonalPrice";

/// The one location the report prices.
pub const LOCATION: &str = "ONTARIO";

/// The elements of an `HourlyPriceComponents`, in published order.
pub const ELEMENTS: &str = "PricingHour,ZonalPrice,LossPriceCapped,CongestionPriceCapped,Flag";

/// Parser for the `DAHourlyOntarioZonalPrice` XML report.
#[derive(Clone, Debug)]
pub struct IesoDaZonal {
    product: Product,
}

impl IesoDaZonal {
    /// A parser for `DAY_AHEAD_HOURLY` prices, or `product` (an hourly one) instead.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None => Ok(IesoDaZonal {
                product: Product::DayAheadHourly,
            }),
            Some(product) if product_minutes(product) == Some(60) => Ok(IesoDaZonal { product }),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the report has hourly prices only".into(),
            }),
        }
    }
}

/// Elements whose text or nesting matters; everything else is skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Header,
    Body,
    Created,
    Revision,
    DeliveryDate,
    Hour,
    PricingHour,
    ZonalPrice,
    Loss,
    Congestion,
    Other,
}

impl Tag {
    fn of(local_name: &str) -> Tag {
        match local_name {
            "DocHeader" => Tag::Header,
            "DocBody" => Tag::Body,
            "CreatedAt" => Tag::Created,
            "DocRevision" => Tag::Revision,
            "DeliveryDate" => Tag::DeliveryDate,
            "HourlyPriceComponents" => Tag::Hour,
            "PricingHour" => Tag::PricingHour,
            "ZonalPrice" => Tag::ZonalPrice,
            "LossPriceCapped" => Tag::Loss,
            "CongestionPriceCapped" => Tag::Congestion,
            _ => Tag::Other,
        }
    }
}

/// One `HourlyPriceComponents` as read: `None` for an element that is absent.
#[derive(Default)]
struct Hour {
    line: u64,
    children: Vec<String>,
    pricing_hour: Option<String>,
    zonal: Option<String>,
    loss: Option<String>,
    congestion: Option<String>,
}

impl Hour {
    fn slot(&mut self, tag: Tag) -> Option<&mut Option<String>> {
        match tag {
            Tag::PricingHour => Some(&mut self.pricing_hour),
            Tag::ZonalPrice => Some(&mut self.zonal),
            Tag::Loss => Some(&mut self.loss),
            Tag::Congestion => Some(&mut self.congestion),
            _ => None,
        }
    }

    fn raw(&self) -> String {
        let element = |name: &str, value: &Option<String>| match value {
            Some(text) => format!("<{name}>{text}</{name}>"),
            None => String::new(),
        };
        format!(
            "<HourlyPriceComponents>{}{}{}{}</HourlyPriceComponents>",
            element("PricingHour", &self.pricing_hour),
            element("ZonalPrice", &self.zonal),
            element("LossPriceCapped", &self.loss),
            element("CongestionPriceCapped", &self.congestion),
        )
    }
}

struct Report<'a> {
    context: &'a Context<'a>,
    product: Product,
    published_at: Option<Timestamp>,
    revision: Option<i64>,
    created_text: String,
    revision_text: String,
    date_text: String,
    date: Option<Date>,
    hour: Option<Hour>,
    checked_elements: bool,
    seen_hours: [bool; 25],
    location: Arc<str>,
}

impl Report<'_> {
    fn open(&mut self, tag: Tag, name: &str, line: u64, parent: Option<Tag>) {
        if tag == Tag::Hour {
            self.hour = Some(Hour {
                line,
                ..Hour::default()
            });
            return;
        }
        if parent == Some(Tag::Hour)
            && let Some(hour) = self.hour.as_mut()
        {
            hour.children.push(name.to_string());
            if let Some(slot) = hour.slot(tag) {
                slot.get_or_insert_with(String::new);
            }
        }
    }

    fn text(&mut self, stack: &[Tag], text: &str) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let target = match stack {
            [.., Tag::Header, Tag::Created] => &mut self.created_text,
            [.., Tag::Header, Tag::Revision] => &mut self.revision_text,
            [.., Tag::Body, Tag::DeliveryDate] => &mut self.date_text,
            [.., Tag::Hour, tag] => match self.hour.as_mut().and_then(|hour| hour.slot(*tag)) {
                Some(slot) => slot.get_or_insert_with(String::new),
                None => return,
            },
            _ => return,
        };
        target.push_str(text);
    }

    fn close(&mut self, tag: Tag, out: &mut SourceOutput) -> Result<(), FileError> {
        match tag {
            Tag::Header => {
                self.published_at = parse_created(&self.created_text).and_then(created_at);
                self.revision = self.revision_text.parse().ok();
            }
            Tag::Hour => {
                if let Some(hour) = self.hour.take() {
                    self.finish_hour(&hour, out)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The delivery date, or why the whole report is unusable.
    fn date(&mut self) -> Result<Date, FileError> {
        if let Some(date) = self.date {
            return Ok(date);
        }
        let reason = if self.date_text.is_empty() {
            "no <DeliveryDate> before the first <HourlyPriceComponents>".to_string()
        } else {
            format!(
                "<DeliveryDate> `{}` is not a date written YYYY-MM-DD",
                self.date_text
            )
        };
        let date = iso_date(self.date_text.as_bytes())
            .ok_or_else(|| self.context.error(FileErrorKind::Structure(reason)))?;
        self.date = Some(date);
        Ok(date)
    }

    /// The first hour shows whether IESO renamed an element: one file error, not 24 rejects.
    fn check_elements(&mut self, hour: &Hour) -> Result<(), FileError> {
        if self.checked_elements {
            return Ok(());
        }
        self.checked_elements = true;
        let required = [
            ("PricingHour", &hour.pricing_hour),
            ("ZonalPrice", &hour.zonal),
            ("LossPriceCapped", &hour.loss),
            ("CongestionPriceCapped", &hour.congestion),
        ];
        let missing: Vec<String> = required
            .iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(self.context.error(FileErrorKind::Header {
            expected: ELEMENTS.to_string(),
            found: hour.children.join(","),
            missing,
        }))
    }

    fn finish_hour(&mut self, hour: &Hour, out: &mut SourceOutput) -> Result<(), FileError> {
        self.check_elements(hour)?;
        let date = self.date()?;
        match self.observation(date, hour) {
            Ok(observation) => out.observations.push(observation),
            Err(reason) => out
                .rejects
                .push(self.context.reject(hour.line, &hour.raw(), reason)),
        }
        Ok(())
    }

    fn observation(&mut self, date: Date, hour: &Hour) -> Result<Observation, String> {
        let missing = |name: &str| format!("missing <{name}>");
        let text = hour
            .pricing_hour
            .as_deref()
            .ok_or_else(|| missing("PricingHour"))?;
        let hour_ending = text
            .parse::<u8>()
            .ok()
            .filter(|hour| (1..=24).contains(hour))
            .ok_or_else(|| format!("<PricingHour> `{text}` is not an hour 1-24"))?;
        let zonal = hour.zonal.as_deref().ok_or_else(|| missing("ZonalPrice"))?;
        let price = price_field(Some(zonal.as_bytes()), "ZonalPrice")?;
        let field = |value: &Option<String>, name: &str| match value {
            Some(text) => optional_price(Some(text.as_bytes()), name),
            None => Err(missing(name)),
        };
        let loss = field(&hour.loss, "LossPriceCapped")?;
        let congestion = field(&hour.congestion, "CongestionPriceCapped")?;
        let energy = energy_part(price, loss, congestion)?;
        if let Some(seen) = self.seen_hours.get_mut(usize::from(hour_ending)) {
            if *seen {
                return Err(format!("<PricingHour> {hour_ending} appears twice"));
            }
            *seen = true;
        }
        Ok(Observation::Price(PublishedPrice {
            market: Market::Ieso,
            product: self.product,
            location: self.location.clone(),
            location_type: LocationType::Zone,
            interval: NativeInterval::HourEnding {
                date,
                hour_ending,
                clock: clock(),
                occurrence: Occurrence::Unstated,
            },
            price,
            currency: Currency::CAD,
            unit: Unit::MegawattHour,
            components: Components {
                greenhouse_gas: None,
                energy,
                congestion,
                loss,
            },
            published_at: self.published_at,
            revision: self.revision,
            origin: self.context.origin(hour.line),
        }))
    }
}

/// `2026-05-27T12:31:16` (no offset).
fn parse_created(text: &str) -> Option<DateTime> {
    text.trim().parse::<DateTime>().ok()
}

fn check_root(element: &BytesStart<'_>, context: &Context<'_>) -> Result<(), FileError> {
    let name = element.local_name().into_inner().to_string();
    let doc_id = element
        .try_get_attribute("docID")
        .ok()
        .flatten()
        .map(|attribute| attribute.value.into_owned());
    match (name.as_str(), doc_id.as_deref()) {
        ("Document", None | Some(DOC_ID)) => Ok(()),
        ("Document", Some(other)) => Err(context.error(FileErrorKind::Structure(format!(
            "this is the IESO report `{other}`, not `{DOC_ID}`"
        )))),
        (other, _) => Err(context.error(FileErrorKind::Structure(format!(
            "expected root element <Document docID=\"{DOC_ID}\">, found <{other}>"
        )))),
    }
}

impl Format for IesoDaZonal {
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
        let mut report = Report {
            context: &context,
            product: self.product,
            published_at: None,
            revision: None,
            created_text: String::new(),
            revision_text: String::new(),
            date_text: String::new(),
            date: None,
            hour: None,
            checked_elements: false,
            seen_hours: [false; 25],
            location: Arc::from(LOCATION),
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
                    if !seen_root {
                        check_root(&element, &context)?;
                        seen_root = true;
                    }
                    let name = element.local_name().into_inner();
                    let tag = Tag::of(name);
                    let line = lines.at(reader.buffer_position());
                    report.open(tag, name, line, stack.last().copied());
                    if is_start {
                        stack.push(tag);
                    } else {
                        report.close(tag, out)?;
                    }
                }
                Event::End(_) => {
                    if let Some(tag) = stack.pop() {
                        report.close(tag, out)?;
                    }
                }
                Event::Text(text) => report.text(&stack, &text),
                Event::CData(text) => report.text(&stack, &text),
                Event::Eof => break,
                _ => {}
            }
        }
        if !seen_root {
            return Err(context.error(FileErrorKind::Structure(format!(
                "no <Document docID=\"{DOC_ID}\"> element"
            ))));
        }
        if let Some(open) = stack.last() {
            return Err(context.error(FileErrorKind::Syntax {
                line: lines.at(bytes.len() as u64),
                message: format!(
                    "the document ends inside an open element ({open:?}): truncated file?"
                ),
            }));
        }
        if !report.checked_elements {
            return Err(context.error(FileErrorKind::Structure(
                "the report has no <HourlyPriceComponents>".into(),
            )));
        }
        Ok(())
    }
}
