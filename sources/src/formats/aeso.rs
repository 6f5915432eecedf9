//! AESO (Alberta) hourly pool price, the JSON answer of the AESO API's Pool Price Report
//! (`poolprice-api/v1.1/price/poolPrice?startDate=YYYY-MM-DD&endDate=YYYY-MM-DD`).
//!
//! ```text
//! {"timestamp": "2024-11-04 06:10:47.327+0000", "responseCode": "200",
//!  "return": {"Pool Price Report": [
//!    {"begin_datetime_utc": "2024-11-03 07:00", "begin_datetime_mpt": "2024-11-03 01:00",
//!     "pool_price": "35.21", "forecast_pool_price": "36.02", "rolling_30day_avg": "48.15"}, ...]}}
//! ```
//!
//! Every value is a JSON string. Each item is one price for location `ALBERTA` (a region),
//! product `REAL_TIME_HOURLY`, CAD/MWh, no components: the pool price is the hourly average
//! of the one-minute system marginal prices, settled after the hour, between the floor
//! $0 and the cap $999.99 (kept as published, never clamped).
//!
//! Time comes from `begin_datetime_utc` (hour beginning, UTC, `YYYY-MM-DD HH:MM`), so the
//! repeated 01:00 of the fall-back day needs no flag. `begin_datetime_mpt` is the same
//! instant on Alberta's clock (America/Edmonton); an item whose two times disagree is
//! rejected rather than trusted.
//!
//! An hour not yet settled has an empty `pool_price` (the API answers for today's future
//! hours with only a forecast): such items are skipped, not rejected, because nothing is
//! wrong with them. `forecast_pool_price` is a forecast, not a price, and is not emitted;
//! neither is `rolling_30day_avg`. The answer's `timestamp` (UTC) becomes every price's
//! publication time. JSON answers carry no useful line numbers, so an origin's `line` is
//! the 1-based position of the item in the report.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Price, Product,
    PublishedPrice, Unit,
};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};

