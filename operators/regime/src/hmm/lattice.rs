//! The scaled forward and backward passes shared by scoring, smoothing and Baum–Welch.
//!
//! Scaling (Rabiner 1989, §V.A) keeps every quantity near 1, so series of any length
//! neither underflow nor overflow. At each step the emission densities are divided by
//! the largest density among the states the chain can be in (`shift`, kept in log
//! space), and the filtered probabilities are normalised by their sum `c_t`; the
//! log-likelihood is Σ_t (shift_t + ln c_t). States the chain cannot be in at a step
//! (predicted probability exactly 0, from a zero start or transition probability) get
//! emission 0: they carry no probability, so nothing downstream changes.

use super::{Emissions, GaussianHmm};
use crate::error::RegimeError;

/// The forward pass over a whole series.
pub(super) struct Forward {
    /// P(state at t | observations up to t), row-major `T × K`.
    pub(super) filtered: Vec<f64>,
    /// exp(ln density − shift_t) per step and state, `T × K`.
    pub(super) scaled_emissions: Vec<f64>,
    /// c_t: the sum that normalised step t.
    pub(super) normalisers: Vec<f64>,
    pub(super) log_likelihood: f64,
}

/// One forward step. `predicted[j]` is P(state j at t | observations before t); on return
/// `filtered` holds P(state j at t | observations up to t) and `scaled` the emissions
/// divided by exp(shift). Returns (shift, c) or None when the step has probability 0.
#[inline]
pub(super) fn absorb(
    emissions: &Emissions,
    x: f64,
    predicted: &[f64],
    scaled: &mut [f64],
    filtered: &mut [f64],
) -> Option<(f64, f64)> {
    let mut shift = f64::NEG_INFINITY;
    for (j, (value, p)) in scaled.iter_mut().zip(predicted).enumerate() {
        *value = emissions.log_density(j, x);
        if *p > 0.0 && *value > shift {
            shift = *value;
        }
    }
    if shift == f64::NEG_INFINITY {
        return None;
    }
    let mut sum = 0.0;
    for ((value, p), f) in scaled.iter_mut().zip(predicted).zip(filtered.iter_mut()) {
        *value = if *p > 0.0 {
            (*value - shift).exp()
        } else {
            0.0
        };
        *f = p * *value;
        sum += *f;
    }
    if sum.is_nan() || sum <= 0.0 {
        return None;
    }
    filtered.iter_mut().for_each(|f| *f /= sum);
    Some((shift, sum))
}

/// P(state j at t+1 | observations up to t) = Σ_i filtered_i · transition_ij.
#[inline]
pub(super) fn predict(transition: &[f64], filtered: &[f64], predicted: &mut [f64]) {
    let states = filtered.len();
    predicted.iter_mut().for_each(|p| *p = 0.0);
    for (i, f) in filtered.iter().enumerate() {
        let row = &transition[i * states..(i + 1) * states];
        for (p, a) in predicted.iter_mut().zip(row) {
            *p += f * a;
        }
    }
}

pub(super) fn forward(model: &GaussianHmm, observations: &[f64]) -> Result<Forward, RegimeError> {
    let states = model.states();
    let steps = observations.len();
    let emissions = Emissions::new(model);
    let mut filtered = vec![0.0; steps * states];
    let mut scaled_emissions = vec![0.0; steps * states];
    let mut normalisers = vec![0.0; steps];
    let mut predicted = model.start_probabilities.clone();
    let mut log_likelihood = 0.0;
    for (t, x) in observations.iter().enumerate() {
        if t > 0 {
            let previous = &filtered[(t - 1) * states..t * states];
            predict(&model.transition, previous, &mut predicted);
        }
        let row = t * states..(t + 1) * states;
        let (shift, sum) = absorb(
            &emissions,
            *x,
            &predicted,
            &mut scaled_emissions[row.clone()],
            &mut filtered[row],
        )
        .ok_or(RegimeError::ZeroLikelihood { index: t })?;
        normalisers[t] = sum;
        log_likelihood += shift + sum.ln();
    }
    Ok(Forward {
        filtered,
        scaled_emissions,
        normalisers,
        log_likelihood,
    })
}

/// The scaled backward variables: β_{T−1} = 1 and
/// β_t(i) = Σ_j transition_ij · e_{t+1}(j) · β_{t+1}(j) / c_{t+1},
/// so that filtered_t(i) · β_t(i) = P(state at t = i | all observations).
pub(super) fn backward(model: &GaussianHmm, forward: &Forward) -> Vec<f64> {
    let states = model.states();
    let steps = forward.normalisers.len();
    let mut beta = vec![0.0; steps * states];
    beta[(steps - 1) * states..]
        .iter_mut()
        .for_each(|b| *b = 1.0);
    let mut weights = vec![0.0; states];
    for t in (0..steps - 1).rev() {
        next_weights(forward, &beta, t + 1, states, &mut weights);
        for i in 0..states {
            let row = model.transition_row(i);
            beta[t * states + i] = row.iter().zip(&weights).map(|(a, w)| a * w).sum();
        }
    }
    beta
}

/// w_j = e_t(j) · β_t(j) / c_t: the factor that both β_{t−1} and ξ_{t−1} need.
#[inline]
pub(super) fn next_weights(
    forward: &Forward,
    beta: &[f64],
    t: usize,
    states: usize,
    weights: &mut [f64],
) {
    let row = t * states..(t + 1) * states;
    let normaliser = forward.normalisers[t];
    for ((w, e), b) in weights
        .iter_mut()
        .zip(&forward.scaled_emissions[row.clone()])
        .zip(&beta[row])
    {
        *w = e * b / normaliser;
    }
}
