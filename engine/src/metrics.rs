//! Counters every component updates and the CLI reads for progress and the run summary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters of one component, shared by all workers.
#[derive(Debug, Default)]
pub struct ComponentCounters {
    /// Records received (operators, sinks) or parsed (sources).
    pub records_in: AtomicU64,
    /// Records emitted (sources, operators) or written (sinks).
    pub records_out: AtomicU64,
    /// Rejects produced.
    pub rejected: AtomicU64,
    /// Input bytes consumed (sources).
    pub bytes_read: AtomicU64,
    /// Input bytes expected in all (sources; 0 when unknown).
    pub bytes_total: AtomicU64,
    /// Files completed (sources: files read; sinks: files committed).
    pub files: AtomicU64,
    /// Sinks: per worker, the latest dataflow time through which everything received is
    /// durably written (see [`ComponentCounters::report_durable`]).
    durable: Mutex<BTreeMap<usize, u64>>,
}

impl ComponentCounters {
    /// Adds `amount` to `counter`.
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// A sink on `worker` says that every update it received at a time up to `through`
    /// (inclusive) is durably written, and that no more can arrive at those times.
    pub fn report_durable(&self, worker: usize, through: u64) {
        if let Ok(mut durable) = self.durable.lock() {
            let entry = durable.entry(worker).or_default();
            *entry = (*entry).max(through);
        }
    }

    /// The time through which this sink is durable on all `workers` (0 until every worker
    /// has reported).
    pub fn durable_through(&self, workers: usize) -> u64 {
        let Ok(durable) = self.durable.lock() else {
            return 0;
        };
        if durable.len() < workers {
            return 0;
        }
        durable.values().copied().min().unwrap_or(0)
    }
}

/// Which role a component plays, for the summary's sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// A source.
    Source,
    /// An operator.
    Operator,
    /// A sink.
    Sink,
}

/// What reached the sinks from one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceTally {
    /// Records inserted into sinks whose origin is the source (revisions count again).
    pub written: u64,
    /// Rejects (parse and downstream) whose origin is the source, net of retractions (a
    /// missing FX rate that arrives later retracts its reject).
    pub rejected: i64,
}

/// All components' counters of one run.
#[derive(Debug, Default)]
pub struct Metrics {
    components: BTreeMap<(Role, Arc<str>), Arc<ComponentCounters>>,
    tallies: Mutex<BTreeMap<Arc<str>, SourceTally>>,
}

impl Metrics {
    /// Counters for every component of a plan, created up front so workers only share.
    pub fn new(components: impl IntoIterator<Item = (Role, Arc<str>)>) -> Self {
        Metrics {
            components: components
                .into_iter()
                .map(|key| (key, Arc::new(ComponentCounters::default())))
                .collect(),
            tallies: Mutex::default(),
        }
    }

    /// Adds to the tally of the source named `source`.
    pub fn tally(&self, source: &Arc<str>, written: u64, rejected: i64) {
        let mut tallies = self
            .tallies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tally = tallies.entry(source.clone()).or_default();
        tally.written += written;
        tally.rejected += rejected;
    }

    /// The tally of one source.
    pub fn source_tally(&self, source: &str) -> SourceTally {
        let tallies = self
            .tallies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tallies.get(source).copied().unwrap_or_default()
    }

    /// The counters of one component (created empty if unknown).
    pub fn component(&self, role: Role, name: &str) -> Arc<ComponentCounters> {
        self.components
            .iter()
            .find(|((r, n), _)| *r == role && &**n == name)
            .map(|(_, counters)| counters.clone())
            .unwrap_or_default()
    }

    /// Every component with its role and counters, sources first.
    pub fn iter(&self) -> impl Iterator<Item = (Role, &str, &ComponentCounters)> {
        self.components
            .iter()
            .map(|((role, name), counters)| (*role, &**name, &**counters))
    }

    /// Sum of one counter over the components of a role.
    pub fn total(&self, role: Role, counter: impl Fn(&ComponentCounters) -> &AtomicU64) -> u64 {
        self.iter()
            .filter(|(r, _, _)| *r == role)
            .map(|(_, _, c)| ComponentCounters::get(counter(c)))
            .sum()
    }
}
