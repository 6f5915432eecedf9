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
//! keeps the dataset's days whole and distinct.
//!
//! Two formats read the same files: `epf_csv` the prices, `epf_exogenous_csv` the two
//! exogenous columns, as `DAY_AHEAD_HOURLY` quantities in MW for the same hours (for the
//! `fundamentals` operator, and from it the `forecast` operator's `exogenous` inputs):
//!
//! | column | market | series | location (type) |
//! |---|---|---|---|
//! | `Grid load forecast` | `NORDPOOL` | `LOAD_FORECAST` | `SYSTEM` (region) |
//! | `Wind power forecast` | `NORDPOOL` | `WIND_POWER_FORECAST` | `SYSTEM` (region) |
//! | `System load forecast` | `PJM` | `LOAD_FORECAST` | `PJM` (region) |
//! | `Zonal COMED load foecast` | `PJM` | `LOAD_FORECAST` | `COMED` (zone) |

use std::sync::Arc;

use gridflow_engine::component::SourceOutput;
use gridflow_engine::record::{
    Anchor, Components, Currency, LocationType, Market, MarketClock, NativeInterval, Observation,
    Occurrence, Product, PublishedPrice, PublishedQuantity, Unit,
};
use jiff::civil::DateTime;

use super::common::{Context, iso_date, next_record, price_field, raw_text};
use super::{FileError, FileErrorKind, Format, FormatLookupError};

/// `format = "epf_csv"`: the prices.
pub const NAME: &str = "epf_csv";
/// `format = "epf_exogenous_csv"`: the exogenous day-ahead forecasts.
pub const EXOGENOUS_NAME: &str = "epf_exogenous_csv";

/// What an exogenous column is, as a quantity.
struct ExogenousSeries {
    series: &'static str,
    location: &'static str,
    location_type: LocationType,
}

/// One dataset of the benchmark, known by its header.
struct Dataset {
    header: [&'static str; 4],
    market: Market,
    location: &'static str,
    location_type: LocationType,
    currency: Currency,
    clock_offset_minutes: i32,
    exogenous: [ExogenousSeries; 2],
}

const DATASETS: [Dataset; 2] = [
    Dataset {
        header: ["Date", "Price", "Grid load forecast", "Wind power forecast"],
        market: Market::NordPool,
        location: "SYSTEM",
        location_type: LocationType::Region,
        currency: Currency::EUR,
        clock_offset_minutes: 60,
        exogenous: [
            ExogenousSeries {
                series: "LOAD_FORECAST",
                location: "SYSTEM",
                location_type: LocationType::Region,
            },
            ExogenousSeries {
                series: "WIND_POWER_FORECAST",
                location: "SYSTEM",
                location_type: LocationType::Region,
            },
        ],
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
        exogenous: [
            ExogenousSeries {
                series: "LOAD_FORECAST",
                location: "PJM",
                location_type: LocationType::Region,
            },
            ExogenousSeries {
                series: "LOAD_FORECAST",
                location: "COMED",
                location_type: LocationType::Zone,
            },
        ],
    },
];

/// Parser for the EPF benchmark CSV.
#[derive(Clone, Debug, Default)]
pub struct EpfCsv;

impl EpfCsv {
    /// The parser; the files hold day-ahead hourly prices, the only product accepted.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        day_ahead_hourly_only(
            product,
            NAME,
            "the EPF benchmark holds day-ahead hourly prices only (DAY_AHEAD_HOURLY)",
        )
        .map(|()| EpfCsv)
    }
}

/// Accepts no product or `DAY_AHEAD_HOURLY`, the only one an EPF file holds.
fn day_ahead_hourly_only(
    product: Option<Product>,
    format: &'static str,
    reason: &str,
) -> Result<(), FormatLookupError> {
    match product {
        None | Some(Product::DayAheadHourly) => Ok(()),
        Some(product) => Err(FormatLookupError::Product {
            format,
            product,
            reason: reason.into(),
        }),
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

/// Parser for the exogenous columns of the EPF benchmark CSV.
#[derive(Clone, Debug, Default)]
pub struct EpfExogenousCsv;

impl EpfExogenousCsv {
    /// The parser; the forecasts are day-ahead hourly, the only product accepted.
    pub fn new(product: Option<Product>) -> Result<Self, FormatLookupError> {
        day_ahead_hourly_only(
            product,
            EXOGENOUS_NAME,
            "the EPF benchmark's exogenous series are day-ahead hourly forecasts \
             (DAY_AHEAD_HOURLY)",
        )
        .map(|()| EpfExogenousCsv)
    }
}

/// The hour a row's observations are for, on the dataset's clock.
fn hour_interval(time: DateTime, clock: &MarketClock) -> NativeInterval {
    NativeInterval::Local {
        time,
        anchor: Anchor::Start,
        minutes: 60,
        clock: clock.clone(),
        occurrence: Occurrence::Unstated,
    }
}

/// Reads the file's rows: checks the header and each row's shape and time, and hands the
/// rest to `row` (dataset, fields, hour, line), which returns the row's observations or
/// why it is refused.
fn read_rows(
    format: &'static str,
    bytes: &[u8],
    file: &Arc<str>,
    source: &Arc<str>,
    out: &mut SourceOutput,
    mut row: impl FnMut(
        &Context<'_>,
        &Dataset,
        &csv::ByteRecord,
        NativeInterval,
        u64,
    ) -> Result<Vec<Observation>, String>,
) -> Result<(), FileError> {
    let context = Context::new(format, file, source);
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
        match row(
            &context,
            dataset,
            &record,
            hour_interval(time, &clock),
            line,
        ) {
            Ok(observations) => out.observations.extend(observations),
            Err(reason) => out.rejects.push(context.reject(line, &raw(), reason)),
        }
    }
    Ok(())
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
        let mut location: Option<Arc<str>> = None;
        read_rows(
            NAME,
            bytes,
            file,
            source,
            out,
            |context, dataset, record, interval, line| {
                let price = price_field(record.get(1), dataset.header[1])?;
                let location = location.get_or_insert_with(|| Arc::from(dataset.location));
                Ok(vec![Observation::Price(PublishedPrice {
                    market: dataset.market,
                    product: Product::DayAheadHourly,
                    location: location.clone(),
                    location_type: dataset.location_type,
                    interval,
                    price,
                    currency: dataset.currency,
                    unit: Unit::MegawattHour,
                    components: Components::default(),
                    published_at: None,
                    revision: None,
                    origin: context.origin(line),
                })])
            },
        )
    }
}

