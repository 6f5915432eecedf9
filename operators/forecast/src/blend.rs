//! The benchmark with the other model families beside the networks: LEAR ([`crate::lear`],
//! recalibrated every day) and the DNN ([`crate::dnn`], recalibrated every 7 days by default)
//! forecast the validation and test periods, and each test hour's location becomes
//!
//! `(1 − Σ wᵢ) · networks' location + Σ wᵢ · price_to_model(member i's price)`
//!
//! in model space; the scale stays the networks' and goes through the same trailing interval
//! recalibration. The shares are the ones on a 0.05 grid (summing to at most 1) with the
//! lowest MAE on the validation period, which the networks did not train on and which ends
//! where the test period starts; the test period is never read to choose them.
//!
//! The shares may differ between blocks of hours of the day (one family is better at night,
//! another in the peak hours). How many blocks — 1, 2, 3, 4, 6, 8, 12 or 24 — is chosen by
//! cross-validation inside the validation period: its weeks are dealt into four folds, each
//! fold's shares are fitted on the other three and scored on it, and the block count with the
//! lowest held-out error wins (the fewer blocks on a tie). A validation period under eight
//! weeks keeps one share per family for the whole day.

use std::ops::Range;
use std::path::PathBuf;

use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};
use crate::dnn::{self, DnnConfig};
use crate::error::{ForecastError, Result};
use crate::evaluate::{Evaluation, evaluate_days, evaluate_days_blended};
use crate::family_cache::CachedFamily;
use crate::features::Normalization;
use crate::lear::{self, DayForecasts, LearConfig};
use crate::trained::{HourDistribution, TrainedModel};

/// Steps of a share: 0, 0.05, …, 1.
const SHARE_STEPS: u32 = 20;

/// The block counts the cross-validation chooses from: every divisor of 24.
const BLOCK_COUNTS: [usize; 8] = [1, 2, 3, 4, 6, 8, 12, 24];

/// Folds of the cross-validation over the validation period's weeks.
const FOLDS: usize = 4;

/// One model family's point forecasts and its shares in a [`Blend`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlendMember {
    /// `lear` or `dnn`.
    pub name: String,
    /// Its share, 0 to 1, in each block of hours of the day: `weights[b]` covers the hours
    /// `b · 24 / weights.len()` up to the next block's first. One share means the whole day.
    pub weights: Vec<f64>,
    /// Its forecasts; they must cover every day the blend is applied to.
    pub forecasts: DayForecasts,
}

impl BlendMember {
    /// Its share at `hour` (an hour index of the dataset).
    pub fn weight(&self, hour: usize) -> f64 {
        self.weights[block_of(hour % HOURS_PER_DAY, self.weights.len())]
    }
}

/// The block of an hour of the day when the day is cut into `blocks` equal blocks.
fn block_of(hour_of_day: usize, blocks: usize) -> usize {
    hour_of_day * blocks / HOURS_PER_DAY
}

/// The networks' forecasts blended with other families' point forecasts, in model space.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Blend {
    /// The families beside the networks; at each hour the networks keep `1 − Σ weight`.
    /// All members have the same number of blocks.
    pub members: Vec<BlendMember>,
}

impl Blend {
    /// Whether every member forecast `hour`.
    pub fn covers(&self, hour: usize) -> bool {
        self.members
            .iter()
            .all(|m| m.forecasts.hour(hour).is_some())
    }

    /// Blends the distribution of `hour` in place.
    pub(crate) fn apply(
        &self,
        data: &EpfDataset,
        norm: &Normalization,
        hour: usize,
        distribution: &mut HourDistribution,
    ) -> Result<()> {
        let networks = 1.0 - self.members.iter().map(|m| m.weight(hour)).sum::<f64>();
        let mut location = networks * distribution.loc;
        for member in &self.members {
            let price = member
                .forecasts
                .hour(hour)
                .ok_or_else(|| ForecastError::Shape {
                    dataset: data.name().to_owned(),
                    message: format!(
                        "{} forecasts days {:?}, not day {}",
                        member.name,
                        member.forecasts.days,
                        hour / HOURS_PER_DAY
                    ),
                })?;
            location += member.weight(hour) * norm.price_to_model(price);
        }
        distribution.loc = location;
        Ok(())
    }
}

