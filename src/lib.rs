//! The `gridflow` binary's wiring: which sources, operators and sinks it knows.
//!
//! The engine names no concrete component; this crate collects every component crate's
//! kinds into one [`Registry`]. Integration tests use the same function, so they validate
//! and run pipelines exactly as the command does.

use std::sync::Arc;

use gridflow_engine::Registry;

mod forecaster;

pub use forecaster::BurnForecasterLoader;

/// Every component kind shipped with gridflow.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    gridflow_sources::register(&mut registry);
    gridflow_operators::register(&mut registry);
    registry.add_operator(gridflow_operators::ForecastKind::new(Arc::new(
        BurnForecasterLoader,
    )));
    gridflow_sinks::register(&mut registry);
    registry
}
