//! Exact fixed-point prices: integer micro-units (1e-6) of a currency per unit of quantity.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A price, rate or quantity ([`Quantity`]) as a signed integer count of micro-units (six
/// decimal places).
///
/// Differential dataflow consolidates by equality, so values must compare exactly: a float
/// that differs in the last bit after a conversion would never cancel its retraction.
/// Six decimals is the finest precision any supported market publishes (PJM writes six);
/// the range is ±9.2 × 10¹² units, far beyond any price cap. Negative values are normal.
///
/// Stored as the micro-units with the sign bit flipped, which orders like the signed value
/// and is never zero for any micro-unit count but `i64::MIN` (left out of the range): so
/// `Option<Price>` is eight bytes, not sixteen. Records carry four optional components;
/// the niche takes 32 bytes off every price record and observation, which the engine
/// copies a million times a second.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(NonZeroU64);

/// Flips the sign bit: an order-preserving map from `i64` onto `u64`.
const SIGN: u64 = 1 << 63;

/// An exact quantity (a storage volume, later load or generation): the same fixed-point
/// decimal as [`Price`], six decimals, so quantities compare exactly and cancel their
/// retractions in differential dataflow like prices do. The type's name says what a field
/// holds; the arithmetic and the parsing are `Price`'s.
pub type Quantity = Price;

/// Why a decimal text is not a [`Price`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PriceParseError {
    /// The text is empty or only whitespace.
    #[error("empty price")]
    Empty,
    /// The text is not a plain decimal number.
    #[error("not a decimal number: `{0}`")]
    NotDecimal(String),
    /// The value does not fit the fixed-point range.
    #[error("price out of range: `{0}`")]
    OutOfRange(String),
}

impl Price {
    /// Micro-units per whole unit.
    pub const SCALE: i64 = 1_000_000;
    /// Number of decimal places kept.
    pub const DECIMALS: u32 = 6;
    /// Zero.
    pub const ZERO: Price = Price::known(0);
    /// The least price: `i64::MIN + 1` micro-units (`i64::MIN` itself is not a price).
    pub const MIN: Price = Price::known(i64::MIN + 1);
    /// The greatest price: `i64::MAX` micro-units.
    pub const MAX: Price = Price::known(i64::MAX);

    /// For constants: a count known to be in range.
    const fn known(micros: i64) -> Self {
        match Price::new(micros) {
            Some(price) => price,
            None => panic!("i64::MIN micro-units is not a price"),
        }
    }

    /// A price from its micro-unit count, or `None` for `i64::MIN`, the one count outside
    /// the range.
    pub const fn new(micros: i64) -> Option<Self> {
        match NonZeroU64::new((micros as u64) ^ SIGN) {
            Some(bits) => Some(Price(bits)),
            None => None,
        }
    }

    /// A price from its micro-unit count; `i64::MIN` becomes [`Price::MIN`].
    pub const fn from_micros(micros: i64) -> Self {
        match Price::new(micros) {
            Some(price) => price,
            None => Price::MIN,
        }
    }

    /// The micro-unit count.
    pub const fn micros(self) -> i64 {
        (self.0.get() ^ SIGN) as i64
    }

    /// Whole units, e.g. `Price::from_units(42)` is 42.000000.
    pub const fn from_units(units: i64) -> Self {
        Price::from_micros(units * Self::SCALE)
    }

    /// The value as a float, for display and statistics only (never for keys).
    pub fn to_f64(self) -> f64 {
        self.micros() as f64 / Self::SCALE as f64
    }

    /// Multiplies by `numerator / denominator`, rounding half away from zero, exactly
    /// (128-bit intermediate). Returns `None` on a zero denominator or overflow.
    pub fn scale_by(self, numerator: i64, denominator: i64) -> Option<Price> {
        if denominator == 0 {
            return None;
        }
        let product = i128::from(self.micros()) * i128::from(numerator);
        let denominator = i128::from(denominator);
        let quotient = product / denominator;
        let remainder = product % denominator;
        let rounded = if 2 * remainder.abs() >= denominator.abs() {
            quotient
                + if (product < 0) != (denominator < 0) {
                    -1
                } else {
                    1
                }
        } else {
            quotient
        };
        i64::try_from(rounded).ok().and_then(Price::new)
    }

