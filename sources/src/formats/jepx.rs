//! JEPX day-ahead spot market summary: `spot_summary_YYYY.csv`, one file per fiscal year
//! (April to March), as downloaded from jepx.jp.
//!
//! The file is Shift-JIS (Microsoft code page 932) with CRLF line endings; a copy re-saved
//! as UTF-8 is read too (a file that is valid UTF-8 is taken as UTF-8, anything else must
//! decode as Shift-JIS, or the whole file is refused with the offset and line of the first
//! byte that does not decode). The header is
//! `年月日,時刻コード,売り入札量(kWh),買い入札量(kWh),約定総量(kWh),システムプライス(円/kWh),
//! エリアプライス北海道(円/kWh),…,エリアプライス九州(円/kWh),…` followed by averages, avoidable
//! costs, block volumes and FIP reference prices, which are not read.
//!
//! Each row gives ten prices, product `DAY_AHEAD_30_MIN`, in JPY per kWh as published
//! (normalize multiplies by 1,000 for MWh): the system price (location `SYSTEM`, type
//! `REGION`) and the nine area prices (`HOKKAIDO`, `TOHOKU`, `TOKYO`, `CHUBU`, `HOKURIKU`,
//! `KANSAI`, `CHUGOKU`, `SHIKOKU`, `KYUSHU`, type `AREA`).
//!
//! Time: `年月日` is the delivery date `YYYY/MM/DD` in Japan Standard Time (UTC+9, no
//! daylight saving) and `時刻コード` n (1–48) is the half-hour that starts at (n−1)×30
//! minutes past midnight: code 1 of 2025/04/01 is 2025-03-31T15:00Z–15:30Z. Each price
//! is stated as a local interval anchored at its start on the fixed +09:00 clock; the
//! engine resolves it. A bad price is rejected on its own (the row's other prices still
//! parse); a bad date, time code or field count rejects the row.

use std::borrow::Cow;
use std::sync::Arc;

use csv::ByteRecord;
use encoding_rs::{DecoderResult, SHIFT_JIS};
use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Product, PublishedPrice, Unit,
};
use jiff::civil::DateTime;

