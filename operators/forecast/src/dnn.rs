//! The EPF benchmark's other model family (Lago et al. 2021, "DNN"): a fully connected
//! network on LEAR's 247 features ([`crate::lear`]) forecasting a day's 24 prices at once,
//! recalibrated every [`DnnConfig::recalibrate_every_days`] days on the
//! [`DnnConfig::window_days`] days before, several seeds of several architectures averaged.
//! A third member of the blend next to the transformer networks and LEAR
//! ([`crate::blend::evaluate_blended`]): on its own it errs about as much as LEAR, but its
//! errors differ from both.
//!
//! Columns and targets are scaled like LEAR's (`asinh((x − median) / MAD)` of the
//! calibration rows; the target per hour). Each network (ReLU hidden layers, a linear
//! output of 24) is trained by Adam on [`DnnConfig::loss`] (the absolute error by default,
//! as the paper's) with L2 weight decay, stopping when the squared error on a seeded random
//! hold-out of the calibration rows has not improved for [`DnnConfig::patience`] epochs,
//! and keeping its best epoch's weights. The networks
//! of a recalibration are averaged in the scaled space. A recalibration at day `d` reads
//! rows up to day `d − 1` (whose features end with day `d − 2`'s prices and targets are
//! `d − 1`'s) and forecasts days `d ..` from their own rows: the prices of the days before
//! each and its exogenous forecasts.
//!
//! Weights are drawn from the crate's own seeded generator, not burn's process-wide one,
//! so recalibrations train side by side on rayon's pool and a run is reproducible. It
//! always trains on burn's CPU device, whichever device the transformer networks use.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{EpfDataset, HISTORY_DAYS, HOURS_PER_DAY};
use crate::error::{ForecastError, Result};
use crate::lear::{DayForecasts, FEATURES, SCALED, feature_rows, median_mad};
use crate::train::SplitMix64;

/// How the DNN forecasts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnnConfig {
    /// The networks of a recalibration: [`DnnConfig::seeds`] of each, all averaged. By
    /// default three: ReLU layers of 256 and 128, the same with dropout 0.1, and layers of
    /// 512 and 256 (mixing them lowered the validation period's blended error more than
    /// more seeds of one; `docs/forecasting.md`).
    pub architectures: Vec<DnnArchitecture>,
    /// Calibration window in days (cut at the data's eighth day). Default 1456, four
    /// years, the paper's longest.
    pub window_days: usize,
    /// Days between recalibrations; each forecasts the days up to the next. Default 7.
    pub recalibrate_every_days: usize,
    /// Networks (seeds) trained per architecture and recalibration. Default 4.
    pub seeds: usize,
    /// First seed. Default 0.
    pub seed: u64,
    /// What training minimises. Default the absolute error, the paper's.
    pub loss: DnnLoss,
    /// Adam's step size. Default 0.001.
    pub learning_rate: f64,
    /// L2 penalty in Adam. Default 1e-5.
    pub weight_decay: f64,
    /// Rows per optimiser step. Default 64.
    pub batch_size: usize,
    /// Upper bound on epochs. Default 300.
    pub max_epochs: usize,
    /// Epochs without a better hold-out error before stopping. Default 20.
    pub patience: usize,
    /// Share of the calibration rows held out for early stopping. Default 0.15.
    pub holdout_fraction: f64,
}

/// One network shape of [`DnnConfig::architectures`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnnArchitecture {
    /// Widths of the hidden layers.
    pub hidden: Vec<usize>,
    /// Probability of zeroing a hidden unit in a training step (inverted dropout); 0 for none.
    #[serde(default)]
    pub dropout: f64,
}

impl DnnArchitecture {
    /// Hidden layers of `hidden` widths without dropout.
    pub fn plain(hidden: &[usize]) -> Self {
        Self {
            hidden: hidden.to_vec(),
            dropout: 0.0,
        }
    }
}

/// The training loss of [`DnnConfig::loss`], in the scaled space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DnnLoss {
    /// Mean absolute error: a median forecast, which the benchmark's MAE rewards.
    AbsoluteError,
    /// Mean squared error: a mean forecast.
    SquaredError,
}

