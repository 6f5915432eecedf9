//! NYISO LBMP CSV (`*rtlbmp_zone.csv`, `*damlbmp_zone.csv`, and the `_gen` variants).
//!
//! Header `"Time Stamp","Name","PTID","LBMP ($/MWHr)","Marginal Cost Losses ($/MWHr)",
//! "Marginal Cost Congestion ($/MWHr)"` (older files write `($/MWH)`), sometimes with a
//! `"Time Zone"` column holding `EST`/`EDT`. Stamps are local America/New_York wall-clock
//! times: real-time files stamp the interval END, day-ahead files the interval START.
//!
//! NYISO publishes congestion with the opposite sign (a negative value raises the price),
//! so the congestion component is the negated raw value and
//! `energy = LBMP - losses + congestion_raw`, keeping `price = energy + congestion + loss`.
//!
//! On the DST fall-back day a wall-clock time occurs twice. A `Time Zone` of `EST` on such
//! a time marks the repeated occurrence and `EDT` the first; without the column, a first
//! pass finds the stamps a location has twice: the first row of such a pair is the first
//! occurrence and the second the repeated one. A stamp in the fold written only once stays
//! unstated (the normalizer refuses a still-ambiguous time rather than guess).

use std::collections::HashSet;
use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, MarketClock, NativeInterval, Observation,
    Occurrence, Product, PublishedPrice, Unit,
};
use jiff::civil::DateTime;
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
    /// A parser reading real-time 5-minute files (interval-ending stamps), or day-ahead
    /// hourly ones (interval-beginning) when the file name contains `damlbmp`, unless
    /// `product` overrides it (`DAY_AHEAD_*` stamps the start, every other product the end).
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
        let product = self.product.unwrap_or_else(|| {
            if file_name(file).to_ascii_lowercase().contains("damlbmp") {
                Product::DayAheadHourly
            } else {
                Product::RealTime5Min
            }
        });
        let anchor = if product.as_str().starts_with("DAY_AHEAD") {
            Anchor::Start
        } else {
            Anchor::End
        };
        (product, anchor, product_minutes(product).unwrap_or(60))
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
    /// (location, stamp) pairs the file writes twice: the fall-back hour, when no
    /// `Time Zone` column says which is which (found by a first pass over the file).
    repeated: HashSet<(Arc<str>, DateTime)>,
    seen: HashSet<(Arc<str>, DateTime)>,
}

/// Whether a wall-clock time can fall in America/New_York's fall-back hour at all.
fn may_repeat(time: DateTime) -> bool {
    matches!(time.month(), 10 | 11) && time.hour() <= 2
}

/// The (location, stamp) pairs written more than once among the times that may repeat.
fn repeated_stamps(
    bytes: &[u8],
    columns: &Columns,
    interner: &mut Interner,
) -> HashSet<(Arc<str>, DateTime)> {
    let mut once = HashSet::new();
    let mut twice = HashSet::new();
    let mut reader = csv_reader(bytes, false);
    let mut record = ByteRecord::new();
    while next_record(&mut reader, &mut record).is_some() {
        let time = record.get(columns.stamp).and_then(us_datetime);
        let location = record.get(columns.name).and_then(|name| interner.get(name));
        if let (Some(time), Some(location)) = (time.filter(|t| may_repeat(*t)), location)
            && !once.insert((location.clone(), time))
        {
            twice.insert((location, time));
        }
    }
    twice
}

impl Rows<'_> {
    fn occurrence(
        &mut self,
        record: &ByteRecord,
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
            // Only the small hours of October and November can repeat; skip the sets otherwise.
            None if may_repeat(time) => {
                let key = (location.clone(), time);
                if !self.repeated.contains(&key) {
                    Ok(Occurrence::Unstated)
                } else if self.seen.insert(key) {
                    Ok(Occurrence::First)
                } else {
                    Ok(Occurrence::Repeated)
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
        let occurrence = self.occurrence(record, &location, time)?;
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
            repeated: HashSet::new(),
            seen: HashSet::new(),
        };
        if rows.columns.time_zone.is_none() {
            rows.repeated =
                repeated_stamps(context.content(bytes)?, &rows.columns, &mut rows.interner);
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
