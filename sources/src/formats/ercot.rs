//! ERCOT market information system (MIS) price reports, as zipped or bare CSV.
//!
//! | format | report | header |
//! |---|---|---|
//! | `ercot_dam_spp` | NP4-190-CD DAM settlement point prices (`…DAMSPNP4190.csv`) | `DeliveryDate,HourEnding,SettlementPoint,SettlementPointPrice,DSTFlag` |
//! | `ercot_rt_spp` | NP6-905-CD real-time settlement point prices, 15 minutes (`…SPPHLZNP6905_YYYYMMDD_HHMM.csv`) | `DeliveryDate,DeliveryHour,DeliveryInterval,SettlementPointName,SettlementPointType,SettlementPointPrice,DSTFlag` |
//! | `ercot_sced_lmp` | NP6-788-CD LMPs by resource node, load zone and hub, per SCED run (`…LMPSROSNODENP6788_YYYYMMDD_HHMMSS.csv`) | `SCEDTimestamp,RepeatedHourFlag,SettlementPoint,LMP` |
//! | `ercot_rt_adders` | NP6-323-CD real-time ORDC and reliability deployment price adders, per SCED run | `SCEDTimestamp,RepeatedHourFlag,BatchID,SystemLambda,PRC,RTORPA,RTOFFPA,…,RTORDPA,…` |
//!
//! MIS delivers each report as a zip holding one CSV (`…_csv.zip`); a file starting with the
//! zip magic bytes is unpacked first (see `archive.rs`), anything else is read as the CSV.
//! Row rejects then name the line within the CSV.
//!
//! Time is Central prevailing time (America/Chicago) and stays as published: the engine
//! resolves it. `DeliveryDate` is `MM/DD/YYYY`. Day-ahead `HourEnding` `01:00`..`24:00` is a
//! [`NativeInterval::HourEnding`]; real-time `DeliveryHour` 1-24 (hour ending) and
//! `DeliveryInterval` 1-4 become the 15-minute interval starting at
//! `(DeliveryHour-1):00 + (DeliveryInterval-1)×15 min`; a SCED `SCEDTimestamp`
//! (`MM/DD/YYYY HH:MM:SS`) starts a 5-minute interval. `DSTFlag`/`RepeatedHourFlag` `Y`
//! marks the repeated hour of the fall-back day ([`Occurrence::Repeated`]); `N` on a time
//! that falls in that hour is its first occurrence ([`Occurrence::First`]), and elsewhere
//! [`Occurrence::Unstated`]. An empty flag is unstated, so the engine refuses an ambiguous
//! time rather than guess. The spring-forward day simply has no hour ending 03:00.
//!
//! Location types come from ERCOT's names: `HB_` hubs, `LZ_` load zones, `DC_` DC ties (load
//! zones in settlement, `LZ_DC`), anything else a resource node. Real-time files also state
//! a `SettlementPointType`, which wins when known (see [`settlement_point_type`]);
//! energy-weighted load zones (`LZEW`, `LZ_DCEW`) share their name with the plain zone, so
//! they are published as `<name>_EW`, as gridstatus does.
//!
//! Prices are USD/MWh with no components: ERCOT publishes one price per settlement point,
//! and real-time settlement point prices already include the ORDC and reliability
//! deployment adders. Nothing is clamped: the $5,000/MWh cap and negative prices are kept.

pub mod adders;
pub mod dam;
pub mod rt;
pub mod sced;

pub use adders::{ADDER_COLUMNS, ErcotRtAdders};
pub use dam::ErcotDamSpp;
pub use rt::ErcotRtSpp;
pub use sced::ErcotScedLmp;

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Price, Product, PublishedPrice, Unit,
};
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::archive::single_member;
use super::common::{Context, Interner, next_record, raw_text};
use super::{FileError, FormatLookupError};

/// ERCOT's market clock: Central prevailing time.
pub const ZONE: &str = "America/Chicago";

/// Refuses a pipeline `product` other than the one a report publishes: each report's
/// layout fixes its interval.
fn own_product(
    format: &'static str,
    own: Product,
    requested: Option<Product>,
) -> Result<Product, FormatLookupError> {
    match requested {
        None => Ok(own),
        Some(product) if product == own => Ok(own),
        Some(product) => Err(FormatLookupError::Product {
            format,
            product,
            reason: format!("this report publishes {own} prices only"),
        }),
    }
}

/// The location type ERCOT's naming implies: `HB_` hub, `LZ_` load zone, `DC_` DC tie
/// (settled as a load zone, type `LZ_DC`, so [`LocationType::Zone`]), else a resource node.
pub fn location_type(name: &str) -> LocationType {
    if name.starts_with("HB_") {
        LocationType::Hub
    } else if name.starts_with("LZ_") || name.starts_with("DC_") {
        LocationType::Zone
    } else {
        LocationType::Node
    }
}