impl Default for DnnConfig {
    fn default() -> Self {
        Self {
            architectures: vec![
                DnnArchitecture::plain(&[256, 128]),
                DnnArchitecture {
                    hidden: vec![256, 128],
                    dropout: 0.1,
                },
                DnnArchitecture::plain(&[512, 256]),
            ],
            window_days: 1456,
            recalibrate_every_days: 7,
            seeds: 4,
            seed: 0,
            loss: DnnLoss::AbsoluteError,
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            batch_size: 64,
            max_epochs: 300,
            patience: 20,
            holdout_fraction: 0.15,
        }
    }
}

impl DnnConfig {
    pub(crate) fn validate(&self, data: &EpfDataset) -> Result<()> {
        let bad_shape = self
            .architectures
            .iter()
            .find(|a| a.hidden.is_empty() || a.hidden.contains(&0));
        let bad_dropout = self
            .architectures
            .iter()
            .find(|a| !(0.0..1.0).contains(&a.dropout));
        let problem = if self.architectures.is_empty() {
            Some("train one architecture or more, not none".to_owned())
        } else if let Some(architecture) = bad_shape {
            Some(format!(
                "hidden layers must be one or more of width 1 or more, not {:?}",
                architecture.hidden
            ))
        } else if let Some(architecture) = bad_dropout {
            Some(format!(
                "dropout must lie in [0, 1), not {}",
                architecture.dropout
            ))
        } else if self.window_days < HISTORY_DAYS + 2 {
            Some(format!(
                "the window must be {} days or more, not {}",
                HISTORY_DAYS + 2,
                self.window_days
            ))
        } else if self.recalibrate_every_days == 0 {
            Some("recalibrate every 1 day or more, not 0".to_owned())
        } else if self.seeds == 0 {
            Some("train 1 network or more per recalibration, not 0".to_owned())
        } else if self.batch_size == 0 || self.max_epochs == 0 {
            Some(format!(
                "batch size and epochs must be 1 or more, not {} and {}",
                self.batch_size, self.max_epochs
            ))
        } else if !(self.holdout_fraction > 0.0 && self.holdout_fraction < 1.0) {
            Some(format!(
                "the hold-out fraction must lie in (0, 1), not {}",
                self.holdout_fraction
            ))
        } else {
            None
        };
        match problem {
            Some(problem) => Err(ForecastError::Shape {
                dataset: data.name().to_owned(),
                message: format!("DNN: {problem}"),
            }),
            None => Ok(()),
        }
    }
}

