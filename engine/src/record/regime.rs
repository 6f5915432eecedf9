//! Regimes: what the `regime` operator says about each price of a series — the filtered
//! probability of each hidden regime (Gaussian HMM) or the run length since the last
//! change point (BOCPD).
//!
//! Every number here compares and hashes exactly, like prices: differential dataflow
//! cancels a retraction against its insertion by equality. Probabilities are therefore
//! fixed-point integers ([`Probability`], units of 10⁻⁹), rounded once from the model's
//! `f64` by a fixed rule, never floats.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Currency, Market, Price, Product, Unit};

/// A probability as an exact count of 10⁻⁹ (0 ..= 1,000,000,000).
///
/// Nine decimals keep what a filter can tell apart in practice while making values
/// compare exactly: the operator recomputes a revised series from a checkpoint and must
/// produce bit-identical rows for the unchanged ones, so that old and new cancel.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Probability(u32);

impl Probability {
    /// Units per probability 1.
    pub const SCALE: u32 = 1_000_000_000;
    /// Decimal places.
    pub const DECIMALS: u32 = 9;
    /// Probability 1.
    pub const ONE: Probability = Probability(Self::SCALE);

    /// From a count of 10⁻⁹, clamped to 1.
    pub const fn from_units(units: u32) -> Self {
        Probability(if units > Self::SCALE {
            Self::SCALE
        } else {
            units
        })
    }

    /// The count of 10⁻⁹.
    pub const fn units(self) -> u32 {
        self.0
    }

    /// Rounds `p` to the nearest 10⁻⁹ (halves away from zero); NaN and values outside
    /// [0, 1] are clamped to the range (NaN to 0).
    pub fn from_f64(p: f64) -> Self {
        let scaled = (p * f64::from(Self::SCALE)).round();
        if scaled.is_nan() || scaled <= 0.0 {
            Probability(0)
        } else if scaled >= f64::from(Self::SCALE) {
            Self::ONE
        } else {
            Probability(scaled as u32)
        }
    }

    /// Rounds a distribution so that the rounded values sum to exactly 1 (largest
    /// remainders): each value is first rounded down, then the missing units go one each
    /// to the values with the largest remainders, the lower index first among equal ones.
    /// Inputs are normalised first; an empty slice or one that sums to zero (or NaN) gives
    /// all zeros.
    pub fn distribution(values: &[f64]) -> Vec<Probability> {
        let sum: f64 = values.iter().sum();
        if values.is_empty() || !(sum > 0.0 && sum.is_finite()) {
            return vec![Probability(0); values.len()];
        }
        let scale = f64::from(Self::SCALE);
        let mut units = Vec::with_capacity(values.len());
        let mut remainders = Vec::with_capacity(values.len());
        for (index, value) in values.iter().enumerate() {
            let exact = (value / sum).clamp(0.0, 1.0) * scale;
            let floor = exact.floor();
            units.push(floor as u32);
            remainders.push((exact - floor, index));
        }
        let assigned: u64 = units.iter().map(|u| u64::from(*u)).sum();
        let missing = u64::from(Self::SCALE).saturating_sub(assigned) as usize;
        remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, index) in remainders.iter().take(missing) {
            units[*index] += 1;
        }
        units.into_iter().map(Probability::from_units).collect()
    }

    /// The value as a float, for display and statistics only.
    pub fn to_f64(self) -> f64 {
        f64::from(self.0) / f64::from(Self::SCALE)
    }
}

impl fmt::Display for Probability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.0 / Self::SCALE, self.0 % Self::SCALE)
    }
}

/// How regimes are detected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RegimeMethod {
    /// A Gaussian hidden Markov model, fitted by Baum–Welch and filtered online.
    #[serde(rename = "hmm")]
    Hmm,
    /// Bayesian online change-point detection (Normal-Gamma, constant hazard).
    #[serde(rename = "bocpd")]
    Bocpd,
}

