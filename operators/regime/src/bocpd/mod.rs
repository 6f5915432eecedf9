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
mod kernel;
#[cfg(test)]
mod tests;

use crate::error::RegimeError;
use crate::fastmath;
use crate::special::ln_gamma;
use kernel::Kernel;

/// Independent accumulators in the reductions, so the compiler can use SIMD lanes.
const LANES: usize = 4;

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

/// Constants that depend only on how many observations a hypothesis holds: entry r
/// (0 ≤ r ≤ R) for a hypothesis holding r observations (r = 0: the prior). One vector
/// per constant, so the update loops run over plain slices.
#[derive(Debug, Clone, Default)]
struct RunConstants {
    /// α_r = α₀ + r/2.
    shape: Vec<f64>,
    /// α_r + ½: the exponent of the predictive.
    next_shape: Vec<f64>,
    /// κ_r / (2 (κ_r + 1)): how a squared deviation raises the rate.
    rate_gain: Vec<f64>,
    /// 1 / (κ_r + 1): how far the mean moves towards a new observation.
    mean_gain: Vec<f64>,
    /// ln Γ(α_r + ½) − ln Γ(α_r) − ½ ln 2π + ½ ln(κ_r / (κ_r + 1)).
    log_normaliser: Vec<f64>,
}

impl RunConstants {
    fn new(prior: &NormalGammaPrior, capacity: usize) -> Self {
        let mut constants = Self::default();
        for r in 0..=capacity {
            let kappa = prior.mean_observations + r as f64;
            let shape = prior.shape + 0.5 * r as f64;
            constants.shape.push(shape);
            constants.next_shape.push(shape + 0.5);
            constants.rate_gain.push(kappa / (2.0 * (kappa + 1.0)));
            constants.mean_gain.push(1.0 / (kappa + 1.0));
            constants.log_normaliser.push(
                ln_gamma(shape + 0.5) - ln_gamma(shape) - 0.5 * LN_2_PI
                    + 0.5 * (kappa / (kappa + 1.0)).ln(),
            );
        }
        constants
    }
}

/// The statistics of every live hypothesis; slot i is run length i + 1. Two of these
/// alternate: an update reads one and writes the other one slot further up.
#[derive(Debug, Clone)]
struct Hypotheses {
    probabilities: Vec<f64>,
    means: Vec<f64>,
    rates: Vec<f64>,
    log_rates: Vec<f64>,
}

impl Hypotheses {
    /// Room for R + 1 slots: the last receives the overflowing hypothesis before it merges.
    fn new(capacity: usize) -> Self {
        Self {
            probabilities: vec![0.0; capacity + 1],
            means: vec![0.0; capacity + 1],
            rates: vec![0.0; capacity + 1],
            log_rates: vec![0.0; capacity + 1],
        }
    }
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
    constants: RunConstants,
    /// ln β₀.
    log_prior_rate: f64,
    /// The live hypotheses (the first `len` slots) and the buffer the next update fills.
    current: Hypotheses,
    next: Hypotheses,
    /// Scratch: ln predictive of each hypothesis for the current observation.
    log_predictives: Vec<f64>,
    len: usize,
    observations: u64,
    log_evidence: f64,
    /// Which compilation of the update loops this CPU runs (see `kernel.rs`).
    kernel: Kernel,
}

impl Bocpd {
    /// A detector before its first observation.
    pub fn new(settings: BocpdSettings) -> Result<Self, RegimeError> {
        check_settings(&settings)?;
        let prior = &settings.prior;
        let capacity = settings.max_run_length;
        Ok(Self {
            log_prior_rate: prior.rate.ln(),
            constants: RunConstants::new(prior, capacity),
            current: Hypotheses::new(capacity),
            next: Hypotheses::new(capacity),
            log_predictives: vec![0.0; capacity],
            len: 0,
            observations: 0,
            log_evidence: 0.0,
            kernel: Kernel::detect(),
            settings,
        })
    }

    /// The settings it was built with.
    pub fn settings(&self) -> &BocpdSettings {
        &self.settings
    }

    /// Takes one observation: O(R) work, no allocation. Observations must be finite and
    /// below 1e150 in size (their squares must stay finite).
    pub fn update(&mut self, x: f64) -> Result<RunLengthSummary, RegimeError> {
        if x.is_nan() || x.abs() >= 1e150 {
            return Err(RegimeError::NonFiniteObservation {
                index: self.observations as usize,
                value: x,
            });
        }
        Ok(self.kernel.step(self, x))
    }

