//! gridflow's sinks. This crate owns the lake: the `parquet` sink writes normalized prices
//! and every upstream reject into a Hive-partitioned Parquet lake, one row per
//! differential update, committed file by file with atomic renames.
//!
//! The binary adds the kinds with [`register`]; `docs/lake.md` describes the lake's layout,
//! columns and guarantees.

pub mod parquet;

/// Adds every sink kind of this crate (`parquet`) to `registry`.
pub fn register(registry: &mut gridflow_engine::Registry) {
    registry.add_sink(parquet::ParquetSinkKind);
}