/// Forecasts every day of `days` (each needs a week of lags and two calibration rows
/// before it); recalibrations run in parallel on rayon's pool, and `progress` is called
/// with the number of days forecast after each.
pub fn forecast_days(
    data: &EpfDataset,
    days: Range<usize>,
    config: &DnnConfig,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<DayForecasts> {
    config.validate(data)?;
    if days.start < crate::lear::MINIMUM_DAY || days.end > data.days() || days.is_empty() {
        return Err(ForecastError::Shape {
            dataset: data.name().to_owned(),
            message: format!("the DNN cannot forecast days {days:?} of {}", data.days()),
        });
    }
    let rows = feature_rows(data);
    let starts: Vec<usize> = days
        .clone()
        .step_by(config.recalibrate_every_days)
        .collect();
    let done = AtomicUsize::new(0);
    let total = days.len();
    let networks = config.architectures.len() * config.seeds;
    // A recalibration's rows are scaled once and shared by its networks, which train as
    // tasks of their own: a recalibration's networks alone would leave a core idle at the
    // end of a short run.
    let recalibrations: Vec<Recalibrated> = starts
        .par_iter()
        .with_max_len(1)
        .map(|&start| {
            let end = (start + config.recalibrate_every_days).min(days.end);
            let calibration = Calibration::new(data.prices(), &rows, start, end, config);
            let forecasts = (0..networks)
                .into_par_iter()
                .with_max_len(1)
                .map(|network| {
                    let architecture = &config.architectures[network / config.seeds];
                    calibration.train_and_forecast(config, architecture, network)
                })
                .collect();
            progress(
                done.fetch_add(end - start, Ordering::Relaxed) + end - start,
                total,
            );
            Recalibrated {
                forecasts,
                target_scale: calibration.target_scale,
            }
        })
        .collect();
    let mut prices = Vec::with_capacity(total * HOURS_PER_DAY);
    for recalibrated in &recalibrations {
        let members = &recalibrated.forecasts;
        for position in 0..members[0].len() {
            let mean = members.iter().map(|m| m[position]).sum::<f64>() / networks as f64;
            let (median, mad) = recalibrated.target_scale[position % HOURS_PER_DAY];
            prices.push(median + mad * mean.sinh());
        }
    }
    Ok(DayForecasts { days, prices })
}

/// One recalibration's networks' forecasts in the scaled space, each `[days · 24]`, and the
/// median and MAD of each hour's target that undo the scaling.
struct Recalibrated {
    forecasts: Vec<Vec<f64>>,
    target_scale: Vec<(f64, f64)>,
}

/// One recalibration's scaled training rows and the rows of the days it forecasts.
struct Calibration {
    /// Row-major `[n, FEATURES]`.
    inputs: Vec<f32>,
    /// Row-major `[n, 24]`.
    targets: Vec<f32>,
    /// Row-major `[forecast days, FEATURES]`.
    queries: Vec<f32>,
    /// Each hour's target median and MAD.
    target_scale: Vec<(f64, f64)>,
}

impl Calibration {
    /// Calibrates at day `start` for the days `start..end`.
    fn new(prices: &[f64], rows: &[f64], start: usize, end: usize, config: &DnnConfig) -> Self {
        let first = start.saturating_sub(config.window_days).max(HISTORY_DAYS);
        let n = start - first;
        let row = |d: usize| &rows[d * FEATURES..(d + 1) * FEATURES];
        let mut inputs = vec![0.0f32; n * FEATURES];
        let mut queries = vec![0.0f32; (end - start) * FEATURES];
        let mut column = vec![0.0; n];
        for j in 0..FEATURES {
            for (value, d) in column.iter_mut().zip(first..start) {
                *value = row(d)[j];
            }
            let (median, mad) = if j < SCALED {
                median_mad(&mut column.clone())
            } else {
                (0.0, 1.0)
            };
            let scale = |x: f64| {
                if j < SCALED {
                    ((x - median) / mad).asinh()
                } else {
                    x
                }
            };
            for (i, &value) in column.iter().enumerate() {
                inputs[i * FEATURES + j] = scale(value) as f32;
            }
            for (i, d) in (start..end).enumerate() {
                queries[i * FEATURES + j] = scale(row(d)[j]) as f32;
            }
        }
        let mut targets = vec![0.0f32; n * HOURS_PER_DAY];
        let mut target_scale = Vec::with_capacity(HOURS_PER_DAY);
        for hour in 0..HOURS_PER_DAY {
            for (value, d) in column.iter_mut().zip(first..start) {
                *value = prices[d * HOURS_PER_DAY + hour];
            }
            let (median, mad) = median_mad(&mut column.clone());
            for (i, &value) in column.iter().enumerate() {
                targets[i * HOURS_PER_DAY + hour] = ((value - median) / mad).asinh() as f32;
            }
            target_scale.push((median, mad));
        }
        Self {
            inputs,
            targets,
            queries,
            target_scale,
        }
    }

    fn rows(&self) -> usize {
        self.targets.len() / HOURS_PER_DAY
    }

    /// Trains network `seed` of this recalibration, of `architecture`, and returns its
    /// scaled forecasts, `[forecast days · 24]`.
    fn train_and_forecast(
        &self,
        config: &DnnConfig,
        architecture: &DnnArchitecture,
        seed: usize,
    ) -> Vec<f64> {
        let device = Device::flex();
        let autodiff = device.clone().autodiff();
        let mut rng = SplitMix64(
            config
                .seed
                .wrapping_add(seed as u64)
                .wrapping_mul(0x2545_F491),
        );
        let mut network = Network::init(&architecture.hidden, &mut rng, &autodiff);
        let mut order: Vec<usize> = (0..self.rows()).collect();
        rng.shuffle(&mut order);
        let holdout_rows = ((self.rows() as f64 * config.holdout_fraction).round() as usize)
            .clamp(1, self.rows().saturating_sub(1).max(1));
        let (holdout, training) = order.split_at(holdout_rows);
        let mut training = training.to_vec();
        if training.is_empty() {
            training = holdout.to_vec();
        }
        let (holdout_inputs, holdout_targets) = self.batch(holdout, &device);
        let mut optimizer = AdamConfig::new()
            .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay as f32)))
            .init();
        let mut best = (f64::INFINITY, network.valid());
        let mut since_best = 0;
        for _ in 0..config.max_epochs {
            rng.shuffle(&mut training);
            for batch in training.chunks(config.batch_size) {
                let (inputs, targets) = self.batch(batch, &autodiff);
                let error =
                    network.forward_dropping(inputs, architecture.dropout, &mut rng) - targets;
                let loss = match config.loss {
                    DnnLoss::AbsoluteError => error.abs().mean(),
                    DnnLoss::SquaredError => error.square().mean(),
                };
                let gradients = GradientsParams::from_grads(loss.backward(), &network);
                network = optimizer.step(config.learning_rate, network, gradients);
            }
            let candidate = network.valid();
            let error = f64::from(
                (candidate.forward(holdout_inputs.clone()) - holdout_targets.clone())
                    .square()
                    .mean()
                    .into_scalar::<f32>(),
            );
            if error < best.0 {
                best = (error, candidate);
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= config.patience {
                    break;
                }
            }
        }
        let days = self.queries.len() / FEATURES;
        let queries = Tensor::from_data(
            TensorData::new(self.queries.clone(), [days, FEATURES]),
            &device,
        );
        best.1
            .forward(queries)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .expect("converted to f32 above")
            .into_iter()
            .map(f64::from)
            .collect()
    }

    /// The inputs and targets of `rows` as tensors on `device`.
    fn batch(&self, rows: &[usize], device: &Device) -> (Tensor<2>, Tensor<2>) {
        let mut inputs = Vec::with_capacity(rows.len() * FEATURES);
        let mut targets = Vec::with_capacity(rows.len() * HOURS_PER_DAY);
        for &row in rows {
            inputs.extend_from_slice(&self.inputs[row * FEATURES..(row + 1) * FEATURES]);
            targets
                .extend_from_slice(&self.targets[row * HOURS_PER_DAY..(row + 1) * HOURS_PER_DAY]);
        }
        (
            Tensor::from_data(TensorData::new(inputs, [rows.len(), FEATURES]), device),
            Tensor::from_data(
                TensorData::new(targets, [rows.len(), HOURS_PER_DAY]),
                device,
            ),
        )
    }
}

