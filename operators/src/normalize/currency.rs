//! The ECB reference rates a worker knows, and conversion to the base currency with them.
//!
//! The rate in force for a date is the latest rate dated on or before it, for at most
//! `max_rate_age_days` days (ECB publishes on TARGET business days only). Rates are quoted
//! per euro, so a price in currency C becomes base currency B by `price × rate(B) / rate(C)`
//! (the euro's rate is 1), in exact integer arithmetic rounded half away from zero.

use gridflow_engine::Diff;
use gridflow_engine::record::{Currency, Price, PriceRecord, Reject};
use jiff::Timestamp;
use jiff::civil::Date;
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::ops::RangeInclusive;

use super::NormalizeSettings;

const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 (UTC): the calendar arithmetic of rate ages in one integer.
pub(super) type EpochDay = i32;

/// The UTC day of an instant: the date whose rate applies to an interval starting then.
#[cfg(test)]
pub(super) fn epoch_day(instant: Timestamp) -> EpochDay {
    instant.as_second().div_euclid(SECONDS_PER_DAY) as EpochDay
}

/// The day whose rate converts `record`: the UTC date of its interval's midpoint. For
/// hourly and shorter intervals that is the date of the start; a daily price stated as a
/// local day (EUA in Berlin, gas in Chicago) starts the evening before in UTC, and its
/// midpoint keeps it on its own date.
pub(super) fn rate_day(record: &PriceRecord) -> EpochDay {
    let start = record.key.interval_start.as_second();
    let end = record.interval_end.as_second().max(start);
    ((start + (end - start) / 2).div_euclid(SECONDS_PER_DAY)) as EpochDay
}

/// The day of a calendar date (days from civil: a proleptic Gregorian count in integers,
/// a tenth of the cost of calendar arithmetic, which a history of rates pays per row).
pub(super) fn date_day(date: Date) -> EpochDay {
    let (year, month, day) = (
        i32::from(date.year()),
        i32::from(date.month()),
        i32::from(date.day()),
    );
    // Years start in March, so the leap day is the last day of its year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn day_date(day: EpochDay) -> Date {
    Timestamp::from_second(i64::from(day) * SECONDS_PER_DAY)
        .map(|instant| jiff::tz::Offset::UTC.to_datetime(instant).date())
        .unwrap_or(Date::MIN)
}

/// A rate as it arrives: per euro, for one currency and date.
pub(super) type RateUpdate = ((Currency, Date, Price), Diff);

/// Every rate received so far, with multiplicities, by currency and day.
pub(super) struct RateBook {
    settings: NormalizeSettings,
    /// Per currency, the rates published for each day with their multiplicities; a
    /// correction adds a second one for its day, and the greatest present rate wins so the
    /// choice never depends on arrival order.
    rates: HashMap<Currency, BTreeMap<(EpochDay, Price), Diff>>,
    /// The last factor looked up: consecutive prices mostly share currency and day.
    last_factor: Cell<Option<LastFactor>>,
}

type LastFactor = ((Currency, EpochDay), Option<(i64, i64)>);

impl RateBook {
    pub(super) fn new(settings: NormalizeSettings) -> Self {
        RateBook {
            settings,
            rates: HashMap::new(),
            last_factor: Cell::new(None),
        }
    }

    /// Applies one update; returns the days whose rate in force may have changed.
    pub(super) fn update(
        &mut self,
        currency: Currency,
        date: Date,
        rate: Price,
        diff: Diff,
    ) -> RangeInclusive<EpochDay> {
        let day = date_day(date);
        self.last_factor.set(None);
        let dated = self.rates.entry(currency).or_default();
        let count = dated.entry((day, rate)).or_default();
        *count += diff;
        if *count == 0 {
            dated.remove(&(day, rate));
        }
        day..=day.saturating_add(EpochDay::from(self.settings.max_rate_age_days))
    }

    /// Interval starts (µs) whose prices may use a rate of `days`: an interval starts at
    /// most a day before the day its midpoint falls on.
    pub(super) fn affected_starts(days: &RangeInclusive<EpochDay>) -> std::ops::Range<i64> {
        let micros_per_day = SECONDS_PER_DAY * 1_000_000;
        (i64::from(*days.start()) - 1) * micros_per_day
            ..(i64::from(*days.end()) + 1) * micros_per_day
    }

    /// The rate per euro in force for `currency` on `day`.
    fn in_force(&self, currency: Currency, day: EpochDay) -> Option<i64> {
        if currency == Currency::EUR {
            return Some(Price::SCALE);
        }
        let oldest = day.saturating_sub(EpochDay::from(self.settings.max_rate_age_days));
        // Newest day first and, within a day, the greatest rate first.
        self.rates
            .get(&currency)?
            .range((oldest, Price::from_micros(i64::MIN))..=(day, Price::from_micros(i64::MAX)))
            .rev()
            .find(|(_, count)| **count > 0)
            .map(|((_, rate), _)| rate.micros())
    }

