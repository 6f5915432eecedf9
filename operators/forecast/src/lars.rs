//! Least-angle regression with the Lasso modification (Efron, Hastie, Johnstone and
//! Tibshirani, "Least angle regression", Annals of Statistics 32 (2004)) on a Gram matrix:
//! the exact Lasso path of a [`LassoProblem`], knot by knot.
//!
//! LEAR uses it twice per hour of the day, as the EPF benchmark's reference code did with
//! scikit-learn: once on the column-normalised problem to choose the penalty by an
//! information criterion at the path's knots ([`LassoProblem::information_criterion_alpha`]),
//! and once on the problem itself to reach that penalty ([`LassoProblem::lars`] with a
//! target), which gives the Lasso solution exactly, where coordinate descent would stop at a
//! tolerance. Along the path the active set grows by the feature whose correlation with the
//! residual catches up and shrinks when a coefficient crosses zero; a feature whose column
//! lies in the span of the active ones (LEAR's centred weekday indicators sum to zero)
//! cannot join, and is left out for the rest of the path.

use crate::lasso::{LassoProblem, dot};

/// The reference code's iteration limit (`LassoLarsIC(max_iter=2500)`).
const MAX_STEPS: usize = 2500;

/// A joining column is left out when its squared distance from the span of the active
/// columns is below this fraction of its squared norm.
const DEGENERATE: f64 = 1e-12;

/// A point of the path where the active set changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Knot {
    /// The penalty: the largest absolute correlation with the residual, over `n`.
    pub alpha: f64,
    /// `‖y − Xβ‖²` at this point.
    pub residual_squares: f64,
    /// Coefficients whose magnitude exceeds machine epsilon.
    pub nonzero: usize,
}

impl LassoProblem {
    /// The same problem with every column scaled to unit norm (a zero column stays zero),
    /// and the norms: the solution of the scaled problem divided by them solves a Lasso on
    /// the original columns whose penalty is weighted by `1 / norm` per feature.
    pub fn normalized(&self) -> (LassoProblem, Vec<f64>) {
        let p = self.features();
        let norms: Vec<f64> = (0..p)
            .map(|j| {
                let square = self.gram[j * p + j];
                if square > 0.0 { square.sqrt() } else { 1.0 }
            })
            .collect();
        let mut gram = self.gram.clone();
        for (i, row) in gram.chunks_mut(p).enumerate() {
            for (value, norm) in row.iter_mut().zip(&norms) {
                *value /= norms[i] * norm;
            }
        }
        let correlation = self
            .correlation
            .iter()
            .zip(&norms)
            .map(|(c, norm)| c / norm)
            .collect();
        let problem = LassoProblem {
            gram,
            correlation,
            target_squares: self.target_squares,
            samples: self.samples,
        };
        (problem, norms)
    }

    /// Follows the Lasso path from `alpha_max` down to `target_alpha` (0 for the whole
    /// path), calling `visit` at its start, at every knot and at its end; returns the
    /// coefficients there: the Lasso solution for `target_alpha`, or the path's last point
    /// (least squares on the columns that could join) when the path ends above it.
    pub fn lars(&self, target_alpha: f64, mut visit: impl FnMut(&Knot)) -> Vec<f64> {
        let mut path = Path::new(self);
        let floor = target_alpha.max(0.0) * self.samples as f64;
        let stop = path.largest_correlation * 1e-13;
        let mut joining = path.most_correlated();
        for _ in 0..MAX_STEPS {
            visit(&path.knot());
            if path.largest_correlation <= floor || path.largest_correlation <= stop {
                break;
            }
            if let Some(j) = joining.take() {
                path.join(j);
            }
            if path.active.is_empty() {
                break;
            }
            match path.step(floor) {
                Step::Joins(j) => joining = Some(j),
                Step::Drops => {}
                Step::Ends => {
                    visit(&path.knot());
                    break;
                }
            }
        }
        path.coefficients
    }

