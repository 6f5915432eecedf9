//! NYISO LBMP CSV from the MIS archive (`mis.nyiso.com/public/csv/`): day-ahead
//! `YYYYMMDDdamlbmp_zone.csv` / `YYYYMMDDdamlbmp_gen.csv` (hourly), real-time
//! `YYYYMMDDrealtime_zone.csv` / `YYYYMMDDrealtime_gen.csv` (5-minute) and the time-weighted
//! real-time hour `YYYYMMDDrtlbmp_zone.csv` / `_gen.csv`.
//!
//! Header `Time Stamp,Name,PTID,LBMP ($/MWHr),Marginal Cost Losses ($/MWHr),Marginal Cost
//! Congestion ($/MWHr)`, quoted in real-time files and bare in day-ahead ones; files before
//! mid-2016 cut the last name to `Marginal Cost Congestion ($/MWH` (also accepted: `($/MWH)`
//! and a stray trailing `"`). A `Time Zone` column (`EST`/`EDT`), which NYISO's load files
//! carry, is used when present. The product comes from the file name (`damlbmp`: day-ahead
//! hourly, `rtlbmp`: real-time hourly, anything else: real-time 5-minute); `_gen` files
//! price generator buses (`NODE`), the others zones and external proxies (`ZONE`).
//!
//! Stamps are local America/New_York wall-clock times, `MM/DD/YYYY HH:MM[:SS]`: 5- and
//! 15-minute files stamp the interval END, hourly files the interval START.
//!
//! NYISO publishes congestion with the opposite sign (a negative value raises the price),
//! so the congestion component is the negated raw value and
//! `energy = LBMP - losses + congestion_raw`, keeping `price = energy + congestion + loss`.
//!
//! On the DST fall-back day the wall-clock hour 01:00-01:59 occurs twice, and NYISO writes
//! it twice without saying which is which: day-ahead files list the `01:00` block twice,
//! real-time files run `01:00:00 .. 01:55:00` (EDT) and then start again at `01:00:00`
//! (EST). Rows are in time order per location, so a first pass finds, for each location
//! and day, the line where its fold-hour stamps stop increasing: fold rows before it are
//! the first occurrence, rows from it on the repeated one. This also places the irregular
//! off-schedule stamps NYISO sometimes writes once (e.g. `01:02:48` after the clock fell
//! back). A fold stamp of a location whose times never go back stays unstated (the
//! normalizer refuses a still-ambiguous time rather than guess). A `Time Zone` column, when
//! there is one, decides instead: `EDT` is the first occurrence, `EST` the repeated one.

use std::collections::HashMap;
use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, MarketClock, NativeInterval, Observation,
    Occurrence, Product, PublishedPrice, Unit,
};
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::common::{
    Context, Interner, csv_reader, file_name, find_column, next_record, price_field,
    product_minutes, raw_text, require_columns, us_datetime,
};
use super::{FileError, Format, FormatLookupError};

/// `format = "nyiso_lbmp"`.
pub const NAME: &str = "nyiso_lbmp";

/// The header NYISO publishes.
pub const HEADER: &str = "\"Time Stamp\",\"Name\",\"PTID\",\"LBMP ($/MWHr)\",\
\"Marginal Cost Losses ($/MWHr)\",\"Marginal Cost Congestion ($/MWHr)\"";

/// NYISO's market clock.
pub const ZONE: &str = "America/New_York";

/// Parser for NYISO LBMP CSV files.
#[derive(Clone, Debug)]
pub struct NyisoLbmp {
    product: Option<Product>,
    zone: Option<TimeZone>,
}

