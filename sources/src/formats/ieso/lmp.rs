//! `ieso_rt_lmp`: IESO real-time energy LMP by pricing location, the CSV report
//! `RealtimeEnergyLMP` of the renewed market (since 2025-05-01). One file per delivery hour,
//! `PUB_RealtimeEnergyLMP_YYYYMMDDHH.csv` (HH = delivery hour 01-24; the archive also keeps
//! versions `..._vN.csv`, and `PUB_RealtimeEnergyLMP.csv` is the latest hour).
//!
//! ```text
//! CREATED AT 2025/11/02 00:04:37 FOR 2025/11/02
//! Delivery Hour,Interval,Pricing Location,LMP,Energy Loss Price,Energy Congestion Price
//! 1,1,ABITIBISF-LT.AG_T1,28.41,-0.95,1.12
//! ```
//!
//! The first line is a preamble: the creation time and the delivery date, both IESO time
//! (EST). The rows carry no date: it comes from the preamble's `FOR` date, or, for a file
//! without the preamble, from the `YYYYMMDD` in its name. `Delivery Hour` (1-24) and
//! `Interval` (1-12) give the five-minute interval starting at
//! `(hour - 1):00 + (interval - 1) × 5 min` EST ([`NativeInterval::Local`], anchor start,
//! on [`clock`]).
//!
//! `LMP` is the price, `Energy Loss Price` the loss part and `Energy Congestion Price` the
//! congestion part; energy is derived. Some publications suffix node names with `:LMP`
//! (gridstatus strips it too): it is removed so a node keeps one name. Names ending `:PZ`
//! (aggregated pricing zones such as `BRUCE_GEN:PZ`) are zones, `:HUB` hubs, every other
//! name a node. The preamble's creation time is the publication time, and it alone orders
//! versions: IESO's unversioned file is always the latest and its `_vN` files earlier
//! ones, so the `_vN` number cannot serve as a revision next to an unversioned file.
//!
//! The day-ahead report `DAHourlyEnergyLMP` ([`super::da_lmp`], `ieso_da_lmp`) has the same
//! preamble and columns without `Interval`; both formats are read by [`parse_report`], which
//! takes the differences from a [`Report`].

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, Market, NativeInterval, Observation, Occurrence,
    Product, PublishedPrice, Unit,
};
use jiff::Timestamp;
use jiff::civil::{Date, DateTime};

use super::super::common::{
    Context, Interner, file_name, find_column, iso_date, next_record, optional_price, price_field,
    product_minutes, raw_text, require_columns,
};
use super::super::{FileError, FileErrorKind, Format, FormatLookupError};
use super::{clock, created_at, energy_part};

/// `format = "ieso_rt_lmp"`.
pub const NAME: &str = "ieso_rt_lmp";

/// The header IESO publishes (after the preamble line).
pub const HEADER: &str =
    "Delivery Hour,Interval,Pricing Location,LMP,Energy Loss Price,Energy Congestion Price";

/// The preamble line's layout.
pub const PREAMBLE: &str = "CREATED AT YYYY/MM/DD HH:MM:SS FOR YYYY/MM/DD";

/// Parser for IESO `RealtimeEnergyLMP` CSV files.
#[derive(Clone, Debug)]
pub struct IesoRtLmp {
    product: Product,
}

impl IesoRtLmp {
    /// A parser for `REAL_TIME_5_MIN` prices, or `product` (a five-minute one) instead.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None => Ok(IesoRtLmp {
                product: Product::RealTime5Min,
            }),
            Some(product) if product_minutes(product) == Some(5) => Ok(IesoRtLmp { product }),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the report has five-minute intervals only".into(),
            }),
        }
    }
}

/// `YYYY/MM/DD`.
fn slash_date(text: &str) -> Option<Date> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes.get(4) != Some(&b'/') || bytes.get(7) != Some(&b'/') {
        return None;
    }
    iso_date(text.replace('/', "-").as_bytes())
}

/// `YYYY/MM/DD HH:MM:SS`.
fn slash_datetime(text: &str) -> Option<DateTime> {
    let (date, time) = text.trim().split_once(' ')?;
    let date = slash_date(date)?;
    let time = time.trim().parse::<jiff::civil::Time>().ok()?;
    Some(date.to_datetime(time))
}