impl Format for EpfExogenousCsv {
    fn name(&self) -> &'static str {
        EXOGENOUS_NAME
    }

    fn parse(
        &self,
        bytes: &[u8],
        file: &Arc<str>,
        source: &Arc<str>,
        out: &mut SourceOutput,
    ) -> Result<(), FileError> {
        let mut names: Option<[(Arc<str>, Arc<str>); 2]> = None;
        read_rows(
            EXOGENOUS_NAME,
            bytes,
            file,
            source,
            out,
            |context, dataset, record, interval, line| {
                let names = names.get_or_insert_with(|| {
                    dataset
                        .exogenous
                        .each_ref()
                        .map(|e| (Arc::from(e.series), Arc::from(e.location)))
                });
                // Both columns or neither: a forecast needs both.
                let values =
                    [2, 3].map(|column| price_field(record.get(column), dataset.header[column]));
                let [first, second] = values;
                let values = [first?, second?];
                Ok(values
                    .into_iter()
                    .zip(&dataset.exogenous)
                    .zip(names.iter())
                    .map(|((value, exogenous), (series, location))| {
                        Observation::Quantity(PublishedQuantity {
                            market: dataset.market,
                            product: Product::DayAheadHourly,
                            series: series.clone(),
                            location: location.clone(),
                            location_type: exogenous.location_type,
                            interval: interval.clone(),
                            value,
                            unit: Unit::Megawatt,
                            published_at: None,
                            revision: None,
                            origin: context.origin(line),
                        })
                    })
                    .collect())
            },
        )
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
    fn exogenous_columns_are_quantities_of_the_same_hours() {
        for (file, market, names) in [
            (
                "epf/NP.csv",
                Market::NordPool,
                [
                    ("LOAD_FORECAST", "SYSTEM"),
                    ("WIND_POWER_FORECAST", "SYSTEM"),
                ],
            ),
            (
                "epf/PJM.csv",
                Market::Pjm,
                [("LOAD_FORECAST", "PJM"), ("LOAD_FORECAST", "COMED")],
            ),
        ] {
            let bytes = fixture(file);
            let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').take(25).collect();
            let joined = lines.join(&b'\n');
            let out = parse(&EpfExogenousCsv, file, &joined).unwrap();
            assert!(out.rejects.is_empty(), "{:?}", out.rejects);
            assert_eq!(out.observations.len(), 48);
            let second_row: Vec<&str> = std::str::from_utf8(lines[2]).unwrap().split(',').collect();
            for (column, observation) in out.observations[2..4].iter().enumerate() {
                let Observation::Quantity(quantity) = observation else {
                    panic!("a quantity");
                };
                assert_eq!(quantity.market, market);
                assert_eq!((&*quantity.series, &*quantity.location), names[column]);
                assert_eq!(quantity.unit, Unit::Megawatt);
                assert_eq!(quantity.product, Product::DayAheadHourly);
                assert_eq!(
                    quantity.value,
                    Price::from_ascii(second_row[column + 2].trim().as_bytes()).unwrap()
                );
                assert_eq!(quantity.origin.line, 3);
                let NativeInterval::Local { time, .. } = &quantity.interval else {
                    panic!("a local interval");
                };
                assert_eq!(time.to_string(), "2013-01-01T01:00:00");
            }
        }
        // A row with an unreadable forecast is refused whole, with its line.
        let text = "Date, Price, Grid load forecast, Wind power forecast\n\
                    2013-01-01 00:00:00,31.05,42497.0,2798.0\n\
                    2013-01-01 01:00:00,30.47,41463.0,\n";
        let out = parse(&EpfExogenousCsv, "NP.csv", text.as_bytes()).unwrap();
        assert_eq!(out.observations.len(), 2);
        assert_eq!(out.rejects.len(), 1);
        assert_eq!(out.rejects[0].origin.line, 3);
        assert!(
            out.rejects[0].reason.contains("Wind power forecast"),
            "{}",
            out.rejects[0].reason
        );
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
