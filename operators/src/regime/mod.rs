//! `regime`: regime detection on every price series, incrementally — a Gaussian hidden
//! Markov model filtered online, or Bayesian online change points.
//!
//! A **series** is one (market, product, location); its observations are its current
//! prices in `interval_start` order, numbered by **position** 0, 1, 2, ... Everything the
//! operator emits is a function of that sorted series alone, so a run that saw revisions
//! and out-of-order arrivals ends with the rows a batch computation over the final prices
//! gives (`operators/src/regime/tests.rs` checks this at one and two workers):
//!
//! - **Warm-up.** A series with fewer than `warm_up` prices has no rows. The first row is
//!   the price at position `warm_up − 1`.
//! - **HMM** ([`RegimeMethod::Hmm`]). Fit points are the positions
//!   `f_k = warm_up + k · refit_every` (only `f_0` when `refit_every` is 0). The model of
//!   segment k is fitted by Baum–Welch ([`gridflow_regime::GaussianHmm::fit_seeded`], `initialisations`
//!   seeded starts) on the `window` prices before `f_k`, then relabelled by mean
//!   ([`gridflow_regime::GaussianHmm::ordered_by_mean`]: regime 0 is the lowest-priced, so labels mean the
//!   same across refits). Segment k's rows are the positions from `f_k` (from
//!   `warm_up − 1` for segment 0) up to `f_{k+1}`; its forward filter starts from the
//!   model's start probabilities at the first price of its window and runs through them,
//!   so each row is P(regime | the window and every later price up to this one). A window
//!   the fit fails on (every start leaves a regime without weight) gives its segment no
//!   rows; a price the model gives zero probability gives no row and is skipped.
//! - **BOCPD** ([`RegimeMethod::Bocpd`]). One detector ([`gridflow_regime::Bocpd`]) runs over the whole
//!   series from position 0; rows start at `warm_up − 1`.
//!
//! **Incremental work.** Updates are exchanged by (market, location), so a series lives on
//! one worker, and held until the input frontier passes their time; each time is applied
//! in order ([`state`]). A change at position p (a new, revised or retracted price)
//! re-runs the series from p: the detector resumes from the latest checkpoint before p,
//! models whose window is unchanged are kept (fitting is the expensive part), and only the
//! rows that differ are retracted and inserted. Appending prices in order costs one
//! online update each, plus a fit at each fit point.
//!
//! Fitting on history read from the lake is not done here — operators do no I/O; the
//! warm-up window is the history.

mod kind;
mod operator;
mod run;
mod state;

use std::sync::Arc;

use gridflow_engine::Collection;
use gridflow_engine::record::{PriceRecord, RegimeMethod, RegimeRecord};
use gridflow_regime::{BocpdSettings, FitOptions};

pub use kind::{PriorConfig, RegimeConfig, RegimeKind};

use crate::series::SeriesFilter;

/// Everything the operator needs to know, validated (see [`RegimeConfig`] for meanings).
#[derive(Clone, Debug)]
pub struct RegimeSettings {
    /// The operator's name, written into every row.
    pub name: Arc<str>,
    /// The model and its parameters.
    pub method: MethodSettings,
    /// Prices a series needs before its first row (≥ 1).
    pub warm_up: usize,
    /// A detector checkpoint is kept every this many positions (≥ 1).
    pub checkpoint_every: usize,
    /// At most this many periodic checkpoints per series (the latest state is always kept).
    pub max_checkpoints: usize,
    /// Which series to follow; every series when empty.
    pub only: SeriesFilter,
}

/// The model of a [`RegimeSettings`].
#[derive(Clone, Debug)]
pub enum MethodSettings {
    /// A Gaussian hidden Markov model.
    Hmm(HmmSettings),
    /// Bayesian online change-point detection.
    Bocpd(BocpdSettings),
}

impl MethodSettings {
    /// The method's name in the lake.
    pub fn method(&self) -> RegimeMethod {
        match self {
            MethodSettings::Hmm(_) => RegimeMethod::Hmm,
            MethodSettings::Bocpd(_) => RegimeMethod::Bocpd,
        }
    }
}

/// How the hidden Markov model is fitted.
#[derive(Clone, Debug)]
pub struct HmmSettings {
    /// Number of regimes K (1 ..= 32).
    pub states: usize,
    /// Positions between fit points; 0 = fit once, at the end of the warm-up.
    pub refit_every: usize,
    /// Prices each fit uses: those just before its fit point.
    pub window: usize,
    /// Seeded random starts of each fit; the best is kept.
    pub initialisations: usize,
    /// The seed of the starts.
    pub seed: u64,
    /// Baum–Welch stopping rule and priors.
    pub fit: FitOptions,
}

/// Detects regimes in a collection of normalized prices.
pub trait Regime<'scope> {
    /// One row per price of every followed series past its warm-up (see the module
    /// documentation), maintained incrementally.
    fn regime(self, settings: &RegimeSettings) -> Collection<'scope, RegimeRecord>;
}

impl<'scope> Regime<'scope> for Collection<'scope, PriceRecord> {
    fn regime(self, settings: &RegimeSettings) -> Collection<'scope, RegimeRecord> {
        let only = settings.only.clone();
        let followed = self.filter(move |record| only.admits(record));
        operator::detect(followed, Arc::new(settings.clone()))
    }
}

#[cfg(test)]
mod tests;
