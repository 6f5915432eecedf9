//! AEMO National Electricity Market (NEM) dispatch prices.
//!
//! Two formats:
//! - `nem_mms` (this module): AEMO's MMS "C/I/D" CSV container, zipped or plain, as
//!   published on NEMWEB (`PUBLIC_DISPATCHIS_*.zip` every five minutes, the MMSDM monthly
//!   `PUBLIC_DVD_DISPATCHPRICE_*.zip`, the NEMWEB archive's zip of zips). Rows are tagged:
//!   `C` control (the first row, comments, and the final `C,"END OF REPORT",n` where n is
//!   the file's line count), `I` a table header (`I,DISPATCH,PRICE,5,SETTLEMENTDATE,...`:
//!   group, table, version, then the column names), `D` a data row of the last `I` table.
//!   One file may hold many tables; only `DISPATCH,PRICE` (DISPATCHPRICE) is read, its
//!   columns located by name. Rows of other tables are counted in a debug log, not
//!   rejected; a file with no price table (a demand report) parses to nothing.
//! - `nem_dispatch_json` ([`json`]): the JSON of AEMO's 5-minute visualisation API.
//!
//! Products: `RRP` is `REAL_TIME_5_MIN`; each FCAS price is its own product
//! (`RAISE6SECRRP` → `FCAS_RAISE_6_SEC`, ..., `LOWERREGRRP` → `FCAS_LOWER_REG`, and
//! `RAISE1SECRRP`/`LOWER1SECRRP` → `FCAS_RAISE_1_SEC`/`FCAS_LOWER_1_SEC` where the file has
//! those columns, since October 2023). Location: `REGIONID` (NSW1, QLD1, SA1, TAS1, VIC1),
//! type `REGION`. AUD per MWh, never clamped: the market price cap ($17,500 in FY2024-25,
//! $20,300 in FY2025-26) and the floor (−$1,000) are ordinary prices.
//!
//! Only rows with `INTERVENTION` = 0 are read: that is the pricing run, whose prices
//! settle. When AEMO intervenes (directions, RERT) it also publishes the physical run as
//! `INTERVENTION` = 1 rows; those are skipped and counted in the debug log, not rejected.
//!
//! Time: `SETTLEMENTDATE` `"YYYY/MM/DD HH:MM:SS"` is the END of a 5-minute interval in
//! NEM market time, UTC+10 all year (no daylight saving in market time); each price is a
//! local interval anchored at its end on that fixed clock, resolved by the engine:
//! `2025/01/21 18:05:00` is 2025-01-21T08:00Z–08:05Z. `LASTCHANGED` (same clock) becomes
//! `published_at`. `PRICE_STATUS` becomes the revision: `NOT FIRM` 0, `FIRM` 1, so a firm
//! price supersedes a not-yet-firm one whatever the order the files arrive in.

mod container;
pub mod json;

use std::collections::BTreeMap;
use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Price, Product, PublishedPrice, Unit,
};
use jiff::Timestamp;
use jiff::civil::DateTime;

