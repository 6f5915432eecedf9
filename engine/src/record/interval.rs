//! How markets state time, and its resolution to UTC intervals.
//!
//! Parsers record time exactly as the publication states it ([`NativeInterval`]); the
//! normalize operator resolves it with [`NativeInterval::resolve`]. Keeping the two apart
//! means every DST rule lives here, once, pinned by tests.

use std::fmt;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// The clock a market's local times are written in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MarketClock {
    /// An IANA zone with daylight saving, e.g. `America/New_York`, `Europe/Paris`.
    Zone(Arc<str>),
    /// A fixed offset from UTC in minutes, all year: MISO and IESO use Eastern Standard
    /// Time (-300), NEM uses UTC+10 (600), JEPX Japan time (540).
    FixedOffsetMinutes(i32),
}

impl MarketClock {
    /// An IANA zone clock.
    pub fn zone(name: &str) -> Self {
        MarketClock::Zone(Arc::from(name))
    }

    fn time_zone(&self) -> Result<TimeZone, TimeError> {
        match self {
            MarketClock::Zone(name) => {
                TimeZone::get(name).map_err(|_| TimeError::UnknownZone(name.to_string()))
            }
            MarketClock::FixedOffsetMinutes(minutes) => Offset::from_seconds(minutes * 60)
                .map(TimeZone::fixed)
                .map_err(|_| TimeError::UnknownZone(format!("UTC offset {minutes} min"))),
        }
    }
}

/// Which occurrence of a repeated local time (the DST fall-back hour) is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Occurrence {
    /// The publication does not say; an ambiguous time is then rejected, never guessed.
    Unstated,
    /// The first occurrence (still on daylight time).
    First,
    /// The repeated occurrence (back on standard time), e.g. ERCOT `DSTFlag=Y`,
    /// CAISO `OPR_HR` 25, NYISO `Time Zone` EST on the fall-back day.
    Repeated,
}

/// Whether a stated local time is the start or the end of its interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Anchor {
    /// Interval-beginning (PJM EPT, NYISO day-ahead, JEPX).
    Start,
    /// Interval-ending (SPP `Interval`, NYISO real-time, NEM `SETTLEMENTDATE`).
    End,
}

/// Time exactly as a publication states it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NativeInterval {
    /// Start and end already in UTC (ENTSO-E, Nord Pool, CAISO GMT columns, SPP
    /// `GMTIntervalEnd`, PJM `datetime_beginning_utc`).
    Utc {
        /// Interval start.
        start: Timestamp,
        /// Interval end.
        end: Timestamp,
    },
    /// A local wall-clock time that starts or ends an interval of `minutes`.
    Local {
        /// The stated wall-clock time.
        time: DateTime,
        /// Whether `time` starts or ends the interval.
        anchor: Anchor,
        /// Interval length.
        minutes: u32,
        /// The clock `time` is written in.
        clock: MarketClock,
        /// Which occurrence of a repeated wall-clock time is meant.
        occurrence: Occurrence,
    },
    /// An hour-ending number on a delivery date: `HE n` is the hour that starts at local
    /// wall-clock `n-1:00` (CAISO `OPR_HR`, MISO `HE n`, ERCOT `HourEnding`, IESO
    /// `Delivery Hour`). On the spring-forward day the hour whose start falls in the gap
    /// does not exist; on the fall-back day the repeated hour is `occurrence = Repeated`.
    HourEnding {
        /// The delivery (operating) date in local time.
        date: Date,
        /// 1..=24.
        hour_ending: u8,
        /// The clock the date is in.
        clock: MarketClock,
        /// Which occurrence of the repeated hour is meant.
        occurrence: Occurrence,
    },
    /// A whole delivery day (gas day, carbon settlement) in local time.
    Day {
        /// The local date.
        date: Date,
        /// The clock the date is in.
        clock: MarketClock,
    },
}

