//! PJM locational marginal prices from the Data Miner 2 API (`api.pjm.com/api/v1/<feed>`),
//! JSON.
//!
//! Four feeds are read, each told apart by its name in the file name:
//!
//! | feed | product | interval |
//! |---|---|---|
//! | `da_hrl_lmps` | `DAY_AHEAD_HOURLY` | 60 min |
//! | `rt_hrl_lmps` | `REAL_TIME_HOURLY` | 60 min |
//! | `rt_fivemin_hrl_lmps` (verified) | `REAL_TIME_5_MIN_FINAL` | 5 min |
//! | `rt_unverified_fivemin_lmps` | `REAL_TIME_5_MIN_PRELIM` | 5 min |
//!
//! A file whose name names no feed is day-ahead hourly when its items carry `total_lmp_da`;
//! one with `total_lmp_rt` needs `product` in the pipeline (hourly and 5-minute real-time
//! items look alike), and is refused without it. `product` overrides the feed's product in
//! any case.
//!
//! The document is the API answer `{"links": [...], "items": [...], "searchSpecification":
//! {...}, "totalRows": n}`, or a bare array of items. Each item is one price:
//! `datetime_beginning_utc` (UTC, interval-beginning, written without `Z`) gives the
//! interval ([`NativeInterval::Utc`]); where `datetime_beginning_ept` (US Eastern prevailing
//! time, no offset) is present too it must be the same instant in `America/New_York`, or
//! the item is rejected. `total_lmp_da`/`total_lmp_rt` is the price in USD/MWh;
//! `system_energy_price_*`, `congestion_price_*` and `marginal_loss_price_*` are its
//! components where the query asked for them. Queries may restrict the fields (`Fields=`):
//! only the time, `pnode_name` and the total are required.
//!
//! The location is `pnode_name`; `pnode_id` is not part of the key. `type` maps to the
//! location type by [`location_type`]. `version_nbr` is the revision: an item with
//! `row_is_current: false` is an older version, still emitted, and the current one (higher
//! `version_nbr`) wins in normalize.
//!
//! Numbers: serde_json reads a JSON number with a fraction as `f64`; the price is parsed
//! from its shortest round-trip text, which is the published text for any number of up to
//! 15 significant digits (PJM writes six decimals: `545.530000` is exactly 545.530000).
//!
//! Items are streamed from the text without building a JSON tree, and strings are borrowed.
//! The first item stands for the file's columns: a required field missing there is a
//! header error for the whole file; later bad items are rejects. An item's `line` in its
//! origin is its 1-based ordinal in `items` (API answers are one line of text), and a
//! reject's `raw` is the item rebuilt from the fields read. See `docs/markets/pjm.md`.

mod json;

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Price, Product,
    PublishedPrice, Unit,
};
use jiff::Timestamp;
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use serde::de::DeserializeSeed;

