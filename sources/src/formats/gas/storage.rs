//! EIA weekly natural-gas storage (`eia_storage`): working gas in underground storage by
//! region, in billion cubic feet, from the EIA API v2 answer of
//! `https://api.eia.gov/v2/natural-gas/stor/wkly/data/?frequency=weekly&data[]=value`
//! (the figures of the Weekly Natural Gas Storage Report, WNGSR).
//!
//! The envelope is the one [`eia_api`](super::eia_api) reads (`response.frequency` must be
//! `weekly`). Each `data` item is `{"period": "2022-12-02", "duoarea": "R31", "area-name":
//! "NA", "product": "EPG0", "product-name": "Natural Gas", "process": "SWO", "process-name":
//! "Underground Storage - Working Gas", "series": "NW2_EPG0_SWO_R31_BCF",
//! "series-description": "Weekly East Region Natural Gas Working Underground Storage
//! (Billion Cubic Feet)", "value": "834", "units": "BCF"}`. The region is read from
//! `series-description` (public code disagrees on which `duoarea` code is which region;
//! the description says it in words): `EAST`, `MIDWEST`, `MOUNTAIN`, `PACIFIC`,
//! `SOUTH_CENTRAL`, its parts `SOUTH_CENTRAL_SALT` and `SOUTH_CENTRAL_NONSALT` (process
//! `SSO`, `SNO`; the description says `Salt Region` or, in the EIA's spreadsheets, `Salt
//! South Central Region`), and `LOWER_48` (the report's `Total`).
//!
//! # Time: the week ending Friday, as that Friday
//! `period` is the report week's last day, a Friday: the EIA states the level "as of
//! Friday" (the report is released the next Thursday at 10:30 Eastern). The value is a
//! stock, a level on a day, not a flow over the week, so gridflow states it as
//! [`NativeInterval::Day`] on that Friday in `America/New_York` (the EIA's clock): the
//! interval starts at 04:00 or 05:00 UTC on the Friday, and the lake's `date` partition is
//! the Friday itself. The net change of a week is the difference of two Fridays' levels. A
//! `period` that is not a Friday is rejected.
//!
//! Every value is [`Market::Gas`], [`Product::Weekly`], series `WORKING_GAS_STORAGE`,
//! [`LocationType::Region`], in [`Unit::Bcf`]. A `null` value (withheld) is skipped like
//! in `eia_api_v2`. An origin's `line` is the 1-based ordinal of the item in `data`.
//!
//! # Layout drift
//! The first item must carry `period`, `series-description`, `value` and `units`; if the
//! API renamed one of them, the whole answer is refused with one header error naming the
//! fields expected and found, instead of one reject per item.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    LocationType, Market, MarketClock, NativeInterval, Observation, Product, PublishedQuantity,
    Unit,
};
use jiff::civil::Weekday;
use serde_json::Value;

use super::eia_api::{data, each_item, text, value};
use crate::formats::common::{Context, iso_date};
use crate::formats::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "eia_storage"`.
pub const NAME: &str = "eia_storage";

/// The series every value of this format belongs to.
pub const SERIES: &str = "WORKING_GAS_STORAGE";

/// The clock the EIA states its weeks in.
pub const CLOCK: &str = "America/New_York";

/// The fields every item must have.
const REQUIRED: [&str; 4] = ["period", "series-description", "value", "units"];

/// Parser for EIA API v2 weekly working-gas storage answers.
#[derive(Clone, Debug, Default)]
pub struct EiaStorage;

impl EiaStorage {
    /// The parser; the only product is `WEEKLY`.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None | Some(Product::Weekly) => Ok(EiaStorage),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the EIA storage report is weekly: only `WEEKLY` fits".into(),
            }),
        }
    }
}

/// The region code of a `series-description`, e.g. `Weekly East Region Natural Gas Working
/// Underground Storage (Billion Cubic Feet)` → `EAST`. `None` for anything that is not a
/// working-gas level of a known region.
pub fn region(description: &str) -> Option<&'static str> {
    let words: Vec<String> = description
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let suffix = ["natural", "gas", "working", "underground", "storage"];
    let at = words.windows(suffix.len()).position(|w| w == suffix)?;
    let mut name = &words[..at];
    if let ["weekly", rest @ ..] = name {
        name = rest;
    }
    if let [rest @ .., "region" | "states"] = name {
        name = rest;
    }
    Some(match name {
        ["east"] => "EAST",
        ["midwest"] => "MIDWEST",
        ["mountain"] => "MOUNTAIN",
        ["pacific"] => "PACIFIC",
        ["south", "central"] => "SOUTH_CENTRAL",
        ["salt"] | ["salt", "south", "central"] => "SOUTH_CENTRAL_SALT",
        ["nonsalt" | "non-salt"] | ["nonsalt" | "non-salt", "south", "central"] => {
            "SOUTH_CENTRAL_NONSALT"
        }
        ["lower", "48"] => "LOWER_48",
        _ => return None,
    })
}

/// One `data` item; `Ok(None)` when its value is null (not published).
fn observation(
    item: &Value,
    context: &Context<'_>,
    clock: &MarketClock,
    ordinal: u64,
) -> Result<Option<Observation>, String> {
    let item = item.as_object().ok_or(
        "a `data` item must be an object with `period`, `series-description`, `value` and \
         `units`",
    )?;
    let description = text(item, "series-description").ok_or("missing `series-description`")?;
    let location = region(description).ok_or_else(|| {
        format!(
            "`series-description` `{description}` is not the working gas in storage of a \
             report region (East, Midwest, Mountain, Pacific, South Central, Salt, Nonsalt, \
             Lower 48 States)"
        )
    })?;
    let units = text(item, "units").ok_or("missing `units`")?;
    if !units.eq_ignore_ascii_case("BCF") {
        return Err(format!("`units` `{units}` is not BCF (billion cubic feet)"));
    }
    let period = text(item, "period").ok_or("missing `period`")?;
    let date = iso_date(period.as_bytes())
        .ok_or_else(|| format!("`period` `{period}` is not a date written YYYY-MM-DD"))?;
    if date.weekday() != Weekday::Friday {
        return Err(format!(
            "`period` `{period}` is a {:?}, not the Friday a storage report week ends on",
            date.weekday()
        ));
    }
    let Some(value) = value(item)? else {
        return Ok(None);
    };
    Ok(Some(Observation::Quantity(PublishedQuantity {
        market: Market::Gas,
        product: Product::Weekly,
        series: Arc::from(SERIES),
        location: Arc::from(location),
        location_type: LocationType::Region,
        interval: NativeInterval::Day {
            date,
            clock: clock.clone(),
        },
        value,
        unit: Unit::Bcf,
        published_at: None,
        revision: None,
        origin: context.origin(ordinal),
    })))
}

/// Refuses the answer when its first item lacks a field every item needs.
fn check_fields(context: &Context<'_>, items: &[Value]) -> Result<(), FileError> {
    let Some(first) = items.first().and_then(Value::as_object) else {
        return Ok(());
    };
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|field| !first.contains_key(**field))
        .map(|field| field.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(context.error(FileErrorKind::Header {
        expected: REQUIRED.join(","),
        found: first
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(","),
        missing,
    }))
}

impl Format for EiaStorage {
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
        let items = data(&context, &document, "weekly", "weekly storage levels")?;
        check_fields(&context, items)?;
        each_item(items, &context, CLOCK, out, observation);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
