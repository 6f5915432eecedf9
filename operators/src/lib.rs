//! gridflow's incremental operators, each an extension trait on differential collections
//! plus the pipeline-file kind that configures it.
//!
//! - [`Normalize`] (`kind = "normalize"`): native time, currency and units to UTC intervals,
//!   the pipeline's base currency and per-MWh prices; identical re-publications
//!   deduplicated and changed values turned into revisions.
//!
//! Operators do no I/O: they see collections in and collections out.
//!
//! ```
//! use gridflow_engine::Registry;
//! let mut registry = Registry::new();
//! gridflow_operators::register(&mut registry);
//! assert!(registry.operator("normalize").is_some());
//! ```

mod normalize;

pub use normalize::{Normalize, NormalizeConfig, NormalizeKind, NormalizeSettings};

/// Adds every operator kind of this crate to `registry`.
pub fn register(registry: &mut gridflow_engine::Registry) {
    registry.add_operator(NormalizeKind);
}
