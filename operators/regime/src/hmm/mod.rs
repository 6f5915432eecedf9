//! A one-dimensional Gaussian hidden Markov model: parameters, likelihood, smoothing,
//! Viterbi decoding, an online filter and Baum–Welch fitting.
//!
//! The model has `K` hidden states. The first state is drawn from the start
//! probabilities, each next state from the row of the transition matrix of the current
//! one, and each observation from the normal distribution of its state (a mean and a
//! variance). Results agree with hmmlearn's `GaussianHMM` (`covariance_type="diag"` on
//! one feature); see `docs/regimes.md` for the checks.

mod filter;
mod fit;
mod lattice;

pub use filter::OnlineFilter;
pub use fit::{Fit, FitOptions, Priors};

use crate::error::{RegimeError, check_observations};

/// ln(2π).
const LN_2_PI: f64 = 1.837_877_066_409_345_5;

/// How close to 1 start probabilities and transition rows must sum.
const SUM_TOLERANCE: f64 = 1e-8;

/// The parameters of a Gaussian hidden Markov model with `K` states.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianHmm {
    start_probabilities: Vec<f64>,
    /// Row-major `K × K`: `transition[i * K + j]` = P(next state j | state i).
    transition: Vec<f64>,
    means: Vec<f64>,
    variances: Vec<f64>,
}

impl GaussianHmm {
    /// The number of states a regime model uses unless told otherwise (low, normal, spiky).
    pub const DEFAULT_STATES: usize = 3;

    /// Builds a model, checking that the start probabilities and every transition row are
    /// probability distributions, the means finite and the variances positive.
    pub fn new(
        start_probabilities: Vec<f64>,
        transition: Vec<Vec<f64>>,
        means: Vec<f64>,
        variances: Vec<f64>,
    ) -> Result<Self, RegimeError> {
        let states = start_probabilities.len();
        if transition.len() != states {
            return Err(RegimeError::WrongLength {
                parameter: "transition",
                expected: states,
                found: transition.len(),
            });
        }
        let mut flat = Vec::with_capacity(states * states);
        for row in &transition {
            if row.len() != states {
                return Err(RegimeError::WrongLength {
                    parameter: "transition",
                    expected: states,
                    found: row.len(),
                });
            }
            flat.extend_from_slice(row);
        }
        Self::from_flat(start_probabilities, flat, means, variances)
    }

    /// As [`GaussianHmm::new`], with the transition matrix row-major in one vector.
    pub fn from_flat(
        start_probabilities: Vec<f64>,
        transition: Vec<f64>,
        means: Vec<f64>,
        variances: Vec<f64>,
    ) -> Result<Self, RegimeError> {
        let states = start_probabilities.len();
        if states == 0 {
            return Err(RegimeError::NoStates);
        }
        for (parameter, found) in [
            ("transition", transition.len()),
            ("means", means.len()),
            ("variances", variances.len()),
        ] {
            let expected = if parameter == "transition" {
                states * states
            } else {
                states
            };
            if found != expected {
                return Err(RegimeError::WrongLength {
                    parameter,
                    expected,
                    found,
                });
            }
        }
        check_distribution("start_probabilities", 0, &start_probabilities)?;
        for (row, values) in transition.chunks_exact(states).enumerate() {
            check_distribution("transition", row, values)?;
        }
        if let Some(state) = means.iter().position(|mean| !mean.is_finite()) {
            return Err(RegimeError::InvalidMean {
                state,
                mean: means[state],
            });
        }
        if let Some(state) = variances
            .iter()
            .position(|variance| !(variance.is_finite() && *variance > 0.0))
        {
            return Err(RegimeError::InvalidVariance {
                state,
                variance: variances[state],
            });
        }
        Ok(Self {
            start_probabilities,
            transition,
            means,
            variances,
        })
    }

    /// The number of hidden states `K`.
    pub fn states(&self) -> usize {
        self.means.len()
    }

    /// P(first state = k), for each k.
    pub fn start_probabilities(&self) -> &[f64] {
        &self.start_probabilities
    }

    /// The transition matrix, row-major: entry `i * K + j` is P(next = j | current = i).
    pub fn transition(&self) -> &[f64] {
        &self.transition
    }

    /// Row `from` of the transition matrix.
    pub fn transition_row(&self, from: usize) -> &[f64] {
        let states = self.states();
        &self.transition[from * states..(from + 1) * states]
    }