    /// `(numerator, denominator)` taking a price in `currency` on `day` to the base currency.
    pub(super) fn factor(&self, currency: Currency, day: EpochDay) -> Option<(i64, i64)> {
        if let Some((at, factor)) = self.last_factor.get()
            && at == (currency, day)
        {
            return factor;
        }
        let base = self.settings.base_currency;
        let factor = self.in_force(base, day).zip(self.in_force(currency, day));
        self.last_factor.set(Some(((currency, day), factor)));
        factor
    }

    /// Why a price in `currency` on `day` has no conversion.
    pub(super) fn missing_reason(&self, currency: Currency, day: EpochDay) -> String {
        let base = self.settings.base_currency;
        format!(
            "no ECB reference rate for {currency}{} in force on {} (latest within {} days); add the rates to the pipeline's inputs",
            if base == Currency::EUR {
                String::new()
            } else {
                format!(" and {base}")
            },
            day_date(day),
            self.settings.max_rate_age_days,
        )
    }
}

/// A copy of `record` in the base currency, or a reject if a value overflows.
pub(super) fn convert(
    record: &PriceRecord,
    (numerator, denominator): (i64, i64),
    base: Currency,
) -> Result<PriceRecord, Reject> {
    let convert = |price: Price| price.scale_by(numerator, denominator);
    let convert_optional = |price: Option<Price>| match price {
        None => Some(None),
        Some(price) => convert(price).map(Some),
    };
    let (Some(price), Some(energy), Some(congestion), Some(loss), Some(greenhouse_gas)) = (
        convert(record.price),
        convert_optional(record.components.energy),
        convert_optional(record.components.congestion),
        convert_optional(record.components.loss),
        convert_optional(record.components.greenhouse_gas),
    ) else {
        return Err(Reject::new(
            record.origin.clone(),
            "normalize",
            &record.native_price.to_string(),
            "price overflows in currency conversion",
        ));
    };
    let mut out = PriceRecord::clone(record);
    out.price = price;
    out.components.energy = energy;
    out.components.congestion = congestion;
    out.components.loss = loss;
    out.components.greenhouse_gas = greenhouse_gas;
    out.currency = base;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn epoch_days_agree_for_dates_and_instants() {
        for text in ["1969-12-31", "1970-01-01", "2024-02-29", "2024-11-03"] {
            let date: Date = text.parse().unwrap();
            let midnight = jiff::tz::Offset::UTC
                .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
                .unwrap();
            let day = date_day(date);
            assert_eq!(day, epoch_day(midnight), "{text}");
            assert_eq!(
                day,
                epoch_day(midnight + jiff::SignedDuration::from_hours(23))
            );
            assert_eq!(day_date(day), date);
        }
        assert_eq!(date_day(date(1970, 1, 2)), 1);
    }

    #[test]
    fn day_numbers_follow_the_calendar_across_centuries() {
        let epoch = date(1970, 1, 1);
        let mut day = date(1599, 12, 25);
        while day < date(2401, 3, 5) {
            let expected = day.since(epoch).unwrap().get_days();
            assert_eq!(date_day(day), expected, "{day}");
            day = day.tomorrow().unwrap();
        }
    }

    #[test]
    fn greatest_present_rate_of_the_latest_date_within_the_age_wins() {
        let mut book = RateBook::new(NormalizeSettings {
            base_currency: Currency::EUR,
            max_rate_age_days: 3,
        });
        let monday = date(2024, 1, 8);
        let rate = |text: &str| text.parse::<Price>().unwrap();
        assert_eq!(
            book.update(Currency::USD, monday, rate("1.10"), 1),
            date_day(monday)..=date_day(monday) + 3
        );
        book.update(Currency::USD, monday, rate("1.20"), 1);
        let day = date_day(monday);
        assert_eq!(
            book.factor(Currency::USD, day),
            Some((1_000_000, 1_200_000))
        );
        assert_eq!(
            book.factor(Currency::USD, day + 3),
            Some((1_000_000, 1_200_000))
        );
        assert_eq!(book.factor(Currency::USD, day + 4), None);
        assert_eq!(book.factor(Currency::USD, day - 1), None);
        book.update(Currency::USD, monday, rate("1.20"), -1);
        assert_eq!(
            book.factor(Currency::USD, day + 1),
            Some((1_000_000, 1_100_000))
        );
        book.update(Currency::USD, monday, rate("1.10"), -1);
        assert_eq!(book.factor(Currency::USD, day), None);
    }
}