    /// The penalty at the knot that minimises `RSS / var(y) + 2 · df` (df: the nonzero
    /// coefficients) — the Akaike criterion as scikit-learn's `LassoLarsIC` computed it up
    /// to version 1.0, with which the EPF benchmark's LEAR was published. `y` and the
    /// columns are assumed centred by the caller; `var(y)` is then `yᵀy / n`.
    pub fn information_criterion_alpha(&self) -> f64 {
        let variance = self.target_squares / self.samples as f64 + f64::EPSILON;
        let mut best = (f64::INFINITY, self.alpha_max());
        self.lars(0.0, |knot| {
            let criterion = knot.residual_squares / variance + 2.0 * knot.nonzero as f64;
            if criterion < best.0 {
                best = (criterion, knot.alpha);
            }
        });
        best.1
    }
}

/// What ended a step.
enum Step {
    /// A feature's correlation caught up with the active ones; it joins next.
    Joins(usize),
    /// An active coefficient reached zero and left.
    Drops,
    /// The target penalty or the path's end (zero correlation) was reached.
    Ends,
}

#[derive(Clone, Copy, PartialEq)]
enum Membership {
    Inactive,
    Active,
    /// Degenerate: its column lies in the span of the active ones.
    LeftOut,
}

/// The state of the path between knots.
struct Path<'a> {
    problem: &'a LassoProblem,
    coefficients: Vec<f64>,
    /// `Xᵀ(y − Xβ)`.
    correlation: Vec<f64>,
    residual_squares: f64,
    largest_correlation: f64,
    membership: Vec<Membership>,
    active: Vec<usize>,
    /// Lower Cholesky factor `L` of the active columns' Gram matrix, stride `features`.
    cholesky: Vec<f64>,
    /// `L⁻¹ s` for the active correlations' signs `s`, which stay fixed while a feature is
    /// active: kept current as features join and leave, so a step solves with `Lᵀ` only.
    forward: Vec<f64>,
    /// The feature that left at the last step: it may not rejoin with the same sign in the
    /// next (rounding would have it cross back in a step of zero length).
    just_dropped: Option<usize>,
}

impl<'a> Path<'a> {
    fn new(problem: &'a LassoProblem) -> Self {
        let p = problem.features();
        let largest_correlation = problem
            .correlation
            .iter()
            .fold(0.0f64, |m, c| m.max(c.abs()));
        Self {
            problem,
            coefficients: vec![0.0; p],
            correlation: problem.correlation.clone(),
            residual_squares: problem.target_squares,
            largest_correlation,
            membership: vec![Membership::Inactive; p],
            active: Vec::new(),
            cholesky: vec![0.0; p * p],
            forward: Vec::with_capacity(p),
            just_dropped: None,
        }
    }

    fn knot(&self) -> Knot {
        Knot {
            alpha: self.largest_correlation / self.problem.samples as f64,
            residual_squares: self.residual_squares.max(0.0),
            nonzero: self
                .coefficients
                .iter()
                .filter(|b| b.abs() > f64::EPSILON)
                .count(),
        }
    }

    fn most_correlated(&self) -> Option<usize> {
        (0..self.coefficients.len())
            .filter(|&j| self.membership[j] == Membership::Inactive)
            .max_by(|&a, &b| {
                self.correlation[a]
                    .abs()
                    .total_cmp(&self.correlation[b].abs())
            })
    }

    /// Adds `j` to the active set and its column to the Cholesky factor, or leaves it out
    /// for good when its column is (numerically) in the span of the active ones.
    fn join(&mut self, j: usize) {
        if self.extend_cholesky(j) {
            self.membership[j] = Membership::Active;
            self.active.push(j);
        } else {
            self.membership[j] = Membership::LeftOut;
        }
    }

