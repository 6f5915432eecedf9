//! MISO market-report LMP CSV: day-ahead ex-post `YYYYMMDD_da_expost_lmp.csv`, day-ahead
//! ex-ante `YYYYMMDD_da_exante_lmp.csv`, real-time final `YYYYMMDD_rt_lmp_final.csv` and
//! real-time preliminary `YYYYMMDD_rt_lmp_prelim.csv`.
//!
//! A file opens with a preamble (a title such as `Day Ahead Market ExPost LMPs`, the market
//! date `MM/DD/YYYY`, a blank line, and `,,,All Hours-Ending are Eastern Standard Time
//! (EST)`), then the header `Node,Type,Value,HE 1,...,HE 24` and one row per node per
//! `Value` (`LMP`, `MCC` congestion, `MLC` loss), each with 24 hourly cells. The rows of a
//! node are grouped, in any order, into one price per hour: LMP the price, MCC congestion,
//! MLC loss, and energy = LMP − MCC − MLC (exact fixed-point arithmetic; MISO publishes no
//! energy row). A node missing its MCC or MLC row still yields its LMPs, with the
//! components it has (energy then unknown); a node without an LMP row yields nothing and
//! one reject. A non-numeric cell rejects that node-hour, on the line of the row holding it.
//!
//! Time: MISO states every hour in Eastern Standard Time all year (no DST), so each day has
//! 24 hours and `HE n` is [`NativeInterval::HourEnding`] `n` on the market date with clock
//! [`MarketClock::FixedOffsetMinutes`]`(-300)`: HE 1 starts at 05:00 UTC, also on the US DST
//! change days. The date comes from the preamble; a `YYYYMMDD` file-name prefix must agree.
//!
//! The product comes from the file name unless the pipeline's `product` overrides it. The
//! `Type` column gives the location type (see [`location_type`]). Output is grouped by node
//! in the order nodes first appear, hours 1 to 24 within a node.

use std::collections::HashMap;
use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Price, Product, PublishedPrice, Unit,
};

use super::common::{
    Context, Interner, file_name, next_record, optional_price, product_minutes, raw_text,
};
use super::{FileError, FileErrorKind, Format, FormatLookupError};
use preamble::{Columns, market_date, read_header};

/// `format = "miso_lmp"`.
pub const NAME: &str = "miso_lmp";

/// The header MISO publishes after the preamble.
pub const HEADER: &str = "Node,Type,Value,HE 1,HE 2,HE 3,HE 4,HE 5,HE 6,HE 7,HE 8,HE 9,HE 10,\
HE 11,HE 12,HE 13,HE 14,HE 15,HE 16,HE 17,HE 18,HE 19,HE 20,HE 21,HE 22,HE 23,HE 24";

/// MISO's market clock: Eastern Standard Time all year, in minutes from UTC.
pub const EST_OFFSET_MINUTES: i32 = -300;

/// The hour columns, `HE 1` to `HE 24`.
const HOURS: [&str; 24] = [
    "HE 1", "HE 2", "HE 3", "HE 4", "HE 5", "HE 6", "HE 7", "HE 8", "HE 9", "HE 10", "HE 11",
    "HE 12", "HE 13", "HE 14", "HE 15", "HE 16", "HE 17", "HE 18", "HE 19", "HE 20", "HE 21",
    "HE 22", "HE 23", "HE 24",
];

/// Parser for MISO market-report LMP CSV files.
#[derive(Clone, Debug, Default)]
pub struct MisoLmp {
    product: Option<Product>,
}

impl MisoLmp {
    /// A parser choosing the product from the file name (see [`product_of_file_name`]),
    /// unless `product` overrides it; MISO's report files are hourly, so only hourly
    /// products are accepted.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        if let Some(product) = product
            && product_minutes(product) != Some(60)
        {
            return Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "MISO's LMP market reports are hourly (HE 1 to HE 24)".into(),
            });
        }
        Ok(MisoLmp { product })
    }

    fn product_for(&self, context: &Context<'_>) -> Result<Product, FileError> {
        if let Some(product) = self.product {
            return Ok(product);
        }
        product_of_file_name(context.file).ok_or_else(|| {
            context.error(FileErrorKind::Structure(format!(
                "cannot tell the product from the file name `{}`: MISO names its files \
                 `YYYYMMDD_da_expost_lmp.csv`, `_da_exante_lmp.csv`, `_rt_lmp_final.csv` or \
                 `_rt_lmp_prelim.csv`; rename the file or set `product` in the pipeline",
                file_name(context.file)
            )))
        })
    }
}