/// Which families join the networks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BlendConfig {
    /// LEAR, if set.
    pub lear: Option<LearConfig>,
    /// The DNN, if set.
    pub dnn: Option<DnnConfig>,
    /// A folder where each family's forecasts are kept and, when the data, days and
    /// settings match, read back instead of computed ([`crate::family_cache`]).
    pub cache_folder: Option<PathBuf>,
}

/// What [`evaluate_blended`] measured besides the blend's evaluation.
#[derive(Debug, Clone)]
pub struct BlendReport {
    /// The blend, with its shares chosen on the validation period and every member's
    /// forecasts: of the validation and test periods, and of the interval calibration's
    /// window before the test period if that is longer.
    pub blend: Blend,
    /// Validation rMAE of the networks alone and of the blend.
    pub validation_rmae: (f64, f64),
    /// The cross-validated rMAE of each block count tried, in [`BLOCK_COUNTS`] order (empty
    /// when the validation period was too short to try more than one).
    pub blocks_tried: Vec<(usize, f64)>,
    /// Test rMAE of each member alone, in the order of [`Blend::members`].
    pub member_test_rmae: Vec<f64>,
    /// Seconds each member took to forecast (or to be read from the cache).
    pub member_seconds: Vec<f64>,
    /// Whether each member's forecasts were read from [`BlendConfig::cache_folder`].
    pub member_from_cache: Vec<bool>,
    /// The networks alone on the test period.
    pub networks: Evaluation,
}