/// A real-time `SettlementPointType`: its location type, and whether it is an
/// energy-weighted zone price (published under `<name>_EW`). `None` for a type ERCOT has not
/// documented, which then falls back to [`location_type`].
///
/// | type | meaning | location type |
/// |---|---|---|
/// | `HU` | hub | hub |
/// | `SH` | hub bus average (`HB_BUSAVG`) | hub |
/// | `AH` | hub average (`HB_HUBAVG`) | hub |
/// | `LZ` | load zone | zone |
/// | `LZ_DC` | DC tie load zone (`DC_E`, `DC_L`, …) | zone |
/// | `LZEW`, `LZ_DCEW` | energy-weighted load zone / DC tie | zone, named `<name>_EW` |
/// | `RN`, `PCCRN`, `LCCRN`, `PUN` | resource nodes (normal, combined-cycle physical and logical, private use network) | node |
pub fn settlement_point_type(text: &str) -> Option<(LocationType, bool)> {
    const TYPES: &[(&str, LocationType, bool)] = &[
        ("HU", LocationType::Hub, false),
        ("SH", LocationType::Hub, false),
        ("AH", LocationType::Hub, false),
        ("LZ", LocationType::Zone, false),
        ("LZ_DC", LocationType::Zone, false),
        ("LZEW", LocationType::Zone, true),
        ("LZ_DCEW", LocationType::Zone, true),
        ("RN", LocationType::Node, false),
        ("PCCRN", LocationType::Node, false),
        ("LCCRN", LocationType::Node, false),
        ("PUN", LocationType::Node, false),
    ];
    let text = text.trim();
    TYPES
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(text))
        .map(|&(_, kind, weighted)| (kind, weighted))
}

/// Whether a wall-clock time can fall in the fall-back hour at all (a cheap filter before
/// asking the time zone).
fn may_repeat(time: DateTime) -> bool {
    matches!(time.month(), 10 | 11) && time.hour() <= 2
}

/// The per-file state every report's row function shares.
struct Rows<'a> {
    context: &'a Context<'a>,
    product: Product,
    width: usize,
    zone: Option<&'a TimeZone>,
    clock: MarketClock,
    interner: Interner,
    // Every row of a file repeats the same date: parse it once.
    last_date: Option<(Vec<u8>, Date)>,
    name_buffer: Vec<u8>,
}

impl Rows<'_> {
    fn check_width(&self, record: &ByteRecord) -> Result<(), String> {
        if record.len() == self.width {
            Ok(())
        } else {
            Err(format!(
                "expected {} fields, found {} (truncated or malformed row)",
                self.width,
                record.len()
            ))
        }
    }

    /// `MM/DD/YYYY`.
    fn date(&mut self, field: &[u8], column: &str) -> Result<Date, String> {
        if let Some((text, date)) = &self.last_date
            && text == field
        {
            return Ok(*date);
        }
        let date = us_date(field).ok_or_else(|| {
            format!(
                "`{column}` `{}` is not a date written MM/DD/YYYY",
                String::from_utf8_lossy(field)
            )
        })?;
        self.last_date = Some((field.to_vec(), date));
        Ok(date)
    }

    fn in_fold(&self, time: DateTime) -> bool {
        may_repeat(time)
            && self.zone.is_some_and(|zone| {
                matches!(
                    zone.to_ambiguous_timestamp(time).offset(),
                    AmbiguousOffset::Fold { .. }
                )
            })
    }

    /// `Y` the repeated hour; `N` the first occurrence where `wall` (the interval's start)
    /// is ambiguous, else unstated; empty unstated.
    fn occurrence(&self, flag: &[u8], column: &str, wall: DateTime) -> Result<Occurrence, String> {
        match flag.trim_ascii() {
            b"Y" | b"y" => Ok(Occurrence::Repeated),
            b"N" | b"n" if self.in_fold(wall) => Ok(Occurrence::First),
            b"N" | b"n" | b"" => Ok(Occurrence::Unstated),
            other => Err(format!(
                "`{column}` `{}` is neither Y nor N",
                String::from_utf8_lossy(other)
            )),
        }
    }

    /// The interned location name, with `suffix` appended.
    fn location(&mut self, field: &[u8], column: &str, suffix: &[u8]) -> Result<Arc<str>, String> {
        let field = field.trim_ascii();
        if field.is_empty() {
            return Err(format!("empty `{column}`"));
        }
        let name = if suffix.is_empty() {
            self.interner.get(field)
        } else {
            self.name_buffer.clear();
            self.name_buffer.extend_from_slice(field);
            self.name_buffer.extend_from_slice(suffix);
            self.interner.get(&self.name_buffer)
        };
        name.ok_or_else(|| format!("`{column}` is not UTF-8 text"))
    }

    fn price(
        &self,
        location: Arc<str>,
        location_type: LocationType,
        interval: NativeInterval,
        price: Price,
        line: u64,
    ) -> Observation {
        Observation::Price(PublishedPrice {
            market: Market::Ercot,
            product: self.product,
            location,
            location_type,
            interval,
            price,
            currency: Currency::USD,
            unit: Unit::MegawattHour,
            components: Components::default(),
            published_at: None,
            revision: None,
            origin: self.context.origin(line),
        })
    }
}