use super::common::{Context, next_record, price_field, raw_text, require_columns, slash_date};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "jepx_spot"`.
pub const NAME: &str = "jepx_spot";

/// The start of the header JEPX publishes: the columns read, and those before them.
pub const HEADER: &str = "年月日,時刻コード,売り入札量(kWh),買い入札量(kWh),約定総量(kWh),\
    システムプライス(円/kWh),エリアプライス北海道(円/kWh),エリアプライス東北(円/kWh),\
    エリアプライス東京(円/kWh),エリアプライス中部(円/kWh),エリアプライス北陸(円/kWh),\
    エリアプライス関西(円/kWh),エリアプライス中国(円/kWh),エリアプライス四国(円/kWh),\
    エリアプライス九州(円/kWh)";

/// Japan Standard Time: UTC+9 all year.
pub const CLOCK_OFFSET_MINUTES: i32 = 540;

/// Each price column, the location it prices, and that location's type.
const PRICES: [(&str, &str, LocationType); 10] = [
    ("システムプライス(円/kWh)", "SYSTEM", LocationType::Region),
    (
        "エリアプライス北海道(円/kWh)",
        "HOKKAIDO",
        LocationType::Area,
    ),
    ("エリアプライス東北(円/kWh)", "TOHOKU", LocationType::Area),
    ("エリアプライス東京(円/kWh)", "TOKYO", LocationType::Area),
    ("エリアプライス中部(円/kWh)", "CHUBU", LocationType::Area),
    ("エリアプライス北陸(円/kWh)", "HOKURIKU", LocationType::Area),
    ("エリアプライス関西(円/kWh)", "KANSAI", LocationType::Area),
    ("エリアプライス中国(円/kWh)", "CHUGOKU", LocationType::Area),
    ("エリアプライス四国(円/kWh)", "SHIKOKU", LocationType::Area),
    ("エリアプライス九州(円/kWh)", "KYUSHU", LocationType::Area),
];

const DATE: &str = "年月日";
const CODE: &str = "時刻コード";

/// Parser for the JEPX spot summary CSV.
#[derive(Clone, Debug, Default)]
pub struct JepxSpot;

impl JepxSpot {
    /// The parser; JEPX spot prices are `DAY_AHEAD_30_MIN`, the only product accepted.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None | Some(Product::DayAhead30Min) => Ok(JepxSpot),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the JEPX spot summary holds day-ahead half-hourly prices only \
                         (DAY_AHEAD_30_MIN)"
                    .into(),
            }),
        }
    }
}

/// The file as text: UTF-8 when it is valid UTF-8, otherwise Shift-JIS (cp932).
fn decode<'b>(context: &Context<'_>, bytes: &'b [u8]) -> Result<Cow<'b, str>, FileError> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(text));
    }
    let mut decoder = SHIFT_JIS.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(3));
    let mut text = String::with_capacity(capacity);
    let mut consumed = 0;
    loop {
        let rest = bytes.get(consumed..).unwrap_or_default();
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut text, true);
        consumed += read;
        match result {
            DecoderResult::InputEmpty => return Ok(Cow::Owned(text)),
            DecoderResult::OutputFull => text.reserve(rest.len().saturating_mul(3).max(16)),
            DecoderResult::Malformed(bad, after) => {
                let at = consumed
                    .saturating_sub(usize::from(after))
                    .saturating_sub(usize::from(bad));
                let before = bytes.get(..at).unwrap_or_default();
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let shown: Vec<String> = bytes
                    .get(at..at + usize::from(bad).max(1))
                    .unwrap_or_default()
                    .iter()
                    .map(|b| format!("{b:#04x}"))
                    .collect();
                return Err(context.error(FileErrorKind::Encoding(format!(
                    "neither UTF-8 nor Shift-JIS (cp932): bytes {} at offset {at} (line {line}) \
                     do not decode",
                    shown.join(" ")
                ))));
            }
        }
    }
}

/// Column indices in the file's header.
struct Columns {
    width: usize,
    date: usize,
    code: usize,
    prices: [usize; 10],
}

/// The start of the half-hour `code` (1–48) on the row's date, or why not.
fn interval_start(record: &ByteRecord, columns: &Columns) -> Result<DateTime, String> {
    let date_text = record.get(columns.date).unwrap_or_default();
    let date = slash_date(date_text).ok_or_else(|| {
        format!(
            "`{DATE}` `{}` is not a date written YYYY/MM/DD",
            String::from_utf8_lossy(date_text)
        )
    })?;
    let code_text = record.get(columns.code).unwrap_or_default();
    let code = std::str::from_utf8(code_text)
        .ok()
        .and_then(|text| text.trim().parse::<i8>().ok())
        .filter(|code| (1..=48).contains(code))
        .ok_or_else(|| {
            format!(
                "`{CODE}` `{}` is not a half-hour code 1-48",
                String::from_utf8_lossy(code_text)
            )
        })?;
    let half_hours = code - 1;
    Ok(date.at(half_hours / 2, (half_hours % 2) * 30, 0, 0))
}

impl Format for JepxSpot {
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
        let text = decode(&context, context.content(bytes)?)?;
        let text = text.as_bytes();
        let (mut reader, mut record) = context.open_csv(text)?;
        let [date, code, p0, p1, p2, p3, p4, p5, p6, p7, p8, p9] = require_columns(
            &context,
            &record,
            HEADER,
            [
                &[DATE],
                &[CODE],
                &[PRICES[0].0],
                &[PRICES[1].0],
                &[PRICES[2].0],
                &[PRICES[3].0],
                &[PRICES[4].0],
                &[PRICES[5].0],
                &[PRICES[6].0],
                &[PRICES[7].0],
                &[PRICES[8].0],
                &[PRICES[9].0],
            ],
        )?;
        let columns = Columns {
            width: record.len(),
            date,
            code,
            prices: [p0, p1, p2, p3, p4, p5, p6, p7, p8, p9],
        };
        let locations: [Arc<str>; 10] = PRICES.map(|(_, location, _)| Arc::from(location));
        let clock = MarketClock::FixedOffsetMinutes(CLOCK_OFFSET_MINUTES);
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            let raw = || raw_text(text, start, stop);
            if record.len() != columns.width {
                let reason = format!(
                    "expected {} fields, found {} (truncated or malformed row)",
                    columns.width,
                    record.len()
                );
                out.rejects.push(context.reject(line, &raw(), reason));
                continue;
            }
            let time = match interval_start(&record, &columns) {
                Ok(time) => time,
                Err(reason) => {
                    out.rejects.push(context.reject(line, &raw(), reason));
                    continue;
                }
            };
            for ((column, location), (header, _, location_type)) in
                columns.prices.iter().zip(&locations).zip(PRICES)
            {
                match price_field(record.get(*column), header) {
                    Ok(price) => out.observations.push(Observation::Price(PublishedPrice {
                        market: Market::Jepx,
                        product: Product::DayAhead30Min,
                        location: location.clone(),
                        location_type,
                        interval: NativeInterval::Local {
                            time,
                            anchor: Anchor::Start,
                            minutes: 30,
                            clock: clock.clone(),
                            occurrence: Occurrence::Unstated,
                        },
                        price,
                        currency: Currency::JPY,
                        unit: Unit::KilowattHour,
                        components: Components::default(),
                        published_at: None,
                        revision: None,
                        origin: context.origin(line),
                    })),
                    Err(reason) => out.rejects.push(context.reject(line, &raw(), reason)),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
