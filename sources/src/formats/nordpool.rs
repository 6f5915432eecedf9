//! Nord Pool day-ahead prices, API v2 JSON: the Nordic and Baltic bidding areas (NO1-NO5,
//! SE1-SE4, DK1, DK2, FI, EE, LV, LT), and any other area an answer names.
//!
//! Two shapes are read:
//! - an array of per-area objects `{market, deliveryArea, status, unit: "EUR/MWh",
//!   currency, exchangeRate, ..., prices: [{price, deliveryStart, deliveryEnd}],
//!   deliveryDateCET, updatedAt}`: the answer of the Market Data API
//!   `api/v2/Auction/Prices/ByAreas` (a single such object is accepted too);
//! - the multi-area object `{deliveryDateCET, version, updatedAt, deliveryAreas, market,
//!   multiAreaEntries: [{deliveryStart, deliveryEnd, entryPerArea: {SE3: 25.1, SE4:
//!   79.67}}], blockPriceAggregates, currency, exchangeRate, areaStates, areaAverages}`:
//!   the answer of the data portal's `api/DayAheadPrices`, one price per listed area per
//!   entry. An area that `deliveryAreas` lists but an entry lacks is a reject.
//!
//! Times are UTC (`deliveryStart`/`deliveryEnd`, `Z`): [`NativeInterval::Utc`], no clock
//! needed. The product follows the interval length: 60 minutes `DAY_AHEAD_HOURLY`, 15
//! minutes `DAY_AHEAD_15_MIN` (the day-ahead market time unit from delivery day
//! 2025-10-01); a `product` override reads other lengths. `updatedAt` is every price's
//! publication time and `version` (multi-area answers only) its revision. Prices are in the
//! answer's `currency` (EUR unless the query asked for DKK, NOK, SEK, ...) per MWh.
//! Block aggregates, area averages and area states are not emitted.
//!
//! The first area object, price or entry shows whether a field was renamed: a missing
//! `deliveryArea`/`prices`, `price`/`deliveryStart`/`deliveryEnd` or
//! `deliveryStart`/`deliveryEnd`/`entryPerArea` there refuses the file with a
//! [`FileErrorKind::Header`] error; later malformed items are rejects.
//!
//! JSON has no useful line numbers (API answers are one line), so an origin's `line` is the
//! 1-based ordinal of the price in the file, counted in document order across areas (per-area
//! answers) or entry by entry with each entry's areas in alphabetical order (multi-area
//! answers). Prices are read from the number's shortest exact decimal text, never through
//! float arithmetic: `79.67` is exactly 79.670000.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Price, Product,
    PublishedPrice, Unit,
};
use jiff::Timestamp;
use serde_json::{Map, Number, Value};

use super::common::{Context, iso_timestamp};
use super::{FileError, FileErrorKind, Format};

/// The per-area layout, for the error a renamed field gives.
const AREA_FIELDS: &str =
    "[{deliveryArea, currency, unit, prices: [{price, deliveryStart, deliveryEnd}]}]";

/// The multi-area layout, for the error a renamed field gives.
const MULTI_FIELDS: &str = "{currency, version, updatedAt, deliveryAreas, multiAreaEntries: [{deliveryStart, deliveryEnd, entryPerArea}]}";