/// `MM/DD/YYYY` (one-digit month or day tolerated).
fn us_date(text: &[u8]) -> Option<Date> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let mut parts = text.split('/');
    let number = |part: Option<&str>| -> Option<i16> {
        let part = part?;
        if part.is_empty() || part.len() > 4 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let month = i8::try_from(number(parts.next())?).ok()?;
    let day = i8::try_from(number(parts.next())?).ok()?;
    let year = number(parts.next())?;
    if parts.next().is_some() {
        return None;
    }
    Date::new(year, month, day).ok()
}

/// A small whole number in a field (`DeliveryHour`, `DeliveryInterval`).
fn small_number(field: &[u8]) -> Option<u8> {
    let field = field.trim_ascii();
    if field.is_empty() || field.len() > 3 || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

/// One report's columns and row reader.
trait Report {
    /// The format name, for errors.
    const NAME: &'static str;
    /// Column indices found in the header.
    type Columns;

    /// Locates the columns, or says which are missing.
    fn columns(context: &Context<'_>, header: &ByteRecord) -> Result<Self::Columns, FileError>;

    /// Reads one row into `out` (all of it, or nothing and a reason).
    fn row(
        rows: &mut Rows<'_>,
        columns: &Self::Columns,
        record: &ByteRecord,
        line: u64,
        out: &mut Vec<Observation>,
    ) -> Result<(), String>;
}

/// The read loop every report shares: unzip, header, rows, rejects.
fn read<R: Report>(
    product: Product,
    zone: Option<&TimeZone>,
    bytes: &[u8],
    file: &Arc<str>,
    source: &Arc<str>,
    out: &mut SourceOutput,
) -> Result<(), FileError> {
    let context = Context::new(R::NAME, file, source);
    let unpacked = single_member(&context, bytes)?;
    let content = context.content(&unpacked)?;
    let (mut reader, mut record) = context.open_csv(content)?;
    let columns = R::columns(&context, &record)?;
    let mut rows = Rows {
        context: &context,
        product,
        width: record.len(),
        zone,
        clock: MarketClock::zone(ZONE),
        interner: Interner,
        last_date: None,
        name_buffer: Vec::new(),
    };
    let mut lines = Lines::default();
    while let Some((_, start, stop)) = next_record(&mut reader, &mut record) {
        let line = lines.line_at(content, start);
        if let Err(reason) = R::row(&mut rows, &columns, &record, line, &mut out.observations) {
            let raw = raw_text(content, start, stop);
            out.rejects.push(context.reject(line, &raw, reason));
        }
    }
    Ok(())
}

/// 1-based line numbers from byte offsets. The csv crate's own count is one short on CRLF
/// files (a record's position is taken before the `\n` of the previous line's `\r\n`), so
/// lines are counted here from the bytes, once, front to back.
#[derive(Default)]
struct Lines {
    counted_to: usize,
    newlines: u64,
}

impl Lines {
    /// The line of the record whose bytes start at `start` (after any line breaks there).
    fn line_at(&mut self, content: &[u8], start: u64) -> u64 {
        let start = usize::try_from(start)
            .unwrap_or(usize::MAX)
            .min(content.len());
        let first = content
            .get(start..)
            .unwrap_or_default()
            .iter()
            .position(|&byte| byte != b'\r' && byte != b'\n')
            .map_or(content.len(), |offset| start + offset);
        if first > self.counted_to {
            let between = content.get(self.counted_to..first).unwrap_or_default();
            self.newlines += between.iter().filter(|&&byte| byte == b'\n').count() as u64;
            self.counted_to = first;
        }
        self.newlines + 1
    }
}

/// America/Chicago from the bundled database (`None` if missing: then no time is in the
/// fold, and the engine reports the unknown zone for every row).
fn central_time() -> Option<TimeZone> {
    TimeZone::get(ZONE).ok()
}

#[cfg(test)]
mod tests;