use self::json::{DA, Document, Item, ItemSink, RT, Scalar, Shape};
use super::common::{
    Context, Interner, add_minutes, file_name, iso_date, iso_timestamp, product_minutes, utc,
};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "pjm_dataminer"`.
pub const NAME: &str = "pjm_dataminer";

/// The clock of `datetime_beginning_ept`: US Eastern prevailing time.
pub const ZONE: &str = "America/New_York";

/// A Data Miner feed of LMPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    /// `da_hrl_lmps`: day-ahead hourly LMPs.
    DayAheadHourly,
    /// `rt_hrl_lmps`: real-time hourly LMPs (settlement, verified).
    RealTimeHourly,
    /// `rt_fivemin_hrl_lmps`: verified real-time 5-minute LMPs.
    RealTimeFiveMinute,
    /// `rt_unverified_fivemin_lmps`: unverified (preliminary) real-time 5-minute LMPs.
    RealTimeFiveMinuteUnverified,
}

impl Feed {
    /// Every feed, in the order file names are matched (longest names first).
    pub const ALL: [Feed; 4] = [
        Feed::RealTimeFiveMinuteUnverified,
        Feed::RealTimeFiveMinute,
        Feed::RealTimeHourly,
        Feed::DayAheadHourly,
    ];

    /// The feed's name in the API path, e.g. `da_hrl_lmps`.
    pub const fn name(self) -> &'static str {
        match self {
            Feed::DayAheadHourly => "da_hrl_lmps",
            Feed::RealTimeHourly => "rt_hrl_lmps",
            Feed::RealTimeFiveMinute => "rt_fivemin_hrl_lmps",
            Feed::RealTimeFiveMinuteUnverified => "rt_unverified_fivemin_lmps",
        }
    }

    /// The product its prices are.
    pub const fn product(self) -> Product {
        match self {
            Feed::DayAheadHourly => Product::DayAheadHourly,
            Feed::RealTimeHourly => Product::RealTimeHourly,
            Feed::RealTimeFiveMinute => Product::RealTime5MinFinal,
            Feed::RealTimeFiveMinuteUnverified => Product::RealTime5MinPrelim,
        }
    }

    /// Its interval length in minutes.
    pub const fn minutes(self) -> u32 {
        match self {
            Feed::DayAheadHourly | Feed::RealTimeHourly => 60,
            Feed::RealTimeFiveMinute | Feed::RealTimeFiveMinuteUnverified => 5,
        }
    }

    /// Which `_da`/`_rt` columns its items have.
    const fn side(self) -> usize {
        match self {
            Feed::DayAheadHourly => DA,
            _ => RT,
        }
    }

    /// The feed whose name the file name contains (ASCII case-insensitively).
    pub fn from_file_name(path: &str) -> Option<Feed> {
        let name = file_name(path).to_ascii_lowercase();
        Feed::ALL
            .into_iter()
            .find(|feed| name.contains(feed.name()))
    }
}

/// The location type of a Data Miner `type`: `ZONE` and `RESIDUAL_METERED_EDC` are zones,
/// `HUB` is a hub, and everything else (`AGGREGATE`, `INTERFACE`, `GEN`, `LOAD`, `EHV`,
/// `EXT`, ... and items without `type`) is a pricing node.
pub fn location_type(kind: Option<&str>) -> LocationType {
    match kind.map(str::trim) {
        Some(kind)
            if kind.eq_ignore_ascii_case("ZONE")
                || kind.eq_ignore_ascii_case("RESIDUAL_METERED_EDC") =>
        {
            LocationType::Zone
        }
        Some(kind) if kind.eq_ignore_ascii_case("HUB") => LocationType::Hub,
        _ => LocationType::Node,
    }
}

/// Parser for PJM Data Miner 2 LMP JSON.
#[derive(Clone, Debug, Default)]
pub struct PjmDataMiner {
    product: Option<(Product, u32)>,
}

impl PjmDataMiner {
    /// A parser choosing the product from the feed named in each file's name, unless
    /// `product` overrides it (an hourly or 5-minute product).
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        let product = product
            .map(|product| match product_minutes(product) {
                Some(minutes @ (60 | 5)) => Ok((product, minutes)),
                _ => Err(FormatLookupError::Product {
                    format: NAME,
                    product,
                    reason: "PJM Data Miner LMP feeds are hourly or 5-minute".into(),
                }),
            })
            .transpose()?;
        Ok(PjmDataMiner { product })
    }
}

/// The column names of one side, for reasons.
const TOTAL: [&str; 2] = ["total_lmp_da", "total_lmp_rt"];
const ENERGY: [&str; 2] = ["system_energy_price_da", "system_energy_price_rt"];
const CONGESTION: [&str; 2] = ["congestion_price_da", "congestion_price_rt"];
const LOSS: [&str; 2] = ["marginal_loss_price_da", "marginal_loss_price_rt"];

/// The per-file state of the item loop.
struct Rows<'a> {
    context: &'a Context<'a>,
    out: &'a mut SourceOutput,
    /// Product and interval minutes, once known.
    product: Option<(Product, i64)>,
    /// `DA` or `RT`, once known.
    side: Option<usize>,
    /// Why the file is refused, when an item showed it cannot be read.
    fatal: Option<FileError>,
    /// Whether the first item object's fields were checked (the JSON file's "header").
    fields_checked: bool,
    zone: Option<TimeZone>,
    interner: Interner,
    ordinal: u64,
    number: String,
    // Consecutive items share their time text: parse it once.
    last_utc: String,
    last_start: Option<(Timestamp, DateTime)>,
}

impl ItemSink for Rows<'_> {
    fn wants_keys(&self) -> bool {
        !self.fields_checked
    }

    fn item(&mut self, item: Item<'_>) -> Result<(), ()> {
        self.ordinal += 1;
        if !self.fields_checked && item.not_object.is_none() {
            self.fields_checked = true;
            if let Err(error) = self.check_fields(&item) {
                self.fatal = Some(error);
                return Err(());
            }
        }
        match self.observation(&item) {
            Ok(observation) => self.out.observations.push(observation),
            Err(_) if self.fatal.is_some() => return Err(()),
            Err(reason) => {
                let reject = self.context.reject(self.ordinal, &item.raw(), reason);
                self.out.rejects.push(reject);
            }
        }
        Ok(())
    }
}

impl Rows<'_> {
    /// The first item stands for the file's columns, as a CSV header would: a required
    /// field missing there (renamed, or a query that left it out) refuses the whole file.
    fn check_fields(&self, item: &Item<'_>) -> Result<(), FileError> {
        let total = match self.side {
            Some(side) => TOTAL[side],
            None if item.total[RT].is_present() => TOTAL[RT],
            None => TOTAL[DA],
        };
        let required = [
            ("datetime_beginning_utc", item.utc.is_present()),
            ("pnode_name", item.pnode_name.is_present()),
            (
                total,
                item.total.iter().any(Scalar::is_present) && {
                    self.side.is_none_or(|side| item.total[side].is_present())
                },
            ),
        ];
        let missing: Vec<String> = required
            .iter()
            .filter(|(_, present)| !present)
            .map(|(name, _)| (*name).to_string())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(self.context.error(FileErrorKind::Header {
            expected: required.map(|(name, _)| name).join(","),
            found: item.keys.join(","),
            missing,
        }))
    }

    /// The item's side and the file's product, learning them from the first item when
    /// neither the file name nor the pipeline said.
    fn feed(&mut self, item: &Item<'_>) -> Result<(usize, Product, i64), String> {
        let side = match self.side {
            Some(side) => side,
            None => {
                let side = if item.total[DA].is_present() {
                    DA
                } else if item.total[RT].is_present() {
                    RT
                } else {
                    return Err("no `total_lmp_da` or `total_lmp_rt` in this item".into());
                };
                self.side = Some(side);
                side
            }
        };
        let (product, minutes) = match self.product {
            Some(product) => product,
            None if side == DA => {
                self.product = Some((Product::DayAheadHourly, 60));
                (Product::DayAheadHourly, 60)
            }
            None => {
                let message = format!(
                    "cannot tell the feed of `{}`: its items have `total_lmp_rt`, which both \
                     hourly and 5-minute real-time feeds publish; name the file after its feed \
                     ({}) or set `product` in the pipeline",
                    file_name(self.context.file),
                    Feed::ALL.map(Feed::name).join(", ")
                );
                self.fatal = Some(
                    self.context
                        .error(FileErrorKind::Structure(message.clone())),
                );
                return Err(message);
            }
        };
        Ok((side, product, minutes))
    }

    fn observation(&mut self, item: &Item<'_>) -> Result<Observation, String> {
        if let Some(kind) = item.not_object {
            return Err(format!("an element of `items` is {kind}, not an object"));
        }
        let (side, product, minutes) = self.feed(item)?;
        let price = match self.price(&item.total[side], TOTAL[side])? {
            Some(price) => price,
            None if item.total[side].is_present() => {
                return Err(format!("`{}` is null: no price", TOTAL[side]));
            }
            None => {
                let other = TOTAL[1 - side];
                let hint = if item.total[1 - side].is_present() {
                    format!(" (the item has `{other}`: is this file another feed?)")
                } else {
                    String::new()
                };
                return Err(format!("missing `{}`{hint}", TOTAL[side]));
            }
        };
        let components = Components {
            greenhouse_gas: None,
            energy: self.price(&item.energy[side], ENERGY[side])?,
            congestion: self.price(&item.congestion[side], CONGESTION[side])?,
            loss: self.price(&item.loss[side], LOSS[side])?,
        };
        let location = match &item.pnode_name {
            Scalar::Str(name) => self
                .interner
                .get(name.as_bytes())
                .filter(|name| !name.is_empty())
                .ok_or("empty `pnode_name`")?,
            Scalar::Absent => return Err("missing `pnode_name`".into()),
            other => return Err(format!("`pnode_name` is {}", other.describe())),
        };
        let location_type = match &item.kind {
            Scalar::Str(kind) => location_type(Some(kind)),
            Scalar::Absent | Scalar::Null => location_type(None),
            other => return Err(format!("`type` is {}, not a string", other.describe())),
        };
        let (start, local) = self.start(&item.utc)?;
        self.check_ept(&item.ept, start, local)?;
        let end = add_minutes(start, minutes).ok_or("interval end out of range")?;
        let revision = match &item.version_nbr {
            Scalar::Int(value) => Some(*value),
            Scalar::UInt(value) => Some(
                i64::try_from(*value).map_err(|_| format!("`version_nbr` {value} is too large"))?,
            ),
            Scalar::Absent | Scalar::Null => None,
            other => {
                return Err(format!(
                    "`version_nbr` is {}, not an integer",
                    other.describe()
                ));
            }
        };
        match &item.row_is_current {
            Scalar::Bool(false) if revision.is_none() => {
                return Err(
                    "`row_is_current` is false but there is no `version_nbr`: a superseded \
                     version cannot be ordered against the current one"
                        .into(),
                );
            }
            Scalar::Bool(_) | Scalar::Absent | Scalar::Null => {}
            other => {
                return Err(format!(
                    "`row_is_current` is {}, not true or false",
                    other.describe()
                ));
            }
        }
        Ok(Observation::Price(PublishedPrice {
            market: Market::Pjm,
            product,
            location,
            location_type,
            interval: NativeInterval::Utc { start, end },
            price,
            currency: Currency::USD,
            unit: Unit::MegawattHour,
            components,
            published_at: None,
            revision,
            origin: self.context.origin(self.ordinal),
        }))
    }

    /// A price field: `None` when absent or null.
    fn price(&mut self, value: &Scalar<'_>, column: &str) -> Result<Option<Price>, String> {
        match value {
            Scalar::Absent | Scalar::Null => Ok(None),
            _ if value.number_text(&mut self.number) => self
                .number
                .parse::<Price>()
                .map(Some)
                .map_err(|error| format!("`{column}`: {error}")),
            other => Err(format!("`{column}` is {}, not a number", other.describe())),
        }
    }

    /// The interval start and its US Eastern wall-clock time.
    fn start(&mut self, value: &Scalar<'_>) -> Result<(Timestamp, DateTime), String> {
        let text = match value {
            Scalar::Str(text) => text.as_ref(),
            Scalar::Absent => return Err("missing `datetime_beginning_utc`".into()),
            other => {
                return Err(format!(
                    "`datetime_beginning_utc` is {}, not a time",
                    other.describe()
                ));
            }
        };
        if let Some(start) = self.last_start
            && self.last_utc == text
        {
            return Ok(start);
        }
        let start = civil(text)
            .and_then(utc)
            .or_else(|| iso_timestamp(text))
            .ok_or_else(|| {
                format!("`datetime_beginning_utc` `{text}` is not a time like 2024-02-20T05:00:00")
            })?;
        let zone = self
            .zone
            .as_ref()
            .ok_or_else(|| format!("time zone `{ZONE}` is unavailable"))?;
        let start = (start, zone.to_datetime(start));
        self.last_utc.clear();
        self.last_utc.push_str(text);
        self.last_start = Some(start);
        Ok(start)
    }

    /// `datetime_beginning_ept`, where present, must be `start` on US Eastern clocks.
    fn check_ept(
        &self,
        value: &Scalar<'_>,
        start: Timestamp,
        local: DateTime,
    ) -> Result<(), String> {
        let text = match value {
            Scalar::Str(text) => text.as_ref(),
            Scalar::Absent | Scalar::Null => return Ok(()),
            other => {
                return Err(format!(
                    "`datetime_beginning_ept` is {}, not a time",
                    other.describe()
                ));
            }
        };
        let ept = civil(text).ok_or_else(|| {
            format!("`datetime_beginning_ept` `{text}` is not a time like 2024-02-20T00:00:00")
        })?;
        if ept == local {
            Ok(())
        } else {
            Err(format!(
                "`datetime_beginning_ept` {ept} disagrees with `datetime_beginning_utc` \
                 {start}, which is {local} in US Eastern prevailing time ({ZONE})"
            ))
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DDTHH:MM` (also with a space), parsed by hand because
/// every item has it; other civil layouts (fractional seconds) go through jiff.
fn civil(text: &str) -> Option<DateTime> {
    fast_civil(text.trim().as_bytes()).or_else(|| text.trim().parse().ok())
}

