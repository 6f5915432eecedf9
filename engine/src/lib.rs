//! gridflow's engine: the record model, pipeline files, the planner and the
//! timely/differential runtime.
//!
//! - [`record`]: what flows — [`record::Observation`] (as published), [`record::PriceRecord`]
//!   and [`record::QuantityRecord`] (normalized), [`record::RegimeRecord`] (regimes of
//!   prices), [`record::Reject`] — and exact fixed-point [`record::Price`]s (quantities use
//!   the same type, [`record::Quantity`]) and [`record::Probability`]s.
//! - [`pipeline`]: TOML pipeline files, loaded in two stages into a validated [`Plan`].
//! - [`component`]: the traits sources, operators and sinks implement; [`Registry`] lists them.
//! - [`runtime`]: runs a [`Plan`] on `N` timely worker threads.
//! - [`metrics`]: counters for progress and the run summary.
//!
//! The engine names no concrete source, operator or sink: the binary registers them.
//!
//! ```
//! use gridflow_engine::record::Price;
//! let price: Price = "-12.345".parse().unwrap();
//! assert_eq!(price.micros(), -12_345_000);
//! ```

pub mod component;
pub mod metrics;
pub mod pipeline;
pub mod record;
pub mod registry;
pub mod runtime;

pub use pipeline::Plan;
pub use registry::Registry;
pub use serde_spanned::Spanned;

/// Logical time of the dataflow: microseconds since the Unix epoch at which gridflow
/// ingested a batch (monotone per worker). The lake's `changed_at` column is this time.
pub type Time = u64;

/// Multiplicity of an update: +1 insert, -1 retract.
pub type Diff = isize;

/// A differential collection of `D` at gridflow's [`Time`] and [`Diff`].
pub type Collection<'scope, D> =
    differential_dataflow::collection::vec::Collection<'scope, Time, D, Diff>;
