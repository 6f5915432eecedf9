//! CAISO OASIS LMP files: day-ahead `PRC_LMP` (`MARKET_RUN_ID` DAM, price column `MW`),
//! 15-minute `PRC_RTPD_LMP` (RTPD, `PRC`) and 5-minute `PRC_INTVL_LMP` (RTM, `VALUE`), as
//! the bare CSV or as the zip OASIS serves (`resultformat=6`). A zip may hold several CSVs
//! (a `grp_type=ALL` query gives one per `LMP_TYPE`); all are read as one file, each row's
//! origin naming its member (`file.zip!member.csv`) when there are several. A zip holding
//! no CSV (OASIS answers a failed query with an XML error report inside the zip), or one
//! that cannot be read, refuses the file.
//!
//! OASIS writes one row per `LMP_TYPE` (LMP, MCE, MCC, MCL, MGHG) per node and interval,
//! in no time order. Rows are grouped by (`INTERVALSTARTTIME_GMT`, `NODE`,
//! `MARKET_RUN_ID`) into one price: LMP the price, MCE energy, MCC congestion, MCL loss,
//! MGHG the greenhouse-gas component, and price = MCE + MCC + MCL + MGHG (2019 day-ahead
//! files have no MGHG rows: the component is then absent). A malformed value of any of the
//! five parts, a repeated part or a disagreeing interval end rejects that row and the
//! whole interval of that node (no price with a part silently missing); an interval with
//! no LMP row is rejected too. An unknown `LMP_TYPE` rejects only its row. Output is
//! sorted by interval start, then node.
//!
//! Time comes from the UTC columns `INTERVALSTARTTIME_GMT`/`INTERVALENDTIME_GMT`
//! ([`NativeInterval::Utc`]). The local `OPR_DT`/`OPR_HR` (Pacific hour ending 1-24, 25
//! for the repeated fall-back hour) and `OPR_INTERVAL` are not read by the parser; they
//! are exposed by [`operating_hours`] so tests check that both clocks agree.

use std::collections::HashMap;
use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Price, Product, PublishedPrice, Unit,
};
use jiff::Timestamp;

use super::common::{
    Context, Interner, iso_date, iso_timestamp, next_record, price_field, raw_text, require_columns,
};
use super::{FileError, Format};

mod zipped;

use zipped::documents;

/// `format = "caiso_oasis"`.
pub const NAME: &str = "caiso_oasis";

/// The version 2 header (v1 files put `OPR_INTERVAL` earlier and call the price `MW`;
/// `PRC_INTVL_LMP` calls it `VALUE`).
pub const HEADER: &str = "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,NODE_ID_XML,\
NODE_ID,NODE,MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,PRC,OPR_INTERVAL,GROUP";

/// CAISO's market clock, the one `OPR_DT`/`OPR_HR` are written in.
pub const ZONE: &str = "America/Los_Angeles";

const PRICE_COLUMN: &[&str] = &["PRC", "MW", "VALUE"];

/// Parser for CAISO OASIS LMP CSV files, bare or zipped.
#[derive(Clone, Debug, Default)]
pub struct CaisoOasis {
    product: Option<Product>,
}

impl CaisoOasis {
    /// A parser choosing the product from `MARKET_RUN_ID` (DAM day-ahead hourly, RTPD and
    /// HASP real-time 15-minute, RTM real-time 5-minute), unless `product` overrides it.
    pub fn new(product: Option<Product>) -> Self {
        CaisoOasis { product }
    }
}

