//! Baum–Welch (expectation–maximisation) fitting, with hmmlearn's M-step and stopping rule.
//!
//! The M-step is hmmlearn 0.3.3's `GaussianHMM._do_mstep` for `covariance_type="diag"`
//! on one feature, with its priors (see [`Priors`]). Writing `γ` for the smoothed state
//! probabilities and `ξ` for the smoothed transition probabilities:
//!
//! - start_k ∝ max(start_prior − 1 + γ_0(k), 0), kept 0 where it was 0;
//! - transition_ij ∝ max(transition_prior − 1 + Σ_t ξ_t(i, j), 0), kept 0 where it was 0;
//! - mean_k = (means_weight · means_prior + Σ_t γ_t(k) x_t) / (means_weight + Σ_t γ_t(k));
//! - variance_k = (variances_prior + means_weight (mean_k − means_prior)² + Σγx² − 2 mean_k Σγx
//!   + mean_k² Σγ) / max(max(variances_weight − 1, 0) + Σγ, 1e-5).
//!
//! hmmlearn adds `min_covar` only when it initialises variances from the data, never in
//! the M-step; [`Priors::min_variance`] plays that role in [`GaussianHmm::fit_seeded`].
//!
//! Stopping rule (hmmlearn's `ConvergenceMonitor`): iteration `n` runs an E-step, whose
//! log-likelihood (of the parameters *before* this iteration's M-step) is appended to the
//! history, then the M-step. Fitting stops after `max_iterations` iterations, or as soon
//! as the last history entry exceeds the one before by less than `tolerance` (a decrease
//! stops it too).

use super::lattice::{backward, forward, next_weights};
use super::{GaussianHmm, SUM_TOLERANCE};
use crate::error::{RegimeError, check_observations};
use crate::rng::SplitMix64;

/// The Dirichlet and normal–inverse-gamma priors of the M-step, hmmlearn's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Priors {
    /// Dirichlet concentration on the start probabilities (`startprob_prior`, 1 = none).
    pub start: f64,
    /// Dirichlet concentration on each transition row (`transmat_prior`, 1 = none).
    pub transition: f64,
    /// Prior mean of every state (`means_prior`).
    pub means: f64,
    /// Weight of the prior mean in observations (`means_weight`, 0 = none).
    pub means_weight: f64,
    /// Prior sum of squares added to every variance's numerator (`covars_prior`).
    pub variances: f64,
    /// Prior weight of the variances (`covars_weight`; up to 1 it adds nothing).
    pub variances_weight: f64,
    /// Added to the data variance when [`GaussianHmm::fit_seeded`] initialises the
    /// variances (`min_covar`).
    pub min_variance: f64,
}

impl Default for Priors {
    fn default() -> Self {
        Self {
            start: 1.0,
            transition: 1.0,
            means: 0.0,
            means_weight: 0.0,
            variances: 1e-2,
            variances_weight: 1.0,
            min_variance: 1e-3,
        }
    }
}

/// When Baum–Welch stops, and the priors of its M-step. Defaults are hmmlearn's.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// At most this many E/M iterations (`n_iter`).
    pub max_iterations: usize,
    /// Stop once an iteration improves the log-likelihood by less than this (`tol`).
    pub tolerance: f64,
    /// The M-step's priors.
    pub priors: Priors,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            max_iterations: 10,
            tolerance: 1e-2,
            priors: Priors::default(),
        }
    }
}

/// A fitted model and how it got there.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// The parameters after the last M-step.
    pub model: GaussianHmm,
    /// ln P(observations | fitted model).
    pub log_likelihood: f64,
    /// The E-step log-likelihood of each iteration (hmmlearn's `monitor_.history`): entry
    /// `n` belongs to the parameters before the `n`-th M-step.
    pub log_likelihood_history: Vec<f64>,
    /// Whether the tolerance stopped it (rather than `max_iterations`).
    pub converged: bool,
}

/// Sufficient statistics of one E-step.
struct Statistics {
    start: Vec<f64>,
    transitions: Vec<f64>,
    weights: Vec<f64>,
    sums: Vec<f64>,
    sums_of_squares: Vec<f64>,
    log_likelihood: f64,
}