    /// Sum of two prices, `None` on overflow.
    pub fn checked_add(self, other: Price) -> Option<Price> {
        self.micros()
            .checked_add(other.micros())
            .and_then(Price::new)
    }

    /// Difference of two prices, `None` on overflow.
    pub fn checked_sub(self, other: Price) -> Option<Price> {
        self.micros()
            .checked_sub(other.micros())
            .and_then(Price::new)
    }

    /// Negation.
    pub fn negate(self) -> Price {
        // Never overflows: `i64::MIN` is not a price.
        Price::from_micros(-self.micros())
    }
}

impl Default for Price {
    fn default() -> Self {
        Price::ZERO
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Price").field(&self.micros()).finish()
    }
}

/// Serialized as the micro-unit count, as before the niche.
impl Serialize for Price {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.micros().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let micros = i64::deserialize(deserializer)?;
        Price::new(micros)
            .ok_or_else(|| serde::de::Error::custom("i64::MIN micro-units is not a price"))
    }
}

impl FromStr for Price {
    type Err = PriceParseError;

    /// Parses a plain decimal (`-12.5`, `+3`, `.25`, `1e3` is refused). Digits beyond the
    /// sixth decimal are rounded half away from zero.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Price::from_ascii(text.trim().as_bytes())
    }
}

