//! The open EPF benchmark's CSV files (Lago, Marcjasz, De Schutter and Weron, 2021):
//! `NP.csv` (Nord Pool system price) and `PJM.csv` (PJM COMED zone), hourly day-ahead
//! prices with two exogenous day-ahead forecasts.
//!
//! The header names the dataset, and so the market, location, currency and clock:
//!
//! | header | market | location (type) | currency | clock |
//! |---|---|---|---|---|
//! | `Date, Price, Grid load forecast, Wind power forecast` | `NORDPOOL` | `SYSTEM` (region) | EUR | UTC+1 |
//! | `Date, Zonal COMED price, System load forecast, Zonal COMED load foecast` | `PJM` | `COMED` (zone) | USD | UTC−5 |
//!
//! (`foecast` is the file's own spelling.) Each row `YYYY-MM-DD HH:MM:SS,price,x,y` is one
//! `DAY_AHEAD_HOURLY` price per MWh for the hour that starts at that time. The benchmark's
//! authors resolved daylight saving so that every day has exactly 24 hours; gridflow
//! therefore reads the clock as the market's standard time all year (CET, EST), which
//! keeps the dataset's days whole and distinct. The exogenous columns are not read.

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Product, PublishedPrice, Unit,
};
use jiff::civil::DateTime;