use super::common::{
    Context, Interner, csv_reader, find_column, next_record, optional_price, price_field, raw_text,
    require_columns, slash_datetime,
};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "nem_mms"`.
pub const NAME: &str = "nem_mms";

/// NEM market time: UTC+10 all year.
pub const CLOCK_OFFSET_MINUTES: i32 = 600;

/// The `I` row of DISPATCHPRICE version 5 as DispatchIS files publish it.
pub const DISPATCHPRICE_HEADER: &str = "I,DISPATCH,PRICE,5,SETTLEMENTDATE,RUNNO,REGIONID,DISPATCHINTERVAL,INTERVENTION,RRP,\
    EEP,ROP,APCFLAG,MARKETSUSPENDEDFLAG,LASTCHANGED,RAISE6SECRRP,RAISE6SECROP,\
    RAISE6SECAPCFLAG,RAISE60SECRRP,RAISE60SECROP,RAISE60SECAPCFLAG,RAISE5MINRRP,\
    RAISE5MINROP,RAISE5MINAPCFLAG,RAISEREGRRP,RAISEREGROP,RAISEREGAPCFLAG,LOWER6SECRRP,\
    LOWER6SECROP,LOWER6SECAPCFLAG,LOWER60SECRRP,LOWER60SECROP,LOWER60SECAPCFLAG,\
    LOWER5MINRRP,LOWER5MINROP,LOWER5MINAPCFLAG,LOWERREGRRP,LOWERREGROP,LOWERREGAPCFLAG,\
    PRICE_STATUS,PRE_AP_ENERGY_PRICE,PRE_AP_RAISE6_PRICE,PRE_AP_RAISE60_PRICE,\
    PRE_AP_RAISE5MIN_PRICE,PRE_AP_RAISEREG_PRICE,PRE_AP_LOWER6_PRICE,PRE_AP_LOWER60_PRICE,\
    PRE_AP_LOWER5MIN_PRICE,PRE_AP_LOWERREG_PRICE,RAISE1SECRRP,RAISE1SECROP,\
    RAISE1SECAPCFLAG,LOWER1SECRRP,LOWER1SECROP,LOWER1SECAPCFLAG,PRE_AP_RAISE1_PRICE,\
    PRE_AP_LOWER1_PRICE,CUMUL_PRE_AP_ENERGY_PRICE,CUMUL_PRE_AP_RAISE6_PRICE,\
    CUMUL_PRE_AP_RAISE60_PRICE,CUMUL_PRE_AP_RAISE5MIN_PRICE,CUMUL_PRE_AP_RAISEREG_PRICE,\
    CUMUL_PRE_AP_LOWER6_PRICE,CUMUL_PRE_AP_LOWER60_PRICE,CUMUL_PRE_AP_LOWER5MIN_PRICE,\
    CUMUL_PRE_AP_LOWERREG_PRICE,CUMUL_PRE_AP_RAISE1_PRICE,CUMUL_PRE_AP_LOWER1_PRICE,\
    OCD_STATUS,MII_STATUS";

/// FCAS price columns and their products; the 1-second markets are optional columns.
const FCAS: [(&str, Product, bool); 10] = [
    ("RAISE6SECRRP", Product::FcasRaise6Sec, true),
    ("RAISE60SECRRP", Product::FcasRaise60Sec, true),
    ("RAISE5MINRRP", Product::FcasRaise5Min, true),
    ("RAISEREGRRP", Product::FcasRaiseReg, true),
    ("LOWER6SECRRP", Product::FcasLower6Sec, true),
    ("LOWER60SECRRP", Product::FcasLower60Sec, true),
    ("LOWER5MINRRP", Product::FcasLower5Min, true),
    ("LOWERREGRRP", Product::FcasLowerReg, true),
    ("RAISE1SECRRP", Product::FcasRaise1Sec, false),
    ("LOWER1SECRRP", Product::FcasLower1Sec, false),
];

/// The NEM's market clock.
pub(crate) fn clock() -> MarketClock {
    MarketClock::FixedOffsetMinutes(CLOCK_OFFSET_MINUTES)
}

/// A 5-minute dispatch interval ending at `end`, market time.
pub(crate) fn dispatch_interval(end: DateTime) -> Result<NativeInterval, String> {
    if end.minute() % 5 != 0 || end.second() != 0 || end.subsec_nanosecond() != 0 {
        return Err(format!(
            "`SETTLEMENTDATE` {end} is not the end of a 5-minute dispatch interval"
        ));
    }
    Ok(NativeInterval::Local {
        time: end,
        anchor: Anchor::End,
        minutes: 5,
        clock: clock(),
        occurrence: Occurrence::Unstated,
    })
}

/// A market-time instant (such as `LASTCHANGED`) in UTC, resolved by the engine's clock.
fn market_instant(time: DateTime) -> Option<Timestamp> {
    NativeInterval::Local {
        time,
        anchor: Anchor::Start,
        minutes: 0,
        clock: clock(),
        occurrence: Occurrence::Unstated,
    }
    .resolve()
    .ok()
    .map(|interval| interval.start)
}

/// Parser for AEMO MMS CSV files, zipped or not.
#[derive(Clone, Debug, Default)]
pub struct NemMms;

impl NemMms {
    /// The parser. The file decides the products (energy and FCAS), so the only product
    /// accepted as an option is `REAL_TIME_5_MIN`, which changes nothing.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None | Some(Product::RealTime5Min) => Ok(NemMms),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "DISPATCHPRICE rows carry the 5-minute energy price (REAL_TIME_5_MIN) \
                         and the FCAS prices, each its own product"
                    .into(),
            }),
        }
    }
}

/// Column indices of a DISPATCHPRICE `I` row (indices count the four tag fields, so they
/// index the `D` rows directly).
struct PriceColumns {
    /// `DISPATCH`, `PRICE`, version: what the `D` rows must repeat.
    key: [Vec<u8>; 3],
    width: usize,
    settlement: usize,
    region: usize,
    intervention: usize,
    rrp: usize,
    fcas: Vec<(usize, &'static str, Product)>,
    status: Option<usize>,
    last_changed: Option<usize>,
}

/// The table the last `I` row opened.
enum Table {
    None,
    Price(Box<PriceColumns>),
    Other(String),
}

/// What a file held besides the pricing run's prices, for the debug log.
#[derive(Default)]
struct Skipped {
    tables: BTreeMap<String, u64>,
    intervention: u64,
}

fn field(record: &ByteRecord, index: usize) -> &[u8] {
    record.get(index).unwrap_or_default().trim_ascii()
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// Opens a table from its `I` row; a DISPATCHPRICE header lacking a needed column
/// refuses the file.
fn open_table(context: &Context<'_>, record: &ByteRecord) -> Result<Table, FileError> {
    let group = field(record, 1);
    let name = field(record, 2);
    if !(group.eq_ignore_ascii_case(b"DISPATCH") && name.eq_ignore_ascii_case(b"PRICE")) {
        return Ok(Table::Other(format!(
            "{},{},{}",
            text(group),
            text(name),
            text(field(record, 3))
        )));
    }
    let [settlement, region, intervention, rrp] = require_columns(
        context,
        record,
        DISPATCHPRICE_HEADER,
        [
            &["SETTLEMENTDATE"],
            &["REGIONID"],
            &["INTERVENTION"],
            &["RRP"],
        ],
    )?;
    let mut fcas = Vec::with_capacity(FCAS.len());
    let mut missing = Vec::new();
    for (column, product, required) in FCAS {
        match find_column(record, &[column]) {
            Some(index) => fcas.push((index, column, product)),
            None if required => missing.push(column.to_string()),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Err(context.error(FileErrorKind::Header {
            expected: DISPATCHPRICE_HEADER.to_string(),
            found: super::common::header_text(record),
            missing,
        }));
    }
    Ok(Table::Price(Box::new(PriceColumns {
        key: [1, 2, 3].map(|index| field(record, index).to_ascii_uppercase()),
        width: record.len(),
        settlement,
        region,
        intervention,
        rrp,
        fcas,
        status: find_column(record, &["PRICE_STATUS"]),
        last_changed: find_column(record, &["LASTCHANGED"]),
    })))
}

/// One DISPATCHPRICE `D` row: its prices, or `None` for an intervention-run row.
fn price_row(
    context: &Context<'_>,
    columns: &PriceColumns,
    interner: &mut Interner,
    record: &ByteRecord,
    line: u64,
    out: &mut Vec<Observation>,
) -> Result<bool, String> {
    if record.len() != columns.width {
        return Err(format!(
            "expected {} fields, found {} (truncated or malformed row)",
            columns.width,
            record.len()
        ));
    }
    for (index, expected) in columns.key.iter().enumerate() {
        let found = field(record, index + 1);
        if !found.eq_ignore_ascii_case(expected) {
            return Err(format!(
                "a `D` row of table `{}` under the `I` header of `{}`",
                text(found),
                text(expected)
            ));
        }
    }
    match field(record, columns.intervention) {
        b"0" => {}
        b"1" => return Ok(false),
        other => {
            return Err(format!(
                "`INTERVENTION` `{}` is neither 0 (pricing run) nor 1 (intervention run)",
                text(other)
            ));
        }
    }
    let settlement = field(record, columns.settlement);
    let end = slash_datetime(settlement).ok_or_else(|| {
        format!(
            "`SETTLEMENTDATE` `{}` is not a time written YYYY/MM/DD HH:MM:SS",
            text(settlement)
        )
    })?;
    let interval = dispatch_interval(end)?;
    let region = interner
        .get(field(record, columns.region))
        .ok_or("`REGIONID` is not UTF-8 text")?;
    if region.is_empty() {
        return Err("empty `REGIONID`".into());
    }
    let mut prices: Vec<(Product, Price)> = Vec::with_capacity(1 + columns.fcas.len());
    prices.push((
        Product::RealTime5Min,
        price_field(record.get(columns.rrp), "RRP")?,
    ));
    for &(index, column, product) in &columns.fcas {
        if let Some(price) = optional_price(record.get(index), column)? {
            prices.push((product, price));
        }
    }
    let revision = match columns.status.map(|index| field(record, index)) {
        None | Some(b"") => None,
        Some(status) if status.eq_ignore_ascii_case(b"FIRM") => Some(1),
        Some(status) if status.eq_ignore_ascii_case(b"NOT FIRM") => Some(0),
        Some(status) => {
            return Err(format!(
                "`PRICE_STATUS` `{}` is neither FIRM nor NOT FIRM",
                text(status)
            ));
        }
    };
    let published_at = match columns.last_changed.map(|index| field(record, index)) {
        None | Some(b"") => None,
        Some(changed) => Some(
            slash_datetime(changed)
                .and_then(market_instant)
                .ok_or_else(|| {
                    format!(
                        "`LASTCHANGED` `{}` is not a time written YYYY/MM/DD HH:MM:SS",
                        text(changed)
                    )
                })?,
        ),
    };
    for (product, price) in prices {
        out.push(Observation::Price(PublishedPrice {
            market: Market::Nem,
            product,
            location: region.clone(),
            location_type: LocationType::Region,
            interval: interval.clone(),
            price,
            currency: Currency::AUD,
            unit: Unit::MegawattHour,
            components: Components::default(),
            published_at,
            revision,
            origin: context.origin(line),
        }));
    }
    Ok(true)
}

/// Parses one MMS CSV document (a whole file, or one member of a zip archive).
fn parse_mms(context: &Context<'_>, bytes: &[u8], out: &mut SourceOutput) -> Result<(), FileError> {
    let bytes = context.content(bytes)?;
    let mut reader = csv_reader(bytes, false);
    let mut record = ByteRecord::new();
    let Some((_, start, stop)) = next_record(&mut reader, &mut record) else {
        return Err(context.error(FileErrorKind::Empty));
    };
    if field(&record, 0) != b"C" {
        return Err(context.error(FileErrorKind::Structure(format!(
            "not an AEMO MMS file: the first row should be a `C` control row such as \
             `C,NEMP.WORLD,DISPATCHIS,AEMO,PUBLIC,...`, found `{}`",
            raw_text(bytes, start, stop)
        ))));
    }
    let mut table = Table::None;
    let mut skipped = Skipped::default();
    let mut interner = Interner;
    let mut end_of_report = false;
    let mut last_line = 1;
    while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
        last_line = line;
        let reject = |reason: String| context.reject(line, &raw_text(bytes, start, stop), reason);
        if end_of_report {
            out.rejects
                .push(reject("a row after `C,\"END OF REPORT\"`".into()));
            continue;
        }
        match field(&record, 0) {
            b"C" => {
                if field(&record, 1).eq_ignore_ascii_case(b"END OF REPORT") {
                    end_of_report = true;
                    let count = field(&record, 2);
                    if std::str::from_utf8(count).ok().and_then(|n| n.parse().ok()) != Some(line) {
                        out.rejects.push(reject(format!(
                            "`END OF REPORT` counts {} lines but this is line {line}: rows are \
                             missing or extra",
                            text(count)
                        )));
                    }
                }
            }
            b"I" => table = open_table(context, &record)?,
            b"D" => match &table {
                Table::Price(columns) => {
                    match price_row(
                        context,
                        columns,
                        &mut interner,
                        &record,
                        line,
                        &mut out.observations,
                    ) {
                        Ok(true) => {}
                        Ok(false) => skipped.intervention += 1,
                        Err(reason) => out.rejects.push(reject(reason)),
                    }
                }
                Table::Other(name) => {
                    *skipped.tables.entry(name.clone()).or_default() += 1;
                }
                Table::None => out
                    .rejects
                    .push(reject("a `D` row before any `I` header row".into())),
            },
            tag => out.rejects.push(reject(format!(
                "unknown row tag `{}`: MMS rows start with C, I or D",
                text(tag)
            ))),
        }
    }
    if !end_of_report {
        out.rejects.push(context.reject(
            last_line + 1,
            "",
            "the file ends without its `C,\"END OF REPORT\",n` row: it is truncated",
        ));
    }
    tracing::debug!(
        format = NAME,
        file = %context.file,
        other_tables = ?skipped.tables,
        intervention_rows = skipped.intervention,
        "rows not read: other tables and the intervention run"
    );
    Ok(())
}

impl Format for NemMms {
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
        if !container::is_zip(bytes) {
            return parse_mms(&context, bytes, out);
        }
        let members = container::members(&context, bytes)?;
        if let [(_, only)] = members.as_slice() {
            return parse_mms(&context, only, out);
        }
        for (name, member) in &members {
            let member_file: Arc<str> = Arc::from(format!("{file}!{name}"));
            parse_mms(&Context::new(NAME, &member_file, source), member, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