impl NyisoLbmp {
    /// A parser reading real-time 5-minute files (interval-ending stamps), day-ahead hourly
    /// ones (interval-beginning) when the file name contains `damlbmp`, or real-time hourly
    /// ones (interval-beginning) when it contains `rtlbmp`, unless `product` overrides it
    /// (hourly and day-ahead products stamp the start, 5- and 15-minute ones the end).
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        if let Some(product) = product
            && product_minutes(product).is_none()
        {
            return Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "NYISO publishes 5-minute, 15-minute and hourly intervals only".into(),
            });
        }
        Ok(NyisoLbmp {
            product,
            zone: TimeZone::get(ZONE).ok(),
        })
    }

    fn product_for(&self, file: &str) -> (Product, Anchor, u32) {
        let name = file_name(file).to_ascii_lowercase();
        let product = self.product.unwrap_or(if name.contains("damlbmp") {
            Product::DayAheadHourly
        } else if name.contains("rtlbmp") {
            Product::RealTimeHourly
        } else {
            Product::RealTime5Min
        });
        let minutes = product_minutes(product).unwrap_or(60);
        let anchor = if minutes >= 60 || product.as_str().starts_with("DAY_AHEAD") {
            Anchor::Start
        } else {
            Anchor::End
        };
        (product, anchor, minutes)
    }

    fn in_fold(&self, time: DateTime) -> bool {
        self.zone.as_ref().is_some_and(|zone| {
            matches!(
                zone.to_ambiguous_timestamp(time).offset(),
                AmbiguousOffset::Fold { .. }
            )
        })
    }
}

struct Columns {
    width: usize,
    stamp: usize,
    name: usize,
    lbmp: usize,
    losses: usize,
    congestion: usize,
    time_zone: Option<usize>,
}

struct Rows<'a> {
    parser: &'a NyisoLbmp,
    context: &'a Context<'a>,
    columns: Columns,
    product: Product,
    anchor: Anchor,
    minutes: u32,
    location_type: LocationType,
    clock: MarketClock,
    interner: Interner,
    /// For each (location, day) whose fall-back-hour stamps go back in time, the line where
    /// they first do (found by a first pass when no `Time Zone` column says which is which).
    fall_back: HashMap<(Arc<str>, Date), u64>,
}

/// Whether a wall-clock time can fall in America/New_York's fall-back hour at all.
fn may_repeat(time: DateTime) -> bool {
    matches!(time.month(), 10 | 11) && time.hour() <= 2
}

/// For each (location, day), the first line at which the stamps of the fall-back hour stop
/// increasing in file order: where the clock went back and the repeated hour begins.
fn fall_back_lines(
    parser: &NyisoLbmp,
    bytes: &[u8],
    columns: &Columns,
    interner: &mut Interner,
) -> HashMap<(Arc<str>, Date), u64> {
    let mut last: HashMap<(Arc<str>, Date), DateTime> = HashMap::new();
    let mut lines = HashMap::new();
    let mut reader = csv_reader(bytes, false);
    let mut record = ByteRecord::new();
    while let Some((line, _, _)) = next_record(&mut reader, &mut record) {
        let Some(time) = record.get(columns.stamp).and_then(us_datetime) else {
            continue;
        };
        if !may_repeat(time) || !parser.in_fold(time) {
            continue;
        }
        let Some(location) = record.get(columns.name).and_then(|name| interner.get(name)) else {
            continue;
        };
        let key = (location, time.date());
        if lines.contains_key(&key) {
            continue;
        }
        if let Some(previous) = last.insert(key.clone(), time)
            && time <= previous
        {
            lines.insert(key, line);
        }
    }
    lines
}

