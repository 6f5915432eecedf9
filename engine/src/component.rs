//! The contracts between the engine and its components: sources, operators and sinks.
//!
//! The engine names no concrete component. Each component crate exposes kinds
//! ([`SourceKind`], [`OperatorKind`], [`SinkKind`]) that the binary collects into a
//! [`Registry`](crate::Registry). A kind turns its pipeline-file table into a validated plan
//! node (`configure`); the runtime asks that node, once per worker, to build its part of the
//! dataflow.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::ComponentCounters;
use crate::pipeline::{ComponentConfig, ConfigError, PipelineSettings};
use crate::record::{
    ForecastRecord, Observation, PriceRecord, QuantityRecord, RegimeRecord, Reject,
};
use crate::{Collection, Time};

/// The type of data on an edge of the pipeline graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StreamKind {
    /// Values as published, and FX rates ([`Observation`]).
    Observations,
    /// Normalized prices ([`PriceRecord`]).
    Prices,
    /// Normalized quantities, fundamentals such as gas in storage ([`QuantityRecord`]).
    Quantities,
    /// Regime probabilities or change points per price ([`RegimeRecord`]).
    Regimes,
    /// Price forecasts per series and hour ([`ForecastRecord`]).
    Forecasts,
}

impl StreamKind {
    /// The name used in messages and `gridflow graph`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Observations => "observations",
            StreamKind::Prices => "prices",
            StreamKind::Quantities => "quantities",
            StreamKind::Regimes => "regimes",
            StreamKind::Forecasts => "forecasts",
        }
    }
}

/// A typed collection flowing along an edge.
pub enum Stream<'scope> {
    /// Values as published.
    Observations(Collection<'scope, Observation>),
    /// Normalized prices.
    Prices(Collection<'scope, PriceRecord>),
    /// Normalized quantities.
    Quantities(Collection<'scope, QuantityRecord>),
    /// Regimes of prices.
    Regimes(Collection<'scope, RegimeRecord>),
    /// Forecasts of prices.
    Forecasts(Collection<'scope, ForecastRecord>),
}

impl<'scope> Stream<'scope> {
    /// The kind of data carried.
    pub fn kind(&self) -> StreamKind {
        match self {
            Stream::Observations(_) => StreamKind::Observations,
            Stream::Prices(_) => StreamKind::Prices,
            Stream::Quantities(_) => StreamKind::Quantities,
            Stream::Regimes(_) => StreamKind::Regimes,
            Stream::Forecasts(_) => StreamKind::Forecasts,
        }
    }
}

impl Clone for Stream<'_> {
    fn clone(&self) -> Self {
        match self {
            Stream::Observations(collection) => Stream::Observations(collection.clone()),
            Stream::Prices(collection) => Stream::Prices(collection.clone()),
            Stream::Quantities(collection) => Stream::Quantities(collection.clone()),
            Stream::Regimes(collection) => Stream::Regimes(collection.clone()),
            Stream::Forecasts(collection) => Stream::Forecasts(collection.clone()),
        }
    }
}

/// What a worker knows while building its part of the dataflow.
#[derive(Clone, Debug)]
pub struct WorkerInfo {
    /// This worker's index.
    pub index: usize,
    /// Number of workers.
    pub peers: usize,
}

/// Shared settings and the counters of the component being built.
#[derive(Clone)]
pub struct BuildContext {
    /// The component's name in the pipeline file.
    pub name: Arc<str>,
    /// Pipeline-wide settings (base currency, ...).
    pub settings: Arc<PipelineSettings>,
    /// This worker.
    pub worker: WorkerInfo,
    /// The component's counters, shared by all workers.
    pub counters: Arc<ComponentCounters>,
}

/// A source type, registered by its `kind` name.
pub trait SourceKind: Send + Sync {
    /// The `kind = "..."` that selects it.
    fn kind(&self) -> &'static str;
    /// One line for `gridflow graph` and error messages.
    fn summary(&self) -> &'static str;
    /// Validates a `[sources.NAME]` table into a plan node.
    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>>;
}

/// A validated source.
pub trait SourcePlan: Send + Sync {
    /// A short human description for `gridflow graph` (e.g. the glob and format).
    fn describe(&self) -> String;
    /// Whether the source ends by itself (files) or runs until stopped (live feeds).
    fn bounded(&self) -> bool;
    /// Whether the source carries reference data others depend on (FX rates). The runtime
    /// reads such bounded sources to the end, on every worker, before polling the rest, so
    /// conversions find their rate at once instead of rejecting and later retracting.
    fn reference_data(&self) -> bool {
        false
    }
    /// Opens this worker's share of the source.
    fn open(&self, context: &BuildContext) -> Result<Box<dyn SourceReader>, SourceError>;
}

/// Reads a source incrementally; called repeatedly from the worker's loop.
pub trait SourceReader {
    /// Appends what is ready now to `out` and says what to do next.
    fn poll(&mut self, out: &mut SourceOutput) -> SourceStatus;
    /// Bytes this reader expects to read in all, for progress (0 when unknown).
    fn total_bytes(&self) -> u64 {
        0
    }
    /// Everything this reader emitted at times up to `through` (inclusive) has reached
    /// every sink and is durably written: the moment to persist source positions (which
    /// file or URL was fully ingested), so a restart neither re-reads nor skips data. Called
    /// with `Time::MAX` once the run has ended and every sink has flushed.
    fn committed(&mut self, _through: Time) {}
}

/// What a source produced in one poll.
#[derive(Default, Debug)]
pub struct SourceOutput {
    /// Parsed values.
    pub observations: Vec<Observation>,
    /// Refused input.
    pub rejects: Vec<Reject>,
    /// Bytes consumed by this poll.
    pub bytes: u64,
    /// The dataflow time this poll's output is stamped with (set by the runtime), which a
    /// source remembers to learn from [`SourceReader::committed`] when its output is durable.
    pub time: Time,
}

/// What a source wants after a poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// More data is ready: poll again soon.
    Ready,
    /// Nothing is ready; poll again after this long (replay pacing, live polling).
    Waiting(Duration),
    /// The source is exhausted.
    Finished,
}

/// A source failure that is not about a single row.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// An I/O failure opening the source.
    #[error("source `{source_name}`: {path}: {error}")]
    Io {
        /// Component name.
        source_name: String,
        /// Path involved.
        path: String,
        /// The failure.
        #[source]
        error: std::io::Error,
    },
    /// Anything else, described.
    #[error("source `{source_name}`: {message}")]
    Other {
        /// Component name.
        source_name: String,
        /// What went wrong.
        message: String,
    },
}

/// An operator type, registered by its `kind` name.
pub trait OperatorKind: Send + Sync {
    /// The `kind = "..."` that selects it.
    fn kind(&self) -> &'static str;
    /// One line for `gridflow graph` and error messages.
    fn summary(&self) -> &'static str;
    /// Validates an `[operators.NAME]` table into a plan node.
    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn OperatorPlan>, Vec<ConfigError>>;
}

/// A validated operator.
pub trait OperatorPlan: Send + Sync {
    /// A short human description for `gridflow graph`.
    fn describe(&self) -> String;
    /// Stream kinds it accepts as inputs.
    fn accepts(&self) -> &'static [StreamKind];
    /// The stream kinds of which it needs at least one input each (checked by the plan,
    /// where an operator accepts several). Default: none beyond [`OperatorPlan::accepts`].
    fn requires(&self) -> Vec<StreamKind> {
        Vec::new()
    }
    /// The stream kind it produces.
    fn output(&self) -> StreamKind;
    /// Builds this worker's part of the operator over its (already concatenated) inputs.
    fn build<'scope>(&self, inputs: Vec<Stream<'scope>>, context: &BuildContext) -> Built<'scope>;
}

