//! Currency conversion as an as-of join on the ECB reference rates in the stream.
//!
//! The rate in force for a date is the latest rate dated on or before it, for at most
//! `max_rate_age_days` days (ECB publishes on TARGET business days only). Rates are quoted
//! per euro, so a price in currency C becomes base currency B by `price × rate(B) / rate(C)`
//! (the euro's rate is 1), in exact integer arithmetic rounded half away from zero.

use differential_dataflow::collection::vec::Collection as VecCollection;
use gridflow_engine::record::{Currency, Price, PriceKey, PriceRecord, Reject};
use gridflow_engine::{Collection, Diff, Time};
use jiff::civil::Date;
use jiff::tz::Offset;

use super::split::Either;
use super::{NormalizeSettings, Shared};

type Rates<'scope> = VecCollection<'scope, Time, (Currency, (Date, Price)), Diff>;
type Keyed<'scope, V> = VecCollection<'scope, Time, ((Currency, Date), V), Diff>;

/// The UTC date of a record's interval start: the date whose rate applies.
pub(super) fn rate_date(record: &PriceRecord) -> Date {
    Offset::UTC.to_datetime(record.key.interval_start).date()
}

/// Converts `prices` to the base currency; prices without a rate become rejects.
pub(super) fn convert<'scope>(
    prices: Collection<'scope, Shared>,
    rates: Rates<'scope>,
    settings: NormalizeSettings,
) -> (Collection<'scope, Shared>, Collection<'scope, Reject>) {
    let base = settings.base_currency;
    let max_age = settings.max_rate_age_days;
    let in_force = rates_in_force(rates, max_age);

    // (currency, date) -> (numerator, denominator) taking that currency to the base.
    let factors: Keyed<'scope, (i64, i64)> = if base == Currency::EUR {
        in_force.map(|(currency, (date, rate))| ((currency, date), (Price::SCALE, rate.micros())))
    } else {
        let base_rates = in_force
            .clone()
            .filter(move |(currency, _)| *currency == base)
            .map(|(_, (date, rate))| (date, rate.micros()));
        let euro = base_rates
            .clone()
            .map(|(date, base_rate)| ((Currency::EUR, date), (base_rate, Price::SCALE)));
        in_force
            .map(|(currency, (date, rate))| (date, (currency, rate.micros())))
            .join_map(base_rates, |date, (currency, rate), base_rate| {
                ((*currency, *date), (*base_rate, *rate))
            })
            .concat(euro)
    };

    let (in_base, foreign) = super::split::split(prices, move |record| {
        if record.currency == base {
            Either::Left(record)
        } else {
            Either::Right((
                (record.currency, rate_date(&record)),
                (record.key.clone(), record),
            ))
        }
    });
    // Many prices share one (currency, date): the index orders them by their key, kept
    // inline so that sorting does not chase every record's pointer.
    let foreign: Keyed<'scope, (PriceKey, Shared)> = foreign;
    // One index of the foreign-currency prices serves both the conversion and the rejects.
    let needed = foreign.clone().map(|(key, _)| key).distinct();
    let foreign = foreign.arrange_by_key_named("Normalize: prices by currency and date");

    let factor_keys = factors.clone().map(|(key, _)| key).distinct();
    let converted = foreign.clone().join_core(
        factors.arrange_by_key_named("Normalize: conversion factors"),
        move |_, (_, record), (numerator, denominator)| {
            Some(apply(record, *numerator, *denominator, base))
        },
    );
    let (converted_ok, overflow) = super::split::split(converted, |result| match result {
        Ok(record) => Either::Left(record),
        Err(reject) => Either::Right(reject),
    });

    let missing_keys = needed.map(|key| (key, ())).antijoin(factor_keys);
    let missing = foreign.join_core(
        missing_keys.arrange_by_key_named("Normalize: dates without a rate"),
        move |(currency, date), (_, record), ()| {
            Some(Reject::new(
                record.origin.clone(),
                "normalize",
                &format!(
                    "{} {} {} {} {}",
                    record.key.market, record.key.location, record.key.interval_start, record.native_price, currency
                ),
                format!(
                    "no ECB reference rate for {currency}{} in force on {date} (latest within {max_age} days); add the rates to the pipeline's inputs",
                    if base == Currency::EUR { String::new() } else { format!(" and {base}") },
                ),
            ))
        },
    );
    (in_base.concat(converted_ok), missing.concat(overflow))
}

fn apply(
    record: &PriceRecord,
    numerator: i64,
    denominator: i64,
    base: Currency,
) -> Result<Shared, Reject> {
    let convert = |price: Price| price.scale_by(numerator, denominator);
    let convert_optional = |price: Option<Price>| price.map(convert);
    let mut out = PriceRecord::clone(record);
    let (Some(price), Some(energy), Some(congestion), Some(loss)) = (
        convert(record.price),
        convert_optional(record.components.energy).map_or(Some(None), |v| v.map(Some)),
        convert_optional(record.components.congestion).map_or(Some(None), |v| v.map(Some)),
        convert_optional(record.components.loss).map_or(Some(None), |v| v.map(Some)),
    ) else {
        return Err(Reject::new(
            record.origin.clone(),
            "normalize",
            &record.native_price.to_string(),
            "price overflows in currency conversion",
        ));
    };
    out.price = price;
    out.components.energy = energy;
    out.components.congestion = congestion;
    out.components.loss = loss;
    out.currency = base;
    Ok(std::sync::Arc::new(out))
}

/// Every (currency, date) with the rate in force on it.
fn rates_in_force(rates: Rates<'_>, max_age: u8) -> Rates<'_> {
    rates.reduce_named(
        "Normalize: rates in force",
        move |_currency, dated, output| {
            let present: Vec<(Date, Price)> = dated
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(|(rate, _)| **rate)
                .collect();
            for (index, (date, rate)) in present.iter().enumerate() {
                let next = present.get(index + 1).map(|(next, _)| *next);
                if next == Some(*date) {
                    // Two rates for one date (a correction): the greater sorts last and wins.
                    continue;
                }
                let mut day = *date;
                for _ in 0..=max_age {
                    if next.is_some_and(|next| day >= next) {
                        break;
                    }
                    output.push(((day, *rate), 1));
                    match day.tomorrow() {
                        Ok(tomorrow) => day = tomorrow,
                        Err(_) => break,
                    }
                }
            }
        },
    )
}