/// The preamble: (creation time, delivery date), or `None` if the line is not one.
/// `Err` when it starts like a preamble but does not follow [`PREAMBLE`].
pub fn preamble(line: &str) -> Result<Option<(Option<DateTime>, Date)>, String> {
    let line = line.trim();
    let Some(rest) = line
        .get(..10)
        .filter(|start| start.eq_ignore_ascii_case("CREATED AT"))
        .and_then(|_| line.get(10..))
    else {
        return Ok(None);
    };
    let bad = || format!("the first line `{line}` is not `{PREAMBLE}`");
    let (created, delivery) = rest.split_once(" FOR ").ok_or_else(bad)?;
    let delivery = delivery
        .split_whitespace()
        .next()
        .and_then(slash_date)
        .ok_or_else(bad)?;
    Ok(Some((slash_datetime(created), delivery)))
}

/// The delivery date and version in a name like `PUB_RealtimeEnergyLMP_2025110224_v3.csv`.
pub fn name_parts(path: &str) -> (Option<Date>, Option<i64>) {
    let name = file_name(path);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let mut date = None;
    let mut version = None;
    for part in stem.split('_') {
        let digits = part.bytes().all(|b| b.is_ascii_digit());
        if digits && (part.len() == 8 || part.len() == 10) {
            let text = format!("{}-{}-{}", &part[0..4], &part[4..6], &part[6..8]);
            date = date.or_else(|| iso_date(text.as_bytes()));
        } else if let Some(number) = part.strip_prefix('v').or_else(|| part.strip_prefix('V')) {
            version = number.parse().ok().or(version);
        }
    }
    (date, version)
}

/// How the delivery time is written in a report of this family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// `Delivery Hour` and `Interval` 1-12: five-minute intervals (`RealtimeEnergyLMP`).
    FiveMinute,
    /// `Delivery Hour` only, hour ending (`DAHourlyEnergyLMP`).
    Hourly,
}

/// What differs between the CSV LMP reports: the format name, the published header and
/// the time layout.
#[derive(Clone, Copy, Debug)]
pub(super) struct Report {
    pub(super) name: &'static str,
    pub(super) header: &'static str,
    pub(super) layout: Layout,
}

struct Columns {
    width: usize,
    hour: usize,
    /// `None` for [`Layout::Hourly`].
    interval: Option<usize>,
    location: usize,
    lmp: usize,
    loss: usize,
    congestion: usize,
}

struct Rows<'a> {
    context: &'a Context<'a>,
    columns: Columns,
    product: Product,
    date: Date,
    published_at: Option<Timestamp>,
    revision: Option<i64>,
    interner: Interner,
}

fn small_number(field: Option<&[u8]>, column: &str, range: (u8, u8)) -> Result<u8, String> {
    let text = field
        .and_then(|field| std::str::from_utf8(field).ok())
        .unwrap_or_default()
        .trim();
    text.parse::<u8>()
        .ok()
        .filter(|number| (range.0..=range.1).contains(number))
        .ok_or_else(|| {
            format!(
                "`{column}` `{text}` is not a whole number {}-{}",
                range.0, range.1
            )
        })
}

fn location_type(name: &str) -> LocationType {
    if name.ends_with(":PZ") {
        LocationType::Zone
    } else if name.ends_with(":HUB") {
        LocationType::Hub
    } else {
        LocationType::Node
    }
}

impl Rows<'_> {
    fn row(&mut self, record: &ByteRecord, line: u64) -> Result<Observation, String> {
        let columns = &self.columns;
        if record.len() != columns.width {
            return Err(format!(
                "expected {} fields, found {} (truncated or malformed row)",
                columns.width,
                record.len()
            ));
        }
        let hour = small_number(record.get(columns.hour), "Delivery Hour", (1, 24))?;
        let interval = match columns.interval {
            Some(column) => Some(small_number(record.get(column), "Interval", (1, 12))?),
            None => None,
        };
        let price = price_field(record.get(columns.lmp), "LMP")?;
        let loss = optional_price(record.get(columns.loss), "Energy Loss Price")?;
        let congestion = optional_price(record.get(columns.congestion), "Energy Congestion Price")?;
        let energy = energy_part(price, loss, congestion)?;
        let name = record
            .get(columns.location)
            .unwrap_or_default()
            .trim_ascii();
        let name = name.strip_suffix(b":LMP").unwrap_or(name);
        let location = self
            .interner
            .get(name)
            .ok_or("`Pricing Location` is not UTF-8 text")?;
        if location.is_empty() {
            return Err("empty `Pricing Location`".into());
        }
        let interval = match interval {
            // Five-minute interval `interval` of hour `hour`, anchored at its start.
            Some(interval) => NativeInterval::Local {
                time: self.date.at(
                    i8::try_from(hour - 1).unwrap_or_default(),
                    i8::try_from((interval - 1) * 5).unwrap_or_default(),
                    0,
                    0,
                ),
                anchor: Anchor::Start,
                minutes: 5,
                clock: clock(),
                occurrence: Occurrence::Unstated,
            },
            None => NativeInterval::HourEnding {
                date: self.date,
                hour_ending: hour,
                clock: clock(),
                occurrence: Occurrence::Unstated,
            },
        };
        Ok(Observation::Price(PublishedPrice {
            market: Market::Ieso,
            product: self.product,
            location_type: location_type(&location),
            location,
            interval,
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
            origin: self.context.origin(line),
        }))
    }
}

