//! The benchmark with the other model families beside the networks: LEAR ([`crate::lear`],
//! recalibrated every day) and the DNN ([`crate::dnn`], recalibrated every 7 days by default)
//! forecast the validation and test periods, and each test hour's location becomes
//!
//! `(1 − Σ wᵢ) · networks' location + Σ wᵢ · price_to_model(member i's price)`
//!
//! in model space; the scale stays the networks' and goes through the same trailing interval
//! recalibration. The shares are the ones on a 0.05 grid (summing to at most 1) with the
//! lowest MAE on the validation period, which the networks did not train on and which ends
//! where the test period starts. Then, like LEAR, they are recalibrated as prices are
//! realised: before each test day (every `shares_every_days`) they are chosen again the same
//! way on the validation period and the test days before it, so no test day's prices are
//! read before it is forecast. On the validation period itself (its first half choosing,
//! its second half scored) re-choosing every day beat choosing once on both markets.
//!
//! The shares may differ between blocks of hours of the day (one family is better at night,
//! another in the peak hours). How many blocks — 1, 2, 3, 4, 6, 8, 12 or 24 — is chosen by
//! cross-validation over the realised days: their weeks are dealt into four folds, each
//! fold's shares are fitted on the other three and scored on it, and the block count with the
//! lowest held-out error wins (the fewer blocks on a tie). Under eight weeks of realised
//! days, one share per family covers the whole day. The `shares` module keeps every grid vector's
//! error summed per fold and hour, so choosing again after a day costs a pass over those
//! sums (about a second for the 727 choices of the benchmark's test period).

mod shares;

use std::ops::Range;
use std::path::PathBuf;

use shares::{CROSS_VALIDATION_DAYS, ShareErrors, SharePoint, fold_of};

use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};
use crate::dnn::{self, DnnConfig};
use crate::error::{ForecastError, Result};
use crate::evaluate::{Evaluation, evaluate_predicted, prediction_days};
use crate::family_cache::CachedFamily;
use crate::features::Normalization;
use crate::lear::{self, DayForecasts, LearConfig};
use crate::trained::{HourDistribution, TrainedModel};

/// One model family's point forecasts and its shares in a [`Blend`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlendMember {
    /// `lear` or `dnn`.
    pub name: String,
    /// Its share, 0 to 1, in each block of hours of the day: `weights[b]` covers the hours
    /// `b · 24 / weights.len()` up to the next block's first. One share means the whole day.
    pub weights: Vec<f64>,
    /// Shares re-chosen as realised prices came in: from each entry's day (a day index of
    /// the dataset) on, until the next entry's, its shares per block replace `weights`.
    /// In day order; empty when the shares were chosen once.
    pub rechosen: Vec<(usize, Vec<f64>)>,
    /// Its forecasts; they must cover every day the blend is applied to.
    pub forecasts: DayForecasts,
}