    /// The body of [`Bocpd::update`] for a checked observation. Inlined into each of
    /// `kernel.rs`'s wrappers, so that its loops are compiled once per instruction set.
    #[inline(always)]
    fn step(&mut self, x: f64) -> RunLengthSummary {
        let capacity = self.settings.max_run_length;
        let hazard = self.settings.hazard;
        let prior = &self.settings.prior;
        let constants = &self.constants;
        let len = self.len;

        // The new-segment hypothesis: the prior's predictive, then the prior updated by x.
        let deviation = x - prior.mean;
        let prior_rate = prior.rate + constants.rate_gain[0] * deviation * deviation;
        let log_prior_rate = prior_rate.ln();
        let prior_log_predictive = constants.log_normaliser[0]
            + constants.shape[0] * self.log_prior_rate
            - constants.next_shape[0] * log_prior_rate;

        // Pass 1: hypothesis i (run length i + 1, so constants i + 1) predicts x and its
        // statistics, updated by x, move to slot i + 1 of the other buffer.
        let current = &self.current;
        let next = &mut self.next;
        let log_predictives = &mut self.log_predictives[..len];
        {
            // Every slice has exactly `len` entries, so the loop has no bounds checks and
            // vectorises.
            let means = &current.means[..len];
            let rates = &current.rates[..len];
            let log_rates = &current.log_rates[..len];
            let rate_gain = &constants.rate_gain[1..=len];
            let mean_gain = &constants.mean_gain[1..=len];
            let shape = &constants.shape[1..=len];
            let next_shape = &constants.next_shape[1..=len];
            let log_normaliser = &constants.log_normaliser[1..=len];
            let next_means = &mut next.means[1..=len];
            let next_rates = &mut next.rates[1..=len];
            let next_log_rates = &mut next.log_rates[1..=len];
            for i in 0..len {
                let deviation = x - means[i];
                let updated_rate = rates[i] + rate_gain[i] * deviation * deviation;
                let updated_log_rate = fastmath::ln(updated_rate);
                log_predictives[i] =
                    log_normaliser[i] + shape[i] * log_rates[i] - next_shape[i] * updated_log_rate;
                next_means[i] = means[i] + mean_gain[i] * deviation;
                next_rates[i] = updated_rate;
                next_log_rates[i] = updated_log_rate;
            }
        }

        // Pass 2: the largest predictive among hypotheses with probability, so that the
        // weights below are at most 1 and the best never underflows.
        let mut lanes = [prior_log_predictive; LANES];
        let probabilities = &current.probabilities[..len];
        for (chunk, p) in log_predictives
            .chunks_exact(LANES)
            .zip(probabilities.chunks_exact(LANES))
        {
            for lane in 0..LANES {
                // Plain compares: `f64::max`'s NaN rule costs extra instructions.
                if p[lane] > 0.0 && chunk[lane] > lanes[lane] {
                    lanes[lane] = chunk[lane];
                }
            }
        }
        let tail = len - len % LANES;
        for (log_predictive, p) in log_predictives[tail..].iter().zip(&probabilities[tail..]) {
            if *p > 0.0 {
                lanes[0] = lanes[0].max(*log_predictive);
            }
        }
        let shift = lanes.iter().copied().fold(f64::NEG_INFINITY, f64::max);

        // Pass 3: joint probabilities relative to exp(shift), one slot up (a loop the
        // compiler vectorises), then their sum in independent lanes. The first
        // observation opens a segment for sure (there is no earlier run to continue).
        let stay = 1.0 - hazard;
        let grown = &mut next.probabilities[1..=len];
        for i in 0..len {
            grown[i] = probabilities[i] * stay * fastmath::exp(log_predictives[i] - shift);
        }
        let mut sums = [0.0; LANES];
        for chunk in grown.chunks_exact(LANES) {
            for lane in 0..LANES {
                sums[lane] += chunk[lane];
            }
        }
        sums[0] += grown[tail..].iter().sum::<f64>();
        let opening = if len == 0 { 1.0 } else { hazard };
        let change = opening * (prior_log_predictive - shift).exp();
        let sum = change + sums.iter().sum::<f64>();
        next.probabilities[0] = change;
        next.means[0] = prior.mean + constants.mean_gain[0] * deviation;
        next.rates[0] = prior_rate;
        next.log_rates[0] = log_prior_rate;
        // Past R: the overflowing hypothesis (slot R) joins slot R − 1, whose statistics
        // (the last R observations) stand for both.
        if len == capacity {
            next.probabilities[capacity - 1] += next.probabilities[capacity];
        }
        let new_len = (len + 1).min(capacity);

        // Pass 4: normalise and summarise.
        let scale = 1.0 / sum;
        let live = &mut next.probabilities[..new_len];
        live.iter_mut().for_each(|p| *p *= scale);
        // The mode: the largest value lane by lane (no chain of compares through one
        // running maximum), then its first position.
        let largest = lane_maximum(live);
        let mode = live.iter().position(|p| *p == largest).unwrap_or(0);
        let most_likely = (mode, largest);
        std::mem::swap(&mut self.current, &mut self.next);
        self.len = new_len;
        let log_predictive = shift + sum.ln();
        self.log_evidence += log_predictive;
        self.observations += 1;
        RunLengthSummary {
            most_likely_run_length: most_likely.0 + 1,
            most_likely_probability: most_likely.1,
            change_probability: self.current.probabilities[0],
            log_predictive,
        }
    }

    /// P(run length = i + 1 | observations so far) at index i; empty before the first
    /// observation. The last entry stands for "R or more" once the series is longer
    /// than R.
    pub fn run_length_probabilities(&self) -> &[f64] {
        &self.current.probabilities[..self.len]
    }

    /// ln p(observations so far) under the change-point model.
    pub fn log_evidence(&self) -> f64 {
        self.log_evidence
    }

    /// How many observations the detector has taken.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// The same detector running the portable compilation of its update loops, whatever
    /// this CPU supports: the tests compare it with the one `Kernel::detect` picked.
    #[cfg(test)]
    pub(crate) fn with_portable_kernel(mut self) -> Self {
        self.kernel = Kernel::Portable;
        self
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

/// The largest value of a slice (−∞ when empty), with `LANES` independent maxima.
/// Always inlined: it belongs to [`Bocpd::step`]'s loops and their instruction set.
#[inline(always)]
fn lane_maximum(values: &[f64]) -> f64 {
    let mut lanes = [f64::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for lane in 0..LANES {
            if chunk[lane] > lanes[lane] {
                lanes[lane] = chunk[lane];
            }
        }
    }
    rest.iter()
        .chain(&lanes)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max)
}
