//! The field's vocabulary: markets, products, location types, currencies and units.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The name as written in pipeline files and the lake.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{}`; known: {}",
                        stringify!($name),
                        text,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

named_enum! {
    /// The market (operator or exchange) that published a price.
    Market {
        /// California ISO.
        Caiso => "CAISO",
        /// Midcontinent ISO.
        Miso => "MISO",
        /// PJM Interconnection.
        Pjm => "PJM",
        /// Electric Reliability Council of Texas.
        Ercot => "ERCOT",
        /// Southwest Power Pool.
        Spp => "SPP",
        /// New York ISO.
        Nyiso => "NYISO",
        /// Ontario's Independent Electricity System Operator.
        Ieso => "IESO",
        /// Alberta Electric System Operator.
        Aeso => "AESO",
        /// EPEX SPOT day-ahead areas (DE-LU, FR, AT, CH, BE, NL), as published through ENTSO-E.
        Epex => "EPEX",
        /// OMIE (Spain, Portugal), as published through ENTSO-E.
        Omie => "OMIE",
        /// Nord Pool day-ahead areas.
        NordPool => "NORDPOOL",
        /// Japan Electric Power Exchange.
        Jepx => "JEPX",
        /// Australian National Electricity Market.
        Nem => "NEM",
        /// Henry Hub and regional natural-gas hubs.
        Gas => "GAS",
        /// EU emission allowances (EUA).
        Carbon => "CARBON",
    }
}

named_enum! {
    /// What was traded and how it settles, named as gridstatus users know it.
    Product {
        /// Day-ahead market, hourly intervals.
        DayAheadHourly => "DAY_AHEAD_HOURLY",
        /// Day-ahead market, 15-minute intervals (European markets since 2025-10-01).
        DayAhead15Min => "DAY_AHEAD_15_MIN",
        /// Day-ahead ex-ante prices (MISO).
        DayAheadHourlyExAnte => "DAY_AHEAD_HOURLY_EX_ANTE",
        /// Day-ahead ex-post prices (MISO).
        DayAheadHourlyExPost => "DAY_AHEAD_HOURLY_EX_POST",
        /// Real-time, 5-minute intervals.
        RealTime5Min => "REAL_TIME_5_MIN",
        /// Real-time 5-minute prices published as preliminary (unverified).
        RealTime5MinPrelim => "REAL_TIME_5_MIN_PRELIM",
        /// Real-time 5-minute prices after verification.
        RealTime5MinFinal => "REAL_TIME_5_MIN_FINAL",
        /// Real-time, 15-minute intervals.
        RealTime15Min => "REAL_TIME_15_MIN",
        /// Real-time, hourly intervals.
        RealTimeHourly => "REAL_TIME_HOURLY",
        /// Real-time hourly prices published as preliminary.
        RealTimeHourlyPrelim => "REAL_TIME_HOURLY_PRELIM",
        /// Real-time hourly prices after final settlement.
        RealTimeHourlyFinal => "REAL_TIME_HOURLY_FINAL",
        /// Real-time prices of each security-constrained economic dispatch (SCED) run, about
        /// every five minutes (ERCOT NP6-788-CD); stamped with the run time, not a settlement
        /// interval.
        RealTimeSced => "REAL_TIME_SCED",
        /// A daily price (gas day, carbon settlement).
        Daily => "DAILY",
        /// A weekly figure (the EIA's weekly natural-gas storage report, a level stated for
        /// the week's last day).
        Weekly => "WEEKLY",
        /// Day-ahead market, 30-minute intervals (JEPX spot, 48 per day).
        DayAhead30Min => "DAY_AHEAD_30_MIN",
        /// NEM 5-minute dispatch price for raise 6-second contingency FCAS (`RAISE6SECRRP`).
        FcasRaise6Sec => "FCAS_RAISE_6_SEC",
        /// NEM 5-minute dispatch price for raise 60-second contingency FCAS (`RAISE60SECRRP`).
        FcasRaise60Sec => "FCAS_RAISE_60_SEC",
        /// NEM 5-minute dispatch price for raise 5-minute contingency FCAS (`RAISE5MINRRP`).
        FcasRaise5Min => "FCAS_RAISE_5_MIN",
        /// NEM 5-minute dispatch price for raise regulation FCAS (`RAISEREGRRP`).
        FcasRaiseReg => "FCAS_RAISE_REG",
        /// NEM 5-minute dispatch price for lower 6-second contingency FCAS (`LOWER6SECRRP`).
        FcasLower6Sec => "FCAS_LOWER_6_SEC",
        /// NEM 5-minute dispatch price for lower 60-second contingency FCAS (`LOWER60SECRRP`).
        FcasLower60Sec => "FCAS_LOWER_60_SEC",
        /// NEM 5-minute dispatch price for lower 5-minute contingency FCAS (`LOWER5MINRRP`).
        FcasLower5Min => "FCAS_LOWER_5_MIN",
        /// NEM 5-minute dispatch price for lower regulation FCAS (`LOWERREGRRP`).
        FcasLowerReg => "FCAS_LOWER_REG",
        /// NEM 5-minute dispatch price for raise 1-second very fast FCAS (`RAISE1SECRRP`,
        /// since October 2023).
        FcasRaise1Sec => "FCAS_RAISE_1_SEC",
        /// NEM 5-minute dispatch price for lower 1-second very fast FCAS (`LOWER1SECRRP`,
        /// since October 2023).
        FcasLower1Sec => "FCAS_LOWER_1_SEC",
    }
}

