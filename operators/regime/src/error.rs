//! The one error type of the crate.

/// What can go wrong when building a model or running it over observations.
///
/// Every variant carries the offending value and where it is, so a caller can say which
/// parameter or which observation to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegimeError {
    /// A model needs at least one hidden state.
    #[error("a model needs at least one state")]
    NoStates,
    /// A parameter vector or matrix has the wrong number of entries.
    #[error("{parameter} has {found} entries; {expected} expected")]
    WrongLength {
        /// Which parameter (`start_probabilities`, `transition`, `means`, `variances`).
        parameter: &'static str,
        /// Entries needed for the model's number of states.
        expected: usize,
        /// Entries given.
        found: usize,
    },
    /// Start probabilities or a transition row are not a probability distribution.
    #[error(
        "{parameter} (row {row}) is not a probability distribution: entries must be finite, \
         non-negative and sum to 1, they sum to {sum}"
    )]
    NotADistribution {
        /// `start_probabilities` or `transition`.
        parameter: &'static str,
        /// The transition row (0 for the start probabilities).
        row: usize,
        /// What the entries sum to (NaN when one is not finite or negative).
        sum: f64,
    },
    /// A state's mean is not finite.
    #[error("the mean of state {state} is {mean}; it must be finite")]
    InvalidMean {
        /// The state.
        state: usize,
        /// The mean given.
        mean: f64,
    },
    /// A state's variance is not positive and finite.
    #[error("the variance of state {state} is {variance}; it must be positive and finite")]
    InvalidVariance {
        /// The state.
        state: usize,
        /// The variance given.
        variance: f64,
    },
    /// There is nothing to compute on.
    #[error("no observations")]
    NoObservations,
    /// An observation is NaN or infinite.
    #[error("observation {index} is {value}; observations must be finite")]
    NonFiniteObservation {
        /// Position in the series.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The model gives the observations zero probability (a forbidden transition or start).
    #[error("observation {index} has zero probability under the model")]
    ZeroLikelihood {
        /// Position in the series of the first impossible observation.
        index: usize,
    },
    /// Baum–Welch gave a state no posterior weight, so its mean cannot be estimated.
    #[error("state {state} received no posterior weight; its mean cannot be re-estimated")]
    EmptyState {
        /// The state.
        state: usize,
    },
    /// A setting is out of its range.
    #[error("{setting} = {value} is invalid: {reason}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// The value given.
        value: f64,
        /// The accepted range.
        reason: &'static str,
    },
}

/// Checks that every observation is finite and that there is at least one.
pub(crate) fn check_observations(observations: &[f64]) -> Result<(), RegimeError> {
    if observations.is_empty() {
        return Err(RegimeError::NoObservations);
    }
    match observations.iter().position(|value| !value.is_finite()) {
        Some(index) => Err(RegimeError::NonFiniteObservation {
            index,
            value: observations[index],
        }),
        None => Ok(()),
    }
}
