//! EPF benchmark data: the CSV (`Date, Price, exog1, exog2`, one row per hour, whole days) and
//! the benchmark's split of its days into training, validation and test periods.

use std::io::Read;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ForecastError, Result};

/// Hours in a (DST-resolved) day of the EPF data.
pub const HOURS_PER_DAY: usize = 24;
/// Days of price history a forecast looks back on (168 hours).
pub const HISTORY_DAYS: usize = 7;
/// The benchmark's test period: its last 728 days (Lago et al. 2021).
pub const BENCHMARK_TEST_DAYS: usize = 728;
/// Default validation period for early stopping: the year before the test period.
pub const DEFAULT_VALIDATION_DAYS: usize = 364;

/// One EPF market: hourly prices and two exogenous day-ahead forecasts, in whole days.
#[derive(Debug, Clone, PartialEq)]
pub struct EpfDataset {
    name: String,
    columns: [String; 4],
    timestamps: Vec<String>,
    prices: Vec<f64>,
    exogenous: [Vec<f64>; 2],
    calendar: Vec<CalendarDay>,
}

/// Calendar facts of one day, from its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDay {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// 0-based day of the year.
    pub day_of_year: u16,
}

impl CalendarDay {
    /// The calendar of the day `days` after 1970-01-01 (proleptic Gregorian).
    pub fn from_epoch_day(days: i64) -> Self {
        // The year holding `days` (Howard Hinnant's civil_from_days, year only).
        let shifted = days + 719_468;
        let era = shifted.div_euclid(146_097);
        let day_of_era = shifted - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_march_year =
            day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_index = (5 * day_of_march_year + 2) / 153;
        let year = year_of_era + era * 400 + i64::from(month_index >= 10);
        Self {
            weekday: (days + 3).rem_euclid(7) as u8, // 1970-01-01 was a Thursday (3).
            day_of_year: (days - days_from_civil(year, 1, 1)) as u16,
        }
    }
}