/// The first object among `items` shows whether a field was renamed: one file error, not
/// one reject per price.
fn check_fields(
    context: &Context<'_>,
    items: &[Value],
    expected: &str,
    wanted: &[&str],
) -> Result<(), FileError> {
    let Some(first) = items.iter().find_map(Value::as_object) else {
        return Ok(());
    };
    let missing: Vec<String> = wanted
        .iter()
        .filter(|key| !first.contains_key(**key))
        .map(|key| key.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(context.error(FileErrorKind::Header {
        expected: expected.to_string(),
        found: first.keys().cloned().collect::<Vec<_>>().join(", "),
        missing,
    }))
}

/// Checks the first area object and its first price.
fn check_areas(context: &Context<'_>, areas: &[Value]) -> Result<(), FileError> {
    check_fields(context, areas, AREA_FIELDS, &["deliveryArea", "prices"])?;
    let prices = areas
        .iter()
        .find_map(|area| area.get("prices").and_then(Value::as_array));
    match prices {
        Some(prices) => check_fields(
            context,
            prices,
            AREA_FIELDS,
            &["price", "deliveryStart", "deliveryEnd"],
        ),
        None => Ok(()),
    }
}

/// `format = "nordpool_v2"`.
pub const NAME: &str = "nordpool_v2";

/// Parser for Nord Pool API v2 day-ahead JSON.
#[derive(Clone, Debug, Default)]
pub struct NordPoolV2 {
    product: Option<Product>,
}

impl NordPoolV2 {
    /// A parser choosing the product from each interval's length, unless `product`
    /// overrides it.
    pub fn new(product: Option<Product>) -> Self {
        NordPoolV2 { product }
    }
}

/// The exact decimal text of a JSON number. serde_json keeps non-integers as `f64` and
/// prints the shortest text that reads back to the same float, which is the text the
/// publisher wrote for any price with up to 15 significant digits; exponents are expanded.
pub fn number_text(number: &Number) -> String {
    let text = number.to_string();
    match text.find(['e', 'E']) {
        Some(at) => expand_exponent(&text[..at], &text[at + 1..]).unwrap_or(text),
        None => text,
    }
}

fn expand_exponent(mantissa: &str, exponent: &str) -> Option<String> {
    let exponent: i32 = exponent.parse().ok()?;
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = i32::try_from(whole.len()).ok()? + exponent;
    if !(-40..=40).contains(&point) {
        return None;
    }
    Some(if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        format!("{sign}0.{zeros}{digits}")
    } else {
        let point = usize::try_from(point).ok()?;
        if point >= digits.len() {
            format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
        } else {
            format!("{sign}{}.{}", &digits[..point], &digits[point..])
        }
    })
}

/// What an area (or the multi-area document) says about all its prices.
struct AreaInfo {
    currency: Currency,
    unit: Unit,
    published_at: Option<Timestamp>,
    revision: Option<i64>,
}

fn area_info(object: &Map<String, Value>) -> Result<AreaInfo, String> {
    let currency = match object.get("currency").and_then(Value::as_str) {
        Some(text) => text.parse::<Currency>()?,
        None => Currency::EUR,
    };
    // `unit` is "EUR/MWh": the quantity is after the slash.
    let unit = match object.get("unit").and_then(Value::as_str) {
        None => Unit::MegawattHour,
        Some(text) => match text.rsplit('/').next().map(str::trim) {
            Some(quantity) if quantity.eq_ignore_ascii_case("MWh") => Unit::MegawattHour,
            Some(quantity) if quantity.eq_ignore_ascii_case("kWh") => Unit::KilowattHour,
            _ => return Err(format!("unknown `unit` `{text}`; expected e.g. EUR/MWh")),
        },
    };
    Ok(AreaInfo {
        currency,
        unit,
        published_at: object
            .get("updatedAt")
            .and_then(Value::as_str)
            .and_then(iso_timestamp),
        revision: object.get("version").and_then(Value::as_i64),
    })
}

struct Parser<'a> {
    context: &'a Context<'a>,
    product: Option<Product>,
    ordinal: u64,
}

