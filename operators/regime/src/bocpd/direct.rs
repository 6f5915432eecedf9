//! The run-length posterior computed the obvious way, for tests: every hypothesis is "the
//! current segment started at observation s", scored with the Student-t predictive of
//! the segment's own data through the batch Normal-Gamma posterior. No truncation, no
//! incremental statistics, no shared constants.

use super::NormalGammaPrior;
use crate::special::ln_gamma;

/// For each step t: P(run length = i + 1 | x_1..x_t) at index i, and ln p(x_1..x_t).
pub(super) fn run_length_posteriors(
    prior: &NormalGammaPrior,
    hazard: f64,
    observations: &[f64],
) -> (Vec<Vec<f64>>, f64) {
    let mut posteriors = Vec::new();
    let mut log_evidence = 0.0;
    // joint[s] ∝ P(current segment started at s, x_1..x_t), normalised every step.
    let mut joint: Vec<f64> = Vec::new();
    for (t, &x) in observations.iter().enumerate() {
        let mut next = vec![0.0; t + 1];
        if t == 0 {
            next[0] = predictive(prior, &[], x);
        } else {
            let total: f64 = joint.iter().sum();
            for s in 0..t {
                next[s] = joint[s] * (1.0 - hazard) * predictive(prior, &observations[s..t], x);
            }
            next[t] = total * hazard * predictive(prior, &[], x);
        }
        let total: f64 = next.iter().sum();
        log_evidence += total.ln();
        next.iter_mut().for_each(|p| *p /= total);
        // Run length r = t − s + 1, stored at index r − 1 = t − s.
        posteriors.push((0..=t).map(|index| next[t - index]).collect());
        joint = next;
    }
    (posteriors, log_evidence)
}

/// p(x | segment) for a segment of earlier observations (empty: the prior predictive).
fn predictive(prior: &NormalGammaPrior, segment: &[f64], x: f64) -> f64 {
    let n = segment.len() as f64;
    let (sample_mean, squares) = if segment.is_empty() {
        (0.0, 0.0)
    } else {
        let mean = segment.iter().sum::<f64>() / n;
        (
            mean,
            segment.iter().map(|v| (v - mean).powi(2)).sum::<f64>(),
        )
    };
    let kappa = prior.mean_observations + n;
    let mean = (prior.mean_observations * prior.mean + n * sample_mean) / kappa;
    let shape = prior.shape + n / 2.0;
    let rate = prior.rate
        + 0.5 * squares
        + prior.mean_observations * n * (sample_mean - prior.mean).powi(2) / (2.0 * kappa);
    // Student-t with 2α degrees of freedom, location μ, scale² = β (κ + 1) / (α κ).
    let freedom = 2.0 * shape;
    let scale = (rate * (kappa + 1.0) / (shape * kappa)).sqrt();
    let z = (x - mean) / scale;
    (ln_gamma((freedom + 1.0) / 2.0) - ln_gamma(freedom / 2.0)).exp()
        / ((freedom * std::f64::consts::PI).sqrt() * scale)
        * (1.0 + z * z / freedom).powf(-(freedom + 1.0) / 2.0)
}
