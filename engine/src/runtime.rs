//! Runs a validated [`Plan`] as a timely/differential dataflow on `N` worker threads.
//!
//! Each worker builds the whole graph. Sources are opened once per worker and read their
//! share (the `files` source splits files by worker index); every batch a worker reads gets
//! that worker's next logical time (its ingestion time in microseconds, strictly
//! increasing). The loop ends when every source is finished or the stop flag is raised
//! (Ctrl-C); inputs are then closed so every sink sees an empty frontier and flushes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use differential_dataflow::input::{Input, InputSession};
use timely::dataflow::operators::probe::Handle as ProbeHandle;

use crate::component::{
    BuildContext, SourceOutput, SourceReader, SourceStatus, Stream, WorkerInfo,
};
use crate::metrics::{ComponentCounters, Metrics};
use crate::pipeline::{NodeImplementation, Plan};
use crate::record::{Observation, Reject};
use crate::{Collection, Diff, Time};

/// How to run a plan.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads.
    pub workers: usize,
    /// Raised to stop unbounded (or long) runs cleanly; sinks still flush.
    pub stop: Arc<AtomicBool>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            workers: 1,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Why a run failed (not a data problem: those become rejects).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// Timely could not start its workers.
    #[error("could not start {workers} worker(s): {message}")]
    Start {
        /// Requested workers.
        workers: usize,
        /// Timely's message.
        message: String,
    },
    /// A worker failed while building or running.
    #[error("worker {worker}: {message}")]
    Worker {
        /// Worker index.
        worker: usize,
        /// What failed.
        message: String,
    },
}

struct OpenSource {
    reference_data: bool,
    counters: Arc<ComponentCounters>,
    reader: Box<dyn SourceReader>,
    /// The source's inputs; dropped (closed) when it finishes, so its frontier empties.
    inputs: Option<SourceInputs>,
}

struct SourceInputs {
    observations: InputSession<Time, Observation, Diff>,
    rejects: InputSession<Time, Reject, Diff>,
}

impl SourceInputs {
    fn advance_to(&mut self, time: Time) {
        self.observations.advance_to(time);
        self.rejects.advance_to(time);
    }
}

fn wall_clock_micros() -> Time {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as Time)
}

/// Runs `plan` to completion (bounded sources) or until `options.stop` is raised.
pub fn run(
    plan: Arc<Plan>,
    metrics: Arc<Metrics>,
    options: RunOptions,
) -> Result<(), RuntimeError> {
    let workers = options.workers.max(1);
    let stop = options.stop.clone();
    let guards = timely::execute(timely::Config::process(workers), move |worker| {
        run_worker(worker, &plan, &metrics, &stop)
    })
    .map_err(|message| RuntimeError::Start { workers, message })?;
    for (index, result) in guards.join().into_iter().enumerate() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(message)) => {
                return Err(RuntimeError::Worker {
                    worker: index,
                    message,
                });
            }
            Err(panic) => {
                return Err(RuntimeError::Worker {
                    worker: index,
                    message: panic,
                });
            }
        }
    }
    Ok(())
}

