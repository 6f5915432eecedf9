//! EIA API v2 JSON, daily natural-gas spot prices: the answer of
//! `https://api.eia.gov/v2/natural-gas/pri/fut/data/?frequency=daily&data[]=value&facets[series][]=RNGWHHD`.
//!
//! The document is `{"response": {"warnings"?, "total", "dateFormat": "YYYY-MM-DD",
//! "frequency": "daily", "data": [...], "description"}, "request": {"command", "params"},
//! "apiVersion", "ExcelAddInVersion"}`; each `data` item is `{"period": "2022-12-13",
//! "duoarea": "RGC", "area-name": "NA", "product": "EPG0", "product-name": "Natural Gas",
//! "process": "PS0", "process-name": "Spot Price", "series": "RNGWHHD", "series-description":
//! "Henry Hub Natural Gas Spot Price (Dollars per Million Btu)", "value": "7.2", "units":
//! "$/MMBTU"}`. The live API writes `value` as a JSON string; a number is read as well, and
//! `null` (withheld or unavailable) is skipped like an empty cell in the CSV download.
//!
//! Spot series only. The same route serves the NYMEX futures settlements RNGC1..RNGC4
//! (`process-name` `Future Contract 1` ..): a futures settlement is a price for a delivery
//! month, which gridflow's products cannot state yet, so such rows are rejected by name
//! rather than stored as a spot price. The location comes from `series-description` like
//! the CSV's header (`HENRY_HUB`). An error answer (`{"error": ..., "code": 400}`) refuses
//! the file with the API's message. An origin's `line` is the 1-based ordinal of the item in
//! `data` (the API answers on one line).

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{Components, MarketClock, Observation, Price, Product};
use serde_json::{Map, Value};

use super::{CLOCK, gas_price, hub_location};
use crate::formats::common::{Context, daily_product, iso_date};
use crate::formats::nordpool::number_text;
use crate::formats::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "eia_api_v2"`.
pub const NAME: &str = "eia_api_v2";

/// The Henry Hub daily spot series.
pub const HENRY_HUB_SERIES: &str = "RNGWHHD";

/// Parser for EIA API v2 natural-gas spot price answers.
#[derive(Clone, Debug, Default)]
pub struct EiaApiV2;

impl EiaApiV2 {
    /// The parser; the only product is `DAILY`.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        daily_product(NAME, product)?;
        Ok(EiaApiV2)
    }
}

/// A text field of a `data` item, trimmed.
pub(super) fn text<'a>(item: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    item.get(field).and_then(Value::as_str).map(str::trim)
}

/// An item's `value`: a JSON string in the live API, a number in some clients' mocks;
/// `Ok(None)` when null or empty (withheld or not published).
pub(super) fn value(item: &Map<String, Value>) -> Result<Option<Price>, String> {
    match item.get("value") {
        Some(Value::Null) => Ok(None),
        Some(Value::String(value)) if value.trim().is_empty() => Ok(None),
        Some(Value::String(value)) => value.parse::<Price>().map(Some),
        Some(Value::Number(number)) => number_text(number).parse::<Price>().map(Some),
        Some(other) => return Err(format!("`value` {other} is not a number")),
        None => return Err("missing `value`".into()),
    }
    .map_err(|error| format!("`value`: {error}"))
}

/// The `data` items of an EIA API v2 answer, or why the whole answer is refused: an error
/// answer (with the API's message), no `response` object, a `frequency` other than
/// `frequency` (`reads` says what the format reads, e.g. `daily prices`), no `data` array.
pub(super) fn data<'v>(
    context: &Context<'_>,
    document: &'v Value,
    frequency: &str,
    reads: &str,
) -> Result<&'v [Value], FileError> {
    if let Some(error) = document.get("error") {
        let message = error
            .as_str()
            .map_or_else(|| error.to_string(), str::to_string);
        return Err(structure(
            context,
            format!("the EIA API answered with an error: {message}"),
        ));
    }
    let response = document
        .get("response")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            structure(
                context,
                "expected an EIA API v2 answer, an object with a `response` object".into(),
            )
        })?;
    if let Some(found) = response.get("frequency").and_then(Value::as_str)
        && found != frequency
    {
        return Err(structure(
            context,
            format!(
                "`frequency` is `{found}`: {} reads {reads}; request `frequency={frequency}`",
                context.format
            ),
        ));
    }
    response
        .get("data")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| structure(context, "`response` has no `data` array".into()))
}

/// One `data` item; `Ok(None)` when its value is null (not published).
fn observation(
    item: &Value,
    context: &Context<'_>,
    clock: &MarketClock,
    ordinal: u64,
) -> Result<Option<Observation>, String> {
    let item = item
        .as_object()
        .ok_or("a `data` item must be an object with `period`, `series` and `value`")?;
    let series = text(item, "series").ok_or("missing `series`")?;
    let description = text(item, "series-description").unwrap_or_default();
    let process = text(item, "process-name").unwrap_or_default();
    let spot = series == HENRY_HUB_SERIES
        || process.eq_ignore_ascii_case("Spot Price")
        || description.to_ascii_lowercase().contains("spot price");
    if !spot {
        return Err(format!(
            "series `{series}` ({}) is not a spot price: eia_api_v2 reads daily spot series \
             only; futures settlements (RNGC1..RNGC4) are for a delivery month, which no \
             gridflow product states yet. Request `facets[series][]=RNGWHHD`",
            if description.is_empty() {
                process
            } else {
                description
            }
        ));
    }
    let location = if series == HENRY_HUB_SERIES {
        "HENRY_HUB".to_string()
    } else {
        hub_location(description).ok_or_else(|| {
            format!("series `{series}` has no hub name in `series-description` `{description}`")
        })?
    };
    if let Some(units) = text(item, "units")
        && !units.eq_ignore_ascii_case("$/MMBTU")
    {
        return Err(format!("`units` `{units}` is not $/MMBTU"));
    }
    let period = text(item, "period").ok_or("missing `period`")?;
    let date = iso_date(period.as_bytes())
        .ok_or_else(|| format!("`period` `{period}` is not a date written YYYY-MM-DD"))?;
    let Some(price) = value(item)? else {
        return Ok(None);
    };
    Ok(Some(gas_price(
        Arc::from(location),
        date,
        clock,
        price,
        Components::default(),
        context.origin(ordinal),
    )))
}

/// The signature of a function turning one API item (at a 1-based ordinal) into an
/// observation, nothing (a null value), or a reject reason.
pub(super) type ItemReader =
    fn(&Value, &Context<'_>, &MarketClock, u64) -> Result<Option<Observation>, String>;

/// Reads every item of an answer's `data` with `read` on `clock`, rejects at the item's
/// ordinal.
pub(super) fn each_item(
    items: &[Value],
    context: &Context<'_>,
    clock: &str,
    out: &mut SourceOutput,
    read: ItemReader,
) {
    let clock = MarketClock::zone(clock);
    for (index, item) in items.iter().enumerate() {
        let ordinal = index as u64 + 1;
        match read(item, context, &clock, ordinal) {
            Ok(Some(observation)) => out.observations.push(observation),
            Ok(None) => {}
            Err(reason) => out
                .rejects
                .push(context.reject(ordinal, &item.to_string(), reason)),
        }
    }
}

fn structure(context: &Context<'_>, message: String) -> FileError {
    context.error(FileErrorKind::Structure(message))
}

impl Format for EiaApiV2 {
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
        let data = data(&context, &document, "daily", "daily prices")?;
        each_item(data, &context, CLOCK, out, observation);
        Ok(())
    }
}
