//! Throughput of the online updates, for `gridflow bench`.
//!
//! Each function feeds a prepared, price-like series (seeded, so every run sees the same
//! numbers) through one online model on the calling thread and reports updates per
//! second. Numbers come from whatever build calls them: use a release build.

use std::time::{Duration, Instant};

use crate::rng::SplitMix64;
use crate::{Bocpd, BocpdSettings, GaussianHmm, NormalGammaPrior};

/// How many updates ran, for how long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throughput {
    /// Observations processed.
    pub updates: u64,
    /// Wall-clock time they took.
    pub elapsed: Duration,
}

impl Throughput {
    /// Updates per second.
    pub fn per_second(&self) -> f64 {
        self.updates as f64 / self.elapsed.as_secs_f64()
    }
}

/// A price-like series: a level around 40 with noise, occasional spikes into the hundreds
/// and dips below zero.
pub fn price_series(length: usize, seed: u64) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    (0..length)
        .map(|_| {
            let u = rng.next_f64();
            let noise = 6.0 * (rng.next_f64() + rng.next_f64() + rng.next_f64() - 1.5);
            if u < 0.02 {
                200.0 + 800.0 * rng.next_f64()
            } else if u < 0.05 {
                -20.0 * rng.next_f64()
            } else {
                40.0 + noise
            }
        })
        .collect()
}

/// The three-regime model the HMM measurement uses (negative, normal, spike).
pub fn three_regime_model() -> GaussianHmm {
    GaussianHmm::new(
        vec![0.1, 0.8, 0.1],
        vec![
            vec![0.80, 0.19, 0.01],
            vec![0.02, 0.96, 0.02],
            vec![0.01, 0.29, 0.70],
        ],
        vec![-10.0, 40.0, 500.0],
        vec![40.0, 36.0, 60_000.0],
    )
    .expect("the benchmark model is valid")
}

/// Times `updates` forward-filter updates of [`three_regime_model`] (K = 3).
pub fn hmm_filter(updates: u64) -> Throughput {
    let series = price_series(65_536, 1);
    let mut filter = three_regime_model().filter();
    let start = Instant::now();
    for x in series.iter().cycle().take(updates as usize) {
        filter.update(*x).expect("finite prices");
    }
    let elapsed = start.elapsed();
    std::hint::black_box(filter.probabilities());
    Throughput { updates, elapsed }
}

/// Times `updates` change-point updates with `max_run_length` hypotheses (the target
/// setting is 1,000). The hazard is small, so the run-length posterior stays full.
pub fn bocpd(updates: u64, max_run_length: usize) -> Throughput {
    let series = price_series(65_536, 2);
    let mut detector = Bocpd::new(BocpdSettings {
        prior: NormalGammaPrior {
            mean: 40.0,
            mean_observations: 0.01,
            shape: 1.0,
            rate: 50.0,
        },
        hazard: 1.0 / 10_000.0,
        max_run_length,
    })
    .expect("the benchmark settings are valid");
    // Fill the run-length posterior first, so every timed update is a full one.
    for x in series.iter().take(max_run_length) {
        detector.update(*x).expect("finite prices");
    }
    let start = Instant::now();
    for x in series.iter().cycle().take(updates as usize) {
        std::hint::black_box(detector.update(*x).expect("finite prices"));
    }
    let elapsed = start.elapsed();
    Throughput { updates, elapsed }
}
