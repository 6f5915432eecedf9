//! Bayesian online change-point detection (Adams & MacKay 2007) for a Gaussian series
//! whose mean and variance are unknown and reset at each change point.
//!
//! **Model.** The series is cut into segments. A new segment starts before any observation
//! with probability `hazard` (a constant hazard: segment lengths are geometric with mean
//! 1 / hazard). Within a segment, observations are normal with a mean and precision drawn
//! once from a Normal-Gamma prior ([`NormalGammaPrior`]), so the predictive of the next
//! observation given the segment so far is a Student-t.
//!
//! **Run length.** After observation t, the run length r is how many observations the
//! current segment holds, *including* observation t (1 ≤ r ≤ t). The detector keeps the
//! posterior P(r | observations so far). "A change point at this step" means r = 1: the
//! newest observation opened a new segment, so its probability is
//! H · p_prior(x_t) / Σ_r' P(r' at t−1) · p(x_t | r'); unlike the change probability of the
//! original paper, which always equals the hazard under a constant hazard, it reflects the
//! data. The first observation always opens a segment (change probability 1).
//!
//! **Truncation.** Memory is bounded by `max_run_length` = R hypotheses. The last one
//! stands for "run length R or more": when it would grow to R + 1, its probability is
//! added to the hypothesis that grows into R, and that bucket keeps the sufficient
//! statistics of the most recent R observations (a sliding window). No probability is
//! dropped: the run-length probabilities always sum to 1, and the predictive of a very
//! long segment is approximated by that of its last R observations. Until a series is
//! longer than R nothing is merged and the result is the exact posterior.

#[cfg(test)]
mod direct;
#[cfg(test)]
mod tests;

use crate::error::RegimeError;
use crate::special::ln_gamma;

/// ln(2π).
const LN_2_PI: f64 = 1.837_877_066_409_345_5;

/// The Normal-Gamma prior of a segment's mean μ and precision λ:
/// λ ~ Gamma(shape, rate) and μ | λ ~ Normal(mean, 1 / (mean_observations · λ)).
#[derive(Debug, Clone, PartialEq)]
pub struct NormalGammaPrior {
    /// Prior guess of a segment's mean.
    pub mean: f64,
    /// How many observations the prior mean is worth (κ₀ > 0).
    pub mean_observations: f64,
    /// Gamma shape of the precision (α₀ > 0); 2α₀ is the predictive's degrees of freedom.
    pub shape: f64,
    /// Gamma rate of the precision (β₀ > 0); β₀/α₀ is a prior guess of the variance.
    pub rate: f64,
}

impl Default for NormalGammaPrior {
    /// A vague prior around 0 with unit variance scale: μ₀ = 0, κ₀ = 1, α₀ = 1, β₀ = 1.
    fn default() -> Self {
        Self {
            mean: 0.0,
            mean_observations: 1.0,
            shape: 1.0,
            rate: 1.0,
        }
    }
}

/// The settings of a change-point detector.
#[derive(Debug, Clone, PartialEq)]
pub struct BocpdSettings {
    /// The prior of each segment's mean and precision.
    pub prior: NormalGammaPrior,
    /// Probability that a new segment starts at any given observation (0 < hazard < 1).
    pub hazard: f64,
    /// How many run-length hypotheses are kept (≥ 1); see the module documentation.
    pub max_run_length: usize,
}

impl Default for BocpdSettings {
    fn default() -> Self {
        Self {
            prior: NormalGammaPrior::default(),
            hazard: 1.0 / 250.0,
            max_run_length: 1_000,
        }
    }
}

/// What one observation did to the run-length posterior.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunLengthSummary {
    /// The run length with the highest posterior probability.
    pub most_likely_run_length: usize,
    /// Its probability.
    pub most_likely_probability: f64,
    /// P(run length = 1): the probability that this observation opened a new segment.
    pub change_probability: f64,
    /// ln p(this observation | the ones before): the detector's one-step predictive.
    pub log_predictive: f64,
}

