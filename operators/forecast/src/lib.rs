//! Probabilistic electricity price forecasting (the next day, and horizons from an hour to a
//! week): the forecasting core of gridflow.
//!
//! This crate is the only one that depends on [burn](https://burn.dev). It knows nothing of
//! timely or differential: the streaming operator and the `gridflow train` / `gridflow eval`
//! commands are built on the API here.
//!
//! # A tour
//!
//! - [`EpfDataset`] reads an EPF benchmark CSV (`Date, Price, exog1, exog2`, hourly, whole
//!   days); [`SplitConfig`] cuts it into training, validation (early stopping) and test
//!   periods, the test period being the last 728 days as in Lago et al. (2021).
//! - [`features`] turns a forecast's [`Window`](features::Window) (from an EPF file or a
//!   live series) into model input: the 168 hours before the issue time and the target
//!   hours, as tokens of `patch_hours` hours with normalised prices (zero on the target
//!   hours), the exogenous day-ahead forecasts (known for the next 24 hours too; optional:
//!   prices-only models run on any series) and calendar features. Prices go through
//!   `asinh((p - median) / IQR)` with statistics of the training period.
//!   [`Layout`](features::Layout) sets the horizon (1 to 24 hours, or whole days up to a
//!   week) and the issue times.
//! - [`ForecastModel`]: a transformer encoder with a Gaussian head (location and scale for
//!   each hour of the horizon, in model space) and an optional linear skip path.
//! - [`train()`] fits it with Adam (warm-up, cosine decay, gradient clipping), Gaussian NLL and
//!   early stopping on the validation period's rMAE, calling back after every epoch.
//! - [`TrainedModel`] predicts (over a dataset's days, or any batch of windows: the
//!   streaming operator's path; a forecast never depends on its batch), saves and loads
//!   (`weights-<k>.bpk` per ensemble member + `model.json`). Members may cut the week
//!   into tokens of different sizes ([`TrainConfig::member_patch_hours`]); each forecast's
//!   window is cut once per size. On the CPU device it predicts through a fused forward
//!   pass of the same weights (`cpu_network`, 2–5× burn's speed, equal to it within float
//!   rounding); training and the GPUs use burn's.
//! - [`evaluate()`] forecasts every test hour (median and 90 % interval) and computes MAE,
//!   RMSE, sMAPE, rMAE against the 168-hour naive, CRPS and interval coverage;
//!   [`Evaluation::write_csv`] writes `forecasts-<dataset>.csv`.
//! - [`lear`]: the benchmark paper's LEAR (a Lasso per hour on 247 features, recalibrated
//!   every day over four calibration windows), its penalty and solution through the exact
//!   Lasso path of [`lars`]; [`dnn`]: the paper's other family, a fully connected network
//!   on the same features, recalibrated every two weeks; [`blend::evaluate_blended`]
//!   blends either or both with the networks, the shares chosen on the validation period.
//! - [`DeviceChoice`]: `cpu` (default), `cuda` or `wgpu` (Cargo features), falling back to the
//!   CPU with a warning.
//! - [`throughput`] times inference per batch size against a plain matrix product on the
//!   same device, for `gridflow bench --forecast-only`.
//!
//! # Example
//!
//! ```no_run
//! use gridflow_forecast::{EpfDataset, TrainConfig, evaluate, train};
//!
//! let data = EpfDataset::from_csv("NP.csv")?;
//! let config = TrainConfig { time_budget_secs: Some(300.0), ..TrainConfig::default() };
//! let model = train(&config, &data, |epoch| {
//!     eprintln!("epoch {} validation rMAE {:.3}", epoch.epoch, epoch.validation_rmae)
//! })?;
//! model.save("models/np")?;
//! let evaluation = evaluate(&model, &data)?;
//! println!("{}", evaluation.metrics);
//! evaluation.write_csv(".")?;
//! # Ok::<(), gridflow_forecast::ForecastError>(())
//! ```

pub mod blend;
mod cpu_network;
pub mod data;
pub mod device;
pub mod dnn;
mod error;
pub mod evaluate;
pub mod family_cache;
pub mod features;
pub mod lars;
pub mod lasso;
pub mod lear;
pub mod metrics;
pub mod model;
mod predict;
pub mod throughput;
pub mod train;
pub mod trained;

pub use data::{EpfDataset, Split, SplitConfig};
pub use device::DeviceChoice;
pub use error::{ForecastError, Result};
pub use evaluate::{Evaluation, HourForecast, evaluate, evaluate_walk_forward, write_forecasts};
pub use metrics::Metrics;
pub use model::{ForecastModel, ModelConfig};
pub use train::{EpochReport, MemberReport, TrainConfig, TrainReport, train};
pub use trained::{ModelMeta, TrainedModel};
