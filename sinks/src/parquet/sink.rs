//! The timely operator of a sink, and the writer thread that does its work.
//!
//! Encoding Parquet (building columns, compressing, writing files) is most of a sink's cost.
//! Done inside the operator it would stall the worker's dataflow; instead the operator
//! hands each container of updates, unopened, to one thread per sink and worker, which
//! owns the five table writers. The operator also passes on its input frontiers, so the
//! thread knows which times are complete and reports durability itself. The channel is
//! bounded: a slow disk slows the worker down instead of filling memory. At the end of
//! input the operator waits for the thread, so a finished run has committed every file.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Instant;

use gridflow_engine::component::BuildContext;
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::record::{ForecastRecord, PriceRecord, QuantityRecord, RegimeRecord, Reject};
use gridflow_engine::{Collection, Diff, Time};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::schema::{Forecasts, Prices, Quantities, Regimes, Rejects};
use super::writer::TableWriter;

/// Containers the operator may hand over before it waits for the writer thread.
const QUEUED_CONTAINERS: usize = 64;

/// The collections one sink writes, one per table.
pub(crate) struct Inputs<'scope> {
    pub(crate) prices: Collection<'scope, PriceRecord>,
    pub(crate) quantities: Collection<'scope, QuantityRecord>,
    pub(crate) regimes: Collection<'scope, RegimeRecord>,
    pub(crate) forecasts: Collection<'scope, ForecastRecord>,
    pub(crate) rejects: Collection<'scope, Reject>,
}

/// One worker's writer of each table.
pub(crate) struct Writers {
    pub(crate) prices: TableWriter<Prices>,
    pub(crate) quantities: TableWriter<Quantities>,
    pub(crate) regimes: TableWriter<Regimes>,
    pub(crate) forecasts: TableWriter<Forecasts>,
    pub(crate) rejects: TableWriter<Rejects>,
}

/// The least time each input (prices, rejects, quantities, regimes, forecasts) may still
/// deliver; `None` once the input is closed.
type Frontiers = [Option<Time>; 5];

/// What the operator hands to the writer thread.
enum Message {
    Prices(Vec<(PriceRecord, Time, Diff)>),
    Rejects(Vec<(Reject, Time, Diff)>),
    Quantities(Vec<(QuantityRecord, Time, Diff)>),
    Regimes(Vec<(RegimeRecord, Time, Diff)>),
    Forecasts(Vec<(ForecastRecord, Time, Diff)>),
    Frontiers(Frontiers),
}

/// The operator's handle on its writer thread.
struct WriterThread {
    messages: Option<SyncSender<Message>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<ComponentCounters>,
    sink: Arc<str>,
}

impl WriterThread {
    fn start(writers: Writers, context: &BuildContext) -> std::io::Result<Self> {
        let (messages, receiver) = std::sync::mpsc::sync_channel(QUEUED_CONTAINERS);
        let counters = context.counters.clone();
        let worker = context.worker.index;
        let thread = std::thread::Builder::new()
            .name(format!("parquet-{}-w{worker}", context.name))
            .spawn({
                let counters = counters.clone();
                move || write(&receiver, writers, &counters, worker)
            })?;
        Ok(WriterThread {
            messages: Some(messages),
            thread: Some(thread),
            counters,
            sink: context.name.clone(),
        })
    }

    /// Hands over a message, waiting while the queue is full.
    fn send(&mut self, message: Message, rows: usize) {
        let Some(messages) = &self.messages else {
            return;
        };
        if messages.send(message).is_err() {
            // The thread is gone (it panicked): these rows cannot reach the lake, and the
            // sink stops reporting durability, so sources keep their positions before them.
            self.messages = None;
            ComponentCounters::add(&self.counters.rejected, rows as u64);
            tracing::error!(sink = %self.sink, rows, "the sink's writer thread stopped; rows are not in the lake");
        }
    }