/// Why a native time has no UTC interval.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The zone name is not in the bundled IANA database.
    #[error("unknown time zone `{0}`")]
    UnknownZone(String),
    /// The local time falls in the DST spring-forward gap.
    #[error("local time {0} does not exist (DST spring-forward gap)")]
    Nonexistent(String),
    /// The local time is repeated (DST fall-back) and the publication gives no flag.
    #[error("local time {0} is ambiguous (DST fall-back) and the row has no DST flag")]
    Ambiguous(String),
    /// A flag marks the repeated hour but the time is not repeated.
    #[error("local time {0} is flagged as the repeated DST hour but is not repeated")]
    NotRepeated(String),
    /// Hour-ending outside 1..=24.
    #[error("hour ending {0} is outside 1..=24")]
    BadHour(u8),
    /// Arithmetic left the supported date range.
    #[error("time out of range: {0}")]
    OutOfRange(String),
}

/// A resolved UTC interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UtcInterval {
    /// Inclusive start.
    pub start: Timestamp,
    /// Exclusive end.
    pub end: Timestamp,
}

impl fmt::Display for UtcInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

fn resolve_local(
    zone: &TimeZone,
    time: DateTime,
    occurrence: Occurrence,
) -> Result<Timestamp, TimeError> {
    let offset = match zone.to_ambiguous_timestamp(time).offset() {
        AmbiguousOffset::Unambiguous { offset } => {
            if occurrence == Occurrence::Repeated {
                return Err(TimeError::NotRepeated(time.to_string()));
            }
            offset
        }
        AmbiguousOffset::Gap { .. } => return Err(TimeError::Nonexistent(time.to_string())),
        AmbiguousOffset::Fold { before, after } => match occurrence {
            Occurrence::First => before,
            Occurrence::Repeated => after,
            Occurrence::Unstated => return Err(TimeError::Ambiguous(time.to_string())),
        },
    };
    offset
        .to_timestamp(time)
        .map_err(|error| TimeError::OutOfRange(error.to_string()))
}

fn add_minutes(start: Timestamp, minutes: i64) -> Result<Timestamp, TimeError> {
    start
        .checked_add(SignedDuration::from_mins(minutes))
        .map_err(|error| TimeError::OutOfRange(error.to_string()))
}

