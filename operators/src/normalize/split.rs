//! Splitting a collection in two without copying it.
//!
//! Every extra consumer of a timely stream receives its own clone of each batch; with
//! 200-byte records and reference-counted strings that copying dominated normalization.
//! Routing each record to exactly one of two outputs moves it instead.

use differential_dataflow::AsCollection;
use gridflow_engine::Collection;
use timely::dataflow::operators::vec::{Map, Partition};

/// Which output a record goes to.
pub(super) enum Either<L, R> {
    /// The first output.
    Left(L),
    /// The second output.
    Right(R),
}

/// Sends each record to the left or the right output, moving it.
pub(super) fn split<'scope, D, L, R>(
    collection: Collection<'scope, D>,
    route: impl Fn(D) -> Either<L, R> + 'static,
) -> (Collection<'scope, L>, Collection<'scope, R>)
where
    D: 'static,
    L: 'static,
    R: 'static,
{
    let mut parts = collection
        .inner
        .partition(2, move |(data, time, diff)| {
            let routed = route(data);
            (
                u64::from(matches!(routed, Either::Right(_))),
                (routed, time, diff),
            )
        })
        .into_iter();
    let (Some(left), Some(right)) = (parts.next(), parts.next()) else {
        unreachable!("partition(2) returns two streams")
    };
    let left = left.flat_map(|(data, time, diff)| match data {
        Either::Left(left) => Some((left, time, diff)),
        Either::Right(_) => None,
    });
    let right = right.flat_map(|(data, time, diff)| match data {
        Either::Right(right) => Some((right, time, diff)),
        Either::Left(_) => None,
    });
    (left.as_collection(), right.as_collection())
}