/// Constants that depend only on how many observations a hypothesis holds.
#[derive(Debug, Clone)]
struct RunConstants {
    /// α_r = α₀ + r/2.
    shape: f64,
    /// α_r + ½: the exponent of the predictive.
    next_shape: f64,
    /// κ_r / (2 (κ_r + 1)): how a squared deviation raises the rate.
    rate_gain: f64,
    /// 1 / (κ_r + 1): how far the mean moves towards a new observation.
    mean_gain: f64,
    /// ln Γ(α_r + ½) − ln Γ(α_r) − ½ ln 2π + ½ ln(κ_r / (κ_r + 1)).
    log_normaliser: f64,
}

/// A Bayesian online change-point detector with a bounded run-length posterior.
///
/// ```
/// use gridflow_regime::{Bocpd, BocpdSettings};
///
/// let mut detector = Bocpd::new(BocpdSettings { hazard: 0.01, ..BocpdSettings::default() })?;
/// for _ in 0..50 {
///     detector.update(0.0)?;
/// }
/// let summary = detector.update(8.0)?;
/// assert!(summary.change_probability > 0.5);
/// # Ok::<(), gridflow_regime::RegimeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Bocpd {
    settings: BocpdSettings,
    /// Entry r (0 ≤ r ≤ R) for a hypothesis holding r observations (r = 0: the prior).
    constants: Vec<RunConstants>,
    /// ln β₀.
    log_prior_rate: f64,
    /// Index i: run length i + 1. Only the first `len` entries are live.
    probabilities: Vec<f64>,
    means: Vec<f64>,
    rates: Vec<f64>,
    log_rates: Vec<f64>,
    /// Scratch: ln predictive of each hypothesis for the current observation.
    log_predictives: Vec<f64>,
    len: usize,
    observations: u64,
    log_evidence: f64,
}