/// ReLU hidden layers and a linear output of 24.
#[derive(Module, Debug)]
struct Network {
    layers: Vec<Linear>,
}

impl Network {
    /// Glorot-uniform weights and biases (the bound `√(6 / (in + out))`, as scikit-learn's
    /// `MLPRegressor` draws them), from `rng`.
    fn init(hidden: &[usize], rng: &mut SplitMix64, device: &Device) -> Self {
        let widths: Vec<usize> = std::iter::once(FEATURES)
            .chain(hidden.iter().copied())
            .chain(std::iter::once(HOURS_PER_DAY))
            .collect();
        let layers = widths
            .windows(2)
            .map(|pair| {
                let (input, output) = (pair[0], pair[1]);
                let bound = (6.0 / (input + output) as f64).sqrt();
                let mut draw = |count: usize| -> Vec<f32> {
                    (0..count)
                        .map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32)
                        .collect()
                };
                let weight = draw(input * output);
                let bias = draw(output);
                Linear {
                    weight: Param::from_tensor(Tensor::from_data(
                        TensorData::new(weight, [input, output]),
                        device,
                    )),
                    bias: Some(Param::from_tensor(Tensor::from_data(
                        TensorData::new(bias, [output]),
                        device,
                    ))),
                }
            })
            .collect();
        Self { layers }
    }

    /// The forward pass of a training step: each hidden unit is zeroed with probability
    /// `dropout` (masks drawn from `rng`) and the others scaled by `1 / (1 − dropout)`.
    fn forward_dropping(&self, inputs: Tensor<2>, dropout: f64, rng: &mut SplitMix64) -> Tensor<2> {
        if dropout <= 0.0 {
            return self.forward(inputs);
        }
        let last = self.layers.len() - 1;
        let keep = 1.0 / (1.0 - dropout);
        let mut x = inputs;
        for (index, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if index < last {
                let [rows, width] = x.dims();
                let mask: Vec<f32> = (0..rows * width)
                    .map(|_| {
                        if rng.uniform() < dropout {
                            0.0
                        } else {
                            keep as f32
                        }
                    })
                    .collect();
                let mask = Tensor::from_data(TensorData::new(mask, [rows, width]), &x.device());
                x = relu(x) * mask;
            }
        }
        x
    }

    fn forward(&self, inputs: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut x = inputs;
        for (index, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if index < last {
                x = relu(x);
            }
        }
        x
    }
}
