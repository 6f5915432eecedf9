//! Point and probabilistic accuracy measures of the EPF benchmark.

use serde::{Deserialize, Serialize};

/// Mean absolute error.
pub fn mae(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(actual.iter().zip(forecast).map(|(y, f)| (y - f).abs()))
}

/// Root mean squared error.
pub fn rmse(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(actual.iter().zip(forecast).map(|(y, f)| (y - f).powi(2))).sqrt()
}

/// Symmetric MAPE as a fraction: mean of `2|y-f| / (|y|+|f|)` (a term with `y = f = 0` is 0).
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(actual.iter().zip(forecast).map(|(y, f)| {
        let denominator = y.abs() + f.abs();
        if denominator == 0.0 {
            0.0
        } else {
            2.0 * (y - f).abs() / denominator
        }
    }))
}

/// Share of `actual` values inside `[lower, upper]`.
pub fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    mean(
        actual
            .iter()
            .zip(lower.iter().zip(upper))
            .map(|(y, (l, u))| f64::from(u8::from(l <= y && y <= u))),
    )
}

/// Pinball (quantile) loss of quantile forecast `q` at level `tau` for outcome `y`.
pub fn pinball(q: f64, tau: f64, y: f64) -> f64 {
    if y >= q {
        tau * (y - q)
    } else {
        (1.0 - tau) * (q - y)
    }
}

/// CRPS of a Gaussian `N(mu, sigma²)` at `y`, closed form.
pub fn crps_gaussian(mu: f64, sigma: f64, y: f64) -> f64 {
    let z = (y - mu) / sigma;
    sigma
        * (z * (2.0 * normal_cdf(z) - 1.0) + 2.0 * normal_pdf(z)
            - 1.0 / std::f64::consts::PI.sqrt())
}

/// Levels of the quantiles that approximate the CRPS: `(k - ½) / n` for `k = 1..=n`.
pub(crate) const CRPS_QUANTILES: usize = 99;

/// CRPS from a quantile function: `2 ∫ pinball_τ dτ` by the midpoint rule on 99 levels.
/// Used for the predictive distributions, which are Gaussian only in model space.
pub fn crps_from_quantiles(quantile: impl Fn(f64) -> f64, y: f64) -> f64 {
    let n = CRPS_QUANTILES as f64;
    (1..=CRPS_QUANTILES)
        .map(|k| {
            let tau = (k as f64 - 0.5) / n;
            pinball(quantile(tau), tau, y)
        })
        .sum::<f64>()
        * 2.0
        / n
}

/// The benchmark's metrics over a set of hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Hours scored.
    pub hours: usize,
    /// Mean absolute error (price units).
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Symmetric MAPE, a fraction (the paper prints it in percent).
    pub smape: f64,
    /// MAE of the 168-hour naive forecast on the same hours.
    pub naive_mae: f64,
    /// `mae / naive_mae`.
    pub rmae: f64,
    /// MAE of the 168-hour naive as the benchmark's published numbers compute it (epftoolbox's
    /// `rMAE`): the naive is built from the evaluated days themselves, so their first 7 days
    /// have none and are left out. NP's test period: 4.135, PJM's: 6.326.
    pub benchmark_naive_mae: f64,
    /// `mae / benchmark_naive_mae`: comparable with the published rMAE values.
    pub benchmark_rmae: f64,
    /// Mean CRPS (price units), from 99 quantiles of each predictive distribution.
    pub crps: f64,
    /// Share of actual prices inside the central 90 % interval.
    pub coverage_90: f64,
}

