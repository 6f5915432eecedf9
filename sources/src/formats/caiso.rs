//! CAISO OASIS LMP CSV: day-ahead `PRC_LMP` (version 1 layout, price column `MW`),
//! 15-minute `PRC_RTPD_LMP` (version 2, `PRC`) and 5-minute `PRC_INTVL_LMP` (`VALUE`).
//!
//! OASIS writes one row per `LMP_TYPE` (LMP, MCE, MCC, MCL, MGHG) per node and interval,
//! in no time order. Rows are grouped by (`NODE`, `INTERVALSTARTTIME_GMT`,
//! `MARKET_RUN_ID`) into one price: LMP the price, MCE energy, MCC congestion, MCL loss.
//! The greenhouse-gas part (MGHG) is validated but not represented yet: the record model
//! has no GHG component, so `energy + congestion + loss` may differ from the price by it.
//! Output is sorted by interval start, then node.
//!
//! Time comes from the UTC columns. The local `OPR_DT`/`OPR_HR` (hour ending 1-24, with
//! 25 for the repeated fall-back hour) are exposed by [`operating_hours`] so tests can
//! check both agree.

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

/// `format = "caiso_oasis"`.
pub const NAME: &str = "caiso_oasis";

/// The version 2 header (v1 files put `OPR_INTERVAL` earlier and call the price `MW`).
pub const HEADER: &str = "INTERVALSTARTTIME_GMT,INTERVALENDTIME_GMT,OPR_DT,OPR_HR,NODE_ID_XML,\
NODE_ID,NODE,MARKET_RUN_ID,LMP_TYPE,XML_DATA_ITEM,PNODE_RESMRID,GRP_TYPE,POS,PRC,OPR_INTERVAL,GROUP";

/// CAISO's market clock, the one `OPR_DT`/`OPR_HR` are written in.
pub const ZONE: &str = "America/Los_Angeles";

const PRICE_COLUMN: &[&str] = &["PRC", "MW", "VALUE"];

/// Parser for CAISO OASIS LMP CSV files.
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

/// One row's local operating hour beside its UTC start, from [`operating_hours`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatingHourRow {
    /// 1-based line.
    pub line: u64,
    /// `NODE`.
    pub node: String,
    /// `LMP_TYPE`.
    pub lmp_type: String,
    /// `INTERVALSTARTTIME_GMT`, if it parses.
    pub interval_start: Option<Timestamp>,
    /// `OPR_DT`/`OPR_HR` per [`operating_hour`], or why not.
    pub operating_hour: Result<NativeInterval, String>,
}

/// Every row's `OPR_DT`/`OPR_HR` as an hour-ending interval, beside its UTC start.
pub fn operating_hours(bytes: &[u8], file: &Arc<str>) -> Result<Vec<OperatingHourRow>, FileError> {
    let source: Arc<str> = Arc::from("");
    let context = Context::new(NAME, file, &source);
    let (mut reader, mut record) = context.open_csv(bytes)?;
    let [start, date, hour, node, lmp_type] = require_columns(
        &context,
        &record,
        HEADER,
        [
            &["INTERVALSTARTTIME_GMT"],
            &["OPR_DT"],
            &["OPR_HR"],
            &["NODE"],
            &["LMP_TYPE"],
        ],
    )?;
    let mut rows = Vec::new();
    while let Some((line, _, _)) = next_record(&mut reader, &mut record) {
        let text = |index: usize| String::from_utf8_lossy(record.get(index).unwrap_or_default());
        rows.push(OperatingHourRow {
            line,
            node: text(node).into_owned(),
            lmp_type: text(lmp_type).into_owned(),
            interval_start: iso_timestamp(&text(start)),
            operating_hour: operating_hour(&text(date), &text(hour)),
        });
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
}

/// The rows of one node and interval, as they arrive.
struct Group {
    end: Timestamp,
    product: Product,
    first_line: u64,
    first_raw: (u64, u64),
    // (value, line) per part, in `Part` order.
    parts: [Option<(Price, u64)>; 5],
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
    fn add_row(
        &self,
        columns: &Columns,
        record: &ByteRecord,
        (line, start, stop): (u64, u64, u64),
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
        let type_text = field(columns.lmp_type);
        let part = Part::from_type(type_text).ok_or_else(|| {
            format!(
                "unknown `LMP_TYPE` `{}`; expected LMP, MCE, MCC, MCL or MGHG",
                String::from_utf8_lossy(type_text)
            )
        })?;
        let price = price_field(record.get(columns.price), "price")?;
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
        let group = groups
            .entry((interval_start, node.clone(), run))
            .or_insert_with(|| Group {
                end: interval_end,
                product,
                first_line: line,
                first_raw: (start, stop),
                parts: [None; 5],
            });
        if group.end != interval_end {
            return Err(format!(
                "`INTERVALENDTIME_GMT` {interval_end} differs from {} on line {} for the same \
                 node and start",
                group.end, group.first_line
            ));
        }
        let slot = &mut group.parts[part as usize];
        if let Some((_, previous)) = slot {
            return Err(format!(
                "duplicate `LMP_TYPE` {} for {node} at {interval_start} (first on line {previous})",
                String::from_utf8_lossy(type_text.trim_ascii())
            ));
        }
        *slot = Some((price, line));
        Ok(())
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
        let context = Context::new(NAME, file, source);
        let (mut reader, mut record) = context.open_csv(bytes)?;
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
        };
        let mut names = Interner;
        let mut groups = HashMap::new();
        while let Some(position) = next_record(&mut reader, &mut record) {
            if let Err(reason) = self.add_row(&columns, &record, position, &mut names, &mut groups)
            {
                let (line, start, stop) = position;
                out.rejects
                    .push(context.reject(line, &raw_text(bytes, start, stop), reason));
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        for ((interval_start, node, _), group) in groups {
            let value = |part: Part| group.parts[part as usize].map(|(price, _)| price);
            let Some((price, line)) = group.parts[Part::Lmp as usize] else {
                let (from, to) = group.first_raw;
                out.rejects.push(context.reject(
                    group.first_line,
                    &raw_text(bytes, from, to),
                    format!(
                        "no `LMP_TYPE` LMP row for node {node} at {interval_start}: the \
                         components cannot stand without the price"
                    ),
                ));
                continue;
            };
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
                },
                published_at: None,
                revision: None,
                origin: context.origin(line),
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