/// Evaluates `model` on the test period blended with the families of `config` (day-ahead
/// models only). `progress` is called with a member's name, the days it has forecast and
/// their total.
pub fn evaluate_blended(
    model: &TrainedModel,
    data: &EpfDataset,
    config: &BlendConfig,
    progress: impl Fn(&str, usize, usize) + Sync,
) -> Result<(Evaluation, BlendReport)> {
    let shape = |message: String| ForecastError::Shape {
        dataset: data.name().to_owned(),
        message,
    };
    if model.horizon_hours() != HOURS_PER_DAY {
        return Err(shape("the blend forecasts the next day only".to_owned()));
    }
    // A bad setting is reported before LEAR's minutes of work, not after.
    if let Some(dnn_config) = &config.dnn {
        dnn_config.validate(data)?;
    }
    let split = model.meta().config.split.split(data)?;
    let window = model.meta().config.interval_window_days;
    // The interval calibration looks back `window` days from the test period's start.
    let first = split
        .validation
        .start
        .min(split.test.start.saturating_sub(window))
        .max(lear::MINIMUM_DAY);
    let days = first..split.test.end;
    let mut blend = Blend::default();
    let mut member_seconds = Vec::new();
    let mut member_from_cache = Vec::new();
    let mut add = |name: &str,
                   cached: Option<CachedFamily>,
                   forecast: &dyn Fn() -> Result<DayForecasts>|
     -> Result<()> {
        let started = std::time::Instant::now();
        let loaded = cached.as_ref().and_then(|cached| {
            let forecasts = cached.load()?;
            tracing::info!(family = name, path = %cached.path().display(), "read from the cache");
            Some(forecasts)
        });
        let loaded_from_cache = loaded.is_some();
        let forecasts = match loaded {
            Some(forecasts) => forecasts,
            None => {
                let forecasts = forecast()?;
                if let Some(cached) = &cached {
                    cached
                        .store(&forecasts)
                        .map_err(|e| ForecastError::io(cached.path(), e))?;
                }
                forecasts
            }
        };
        member_seconds.push(started.elapsed().as_secs_f64());
        member_from_cache.push(loaded_from_cache);
        blend.members.push(BlendMember {
            name: name.to_owned(),
            weights: vec![0.0],
            forecasts,
        });
        Ok(())
    };
    if let Some(lear_config) = &config.lear {
        let total = days.len();
        let cached = config
            .cache_folder
            .as_deref()
            .map(|folder| CachedFamily::new(folder, "lear", data, days.clone(), lear_config));
        add("lear", cached, &|| {
            lear::forecast_days(data, days.clone(), lear_config, |done| {
                progress("LEAR", done, total)
            })
        })?;
    }
    if let Some(dnn_config) = &config.dnn {
        let cached = config
            .cache_folder
            .as_deref()
            .map(|folder| CachedFamily::new(folder, "dnn", data, days.clone(), dnn_config));
        add("dnn", cached, &|| {
            dnn::forecast_days(data, days.clone(), dnn_config, |done, total| {
                progress("DNN", done, total)
            })
        })?;
    }
    let norm = &model.meta().normalization;
    let validation_hours =
        split.validation.start * HOURS_PER_DAY..split.validation.end * HOURS_PER_DAY;
    let validation = model.predict(data, split.validation.clone())?;
    // Each validation hour in model space: the networks' location, then each member's.
    let mut points = Vec::with_capacity(validation.len());
    for (hour, distribution) in validation_hours.clone().zip(&validation) {
        let mut locations = vec![distribution.loc];
        for member in &blend.members {
            let price = member
                .forecasts
                .hour(hour)
                .ok_or_else(|| shape(format!("{} did not forecast hour {hour}", member.name)))?;
            locations.push(norm.price_to_model(price));
        }
        points.push(ValidationPoint {
            actual: data.prices()[hour],
            hour_of_day: hour % HOURS_PER_DAY,
            fold: (hour / HOURS_PER_DAY - split.validation.start) / 7 % FOLDS,
            locations,
        });
    }
    let naive = naive_error(data, validation_hours);
    let chosen = choose_shares(&points, blend.members.len(), norm, split.validation.len());
    let fitted = chosen.shares;
    for (index, member) in blend.members.iter_mut().enumerate() {
        member.weights = fitted.iter().map(|block| block[index]).collect();
    }
    let test_hours = split.test.start * HOURS_PER_DAY..split.test.end * HOURS_PER_DAY;
    let naive_test = naive_error(data, test_hours.clone());
    let member_test_rmae = blend
        .members
        .iter()
        .map(|member| {
            let error: f64 = test_hours
                .clone()
                .map(|h| (member.forecasts.hour(h).unwrap_or(f64::NAN) - data.prices()[h]).abs())
                .sum();
            error / naive_test
        })
        .collect();
    let evaluation = evaluate_days_blended(model, data, split.test.clone(), Some(&blend))?;
    let report = BlendReport {
        blend,
        validation_rmae: (chosen.alone / naive, chosen.blended / naive),
        blocks_tried: chosen
            .blocks_tried
            .into_iter()
            .map(|(blocks, error)| (blocks, error / naive))
            .collect(),
        member_test_rmae,
        member_seconds,
        member_from_cache,
        networks: evaluate_days(model, data, split.test)?,
    };
    Ok((evaluation, report))
}

/// The shares [`choose_shares`] settled on, and the summed absolute errors behind them.
struct ChosenShares {
    /// One share vector (a share per member) per block of hours.
    shares: Vec<Vec<f64>>,
    /// Each block count tried and its held-out error summed over the folds.
    blocks_tried: Vec<(usize, f64)>,
    /// The networks alone on every point.
    alone: f64,
    /// The chosen shares on every point.
    blended: f64,
}

