//! AEMO's 5-minute visualisation API JSON (`/aemo/apps/api/report/5MIN`, the data behind
//! aemo.com.au's NEM price and demand charts): `{"5MIN": [{"SETTLEMENTDATE":
//! "2021-10-06T15:00:00", "REGIONID": "NSW1", "REGION": "NSW1", "RRP": 0.00000,
//! "TOTALDEMAND": ..., "PERIODTYPE": "ACTUAL", ...}, ...]}`; a bare array of those objects
//! is read too.
//!
//! Only `PERIODTYPE` `ACTUAL` rows are dispatch prices; `FORECAST` (pre-dispatch) and any
//! other period type are skipped and counted in a debug log. `RRP` becomes a
//! `REAL_TIME_5_MIN` price in AUD/MWh for location `REGIONID` (type `REGION`), read from
//! the number's shortest exact decimal text, never through float arithmetic.
//! `SETTLEMENTDATE` has no offset: it is the END of the 5-minute interval in NEM market
//! time (UTC+10 all year), as in the MMS files. An origin's `line` is the 1-based position
//! of the row in the array (the API answers on one line).

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, Observation, Price, Product, PublishedPrice, Unit,
};
use jiff::civil::DateTime;
use serde_json::Value;

use super::super::common::{Context, Interner};
use super::super::nordpool::number_text;
use super::super::{FileError, FileErrorKind, Format, FormatLookupError};
use super::dispatch_interval;

/// `format = "nem_dispatch_json"`.
pub const NAME: &str = "nem_dispatch_json";

/// The key holding the rows.
pub const ROWS_KEY: &str = "5MIN";

/// Parser for the AEMO 5-minute visualisation JSON.
#[derive(Clone, Debug, Default)]
pub struct NemDispatchJson;

impl NemDispatchJson {
    /// The parser; its prices are `REAL_TIME_5_MIN`, the only product accepted.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None | Some(Product::RealTime5Min) => Ok(NemDispatchJson),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the 5-minute API publishes dispatch prices (REAL_TIME_5_MIN) only".into(),
            }),
        }
    }
}

/// One row: its price, `None` for a forecast row, or why it is refused.
fn row(
    context: &Context<'_>,
    interner: &mut Interner,
    entry: &Value,
    line: u64,
) -> Result<Option<Observation>, String> {
    let object = entry
        .as_object()
        .ok_or("a row must be an object with SETTLEMENTDATE, REGIONID, RRP, PERIODTYPE")?;
    let text = |key: &str| -> Result<&str, String> {
        match object.get(key) {
            Some(Value::String(text)) => Ok(text.as_str()),
            Some(other) => Err(format!("`{key}` {other} is not a string")),
            None => Err(format!("missing `{key}`")),
        }
    };
    let period = text("PERIODTYPE")?;
    if !period.eq_ignore_ascii_case("ACTUAL") {
        return Ok(None);
    }
    let settlement = text("SETTLEMENTDATE")?;
    let end: DateTime = settlement.trim().parse().map_err(|_| {
        format!("`SETTLEMENTDATE` `{settlement}` is not a time like 2021-10-06T15:00:00")
    })?;
    let interval = dispatch_interval(end)?;
    let region = interner
        .get(text("REGIONID")?.as_bytes())
        .ok_or("`REGIONID` is not text")?;
    if region.is_empty() {
        return Err("empty `REGIONID`".into());
    }
    let price = match object.get("RRP") {
        Some(Value::Number(number)) => number_text(number)
            .parse::<Price>()
            .map_err(|error| format!("`RRP`: {error}"))?,
        Some(Value::Null) | None => return Err("no `RRP` for this interval".into()),
        Some(other) => return Err(format!("`RRP` {other} is not a number")),
    };
    Ok(Some(Observation::Price(PublishedPrice {
        market: Market::Nem,
        product: Product::RealTime5Min,
        location: region,
        location_type: LocationType::Region,
        interval,
        price,
        currency: Currency::AUD,
        unit: Unit::MegawattHour,
        components: Components::default(),
        published_at: None,
        revision: None,
        origin: context.origin(line),
    })))
}

impl Format for NemDispatchJson {
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
        let document: Value = context.json(bytes)?;
        let rows = match &document {
            Value::Object(object) => object.get(ROWS_KEY).and_then(Value::as_array),
            Value::Array(rows) => Some(rows),
            _ => None,
        }
        .ok_or_else(|| {
            context.error(FileErrorKind::Structure(format!(
                "expected an object with a `{ROWS_KEY}` array of rows (or the array itself)"
            )))
        })?;
        let mut interner = Interner;
        let mut forecasts = 0u64;
        for (index, entry) in rows.iter().enumerate() {
            let line = index as u64 + 1;
            match row(&context, &mut interner, entry, line) {
                Ok(Some(observation)) => out.observations.push(observation),
                Ok(None) => forecasts += 1,
                Err(reason) => {
                    out.rejects
                        .push(context.reject(line, &entry.to_string(), reason));
                }
            }
        }
        tracing::debug!(
            format = NAME,
            file = %context.file,
            skipped_rows = forecasts,
            "rows whose PERIODTYPE is not ACTUAL"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