impl EpfDataset {
    /// Reads an EPF CSV file; the dataset is named after the file stem (`NP`, `PJM`).
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "epf".to_owned());
        let file = std::fs::File::open(path).map_err(|e| ForecastError::io(path, e))?;
        Self::from_reader(name, std::io::BufReader::new(file))
    }

    /// Reads EPF CSV text: a header and rows `timestamp, price, exog1, exog2`.
    pub fn from_reader(name: impl Into<String>, reader: impl Read) -> Result<Self> {
        let name = name.into();
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let csv_error = |line: u64, message: String| ForecastError::Csv {
            dataset: name.clone(),
            line,
            message,
        };
        let header = csv.headers().map_err(|e| csv_error(1, e.to_string()))?;
        if header.len() != 4 {
            return Err(csv_error(
                1,
                format!(
                    "expected 4 columns (Date, Price, exog1, exog2), found {}",
                    header.len()
                ),
            ));
        }
        let columns = [0, 1, 2, 3].map(|i| header[i].to_owned());
        let mut timestamps = Vec::new();
        let mut prices = Vec::new();
        let mut exogenous = [Vec::new(), Vec::new()];
        for (index, record) in csv.records().enumerate() {
            let line = index as u64 + 2;
            let record = record.map_err(|e| csv_error(line, e.to_string()))?;
            if record.len() != 4 {
                return Err(csv_error(
                    line,
                    format!("expected 4 fields, found {}", record.len()),
                ));
            }
            let number = |column: usize| -> Result<f64> {
                let value: f64 = record[column].parse().map_err(|_| {
                    csv_error(
                        line,
                        format!("{}: not a number: {:?}", columns[column], &record[column]),
                    )
                })?;
                if value.is_finite() {
                    Ok(value)
                } else {
                    Err(csv_error(line, format!("{}: not finite", columns[column])))
                }
            };
            prices.push(number(1)?);
            exogenous[0].push(number(2)?);
            exogenous[1].push(number(3)?);
            timestamps.push(record[0].to_owned());
        }
        Self::from_columns(name, columns, timestamps, prices, exogenous)
    }

    /// Builds a dataset from columns already in memory (hour `i` of day `d` is row `24·d + i`).
    pub fn from_columns(
        name: impl Into<String>,
        columns: [String; 4],
        timestamps: Vec<String>,
        prices: Vec<f64>,
        exogenous: [Vec<f64>; 2],
    ) -> Result<Self> {
        let name = name.into();
        let shape = |message: String| ForecastError::Shape {
            dataset: name.clone(),
            message,
        };
        let rows = timestamps.len();
        if prices.len() != rows || exogenous.iter().any(|c| c.len() != rows) {
            return Err(shape("columns have different lengths".to_owned()));
        }
        if rows == 0 || !rows.is_multiple_of(HOURS_PER_DAY) {
            return Err(shape(format!(
                "{rows} rows is not a whole number of 24-hour days"
            )));
        }
        let mut calendar = Vec::with_capacity(rows / HOURS_PER_DAY);
        for (day, hours) in timestamps.chunks(HOURS_PER_DAY).enumerate() {
            let date = &hours[0].get(..10).unwrap_or_default();
            for (hour, stamp) in hours.iter().enumerate() {
                let stamp_hour = stamp.get(11..13).and_then(|h| h.parse::<usize>().ok());
                if !stamp.starts_with(date) || stamp_hour != Some(hour) {
                    return Err(shape(format!(
                        "row {} ({stamp:?}): expected hour {hour:02} of {date}",
                        day * HOURS_PER_DAY + hour + 2
                    )));
                }
            }
            let day_of = parse_date(date)
                .ok_or_else(|| shape(format!("day {day}: unreadable date {date:?}")))?;
            calendar.push(day_of);
        }
        Ok(Self {
            name,
            columns,
            timestamps,
            prices,
            exogenous,
            calendar,
        })
    }

    /// The dataset's name (the file stem: `NP`, `PJM`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The header as in the file (trimmed): date, price and the two exogenous columns.
    pub fn columns(&self) -> &[String; 4] {
        &self.columns
    }

    /// Number of whole days.
    pub fn days(&self) -> usize {
        self.calendar.len()
    }

    /// The timestamp strings exactly as in the file, one per hour.
    pub fn timestamps(&self) -> &[String] {
        &self.timestamps
    }

    /// Hourly prices.
    pub fn prices(&self) -> &[f64] {
        &self.prices
    }

    /// Exogenous day-ahead forecast `index` (0 or 1), hourly.
    pub fn exogenous(&self, index: usize) -> &[f64] {
        &self.exogenous[index]
    }

    /// Calendar facts of day `day`.
    pub fn calendar(&self, day: usize) -> CalendarDay {
        self.calendar[day]
    }

    /// The 24 prices of day `day`.
    pub fn day_prices(&self, day: usize) -> &[f64] {
        &self.prices[day * HOURS_PER_DAY..(day + 1) * HOURS_PER_DAY]
    }

    /// The 168-hour naive forecast of day `day`: the prices of the same hours a week earlier.
    pub fn naive_168(&self, day: usize) -> &[f64] {
        self.day_prices(day - HISTORY_DAYS)
    }
}

/// `YYYY-MM-DD` to weekday and day of year (proleptic Gregorian calendar).
fn parse_date(date: &str) -> Option<CalendarDay> {
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(CalendarDay::from_epoch_day(days_from_civil(
        year, month, day,
    )))
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// How many days go to the test and validation periods; training gets the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// The test period: the last `test_days` days. Benchmark: 728.
    pub test_days: usize,
    /// The validation period for early stopping: the `validation_days` days just before the
    /// test period. Default 364.
    pub validation_days: usize,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            test_days: BENCHMARK_TEST_DAYS,
            validation_days: DEFAULT_VALIDATION_DAYS,
        }
    }
}

/// Day ranges of the three periods. A day `d` in any of them is forecast from prices of days
/// `< d` only (see [`crate::features`]); its first possible value is [`HISTORY_DAYS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Days whose targets train the model.
    pub train: Range<usize>,
    /// Days for early stopping (right before the test period).
    pub validation: Range<usize>,
    /// The test period (the dataset's last days).
    pub test: Range<usize>,
}