impl Metrics {
    /// Point metrics of `forecast` and the interval's coverage; `crps` is the mean given.
    /// `naive` is the 168-hour naive of the same hours; the first `7 · 24` of them are left out
    /// of `benchmark_naive_mae` (all are kept when there are no more).
    pub fn compute(
        actual: &[f64],
        forecast: &[f64],
        naive: &[f64],
        interval: (&[f64], &[f64]),
        crps: f64,
    ) -> Self {
        let mae = mae(actual, forecast);
        let naive_mae = self::mae(actual, naive);
        let skip = if actual.len() > 168 { 168 } else { 0 };
        let benchmark_naive_mae = self::mae(&actual[skip..], &naive[skip..]);
        Self {
            benchmark_naive_mae,
            benchmark_rmae: mae / benchmark_naive_mae,
            hours: actual.len(),
            mae,
            rmse: rmse(actual, forecast),
            smape: smape(actual, forecast),
            naive_mae,
            rmae: mae / naive_mae,
            crps,
            coverage_90: coverage(actual, interval.0, interval.1),
        }
    }
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MAE {:.3}  RMSE {:.3}  sMAPE {:.2}%  rMAE {:.3} (naive-168 MAE {:.3} on the same \
             hours; published convention: rMAE {:.3}, naive MAE {:.3})  CRPS {:.3}  90% coverage \
             {:.1}%  ({} hours)",
            self.mae,
            self.rmse,
            100.0 * self.smape,
            self.rmae,
            self.naive_mae,
            self.benchmark_rmae,
            self.benchmark_naive_mae,
            self.crps,
            100.0 * self.coverage_90,
            self.hours
        )
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Standard normal density.
pub(crate) fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Standard normal CDF (via `erfc`, |error| < 1.2e-7).
pub(crate) fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, |rel. error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal quantile (Acklam's rational approximation, |rel. error| < 1.2e-9).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_metrics_by_hand() {
        let y = [10.0, 20.0, 0.0, -5.0];
        let f = [12.0, 20.0, 0.0, 5.0];
        // |e| = 2, 0, 0, 10
        assert_eq!(mae(&y, &f), 3.0);
        assert_eq!(rmse(&y, &f), (104.0f64 / 4.0).sqrt());
        // 2·2/22, 0, 0 (0/0), 2·10/10
        assert!((smape(&y, &f) - (4.0 / 22.0 + 2.0) / 4.0).abs() < 1e-12);
        assert_eq!(
            coverage(&y, &[9.0, 21.0, -1.0, -6.0], &[11.0, 22.0, 1.0, -5.0]),
            0.75
        );
    }

    #[test]
    fn pinball_by_hand() {
        assert!((pinball(10.0, 0.9, 12.0) - 1.8).abs() < 1e-12);
        assert!((pinball(10.0, 0.9, 8.0) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn gaussian_helpers() {
        assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-6);
        assert!((normal_quantile(0.95) - 1.644_853_627).abs() < 1e-8);
        assert!((normal_quantile(0.001) + 3.090_232_306).abs() < 1e-7);
        // CRPS of N(0,1) at 0 is 2φ(0) - 1/√π = 0.233695.
        assert!((crps_gaussian(0.0, 1.0, 0.0) - 0.233_695).abs() < 1e-5);
        // A point forecast's CRPS is its absolute error.
        assert!((crps_from_quantiles(|_| 3.0, 5.0) - 2.0).abs() < 1e-12);
    }

    #[test]
    fn quantile_crps_matches_the_closed_form() {
        for (mu, sigma, y) in [(0.0, 1.0, 0.3), (10.0, 2.0, 13.0), (-4.0, 0.5, -4.1)] {
            let exact = crps_gaussian(mu, sigma, y);
            let approx = crps_from_quantiles(|tau| mu + sigma * normal_quantile(tau), y);
            assert!((approx - exact).abs() < 0.01 * exact, "{approx} vs {exact}");
        }
    }

    #[test]
    fn naive_against_itself_has_rmae_one() {
        let y = [1.0, 4.0, 9.0];
        let naive = [2.0, 2.0, 2.0];
        let m = Metrics::compute(&y, &naive, &naive, (&y, &y), 0.0);
        assert_eq!(m.rmae, 1.0);
        assert_eq!(m.coverage_90, 1.0);
    }
}