named_enum! {
    /// What kind of place a price is for.
    LocationType {
        /// A pricing node (bus, resource or settlement node).
        Node => "NODE",
        /// A trading hub.
        Hub => "HUB",
        /// A load or pricing zone.
        Zone => "ZONE",
        /// A bidding area (Europe, Japan).
        Area => "AREA",
        /// A region (NEM) or a system-wide price.
        Region => "REGION",
    }
}

named_enum! {
    /// The unit of a quantity, and the quantity a price is per.
    Unit {
        /// Megawatt-hour.
        MegawattHour => "MWh",
        /// Kilowatt-hour (JEPX publishes yen per kWh).
        KilowattHour => "kWh",
        /// Million British thermal units (gas).
        MillionBtu => "MMBtu",
        /// Tonne of CO₂ (EU allowances).
        TonneCo2 => "tCO2",
        /// Billion cubic feet of natural gas (EIA storage volumes; 1 Bcf is about 1.04
        /// million MMBtu, depending on the gas's heat content, so it is never converted).
        Bcf => "Bcf",
        /// Megawatt: an hour's average power (load and wind generation forecasts). A
        /// quantity only; no price is per MW.
        Megawatt => "MW",
    }
}

impl Unit {
    /// The unit prices are normalized to, and the factor that converts a price per `self`
    /// into a price per that unit.
    pub fn normalized(self) -> (Unit, i64) {
        match self {
            Unit::KilowattHour => (Unit::MegawattHour, 1_000),
            other => (other, 1),
        }
    }
}

/// An ISO 4217 currency code, stored inline so records stay `Copy`-cheap.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Euro, the ECB's reference currency.
    pub const EUR: Currency = Currency(*b"EUR");
    /// US dollar.
    pub const USD: Currency = Currency(*b"USD");
    /// Canadian dollar.
    pub const CAD: Currency = Currency(*b"CAD");
    /// Japanese yen.
    pub const JPY: Currency = Currency(*b"JPY");
    /// Australian dollar.
    pub const AUD: Currency = Currency(*b"AUD");

    /// The three-letter code.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII uppercase letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let bytes = text.trim().as_bytes();
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_alphabetic) {
            let mut code = [0u8; 3];
            for (slot, byte) in code.iter_mut().zip(bytes) {
                *slot = byte.to_ascii_uppercase();
            }
            Ok(Currency(code))
        } else {
            Err(format!(
                "`{text}` is not a three-letter ISO 4217 currency code"
            ))
        }
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for product in Product::ALL {
            assert_eq!(product.as_str().parse::<Product>().unwrap(), *product);
        }
        for market in Market::ALL {
            assert_eq!(market.as_str().parse::<Market>().unwrap(), *market);
        }
        let err = "SPPP".parse::<Market>().unwrap_err();
        assert!(err.contains("known: CAISO"), "{err}");
    }

    #[test]
    fn currency_codes() {
        assert_eq!("usd".parse::<Currency>().unwrap(), Currency::USD);
        assert!("US".parse::<Currency>().is_err());
        assert_eq!(Currency::JPY.to_string(), "JPY");
    }
}