/// `OPR_DT`/`OPR_HR` as an hour-ending interval on the Pacific clock: `OPR_HR` 25 is the
/// repeated fall-back hour (hour ending 2, [`Occurrence::Repeated`]), and `OPR_HR` 2 is
/// then its first occurrence. For 15- and 5-minute rows this is the hour that contains
/// the interval.
pub fn operating_hour(opr_dt: &str, opr_hr: &str) -> Result<NativeInterval, String> {
    let date = iso_date(opr_dt.as_bytes())
        .ok_or_else(|| format!("`OPR_DT` `{opr_dt}` is not a date written YYYY-MM-DD"))?;
    let hour: u8 = opr_hr
        .trim()
        .parse()
        .map_err(|_| format!("`OPR_HR` `{opr_hr}` is not an hour number"))?;
    let (hour_ending, occurrence) = match hour {
        25 => (2, Occurrence::Repeated),
        2 => (2, Occurrence::First),
        1..=24 => (hour, Occurrence::Unstated),
        _ => return Err(format!("`OPR_HR` {hour} is outside 1..=25")),
    };
    Ok(NativeInterval::HourEnding {
        date,
        hour_ending,
        clock: MarketClock::zone(ZONE),
        occurrence,
    })
}

/// One row's local operating hour beside its UTC interval, from [`operating_hours`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatingHourRow {
    /// The file, or `file!member` for one of several CSVs in a zip.
    pub file: Arc<str>,
    /// 1-based line.
    pub line: u64,
    /// `NODE`.
    pub node: String,
    /// `LMP_TYPE`.
    pub lmp_type: String,
    /// `INTERVALSTARTTIME_GMT`, if it parses.
    pub interval_start: Option<Timestamp>,
    /// `INTERVALENDTIME_GMT`, if it parses.
    pub interval_end: Option<Timestamp>,
    /// `OPR_DT`/`OPR_HR` per [`operating_hour`], or why not.
    pub operating_hour: Result<NativeInterval, String>,
    /// `OPR_INTERVAL`, if the column exists and holds a number: 0 in day-ahead files, else
    /// the 15- or 5-minute interval within the operating hour counted from 1.
    pub opr_interval: Option<u8>,
}

/// Every row's `OPR_DT`/`OPR_HR` as an hour-ending interval, beside its UTC interval, from
/// a bare CSV or every CSV of a zip.
pub fn operating_hours(bytes: &[u8], file: &Arc<str>) -> Result<Vec<OperatingHourRow>, FileError> {
    let source: Arc<str> = Arc::from("");
    let outer = Context::new(NAME, file, &source);
    let mut rows = Vec::new();
    for (member, content) in documents(&outer, bytes)? {
        let context = Context::new(NAME, &member, &source);
        let (mut reader, mut record) = context.open_csv(&content)?;
        let [start, end, date, hour, node, lmp_type] = require_columns(
            &context,
            &record,
            HEADER,
            [
                &["INTERVALSTARTTIME_GMT"],
                &["INTERVALENDTIME_GMT"],
                &["OPR_DT"],
                &["OPR_HR"],
                &["NODE"],
                &["LMP_TYPE"],
            ],
        )?;
        let interval = super::common::find_column(&record, &["OPR_INTERVAL"]);
        while let Some((line, _, _)) = next_record(&mut reader, &mut record) {
            let text =
                |index: usize| String::from_utf8_lossy(record.get(index).unwrap_or_default());
            rows.push(OperatingHourRow {
                file: member.clone(),
                line,
                node: text(node).into_owned(),
                lmp_type: text(lmp_type).into_owned(),
                interval_start: iso_timestamp(&text(start)),
                interval_end: iso_timestamp(&text(end)),
                operating_hour: operating_hour(&text(date), &text(hour)),
                opr_interval: interval.and_then(|index| text(index).trim().parse().ok()),
            });
        }
    }
    Ok(rows)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Lmp,
    Energy,
    Congestion,
    Loss,
    Ghg,
}