/// Chooses the block count by cross-validation over the folds of the `points` (when the
/// validation period has `days` of at least eight weeks) and fits its shares on all of them.
fn choose_shares(
    points: &[ValidationPoint],
    members: usize,
    norm: &Normalization,
    days: usize,
) -> ChosenShares {
    let shares = Shares {
        points,
        grid: share_grid(members),
        norm,
    };
    let mut blocks_tried = Vec::new();
    if days >= 2 * FOLDS * 7 {
        for blocks in BLOCK_COUNTS {
            let held_out: f64 = (0..FOLDS)
                .map(|fold| {
                    let fitted = shares.fit(blocks, |p| p.fold != fold);
                    shares.error(&fitted, |p| p.fold == fold)
                })
                .sum();
            blocks_tried.push((blocks, held_out));
        }
    }
    let blocks = blocks_tried
        .iter()
        .fold((1, f64::INFINITY), |best, &(blocks, error)| {
            if error < best.1 {
                (blocks, error)
            } else {
                best
            }
        })
        .0;
    let fitted = shares.fit(blocks, |_| true);
    ChosenShares {
        alone: shares.error(&[vec![0.0; members]], |_| true),
        blended: shares.error(&fitted, |_| true),
        shares: fitted,
        blocks_tried,
    }
}

/// A validation hour: the actual price and each family's location in model space (the
/// networks' first).
struct ValidationPoint {
    actual: f64,
    hour_of_day: usize,
    fold: usize,
    locations: Vec<f64>,
}

/// Fits and scores shares on validation points.
struct Shares<'a> {
    points: &'a [ValidationPoint],
    grid: Vec<Vec<f64>>,
    norm: &'a Normalization,
}

impl Shares<'_> {
    /// The absolute error of one point under the members' `weights`.
    fn point_error(&self, point: &ValidationPoint, weights: &[f64]) -> f64 {
        let networks = 1.0 - weights.iter().sum::<f64>();
        let location = networks * point.locations[0]
            + weights
                .iter()
                .zip(&point.locations[1..])
                .map(|(w, v)| w * v)
                .sum::<f64>();
        (self.norm.price_from_model(location) - point.actual).abs()
    }

    /// The summed error of the points `keep` selects, with one share vector per block of
    /// hours (`shares.len()` blocks).
    fn error(&self, shares: &[Vec<f64>], keep: impl Fn(&ValidationPoint) -> bool) -> f64 {
        self.points
            .iter()
            .filter(|p| keep(p))
            .map(|p| self.point_error(p, &shares[block_of(p.hour_of_day, shares.len())]))
            .sum()
    }

    /// Per block of hours, the grid's shares with the lowest error on the points `keep`
    /// selects (the first in grid order on a tie: no member before a member).
    fn fit(&self, blocks: usize, keep: impl Fn(&ValidationPoint) -> bool) -> Vec<Vec<f64>> {
        (0..blocks)
            .map(|block| {
                let in_block: Vec<&ValidationPoint> = self
                    .points
                    .iter()
                    .filter(|p| block_of(p.hour_of_day, blocks) == block && keep(p))
                    .collect();
                let mut best = (f64::INFINITY, &self.grid[0]);
                for weights in &self.grid {
                    let error: f64 = in_block.iter().map(|p| self.point_error(p, weights)).sum();
                    if error < best.0 {
                        best = (error, weights);
                    }
                }
                best.1.clone()
            })
            .collect()
    }
}

/// Every combination of `members` shares on the 0.05 grid whose sum is at most 1, in
/// lexicographic order.
fn share_grid(members: usize) -> Vec<Vec<f64>> {
    let mut grid = vec![Vec::new()];
    for _ in 0..members {
        let mut next = Vec::new();
        for prefix in &grid {
            let used: u32 = prefix.iter().sum();
            for step in 0..=SHARE_STEPS - used {
                let mut extended = prefix.clone();
                extended.push(step);
                next.push(extended);
            }
        }
        grid = next;
    }
    grid.into_iter()
        .map(|steps| {
            steps
                .into_iter()
                .map(|s| f64::from(s) / f64::from(SHARE_STEPS))
                .collect()
        })
        .collect()
}