use super::common::{Context, iso_date, product_minutes, utc};
use super::nordpool::number_text;
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "aeso_pool_price"`.
pub const NAME: &str = "aeso_pool_price";

/// The report's key under `return`.
pub const REPORT: &str = "Pool Price Report";

/// The fields of a report item, in published order.
pub const FIELDS: &str =
    "begin_datetime_utc,begin_datetime_mpt,pool_price,forecast_pool_price,rolling_30day_avg";

/// The one location the pool price is for.
pub const LOCATION: &str = "ALBERTA";

/// Alberta's clock, the one `begin_datetime_mpt` is written in.
pub const ZONE: &str = "America/Edmonton";

/// Parser for AESO Pool Price Report JSON.
#[derive(Clone, Debug)]
pub struct AesoPoolPrice {
    product: Product,
    zone: Option<TimeZone>,
}

impl AesoPoolPrice {
    /// A parser for `REAL_TIME_HOURLY` prices, or `product` (an hourly one) instead.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        let product = match product {
            None => Product::RealTimeHourly,
            Some(product) if product_minutes(product) == Some(60) => product,
            Some(product) => {
                return Err(FormatLookupError::Product {
                    format: NAME,
                    product,
                    reason: "the pool price is hourly".into(),
                });
            }
        };
        Ok(AesoPoolPrice {
            product,
            zone: TimeZone::get(ZONE).ok(),
        })
    }
}

/// `YYYY-MM-DD HH:MM` (seconds tolerated), no offset.
pub fn api_datetime(text: &str) -> Option<DateTime> {
    let text = text.trim();
    let (date, time) = text.split_once([' ', 'T'])?;
    let date = iso_date(date.as_bytes())?;
    let time = time.parse::<jiff::civil::Time>().ok()?;
    Some(date.to_datetime(time))
}

/// The answer's `timestamp`, `2024-04-19 03:29:58.480+0000`.
fn answer_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    text.parse::<Timestamp>().ok().or_else(|| {
        // `+0000` without a colon: read the civil part and apply the offset.
        let (civil, offset) = text.split_at(text.len().checked_sub(5)?);
        let sign = match offset.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let hours: i64 = offset.get(1..3)?.parse().ok()?;
        let minutes: i64 = offset.get(3..5)?.parse().ok()?;
        let civil = civil.trim().parse::<DateTime>().ok()?;
        utc(civil)?
            .checked_sub(SignedDuration::from_mins(sign * (hours * 60 + minutes)))
            .ok()
    })
}

fn text_of<'v>(item: &'v Map<String, Value>, key: &str) -> Result<Option<&'v str>, String> {
    match item.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.as_str())),
        Some(other) => Err(format!("`{key}` {other} is not a string")),
    }
}

struct Items<'a> {
    context: &'a Context<'a>,
    product: Product,
    zone: Option<&'a TimeZone>,
    published_at: Option<Timestamp>,
    location: Arc<str>,
}

impl Items<'_> {
    /// One item: `Ok(None)` for an hour not settled yet.
    fn item(&self, item: &Value, ordinal: u64) -> Result<Option<Observation>, String> {
        let Some(item) = item.as_object() else {
            return Err("a report item must be an object".into());
        };
        let price = match item.get("pool_price") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => return Ok(None),
            Some(Value::String(text)) => text.trim().parse::<Price>(),
            Some(Value::Number(number)) => number_text(number).parse::<Price>(),
            Some(other) => return Err(format!("`pool_price` {other} is not a decimal")),
        }
        .map_err(|error| format!("`pool_price`: {error}"))?;
        let utc_text =
            text_of(item, "begin_datetime_utc")?.ok_or("missing `begin_datetime_utc`")?;
        let start = api_datetime(utc_text).and_then(utc).ok_or_else(|| {
            format!("`begin_datetime_utc` `{utc_text}` is not a time written YYYY-MM-DD HH:MM")
        })?;
        let mpt_text =
            text_of(item, "begin_datetime_mpt")?.ok_or("missing `begin_datetime_mpt`")?;
        let mpt = api_datetime(mpt_text).ok_or_else(|| {
            format!("`begin_datetime_mpt` `{mpt_text}` is not a time written YYYY-MM-DD HH:MM")
        })?;
        if let Some(zone) = self.zone {
            let expected = zone.to_datetime(start);
            if expected != mpt {
                return Err(format!(
                    "`begin_datetime_mpt` {mpt_text} is not `begin_datetime_utc` {utc_text} \
                     in {ZONE} ({expected}): the item contradicts itself"
                ));
            }
        }
        let end = start
            .checked_add(SignedDuration::from_hours(1))
            .map_err(|error| format!("interval end out of range: {error}"))?;
        Ok(Some(Observation::Price(PublishedPrice {
            market: Market::Aeso,
            product: self.product,
            location: self.location.clone(),
            location_type: LocationType::Region,
            interval: NativeInterval::Utc { start, end },
            price,
            currency: Currency::CAD,
            unit: Unit::MegawattHour,
            components: Components::default(),
            published_at: self.published_at,
            revision: None,
            origin: self.context.origin(ordinal),
        })))
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The report's items, or why the answer is not a pool price report.
fn report<'v>(document: &'v Value, context: &Context<'_>) -> Result<&'v [Value], FileError> {
    let structure = |message: String| context.error(FileErrorKind::Structure(message));
    let Some(object) = document.as_object() else {
        return Err(structure(format!(
            "expected a JSON object {{\"timestamp\", \"responseCode\", \"return\"}}, found {}",
            describe(document)
        )));
    };
    if let Some(code) = object.get("responseCode")
        && code.as_str() != Some("200")
    {
        let message = object
            .get("message")
            .map(|message| format!(": {message}"))
            .unwrap_or_default();
        return Err(structure(format!(
            "the API answered responseCode {code}{message}, not a report"
        )));
    }
    let Some(answer) = object.get("return") else {
        return Err(structure("no `return` object in the answer".into()));
    };
    match answer.get(REPORT) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(structure(format!(
            "`return.{REPORT}` is {}, not an array",
            describe(other)
        ))),
        None => {
            let keys = answer
                .as_object()
                .map(|object| object.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            Err(structure(format!(
                "`return` has no `{REPORT}` (found: {keys}); is this another AESO report?"
            )))
        }
    }
}

/// The first item shows whether AESO renamed a field: one file error, not one per hour.
fn check_fields(items: &[Value], context: &Context<'_>) -> Result<(), FileError> {
    let Some(first) = items.iter().find_map(Value::as_object) else {
        return Ok(());
    };
    let missing: Vec<String> = ["begin_datetime_utc", "begin_datetime_mpt", "pool_price"]
        .into_iter()
        .filter(|key| !first.contains_key(*key))
        .map(str::to_string)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(context.error(FileErrorKind::Header {
        expected: FIELDS.to_string(),
        found: first.keys().cloned().collect::<Vec<_>>().join(","),
        missing,
    }))
}

impl Format for AesoPoolPrice {
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
        let items = report(&document, &context)?;
        check_fields(items, &context)?;
        let parser = Items {
            context: &context,
            product: self.product,
            zone: self.zone.as_ref(),
            published_at: document
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(answer_time),
            location: Arc::from(LOCATION),
        };
        for (index, item) in items.iter().enumerate() {
            let ordinal = index as u64 + 1;
            match parser.item(item, ordinal) {
                Ok(Some(observation)) => out.observations.push(observation),
                Ok(None) => {}
                Err(reason) => {
                    out.rejects
                        .push(context.reject(ordinal, &item.to_string(), reason));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