impl Bocpd {
    /// A detector before its first observation.
    pub fn new(settings: BocpdSettings) -> Result<Self, RegimeError> {
        check_settings(&settings)?;
        let prior = &settings.prior;
        let capacity = settings.max_run_length;
        let constants = (0..=capacity)
            .map(|r| {
                let kappa = prior.mean_observations + r as f64;
                let shape = prior.shape + 0.5 * r as f64;
                RunConstants {
                    shape,
                    next_shape: shape + 0.5,
                    rate_gain: kappa / (2.0 * (kappa + 1.0)),
                    mean_gain: 1.0 / (kappa + 1.0),
                    log_normaliser: ln_gamma(shape + 0.5) - ln_gamma(shape) - 0.5 * LN_2_PI
                        + 0.5 * (kappa / (kappa + 1.0)).ln(),
                }
            })
            .collect();
        Ok(Self {
            log_prior_rate: prior.rate.ln(),
            constants,
            probabilities: vec![0.0; capacity],
            means: vec![0.0; capacity],
            rates: vec![0.0; capacity],
            log_rates: vec![0.0; capacity],
            log_predictives: vec![0.0; capacity],
            len: 0,
            observations: 0,
            log_evidence: 0.0,
            settings,
        })
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &BocpdSettings {
        &self.settings
    }

    /// Takes one observation: O(R) work, no allocation.
    pub fn update(&mut self, x: f64) -> Result<RunLengthSummary, RegimeError> {
        if !x.is_finite() {
            return Err(RegimeError::NonFiniteObservation {
                index: self.observations as usize,
                value: x,
            });
        }
        let capacity = self.settings.max_run_length;
        let hazard = self.settings.hazard;
        let prior = &self.settings.prior;

        // The new-segment hypothesis: the prior's predictive, then the prior updated by x.
        let c0 = &self.constants[0];
        let deviation = x - prior.mean;
        let prior_rate = prior.rate + c0.rate_gain * deviation * deviation;
        let log_prior_rate = prior_rate.ln();
        let prior_log_predictive =
            c0.log_normaliser + c0.shape * self.log_prior_rate - c0.next_shape * log_prior_rate;
        let prior_mean = prior.mean + c0.mean_gain * deviation;

        // Pass 1: each live hypothesis (run length i + 1) predicts x; its statistics move
        // to slot i + 1 (or stay in the last slot, merged, when i + 1 = R).
        let len = self.len;
        let mut shift = prior_log_predictive;
        for i in (0..len).rev() {
            let c = &self.constants[i + 1];
            let deviation = x - self.means[i];
            let rate = self.rates[i] + c.rate_gain * deviation * deviation;
            let log_rate = rate.ln();
            let log_predictive =
                c.log_normaliser + c.shape * self.log_rates[i] - c.next_shape * log_rate;
            self.log_predictives[i] = log_predictive;
            if self.probabilities[i] > 0.0 && log_predictive > shift {
                shift = log_predictive;
            }
            if i + 1 < capacity {
                self.means[i + 1] = self.means[i] + c.mean_gain * deviation;
                self.rates[i + 1] = rate;
                self.log_rates[i + 1] = log_rate;
            }
        }

        // Pass 2: joint probabilities relative to exp(shift), moved up one slot. The first
        // observation opens a segment for sure (there is no earlier run to continue).
        let opening = if len == 0 { 1.0 } else { hazard };
        let change = opening * (prior_log_predictive - shift).exp();
        let stay = 1.0 - hazard;
        let mut sum = change;
        let mut overflow = 0.0;
        if len == capacity {
            let last = len - 1;
            overflow = self.probabilities[last] * stay * (self.log_predictives[last] - shift).exp();
            sum += overflow;
        }
        let grown = len.min(capacity - 1);
        for i in (0..grown).rev() {
            let weight = self.probabilities[i] * stay * (self.log_predictives[i] - shift).exp();
            self.probabilities[i + 1] = weight;
            sum += weight;
        }
        self.probabilities[0] = change;
        self.means[0] = prior_mean;
        self.rates[0] = prior_rate;
        self.log_rates[0] = log_prior_rate;
        self.len = (len + 1).min(capacity);
        self.probabilities[self.len - 1] += overflow;

        // Pass 3: normalise and summarise.
        let mut most_likely = (0, 0.0);
        for (i, p) in self.probabilities[..self.len].iter_mut().enumerate() {
            *p /= sum;
            if *p > most_likely.1 {
                most_likely = (i, *p);
            }
        }
        let log_predictive = shift + sum.ln();
        self.log_evidence += log_predictive;
        self.observations += 1;
        Ok(RunLengthSummary {
            most_likely_run_length: most_likely.0 + 1,
            most_likely_probability: most_likely.1,
            change_probability: self.probabilities[0],
            log_predictive,
        })
    }

    /// P(run length = i + 1 | observations so far) at index i; empty before the first
    /// observation. The last entry stands for "R or more" once the series is longer
    /// than R.
    pub fn run_length_probabilities(&self) -> &[f64] {
        &self.probabilities[..self.len]
    }

    /// ln p(observations so far) under the change-point model.
    pub fn log_evidence(&self) -> f64 {
        self.log_evidence
    }

    /// How many observations the detector has taken.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Forgets every observation.
    pub fn reset(&mut self) {
        self.len = 0;
        self.observations = 0;
        self.log_evidence = 0.0;
    }
}

fn check_settings(settings: &BocpdSettings) -> Result<(), RegimeError> {
    let prior = &settings.prior;
    let checks = [
        (
            "hazard",
            settings.hazard,
            settings.hazard > 0.0 && settings.hazard < 1.0,
            "must be strictly between 0 and 1",
        ),
        (
            "max_run_length",
            settings.max_run_length as f64,
            settings.max_run_length >= 1,
            "at least one run length must be kept",
        ),
        (
            "prior.mean",
            prior.mean,
            prior.mean.is_finite(),
            "must be finite",
        ),
        (
            "prior.mean_observations",
            prior.mean_observations,
            prior.mean_observations > 0.0 && prior.mean_observations.is_finite(),
            "must be positive and finite",
        ),
        (
            "prior.shape",
            prior.shape,
            prior.shape > 0.0 && prior.shape.is_finite(),
            "must be positive and finite",
        ),
        (
            "prior.rate",
            prior.rate,
            prior.rate > 0.0 && prior.rate.is_finite(),
            "must be positive and finite",
        ),
    ];
    match checks.into_iter().find(|check| !check.2) {
        Some((setting, value, _, reason)) => Err(RegimeError::InvalidSetting {
            setting,
            value,
            reason,
        }),
        None => Ok(()),
    }
}