use super::common::{Context, iso_date, next_record, price_field, raw_text};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "epf_csv"`.
pub const NAME: &str = "epf_csv";

/// One dataset of the benchmark, known by its header.
struct Dataset {
    header: [&'static str; 4],
    market: Market,
    location: &'static str,
    location_type: LocationType,
    currency: Currency,
    clock_offset_minutes: i32,
}

const DATASETS: [Dataset; 2] = [
    Dataset {
        header: ["Date", "Price", "Grid load forecast", "Wind power forecast"],
        market: Market::NordPool,
        location: "SYSTEM",
        location_type: LocationType::Region,
        currency: Currency::EUR,
        clock_offset_minutes: 60,
    },
    Dataset {
        header: [
            "Date",
            "Zonal COMED price",
            "System load forecast",
            "Zonal COMED load foecast",
        ],
        market: Market::Pjm,
        location: "COMED",
        location_type: LocationType::Zone,
        currency: Currency::USD,
        clock_offset_minutes: -300,
    },
];

/// Parser for the EPF benchmark CSV.
#[derive(Clone, Debug, Default)]
pub struct EpfCsv;

impl EpfCsv {
    /// The parser; the files hold day-ahead hourly prices, the only product accepted.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        match product {
            None | Some(Product::DayAheadHourly) => Ok(EpfCsv),
            Some(product) => Err(FormatLookupError::Product {
                format: NAME,
                product,
                reason: "the EPF benchmark holds day-ahead hourly prices only (DAY_AHEAD_HOURLY)"
                    .into(),
            }),
        }
    }
}

/// `YYYY-MM-DD HH:00:00`, on the hour.
fn hour_start(field: &[u8]) -> Option<DateTime> {
    let field = field.trim_ascii();
    if field.len() != 19 || field[10] != b' ' || &field[13..] != b":00:00" {
        return None;
    }
    let date = iso_date(&field[..10])?;
    let hour = std::str::from_utf8(&field[11..13])
        .ok()?
        .parse::<i8>()
        .ok()?;
    (0..24).contains(&hour).then(|| date.at(hour, 0, 0, 0))
}

impl Format for EpfCsv {
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
        let found: Vec<String> = record
            .iter()
            .map(|field| String::from_utf8_lossy(field).trim().to_string())
            .collect();
        let Some(dataset) = DATASETS
            .iter()
            .find(|dataset| found.iter().map(String::as_str).eq(dataset.header))
        else {
            return Err(context.error(FileErrorKind::Header {
                expected: DATASETS
                    .iter()
                    .map(|dataset| dataset.header.join(", "))
                    .collect::<Vec<_>>()
                    .join(" or "),
                found: found.join(","),
                missing: vec!["the header of NP.csv or PJM.csv".to_string()],
            }));
        };
        let location: Arc<str> = Arc::from(dataset.location);
        let clock = MarketClock::FixedOffsetMinutes(dataset.clock_offset_minutes);
        let text = context.content(bytes)?;
        while let Some((line, start, stop)) = next_record(&mut reader, &mut record) {
            let raw = || raw_text(text, start, stop);
            if record.len() != 4 {
                let reason = format!(
                    "expected 4 fields, found {} (truncated or malformed row)",
                    record.len()
                );
                out.rejects.push(context.reject(line, &raw(), reason));
                continue;
            }
            let Some(time) = record.get(0).and_then(hour_start) else {
                let reason = format!(
                    "`Date` `{}` is not an hour written YYYY-MM-DD HH:00:00",
                    String::from_utf8_lossy(record.get(0).unwrap_or_default())
                );
                out.rejects.push(context.reject(line, &raw(), reason));
                continue;
            };
            match price_field(record.get(1), dataset.header[1]) {
                Ok(price) => out.observations.push(Observation::Price(PublishedPrice {
                    market: dataset.market,
                    product: Product::DayAheadHourly,
                    location: location.clone(),
                    location_type: dataset.location_type,
                    interval: NativeInterval::Local {
                        time,
                        anchor: Anchor::Start,
                        minutes: 60,
                        clock: clock.clone(),
                        occurrence: Occurrence::Unstated,
                    },
                    price,
                    currency: dataset.currency,
                    unit: Unit::MegawattHour,
                    components: Components::default(),
                    published_at: None,
                    revision: None,
                    origin: context.origin(line),
                })),
                Err(reason) => out.rejects.push(context.reject(line, &raw(), reason)),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use gridflow_engine::record::Price;

    use super::super::testing::{fixture, parse};
    use super::*;

    #[test]
    fn reads_both_datasets_with_their_market_and_clock() {
        for (file, market, location, currency, first_price) in [
            (
                "epf/NP.csv",
                Market::NordPool,
                "SYSTEM",
                Currency::EUR,
                "31.05",
            ),
            (
                "epf/PJM.csv",
                Market::Pjm,
                "COMED",
                Currency::USD,
                "25.464211",
            ),
        ] {
            let bytes = fixture(file);
            // The header and the first two days are enough.
            let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').take(49).collect();
            let out = parse(&EpfCsv, file, &lines.join(&b'\n')).unwrap();
            assert!(out.rejects.is_empty(), "{:?}", out.rejects);
            assert_eq!(out.observations.len(), 48);
            let Observation::Price(first) = &out.observations[0] else {
                panic!("a price");
            };
            assert_eq!((first.market, &*first.location), (market, location));
            assert_eq!(first.currency, currency);
            assert_eq!(first.product, Product::DayAheadHourly);
            assert_eq!(
                first.price,
                Price::from_ascii(first_price.as_bytes()).unwrap()
            );
            assert_eq!(first.origin.line, 2);
            let NativeInterval::Local { time, clock, .. } = &first.interval else {
                panic!("a local interval");
            };
            assert_eq!(time.to_string(), "2013-01-01T00:00:00");
            let expected = if market == Market::Pjm { -300 } else { 60 };
            assert_eq!(clock, &MarketClock::FixedOffsetMinutes(expected));
        }
    }

    #[test]
    fn bad_rows_are_rejected_and_a_foreign_header_refused() {
        let text = "Date, Price, Grid load forecast, Wind power forecast\n\
                    2013-01-01 00:00:00,31.05,42497.0,2798.0\n\
                    2013-01-01 01:30:00,30.47,41463.0,2417.0\n\
                    2013-01-01 02:00:00,n/a,41463.0,2417.0\n\
                    2013-01-01 03:00:00,29.5\n";
        let out = parse(&EpfCsv, "NP.csv", text.as_bytes()).unwrap();
        assert_eq!(out.observations.len(), 1);
        let reasons: Vec<(u64, &str)> = out
            .rejects
            .iter()
            .map(|r| (r.origin.line, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert_eq!(reasons[0].0, 3);
        assert!(reasons[0].1.contains("HH:00:00"), "{}", reasons[0].1);
        assert!(reasons[1].1.contains("Price"), "{}", reasons[1].1);
        assert!(
            reasons[2].1.contains("expected 4 fields"),
            "{}",
            reasons[2].1
        );
        let error = parse(&EpfCsv, "x.csv", b"Date,Price\n2013-01-01 00:00:00,1\n").unwrap_err();
        assert!(
            matches!(error.kind, FileErrorKind::Header { .. }),
            "{error}"
        );
        assert!(parse(&EpfCsv, "x.csv", b"").is_err());
    }
}
