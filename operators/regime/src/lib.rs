//! The mathematics of gridflow's regime detection, with no dataflow in it.
//!
//! This crate owns two models of a price (or any real-valued) series and nothing else:
//!
//! - [`GaussianHmm`]: a one-dimensional Gaussian hidden Markov model with `K` regimes
//!   (default [`GaussianHmm::DEFAULT_STATES`] = 3). It scores a series
//!   ([`GaussianHmm::log_likelihood`]), smooths it ([`GaussianHmm::posteriors`]), decodes
//!   the most likely regime path ([`GaussianHmm::viterbi`]), follows a live series one
//!   observation at a time ([`OnlineFilter`]) and fits its parameters by Baum–Welch
//!   ([`GaussianHmm::fit`], [`GaussianHmm::fit_seeded`]). Results match hmmlearn's
//!   `GaussianHMM`; the fixtures in `tests/fixtures/` are hmmlearn's own output.
//! - [`Bocpd`]: Bayesian online change-point detection (Adams & MacKay 2007) with a
//!   Normal-Gamma segment model, a constant hazard and a bounded run-length posterior.
//!
//! [`throughput`] times both for `gridflow bench`. Everything is `f64` and allocation-free
//! per online update. The pipeline operator that runs these over a collection lives
//! elsewhere; this crate depends on no other gridflow crate. See `docs/regimes.md`.
//!
//! ```
//! use gridflow_regime::{FitOptions, GaussianHmm};
//!
//! // Calm prices around 30 with a spiky stretch around 150.
//! let mut prices: Vec<f64> = (0..200).map(|t| 30.0 + (t % 7) as f64).collect();
//! prices.extend((0..50).map(|t| 150.0 + (t % 11) as f64 * 5.0));
//! let fit = GaussianHmm::fit_seeded(2, &prices, &FitOptions::default(), 4, 42)?;
//! let path = fit.model.viterbi(&prices)?;
//! assert_ne!(path.states[0], path.states[249]);
//! # Ok::<(), gridflow_regime::RegimeError>(())
//! ```

mod bocpd;
mod error;
mod fastmath;
mod hmm;
mod rng;
mod special;
pub mod throughput;

pub use bocpd::{Bocpd, BocpdSettings, NormalGammaPrior, RunLengthSummary};
pub use error::RegimeError;
pub use hmm::{Fit, FitOptions, GaussianHmm, OnlineFilter, Posteriors, Priors, ViterbiPath};
