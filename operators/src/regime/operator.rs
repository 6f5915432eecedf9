//! The timely operator of `regime`: prices exchanged by (market, location), held per
//! logical time until the input frontier passes it, then applied in time order to the
//! worker's [`Regimes`], whose net row changes are emitted at that time.
//!
//! Applying complete times in order makes the output independent of how timely delivered
//! the updates (the pattern of `normalize`'s operator).

use std::collections::BTreeMap;
use std::sync::Arc;

use differential_dataflow::{AsCollection, Hashable};
use gridflow_engine::record::{PriceRecord, RegimeRecord};
use gridflow_engine::{Collection, Diff, Time};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;

use super::RegimeSettings;
use super::state::Regimes;

/// One logical time's pending updates and the capability to emit its changes with.
struct Pending {
    updates: Vec<(PriceRecord, Diff)>,
    capability: Capability<Time>,
}

/// Regime rows of every followed series in `prices`.
pub(super) fn detect<'scope>(
    prices: Collection<'scope, PriceRecord>,
    settings: Arc<RegimeSettings>,
) -> Collection<'scope, RegimeRecord> {
    let scope = prices.scope();
    let mut builder = OperatorBuilder::new(format!("Regime: {}", settings.name), scope);
    // `PriceKey` hashes market and location only: a series' every interval meets here.
    let by_series = Exchange::new(|(record, _, _): &(PriceRecord, Time, Diff)| record.key.hashed());
    let mut input = builder.new_input(prices.inner, by_series);
    let (mut output, rows) = builder.new_output();
    builder.build(move |_capabilities| {
        let mut regimes = Regimes::new(settings);
        let mut pending: BTreeMap<Time, Pending> = BTreeMap::new();
        move |frontiers| {
            input.for_each(|capability, updates| {
                for (record, time, diff) in updates.drain(..) {
                    pending
                        .entry(time)
                        .or_insert_with(|| Pending {
                            updates: Vec::new(),
                            capability: capability.delayed(&time, 0),
                        })
                        .updates
                        .push((record, diff));
                }
            });
            let mut output = output.activate();
            // A time is complete once the input can no longer deliver anything at or before it.
            while let Some(entry) = pending.first_entry() {
                let time = *entry.key();
                if frontiers[0].less_equal(&time) {
                    break;
                }
                let batch = entry.remove();
                let mut changes = Vec::new();
                regimes.process(batch.updates, &mut changes);
                if !changes.is_empty() {
                    let mut updates: Vec<(RegimeRecord, Time, Diff)> = changes
                        .into_iter()
                        .map(|(record, diff)| (record, time, diff))
                        .collect();
                    differential_dataflow::consolidation::consolidate_updates(&mut updates);
                    output.give(&batch.capability, &mut updates);
                }
            }
        }
    });
    rows.as_collection()
}
