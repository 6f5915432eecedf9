//! Running a series' detector forward from a changed position: the fitted models of the
//! HMM's segments, checkpoints of the online state, and the rows.
//!
//! The rules (fit points, windows, where each filter starts) are stated in the module
//! documentation of [`super`]; this file follows them from any position, reusing what a
//! change cannot have affected.

use std::sync::Arc;

use gridflow_engine::record::{Probability, RegimeKey, RegimeRecord};
use gridflow_regime::{Bocpd, GaussianHmm, OnlineFilter};
use tracing::debug;

use super::state::Point;
use super::{HmmSettings, MethodSettings, RegimeSettings};
use crate::series::SeriesKey;

/// Where a series changed, in positions of the new series.
pub(super) struct Change {
    /// The first position whose price differs (the series' length when only the tail was
    /// removed).
    pub(super) first: usize,
    /// Positions whose price was revised in place, when no position moved.
    pub(super) revised: Vec<usize>,
    /// Whether prices were inserted or removed (every later position moved).
    pub(super) structural: bool,
}

/// The fitted model of one HMM segment.
#[derive(Clone, Debug)]
enum Slot {
    /// Not fitted yet (or its window changed).
    Unfitted,
    /// Fitted and relabelled by mean.
    Fitted(Arc<GaussianHmm>),
    /// Baum–Welch failed on the window: the segment has no rows.
    Failed,
}

/// The online state after some position.
#[derive(Clone, Debug)]
enum Online {
    /// The filter of HMM segment `segment` (`None` when its fit failed).
    Hmm {
        segment: usize,
        filter: Option<Box<OnlineFilter>>,
    },
    /// The change-point detector.
    Bocpd(Box<Bocpd>),
}

/// What the row at a position needs from the row before it.
#[derive(Clone, Copy, Debug, Default)]
struct Previous {
    state: Option<u8>,
    run_length: Option<u32>,
}

/// The online state after `position`, and that position's row summary.
#[derive(Clone, Debug)]
struct Checkpoint {
    position: usize,
    online: Online,
    previous: Previous,
    /// Periodic checkpoints are kept (up to a number); the others only while latest.
    periodic: bool,
}

/// A series' models and checkpoints.
#[derive(Default)]
pub(super) struct Detector {
    /// HMM only: one slot per segment of the current series.
    models: Vec<Slot>,
    /// In position order; the last one is the state after the series' last price.
    checkpoints: Vec<Checkpoint>,
}

impl Detector {
    /// Recomputes the rows of positions `change.first` onward (from `warm_up − 1` if
    /// later), handing each to `row` in position order.
    pub(super) fn rerun(
        &mut self,
        key: &SeriesKey,
        points: &[Point],
        change: &Change,
        settings: &RegimeSettings,
        row: &mut dyn FnMut(usize, Option<RegimeRecord>),
    ) {
        let first_row = settings.warm_up - 1;
        // What the change cannot have touched: checkpoints before it, models whose
        // window lies before it or (when nothing moved) holds no revised price.
        self.checkpoints.retain(|c| c.position < change.first);
        if let MethodSettings::Hmm(hmm) = &settings.method {
            let segments = segment_count(points.len(), settings.warm_up, hmm.refit_every);
            self.models.truncate(segments);
            for (k, slot) in self.models.iter_mut().enumerate() {
                let fit_point = settings.warm_up + k * hmm.refit_every;
                let window = fit_point.saturating_sub(hmm.window)..fit_point;
                let touched = fit_point > change.first
                    && (change.structural || change.revised.iter().any(|p| window.contains(p)));
                if touched {
                    *slot = Slot::Unfitted;
                }
            }
            self.models.resize(segments, Slot::Unfitted);
        }
        if points.len() < settings.warm_up {
            return;
        }
        let (mut online, mut previous, start) = match self.checkpoints.last() {
            Some(checkpoint) => (
                Some(checkpoint.online.clone()),
                checkpoint.previous,
                checkpoint.position + 1,
            ),
            None => (None, Previous::default(), 0),
        };
        let emit_from = change.first.max(first_row);
        let every = settings.checkpoint_every;
        for position in start..points.len() {
            let x = points[position].value.price.to_f64();
            let record = match &settings.method {
                MethodSettings::Hmm(hmm) => {
                    if position < first_row {
                        continue;
                    }
                    let segment = segment_of(position, settings.warm_up, hmm.refit_every);
                    if !matches!(&online, Some(Online::Hmm { segment: s, .. }) if *s == segment) {
                        online = Some(Online::Hmm {
                            segment,
                            filter: self.start_filter(segment, position, points, settings, hmm),
                        });
                    }
                    let Some(Online::Hmm { filter, .. }) = online.as_mut() else {
                        unreachable!("an HMM operator holds an HMM filter")
                    };
                    filter
                        .as_mut()
                        .and_then(|filter| filter.update(x).ok().map(|()| &*filter))
                        .map(|filter| hmm_row(key, &points[position], filter, previous, settings))
                }
                MethodSettings::Bocpd(bocpd) => {
                    let online = online.get_or_insert_with(|| {
                        Online::Bocpd(Box::new(
                            Bocpd::new(bocpd.clone()).expect("validated settings"),
                        ))
                    });
                    let Online::Bocpd(detector) = online else {
                        unreachable!("a BOCPD operator holds a BOCPD detector")
                    };
                    let summary = detector.update(x).ok();
                    if position < first_row {
                        continue;
                    }
                    summary.map(|summary| {
                        let run_length =
                            u32::try_from(summary.most_likely_run_length).unwrap_or(u32::MAX);
                        let limit = u32::try_from(bocpd.max_run_length).unwrap_or(u32::MAX);
                        let changed = previous.run_length.is_some_and(|before| {
                            run_length != before.saturating_add(1).min(limit)
                        });
                        let mut record = base_row(key, &points[position], settings);
                        record.changed = changed;
                        record.run_length = Some(run_length);
                        record.change_probability =
                            Some(Probability::from_f64(summary.change_probability));
                        record
                    })
                }
            };
            previous = Previous {
                state: record.as_ref().and_then(|r| r.state),
                run_length: record.as_ref().and_then(|r| r.run_length),
            };
            if position >= emit_from {
                row(position, record);
            }
            let periodic = (position + 1) % every == 0;
            if (periodic || position + 1 == points.len())
                && let Some(online) = &online
            {
                self.checkpoints.push(Checkpoint {
                    position,
                    online: online.clone(),
                    previous,
                    periodic,
                });
            }
        }
        self.prune(settings.max_checkpoints);
    }