impl Rows<'_> {
    fn occurrence(
        &self,
        record: &ByteRecord,
        line: u64,
        location: &Arc<str>,
        time: DateTime,
    ) -> Result<Occurrence, String> {
        let stated = self
            .columns
            .time_zone
            .and_then(|index| record.get(index))
            .map(<[u8]>::trim_ascii)
            .filter(|zone| !zone.is_empty());
        match stated {
            Some(zone) if zone.eq_ignore_ascii_case(b"EDT") => Ok(Occurrence::First),
            Some(zone) if zone.eq_ignore_ascii_case(b"EST") => Ok(if self.parser.in_fold(time) {
                Occurrence::Repeated
            } else {
                Occurrence::Unstated
            }),
            Some(zone) => Err(format!(
                "`Time Zone` `{}` is neither EST nor EDT",
                String::from_utf8_lossy(zone)
            )),
            // Only the small hours of October and November can repeat; skip the map otherwise.
            None if may_repeat(time) && self.parser.in_fold(time) => {
                match self.fall_back.get(&(location.clone(), time.date())) {
                    Some(&from) if line >= from => Ok(Occurrence::Repeated),
                    Some(_) => Ok(Occurrence::First),
                    None => Ok(Occurrence::Unstated),
                }
            }
            None => Ok(Occurrence::Unstated),
        }
    }

    fn row(&mut self, record: &ByteRecord, line: u64) -> Result<Observation, String> {
        let columns = &self.columns;
        if record.len() != columns.width {
            return Err(format!(
                "expected {} fields, found {} (truncated or malformed row)",
                columns.width,
                record.len()
            ));
        }
        let lbmp = price_field(record.get(columns.lbmp), "LBMP")?;
        let loss = price_field(record.get(columns.losses), "Marginal Cost Losses")?;
        let congestion_raw =
            price_field(record.get(columns.congestion), "Marginal Cost Congestion")?;
        let stamp = record.get(columns.stamp).unwrap_or_default();
        let time = us_datetime(stamp).ok_or_else(|| {
            format!(
                "`Time Stamp` `{}` is not a time written MM/DD/YYYY HH:MM:SS",
                String::from_utf8_lossy(stamp)
            )
        })?;
        let location = self
            .interner
            .get(record.get(columns.name).unwrap_or_default())
            .ok_or("`Name` is not UTF-8 text")?;
        if location.is_empty() {
            return Err("empty `Name`".into());
        }
        let energy = lbmp
            .checked_sub(loss)
            .and_then(|energy| energy.checked_add(congestion_raw))
            .ok_or("LBMP - losses + congestion is out of range")?;
        let occurrence = self.occurrence(record, line, &location, time)?;
        Ok(Observation::Price(PublishedPrice {
            market: gridflow_engine::record::Market::Nyiso,
            product: self.product,
            location,
            location_type: self.location_type,
            interval: NativeInterval::Local {
                time,
                anchor: self.anchor,
                minutes: self.minutes,
                clock: self.clock.clone(),
                occurrence,
            },
            price: lbmp,
            currency: Currency::USD,
            unit: Unit::MegawattHour,
            components: Components {
                greenhouse_gas: None,
                energy: Some(energy),
                congestion: Some(congestion_raw.negate()),
                loss: Some(loss),
            },
            published_at: None,
            revision: None,
            origin: self.context.origin(line),
        }))
    }
}

impl Format for NyisoLbmp {
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
        let (mut reader, mut record) = context.open_csv(bytes)?;
        let [stamp, name, lbmp, losses, congestion] = require_columns(
            &context,
            &record,
            HEADER,
            [
                &["Time Stamp"],
                &["Name"],
                &["LBMP ($/MWHr)", "LBMP ($/MWH)"],
                &[
                    "Marginal Cost Losses ($/MWHr)",
                    "Marginal Cost Losses ($/MWH)",
                ],
                &[
                    "Marginal Cost Congestion ($/MWHr)",
                    "Marginal Cost Congestion ($/MWH)",
                    // Files before mid-2016 cut the name short.
                    "Marginal Cost Congestion ($/MWH",
                    "Marginal Cost Congestion ($/MWH\"",
                ],
            ],
        )?;
        let (product, anchor, minutes) = self.product_for(file);
        let location_type = if file_name(file).to_ascii_lowercase().contains("_gen") {
            LocationType::Node
        } else {
            LocationType::Zone
        };
        let mut rows = Rows {
            parser: self,
            context: &context,
            columns: Columns {
                width: record.len(),
                stamp,
                name,
                lbmp,
                losses,
                congestion,
                time_zone: find_column(&record, &["Time Zone"]),
            },
            product,
            anchor,
            minutes,
            location_type,
            clock: MarketClock::zone(ZONE),
            interner: Interner,
            fall_back: HashMap::new(),
        };
        if rows.columns.time_zone.is_none() {
            rows.fall_back = fall_back_lines(
                self,
                context.content(bytes)?,
                &rows.columns,
                &mut rows.interner,
            );
        }
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            match rows.row(&record, line) {
                Ok(observation) => out.observations.push(observation),
                Err(reason) => {
                    let raw = raw_text(bytes, start, stop);
                    out.rejects.push(context.reject(line, &raw, reason));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
