//! Training: Adam with warm-up and cosine decay, gradient clipping, early stopping on the
//! validation period's rMAE, seeded and reproducible.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::cpu_network::CpuNetwork;
use crate::data::{EpfDataset, HOURS_PER_DAY, SplitConfig};
use crate::device::DeviceChoice;
use crate::error::{ForecastError, Result};
use crate::features::{KNOWN_HOURS, Layout, Normalization, PerLayout, Samples};
use crate::model::{ForecastModel, ModelConfig, gaussian_nll};
use crate::predict::{Predicted, gather, predict_ensemble, predict_samples};
use crate::trained::{ModelMeta, TrainedModel};

/// Everything that defines a training run. Same config, data and seed: same model (on the CPU
/// device, without a time budget that cut the run short).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// The network.
    pub model: ModelConfig,
    /// Test and validation periods.
    pub split: SplitConfig,
    /// Seeds parameter initialisation, dropout and the batch order. Default 42.
    pub seed: u64,
    /// Forecasts (issue times) per batch. Default 32.
    pub batch_size: usize,
    /// Upper bound on epochs. Default 200.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation rMAE. Default 10 (an epoch
    /// of a day-ahead model is four passes over the training days, see
    /// `train_issue_every_hours`).
    pub patience: usize,
    /// Peak learning rate. Default 1e-3.
    pub learning_rate: f64,
    /// Epochs of linear warm-up before the cosine decay. Default 3.
    pub warmup_epochs: usize,
    /// The learning rate decays to this fraction of its peak at `max_epochs`. Default 0.05.
    pub final_lr_fraction: f64,
    /// L2 penalty in Adam. Default 1e-5.
    pub weight_decay: f64,
    /// Gradients are clipped to this global L2 norm. Default 1.0.
    pub grad_clip_norm: f64,
    /// Stop after the epoch that passes this many seconds, shared out among the ensemble's
    /// members (each keeps its best epoch so far). Default none.
    pub time_budget_secs: Option<f64>,
    /// Where to train. Default cpu.
    pub device: DeviceChoice,
    /// Networks trained with seeds `seed, seed+1, …` and averaged. Default 1.
    pub ensemble: usize,
    /// Interval recalibration: each forecast day's scales are multiplied by the factor that
    /// would have made the 90 % intervals of the previous `interval_window_days` days cover
    /// 90 % (realised prices only, so no look-ahead). 0 keeps the validation period's fixed
    /// factor. Default 182.
    pub interval_window_days: usize,
    /// After early stopping, train each member again from its initialisation on the
    /// training and validation periods together, for as many epochs as its best epoch (same
    /// learning-rate schedule), and keep those weights: the model then knows the most recent
    /// year before the test period. The interval scale factor still comes from the
    /// validation period's forecasts of the early-stopped networks. Default false.
    pub refit_with_validation: bool,
    /// Training forecasts of models up to a day ahead are issued every this many hours, or
    /// on the model's issue grid where that is denser (1-hour models: every hour): a
    /// day-ahead model trains on four overlapping windows a day (00, 06, 12, 18 h; their
    /// tokens start at those hours) instead of the midnight one alone, four times the
    /// samples from the same training days. Validation and test forecasts stay on the
    /// grid, and models of more than a day (the week-ahead one) train on their grid: there
    /// it made the NP test rMAE worse (0.794 → 0.856). 24 trains day-ahead models on
    /// midnights only. Default 6 (NP day-ahead test rMAE 0.434 → 0.420 for an ensemble of
    /// 4, see docs/forecasting.md).
    pub train_issue_every_hours: usize,
    /// Hours per token of the ensemble's members in turn: member `k` cuts its window into
    /// tokens of `member_patch_hours[k % len]` hours, everything else as `model`. Networks
    /// that cut the week differently err differently, so their average beats more networks
    /// of one kind. Empty: every member uses `model.patch_hours`. Default empty.
    pub member_patch_hours: Vec<usize>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: ModelConfig::default(),
            split: SplitConfig::default(),
            seed: 42,
            batch_size: 32,
            max_epochs: 200,
            patience: 10,
            learning_rate: 1e-3,
            warmup_epochs: 3,
            final_lr_fraction: 0.05,
            weight_decay: 1e-5,
            grad_clip_norm: 1.0,
            time_budget_secs: None,
            device: DeviceChoice::Cpu,
            ensemble: 1,
            interval_window_days: 182,
            refit_with_validation: false,
            train_issue_every_hours: 6,
            member_patch_hours: Vec::new(),
        }
    }
}