    /// Keeps the latest checkpoint and the newest `max` periodic ones.
    fn prune(&mut self, max: usize) {
        let last = self.checkpoints.len().saturating_sub(1);
        let mut periodic = self.checkpoints.iter().filter(|c| c.periodic).count();
        let mut index = 0;
        self.checkpoints.retain(|checkpoint| {
            let keep = index == last
                || (checkpoint.periodic && {
                    let keep = periodic <= max;
                    periodic -= 1;
                    keep
                });
            index += 1;
            keep
        });
    }

    /// The filter of `segment`, run over the prices of its window before `position` (the
    /// segment's first row); `None` when the segment's fit failed.
    fn start_filter(
        &mut self,
        segment: usize,
        position: usize,
        points: &[Point],
        settings: &RegimeSettings,
        hmm: &HmmSettings,
    ) -> Option<Box<OnlineFilter>> {
        let fit_point = settings.warm_up + segment * hmm.refit_every;
        let window_start = fit_point.saturating_sub(hmm.window);
        if matches!(self.models[segment], Slot::Unfitted) {
            let window: Vec<f64> = points[window_start..fit_point]
                .iter()
                .map(|p| p.value.price.to_f64())
                .collect();
            self.models[segment] = match GaussianHmm::fit_seeded(
                hmm.states,
                &window,
                &hmm.fit,
                hmm.initialisations,
                hmm.seed,
            ) {
                Ok(fit) => Slot::Fitted(Arc::new(fit.model.ordered_by_mean())),
                Err(error) => {
                    debug!(segment, %error, "regime: fit failed; the segment has no rows");
                    Slot::Failed
                }
            };
        }
        let Slot::Fitted(model) = &self.models[segment] else {
            return None;
        };
        let mut filter = model.filter();
        for point in &points[window_start..position] {
            // A price the model rules out is skipped, as in a segment's rows.
            let _ = filter.update(point.value.price.to_f64());
        }
        Some(Box::new(filter))
    }
}

/// Segments of a series of `length` prices: segment k ≥ 1 exists once position
/// `warm_up + k · refit_every` does.
pub(super) fn segment_count(length: usize, warm_up: usize, refit_every: usize) -> usize {
    if length < warm_up {
        0
    } else if refit_every == 0 || length <= warm_up {
        1
    } else {
        1 + (length - 1 - warm_up) / refit_every
    }
}

/// The segment whose row `position` (≥ `warm_up − 1`) is.
pub(super) fn segment_of(position: usize, warm_up: usize, refit_every: usize) -> usize {
    if refit_every == 0 || position < warm_up {
        0
    } else {
        (position - warm_up) / refit_every
    }
}

/// A row with the series' and the price's fields, and nothing detected yet.
fn base_row(key: &SeriesKey, point: &Point, settings: &RegimeSettings) -> RegimeRecord {
    RegimeRecord {
        key: RegimeKey {
            interval_start: point.start,
            market: key.market,
            product: key.product,
            location: key.location.clone(),
            operator: settings.name.clone(),
        },
        interval_end: point.value.end,
        method: settings.method.method(),
        price: point.value.price,
        currency: point.value.currency,
        unit: point.value.unit,
        probabilities: Vec::new(),
        state: None,
        previous_state: None,
        changed: false,
        run_length: None,
        change_probability: None,
    }
}

fn hmm_row(
    key: &SeriesKey,
    point: &Point,
    filter: &OnlineFilter,
    previous: Previous,
    settings: &RegimeSettings,
) -> RegimeRecord {
    let state = filter
        .most_likely_state()
        .and_then(|s| u8::try_from(s).ok());
    let mut record = base_row(key, point, settings);
    record.probabilities = Probability::distribution(filter.probabilities());
    record.state = state;
    record.previous_state = previous.state;
    record.changed = previous.state.is_some() && previous.state != state;
    record
}