impl NativeInterval {
    /// Resolves to a UTC interval, or says why the stated time cannot exist.
    pub fn resolve(&self) -> Result<UtcInterval, TimeError> {
        match self {
            NativeInterval::Utc { start, end } => Ok(UtcInterval {
                start: *start,
                end: *end,
            }),
            NativeInterval::Local {
                time,
                anchor,
                minutes,
                clock,
                occurrence,
            } => {
                let zone = clock.time_zone()?;
                let minutes = i64::from(*minutes);
                match anchor {
                    Anchor::Start => {
                        let start = resolve_local(&zone, *time, *occurrence)?;
                        Ok(UtcInterval {
                            start,
                            end: add_minutes(start, minutes)?,
                        })
                    }
                    Anchor::End => {
                        // An interval ending at the start of a repeated hour (e.g. 01:00 on
                        // the fall-back day) is itself unambiguous: resolve the end with the
                        // offset in force just before it.
                        let end =
                            resolve_local(&zone, *time, *occurrence).or_else(|error| {
                                match (error, *occurrence) {
                                    (TimeError::Ambiguous(_), Occurrence::Unstated) => {
                                        let before = time
                                            .checked_sub(SignedDuration::from_mins(minutes))
                                            .map_err(|e| TimeError::OutOfRange(e.to_string()))?;
                                        let start =
                                            resolve_local(&zone, before, Occurrence::Unstated)?;
                                        add_minutes(start, minutes)
                                    }
                                    (error, _) => Err(error),
                                }
                            })?;
                        Ok(UtcInterval {
                            start: add_minutes(end, -minutes)?,
                            end,
                        })
                    }
                }
            }
            NativeInterval::HourEnding {
                date,
                hour_ending,
                clock,
                occurrence,
            } => {
                if !(1..=24).contains(hour_ending) {
                    return Err(TimeError::BadHour(*hour_ending));
                }
                let zone = clock.time_zone()?;
                let start_wall = date.at(i8::try_from(hour_ending - 1).unwrap_or(0), 0, 0, 0);
                let start = resolve_local(&zone, start_wall, *occurrence)?;
                Ok(UtcInterval {
                    start,
                    end: add_minutes(start, 60)?,
                })
            }
            NativeInterval::Day { date, clock } => {
                let zone = clock.time_zone()?;
                let start = resolve_local(&zone, date.at(0, 0, 0, 0), Occurrence::Unstated)?;
                let next = date
                    .tomorrow()
                    .map_err(|error| TimeError::OutOfRange(error.to_string()))?;
                let end = resolve_local(&zone, next.at(0, 0, 0, 0), Occurrence::Unstated)?;
                Ok(UtcInterval { start, end })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn utc(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn hour_ending(day: Date, hour: u8, occurrence: Occurrence) -> Result<UtcInterval, TimeError> {
        NativeInterval::HourEnding {
            date: day,
            hour_ending: hour,
            clock: MarketClock::zone("America/Los_Angeles"),
            occurrence,
        }
        .resolve()
    }

    #[test]
    fn fall_back_hour_is_distinct() {
        let day = date(2019, 11, 3);
        let first = hour_ending(day, 2, Occurrence::First).unwrap();
        let repeated = hour_ending(day, 2, Occurrence::Repeated).unwrap();
        assert_eq!(first.start, utc("2019-11-03T08:00:00Z"));
        assert_eq!(repeated.start, utc("2019-11-03T09:00:00Z"));
        assert_eq!(
            hour_ending(day, 3, Occurrence::Unstated).unwrap().start,
            utc("2019-11-03T10:00:00Z")
        );
        assert!(matches!(
            hour_ending(day, 2, Occurrence::Unstated),
            Err(TimeError::Ambiguous(_))
        ));
    }

    #[test]
    fn spring_forward_gap_is_rejected() {
        let day = date(2019, 3, 10);
        assert_eq!(
            hour_ending(day, 2, Occurrence::Unstated).unwrap().start,
            utc("2019-03-10T09:00:00Z")
        );
        assert!(matches!(
            hour_ending(day, 3, Occurrence::Unstated),
            Err(TimeError::Nonexistent(_))
        ));
        assert_eq!(
            hour_ending(day, 4, Occurrence::Unstated).unwrap().start,
            utc("2019-03-10T10:00:00Z")
        );
        assert!(matches!(
            hour_ending(day, 4, Occurrence::Repeated),
            Err(TimeError::NotRepeated(_))
        ));
    }

    #[test]
    fn fixed_offset_clocks_ignore_dst() {
        let interval = NativeInterval::Local {
            time: date(2024, 7, 1).at(0, 5, 0, 0),
            anchor: Anchor::End,
            minutes: 5,
            clock: MarketClock::FixedOffsetMinutes(600),
            occurrence: Occurrence::Unstated,
        };
        let resolved = interval.resolve().unwrap();
        assert_eq!(resolved.start, utc("2024-06-30T14:00:00Z"));
        assert_eq!(resolved.end, utc("2024-06-30T14:05:00Z"));
    }

    #[test]
    fn interval_ending_at_the_repeated_hour_start_is_unambiguous() {
        // NYISO real-time: the 5-minute interval 00:55-01:00 EDT on the fall-back day.
        let interval = NativeInterval::Local {
            time: date(2024, 11, 3).at(1, 0, 0, 0),
            anchor: Anchor::End,
            minutes: 5,
            clock: MarketClock::zone("America/New_York"),
            occurrence: Occurrence::Unstated,
        };
        assert_eq!(interval.resolve().unwrap().end, utc("2024-11-03T05:00:00Z"));
    }

    #[test]
    fn local_day_has_23_or_25_hours_on_dst_days() {
        let clock = MarketClock::zone("Europe/Paris");
        let spring = NativeInterval::Day {
            date: date(2023, 3, 26),
            clock: clock.clone(),
        }
        .resolve()
        .unwrap();
        let fall = NativeInterval::Day {
            date: date(2023, 10, 29),
            clock,
        }
        .resolve()
        .unwrap();
        assert_eq!(spring.end.duration_since(spring.start).as_hours(), 23);
        assert_eq!(fall.end.duration_since(fall.start).as_hours(), 25);
    }
}