impl Part {
    fn from_type(text: &[u8]) -> Option<Part> {
        Some(match text.trim_ascii() {
            b"LMP" => Part::Lmp,
            b"MCE" => Part::Energy,
            b"MCC" => Part::Congestion,
            b"MCL" => Part::Loss,
            b"MGHG" => Part::Ghg,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Part::Lmp => "LMP",
            Part::Energy => "MCE",
            Part::Congestion => "MCC",
            Part::Loss => "MCL",
            Part::Ghg => "MGHG",
        }
    }
}

/// Where a row came from: the document (index into the file's CSVs) and 1-based line.
#[derive(Clone, Copy)]
struct At {
    document: usize,
    line: u64,
}

/// The rows of one node and interval, as they arrive.
struct Group {
    end: Timestamp,
    product: Product,
    first: At,
    first_raw: (u64, u64),
    // (value, where) per part, in `Part` order.
    parts: [Option<(Price, At)>; 5],
    /// A row of this interval was malformed (and rejected with the reason): the interval
    /// is not written.
    rejected: bool,
}

type GroupKey = (Timestamp, Arc<str>, Arc<str>);

struct Columns {
    width: usize,
    start: usize,
    end: usize,
    node: usize,
    run: usize,
    lmp_type: usize,
    price: usize,
    price_name: String,
}

/// CAISO's naming: `TH_` trading hubs (`TH_NP15_GEN-APND`), `DLAP_` default load
/// aggregation points (zones); everything else is a pricing node.
fn location_type(node: &str) -> LocationType {
    if node.starts_with("TH_") {
        LocationType::Hub
    } else if node.starts_with("DLAP_") {
        LocationType::Zone
    } else {
        LocationType::Node
    }
}

fn product_of_run(run: &str) -> Option<Product> {
    Some(match run.to_ascii_uppercase().as_str() {
        "DAM" => Product::DayAheadHourly,
        "RTPD" | "HASP" => Product::RealTime15Min,
        "RTM" => Product::RealTime5Min,
        _ => return None,
    })
}

impl CaisoOasis {
    /// Adds one row to its group. A row whose node and interval cannot be told is rejected
    /// alone; once they can, a malformed part rejects the whole interval too.
    fn add_row(
        &self,
        columns: &Columns,
        record: &ByteRecord,
        at: At,
        raw: (u64, u64),
        names: &mut Interner,
        groups: &mut HashMap<GroupKey, Group>,
    ) -> Result<(), String> {
        if record.len() != columns.width {
            return Err(format!(
                "expected {} fields, found {} (truncated or malformed row)",
                columns.width,
                record.len()
            ));
        }
        let field = |index: usize| record.get(index).unwrap_or_default();
        let time = |index: usize, column: &str| {
            std::str::from_utf8(field(index))
                .ok()
                .and_then(iso_timestamp)
                .ok_or_else(|| {
                    format!(
                        "`{column}` `{}` is not a time like 2023-09-18T00:00:00-00:00",
                        String::from_utf8_lossy(field(index))
                    )
                })
        };
        let interval_start = time(columns.start, "INTERVALSTARTTIME_GMT")?;
        let interval_end = time(columns.end, "INTERVALENDTIME_GMT")?;
        if interval_end <= interval_start {
            return Err(format!(
                "interval ends ({interval_end}) before it starts ({interval_start})"
            ));
        }
        let node = names
            .get(field(columns.node))
            .ok_or("`NODE` is not UTF-8 text")?;
        if node.is_empty() {
            return Err("empty `NODE`".into());
        }
        let run = names
            .get(field(columns.run))
            .ok_or("`MARKET_RUN_ID` is not UTF-8 text")?;
        let product = match self.product {
            Some(product) => product,
            None => product_of_run(&run).ok_or_else(|| {
                format!(
                    "unknown `MARKET_RUN_ID` `{run}` (known: DAM, RTPD, HASP, RTM); \
                     set `product` in the pipeline to read it"
                )
            })?,
        };
        let type_text = field(columns.lmp_type);
        let part = Part::from_type(type_text).ok_or_else(|| {
            format!(
                "unknown `LMP_TYPE` `{}`; expected LMP, MCE, MCC, MCL or MGHG",
                String::from_utf8_lossy(type_text)
            )
        })?;
        let group = groups
            .entry((interval_start, node.clone(), run))
            .or_insert_with(|| Group {
                end: interval_end,
                product,
                first: at,
                first_raw: raw,
                parts: [None; 5],
                rejected: false,
            });
        let checked = (|| {
            if group.end != interval_end {
                return Err(format!(
                    "`INTERVALENDTIME_GMT` {interval_end} differs from {} on line {} for the \
                     same node and start",
                    group.end, group.first.line
                ));
            }
            if let Some((_, previous)) = group.parts[part as usize] {
                return Err(format!(
                    "duplicate `LMP_TYPE` {} (first on line {})",
                    part.name(),
                    previous.line
                ));
            }
            price_field(record.get(columns.price), &columns.price_name)
                .map_err(|reason| format!("{} row: {reason}", part.name()))
        })();
        match checked {
            Ok(price) => {
                group.parts[part as usize] = Some((price, at));
                Ok(())
            }
            Err(reason) => {
                group.rejected = true;
                Err(format!(
                    "{reason}; the interval of {node} at {interval_start} is rejected whole"
                ))
            }
        }
    }
}

impl Format for CaisoOasis {
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
        let outer = Context::new(NAME, file, source);
        let documents = documents(&outer, bytes)?;
        let mut names = Interner;
        let mut groups = HashMap::new();
        for (document, (member, content)) in documents.iter().enumerate() {
            let context = Context::new(NAME, member, source);
            let (mut reader, mut record) = context.open_csv(content)?;
            let [start, end, node, run, lmp_type, price] = require_columns(
                &context,
                &record,
                HEADER,
                [
                    &["INTERVALSTARTTIME_GMT"],
                    &["INTERVALENDTIME_GMT"],
                    &["NODE"],
                    &["MARKET_RUN_ID"],
                    &["LMP_TYPE"],
                    PRICE_COLUMN,
                ],
            )?;
            let columns = Columns {
                width: record.len(),
                start,
                end,
                node,
                run,
                lmp_type,
                price,
                price_name: String::from_utf8_lossy(record.get(price).unwrap_or_default())
                    .trim()
                    .to_owned(),
            };
            while let Some((line, from, to)) = next_record(&mut reader, &mut record) {
                let at = At { document, line };
                if let Err(reason) =
                    self.add_row(&columns, &record, at, (from, to), &mut names, &mut groups)
                {
                    out.rejects
                        .push(context.reject(line, &raw_text(content, from, to), reason));
                }
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        for ((interval_start, node, _), group) in groups {
            if group.rejected {
                continue;
            }
            let value = |part: Part| group.parts[part as usize].map(|(price, _)| price);
            let Some((price, at)) = group.parts[Part::Lmp as usize] else {
                let (member, content) = &documents[group.first.document];
                let (from, to) = group.first_raw;
                out.rejects.push(Context::new(NAME, member, source).reject(
                    group.first.line,
                    &raw_text(content, from, to),
                    format!(
                        "no `LMP_TYPE` LMP row for node {node} at {interval_start}: the \
                         components cannot stand without the price"
                    ),
                ));
                continue;
            };
            let context = Context::new(NAME, &documents[at.document].0, source);
            out.observations.push(Observation::Price(PublishedPrice {
                market: Market::Caiso,
                product: group.product,
                location_type: location_type(&node),
                location: node,
                interval: NativeInterval::Utc {
                    start: interval_start,
                    end: group.end,
                },
                price,
                currency: Currency::USD,
                unit: Unit::MegawattHour,
                components: Components {
                    energy: value(Part::Energy),
                    congestion: value(Part::Congestion),
                    loss: value(Part::Loss),
                    greenhouse_gas: value(Part::Ghg),
                },
                published_at: None,
                revision: None,
                origin: context.origin(at.line),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