    /// Appends column `j` to the factor of the active columns and its sign to the forward
    /// solution; false if degenerate.
    fn extend_cholesky(&mut self, j: usize) -> bool {
        let p = self.problem.features();
        let gram = &self.problem.gram;
        let k = self.active.len();
        let (above, below) = self.cholesky.split_at_mut(k * p);
        let new_row = &mut below[..=k];
        // Forward substitution: L v = G[A, j], stored as row k of the factor.
        for row in 0..k {
            let known = dot(&above[row * p..row * p + row], &new_row[..row]);
            new_row[row] = (gram[self.active[row] * p + j] - known) / above[row * p + row];
        }
        let squared_norm = gram[j * p + j];
        let distance = squared_norm - dot(&new_row[..k], &new_row[..k]);
        if distance <= DEGENERATE * squared_norm || distance <= 0.0 {
            return false;
        }
        let diagonal = distance.sqrt();
        new_row[k] = diagonal;
        let sign = self.correlation[j].signum();
        self.forward
            .push((sign - dot(&new_row[..k], &self.forward)) / diagonal);
        true
    }

    /// Moves along the equiangular direction of the active set to the next knot, or to the
    /// correlation `floor` (the target penalty times `n`) if that comes first.
    fn step(&mut self, floor: f64) -> Step {
        let p = self.problem.features();
        let k = self.active.len();
        // Lᵀ w = L⁻¹ s, so that (X_Aᵀ X_A) w = s; by rows of L, which vectorises.
        let mut w = self.forward.clone();
        for row in (0..k).rev() {
            w[row] /= self.cholesky[row * p + row];
            let value = w[row];
            for (earlier, l) in w[..row]
                .iter_mut()
                .zip(&self.cholesky[row * p..row * p + row])
            {
                *earlier -= l * value;
            }
        }
        // sᵀ (X_Aᵀ X_A)⁻¹ s = ‖L⁻¹ s‖².
        let equiangular = 1.0 / dot(&self.forward, &self.forward).sqrt();
        let direction: Vec<f64> = w.iter().map(|v| v * equiangular).collect();
        // How fast each feature's correlation changes along the direction: Xᵀ X_A d. For
        // an active feature that is A times its sign by construction; the others take a
        // product with their Gram row gathered at the active columns, so the work shrinks
        // as the active set grows.
        let change: Vec<f64> = (self.problem.gram.chunks(p))
            .zip(&self.membership)
            .zip(&self.correlation)
            .map(|((row, membership), correlation)| match membership {
                Membership::Active => equiangular * correlation.signum(),
                Membership::LeftOut => 0.0,
                Membership::Inactive => gathered_dot(row, &self.active, &direction),
            })
            .collect();
        let c = self.largest_correlation;
        // Unrestricted, the active correlations reach zero (least squares) at c / A.
        let mut length = c / equiangular;
        let mut outcome = Step::Ends;
        for (j, (&correlation, &rate)) in self.correlation.iter().zip(&change).enumerate() {
            if self.membership[j] != Membership::Inactive {
                continue;
            }
            let rejoining = (self.just_dropped == Some(j)).then(|| correlation.signum());
            for (sign, candidate) in [
                (1.0, (c - correlation) / (equiangular - rate)),
                (-1.0, (c + correlation) / (equiangular + rate)),
            ] {
                // A feature that just left cannot cross back with the sign it left with
                // (its correlation moves away from the others' on this segment); only
                // rounding could make that crossing positive.
                if rejoining == Some(sign) {
                    continue;
                }
                if candidate > 0.0 && candidate < length {
                    length = candidate;
                    outcome = Step::Joins(j);
                }
            }
        }
        let mut dropping = None;
        for (position, (&i, &d)) in self.active.iter().zip(&direction).enumerate() {
            let crossing = -self.coefficients[i] / d;
            if crossing > 0.0 && crossing < length {
                length = crossing;
                dropping = Some(position);
                outcome = Step::Drops;
            }
        }
        if c - length * equiangular < floor {
            length = (c - floor) / equiangular;
            dropping = None;
            outcome = Step::Ends;
        }
        // ‖r − γ X d‖² = ‖r‖² − 2γ dᵀXᵀr + γ² dᵀXᵀX d, over the active set.
        let along: f64 = self
            .active
            .iter()
            .zip(&direction)
            .map(|(&i, d)| d * self.correlation[i])
            .sum();
        let curvature: f64 = self
            .active
            .iter()
            .zip(&direction)
            .map(|(&i, d)| d * change[i])
            .sum();
        self.residual_squares += length * (length * curvature - 2.0 * along);
        for (&i, &d) in self.active.iter().zip(&direction) {
            self.coefficients[i] += length * d;
        }
        for (value, rate) in self.correlation.iter_mut().zip(&change) {
            *value -= length * rate;
        }
        self.largest_correlation = match outcome {
            Step::Ends => floor,
            _ => (c - length * equiangular).max(0.0),
        };
        self.just_dropped = None;
        if let Some(position) = dropping {
            let leaving = self.active[position];
            self.remove_from_cholesky(position);
            self.coefficients[leaving] = 0.0;
            self.membership[leaving] = Membership::Inactive;
            self.just_dropped = Some(leaving);
        }
        outcome
    }