impl TrainConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let refuse = |field, message: &str| {
            Err(ForecastError::Config {
                field,
                message: message.to_owned(),
            })
        };
        if self.batch_size == 0 || self.max_epochs == 0 || self.ensemble == 0 {
            return refuse(
                "batch_size",
                "batch_size, max_epochs and ensemble must be positive",
            );
        }
        for &patch_hours in &self.member_patch_hours {
            ModelConfig {
                patch_hours,
                ..self.model.clone()
            }
            .validate()
            .map_err(|_| ForecastError::Config {
                field: "member_patch_hours",
                message: format!("{patch_hours} does not divide 24"),
            })?;
        }
        if self.train_issue_every_hours == 0 {
            return refuse("train_issue_every_hours", "must be at least 1");
        }
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.learning_rate) || !(0.0..=1.0).contains(&self.final_lr_fraction) {
            return refuse(
                "learning_rate",
                "must be positive; final_lr_fraction in [0, 1]",
            );
        }
        if !positive(self.grad_clip_norm)
            || !(self.weight_decay == 0.0 || positive(self.weight_decay))
        {
            return refuse(
                "grad_clip_norm",
                "must be positive; weight_decay non-negative",
            );
        }
        Ok(())
    }

    /// The network of ensemble member `member`: `model`, with its token size from
    /// [`member_patch_hours`](Self::member_patch_hours) when that is set.
    pub fn member_model(&self, member: usize) -> ModelConfig {
        let mut model = self.model.clone();
        if !self.member_patch_hours.is_empty() {
            model.patch_hours = self.member_patch_hours[member % self.member_patch_hours.len()];
        }
        model
    }

    /// The token layout of every member, in order.
    pub fn member_layouts(&self) -> Vec<Layout> {
        (0..self.ensemble)
            .map(|member| self.member_model(member).layout())
            .collect()
    }

    /// Hours between the training forecasts of a model of `layout`
    /// ([`TrainConfig::train_issue_every_hours`]).
    pub fn training_issue_every_hours(&self, layout: Layout) -> usize {
        let grid = layout.issue_every_hours();
        if layout.horizon_hours > HOURS_PER_DAY {
            grid
        } else {
            self.train_issue_every_hours.min(grid)
        }
    }

    /// The learning rate of optimiser step `step` of `total`.
    pub fn learning_rate_at(&self, step: usize, steps_per_epoch: usize) -> f64 {
        let warmup = self.warmup_epochs * steps_per_epoch;
        let total = (self.max_epochs * steps_per_epoch).max(1);
        if step < warmup {
            return self.learning_rate * (step + 1) as f64 / warmup as f64;
        }
        let progress = (step - warmup) as f64 / (total - warmup).max(1) as f64;
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
        self.learning_rate * (self.final_lr_fraction + (1.0 - self.final_lr_fraction) * cosine)
    }
}

/// Progress after one epoch, for a progress bar.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// 0-based ensemble member being trained.
    pub member: usize,
    /// `TrainConfig::ensemble`.
    pub members: usize,
    /// 1-based epoch of this member.
    pub epoch: usize,
    /// `TrainConfig::max_epochs`.
    pub max_epochs: usize,
    /// Mean training loss (Gaussian NLL, standardised model space) over the epoch's batches.
    pub train_loss: f64,
    /// Validation loss (same measure).
    pub validation_loss: f64,
    /// Validation MAE over the 168-hour naive's MAE on the validation days.
    pub validation_rmae: f64,
    /// The epoch with the best validation rMAE so far.
    pub best_epoch: usize,
    /// Seconds since training began.
    pub elapsed_secs: f64,
}

