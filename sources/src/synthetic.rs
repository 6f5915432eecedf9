//! The `synthetic` source: generated ticks for load tests and benchmarks.
//!
//! Prices follow a deterministic pseudo-random walk per node (seeded), so two runs with the
//! same settings produce the same stream at any worker count.

use std::sync::Arc;

use gridflow_engine::component::{
    BuildContext, SourceError, SourceKind, SourceOutput, SourcePlan, SourceReader, SourceStatus,
};
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use gridflow_engine::record::{
    Components, Currency, LocationType, Market, NativeInterval, Observation, Origin, Price,
    Product, PublishedPrice, Unit,
};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// `[sources.NAME]` with `kind = "synthetic"`.
///
/// ```toml
/// [sources.ticks]
/// kind = "synthetic"
/// nodes = 20000
/// intervals = 12
/// interval_minutes = 5
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticConfig {
    /// Number of pricing nodes (`N00000`, `N00001`, ...). Example: `nodes = 20000`.
    #[serde(default = "default_nodes")]
    pub nodes: u32,
    /// Intervals per node. Example: `intervals = 12`.
    #[serde(default = "default_intervals")]
    pub intervals: u32,
    /// Interval length in minutes. Example: `interval_minutes = 5`.
    #[serde(default = "default_interval_minutes")]
    pub interval_minutes: u32,
    /// First interval start, RFC 3339 UTC. Example: `start = "2025-03-31T00:00:00Z"`.
    #[serde(default = "default_start")]
    pub start: String,
    /// Published currency (ISO 4217). Example: `currency = "USD"`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Seed of the price walk. Example: `seed = 7`.
    #[serde(default)]
    pub seed: u64,
    /// Observations per poll. Example: `batch_size = 65536`.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn default_nodes() -> u32 {
    20_000
}
fn default_intervals() -> u32 {
    12
}
fn default_interval_minutes() -> u32 {
    5
}
fn default_start() -> String {
    "2025-03-31T00:00:00Z".to_string()
}
fn default_currency() -> String {
    "USD".to_string()
}
fn default_batch_size() -> usize {
    65_536
}

/// Registers as `kind = "synthetic"`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyntheticKind;

struct SyntheticPlan {
    config: SyntheticConfig,
    start: Timestamp,
    currency: Currency,
}

impl SourceKind for SyntheticKind {
    fn kind(&self) -> &'static str {
        "synthetic"
    }

    fn summary(&self) -> &'static str {
        "generated price ticks for load tests and benchmarks"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>> {
        let parsed: SyntheticConfig = config.deserialize()?;
        let mut errors = Vec::new();
        let start = parsed.start.parse::<Timestamp>().map_err(|error| {
            config.error(
                Some(config.span_of("start")),
                format!("`start` is not an RFC 3339 instant: {error}"),
            )
        });
        let currency = parsed
            .currency
            .parse::<Currency>()
            .map_err(|error| config.error(Some(config.span_of("currency")), error));
        for (field, value) in [
            ("nodes", parsed.nodes),
            ("intervals", parsed.intervals),
            ("interval_minutes", parsed.interval_minutes),
        ] {
            if value == 0 {
                errors.push(config.error(
                    Some(config.span_of(field)),
                    format!("`{field}` must be at least 1"),
                ));
            }
        }
        if parsed.batch_size == 0 {
            errors.push(config.error(
                Some(config.span_of("batch_size")),
                "`batch_size` must be at least 1",
            ));
        }
        match (start, currency) {
            (Ok(start), Ok(currency)) if errors.is_empty() => Ok(Arc::new(SyntheticPlan {
                config: parsed,
                start,
                currency,
            })),
            (start, currency) => {
                errors.extend(start.err());
                errors.extend(currency.err());
                Err(errors)
            }
        }
    }
}

impl SourcePlan for SyntheticPlan {
    fn describe(&self) -> String {
        format!(
            "{} nodes x {} intervals of {} min from {}",
            self.config.nodes, self.config.intervals, self.config.interval_minutes, self.start
        )
    }

    fn bounded(&self) -> bool {
        true
    }

    fn open(&self, context: &BuildContext) -> Result<Box<dyn SourceReader>, SourceError> {
        let peers = context.worker.peers as u32;
        let index = context.worker.index as u32;
        // Each worker generates its own nodes; intervals advance together so event time grows.
        let nodes: Vec<(u32, Arc<str>)> = (0..self.config.nodes)
            .filter(|node| node % peers == index)
            .map(|node| (node, Arc::from(format!("N{node:05}"))))
            .collect();
        Ok(Box::new(SyntheticReader {
            origin_source: context.name.clone(),
            file: Arc::from("synthetic"),
            config: self.config.clone(),
            start: self.start,
            currency: self.currency,
            nodes,
            next_interval: 0,
            next_node: 0,
            interval_instants: None,
        }))
    }
}

struct SyntheticReader {
    origin_source: Arc<str>,
    file: Arc<str>,
    config: SyntheticConfig,
    start: Timestamp,
    currency: Currency,
    nodes: Vec<(u32, Arc<str>)>,
    next_interval: u32,
    next_node: usize,
    /// The start and end of the interval being generated.
    interval_instants: Option<(u32, Timestamp, Timestamp)>,
}

/// A fixed mixing function (splitmix64) so prices need no random-number dependency.
fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

impl SourceReader for SyntheticReader {
    fn poll(&mut self, out: &mut SourceOutput) -> SourceStatus {
        let minutes = i64::from(self.config.interval_minutes);
        let mut emitted = 0;
        while emitted < self.config.batch_size && self.next_interval < self.config.intervals {
            let Some((node, location)) = self.nodes.get(self.next_node) else {
                self.next_node = 0;
                self.next_interval += 1;
                continue;
            };
            // One interval's instants serve all of its nodes.
            let (start, end) = match self.interval_instants {
                Some((interval, start, end)) if interval == self.next_interval => (start, end),
                _ => {
                    let offset = minutes * i64::from(self.next_interval);
                    let start = self
                        .start
                        .saturating_add(SignedDuration::from_mins(offset))
                        .unwrap_or(self.start);
                    let end = start
                        .saturating_add(SignedDuration::from_mins(minutes))
                        .unwrap_or(start);
                    self.interval_instants = Some((self.next_interval, start, end));
                    (start, end)
                }
            };
            let noise =
                mix(self.config.seed ^ (u64::from(*node) << 32) ^ u64::from(self.next_interval));
            // -50.00 .. 250.00 in cents, so negative prices appear as they do in real markets.
            let cents = (noise % 30_000) as i64 - 5_000;
            let energy = Price::from_micros(cents * 10_000 - 1_230_000);
            out.observations.push(Observation::Price(PublishedPrice {
                market: Market::Spp,
                product: Product::RealTime5Min,
                location: location.clone(),
                location_type: LocationType::Node,
                interval: NativeInterval::Utc { start, end },
                price: Price::from_micros(cents * 10_000),
                currency: self.currency,
                unit: Unit::MegawattHour,
                components: Components {
                    greenhouse_gas: None,
                    energy: Some(energy),
                    congestion: Some(Price::from_micros(1_000_000)),
                    loss: Some(Price::from_micros(230_000)),
                },
                published_at: None,
                revision: None,
                origin: Origin {
                    source: self.origin_source.clone(),
                    file: self.file.clone(),
                    line: u64::from(self.next_interval) * u64::from(self.config.nodes)
                        + u64::from(*node)
                        + 1,
                },
            }));
            emitted += 1;
            self.next_node += 1;
        }
        if self.next_interval >= self.config.intervals {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        }
    }
}