impl GaussianHmm {
    /// Baum–Welch from these parameters.
    pub fn fit(&self, observations: &[f64], options: &FitOptions) -> Result<Fit, RegimeError> {
        check_observations(observations)?;
        check_options(options)?;
        let mut model = self.clone();
        let mut history = Vec::new();
        let mut converged = false;
        for _ in 0..options.max_iterations {
            let statistics = expectation(&model, observations)?;
            model = maximisation(&model, &statistics, &options.priors)?;
            history.push(statistics.log_likelihood);
            if let [.., before, last] = history[..]
                && last - before < options.tolerance
            {
                converged = true;
                break;
            }
        }
        let log_likelihood = model.log_likelihood(observations)?;
        Ok(Fit {
            model,
            log_likelihood,
            log_likelihood_history: history,
            converged,
        })
    }

    /// Baum–Welch from `initialisations` random starting points drawn from `seed`; returns
    /// the fit with the highest log-likelihood. The same seed gives the same result.
    ///
    /// Each start takes `states` distinct observations picked at random as the means
    /// (sorted, so state 0 has the lowest), the sample variance of the data plus
    /// [`Priors::min_variance`] as every variance, uniform start probabilities, and
    /// transition rows that favour staying (diagonal weight `states` plus uniform noise).
    /// A start whose fit fails (a state left without weight) is skipped; if all fail, the
    /// last error is returned.
    pub fn fit_seeded(
        states: usize,
        observations: &[f64],
        options: &FitOptions,
        initialisations: usize,
        seed: u64,
    ) -> Result<Fit, RegimeError> {
        check_observations(observations)?;
        if states == 0 {
            return Err(RegimeError::NoStates);
        }
        if initialisations == 0 {
            return Err(RegimeError::InvalidSetting {
                setting: "initialisations",
                value: 0.0,
                reason: "at least one initialisation is needed",
            });
        }
        let variance = sample_variance(observations) + options.priors.min_variance;
        let mut rng = SplitMix64::new(seed);
        let mut best: Option<Fit> = None;
        let mut last_error = None;
        for _ in 0..initialisations {
            let start = random_start(states, observations, variance, &mut rng)?;
            match start.fit(observations, options) {
                Ok(fit) => {
                    if best
                        .as_ref()
                        .is_none_or(|best| fit.log_likelihood > best.log_likelihood)
                    {
                        best = Some(fit);
                    }
                }
                Err(error) => last_error = Some(error),
            }
        }
        best.ok_or_else(|| last_error.unwrap_or(RegimeError::NoObservations))
    }
}

fn check_options(options: &FitOptions) -> Result<(), RegimeError> {
    if options.tolerance.is_nan() || options.tolerance < 0.0 {
        return Err(RegimeError::InvalidSetting {
            setting: "tolerance",
            value: options.tolerance,
            reason: "must be zero or positive",
        });
    }
    Ok(())
}

/// The E-step: smoothed statistics under `model`.
fn expectation(model: &GaussianHmm, observations: &[f64]) -> Result<Statistics, RegimeError> {
    let states = model.states();
    let forward = forward(model, observations)?;
    let beta = backward(model, &forward);
    let mut statistics = Statistics {
        start: vec![0.0; states],
        transitions: vec![0.0; states * states],
        weights: vec![0.0; states],
        sums: vec![0.0; states],
        sums_of_squares: vec![0.0; states],
        log_likelihood: forward.log_likelihood,
    };
    let mut gamma = vec![0.0; states];
    let mut next = vec![0.0; states];
    for (t, x) in observations.iter().enumerate() {
        let row = t * states..(t + 1) * states;
        let mut sum = 0.0;
        for ((g, f), b) in gamma
            .iter_mut()
            .zip(&forward.filtered[row.clone()])
            .zip(&beta[row.clone()])
        {
            *g = f * b;
            sum += *g;
        }
        gamma.iter_mut().for_each(|g| *g /= sum);
        if t == 0 {
            statistics.start.copy_from_slice(&gamma);
        }
        for (k, g) in gamma.iter().enumerate() {
            statistics.weights[k] += g;
            statistics.sums[k] += g * x;
            statistics.sums_of_squares[k] += g * (x * x);
        }
        if t + 1 < observations.len() {
            // ξ_t(i, j) = filtered_t(i) · transition_ij · e_{t+1}(j) β_{t+1}(j) / c_{t+1}.
            next_weights(&forward, &beta, t + 1, states, &mut next);
            for (i, f) in forward.filtered[row].iter().enumerate() {
                let transitions = &mut statistics.transitions[i * states..(i + 1) * states];
                for ((xi, a), w) in transitions
                    .iter_mut()
                    .zip(model.transition_row(i))
                    .zip(&next)
                {
                    *xi += f * a * w;
                }
            }
        }
    }
    Ok(statistics)
}

