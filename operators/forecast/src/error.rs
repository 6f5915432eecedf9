//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading data, training, evaluating or persisting a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForecastError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A CSV row could not be read.
    #[error("{dataset}: line {line}: {message}")]
    Csv {
        /// The dataset (file stem) being read.
        dataset: String,
        /// 1-based line number in the file (the header is line 1).
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// The data does not have the shape the benchmark needs (whole days, enough of them).
    #[error("{dataset}: {message}")]
    Shape {
        /// The dataset.
        dataset: String,
        /// What is wrong with it.
        message: String,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {field}: {message}")]
    Config {
        /// The field, e.g. `model.n_heads`.
        field: &'static str,
        /// Why it is refused.
        message: String,
    },
    /// The model's weights could not be saved or loaded.
    #[error("model weights {path}: {message}")]
    Weights {
        /// The weights file.
        path: PathBuf,
        /// burn's message.
        message: String,
    },
    /// The model's metadata file could not be parsed or written.
    #[error("model metadata {path}: {source}")]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// serde_json's message.
        source: serde_json::Error,
    },
    /// The saved model was written by an incompatible version of this crate.
    #[error("model {path} has format version {found}, this build reads version {expected}")]
    FormatVersion {
        /// The metadata file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// The dataset given to `evaluate` is not the one the model was trained for.
    #[error("dataset mismatch: {message}")]
    DatasetMismatch {
        /// What differs.
        message: String,
    },
}

impl ForecastError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// `Result` with [`ForecastError`].
pub type Result<T, E = ForecastError> = std::result::Result<T, E>;