fn run_worker(
    worker: &mut timely::worker::Worker,
    plan: &Plan,
    metrics: &Arc<Metrics>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let info = WorkerInfo {
        index: worker.index(),
        peers: worker.peers(),
    };
    let probe = ProbeHandle::<Time>::new();
    // Empties once every worker has read all its reference data (FX rates) and closed
    // those inputs: market data waits for it, so no price is converted before its rate
    // could have arrived.
    let reference_probe = ProbeHandle::<Time>::new();
    let mut sources = Vec::new();
    let mut sink_counters: Vec<Arc<ComponentCounters>> = Vec::new();
    worker.dataflow::<Time, _, _>(|scope| -> Result<(), String> {
        let mut outputs: Vec<Option<Stream<'_>>> = Vec::with_capacity(plan.nodes.len());
        let mut rejects: Vec<Option<Collection<'_, Reject>>> = Vec::with_capacity(plan.nodes.len());
        for (index, node) in plan.nodes.iter().enumerate() {
            let context = BuildContext {
                name: node.name.clone(),
                settings: plan.settings.clone(),
                worker: info.clone(),
                counters: metrics.component(node.role, &node.name),
            };
            let inputs: Vec<Stream<'_>> = node
                .inputs
                .iter()
                .filter_map(|&input| outputs[input].clone())
                .collect();
            match &node.implementation {
                NodeImplementation::Source(source) => {
                    let reader = source.open(&context).map_err(|error| error.to_string())?;
                    ComponentCounters::add(&context.counters.bytes_total, reader.total_bytes());
                    let (observation_input, observations) = scope.new_collection();
                    let (reject_input, source_rejects) = scope.new_collection();
                    let reference_data = source.bounded() && source.reference_data();
                    sources.push(OpenSource {
                        reference_data,
                        counters: context.counters.clone(),
                        reader,
                        inputs: Some(SourceInputs {
                            observations: observation_input,
                            rejects: reject_input,
                        }),
                    });
                    let observations = observations.probe_with(&probe);
                    let observations = if reference_data {
                        observations.probe_with(&reference_probe)
                    } else {
                        observations
                    };
                    outputs.push(Some(Stream::Observations(observations)));
                    rejects.push(Some(source_rejects.probe_with(&probe)));
                }
                NodeImplementation::Operator(operator) => {
                    let counters = context.counters.clone();
                    let inputs = inputs
                        .into_iter()
                        .map(|stream| count_into(stream, counters.clone(), true))
                        .collect();
                    let built = operator.build(inputs, &context);
                    let output = count_into(built.output, counters.clone(), false);
                    let operator_rejects = built.rejects.inspect_batch(move |_, updates| {
                        let added: isize = updates
                            .iter()
                            .map(|(_, _, diff)| *diff)
                            .filter(|d| *d > 0)
                            .sum();
                        ComponentCounters::add(&counters.rejected, added as u64);
                    });
                    outputs.push(Some(probe_stream(output, &probe)));
                    rejects.push(Some(operator_rejects.probe_with(&probe)));
                }
                NodeImplementation::Sink(sink) => {
                    let upstream_rejects = plan
                        .upstream(index)
                        .into_iter()
                        .filter(|upstream| *upstream != index)
                        .filter_map(|upstream| rejects[upstream].clone());
                    let all_rejects =
                        differential_dataflow::collection::concatenate(scope, upstream_rejects);
                    let tally_metrics = metrics.clone();
                    let all_rejects = all_rejects.inspect_batch(move |_, updates| {
                        for (reject, _, diff) in updates {
                            tally_metrics.tally(&reject.origin.source, 0, *diff as i64);
                        }
                    });
                    let inputs = inputs
                        .into_iter()
                        .map(|stream| tally_written(stream, metrics.clone()))
                        .collect();
                    sink_counters.push(context.counters.clone());
                    sink.build(inputs, all_rejects, &context)
                        .map_err(|error| error.to_string())?;
                    outputs.push(None);
                    rejects.push(None);
                }
            }
        }
        Ok(())
    })?;

    let mut time: Time = 0;
    let mut output = SourceOutput::default();
    let peers = worker.peers();
    let mut durable: Time = 0;
    while !stop.load(Ordering::Relaxed) && sources.iter().any(|s| s.inputs.is_some()) {
        // Every input moves to the next time together, so the frontier can pass the last one.
        time = wall_clock_micros().max(time + 1);
        for inputs in sources.iter_mut().filter_map(|s| s.inputs.as_mut()) {
            inputs.advance_to(time);
        }
        let learned_at =
            jiff::Timestamp::from_microsecond(time as i64).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut wait: Option<Duration> = None;
        let mut any_ready = false;
        let reference_pending = !reference_probe.with_frontier(|frontier| frontier.is_empty());
        for source in sources
            .iter_mut()
            .filter(|s| s.inputs.is_some() && (s.reference_data || !reference_pending))
        {
            output.observations.clear();
            output.rejects.clear();
            output.bytes = 0;
            output.time = time;
            let status = source.reader.poll(&mut output);
            let counters = &source.counters;
            ComponentCounters::add(&counters.records_out, output.observations.len() as u64);
            ComponentCounters::add(&counters.rejected, output.rejects.len() as u64);
            ComponentCounters::add(&counters.bytes_read, output.bytes);
            let Some(inputs) = source.inputs.as_mut() else {
                continue;
            };
            for mut observation in output.observations.drain(..) {
                // A value whose publication time the source does not state was published,
                // as far as gridflow can know, when it was read.
                match &mut observation {
                    Observation::Price(price) => {
                        price.published_at.get_or_insert(learned_at);
                    }
                    Observation::Quantity(quantity) => {
                        quantity.published_at.get_or_insert(learned_at);
                    }
                    Observation::Rate(_) => {}
                }
                inputs.observations.insert(observation);
            }
            for reject in output.rejects.drain(..) {
                inputs.rejects.insert(reject);
            }
            match status {
                SourceStatus::Ready => any_ready = true,
                SourceStatus::Waiting(duration) => {
                    wait = Some(wait.map_or(duration, |w| w.min(duration)));
                }
                SourceStatus::Finished => source.inputs = None,
            }
        }
        let next = time + 1;
        for inputs in sources.iter_mut().filter_map(|s| s.inputs.as_mut()) {
            inputs.advance_to(next);
            inputs.observations.flush();
            inputs.rejects.flush();
        }
        // Bound the data in flight: finish this batch before reading more.
        while probe.less_than(&next) && !stop.load(Ordering::Relaxed) {
            worker.step_or_park(Some(Duration::from_millis(10)));
        }
        // Tell sources what every sink has made durable, so they can persist positions.
        let now_durable = sink_counters
            .iter()
            .map(|counters| counters.durable_through(peers))
            .min()
            .unwrap_or(0);
        if now_durable > durable {
            durable = now_durable;
            for source in &mut sources {
                source.reader.committed(durable);
            }
        }
        if reference_pending
            && !sources
                .iter()
                .any(|s| s.reference_data && s.inputs.is_some())
        {
            // This worker's reference data is read; another worker's is not yet.
            worker.step_or_park(Some(Duration::from_millis(1)));
        } else if !any_ready && let Some(wait) = wait {
            worker.step_or_park(Some(wait.min(Duration::from_millis(200))));
        }
    }
    // Closing the inputs lets every frontier empty, which is the sinks' signal to flush.
    for source in &mut sources {
        source.inputs = None;
    }
    while worker.has_dataflows() {
        worker.step_or_park(Some(Duration::from_millis(10)));
    }
    // Every sink has flushed; a sink that lost rows does not claim them durable, so their
    // sources' positions stay behind them and a rerun reads them again.
    let finally_durable = sink_counters
        .iter()
        .map(|counters| counters.durable_through(peers))
        .min()
        .unwrap_or(Time::MAX);
    if finally_durable > durable {
        for source in &mut sources {
            source.reader.committed(finally_durable);
        }
    }
    Ok(())
}