    /// Removes the active feature at `position` from the Cholesky factor: its row goes,
    /// which leaves one nonzero above the diagonal in each row below it, and a Givens
    /// rotation of each pair of neighbouring columns returns those to zero, O(k²) in all.
    /// The forward solution loses the same row and turns with the same rotations.
    fn remove_from_cholesky(&mut self, position: usize) {
        let p = self.problem.features();
        let k = self.active.len();
        for row in position..k - 1 {
            let (from, to) = ((row + 1) * p, row * p);
            self.cholesky.copy_within(from..from + row + 2, to);
        }
        for column in position..k - 1 {
            let (a, b) = (
                self.cholesky[column * p + column],
                self.cholesky[column * p + column + 1],
            );
            let radius = a.hypot(b);
            let (cos, sin) = (a / radius, b / radius);
            for row in column..k - 1 {
                let (x, y) = (
                    self.cholesky[row * p + column],
                    self.cholesky[row * p + column + 1],
                );
                self.cholesky[row * p + column] = cos * x + sin * y;
                self.cholesky[row * p + column + 1] = cos * y - sin * x;
            }
            let (x, y) = (self.forward[column], self.forward[column + 1]);
            self.forward[column] = cos * x + sin * y;
            self.forward[column + 1] = cos * y - sin * x;
        }
        self.forward.pop();
        self.active.remove(position);
    }
}