impl Format for IesoRtLmp {
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
        let report = Report {
            name: NAME,
            header: HEADER,
            layout: Layout::FiveMinute,
        };
        parse_report(report, self.product, bytes, file, source, out)
    }
}

/// Locates the columns `report` needs in `header`.
fn columns(
    context: &Context<'_>,
    report: Report,
    header: &ByteRecord,
) -> Result<Columns, FileError> {
    const HOUR: &[&str] = &["Delivery Hour"];
    const INTERVAL: &[&str] = &["Interval"];
    const LOCATION: &[&str] = &["Pricing Location"];
    const LMP: &[&str] = &["LMP"];
    const LOSS: &[&str] = &["Energy Loss Price"];
    const CONGESTION: &[&str] = &["Energy Congestion Price"];
    let width = header.len();
    match report.layout {
        Layout::FiveMinute => {
            let [hour, interval, location, lmp, loss, congestion] = require_columns(
                context,
                header,
                report.header,
                [HOUR, INTERVAL, LOCATION, LMP, LOSS, CONGESTION],
            )?;
            Ok(Columns {
                width,
                hour,
                interval: Some(interval),
                location,
                lmp,
                loss,
                congestion,
            })
        }
        Layout::Hourly => {
            let [hour, location, lmp, loss, congestion] = require_columns(
                context,
                header,
                report.header,
                [HOUR, LOCATION, LMP, LOSS, CONGESTION],
            )?;
            // Rows of a five-minute report would each be read as a whole hour.
            if find_column(header, INTERVAL).is_some() {
                return Err(context.error(FileErrorKind::Structure(format!(
                    "the header has an `Interval` column: this is a five-minute report \
                     (format `{NAME}`), not `{}` (`{}`)",
                    report.header, report.name
                ))));
            }
            Ok(Columns {
                width,
                hour,
                interval: None,
                location,
                lmp,
                loss,
                congestion,
            })
        }
    }
}

/// Parses one CSV LMP report of this family (`RealtimeEnergyLMP`, `DAHourlyEnergyLMP`).
pub(super) fn parse_report(
    report: Report,
    product: Product,
    bytes: &[u8],
    file: &Arc<str>,
    source: &Arc<str>,
    out: &mut SourceOutput,
) -> Result<(), FileError> {
    let context = Context::new(report.name, file, source);
    let bytes = context.content(bytes)?;
    let first_end = bytes.iter().position(|&b| b == b'\n');
    let first_line = String::from_utf8_lossy(
        bytes
            .get(..first_end.unwrap_or(bytes.len()))
            .unwrap_or_default(),
    );
    let structure = |reason: String| context.error(FileErrorKind::Structure(reason));
    let (name_date, _version) = name_parts(file);
    // `skipped` lines precede the CSV: one for the preamble.
    let (rest, skipped, created, date) = match preamble(&first_line).map_err(structure)? {
        Some((created, date)) => {
            let rest = first_end
                .and_then(|end| bytes.get(end + 1..))
                .unwrap_or_default();
            (rest, 1, created, Some(date))
        }
        None => (bytes, 0, None, name_date),
    };
    let (mut reader, mut record) = context.open_csv(rest)?;
    let columns = columns(&context, report, &record)?;
    let date = date.ok_or_else(|| {
        structure(format!(
            "no `{PREAMBLE}` line and no YYYYMMDD date in the file name `{}`: the \
             delivery date is unknown",
            file_name(file)
        ))
    })?;
    let mut rows = Rows {
        context: &context,
        columns,
        product,
        date,
        published_at: created.and_then(created_at),
        revision: None,
        interner: Interner,
    };
    while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
        let line = line + skipped;
        match rows.row(&record, line) {
            Ok(observation) => out.observations.push(observation),
            Err(reason) => {
                let raw = raw_text(rest, start, stop);
                out.rejects.push(context.reject(line, &raw, reason));
            }
        }
    }
    Ok(())
}