impl BlendMember {
    /// Its share at `hour` (an hour index of the dataset).
    pub fn weight(&self, hour: usize) -> f64 {
        let day = hour / HOURS_PER_DAY;
        let entries = self
            .rechosen
            .partition_point(|(first_day, _)| *first_day <= day);
        let weights = match entries {
            0 => &self.weights,
            n => &self.rechosen[n - 1].1,
        };
        weights[block_of(hour % HOURS_PER_DAY, weights.len())]
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

/// Which families join the networks, and how their shares are chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendConfig {
    /// LEAR, if set.
    pub lear: Option<LearConfig>,
    /// The DNN, if set.
    pub dnn: Option<DnnConfig>,
    /// A folder where each family's forecasts are kept and, when the data, days and
    /// settings match, read back instead of computed ([`crate::family_cache`]).
    pub cache_folder: Option<PathBuf>,
    /// 0: the shares are chosen once, on the validation period. `k`: chosen there first,
    /// then again before every `k`-th test day, on the validation period and every test
    /// day before it (realised prices only), the block count cross-validated each time.
    /// Default [`DEFAULT_SHARES_EVERY_DAYS`].
    pub shares_every_days: usize,
}

/// Days between choices of the shares during the test period: every day.
pub const DEFAULT_SHARES_EVERY_DAYS: usize = 1;

impl Default for BlendConfig {
    fn default() -> Self {
        Self {
            lear: None,
            dnn: None,
            cache_folder: None,
            shares_every_days: DEFAULT_SHARES_EVERY_DAYS,
        }
    }
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
    /// The cross-validated rMAE on the validation period of each block count tried, in
    /// ascending order (1, 2, 3, 4, 6, 8, 12, 24); empty when it was too short to try more
    /// than one.
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
            rechosen: Vec::new(),
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
    // Each realised hour in model space: the networks' location, then each member's.
    let point = |hour: usize, distribution: &HourDistribution| -> Result<SharePoint> {
        let mut locations = vec![distribution.loc];
        for member in &blend.members {
            let price = member
                .forecasts
                .hour(hour)
                .ok_or_else(|| shape(format!("{} did not forecast hour {hour}", member.name)))?;
            locations.push(norm.price_to_model(price));
        }
        Ok(SharePoint {
            actual: data.prices()[hour],
            hour_of_day: hour % HOURS_PER_DAY,
            fold: fold_of(hour / HOURS_PER_DAY, split.validation.start),
            locations,
        })
    };
    let mut errors = ShareErrors::new(blend.members.len(), norm);
    let validation = model.predict(data, split.validation.clone())?;
    for (hour, distribution) in validation_hours.clone().zip(&validation) {
        errors.add(&point(hour, distribution)?);
    }
    let naive = naive_error(data, validation_hours);
    let chosen = errors.choose(split.validation.len() >= CROSS_VALIDATION_DAYS);
    // The test period and the interval calibration's window before it, predicted once for
    // the shares chosen again, the blend's evaluation and the networks' own.
    let predicted_days = prediction_days(model, data, split.test.clone())?;
    let test_predicted = model.predict(data, predicted_days.clone())?;
    let mut rechosen = Vec::new();
    if config.shares_every_days > 0 {
        // Before every k-th test day, the test days since the last choice join the sums
        // (their prices are realised by then) and the shares are chosen again.
        let first_hour = predicted_days.start * HOURS_PER_DAY;
        let mut added = split.test.start;
        for day in split.test.clone().step_by(config.shares_every_days).skip(1) {
            for hour in added * HOURS_PER_DAY..day * HOURS_PER_DAY {
                errors.add(&point(hour, &test_predicted[hour - first_hour])?);
            }
            added = day;
            let days = day - split.validation.start;
            rechosen.push((day, errors.choose(days >= CROSS_VALIDATION_DAYS).shares));
        }
    }
    for (index, member) in blend.members.iter_mut().enumerate() {
        member.weights = chosen.shares.iter().map(|block| block[index]).collect();
        member.rechosen = rechosen
            .iter()
            .map(|(day, shares)| (*day, shares.iter().map(|block| block[index]).collect()))
            .collect();
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
    let networks = evaluate_predicted(
        model,
        data,
        split.test.clone(),
        None,
        test_predicted.clone(),
    )?;
    let evaluation = evaluate_predicted(
        model,
        data,
        split.test.clone(),
        Some(&blend),
        test_predicted,
    )?;
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
        networks,
    };
    Ok((evaluation, report))
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
    fn a_member_takes_the_shares_chosen_last_before_each_day() {
        let member = BlendMember {
            name: "lear".to_owned(),
            weights: vec![0.1, 0.2],
            rechosen: vec![(10, vec![0.3]), (12, vec![0.4, 0.5, 0.6])],
            forecasts: DayForecasts {
                days: 0..20,
                prices: vec![0.0; 20 * HOURS_PER_DAY],
            },
        };
        let at = |day: usize, hour: usize| member.weight(day * HOURS_PER_DAY + hour);
        assert_eq!((at(9, 0), at(9, 23)), (0.1, 0.2));
        assert_eq!((at(10, 0), at(11, 23)), (0.3, 0.3));
        assert_eq!((at(12, 0), at(12, 8), at(19, 23)), (0.4, 0.5, 0.6));
    }
}
