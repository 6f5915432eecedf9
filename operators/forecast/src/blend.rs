//! The benchmark with the other model families beside the networks: LEAR ([`crate::lear`],
//! recalibrated every day) and the DNN ([`crate::dnn`], recalibrated every two weeks)
//! forecast the validation and test periods, and each test hour's location becomes
//!
//! `(1 − Σ wᵢ) · networks' location + Σ wᵢ · price_to_model(member i's price)`
//!
//! in model space; the scale stays the networks' and goes through the same trailing interval
//! recalibration. The shares are the ones on a 0.05 grid (summing to at most 1) with the
//! lowest MAE on the validation period, which the networks did not train on and which ends
//! where the test period starts; the test period is never read to choose them.

use std::ops::Range;

use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};
use crate::dnn::{self, DnnConfig};
use crate::error::{ForecastError, Result};
use crate::evaluate::{Evaluation, evaluate_days, evaluate_days_blended};
use crate::features::Normalization;
use crate::lear::{self, DayForecasts, LearConfig};
use crate::trained::{HourDistribution, TrainedModel};

/// Steps of a share: 0, 0.05, …, 1.
const SHARE_STEPS: u32 = 20;

/// One model family's point forecasts and its share in a [`Blend`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlendMember {
    /// `lear` or `dnn`.
    pub name: String,
    /// Its share, 0 to 1.
    pub weight: f64,
    /// Its forecasts; they must cover every day the blend is applied to.
    pub forecasts: DayForecasts,
}

/// The networks' forecasts blended with other families' point forecasts, in model space.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Blend {
    /// The families beside the networks; the networks keep `1 − Σ weight`.
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
        let networks = 1.0 - self.members.iter().map(|m| m.weight).sum::<f64>();
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
            location += member.weight * norm.price_to_model(price);
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
    /// Test rMAE of each member alone, in the order of [`Blend::members`].
    pub member_test_rmae: Vec<f64>,
    /// Seconds each member took to forecast.
    pub member_seconds: Vec<f64>,
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
    let mut add = |name: &str, forecast: &dyn Fn() -> Result<DayForecasts>| -> Result<()> {
        let started = std::time::Instant::now();
        let forecasts = forecast()?;
        member_seconds.push(started.elapsed().as_secs_f64());
        blend.members.push(BlendMember {
            name: name.to_owned(),
            weight: 0.0,
            forecasts,
        });
        Ok(())
    };
    if let Some(lear_config) = &config.lear {
        let total = days.len();
        add("lear", &|| {
            lear::forecast_days(data, days.clone(), lear_config, |done| {
                progress("LEAR", done, total)
            })
        })?;
    }
    if let Some(dnn_config) = &config.dnn {
        add("dnn", &|| {
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
        let mut point = vec![distribution.loc];
        for member in &blend.members {
            let price = member
                .forecasts
                .hour(hour)
                .ok_or_else(|| shape(format!("{} did not forecast hour {hour}", member.name)))?;
            point.push(norm.price_to_model(price));
        }
        points.push((data.prices()[hour], point));
    }
    let naive = naive_error(data, validation_hours);
    let rmae = |weights: &[f64]| {
        let networks = 1.0 - weights.iter().sum::<f64>();
        let error: f64 = points
            .iter()
            .map(|(actual, point)| {
                let location = networks * point[0]
                    + weights
                        .iter()
                        .zip(&point[1..])
                        .map(|(w, v)| w * v)
                        .sum::<f64>();
                (norm.price_from_model(location) - actual).abs()
            })
            .sum();
        error / naive
    };
    let alone = rmae(&vec![0.0; blend.members.len()]);
    let mut best = (alone, vec![0.0; blend.members.len()]);
    for weights in share_grid(blend.members.len()) {
        let candidate = rmae(&weights);
        if candidate < best.0 {
            best = (candidate, weights);
        }
    }
    for (member, &weight) in blend.members.iter_mut().zip(&best.1) {
        member.weight = weight;
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
        validation_rmae: (alone, best.0),
        member_test_rmae,
        member_seconds,
        networks: evaluate_days(model, data, split.test)?,
    };
    Ok((evaluation, report))
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
}