fn count_into(stream: Stream<'_>, counters: Arc<ComponentCounters>, incoming: bool) -> Stream<'_> {
    fn count<D: Clone + 'static>(
        collection: Collection<'_, D>,
        counters: Arc<ComponentCounters>,
        incoming: bool,
    ) -> Collection<'_, D> {
        collection.inspect_batch(move |_, updates| {
            let counter = if incoming {
                &counters.records_in
            } else {
                &counters.records_out
            };
            ComponentCounters::add(counter, updates.len() as u64);
        })
    }
    match stream {
        Stream::Observations(c) => Stream::Observations(count(c, counters, incoming)),
        Stream::Prices(c) => Stream::Prices(count(c, counters, incoming)),
        Stream::Quantities(c) => Stream::Quantities(count(c, counters, incoming)),
        Stream::Regimes(c) => Stream::Regimes(count(c, counters, incoming)),
        Stream::Forecasts(c) => Stream::Forecasts(count(c, counters, incoming)),
    }
}

fn tally_written(stream: Stream<'_>, metrics: Arc<Metrics>) -> Stream<'_> {
    /// Tallies the insertions of a batch per source: updates arrive grouped by source more
    /// often than not, so runs are tallied, not rows.
    fn tally<'a>(updates: impl Iterator<Item = (&'a Arc<str>, Diff)>, metrics: &Metrics) {
        let mut run: Option<(&Arc<str>, u64)> = None;
        for (source, diff) in updates.filter(|(_, diff)| *diff > 0) {
            match &mut run {
                Some((current, count)) if Arc::ptr_eq(current, source) || **current == *source => {
                    *count += diff as u64
                }
                _ => {
                    if let Some((current, count)) = run.take() {
                        metrics.tally(current, count, 0);
                    }
                    run = Some((source, diff as u64));
                }
            }
        }
        if let Some((source, count)) = run {
            metrics.tally(source, count, 0);
        }
    }
    match stream {
        Stream::Prices(collection) => {
            Stream::Prices(collection.inspect_batch(move |_, updates| {
                let sources = updates.iter().map(|(r, _, d)| (&r.origin.source, *d));
                tally(sources, &metrics);
            }))
        }
        Stream::Quantities(collection) => {
            Stream::Quantities(collection.inspect_batch(move |_, updates| {
                let sources = updates.iter().map(|(r, _, d)| (&r.origin.source, *d));
                tally(sources, &metrics);
            }))
        }
        other => other,
    }
}

fn probe_stream<'scope>(stream: Stream<'scope>, probe: &ProbeHandle<Time>) -> Stream<'scope> {
    match stream {
        Stream::Observations(c) => Stream::Observations(c.probe_with(probe)),
        Stream::Prices(c) => Stream::Prices(c.probe_with(probe)),
        Stream::Quantities(c) => Stream::Quantities(c.probe_with(probe)),
        Stream::Regimes(c) => Stream::Regimes(c.probe_with(probe)),
        Stream::Forecasts(c) => Stream::Forecasts(c.probe_with(probe)),
    }
}
