//! What the per-series operators (`regime`, `forecast`) share: the identity of a price
//! series, the filter that picks series, and the timely operator that gathers a series'
//! updates on one worker and applies each logical time, complete, in time order.
//!
//! Applying complete times in order makes an operator's output independent of how timely
//! delivered the updates (the pattern of `normalize`'s operator).

use std::collections::BTreeMap;
use std::sync::Arc;

use differential_dataflow::{AsCollection, Hashable};
use gridflow_engine::record::{Market, PriceRecord, Product};
use gridflow_engine::{Collection, Diff, Time};
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::vec::Broadcast;

/// One series: a market's product at a location.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SeriesKey {
    pub(crate) market: Market,
    pub(crate) product: Product,
    pub(crate) location: Arc<str>,
}

impl SeriesKey {
    /// The series `record` belongs to.
    pub(crate) fn of(record: &PriceRecord) -> Self {
        SeriesKey {
            market: record.key.market,
            product: record.key.product,
            location: record.key.location.clone(),
        }
    }
}

/// Restricts the series an operator follows.
#[derive(Clone, Debug, Default)]
pub struct SeriesFilter {
    /// Markets to keep (all when empty).
    pub markets: Vec<Market>,
    /// Products to keep (all when empty).
    pub products: Vec<Product>,
    /// Locations to keep (all when empty).
    pub locations: Vec<Arc<str>>,
}

impl SeriesFilter {
    /// Whether `record`'s series is followed.
    pub fn admits(&self, record: &PriceRecord) -> bool {
        let key = &record.key;
        (self.markets.is_empty() || self.markets.contains(&key.market))
            && (self.products.is_empty() || self.products.contains(&key.product))
            && (self.locations.is_empty() || self.locations.contains(&key.location))
    }
}

/// The price inputs of a per-series operator as one collection. The plan's type check admits
/// only prices and at least one input, so other streams are not expected here.
pub(crate) fn all_prices<'scope>(
    inputs: Vec<gridflow_engine::component::Stream<'scope>>,
    operator: &str,
) -> Collection<'scope, PriceRecord> {
    use gridflow_engine::component::Stream;
    let mut prices = inputs.into_iter().filter_map(|stream| match stream {
        Stream::Prices(collection) => Some(collection),
        _ => None,
    });
    let first = prices
        .next()
        .unwrap_or_else(|| panic!("the plan gives `{operator}` at least one price input"));
    prices.fold(first, |all, next| all.concat(next))
}

/// One logical time's pending updates and the capability to emit its changes with.
struct Pending<Q> {
    updates: Vec<(PriceRecord, Diff)>,
    shared: Vec<(Q, Diff)>,
    capability: Capability<Time>,
}

impl<Q> Pending<Q> {
    /// The updates held for `time`, made (holding `capability()`) if there are none yet.
    fn at(
        pending: &mut BTreeMap<Time, Self>,
        time: Time,
        capability: impl FnOnce() -> Capability<Time>,
    ) -> &mut Self {
        pending.entry(time).or_insert_with(|| Pending {
            updates: Vec::new(),
            shared: Vec::new(),
            capability: capability(),
        })
    }
}

/// Exchanges `prices` by (market, location), holds each logical time's updates until the
/// input frontier passes it, then hands them, in time order, to `process`, which appends
/// the output's changes at that time.
pub(crate) fn in_time_order<'scope, R>(
    prices: Collection<'scope, PriceRecord>,
    name: String,
    mut process: impl FnMut(Vec<(PriceRecord, Diff)>, &mut Vec<(R, Diff)>) + 'static,
) -> Collection<'scope, R>
where
    R: differential_dataflow::Data,
{
    in_time_order_with::<R, ()>(prices, None, name, move |updates, _, out| {
        process(updates, out)
    })
}