    /// Each state's mean.
    pub fn means(&self) -> &[f64] {
        &self.means
    }

    /// Each state's variance.
    pub fn variances(&self) -> &[f64] {
        &self.variances
    }

    /// ln P(observations | model), summed over every state path (hmmlearn's `score`).
    pub fn log_likelihood(&self, observations: &[f64]) -> Result<f64, RegimeError> {
        check_observations(observations)?;
        Ok(lattice::forward(self, observations)?.log_likelihood)
    }

    /// The smoothed state probabilities P(state at t | all observations) for every t, by
    /// the scaled forward–backward algorithm (hmmlearn's `predict_proba`).
    pub fn posteriors(&self, observations: &[f64]) -> Result<Posteriors, RegimeError> {
        check_observations(observations)?;
        let forward = lattice::forward(self, observations)?;
        let backward = lattice::backward(self, &forward);
        let states = self.states();
        let mut probabilities = forward.filtered;
        for (row, beta) in probabilities
            .chunks_exact_mut(states)
            .zip(backward.chunks_exact(states))
        {
            let mut sum = 0.0;
            for (p, b) in row.iter_mut().zip(beta) {
                *p *= b;
                sum += *p;
            }
            row.iter_mut().for_each(|p| *p /= sum);
        }
        Ok(Posteriors {
            states,
            probabilities,
            log_likelihood: forward.log_likelihood,
        })
    }

    /// The single most likely state path, by the Viterbi algorithm in log space (hmmlearn's
    /// `decode(algorithm="viterbi")`).
    pub fn viterbi(&self, observations: &[f64]) -> Result<ViterbiPath, RegimeError> {
        check_observations(observations)?;
        let states = self.states();
        let emissions = Emissions::new(self);
        let log_start: Vec<f64> = self.start_probabilities.iter().map(|p| p.ln()).collect();
        let log_transition: Vec<f64> = self.transition.iter().map(|p| p.ln()).collect();
        let mut scores = vec![0.0; observations.len() * states];
        for (j, score) in scores[..states].iter_mut().enumerate() {
            *score = log_start[j] + emissions.log_density(j, observations[0]);
        }
        for t in 1..observations.len() {
            let (done, rest) = scores.split_at_mut(t * states);
            let previous = &done[(t - 1) * states..];
            for (j, score) in rest[..states].iter_mut().enumerate() {
                let best = (0..states)
                    .map(|i| previous[i] + log_transition[i * states + j])
                    .fold(f64::NEG_INFINITY, f64::max);
                *score = best + emissions.log_density(j, observations[t]);
            }
        }
        // Backtrack as hmmlearn does: the first best final state, then for each earlier t
        // the predecessor that maximises score + ln transition.
        let last = &scores[(observations.len() - 1) * states..];
        let mut state = argmax(last.iter().copied());
        let log_probability = last[state];
        if log_probability == f64::NEG_INFINITY {
            let index = scores
                .chunks_exact(states)
                .position(|row| row.iter().all(|score| *score == f64::NEG_INFINITY))
                .unwrap_or(0);
            return Err(RegimeError::ZeroLikelihood { index });
        }
        let mut path = vec![0; observations.len()];
        path[observations.len() - 1] = state;
        for t in (0..observations.len() - 1).rev() {
            let row = &scores[t * states..(t + 1) * states];
            state = argmax((0..states).map(|i| row[i] + log_transition[i * states + state]));
            path[t] = state;
        }
        Ok(ViterbiPath {
            states: path,
            log_probability,
        })
    }

    /// An online forward filter starting before the first observation.
    pub fn filter(&self) -> OnlineFilter {
        OnlineFilter::new(self)
    }