impl RegimeMethod {
    /// The name in pipeline files and the lake: `hmm` or `bocpd`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RegimeMethod::Hmm => "hmm",
            RegimeMethod::Bocpd => "bocpd",
        }
    }
}

impl fmt::Display for RegimeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a regime row: one row per operator, series and interval.
///
/// Hashed like [`PriceKey`](super::PriceKey), on market and location only, so a series'
/// rows stay on the worker that holds its prices.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RegimeKey {
    /// UTC start of the interval whose price the row was computed from.
    pub interval_start: Timestamp,
    /// Publishing market.
    pub market: Market,
    /// Product.
    pub product: Product,
    /// Location name.
    pub location: Arc<str>,
    /// The `regime` operator's name in the pipeline file (two operators with different
    /// settings can write one table).
    pub operator: Arc<str>,
}

impl std::hash::Hash for RegimeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.market.hash(state);
        self.location.hash(state);
    }
}

/// A regime row: the lake's `regimes` table.
///
/// For `hmm`, `probabilities` holds P(regime k | prices so far) for each regime k, the
/// regimes ordered by their fitted mean (regime 0 is the lowest-priced), `state` the most
/// likely regime and `previous_state` that of the series' previous row. For `bocpd`,
/// `run_length` is the most likely number of prices since the last change point
/// (including this one) and `change_probability` the probability that this price opened
/// a new segment; `probabilities` is empty and the states are `None`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RegimeRecord {
    /// Identity.
    pub key: RegimeKey,
    /// UTC end of the interval (exclusive).
    pub interval_end: Timestamp,
    /// How the row was computed.
    pub method: RegimeMethod,
    /// The price the row was computed from, in `currency` per `unit`.
    pub price: Price,
    /// The price's currency (the pipeline's base currency).
    pub currency: Currency,
    /// The price's unit.
    pub unit: Unit,
    /// `hmm`: the filtered probability of each regime, summing to exactly 1.
    pub probabilities: Vec<Probability>,
    /// `hmm`: the most likely regime (the first of equally likely ones).
    pub state: Option<u8>,
    /// `hmm`: the most likely regime of the series' previous row, if it has one.
    pub previous_state: Option<u8>,
    /// The event: `hmm`, the most likely regime differs from the previous row's; `bocpd`,
    /// the most likely run length is not the previous row's plus one (a change point).
    /// Never set on a series' first row.
    pub changed: bool,
    /// `bocpd`: the most likely run length (1 = this price opened a segment).
    pub run_length: Option<u32>,
    /// `bocpd`: P(run length = 1), the probability that this price opened a segment.
    pub change_probability: Option<Probability>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rounded_distribution_sums_to_exactly_one() {
        let rounded = Probability::distribution(&[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
        let units: Vec<u32> = rounded.iter().map(|p| p.units()).collect();
        // The lower index wins among equal remainders.
        assert_eq!(units, [333_333_334, 333_333_333, 333_333_333]);
        let rounded = Probability::distribution(&[0.2, 0.000_000_000_4, 0.799_999_999_6]);
        assert_eq!(
            rounded.iter().map(|p| p.units()).sum::<u32>(),
            Probability::SCALE
        );
        assert_eq!(rounded[1].units(), 0);
        assert_eq!(
            Probability::distribution(&[0.0, 0.0]),
            [Probability::default(); 2]
        );
    }

    #[test]
    fn single_probabilities_round_and_clamp() {
        assert_eq!(Probability::from_f64(0.5).units(), 500_000_000);
        assert_eq!(Probability::from_f64(1e-10).units(), 0);
        assert_eq!(Probability::from_f64(1.5), Probability::ONE);
        assert_eq!(Probability::from_f64(f64::NAN).units(), 0);
        assert_eq!(Probability::from_units(12).to_string(), "0.000000012");
        assert_eq!(Probability::ONE.to_string(), "1.000000000");
    }
}