/// An operator's output and what it refused.
pub struct Built<'scope> {
    /// The output stream.
    pub output: Stream<'scope>,
    /// Records the operator could not process.
    pub rejects: Collection<'scope, Reject>,
}

/// A sink type, registered by its `kind` name.
pub trait SinkKind: Send + Sync {
    /// The `kind = "..."` that selects it.
    fn kind(&self) -> &'static str;
    /// One line for `gridflow graph` and error messages.
    fn summary(&self) -> &'static str;
    /// Validates a `[sinks.NAME]` table into a plan node.
    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SinkPlan>, Vec<ConfigError>>;
}

/// A validated sink.
pub trait SinkPlan: Send + Sync {
    /// A short human description for `gridflow graph`.
    fn describe(&self) -> String;
    /// Stream kinds it accepts.
    fn accepts(&self) -> &'static [StreamKind];
    /// Attaches this worker's writer to its inputs and to the rejects of everything upstream.
    /// The writer must flush everything when its input frontier becomes empty.
    fn build<'scope>(
        &self,
        inputs: Vec<Stream<'scope>>,
        rejects: Collection<'scope, Reject>,
        context: &BuildContext,
    ) -> Result<(), SinkError>;
}

/// A sink failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// An I/O failure.
    #[error("sink `{sink}`: {path}: {error}")]
    Io {
        /// Component name.
        sink: String,
        /// Path involved.
        path: String,
        /// The failure.
        #[source]
        error: std::io::Error,
    },
    /// Anything else, described.
    #[error("sink `{sink}`: {message}")]
    Other {
        /// Component name.
        sink: String,
        /// What went wrong.
        message: String,
    },
}
