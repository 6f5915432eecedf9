//! gridflow's incremental operators, each an extension trait on differential collections
//! plus the pipeline-file kind that configures it.
//!
//! - [`Normalize`] (`kind = "normalize"`): native time, currency and units to UTC intervals,
//!   the pipeline's base currency and per-MWh prices; identical re-publications
//!   deduplicated and changed values turned into revisions.
//! - [`Fundamentals`] (`kind = "fundamentals"`): published quantities (gas in storage, ...)
//!   to UTC intervals, with the version rule `normalize` applies to prices.
//!
//! Operators do no I/O: they see collections in and collections out.
//!
//! ```
//! use gridflow_engine::Registry;
//! let mut registry = Registry::new();
//! gridflow_operators::register(&mut registry);
//! assert!(registry.operator("normalize").is_some());
//! assert!(registry.operator("fundamentals").is_some());
//! ```

mod fundamentals;
mod normalize;
mod versions;

pub use fundamentals::{Fundamentals, FundamentalsConfig, FundamentalsKind};
pub use normalize::{Normalize, NormalizeConfig, NormalizeKind, NormalizeSettings};

/// Adds every operator kind of this crate to `registry`.
pub fn register(registry: &mut gridflow_engine::Registry) {
    registry.add_operator(NormalizeKind);
    registry.add_operator(FundamentalsKind);
}