/// The M-step (hmmlearn's `_do_mstep`, see the module documentation).
fn maximisation(
    model: &GaussianHmm,
    statistics: &Statistics,
    priors: &Priors,
) -> Result<GaussianHmm, RegimeError> {
    let states = model.states();
    let mut start: Vec<f64> = model
        .start_probabilities
        .iter()
        .zip(&statistics.start)
        .map(|(old, s)| dirichlet_update(*old, priors.start, *s))
        .collect();
    normalise(&mut start);
    let mut transition: Vec<f64> = model
        .transition
        .iter()
        .zip(&statistics.transitions)
        .map(|(old, s)| dirichlet_update(*old, priors.transition, *s))
        .collect();
    for (state, row) in transition.chunks_exact_mut(states).enumerate() {
        if row.iter().sum::<f64>() == 0.0 {
            return Err(RegimeError::EmptyState { state });
        }
        normalise(row);
    }
    let mut means = Vec::with_capacity(states);
    let mut variances = Vec::with_capacity(states);
    for k in 0..states {
        let weight = statistics.weights[k];
        let denominator = priors.means_weight + weight;
        if denominator.is_nan() || denominator <= 0.0 {
            return Err(RegimeError::EmptyState { state: k });
        }
        let mean = (priors.means_weight * priors.means + statistics.sums[k]) / denominator;
        let deviation = mean - priors.means;
        let numerator = priors.means_weight * deviation * deviation + statistics.sums_of_squares[k]
            - 2.0 * mean * statistics.sums[k]
            + mean * mean * weight;
        let divisor = ((priors.variances_weight - 1.0).max(0.0) + weight).max(1e-5);
        means.push(mean);
        variances.push((priors.variances + numerator) / divisor);
    }
    GaussianHmm::from_flat(start, transition, means, variances)
}

fn dirichlet_update(old: f64, prior: f64, expected: f64) -> f64 {
    if old == 0.0 {
        0.0
    } else {
        (prior - 1.0 + expected).max(0.0)
    }
}

fn normalise(values: &mut [f64]) {
    let sum: f64 = values.iter().sum();
    values.iter_mut().for_each(|v| *v /= sum);
}

/// The unbiased sample variance (numpy's `np.cov` of one feature); 0 for one value.
fn sample_variance(observations: &[f64]) -> f64 {
    if observations.len() < 2 {
        return 0.0;
    }
    let n = observations.len() as f64;
    let mean = observations.iter().sum::<f64>() / n;
    observations
        .iter()
        .map(|x| (x - mean) * (x - mean))
        .sum::<f64>()
        / (n - 1.0)
}

fn random_start(
    states: usize,
    observations: &[f64],
    variance: f64,
    rng: &mut SplitMix64,
) -> Result<GaussianHmm, RegimeError> {
    // Distinct observations where there are enough; otherwise repeats are allowed.
    let mut means: Vec<f64> = Vec::with_capacity(states);
    let mut attempts = 0;
    while means.len() < states {
        let candidate = observations[rng.below(observations.len())];
        attempts += 1;
        if attempts > 64 * states || !means.contains(&candidate) {
            means.push(candidate);
        }
    }
    means.sort_by(f64::total_cmp);
    let mut transition = Vec::with_capacity(states * states);
    for i in 0..states {
        let row: Vec<f64> = (0..states)
            .map(|j| rng.next_f64() + if i == j { states as f64 } else { 0.0 })
            .collect();
        let sum: f64 = row.iter().sum();
        transition.extend(row.iter().map(|v| v / sum));
    }
    let start = vec![1.0 / states as f64; states];
    debug_assert!((start.iter().sum::<f64>() - 1.0).abs() <= SUM_TOLERANCE);
    GaussianHmm::from_flat(start, transition, means, vec![variance; states])
}
