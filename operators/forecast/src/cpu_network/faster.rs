//! Choosing, as the forecasts run, between two ways of computing the same thing.
//!
//! Whether the [`helper`](super::helper) thread saves time depends on whether it gets a
//! core of its own, which depends on what else the machine runs (on a VM, even on where
//! the host puts its virtual CPUs at the moment). So each calling thread keeps the recent
//! time of both ways, for each batch size, and uses the one that has been faster; both
//! give the same bits.

use std::time::Instant;

/// Every this many calls the way that has been slower is timed again, for
/// [`RETRY_CALLS`] calls in a row: the helper falls asleep when it is not used and its
/// first jobs after that are slow, so the first [`WARM_UP_CALLS`] of a retry, and the first
/// call after one, are not counted.
const RETRY_EVERY: u64 = 256;
const RETRY_CALLS: u64 = 6;
const WARM_UP_CALLS: u64 = 2;

/// Recent times of the two ways (seconds per unit of work, a moving average).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Faster {
    with_helper: Option<f64>,
    without: Option<f64>,
    calls: u64,
}

impl Faster {
    /// Runs `compute(true)`, with the helper, or `compute(false)`, without, whichever has
    /// been faster, and times it. `compute(true)` returns false, having done nothing, when
    /// the helper is not free; `compute(false)` then runs. `units` is the amount of work
    /// (series), so that calls of different sizes compare.
    pub(super) fn run(&mut self, units: usize, mut compute: impl FnMut(bool) -> bool) {
        let (try_helper, counted) = self.choose();
        let started = Instant::now();
        let helped = try_helper && compute(true);
        if !helped {
            compute(false);
        }
        if counted {
            self.record(
                helped,
                started.elapsed().as_secs_f64() / units.max(1) as f64,
            );
        }
    }

    /// Whether the next call should try the helper, and whether its time counts.
    fn choose(&mut self) -> (bool, bool) {
        self.calls += 1;
        let helper_is_faster = match (self.with_helper, self.without) {
            (None, _) => true,
            (_, None) => false,
            (Some(with_helper), Some(without)) => with_helper <= without,
        };
        let phase = self.calls % RETRY_EVERY;
        let retry = phase < RETRY_CALLS;
        let counted = !(phase < WARM_UP_CALLS || phase == RETRY_CALLS);
        (helper_is_faster != retry, counted)
    }

    fn record(&mut self, helped: bool, seconds: f64) {
        let recent = if helped {
            &mut self.with_helper
        } else {
            &mut self.without
        };
        // About the last 16 calls. A call held up by the scheduler counts as at most a
        // quarter slower, so that a few of them do not flip the choice; a lasting change
        // still moves the average by a tenth within about 6 calls.
        *recent = Some(recent.map_or(seconds, |old| {
            old + (seconds.clamp(old / 2.0, old * 1.25) - old) / 16.0
        }));
    }
}

/// Batch sizes (series) timed apart; larger batches share the last.
const SIZES: usize = 64;

/// A [`Faster`] per batch size: the time per series differs with the batch, and a
/// thread that alternates sizes would otherwise compare the two ways over different
/// mixes of them.
#[derive(Debug, Default)]
pub(super) struct FasterBySize(Vec<Faster>);

impl FasterBySize {
    /// [`Faster::run`] with the timings of batches of `series`.
    pub(super) fn run(&mut self, series: usize, compute: impl FnMut(bool) -> bool) {
        let index = series.min(SIZES);
        if self.0.len() <= index {
            self.0.resize(index + 1, Faster::default());
        }
        self.0[index].run(series, compute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 1,000 calls where a call with the helper takes `with_helper` seconds and one without
    /// `without`, the helper free on calls where `free` says so; returns which calls ran
    /// with the helper.
    fn helped_calls(with_helper: f64, without: f64, free: impl Fn(u64) -> bool) -> Vec<bool> {
        let mut faster = Faster::default();
        (1..=1_000)
            .map(|call| {
                let (try_helper, counted) = faster.choose();
                let helped = try_helper && free(call);
                if counted {
                    faster.record(helped, if helped { with_helper } else { without });
                }
                helped
            })
            .collect()
    }

    #[test]
    fn uses_the_faster_way_and_tries_the_other_now_and_then() {
        let helped = helped_calls(5e-6, 60e-6, |_| true);
        // The first calls try the way without first (the retry phase of the first round).
        assert!(helped[..RETRY_CALLS as usize - 1].iter().all(|h| !h));
        for (call, helped) in (1_u64..).zip(&helped) {
            assert_eq!(*helped, call % RETRY_EVERY >= RETRY_CALLS, "call {call}");
        }
        let helped = helped_calls(60e-6, 5e-6, |_| true);
        for (call, helped) in (1_u64..).zip(&helped).skip(RETRY_EVERY as usize) {
            assert_eq!(*helped, call % RETRY_EVERY < RETRY_CALLS, "call {call}");
        }
    }

    #[test]
    fn batch_sizes_are_timed_apart() {
        let mut by_size = FasterBySize::default();
        // Past the first retry phase for both sizes.
        for _ in 0..RETRY_CALLS {
            by_size.run(1, |_| true);
            by_size.run(32, |_| true);
        }
        by_size.run(1, |helper| helper);
        assert!(by_size.0[1].with_helper.is_some());
        assert!(
            by_size.0[32].with_helper.is_none(),
            "32 series ran without it so far"
        );
        assert!(by_size.0[2].without.is_none() && by_size.0[2].with_helper.is_none());
    }

    #[test]
    fn one_slow_call_does_not_flip_the_choice() {
        let mut faster = Faster::default();
        for _ in 0..20 {
            faster.record(true, 10e-6);
            faster.record(false, 15e-6);
        }
        faster.record(true, 1e-3);
        assert!(faster.with_helper.unwrap() < faster.without.unwrap());
    }

    #[test]
    fn a_busy_helper_counts_as_the_other_way() {
        let helped = helped_calls(5e-6, 60e-6, |call| call % 2 == 0);
        assert!(
            helped.iter().step_by(2).all(|h| !h),
            "odd calls found it busy"
        );
        // Past the first retry phase, nothing timed yet: the helper is tried first.
        let mut faster = Faster {
            calls: RETRY_CALLS,
            ..Faster::default()
        };
        let mut runs = Vec::new();
        faster.run(1, |helper| {
            runs.push(helper);
            !helper
        });
        assert_eq!(runs, [true, false], "tried the helper, then ran without");
        assert!(faster.with_helper.is_none());
    }
}
