//! The timely operator that feeds a worker's updates to its four table writers.

use std::sync::Arc;
use std::time::Instant;

use gridflow_engine::Collection;
use gridflow_engine::component::BuildContext;
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::record::{PriceRecord, QuantityRecord, RegimeRecord, Reject};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::schema::{Prices, Quantities, Regimes, Rejects};
use super::writer::TableWriter;

/// The collections one sink writes, one per table.
pub(crate) struct Inputs<'scope> {
    pub(crate) prices: Collection<'scope, PriceRecord>,
    pub(crate) quantities: Collection<'scope, QuantityRecord>,
    pub(crate) regimes: Collection<'scope, RegimeRecord>,
    pub(crate) rejects: Collection<'scope, Reject>,
}

/// One worker's writer of each table.
pub(crate) struct Writers {
    pub(crate) prices: TableWriter<Prices>,
    pub(crate) quantities: TableWriter<Quantities>,
    pub(crate) regimes: TableWriter<Regimes>,
    pub(crate) rejects: TableWriter<Rejects>,
}

/// Attaches one worker's writer operator to the prices, the quantities, the regimes and
/// the rejects.
///
/// The operator does not exchange data: each worker writes the updates it already holds
/// (differential has placed prices and regimes by market and location, quantities by
/// market, series and location), under its own file names.
pub(crate) fn attach(inputs: Inputs<'_>, writers: Writers, context: &BuildContext) {
    let Writers {
        prices: mut price_writer,
        quantities: mut quantity_writer,
        regimes: mut regime_writer,
        rejects: mut reject_writer,
    } = writers;
    let scope = inputs.rejects.scope();
    let mut builder = OperatorBuilder::new(format!("parquet:{}", context.name), scope);
    let address = builder.operator_info().address;
    let activator = scope.activator_for(address.clone());
    // The encoder threads wake the operator when they commit a file, so durability is
    // reported without waiting for the next rows.
    let committed = scope.worker().sync_activator_for(address.to_vec());
    price_writer.wake(committed.clone());
    reject_writer.wake(committed.clone());
    quantity_writer.wake(committed.clone());
    regime_writer.wake(committed);
    let mut price_input = builder.new_input(inputs.prices.inner, Pipeline);
    let mut reject_input = builder.new_input(inputs.rejects.inner, Pipeline);
    let mut quantity_input = builder.new_input(inputs.quantities.inner, Pipeline);
    let mut regime_input = builder.new_input(inputs.regimes.inner, Pipeline);
    let counters: Arc<ComponentCounters> = context.counters.clone();
    let worker = context.worker.index;

    builder.build(move |_capabilities| {
        // The age-based roll needs the operator to run when nothing arrives; this is the
        // wake-up already requested, so that each batch does not queue another timer.
        let mut wake_up: Option<Instant> = None;
        move |frontiers| {
            let now = Instant::now();
            price_input.for_each(|_capability, updates| {
                ComponentCounters::add(&counters.records_in, updates.len() as u64);
                for (record, time, diff) in updates.iter() {
                    price_writer.push(record, *time, *diff, now);
                }
            });
            reject_input.for_each(|_capability, updates| {
                for (record, time, diff) in updates.iter() {
                    reject_writer.push(record, *time, *diff, now);
                }
            });
            quantity_input.for_each(|_capability, updates| {
                ComponentCounters::add(&counters.records_in, updates.len() as u64);
                for (record, time, diff) in updates.iter() {
                    quantity_writer.push(record, *time, *diff, now);
                }
            });
            regime_input.for_each(|_capability, updates| {
                ComponentCounters::add(&counters.records_in, updates.len() as u64);
                for (record, time, diff) in updates.iter() {
                    regime_writer.push(record, *time, *diff, now);
                }
            });

            // An empty frontier means the input is closed (end of run or shutdown):
            // everything still pending is committed now.
            let mut due: Option<Instant> = None;
            let mut sooner = |next: Option<Instant>| {
                due = match (due, next) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            };
            if frontiers[0].is_empty() {
                price_writer.commit_all();
            } else {
                sooner(price_writer.expire(now));
            }
            if frontiers[1].is_empty() {
                reject_writer.commit_all();
            } else {
                sooner(reject_writer.expire(now));
            }
            if frontiers[2].is_empty() {
                quantity_writer.commit_all();
            } else {
                sooner(quantity_writer.expire(now));
            }
            if frontiers[3].is_empty() {
                regime_writer.commit_all();
            } else {
                sooner(regime_writer.expire(now));
            }
            // Report how far this worker's lake is complete, for sources' positions: the
            // least time every table has committed through.
            let frontier = frontiers
                .iter()
                .filter_map(|frontier| frontier.frontier().first().copied())
                .min();
            if let (Some(prices), Some(rejects), Some(quantities), Some(regimes)) = (
                price_writer.durable_through(frontier),
                reject_writer.durable_through(frontier),
                quantity_writer.durable_through(frontier),
                regime_writer.durable_through(frontier),
            ) {
                counters.report_durable(worker, prices.min(rejects).min(quantities).min(regimes));
            }

            if let Some(due) = due
                && wake_up.is_none_or(|pending| pending <= now || pending > due)
            {
                activator.activate_after(due.saturating_duration_since(now));
                wake_up = Some(due);
            }
        }
    });
}