/// The product MISO's file naming implies: `da_expost_lmp` day-ahead ex-post,
/// `da_exante_lmp` day-ahead ex-ante, `rt_lmp_final` real-time final, `rt_lmp_prelim`
/// real-time preliminary (case-insensitive, anywhere in the file name).
pub fn product_of_file_name(path: &str) -> Option<Product> {
    let name = file_name(path).to_ascii_lowercase();
    [
        ("da_expost_lmp", Product::DayAheadHourlyExPost),
        ("da_exante_lmp", Product::DayAheadHourlyExAnte),
        ("rt_lmp_final", Product::RealTimeHourlyFinal),
        ("rt_lmp_prelim", Product::RealTimeHourlyPrelim),
    ]
    .into_iter()
    .find_map(|(pattern, product)| name.contains(pattern).then_some(product))
}

/// MISO's `Type` column as a location type: `Hub` a trading hub, `Loadzone` a load zone,
/// `Gennode` (a generator's pricing node) and `Interface` (an external interface's pricing
/// node, e.g. `AECI`) nodes. Case-insensitive; `None` for any other text.
pub fn location_type(text: &str) -> Option<LocationType> {
    let text = text.trim();
    [
        ("Hub", LocationType::Hub),
        ("Loadzone", LocationType::Zone),
        ("Gennode", LocationType::Node),
        ("Interface", LocationType::Node),
    ]
    .into_iter()
    .find_map(|(name, kind)| text.eq_ignore_ascii_case(name).then_some(kind))
}

/// The three rows a node may have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Lmp,
    Mcc,
    Mlc,
}

impl Part {
    fn from_value(text: &[u8]) -> Option<Part> {
        let text = text.trim_ascii();
        [
            (b"LMP", Part::Lmp),
            (b"MCC", Part::Mcc),
            (b"MLC", Part::Mlc),
        ]
        .into_iter()
        .find_map(|(name, part)| text.eq_ignore_ascii_case(name).then_some(part))
    }

    fn name(self) -> &'static str {
        match self {
            Part::Lmp => "LMP",
            Part::Mcc => "MCC",
            Part::Mlc => "MLC",
        }
    }
}

/// One hourly cell: a value, empty (not published), or why it is not a number.
enum Cell {
    Value(Price),
    Empty,
    Bad(String),
}

/// One `Value` row of a node.
struct Row {
    line: u64,
    span: (u64, u64),
    cells: Vec<Cell>,
}

/// The rows of one node, as they arrive.
struct Node {
    name: Arc<str>,
    type_text: Arc<str>,
    location_type: LocationType,
    first_line: u64,
    first_span: (u64, u64),
    // In `Part` order.
    parts: [Option<Row>; 3],
}

/// The per-file state of the row loop.
struct Nodes {
    columns: Columns,
    names: Interner,
    index: HashMap<Arc<str>, usize, foldhash::fast::RandomState>,
    nodes: Vec<Node>,
}

impl Nodes {
    fn add_row(
        &mut self,
        record: &ByteRecord,
        (line, start, stop): (u64, u64, u64),
    ) -> Result<(), String> {
        let columns = &self.columns;
        if record.len() != columns.width {
            return Err(format!(
                "expected {} fields, found {} (truncated or malformed row)",
                columns.width,
                record.len()
            ));
        }
        let field = |index: usize| record.get(index).unwrap_or_default();
        let value_text = field(columns.value);
        let part = Part::from_value(value_text).ok_or_else(|| {
            format!(
                "unknown `Value` `{}`; expected LMP, MCC or MLC",
                String::from_utf8_lossy(value_text)
            )
        })?;
        let name = self
            .names
            .get(field(columns.node))
            .ok_or("`Node` is not UTF-8 text")?;
        if name.is_empty() {
            return Err("empty `Node`".into());
        }
        let type_text = self
            .names
            .get(field(columns.kind))
            .ok_or("`Type` is not UTF-8 text")?;
        let kind = location_type(&type_text).ok_or_else(|| {
            format!(
                "unknown `Type` `{type_text}` for node {name}; known types: Hub, Loadzone, \
                 Gennode, Interface"
            )
        })?;
        let cells = columns
            .hours
            .iter()
            .zip(HOURS)
            .map(
                |(&index, hour)| match optional_price(record.get(index), hour) {
                    Ok(Some(price)) => Cell::Value(price),
                    Ok(None) => Cell::Empty,
                    Err(reason) => Cell::Bad(reason),
                },
            )
            .collect();
        let slot = match self.index.get(&name) {
            Some(&slot) => slot,
            None => {
                self.index.insert(name.clone(), self.nodes.len());
                self.nodes.push(Node {
                    name: name.clone(),
                    type_text: type_text.clone(),
                    location_type: kind,
                    first_line: line,
                    first_span: (start, stop),
                    parts: [None, None, None],
                });
                self.nodes.len() - 1
            }
        };
        let node = &mut self.nodes[slot];
        if node.type_text != type_text {
            return Err(format!(
                "`Type` `{type_text}` differs from `{}` on line {} for node {name}",
                node.type_text, node.first_line
            ));
        }
        let entry = &mut node.parts[part as usize];
        if let Some(previous) = entry {
            return Err(format!(
                "duplicate `Value` {} row for node {name} (first on line {})",
                part.name(),
                previous.line
            ));
        }
        *entry = Some(Row {
            line,
            span: (start, stop),
            cells,
        });
        Ok(())
    }
}

