//! Regional gas hub prices with their basis to Henry Hub, in a CSV layout gridflow defines
//! (no public source publishes regional daily indices freely; vendors such as NGI and
//! Platts license theirs, and this layout is what a user writes from such a feed).
//!
//! Header `trade_date,hub,basis_usd_per_mmbtu,index_usd_per_mmbtu` (any order, matched
//! ignoring case), one row per hub per trade date:
//! - `trade_date`: `YYYY-MM-DD`, the trade date (see the module [`super`] on gas days);
//! - `hub`: the location code as written, e.g. `WAHA`, `ALGONQUIN_CITYGATES`, `HENRY_HUB`;
//! - `index_usd_per_mmbtu`: the hub's daily index price, the record's price;
//! - `basis_usd_per_mmbtu`: index minus the Henry Hub index of the same trade date, as the
//!   publisher computed it; optional (the column may be absent, a cell may be empty).
//!
//! Basis is stored as a component, following the convention for single-price markets
//! (docs/markets/gas.md): `energy` is the reference price, Henry Hub (`index - basis`), and
//! `congestion` is the basis, the locational spread pipeline constraints create; `loss` is
//! empty. So `price = energy + congestion` exactly, and a negative basis (Waha in the
//! Permian glut, down to index prices below zero) or a winter spike (Algonquin) stays
//! visible in the lake. Henry Hub's own row has basis 0.

use std::sync::Arc;

use csv::ByteRecord;
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Components, MarketClock, Observation, Product};

use super::{CLOCK, gas_price};
use crate::formats::common::{
    Context, Interner, daily_product, find_column, iso_date, next_record, optional_price,
    price_field, raw_text, require_columns,
};
use crate::formats::{FileError, Format, FormatLookupError};

/// `format = "gas_basis_csv"`.
pub const NAME: &str = "gas_basis_csv";

/// The layout's header.
pub const HEADER: &str = "trade_date,hub,basis_usd_per_mmbtu,index_usd_per_mmbtu";

/// Parser for the regional hub basis CSV.
#[derive(Clone, Debug, Default)]
pub struct GasBasisCsv;

impl GasBasisCsv {
    /// The parser; the only product is `DAILY`.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        daily_product(NAME, product)?;
        Ok(GasBasisCsv)
    }
}

struct Columns {
    width: usize,
    date: usize,
    hub: usize,
    index: usize,
    basis: Option<usize>,
}

fn row(
    record: &ByteRecord,
    columns: &Columns,
    interner: &mut Interner,
    clock: &MarketClock,
    context: &Context<'_>,
    line: u64,
) -> Result<Observation, String> {
    if record.len() != columns.width {
        return Err(format!(
            "expected {} fields, found {} (truncated or malformed row)",
            columns.width,
            record.len()
        ));
    }
    let date_field = record.get(columns.date).unwrap_or_default();
    let date = iso_date(date_field).ok_or_else(|| {
        format!(
            "`trade_date` `{}` is not a date written YYYY-MM-DD",
            String::from_utf8_lossy(date_field)
        )
    })?;
    let hub = interner
        .get(record.get(columns.hub).unwrap_or_default())
        .ok_or("`hub` is not UTF-8 text")?;
    if hub.is_empty() {
        return Err("empty `hub`".into());
    }
    let price = price_field(record.get(columns.index), "index_usd_per_mmbtu")?;
    let basis = match columns.basis {
        Some(basis) => optional_price(record.get(basis), "basis_usd_per_mmbtu")?,
        None => None,
    };
    let components = match basis {
        Some(basis) => Components {
            greenhouse_gas: None,
            energy: Some(
                price
                    .checked_sub(basis)
                    .ok_or("index minus basis is out of range")?,
            ),
            congestion: Some(basis),
            loss: None,
        },
        None => Components::default(),
    };
    Ok(gas_price(
        hub,
        date,
        clock,
        price,
        components,
        context.origin(line),
    ))
}

impl Format for GasBasisCsv {
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
        let (mut reader, mut record) = context.open_csv(bytes)?;
        let [date, hub, index] = require_columns(
            &context,
            &record,
            HEADER,
            [&["trade_date"], &["hub"], &["index_usd_per_mmbtu"]],
        )?;
        let columns = Columns {
            width: record.len(),
            date,
            hub,
            index,
            basis: find_column(&record, &["basis_usd_per_mmbtu"]),
        };
        let clock = MarketClock::zone(CLOCK);
        let mut interner = Interner;
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            match row(&record, &columns, &mut interner, &clock, &context, line) {
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