    /// The same model with its states relabelled so that the means ascend: state 0 has
    /// the lowest mean. Ties are broken by variance, then by the original label, so the
    /// labelling is a function of the parameters alone.
    ///
    /// Baum–Welch may leave states in any order (each random start is sorted, the fit
    /// can move means past each other); a caller that compares labels across fits, such
    /// as the `regime` operator across refits, relabels each fit this way.
    ///
    /// ```
    /// use gridflow_regime::GaussianHmm;
    ///
    /// let model = GaussianHmm::new(
    ///     vec![0.7, 0.3],
    ///     vec![vec![0.9, 0.1], vec![0.4, 0.6]],
    ///     vec![120.0, 30.0],
    ///     vec![900.0, 25.0],
    /// )?;
    /// let ordered = model.ordered_by_mean();
    /// assert_eq!(ordered.means(), &[30.0, 120.0]);
    /// assert_eq!(ordered.transition_row(0), &[0.6, 0.4]);
    /// # Ok::<(), gridflow_regime::RegimeError>(())
    /// ```
    pub fn ordered_by_mean(&self) -> GaussianHmm {
        let states = self.states();
        let mut order: Vec<usize> = (0..states).collect();
        order.sort_by(|&a, &b| {
            self.means[a]
                .total_cmp(&self.means[b])
                .then(self.variances[a].total_cmp(&self.variances[b]))
                .then(a.cmp(&b))
        });
        let mut transition = Vec::with_capacity(states * states);
        for &from in &order {
            let row = self.transition_row(from);
            transition.extend(order.iter().map(|&to| row[to]));
        }
        GaussianHmm {
            start_probabilities: order.iter().map(|&k| self.start_probabilities[k]).collect(),
            transition,
            means: order.iter().map(|&k| self.means[k]).collect(),
            variances: order.iter().map(|&k| self.variances[k]).collect(),
        }
    }
}

/// Smoothed state probabilities, one row of `K` per observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Posteriors {
    states: usize,
    probabilities: Vec<f64>,
    log_likelihood: f64,
}

impl Posteriors {
    /// The number of observations.
    pub fn len(&self) -> usize {
        self.probabilities.len() / self.states
    }

    /// Whether there are no rows (never, for a computed result).
    pub fn is_empty(&self) -> bool {
        self.probabilities.is_empty()
    }

    /// P(state at `t` = k | all observations), for each k.
    pub fn at(&self, t: usize) -> &[f64] {
        &self.probabilities[t * self.states..(t + 1) * self.states]
    }

    /// Every row in time order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f64> {
        self.probabilities.chunks_exact(self.states)
    }

    /// The most probable state at each time (not a path: see [`GaussianHmm::viterbi`]).
    pub fn most_likely_states(&self) -> Vec<usize> {
        self.rows().map(|row| argmax(row.iter().copied())).collect()
    }

    /// ln P(observations | model), computed on the way.
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }
}

/// The Viterbi path and its joint log-probability ln P(observations, path | model).
#[derive(Debug, Clone, PartialEq)]
pub struct ViterbiPath {
    /// The state at each time.
    pub states: Vec<usize>,
    /// ln P(observations, states | model).
    pub log_probability: f64,
}

/// The per-state constants of the normal log-density.
#[derive(Debug, Clone)]
pub(crate) struct Emissions {
    means: Vec<f64>,
    variances: Vec<f64>,
    /// −½ ln(2π σ²) per state.
    log_normalisers: Vec<f64>,
}

impl Emissions {
    pub(crate) fn new(model: &GaussianHmm) -> Self {
        Self {
            means: model.means.clone(),
            variances: model.variances.clone(),
            log_normalisers: model
                .variances
                .iter()
                .map(|variance| -0.5 * (LN_2_PI + variance.ln()))
                .collect(),
        }
    }

    /// ln N(x; mean, variance) of `state`.
    #[inline]
    pub(crate) fn log_density(&self, state: usize, x: f64) -> f64 {
        let deviation = x - self.means[state];
        self.log_normalisers[state] - 0.5 * (deviation * deviation / self.variances[state])
    }
}

/// Index of the first largest value (NaN never wins).
pub(crate) fn argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::NEG_INFINITY);
    for (index, value) in values.enumerate() {
        if value > best.1 {
            best = (index, value);
        }
    }
    best.0
}

fn check_distribution(
    parameter: &'static str,
    row: usize,
    values: &[f64],
) -> Result<(), RegimeError> {
    let valid = values.iter().all(|p| p.is_finite() && *p >= 0.0);
    let sum: f64 = values.iter().sum();
    if valid && (sum - 1.0).abs() <= SUM_TOLERANCE {
        Ok(())
    } else {
        Err(RegimeError::NotADistribution {
            parameter,
            row,
            sum: if valid { sum } else { f64::NAN },
        })
    }
}

#[cfg(test)]
mod tests;
