//! Branch-free ln and exp that the compiler can vectorise, for BOCPD's inner loops.
//!
//! `f64::ln` and `f64::exp` are calls into the C library, one value at a time. These are
//! plain arithmetic on `f64` and its bits (no lookup tables), so a loop over a slice
//! becomes SIMD code. Their relative error is a few units in the last place (checked
//! against `std` below), far inside the 1e-9 the detector is tested to.

const LN_2: f64 = std::f64::consts::LN_2;
/// ln 2 split for Cody–Waite reduction: `LN_2_HIGH` has trailing zero bits, so k · it is exact.
const LN_2_HIGH: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN_2_LOW: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// 1.5 · 2⁵²: adding it rounds to an integer held in the low mantissa bits.
const ROUNDER: f64 = 6_755_399_441_055_744.0;
/// 2⁵² as bits: an integer n < 2⁵² ORed into it reads as 2⁵² + n.
const TWO_52_BITS: u64 = 0x4330_0000_0000_0000;

/// e^x. Returns 0 below −708 (where e^x is no longer a normal number) and is meant for
/// x ≤ 0, as in the detector; it is accurate for x up to 709 as well.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    let clamped = if x > -708.0 { x } else { -708.0 };
    // x = k ln 2 + r, |r| ≤ ln 2 / 2.
    let shifted = clamped * std::f64::consts::LOG2_E + ROUNDER;
    let k = shifted - ROUNDER;
    let r = (clamped - k * LN_2_HIGH) - k * LN_2_LOW;
    // e^r by its Taylor series to r¹²/12! (the first term left out is below 2e-16),
    // evaluated by Estrin's scheme: a shallow tree instead of one long chain, so that
    // consecutive elements overlap in the pipeline.
    let r2 = r * r;
    let r4 = r2 * r2;
    let r8 = r4 * r4;
    let a0 = 1.0 + r;
    let a1 = 1.0 / 2.0 + r * (1.0 / 6.0);
    let a2 = 1.0 / 24.0 + r * (1.0 / 120.0);
    let a3 = 1.0 / 720.0 + r * (1.0 / 5_040.0);
    let a4 = 1.0 / 40_320.0 + r * (1.0 / 362_880.0);
    let a5 = 1.0 / 3_628_800.0 + r * (1.0 / 39_916_800.0);
    let a6 = 1.0 / 479_001_600.0;
    let b0 = a0 + r2 * a1;
    let b1 = a2 + r2 * a3;
    let b2 = a4 + r2 * a5;
    let p = (b0 + r4 * b1) + r8 * (b2 + r4 * a6);
    // 2^k from the integer in `shifted`'s low bits.
    let k_bits = shifted.to_bits().wrapping_sub(ROUNDER.to_bits());
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    if x < -708.0 { 0.0 } else { p * scale }
}

/// ln y for positive normal y; +∞ for +∞.
#[inline(always)]
pub(crate) fn ln(y: f64) -> f64 {
    let bits = y.to_bits();
    let exponent_field = (bits >> 52) & 0x7ff;
    // y = 2^e · m with m in [1, 2); move m to [√½, √2) so that |s| ≤ 0.172 below.
    let mantissa = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let high = mantissa > std::f64::consts::SQRT_2;
    let m = if high { mantissa * 0.5 } else { mantissa };
    let exponent =
        f64::from_bits(TWO_52_BITS | exponent_field) - f64::from_bits(TWO_52_BITS) - 1023.0
            + if high { 1.0 } else { 0.0 };
    // ln m = 2 atanh(s) = 2 (s + s³/3 + s⁵/5 + …), s = (m − 1)/(m + 1); to s¹⁹ the first
    // term left out is below 3e-17 of the result. Estrin's scheme in t = s², as in `exp`.
    let s = (m - 1.0) / (m + 1.0);
    let t = s * s;
    let t2 = t * t;
    let t4 = t2 * t2;
    let t8 = t4 * t4;
    let a0 = 1.0 / 3.0 + t * (1.0 / 5.0);
    let a1 = 1.0 / 7.0 + t * (1.0 / 9.0);
    let a2 = 1.0 / 11.0 + t * (1.0 / 13.0);
    let a3 = 1.0 / 15.0 + t * (1.0 / 17.0);
    let a4 = 1.0 / 19.0;
    // p = Σ_{k ≥ 0} t^k / (2k + 3), so that atanh(s) = s + s t p.
    let p = (a0 + t2 * a1) + t4 * (a2 + t2 * a3) + t8 * a4;
    let log_m = 2.0 * s + 2.0 * s * t * p;
    let result = exponent * LN_2 + log_m;
    if y == f64::INFINITY {
        f64::INFINITY
    } else {
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn relative(a: f64, b: f64) -> f64 {
        if a == b { 0.0 } else { (a - b).abs() / b.abs() }
    }

    #[test]
    fn exp_agrees_with_std() {
        let mut rng = SplitMix64::new(1);
        let mut worst: f64 = 0.0;
        for _ in 0..200_000 {
            let x = -708.0 + 1_000.0 * rng.next_f64();
            worst = worst.max(relative(exp(x), x.exp()));
        }
        for x in [0.0, -0.5, 1.0, -1e-300, -707.9, 709.0, -20.0] {
            worst = worst.max(relative(exp(x), x.exp()));
        }
        assert!(worst < 1e-15, "worst relative error {worst:e}");
        assert_eq!(exp(-709.0), 0.0);
        assert_eq!(exp(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn ln_agrees_with_std() {
        let mut rng = SplitMix64::new(2);
        let mut worst: f64 = 0.0;
        for _ in 0..200_000 {
            let y = 10f64.powf(-300.0 + 600.0 * rng.next_f64());
            worst = worst.max((ln(y) - y.ln()).abs() / y.ln().abs().max(1.0));
        }
        for y in [
            1.0,
            2.0,
            0.5,
            std::f64::consts::SQRT_2,
            1.0 + 1e-12,
            1e300,
            f64::MIN_POSITIVE,
        ] {
            worst = worst.max((ln(y) - y.ln()).abs() / y.ln().abs().max(1.0));
        }
        assert!(worst < 1e-15, "worst error {worst:e}");
        assert_eq!(ln(f64::INFINITY), f64::INFINITY);
    }
}