/// The 168-hour naive's summed absolute error over `hours`.
pub(crate) fn naive_error(data: &EpfDataset, hours: Range<usize>) -> f64 {
    hours
        .map(|h| (data.prices()[h] - data.prices()[h - HISTORY_DAYS * HOURS_PER_DAY]).abs())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_grid_covers_the_simplex_in_steps_of_a_twentieth() {
        assert_eq!(share_grid(0), vec![Vec::<f64>::new()]);
        assert_eq!(share_grid(1).len(), 21);
        let two = share_grid(2);
        assert_eq!(two.len(), 231);
        assert!(two.iter().all(|w| w.iter().sum::<f64>() <= 1.0 + 1e-12));
        assert!(two.contains(&vec![0.45, 0.35]));
        assert!(two.contains(&vec![0.0, 1.0]));
    }

    /// `days` of validation points where the networks are right in the afternoon and off by
    /// a day-dependent amount in the morning, and the member the other way round.
    fn half_day_points(days: usize) -> Vec<ValidationPoint> {
        (0..days * HOURS_PER_DAY)
            .map(|hour| {
                let actual = 30.0 + (hour % 17) as f64;
                let model = (actual - 30.0) / 10.0;
                let off = 0.3 + 0.1 * ((hour / HOURS_PER_DAY) % 5) as f64;
                let morning = hour % HOURS_PER_DAY < 12;
                let networks = if morning {
                    model.asinh() + off
                } else {
                    model.asinh()
                };
                let member = if morning {
                    model.asinh()
                } else {
                    model.asinh() - off
                };
                ValidationPoint {
                    actual,
                    hour_of_day: hour % HOURS_PER_DAY,
                    fold: hour / HOURS_PER_DAY / 7 % FOLDS,
                    locations: vec![networks, member],
                }
            })
            .collect()
    }

    fn norm() -> Normalization {
        Normalization {
            price_median: 30.0,
            price_iqr: 10.0,
            exogenous_median: [0.0; 2],
            exogenous_iqr: [1.0; 2],
        }
    }

    #[test]
    fn cross_validation_gives_the_morning_and_the_afternoon_their_own_shares() {
        let points = half_day_points(56);
        let chosen = choose_shares(&points, 1, &norm(), 56);
        assert_eq!(chosen.blocks_tried.len(), BLOCK_COUNTS.len());
        // One share for the whole day errs on the held-out weeks; two blocks do not.
        let held_out = |blocks| {
            chosen
                .blocks_tried
                .iter()
                .find(|t| t.0 == blocks)
                .unwrap()
                .1
        };
        assert!(
            held_out(1) > 100.0 * held_out(2),
            "{:?}",
            chosen.blocks_tried
        );
        assert!(held_out(3) > 100.0 * held_out(2), "hour 12 inside a block");
        // The fewest blocks with the lowest held-out error: two (four and six tie or lose).
        assert_eq!(chosen.shares, vec![vec![1.0], vec![0.0]]);
        assert!(
            chosen.blended < 1e-9 * chosen.alone,
            "{} {}",
            chosen.blended,
            chosen.alone
        );
    }

    #[test]
    fn a_short_validation_period_keeps_one_share_for_the_whole_day() {
        let points = half_day_points(55);
        let chosen = choose_shares(&points, 1, &norm(), 55);
        assert!(chosen.blocks_tried.is_empty());
        assert_eq!(chosen.shares.len(), 1);
        // One share cannot be right in both halves of the day.
        assert!(chosen.blended <= chosen.alone);
        assert!(
            chosen.blended > 0.1 * chosen.alone,
            "{} {}",
            chosen.blended,
            chosen.alone
        );
    }
}