impl Parser<'_> {
    fn product(&self, start: Timestamp, end: Timestamp) -> Result<Product, String> {
        if let Some(product) = self.product {
            return Ok(product);
        }
        match end.duration_since(start).as_mins() {
            60 => Ok(Product::DayAheadHourly),
            15 => Ok(Product::DayAhead15Min),
            minutes => Err(format!(
                "a {minutes}-minute interval is neither hourly nor 15-minute; set `product` \
                 in the pipeline to read it"
            )),
        }
    }

    /// One price; `fields` are its price, delivery start and delivery end, `raw` the JSON
    /// object it came from.
    fn price(
        &mut self,
        area: &Arc<str>,
        info: &Result<AreaInfo, String>,
        [price, start, end]: [Option<&Value>; 3],
        raw: &Value,
        out: &mut SourceOutput,
    ) {
        self.ordinal += 1;
        match self.observation(area, info, price, start, end) {
            Ok(observation) => out.observations.push(observation),
            Err(reason) => {
                let raw = raw.to_string();
                out.rejects
                    .push(self.context.reject(self.ordinal, &raw, reason));
            }
        }
    }

    fn observation(
        &self,
        area: &Arc<str>,
        info: &Result<AreaInfo, String>,
        price: Option<&Value>,
        start: Option<&Value>,
        end: Option<&Value>,
    ) -> Result<Observation, String> {
        let info = info.as_ref().map_err(Clone::clone)?;
        if area.is_empty() {
            return Err("missing `deliveryArea`".into());
        }
        let time = |value: Option<&Value>, field: &str| {
            let text = value
                .and_then(Value::as_str)
                .ok_or_else(|| format!("missing `{field}`"))?;
            iso_timestamp(text).ok_or_else(|| {
                format!("`{field}` `{text}` is not a UTC time like 2024-07-07T22:00:00Z")
            })
        };
        let start = time(start, "deliveryStart")?;
        let end = time(end, "deliveryEnd")?;
        if end <= start {
            return Err(format!("delivery ends ({end}) before it starts ({start})"));
        }
        let price = match price {
            Some(Value::Number(number)) => number_text(number)
                .parse::<Price>()
                .map_err(|error| format!("`price`: {error}"))?,
            Some(Value::Null) | None => return Err("no `price` for this interval".into()),
            Some(other) => return Err(format!("`price` {other} is not a number")),
        };
        Ok(Observation::Price(PublishedPrice {
            market: Market::NordPool,
            product: self.product(start, end)?,
            location: area.clone(),
            location_type: LocationType::Area,
            interval: NativeInterval::Utc { start, end },
            price,
            currency: info.currency,
            unit: info.unit,
            components: Components::default(),
            published_at: info.published_at,
            revision: info.revision,
            origin: self.context.origin(self.ordinal),
        }))
    }

    fn area(&mut self, entry: &Value, out: &mut SourceOutput) {
        let Some(object) = entry.as_object() else {
            self.ordinal += 1;
            out.rejects.push(self.context.reject(
                self.ordinal,
                &entry.to_string(),
                "an area entry must be an object with `deliveryArea` and `prices`",
            ));
            return;
        };
        let area: Arc<str> = Arc::from(
            object
                .get("deliveryArea")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        let info = area_info(object);
        let Some(prices) = object.get("prices").and_then(Value::as_array) else {
            self.ordinal += 1;
            out.rejects.push(self.context.reject(
                self.ordinal,
                &area,
                format!("area `{area}` has no `prices` array"),
            ));
            return;
        };
        for entry in prices {
            let fields = ["price", "deliveryStart", "deliveryEnd"].map(|name| entry.get(name));
            self.price(&area, &info, fields, entry, out);
        }
    }

    fn multi_area(
        &mut self,
        document: &Map<String, Value>,
        entries: &[Value],
        out: &mut SourceOutput,
    ) {
        let info = area_info(document);
        let listed: Vec<&str> = document
            .get("deliveryAreas")
            .and_then(Value::as_array)
            .map(|areas| areas.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for entry in entries {
            let Some(per_area) = entry.get("entryPerArea").and_then(Value::as_object) else {
                self.ordinal += 1;
                out.rejects.push(self.context.reject(
                    self.ordinal,
                    &entry.to_string(),
                    "a multi-area entry has no `entryPerArea` object",
                ));
                continue;
            };
            for (area, price) in per_area {
                let area: Arc<str> = Arc::from(area.as_str());
                let fields = [
                    Some(price),
                    entry.get("deliveryStart"),
                    entry.get("deliveryEnd"),
                ];
                self.price(&area, &info, fields, entry, out);
            }
            for area in listed.iter().filter(|area| !per_area.contains_key(**area)) {
                self.ordinal += 1;
                out.rejects.push(self.context.reject(
                    self.ordinal,
                    &entry.to_string(),
                    format!("no price for `{area}`, which `deliveryAreas` lists"),
                ));
            }
        }
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object without `prices` or `multiAreaEntries`",
    }
}

impl Format for NordPoolV2 {
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
        let mut parser = Parser {
            context: &context,
            product: self.product,
            ordinal: 0,
        };
        match &document {
            Value::Array(areas) => {
                check_areas(&context, areas)?;
                for area in areas {
                    parser.area(area, out);
                }
            }
            Value::Object(object) => match object.get("multiAreaEntries") {
                Some(Value::Array(entries)) => {
                    check_fields(
                        &context,
                        entries,
                        MULTI_FIELDS,
                        &["deliveryStart", "deliveryEnd", "entryPerArea"],
                    )?;
                    parser.multi_area(object, entries, out);
                }
                _ if object.contains_key("prices") => {
                    check_areas(&context, std::slice::from_ref(&document))?;
                    parser.area(&document, out);
                }
                _ => {
                    return Err(context.error(FileErrorKind::Structure(format!(
                        "expected a JSON array of areas ({{deliveryArea, prices: [...]}}) or an \
                         object with `multiAreaEntries`, found {}",
                        describe(&document)
                    ))));
                }
            },
            other => {
                return Err(context.error(FileErrorKind::Structure(format!(
                    "expected a JSON array of areas ({{deliveryArea, prices: [...]}}) or an \
                     object with `multiAreaEntries`, found {}",
                    describe(other)
                ))));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