/// As [`in_time_order`], with a second collection that every worker receives whole
/// (`shared`: series every price series reads, such as a forecast's exogenous inputs). A
/// time is handed on once neither input can deliver anything at or before it, with both
/// inputs' updates at that time.
pub(crate) fn in_time_order_with<'scope, R, Q>(
    prices: Collection<'scope, PriceRecord>,
    shared: Option<Collection<'scope, Q>>,
    name: String,
    mut process: impl FnMut(Vec<(PriceRecord, Diff)>, Vec<(Q, Diff)>, &mut Vec<(R, Diff)>) + 'static,
) -> Collection<'scope, R>
where
    R: differential_dataflow::Data,
    Q: differential_dataflow::ExchangeData,
{
    let scope = prices.scope();
    let mut builder = OperatorBuilder::new(name, scope);
    // `PriceKey` hashes market and location only: a series' every interval meets here.
    let by_series = Exchange::new(|(record, _, _): &(PriceRecord, Time, Diff)| record.key.hashed());
    let mut input = builder.new_input(prices.inner, by_series);
    let mut shared_input =
        shared.map(|shared| builder.new_input(shared.inner.broadcast(), Pipeline));
    let (mut output, rows) = builder.new_output();
    builder.build(move |_capabilities| {
        let mut pending: BTreeMap<Time, Pending<Q>> = BTreeMap::new();
        move |frontiers| {
            input.for_each(|capability, updates| {
                for (record, time, diff) in updates.drain(..) {
                    Pending::at(&mut pending, time, || capability.delayed(&time, 0))
                        .updates
                        .push((record, diff));
                }
            });
            if let Some(shared_input) = &mut shared_input {
                shared_input.for_each(|capability, updates| {
                    for (record, time, diff) in updates.drain(..) {
                        Pending::at(&mut pending, time, || capability.delayed(&time, 0))
                            .shared
                            .push((record, diff));
                    }
                });
            }
            let mut output = output.activate();
            // A time is complete once no input can deliver anything at or before it.
            while let Some(entry) = pending.first_entry() {
                let time = *entry.key();
                if frontiers.iter().any(|frontier| frontier.less_equal(&time)) {
                    break;
                }
                let batch = entry.remove();
                let mut changes = Vec::new();
                process(batch.updates, batch.shared, &mut changes);
                if !changes.is_empty() {
                    let mut updates: Vec<(R, Time, Diff)> = changes
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

/// Test support for the per-series operators: runs an operator over rounds of price
/// updates and returns its net output.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use differential_dataflow::input::Input;
    use gridflow_engine::Collection;
    use gridflow_engine::record::{
        Components, Currency, LocationType, Origin, Price, PriceKey, PriceRecord, Unit, Version,
    };
    use jiff::Timestamp;

    /// A test price in `currency` per MWh, its native values the same, published at the
    /// epoch as `revision`, from line `line` of a file called `test`.
    pub(crate) fn price_record(
        key: PriceKey,
        location_type: LocationType,
        interval_end: Timestamp,
        price: Price,
        currency: Currency,
        revision: i64,
        line: u64,
    ) -> PriceRecord {
        PriceRecord {
            key,
            location_type,
            interval_end,
            price,
            currency,
            unit: Unit::MegawattHour,
            components: Components::default(),
            native_price: price,
            native_currency: currency,
            native_unit: Unit::MegawattHour,
            version: version(revision),
            origin: origin(line),
        }
    }

    /// `revision`, published at the epoch.
    pub(crate) fn version(revision: i64) -> Version {
        Version {
            revision: Some(revision),
            published_at: Timestamp::UNIX_EPOCH,
        }
    }

    /// Line `line` of a file called `test`.
    pub(crate) fn origin(line: u64) -> Origin {
        Origin {
            source: Arc::from("test"),
            file: Arc::from("test"),
            line,
        }
    }

    /// Runs `operator` over `rounds` of updates (one logical time each) on `workers`
    /// workers, worker 0 feeding everything (the operator's exchange spreads the series),
    /// and returns every output row with its net multiplicity (zeros left out).
    pub(crate) fn net_output<R, F>(
        rounds: Vec<Vec<(PriceRecord, isize)>>,
        workers: usize,
        operator: F,
    ) -> BTreeMap<R, isize>
    where
        R: differential_dataflow::Data + Ord + Send,
        F: for<'scope> Fn(Collection<'scope, PriceRecord>) -> Collection<'scope, R>
            + Send
            + Sync
            + 'static,
    {
        let rounds = rounds
            .into_iter()
            .map(|prices| (prices, Vec::new()))
            .collect();
        net_output_with::<R, (), _>(rounds, workers, move |prices, _| operator(prices))
    }

    /// One round of updates: prices and the other input's.
    pub(crate) type Round<Q> = (Vec<(PriceRecord, isize)>, Vec<(Q, isize)>);

    /// As [`net_output`], with a second input of `Q`s fed in the same rounds (round `i`:
    /// `rounds[i].0` prices and `rounds[i].1` of the other).
    pub(crate) fn net_output_with<R, Q, F>(
        rounds: Vec<Round<Q>>,
        workers: usize,
        operator: F,
    ) -> BTreeMap<R, isize>
    where
        R: differential_dataflow::Data + Ord + Send,
        Q: differential_dataflow::ExchangeData + Send + Sync,
        F: for<'scope> Fn(
                Collection<'scope, PriceRecord>,
                Collection<'scope, Q>,
            ) -> Collection<'scope, R>
            + Send
            + Sync
            + 'static,
    {
        let collected: Arc<Mutex<Vec<(R, isize)>>> = Arc::default();
        let sink = collected.clone();
        let rounds = Arc::new(rounds);
        let operator = Arc::new(operator);
        timely::execute(timely::Config::process(workers), move |worker| {
            let sink = sink.clone();
            let operator = operator.clone();
            let (mut prices_input, mut other_input) = worker.dataflow::<u64, _, _>(|scope| {
                let (prices_input, prices) = scope.new_collection::<PriceRecord, isize>();
                let (other_input, other) = scope.new_collection::<Q, isize>();
                operator(prices, other).inspect(move |(record, _, diff)| {
                    sink.lock().unwrap().push((record.clone(), *diff));
                });
                (prices_input, other_input)
            });
            if worker.index() == 0 {
                for (round, (prices, others)) in rounds.iter().enumerate() {
                    prices_input.advance_to(round as u64);
                    other_input.advance_to(round as u64);
                    for (record, diff) in prices {
                        prices_input.update(record.clone(), *diff);
                    }
                    for (record, diff) in others {
                        other_input.update(record.clone(), *diff);
                    }
                    prices_input.flush();
                    other_input.flush();
                    worker.step();
                }
            }
            prices_input.close();
            other_input.close();
            while worker.step() {}
        })
        .unwrap();
        let mut net = BTreeMap::new();
        for (record, diff) in collected.lock().unwrap().drain(..) {
            *net.entry(record).or_default() += diff;
        }
        net.retain(|_, diff| *diff != 0);
        net
    }
}