impl Price {
    /// Parses a plain decimal written in ASCII, as [`FromStr`] does, straight from bytes (a
    /// CSV field), with ASCII whitespace around it ignored: parsers call this for every
    /// value, and going through `&str` cost a UTF-8 check and a Unicode trim each time.
    pub fn from_ascii(bytes: &[u8]) -> Result<Price, PriceParseError> {
        let bytes = bytes.trim_ascii();
        if bytes.is_empty() {
            return Err(PriceParseError::Empty);
        }
        let (negative, digits) = match bytes[0] {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let text = || String::from_utf8_lossy(bytes).into_owned();
        let not_decimal = || PriceParseError::NotDecimal(text());
        let out_of_range = || PriceParseError::OutOfRange(text());
        if digits.is_empty() {
            return Err(not_decimal());
        }
        // Unsigned 64-bit magnitudes: every parser's hot loop goes through here, and i128
        // arithmetic cost a tenth of CSV parsing.
        let mut whole: u64 = 0;
        let mut fraction: u64 = 0;
        let mut fraction_digits = 0u32;
        let mut round_up = false;
        let mut seen_point = false;
        let mut seen_digit = false;
        for &byte in digits {
            match byte {
                b'0'..=b'9' => {
                    seen_digit = true;
                    let digit = u64::from(byte - b'0');
                    if !seen_point {
                        whole = whole
                            .checked_mul(10)
                            .and_then(|whole| whole.checked_add(digit))
                            .filter(|whole| *whole <= i64::MAX as u64)
                            .ok_or_else(out_of_range)?;
                    } else if fraction_digits < Self::DECIMALS {
                        fraction = fraction * 10 + digit;
                        fraction_digits += 1;
                    } else if fraction_digits == Self::DECIMALS {
                        round_up = digit >= 5;
                        fraction_digits += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => return Err(not_decimal()),
            }
        }
        if !seen_digit {
            return Err(not_decimal());
        }
        let kept = fraction_digits.min(Self::DECIMALS);
        let magnitude = whole
            .checked_mul(Self::SCALE as u64)
            .and_then(|micros| micros.checked_add(fraction * 10u64.pow(Self::DECIMALS - kept)))
            .and_then(|micros| micros.checked_add(u64::from(round_up)))
            .ok_or_else(out_of_range)?;
        let micros = if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        };
        micros.and_then(Price::new).ok_or_else(out_of_range)
    }
}

impl fmt::Display for Price {
    /// Writes the shortest exact decimal: `-12.5`, `0`, `1.000001`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.micros();
        let sign = if micros < 0 { "-" } else { "" };
        let magnitude = micros.unsigned_abs();
        let whole = magnitude / Self::SCALE as u64;
        let fraction = magnitude % Self::SCALE as u64;
        if fraction == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let digits = format!("{fraction:06}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_market_decimals_exactly() {
        assert_eq!("23.9984".parse::<Price>().unwrap().micros(), 23_998_400);
        assert_eq!("-0.13758".parse::<Price>().unwrap().micros(), -137_580);
        assert_eq!("545.530000".parse::<Price>().unwrap().micros(), 545_530_000);
        assert_eq!("45".parse::<Price>().unwrap().micros(), 45_000_000);
        assert_eq!(".5".parse::<Price>().unwrap().micros(), 500_000);
        assert_eq!("1.0000005".parse::<Price>().unwrap().micros(), 1_000_001);
        assert_eq!("-1.0000005".parse::<Price>().unwrap().micros(), -1_000_001);
    }

    #[test]
    fn refuses_non_decimals() {
        for bad in ["", " ", "abc", "1.2.3", "-", ".", "1e3", "NaN", "12,5"] {
            assert!(bad.parse::<Price>().is_err(), "{bad:?} parsed");
        }
        assert!(matches!(
            "99999999999999999999".parse::<Price>(),
            Err(PriceParseError::OutOfRange(_))
        ));
    }

    #[test]
    fn the_extremes_of_the_range_parse_and_one_micro_more_does_not() {
        assert_eq!(
            "-9223372036854.775807".parse::<Price>().unwrap(),
            Price::MIN
        );
        assert_eq!(
            "9223372036854.775807".parse::<Price>().unwrap().micros(),
            i64::MAX
        );
        for beyond in [
            "9223372036854.775808",
            // i64::MIN micro-units: the one count left out, for the niche.
            "-9223372036854.775808",
            "-9223372036854.775809",
            "9223372036854.7758075",
        ] {
            assert!(
                matches!(beyond.parse::<Price>(), Err(PriceParseError::OutOfRange(_))),
                "{beyond}"
            );
        }
    }

    #[test]
    fn scales_with_half_away_from_zero_rounding() {
        // 100 USD at 1.1172 USD per EUR is 89.509488... EUR.
        let usd = Price::from_units(100);
        assert_eq!(
            usd.scale_by(1_000_000, 1_117_200).unwrap().micros(),
            89_509_488
        );
        assert_eq!(Price::from_micros(5).scale_by(1, 10).unwrap().micros(), 1);
        assert_eq!(Price::from_micros(-5).scale_by(1, 10).unwrap().micros(), -1);
        assert_eq!(Price::from_micros(4).scale_by(1, 10).unwrap().micros(), 0);
        assert!(Price::from_units(1).scale_by(1, 0).is_none());
    }

    #[test]
    fn an_optional_price_is_eight_bytes_and_orders_like_its_micros() {
        assert_eq!(std::mem::size_of::<Option<Price>>(), 8);
        assert_eq!(Price::new(i64::MIN), None);
        assert_eq!(Price::from_micros(i64::MIN), Price::MIN);
        assert_eq!(Price::default().micros(), 0);
        assert_eq!(format!("{:?}", Price::from_micros(-7)), "Price(-7)");
        assert_eq!(Price::MAX.checked_add(Price::from_micros(1)), None);
        assert_eq!(Price::MIN.checked_sub(Price::from_micros(1)), None);
        assert_eq!(Price::MIN.negate(), Price::MAX);
    }

    proptest! {
        #[test]
        fn order_and_arithmetic_follow_the_micros(a in (i64::MIN + 1)..=i64::MAX, b in (i64::MIN + 1)..=i64::MAX) {
            let (x, y) = (Price::from_micros(a), Price::from_micros(b));
            prop_assert_eq!((x.micros(), y.micros()), (a, b));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x.checked_add(y).map(Price::micros), a.checked_add(b).filter(|s| *s != i64::MIN));
            prop_assert_eq!(x.negate().micros(), -a);
        }

        #[test]
        fn display_round_trips(micros in any::<i64>()) {
            let price = Price::from_micros(micros);
            prop_assert_eq!(price.to_string().parse::<Price>().unwrap(), price);
        }
    }
}
