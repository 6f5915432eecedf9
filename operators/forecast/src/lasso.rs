//! The Lasso problem of LEAR (a Lasso per hour of the day, refitted as its calibration
//! window rolls) by its sufficient statistics, and its solution by cyclic coordinate
//! descent. LEAR itself solves through the exact path of [`crate::lars`]; coordinate
//! descent, checked against scikit-learn's `Lasso`, is the independent check of that path.
//!
//! A problem is given by its sufficient statistics — `XᵀX`, `Xᵀy`, `yᵀy` and the sample
//! count — so the 24 hours of a day, which share their features, share one Gram matrix.
//! The objective is scikit-learn's `Lasso` without intercept (the features are centred by
//! the caller): `1/(2n) · ‖y − Xβ‖² + α · ‖β‖₁`.

/// The sufficient statistics of a least-squares problem with `features` columns.
#[derive(Debug, Clone, PartialEq)]
pub struct LassoProblem {
    /// `XᵀX`, row-major `[features, features]`.
    pub gram: Vec<f64>,
    /// `Xᵀy`.
    pub correlation: Vec<f64>,
    /// `yᵀy`.
    pub target_squares: f64,
    /// Rows of `X`.
    pub samples: usize,
}

/// When [`LassoProblem::solve`] stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Convergence {
    /// A sweep whose largest coefficient change, times the square root of its column's
    /// squared norm, is below this ends the descent.
    pub tolerance: f64,
    /// At most this many sweeps over the coefficients.
    pub max_sweeps: usize,
}

impl Default for Convergence {
    fn default() -> Self {
        Self {
            tolerance: 1e-10,
            max_sweeps: 10_000,
        }
    }
}

impl LassoProblem {
    /// The statistics of `x` (row-major `[samples, features]`) and `y`.
    pub fn from_rows(x: &[f64], y: &[f64], features: usize) -> Self {
        assert_eq!(x.len(), y.len() * features, "x holds one row per target");
        let mut gram = vec![0.0; features * features];
        let mut correlation = vec![0.0; features];
        for (row, &target) in x.chunks(features).zip(y) {
            for (i, &xi) in row.iter().enumerate() {
                correlation[i] += xi * target;
                for (g, &xj) in gram[i * features..(i + 1) * features].iter_mut().zip(row) {
                    *g += xi * xj;
                }
            }
        }
        Self {
            gram,
            correlation,
            target_squares: y.iter().map(|v| v * v).sum(),
            samples: y.len(),
        }
    }

    /// Columns of `X`.
    pub fn features(&self) -> usize {
        self.correlation.len()
    }

    /// The smallest penalty at which every coefficient is zero: `max |Xᵀy| / n`.
    pub fn alpha_max(&self) -> f64 {
        let largest = self.correlation.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        largest / self.samples as f64
    }

    /// Minimises the objective for penalty `alpha`, starting from `coefficients` (a warm
    /// start along a path; zeros otherwise), which it overwrites. Returns the sweeps run.
    pub fn solve(&self, alpha: f64, coefficients: &mut [f64], convergence: Convergence) -> usize {
        let p = self.features();
        assert_eq!(coefficients.len(), p, "one coefficient per feature");
        // A hair above α·n, so that at `alpha_max` (max |Xᵀy| / n, times n again) rounding
        // cannot leave the largest coefficient an ulp away from zero.
        let threshold = alpha * self.samples as f64 * (1.0 + 1e-12);
        // gram_times = XᵀX·β, kept current as coefficients move.
        let mut gram_times = vec![0.0; p];
        for (i, value) in gram_times.iter_mut().enumerate() {
            let row = &self.gram[i * p..(i + 1) * p];
            *value = row
                .iter()
                .zip(coefficients.iter())
                .map(|(g, b)| g * b)
                .sum();
        }
        for sweep in 1..=convergence.max_sweeps {
            let mut largest_change = 0.0f64;
            for j in 0..p {
                let diagonal = self.gram[j * p + j];
                if diagonal <= 0.0 {
                    coefficients[j] = 0.0;
                    continue;
                }
                let old = coefficients[j];
                // Xⱼᵀ times the residual with feature j left out.
                let partial = self.correlation[j] - gram_times[j] + diagonal * old;
                let new = soft_threshold(partial, threshold) / diagonal;
                let change = new - old;
                if change != 0.0 {
                    coefficients[j] = new;
                    let column = &self.gram[j * p..(j + 1) * p];
                    for (value, g) in gram_times.iter_mut().zip(column) {
                        *value += change * g;
                    }
                    largest_change = largest_change.max(change.abs() * diagonal.sqrt());
                }
            }
            if largest_change < convergence.tolerance {
                return sweep;
            }
        }
        convergence.max_sweeps
    }

    /// `‖y − Xβ‖²` from the statistics: `yᵀy − 2βᵀXᵀy + βᵀXᵀXβ`.
    pub fn residual_squares(&self, coefficients: &[f64]) -> f64 {
        let p = self.features();
        let mut quadratic = 0.0;
        for (i, &bi) in coefficients.iter().enumerate() {
            if bi != 0.0 {
                let row = &self.gram[i * p..(i + 1) * p];
                quadratic += bi
                    * row
                        .iter()
                        .zip(coefficients)
                        .map(|(g, b)| g * b)
                        .sum::<f64>();
            }
        }
        let linear: f64 = coefficients
            .iter()
            .zip(&self.correlation)
            .map(|(b, c)| b * c)
            .sum();
        (self.target_squares - 2.0 * linear + quadratic).max(0.0)
    }
}

/// `Σ a[i] · b[i]`, with four partial sums so that it vectorises.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut partial = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            partial[k] += x[k] * y[k];
        }
    }
    partial.iter().sum::<f64>() + tail
}

fn soft_threshold(value: f64, threshold: f64) -> f64 {
    if value > threshold {
        value - threshold
    } else if value < -threshold {
        value + threshold
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_products_with_a_tail() {
        let a: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(dot(&a, &a), (0..11).map(|v| f64::from(v * v)).sum::<f64>());
    }

    /// Orthonormal columns: the Lasso is the soft-thresholded least-squares solution.
    #[test]
    fn orthonormal_design_soft_thresholds_least_squares() {
        // x = I (3 × 3) scaled so XᵀX = n·I with n = 3.
        let root = 3f64.sqrt();
        let x = [root, 0.0, 0.0, 0.0, root, 0.0, 0.0, 0.0, root];
        let y = [3.0, -0.5, 1.2];
        let problem = LassoProblem::from_rows(&x, &y, 3);
        let alpha = 0.4;
        let mut beta = vec![0.0; 3];
        problem.solve(alpha, &mut beta, Convergence::default());
        // Least squares: β = Xᵀy / n; the Lasso shrinks each by α.
        for (b, &target) in beta.iter().zip(&y) {
            let least_squares = root * target / 3.0;
            let expected = soft_threshold(least_squares, alpha);
            assert!((b - expected).abs() < 1e-12, "{b} vs {expected}");
        }
        assert_eq!(beta[1], 0.0, "a small coefficient is exactly zero");
        let direct: f64 = x
            .chunks(3)
            .zip(&y)
            .map(|(row, t)| (t - row.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>()).powi(2))
            .sum();
        assert!((problem.residual_squares(&beta) - direct).abs() < 1e-12);
        let mut zero = vec![0.0; 3];
        problem.solve(problem.alpha_max(), &mut zero, Convergence::default());
        assert!(zero.iter().all(|&b| b == 0.0), "{zero:?}");
    }
}
