//! Replay pacing: emit observations in event-time order, with event time running `speed`
//! times faster than the wall clock from the first emission on.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gridflow_engine::component::{SourceOutput, SourceStatus};
use gridflow_engine::record::Observation;
use jiff::Timestamp;
use jiff::tz::Offset;

/// Longest single wait, so a slow replay still polls (and sees a stop) regularly.
const MAX_WAIT: Duration = Duration::from_secs(1);

pub(super) struct Replay {
    speed: f64,
    loaded: Vec<(Timestamp, Observation)>,
    queue: VecDeque<(Timestamp, Observation)>,
    sorted: bool,
    /// Wall-clock instant and event time of the first emission.
    clock: Option<(Instant, Timestamp)>,
}

/// When an observation happens: its interval start, or a rate's date at midnight UTC.
/// `None` when the stated time does not resolve (the operator will reject it).
fn event_time(observation: &Observation) -> Option<Timestamp> {
    match observation {
        Observation::Price(price) => price.interval.resolve().ok().map(|interval| interval.start),
        Observation::Rate(rate) => Offset::UTC.to_timestamp(rate.date.at(0, 0, 0, 0)).ok(),
        Observation::Quantity(quantity) => quantity
            .interval
            .resolve()
            .ok()
            .map(|interval| interval.start),
    }
}

impl Replay {
    pub(super) fn new(speed: f64) -> Self {
        Replay {
            speed,
            loaded: Vec::new(),
            queue: VecDeque::new(),
            sorted: false,
            clock: None,
        }
    }

    /// Takes in one file's observations; those without an event time go out at once.
    pub(super) fn load(
        &mut self,
        observations: impl Iterator<Item = Observation>,
        out: &mut SourceOutput,
    ) {
        for observation in observations {
            match event_time(&observation) {
                Some(time) => self.loaded.push((time, observation)),
                None => out.observations.push(observation),
            }
        }
    }

    /// Emits what is due, at most `batch_size` observations.
    pub(super) fn poll(&mut self, out: &mut SourceOutput, batch_size: usize) -> SourceStatus {
        if !self.sorted {
            // Stable: observations of the same instant keep file order.
            self.loaded.sort_by_key(|(time, _)| *time);
            self.queue = std::mem::take(&mut self.loaded).into();
            self.sorted = true;
        }
        let Some(&(first_time, _)) = self.queue.front() else {
            return SourceStatus::Finished;
        };
        let (started, origin) = *self.clock.get_or_insert((Instant::now(), first_time));
        let reached = started.elapsed().as_secs_f64() * self.speed;
        let mut emitted = 0;
        while emitted < batch_size {
            let Some((time, _)) = self.queue.front() else {
                return SourceStatus::Finished;
            };
            let offset = time.duration_since(origin).as_secs_f64();
            if offset > reached {
                if emitted > 0 {
                    return SourceStatus::Ready;
                }
                let wait = Duration::try_from_secs_f64((offset - reached) / self.speed)
                    .unwrap_or(MAX_WAIT);
                return SourceStatus::Waiting(wait.min(MAX_WAIT));
            }
            if let Some((_, observation)) = self.queue.pop_front() {
                out.observations.push(observation);
            }
            emitted += 1;
        }
        if self.queue.is_empty() {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        }
    }
}