impl SplitConfig {
    /// Splits `days` days; fails unless every period gets at least one day.
    pub fn split(&self, dataset: &EpfDataset) -> Result<Split> {
        let days = dataset.days();
        let test_start = days.checked_sub(self.test_days);
        let validation_start = test_start.and_then(|t| t.checked_sub(self.validation_days));
        match validation_start {
            Some(v) if v > HISTORY_DAYS && self.test_days > 0 && self.validation_days > 0 => {
                let test_start = v + self.validation_days;
                Ok(Split {
                    train: HISTORY_DAYS..v,
                    validation: v..test_start,
                    test: test_start..days,
                })
            }
            _ => Err(ForecastError::Shape {
                dataset: dataset.name().to_owned(),
                message: format!(
                    "{days} days cannot hold {HISTORY_DAYS} history days, training days, {} validation \
                     days and {} test days",
                    self.validation_days, self.test_days
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_from_epoch_days_matches_dates() {
        for (year, month, day) in [
            (1970, 1, 1),
            (2016, 2, 29),
            (2016, 12, 31),
            (2018, 3, 1),
            (1969, 12, 31),
            (2000, 12, 31),
        ] {
            let days = days_from_civil(year, month, day);
            let date = format!("{year:04}-{month:02}-{day:02}");
            let expected_day_of_year = days - days_from_civil(year, 1, 1);
            let calendar = CalendarDay::from_epoch_day(days);
            assert_eq!(
                i64::from(calendar.day_of_year),
                expected_day_of_year,
                "{date}"
            );
            assert_eq!(parse_date(&date), Some(calendar));
        }
        assert_eq!(
            CalendarDay::from_epoch_day(days_from_civil(2016, 12, 31)).day_of_year,
            365
        );
        assert_eq!(
            CalendarDay::from_epoch_day(days_from_civil(2018, 12, 31)).day_of_year,
            364
        );
    }

    #[test]
    fn calendar_of_known_dates() {
        // 2013-01-01 was a Tuesday; 2016-12-31 is day 365 of a leap year, a Saturday.
        let d = parse_date("2013-01-01").unwrap();
        assert_eq!((d.weekday, d.day_of_year), (1, 0));
        let d = parse_date("2016-12-31").unwrap();
        assert_eq!((d.weekday, d.day_of_year), (5, 365));
        assert!(parse_date("2016-13-01").is_none());
    }

    fn rows(days: usize) -> String {
        let mut text = String::from("Date, Price, Load, Wind\n");
        for day in 0..days {
            for hour in 0..24 {
                text += &format!(
                    "2020-01-{:02} {hour:02}:00:00,{},1,2\n",
                    day + 1,
                    day * 24 + hour
                );
            }
        }
        text
    }

    #[test]
    fn reads_and_splits() {
        let data = EpfDataset::from_reader("T", rows(20).as_bytes()).unwrap();
        assert_eq!(data.days(), 20);
        assert_eq!(data.timestamps()[25], "2020-01-02 01:00:00");
        assert_eq!(data.columns()[1], "Price");
        assert_eq!(data.naive_168(8)[3], 27.0);
        let split = SplitConfig {
            test_days: 5,
            validation_days: 3,
        }
        .split(&data)
        .unwrap();
        assert_eq!(
            (split.train, split.validation, split.test),
            (7..12, 12..15, 15..20)
        );
        let too_many = SplitConfig {
            test_days: 10,
            validation_days: 3,
        };
        assert!(too_many.split(&data).is_err());
    }

    #[test]
    fn rejects_partial_days_and_bad_numbers() {
        let text = rows(2);
        let cut: String = text.lines().take(30).map(|l| format!("{l}\n")).collect();
        assert!(matches!(
            EpfDataset::from_reader("T", cut.as_bytes()),
            Err(ForecastError::Shape { .. })
        ));
        let bad = text.replacen(",5,1,2", ",x,1,2", 1);
        let error = EpfDataset::from_reader("T", bad.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("line 7"), "{error}");
    }
}