fn fast_civil(bytes: &[u8]) -> Option<DateTime> {
    let two = |at: usize| -> Option<i8> {
        match bytes.get(at..at + 2)? {
            [tens @ b'0'..=b'9', ones @ b'0'..=b'9'] => {
                i8::try_from((tens - b'0') * 10 + (ones - b'0')).ok()
            }
            _ => None,
        }
    };
    if !matches!(bytes.len(), 16 | 19)
        || !matches!(bytes.get(10), Some(b'T' | b' '))
        || bytes.get(13) != Some(&b':')
    {
        return None;
    }
    let second = if bytes.len() == 19 {
        if bytes.get(16) != Some(&b':') {
            return None;
        }
        two(17)?
    } else {
        0
    };
    let date = iso_date(bytes.get(..10)?)?;
    let time = Time::new(two(11)?, two(14)?, second, 0).ok()?;
    Some(DateTime::from_parts(date, time))
}

fn syntax_error(context: &Context<'_>, error: &serde_json::Error) -> FileError {
    if error.is_data() {
        context.error(FileErrorKind::Structure(error.to_string()))
    } else {
        context.error(FileErrorKind::Syntax {
            line: error.line() as u64,
            message: error.to_string(),
        })
    }
}

impl Format for PjmDataMiner {
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
        let feed = Feed::from_file_name(file);
        let product = match (self.product, feed) {
            (Some((product, minutes)), _) => Some((product, i64::from(minutes))),
            (None, Some(feed)) => Some((feed.product(), i64::from(feed.minutes()))),
            (None, None) => None,
        };
        let mut rows = Rows {
            context: &context,
            out,
            product,
            side: feed.map(Feed::side),
            fatal: None,
            fields_checked: false,
            zone: TimeZone::get(ZONE).ok(),
            interner: Interner,
            ordinal: 0,
            number: String::new(),
            last_utc: String::new(),
            last_start: None,
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let shape = Document(&mut rows)
            .deserialize(&mut deserializer)
            .and_then(|shape| deserializer.end().map(|()| shape));
        let shape = match shape {
            Ok(shape) => shape,
            // An item showed the file cannot be read (the sink stopped the document), or
            // the JSON is malformed.
            Err(error) => {
                return Err(rows
                    .fatal
                    .take()
                    .unwrap_or_else(|| syntax_error(&context, &error)));
            }
        };
        let expected = "expected the Data Miner answer {\"links\": [...], \"items\": [...], ...} \
                        or a JSON array of items";
        match shape {
            Shape::Envelope | Shape::Array => Ok(()),
            Shape::NoItems => Err(context.error(FileErrorKind::Structure(format!(
                "{expected}, found an object without `items`"
            )))),
            Shape::Other(kind) => Err(context.error(FileErrorKind::Structure(format!(
                "{expected}, found {kind}"
            )))),
        }
    }
}

#[cfg(test)]
mod tests;