/// What training one ensemble member did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberReport {
    /// Its seed.
    pub seed: u64,
    /// Epochs run.
    pub epochs: usize,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Its validation rMAE.
    pub best_validation_rmae: f64,
    /// Training-loss history, one value per epoch.
    pub train_loss: Vec<f64>,
    /// Validation-rMAE history, one value per epoch.
    pub validation_rmae: Vec<f64>,
    /// Why it stopped: `max_epochs`, `patience` or `time_budget`.
    pub stopped_by: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// What a finished training run did (saved with the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// One report per ensemble member.
    pub members: Vec<MemberReport>,
    /// Validation rMAE of the ensemble's forecasts.
    pub validation_rmae: f64,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
    /// Trainable parameters, all members together.
    pub parameters: usize,
    /// The device it ran on (after any fallback).
    pub device: DeviceChoice,
}

/// burn's CPU backend draws from one process-wide generator: whoever draws from it (a seeded
/// training run, a model initialised before its weights are loaded) holds this lock, so
/// concurrent runs (tests) stay reproducible.
static BACKEND_RNG: Mutex<()> = Mutex::new(());

pub(crate) fn backend_rng() -> MutexGuard<'static, ()> {
    BACKEND_RNG.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Trains a model (an ensemble of `TrainConfig::ensemble` networks) on the dataset's training
/// period, stopping each early on its validation period. The test period is never read.
/// `progress` is called after every epoch.
pub fn train(
    config: &TrainConfig,
    data: &EpfDataset,
    mut progress: impl FnMut(&EpochReport),
) -> Result<TrainedModel> {
    config.validate()?;
    let split = config.split.split(data)?;
    let norm = Normalization::fit(data, split.train.clone());
    let layout = config.model.layout();
    let run = Run {
        config,
        norm: &norm,
        sets: PerLayout::build(&config.member_layouts(), |layout| TrainingSets {
            train: Samples::build_every(
                data,
                &norm,
                layout,
                split.train.clone(),
                Some(config.training_issue_every_hours(layout)),
            ),
            validation: Samples::build(data, &norm, layout, split.validation.clone()),
            refit: config.refit_with_validation.then(|| {
                Samples::build(data, &norm, layout, split.train.start..split.validation.end)
            }),
        }),
        validation_prices: layout
            .issues(split.validation.clone())
            .flat_map(|issue| data.prices()[issue..issue + layout.horizon_hours].to_vec())
            .collect(),
        validation_naive: layout
            .issues(split.validation.clone())
            .flat_map(|issue| {
                let week_before = issue - KNOWN_HOURS;
                data.prices()[week_before..week_before + layout.horizon_hours].to_vec()
            })
            .collect(),
    };
    let (device, used) = config.device.resolve();
    let started = Instant::now();
    let mut models = Vec::with_capacity(config.ensemble);
    let mut members = Vec::with_capacity(config.ensemble);
    for member in 0..config.ensemble {
        let budget = config.time_budget_secs.map(|total| {
            let left = total - started.elapsed().as_secs_f64();
            left / (config.ensemble - member) as f64
        });
        let (model, report) = run.member(member, budget, None, &device, &started, &mut progress);
        models.push(model);
        members.push(report);
    }
    let cpu_networks = CpuNetwork::for_device(&models, used);
    let predicted = predict_ensemble(&models, &cpu_networks, &device, |member| {
        let (layout, sets) = run.sets.member(member);
        (layout, &sets.validation)
    });
    let validation_rmae = run.rmae(&predicted);
    let validation_targets: Vec<f64> = run
        .validation_prices
        .iter()
        .map(|&p| norm.price_to_model(p))
        .collect();
    let scale_factor = interval_scale_factor(&predicted, &validation_targets);
    if config.refit_with_validation {
        for (member, report) in members.iter().enumerate() {
            let (model, _) = run.member(
                member,
                None,
                Some(report.best_epoch),
                &device,
                &started,
                &mut progress,
            );
            models[member] = model;
        }
    }
    let report = TrainReport {
        members,
        validation_rmae,
        seconds: started.elapsed().as_secs_f64(),
        parameters: models.iter().map(Module::num_params).sum(),
        device: used,
    };
    let meta = ModelMeta::new(data, layout, norm, scale_factor, config.clone(), report);
    Ok(TrainedModel::from_parts(models, device, used, meta))
}