    /// Waits until the thread has committed everything and ended.
    fn finish(&mut self) {
        self.messages = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(sink = %self.sink, "the sink's writer thread panicked");
        }
    }
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Attaches one worker's sink operator for the prices, the quantities, the regimes, the
/// forecasts and the rejects.
///
/// The operator does not exchange data: each worker writes the updates it already holds
/// (placed by market and location upstream), under its own file names.
pub(crate) fn attach(inputs: Inputs<'_>, writers: Writers, context: &BuildContext) {
    let scope = inputs.rejects.scope();
    let mut builder = OperatorBuilder::new(format!("parquet:{}", context.name), scope);
    let mut price_input = builder.new_input(inputs.prices.inner, Pipeline);
    let mut reject_input = builder.new_input(inputs.rejects.inner, Pipeline);
    let mut quantity_input = builder.new_input(inputs.quantities.inner, Pipeline);
    let mut regime_input = builder.new_input(inputs.regimes.inner, Pipeline);
    let mut forecast_input = builder.new_input(inputs.forecasts.inner, Pipeline);
    let counters: Arc<ComponentCounters> = context.counters.clone();
    let mut thread = match WriterThread::start(writers, context) {
        Ok(thread) => Some(thread),
        Err(error) => {
            tracing::error!(sink = %context.name, %error, "could not start the sink's writer thread");
            None
        }
    };

    builder.build(move |_capabilities| {
        let mut sent: Option<Frontiers> = None;
        move |frontiers| {
            let Some(writer) = thread.as_mut() else {
                // Nothing can be written: count what arrives as lost, never drop it silently.
                let mut lost = 0;
                price_input.for_each(|_, updates| lost += updates.len());
                reject_input.for_each(|_, updates| lost += updates.len());
                quantity_input.for_each(|_, updates| lost += updates.len());
                regime_input.for_each(|_, updates| lost += updates.len());
                forecast_input.for_each(|_, updates| lost += updates.len());
                ComponentCounters::add(&counters.rejected, lost as u64);
                return;
            };
            price_input.for_each(|_capability, updates| {
                let rows = updates.len();
                ComponentCounters::add(&counters.records_in, rows as u64);
                writer.send(Message::Prices(std::mem::take(updates)), rows);
            });
            reject_input.for_each(|_capability, updates| {
                let rows = updates.len();
                writer.send(Message::Rejects(std::mem::take(updates)), rows);
            });
            quantity_input.for_each(|_capability, updates| {
                let rows = updates.len();
                ComponentCounters::add(&counters.records_in, rows as u64);
                writer.send(Message::Quantities(std::mem::take(updates)), rows);
            });
            regime_input.for_each(|_capability, updates| {
                let rows = updates.len();
                ComponentCounters::add(&counters.records_in, rows as u64);
                writer.send(Message::Regimes(std::mem::take(updates)), rows);
            });
            forecast_input.for_each(|_capability, updates| {
                let rows = updates.len();
                ComponentCounters::add(&counters.records_in, rows as u64);
                writer.send(Message::Forecasts(std::mem::take(updates)), rows);
            });
            let current: Frontiers =
                std::array::from_fn(|input| frontiers[input].frontier().first().copied());
            if sent != Some(current) {
                writer.send(Message::Frontiers(current), 0);
                sent = Some(current);
            }
            // Every input is closed (end of run or shutdown): wait for the last commits.
            if current.iter().all(Option::is_none)
                && let Some(mut writer) = thread.take()
            {
                writer.finish();
            }
        }
    });
}

/// The writer thread: applies messages in order, commits files by age, size and at the end
/// of input, and reports how far this worker's part of the lake is durable.
fn write(
    messages: &Receiver<Message>,
    writers: Writers,
    counters: &ComponentCounters,
    worker: usize,
) {
    let Writers {
        prices: mut price_writer,
        quantities: mut quantity_writer,
        regimes: mut regime_writer,
        forecasts: mut forecast_writer,
        rejects: mut reject_writer,
    } = writers;
    let mut frontiers: Frontiers = [Some(Time::MIN); 5];
    // When the oldest pending file reaches its age limit.
    let mut due: Option<Instant> = None;
    loop {
        let received = match due {
            Some(due) => messages.recv_timeout(due.saturating_duration_since(Instant::now())),
            None => messages.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = Instant::now();
        match received {
            Ok(Message::Prices(updates)) => {
                for (record, time, diff) in &updates {
                    price_writer.push(record, *time, *diff, now);
                }
            }
            Ok(Message::Rejects(updates)) => {
                for (record, time, diff) in &updates {
                    reject_writer.push(record, *time, *diff, now);
                }
            }
            Ok(Message::Quantities(updates)) => {
                for (record, time, diff) in &updates {
                    quantity_writer.push(record, *time, *diff, now);
                }
            }
            Ok(Message::Regimes(updates)) => {
                for (record, time, diff) in &updates {
                    regime_writer.push(record, *time, *diff, now);
                }
            }
            Ok(Message::Forecasts(updates)) => {
                for (record, time, diff) in &updates {
                    forecast_writer.push(record, *time, *diff, now);
                }
            }
            Ok(Message::Frontiers(current)) => frontiers = current,
            Err(RecvTimeoutError::Timeout) => {}
            // The operator is gone without closing its inputs (its worker failed): keep
            // what was received, but claim nothing more durable, since rows of the times
            // still open may never have arrived.
            Err(RecvTimeoutError::Disconnected) => {
                price_writer.commit_all();
                reject_writer.commit_all();
                quantity_writer.commit_all();
                regime_writer.commit_all();
                forecast_writer.commit_all();
                return;
            }
        }

        let mut next: Option<Instant> = None;
        let mut sooner = |at: Option<Instant>| {
            next = match (next, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        };
        if frontiers[0].is_none() {
            price_writer.commit_all();
        } else {
            sooner(price_writer.expire(now));
        }
        if frontiers[1].is_none() {
            reject_writer.commit_all();
        } else {
            sooner(reject_writer.expire(now));
        }
        if frontiers[2].is_none() {
            quantity_writer.commit_all();
        } else {
            sooner(quantity_writer.expire(now));
        }
        if frontiers[3].is_none() {
            regime_writer.commit_all();
        } else {
            sooner(regime_writer.expire(now));
        }
        if frontiers[4].is_none() {
            forecast_writer.commit_all();
        } else {
            sooner(forecast_writer.expire(now));
        }
        due = next;
        // The least time every table has committed through, for sources' positions.
        let frontier = frontiers.iter().filter_map(|frontier| *frontier).min();
        if let (Some(prices), Some(rejects), Some(quantities), Some(regimes), Some(forecasts)) = (
            price_writer.durable_through(frontier),
            reject_writer.durable_through(frontier),
            quantity_writer.durable_through(frontier),
            regime_writer.durable_through(frontier),
            forecast_writer.durable_through(frontier),
        ) {
            let through = prices
                .min(rejects)
                .min(quantities)
                .min(regimes)
                .min(forecasts);
            counters.report_durable(worker, through);
        }
        if frontiers.iter().all(Option::is_none) {
            return;
        }
    }
}
