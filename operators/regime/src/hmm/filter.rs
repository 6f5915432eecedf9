//! The online forward filter: one observation in, filtered state probabilities out.

use super::lattice::{absorb, predict};
use super::{Emissions, GaussianHmm, argmax};
use crate::error::RegimeError;

/// Filtered state probabilities P(state now | observations so far) and the running
/// log-likelihood, updated in O(K²) per observation without allocating.
///
/// After `n` updates, [`OnlineFilter::log_likelihood`] equals
/// [`GaussianHmm::log_likelihood`] of those `n` observations and
/// [`OnlineFilter::probabilities`] the last row of the forward pass.
///
/// ```
/// use gridflow_regime::GaussianHmm;
///
/// let model = GaussianHmm::new(
///     vec![0.5, 0.5],
///     vec![vec![0.95, 0.05], vec![0.10, 0.90]],
///     vec![30.0, 120.0],
///     vec![25.0, 900.0],
/// )?;
/// let mut filter = model.filter();
/// for price in [31.0, 29.5, 140.0, 180.0] {
///     filter.update(price)?;
/// }
/// assert_eq!(filter.most_likely_state(), Some(1));
/// # Ok::<(), gridflow_regime::RegimeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct OnlineFilter {
    emissions: Emissions,
    start_probabilities: Vec<f64>,
    transition: Vec<f64>,
    /// Before the first update: the start probabilities; afterwards the filtered ones.
    probabilities: Vec<f64>,
    predicted: Vec<f64>,
    scaled: Vec<f64>,
    next: Vec<f64>,
    log_likelihood: f64,
    observations: u64,
}

impl OnlineFilter {
    pub(super) fn new(model: &GaussianHmm) -> Self {
        let states = model.states();
        Self {
            emissions: Emissions::new(model),
            start_probabilities: model.start_probabilities.clone(),
            transition: model.transition.clone(),
            probabilities: model.start_probabilities.clone(),
            predicted: vec![0.0; states],
            scaled: vec![0.0; states],
            next: vec![0.0; states],
            log_likelihood: 0.0,
            observations: 0,
        }
    }

    /// Takes one observation. On an error (a non-finite value, or one the model gives
    /// probability zero) the filter is left as it was.
    #[inline]
    pub fn update(&mut self, x: f64) -> Result<(), RegimeError> {
        if !x.is_finite() {
            return Err(RegimeError::NonFiniteObservation {
                index: self.observations as usize,
                value: x,
            });
        }
        if self.observations == 0 {
            self.predicted.copy_from_slice(&self.start_probabilities);
        } else {
            predict(&self.transition, &self.probabilities, &mut self.predicted);
        }
        // Filter into a second buffer and swap, so a failed step changes nothing.
        let step = absorb(
            &self.emissions,
            x,
            &self.predicted,
            &mut self.scaled,
            &mut self.next,
        )
        .ok_or(RegimeError::ZeroLikelihood {
            index: self.observations as usize,
        })?;
        let (shift, sum) = step;
        std::mem::swap(&mut self.probabilities, &mut self.next);
        self.log_likelihood += shift + sum.ln();
        self.observations += 1;
        Ok(())
    }

    /// P(state now = k | observations so far); the start probabilities before any update.
    pub fn probabilities(&self) -> &[f64] {
        &self.probabilities
    }

    /// The state with the highest filtered probability, once there is an observation.
    pub fn most_likely_state(&self) -> Option<usize> {
        (self.observations > 0).then(|| argmax(self.probabilities.iter().copied()))
    }

    /// ln P(observations so far | model).
    pub fn log_likelihood(&self) -> f64 {
        self.log_likelihood
    }

    /// How many observations the filter has taken.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Forgets every observation.
    pub fn reset(&mut self) {
        self.probabilities
            .copy_from_slice(&self.start_probabilities);
        self.log_likelihood = 0.0;
        self.observations = 0;
    }
}
