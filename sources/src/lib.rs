//! gridflow's market data sources: parsers for each market's native publication format,
//! and the `files` source that reads them from disk, as fast as possible (backfill) or
//! paced to event time (replay).
//!
//! - [`formats`]: one parser per native format behind the [`formats::Format`] interface
//!   (`spp_lmp`, `nordpool_v2`, `entsoe_a44`, `nyiso_lbmp`, `ecb_fx`, `caiso_oasis`,
//!   `eia_spot_csv`, `eia_api_v2`, `gas_basis_csv`, `investing_eua_csv`, `eex_eua_auction`). They
//!   turn bytes into [`Observation`](gridflow_engine::record::Observation)s exactly as
//!   published (native time, currency, unit) and bad rows into rejects; normalizing is the
//!   operators' job.
//! - [`files`]: the `files` source kind, configured by [`files::FilesConfig`].
//! - [`watch`]: the `watch` source kind, a drop folder read as files land
//!   ([`watch::WatchConfig`]), with [`positions`] so restarts neither re-read nor skip.
//! - [`http`]: the `http` source kind, publications polled over HTTP(S)
//!   ([`http::HttpConfig`]): URL templates, conditional requests, retries with back-off.
//! - [`synthetic`]: generated ticks for load tests and benchmarks.
//!
//! The binary adds the kinds with [`register`]:
//!
//! ```
//! let mut registry = gridflow_engine::Registry::new();
//! gridflow_sources::register(&mut registry);
//! assert!(registry.source("files").is_some());
//! ```

pub mod files;
pub mod formats;
pub mod http;
pub mod positions;
pub mod synthetic;
pub mod watch;

/// Adds this crate's source kinds (`files`, `watch`, `http`, `synthetic`) to `registry`.
pub fn register(registry: &mut gridflow_engine::Registry) {
    registry.add_source(files::FilesKind);
    registry.add_source(watch::WatchKind);
    registry.add_source(http::HttpKind);
    registry.add_source(synthetic::SyntheticKind);
}