/// A component's value at `hour`: `Ok(None)` when the row or the cell is absent, `Err`
/// with the reject's line, row span and reason when the cell is not a number.
fn component(
    node: &Node,
    part: Part,
    hour: usize,
) -> Result<Option<Price>, (u64, (u64, u64), String)> {
    let Some(row) = &node.parts[part as usize] else {
        return Ok(None);
    };
    match row.cells.get(hour) {
        Some(Cell::Value(price)) => Ok(Some(*price)),
        Some(Cell::Bad(reason)) => Err((
            row.line,
            row.span,
            format!(
                "node {} {} row, hour ending {}: {reason}",
                node.name,
                part.name(),
                hour + 1
            ),
        )),
        Some(Cell::Empty) | None => Ok(None),
    }
}

impl Format for MisoLmp {
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
        // Without a byte-order mark, so that byte offsets index `bytes`.
        let bytes = context.content(bytes)?;
        let (mut reader, mut record) = context.open_csv(bytes)?;
        let product = self.product_for(&context)?;
        let (stated_date, columns) = read_header(&context, &mut reader, &mut record)?;
        let date = market_date(&context, stated_date)?;
        let clock = MarketClock::FixedOffsetMinutes(EST_OFFSET_MINUTES);
        let mut nodes = Nodes {
            columns,
            names: Interner,
            index: HashMap::default(),
            nodes: Vec::new(),
        };
        while let Some(position) = next_record(&mut reader, &mut record) {
            if let Err(reason) = nodes.add_row(&record, position) {
                let (line, start, stop) = position;
                out.rejects
                    .push(context.reject(line, &raw_text(bytes, start, stop), reason));
            }
        }
        let reject = |out: &mut SourceOutput, line: u64, (from, to): (u64, u64), reason| {
            out.rejects
                .push(context.reject(line, &raw_text(bytes, from, to), reason));
        };
        for node in &nodes.nodes {
            let Some(lmp_row) = &node.parts[Part::Lmp as usize] else {
                reject(
                    out,
                    node.first_line,
                    node.first_span,
                    format!(
                        "no `Value` LMP row for node {}: the components cannot stand without \
                         the price",
                        node.name
                    ),
                );
                continue;
            };
            for (hour, hour_ending) in (1..=24u8).enumerate() {
                let parts = (
                    component(node, Part::Lmp, hour),
                    component(node, Part::Mcc, hour),
                    component(node, Part::Mlc, hour),
                );
                let (price, congestion, loss) = match parts {
                    (Ok(Some(price)), Ok(congestion), Ok(loss)) => (price, congestion, loss),
                    (Ok(None), _, _) => {
                        reject(
                            out,
                            lmp_row.line,
                            lmp_row.span,
                            format!(
                                "node {} LMP row, hour ending {hour_ending}: empty `HE \
                                 {hour_ending}`",
                                node.name
                            ),
                        );
                        continue;
                    }
                    (Err((line, span, reason)), _, _)
                    | (_, Err((line, span, reason)), _)
                    | (_, _, Err((line, span, reason))) => {
                        reject(out, line, span, reason);
                        continue;
                    }
                };
                let energy = match (congestion, loss) {
                    (Some(congestion), Some(loss)) => {
                        match price
                            .checked_sub(congestion)
                            .and_then(|rest| rest.checked_sub(loss))
                        {
                            Some(energy) => Some(energy),
                            None => {
                                reject(
                                    out,
                                    lmp_row.line,
                                    lmp_row.span,
                                    format!(
                                        "node {} hour ending {hour_ending}: LMP - MCC - MLC \
                                         is out of range",
                                        node.name
                                    ),
                                );
                                continue;
                            }
                        }
                    }
                    _ => None,
                };
                out.observations.push(Observation::Price(PublishedPrice {
                    market: Market::Miso,
                    product,
                    location: node.name.clone(),
                    location_type: node.location_type,
                    interval: NativeInterval::HourEnding {
                        date,
                        hour_ending,
                        clock: clock.clone(),
                        occurrence: Occurrence::Unstated,
                    },
                    price,
                    currency: Currency::USD,
                    unit: Unit::MegawattHour,
                    components: Components {
                        greenhouse_gas: None,
                        energy,
                        congestion,
                        loss,
                    },
                    published_at: None,
                    revision: None,
                    origin: context.origin(lmp_row.line),
                }));
            }
        }
        Ok(())
    }
}

mod preamble;
#[cfg(test)]
mod tests;