/// `Σ row[index[i]] · values[i]`, with four partial sums.
fn gathered_dot(row: &[f64], index: &[usize], values: &[f64]) -> f64 {
    let mut partial = [0.0; 4];
    let (index4, values4) = (index.chunks_exact(4), values.chunks_exact(4));
    let tail: f64 = index4
        .remainder()
        .iter()
        .zip(values4.remainder())
        .map(|(&i, v)| row[i] * v)
        .sum();
    for (i, v) in index4.zip(values4) {
        for k in 0..4 {
            partial[k] += row[i[k]] * v[k];
        }
    }
    partial.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lasso::Convergence;

    fn problem() -> LassoProblem {
        // A small correlated design, centred, with a sparse truth.
        let rows = 30;
        let features = 6;
        let mut x = Vec::new();
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        for _ in 0..rows {
            let shared = next();
            for j in 0..features {
                x.push(next() + 0.6 * shared * (j % 2) as f64);
            }
        }
        let y: Vec<f64> = x
            .chunks(features)
            .map(|row| 2.0 * row[0] - 1.5 * row[3] + 0.5 * row[4])
            .zip(std::iter::repeat_with(&mut next))
            .map(|(v, noise)| v + 0.3 * noise)
            .collect();
        LassoProblem::from_rows(&x, &y, features)
    }

    /// The LARS solution at a penalty is the one coordinate descent converges to.
    #[test]
    fn lars_reaches_the_coordinate_descent_solution() {
        let problem = problem();
        let alpha_max = problem.alpha_max();
        for fraction in [0.9, 0.5, 0.2, 0.05, 0.001] {
            let alpha = alpha_max * fraction;
            let lars = problem.lars(alpha, |_| {});
            let mut descent = vec![0.0; problem.features()];
            let tight = Convergence {
                tolerance: 1e-14,
                max_sweeps: 1_000_000,
            };
            problem.solve(alpha, &mut descent, tight);
            for (a, b) in lars.iter().zip(&descent) {
                assert!((a - b).abs() < 1e-9, "α {alpha}: {lars:?} vs {descent:?}");
            }
        }
    }

    /// Knots come with decreasing penalties, the residual falls, and the residual at each
    /// knot is the one of the coefficients there.
    #[test]
    fn knots_are_ordered_and_consistent() {
        let problem = problem();
        let mut knots = Vec::new();
        let end = problem.lars(0.0, |knot| knots.push(*knot));
        assert!(knots.len() > problem.features(), "{knots:?}");
        assert_eq!(knots[0].nonzero, 0);
        assert!((knots[0].alpha - problem.alpha_max()).abs() < 1e-12);
        for pair in knots.windows(2) {
            assert!(pair[1].alpha < pair[0].alpha, "{pair:?}");
            assert!(pair[1].residual_squares <= pair[0].residual_squares + 1e-9);
        }
        let last = knots.last().unwrap();
        assert!(
            last.alpha < 1e-12,
            "the path ends at least squares: {last:?}"
        );
        assert!((problem.residual_squares(&end) - last.residual_squares).abs() < 1e-9);
    }

    /// A column equal to the sum of two others cannot join once they are active, and the
    /// path still ends at a least-squares fit.
    #[test]
    fn a_dependent_column_is_left_out() {
        let base = problem();
        let p = base.features();
        // Rebuild from rows with a seventh column x0 + x3.
        let q = p + 1;
        let mut gram = vec![0.0; q * q];
        let combined = |i: usize, j: usize| -> f64 {
            let pick = |a: usize, b: usize| base.gram[a * p + b];
            match (i == p, j == p) {
                (false, false) => pick(i, j),
                (true, false) => pick(0, j) + pick(3, j),
                (false, true) => pick(i, 0) + pick(i, 3),
                (true, true) => pick(0, 0) + 2.0 * pick(0, 3) + pick(3, 3),
            }
        };
        for i in 0..q {
            for j in 0..q {
                gram[i * q + j] = combined(i, j);
            }
        }
        let mut correlation = base.correlation.clone();
        correlation.push(base.correlation[0] + base.correlation[3]);
        let wider = LassoProblem {
            gram,
            correlation,
            target_squares: base.target_squares,
            samples: base.samples,
        };
        let mut last = None;
        let end = wider.lars(0.0, |knot| last = Some(*knot));
        let least_squares = base.lars(0.0, |_| {});
        let last = last.unwrap();
        assert!(
            (last.residual_squares - base.residual_squares(&least_squares)).abs() < 1e-8,
            "{last:?}"
        );
        assert!(end.iter().filter(|b| **b != 0.0).count() <= p);
    }

    /// Scaling the columns to unit norm and back gives the same fitted values at the
    /// knots' penalties.
    #[test]
    fn normalisation_keeps_the_fit() {
        let problem = problem();
        let (unit, norms) = problem.normalized();
        for j in 0..problem.features() {
            assert!((unit.gram[j * problem.features() + j] - 1.0).abs() < 1e-12);
        }
        let scaled = unit.lars(0.0, |_| {});
        let back: Vec<f64> = scaled.iter().zip(&norms).map(|(b, n)| b / n).collect();
        let direct = problem.lars(0.0, |_| {});
        assert!((problem.residual_squares(&back) - problem.residual_squares(&direct)).abs() < 1e-9);
        let alpha = unit.information_criterion_alpha();
        assert!(alpha > 0.0 && alpha <= unit.alpha_max() + 1e-12, "{alpha}");
    }
}