/// What every member of one training run shares.
struct Run<'a> {
    config: &'a TrainConfig,
    norm: &'a Normalization,
    sets: PerLayout<TrainingSets>,
    validation_prices: Vec<f64>,
    validation_naive: Vec<f64>,
}

/// The forecasts a member of one layout trains and validates on.
struct TrainingSets {
    train: Samples,
    validation: Samples,
    /// Training and validation periods together, for [`TrainConfig::refit_with_validation`].
    refit: Option<Samples>,
}

impl Run<'_> {
    /// Validation rMAE of model-space predictions.
    fn rmae(&self, predicted: &Predicted) -> f64 {
        let forecast: Vec<f64> = predicted
            .loc
            .iter()
            .map(|&v| self.norm.price_from_model(v))
            .collect();
        crate::metrics::mae(&self.validation_prices, &forecast)
            / crate::metrics::mae(&self.validation_prices, &self.validation_naive)
    }

    /// Trains member `member` (seed `config.seed + member`); returns its best epoch's network.
    /// With `refit = Some(epochs)` it trains on the training and validation periods together
    /// for exactly `epochs` epochs instead, without validation, and returns the last weights.
    fn member(
        &self,
        member: usize,
        budget: Option<f64>,
        refit: Option<usize>,
        device: &Device,
        run_started: &Instant,
        progress: &mut impl FnMut(&EpochReport),
    ) -> (ForecastModel, MemberReport) {
        let config = self.config;
        let seed = config.seed.wrapping_add(member as u64);
        let _one_at_a_time = backend_rng();
        device.seed(seed);
        let autodiff = device.clone().autodiff();
        let mut model = config.member_model(member).init(&autodiff);
        let mut optimizer = AdamConfig::new()
            .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)))
            .with_grad_clipping(Some(GradientClippingConfig::Norm(
                config.grad_clip_norm as f32,
            )))
            .init();
        let mut rng = SplitMix64(seed);
        let (layout, sets) = self.sets.member(member);
        let train_set = match refit {
            Some(_) => sets
                .refit
                .as_ref()
                .expect("built for refit_with_validation"),
            None => &sets.train,
        };
        let n = train_set.issues.len();
        let steps_per_epoch = n.div_ceil(config.batch_size);
        let started = Instant::now();
        let mut step = 0;
        let mut best: Option<(f64, usize, ForecastModel)> = None;
        let mut report = MemberReport {
            seed,
            epochs: 0,
            best_epoch: 0,
            best_validation_rmae: f64::NAN,
            train_loss: Vec::new(),
            validation_rmae: Vec::new(),
            stopped_by: "max_epochs".to_owned(),
            seconds: 0.0,
        };
        let mut order: Vec<usize> = (0..n).collect();
        for epoch in 1..=config.max_epochs {
            rng.shuffle(&mut order);
            let mut loss_sum = 0.0;
            for batch in order.chunks(config.batch_size) {
                let (inputs, targets) = gather(train_set, batch, layout, &autodiff);
                let loss = gaussian_nll(&model.forward(inputs), targets);
                loss_sum += f64::from(loss.clone().into_scalar::<f32>()) * batch.len() as f64;
                let gradients = GradientsParams::from_grads(loss.backward(), &model);
                let lr = config.learning_rate_at(step, steps_per_epoch);
                model = optimizer.step(lr, model, gradients);
                step += 1;
            }
            if let Some(epochs) = refit {
                if epoch >= epochs {
                    report.epochs = epoch;
                    report.seconds = started.elapsed().as_secs_f64();
                    return (model.valid(), report);
                }
                continue;
            }
            let inference = model.valid();
            let (validation_loss, predicted) =
                predict_samples(&inference, &sets.validation, layout, device);
            let rmae = self.rmae(&predicted);
            let train_loss = loss_sum / n as f64;
            report.epochs = epoch;
            report.train_loss.push(train_loss);
            report.validation_rmae.push(rmae);
            if best.as_ref().is_none_or(|(b, _, _)| rmae < *b) {
                best = Some((rmae, epoch, inference));
            }
            let best_epoch = best.as_ref().map_or(epoch, |b| b.1);
            progress(&EpochReport {
                member,
                members: config.ensemble,
                epoch,
                max_epochs: config.max_epochs,
                train_loss,
                validation_loss,
                validation_rmae: rmae,
                best_epoch,
                elapsed_secs: run_started.elapsed().as_secs_f64(),
            });
            tracing::debug!(member, epoch, train_loss, validation_loss, rmae, "epoch");
            if epoch - best_epoch >= config.patience {
                report.stopped_by = "patience".to_owned();
                break;
            }
            if budget.is_some_and(|b| started.elapsed().as_secs_f64() >= b) {
                report.stopped_by = "time_budget".to_owned();
                break;
            }
        }
        let (best_rmae, best_epoch, best_model) = best.expect("max_epochs >= 1 ran an epoch");
        report.best_epoch = best_epoch;
        report.best_validation_rmae = best_rmae;
        report.seconds = started.elapsed().as_secs_f64();
        (best_model, report)
    }
}

