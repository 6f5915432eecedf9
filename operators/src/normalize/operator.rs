//! The timely operators of `normalize`: a routing step, then one stateful operator per
//! worker around a [`Normalizer`].
//!
//! Prices are exchanged by (market, location), so every version of a key meets on one
//! worker; rates are broadcast, so every worker can convert its own prices. Updates are
//! held until both input frontiers have passed their time and then applied one time after
//! another in order, which makes the output the same whatever order timely delivered them in.

use std::collections::BTreeMap;

use differential_dataflow::{AsCollection, Hashable};
use gridflow_engine::record::{Currency, Observation, Price, PriceRecord, Reject};
use gridflow_engine::{Collection, Diff, Time};
use jiff::civil::Date;
use timely::dataflow::StreamVec;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::vec::Broadcast;

use super::currency::RateUpdate;
use super::state::{Changes, Normalizer};
use super::{NormalizeSettings, Shared, quantity_reject, resolve};

type Updates<'scope, D> = StreamVec<'scope, Time, (D, Time, Diff)>;

/// A rate per euro for one currency and date.
type Rate = (Currency, Date, Price);

/// The routing step's outputs: resolved prices, rates and resolution rejects.
type Routed<'scope> = (
    Updates<'scope, Shared>,
    Updates<'scope, Rate>,
    Collection<'scope, Reject>,
);

/// Splits observations into resolved prices, rates and resolution rejects, moving each.
/// Quantities become rejects that point to `fundamentals`.
pub(super) fn route<'scope>(observations: Collection<'scope, Observation>) -> Routed<'scope> {
    let mut builder = OperatorBuilder::new("Normalize: resolve".to_owned(), observations.scope());
    let mut input = builder.new_input(observations.inner, Pipeline);
    builder.set_notify_for(0, timely::progress::operate::FrontierInterest::Never);
    let (mut prices_output, prices) = builder.new_output();
    let (mut rates_output, rates) = builder.new_output();
    let (mut rejects_output, rejects) = builder.new_output();
    builder.build(move |_capabilities| {
        move |_frontiers| {
            let mut prices_output = prices_output.activate();
            let mut rates_output = rates_output.activate();
            let mut rejects_output = rejects_output.activate();
            input.for_each(|capability, updates| {
                let mut prices = Vec::with_capacity(updates.len());
                let mut rates = Vec::new();
                let mut rejects = Vec::new();
                for (observation, time, diff) in updates.drain(..) {
                    match observation {
                        Observation::Price(published) => match resolve(published) {
                            Ok(record) => prices.push((Shared::new(record), time, diff)),
                            Err(reject) => rejects.push((reject, time, diff)),
                        },
                        Observation::Rate(rate) => {
                            rates.push(((rate.currency, rate.date, rate.per_euro), time, diff))
                        }
                        // Not silently dropped: the user learns where quantities belong.
                        Observation::Quantity(quantity) => {
                            rejects.push((quantity_reject(&quantity), time, diff))
                        }
                    }
                }
                if !prices.is_empty() {
                    prices_output.give(&capability, &mut prices);
                }
                if !rates.is_empty() {
                    rates_output.give(&capability, &mut rates);
                }
                if !rejects.is_empty() {
                    rejects_output.give(&capability, &mut rejects);
                }
            });
        }
    });
    (prices, rates, rejects.as_collection())
}

/// One logical time's pending input and the capabilities to emit its changes with.
struct Pending {
    prices: Vec<(Shared, Diff)>,
    rates: Vec<RateUpdate>,
    emit_prices: Capability<Time>,
    emit_rejects: Capability<Time>,
}

/// Current prices per key in the base currency, and the conversion rejects.
pub(super) fn convert_and_version<'scope>(
    prices: Updates<'scope, Shared>,
    rates: Updates<'scope, Rate>,
    settings: NormalizeSettings,
) -> (Collection<'scope, PriceRecord>, Collection<'scope, Reject>) {
    let scope = prices.scope();
    let mut builder = OperatorBuilder::new("Normalize: convert and version".to_owned(), scope);
    let by_location = Exchange::new(|(record, _, _): &(Shared, Time, Diff)| record.key.hashed());
    let mut prices_input = builder.new_input(prices, by_location);
    let mut rates_input = builder.new_input(rates.broadcast(), Pipeline);
    let (mut current_output, current) = builder.new_output();
    let (mut rejects_output, rejects) = builder.new_output();

    builder.build(move |_capabilities| {
        let mut normalizer = Some(Normalizer::new(settings));
        let mut pending: BTreeMap<Time, Pending> = BTreeMap::new();
        move |frontiers| {
            prices_input.for_each(|capability, updates| {
                let expected = updates.len();
                for (record, time, diff) in updates.drain(..) {
                    pending
                        .entry(time)
                        .or_insert_with(|| Pending {
                            prices: Vec::with_capacity(expected),
                            rates: Vec::new(),
                            emit_prices: capability.delayed(&time, 0),
                            emit_rejects: capability.delayed(&time, 1),
                        })
                        .prices
                        .push((record, diff));
                }
            });
            rates_input.for_each(|capability, updates| {
                for (rate, time, diff) in updates.drain(..) {
                    pending
                        .entry(time)
                        .or_insert_with(|| Pending {
                            prices: Vec::new(),
                            rates: Vec::new(),
                            emit_prices: capability.delayed(&time, 0),
                            emit_rejects: capability.delayed(&time, 1),
                        })
                        .rates
                        .push((rate, diff));
                }
            });

            let mut current_output = current_output.activate();
            let mut rejects_output = rejects_output.activate();
            // A time is complete once neither input can still deliver anything at or before it.
            while let Some(entry) = pending.first_entry() {
                let time = *entry.key();
                if frontiers.iter().any(|frontier| frontier.less_equal(&time)) {
                    break;
                }
                let batch = entry.remove();
                let Some(normalizer) = normalizer.as_mut() else {
                    break;
                };
                let mut changes = Changes::at(time, batch.prices.len());
                normalizer.process(batch.rates, batch.prices, &mut changes);
                for mut container in changes.prices.drain(..) {
                    current_output.give(&batch.emit_prices, &mut container);
                }
                if !changes.rejects.is_empty() {
                    differential_dataflow::consolidation::consolidate_updates(&mut changes.rejects);
                    rejects_output.give(&batch.emit_rejects, &mut changes.rejects);
                }
            }
            if pending.is_empty() && frontiers.iter().all(|frontier| frontier.is_empty()) {
                // Nothing can arrive any more. Freeing a million records takes a noticeable
                // part of a run; let another thread do it while the sinks flush.
                if let Some(finished) = normalizer.take() {
                    std::thread::spawn(move || drop(finished));
                }
            }
        }
    });
    (current.as_collection(), rejects.as_collection())
}