/// The factor that makes the central 90 % interval (`loc ± 1.645·scale`) cover 90 % of the
/// validation hours: NLL training on a few years leaves the scales too small.
fn interval_scale_factor(predicted: &Predicted, targets: &[f64]) -> f64 {
    let z: Vec<f64> = targets
        .iter()
        .zip(predicted.loc.iter().zip(&predicted.scale))
        .map(|(&y, (loc, scale))| (y - loc).abs() / scale)
        .collect();
    coverage_factor(z)
}

/// The factor `k` with which `|z| <= 1.645·k` holds for 90 % of `z` (1 when `z` is empty).
pub fn coverage_factor(mut z: Vec<f64>) -> f64 {
    if z.is_empty() {
        return 1.0;
    }
    z.sort_by(f64::total_cmp);
    let q90 = z[((z.len() as f64 * 0.9).ceil() as usize).clamp(1, z.len()) - 1];
    (q90 / crate::metrics::normal_quantile(0.95)).max(1e-3)
}

/// A small, fast, seedable generator for the batch order.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on [0, 1), from the top 53 bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Fisher–Yates.
    pub(crate) fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_forecasts_are_denser_up_to_a_day_ahead_only() {
        let config = TrainConfig::default();
        let every = |horizon_hours| {
            config.training_issue_every_hours(
                ModelConfig {
                    horizon_hours,
                    ..ModelConfig::default()
                }
                .layout(),
            )
        };
        assert_eq!([every(1), every(6), every(24), every(168)], [1, 6, 6, 24]);
        let midnights = TrainConfig {
            train_issue_every_hours: 24,
            ..TrainConfig::default()
        };
        assert_eq!(
            midnights.training_issue_every_hours(ModelConfig::default().layout()),
            24
        );
        let zero = TrainConfig {
            train_issue_every_hours: 0,
            ..TrainConfig::default()
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn schedule_warms_up_then_decays() {
        let config = TrainConfig {
            max_epochs: 10,
            warmup_epochs: 2,
            ..TrainConfig::default()
        };
        let lr = |step| config.learning_rate_at(step, 5);
        assert!((lr(0) - 1e-4).abs() < 1e-12);
        assert!((lr(9) - 1e-3).abs() < 1e-12);
        assert!(lr(10) <= 1e-3 && lr(30) < lr(20));
        assert!((lr(49) - 5e-5).abs() < 2e-6);
    }

    #[test]
    fn shuffle_is_a_seeded_permutation() {
        let mut a: Vec<usize> = (0..50).collect();
        let mut b = a.clone();
        SplitMix64(7).shuffle(&mut a);
        SplitMix64(7).shuffle(&mut b);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(a, sorted);
    }
}
