//! A trained model with what it needs to be used again: normalisation statistics, feature
//! list and configuration. Saved as a folder: `weights-<k>.bpk` per ensemble member (burn's
//! burnpack record) and `model.json` (metadata with a format version).

use std::ops::Range;
use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::cpu_network::CpuNetwork;
use crate::data::{EpfDataset, HOURS_PER_DAY};
use crate::device::DeviceChoice;
use crate::error::{ForecastError, Result};
use crate::features::{Layout, Level, Normalization, PerLayout, Samples, Window, window_inputs};
use crate::metrics::normal_quantile;
use crate::model::ForecastModel;
use crate::predict::predict_ensemble;
use crate::train::{TrainConfig, TrainReport, backend_rng};

/// Version of the saved-model layout this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The weights file of ensemble member `k` inside a saved model's folder: `weights-k.bpk`.
pub fn weights_file(member: usize) -> String {
    format!("weights-{member}.bpk")
}
/// The metadata file inside a saved model's folder.
pub const METADATA_FILE: &str = "model.json";

/// Everything about a model except its weights (`model.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// The dataset it was trained on (`NP`, `PJM`).
    pub dataset: String,
    /// That dataset's header.
    pub columns: [String; 4],
    /// Names of a token's features, in input order, for tokens of the configuration's
    /// `model.patch_hours` (members of other sizes, `config.member_patch_hours`, carry the
    /// same series per hour and the same calendar features).
    pub features: Vec<String>,
    /// Tokens per forecast, for the same token size.
    pub tokens: usize,
    /// Statistics of the training period.
    pub normalization: Normalization,
    /// Every predicted scale is multiplied by this: fitted on the validation period so that
    /// its central 90 % intervals cover 90 % of its hours.
    pub scale_factor: f64,
    /// The run's configuration (model, split, optimiser, seed).
    pub config: TrainConfig,
    /// What the run did.
    pub report: TrainReport,
}

impl ModelMeta {
    pub(crate) fn new(
        data: &EpfDataset,
        layout: Layout,
        normalization: Normalization,
        scale_factor: f64,
        config: TrainConfig,
        report: TrainReport,
    ) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            dataset: data.name().to_owned(),
            columns: data.columns().clone(),
            features: layout.feature_names(data.columns()),
            tokens: layout.tokens(),
            normalization,
            scale_factor,
            config,
            report,
        }
    }
}

/// A forecast distribution for one hour: Gaussian in model space, so its quantiles map to
/// prices exactly through the inverse of the price transform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourDistribution {
    /// Location in model space.
    pub loc: f64,
    /// Scale in model space.
    pub scale: f64,
}

impl HourDistribution {
    /// The price at quantile level `tau` (0 < tau < 1).
    pub fn quantile(&self, norm: &Normalization, tau: f64) -> f64 {
        norm.price_from_model(self.loc + self.scale * normal_quantile(tau))
    }

    /// The median price: the point forecast.
    pub fn median(&self, norm: &Normalization) -> f64 {
        norm.price_from_model(self.loc)
    }
}

/// A trained forecaster: the networks of the ensemble on their device plus its [`ModelMeta`].
#[derive(Debug, Clone)]
pub struct TrainedModel {
    models: Vec<ForecastModel>,
    /// The same networks for the fused CPU inference path; empty on a GPU.
    cpu_networks: Vec<CpuNetwork>,
    device: Device,
    meta: ModelMeta,
}

impl TrainedModel {
    pub(crate) fn from_parts(
        models: Vec<ForecastModel>,
        device: Device,
        used: DeviceChoice,
        meta: ModelMeta,
    ) -> Self {
        Self {
            cpu_networks: CpuNetwork::for_device(&models, used),
            models,
            device,
            meta,
        }
    }

    /// Metadata: configuration, statistics, training report.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }

    /// Changes the interval recalibration window (an evaluation setting; see
    /// [`TrainConfig::interval_window_days`]).
    pub fn set_interval_window_days(&mut self, days: usize) {
        self.meta.config.interval_window_days = days;
    }

    /// The ensemble's networks.
    pub fn networks(&self) -> &[ForecastModel] {
        &self.models
    }

    /// Trainable parameters, all networks together.
    pub fn parameters(&self) -> usize {
        self.models.iter().map(Module::num_params).sum()
    }

    /// Hours forecast from each issue time ([`ModelConfig::horizon_hours`](crate::ModelConfig::horizon_hours)).
    pub fn horizon_hours(&self) -> usize {
        self.meta.config.model.horizon_hours
    }

    /// The issue times (hour indices) of the forecasts [`predict`](Self::predict) makes for
    /// `days`: every day's midnight for the day-ahead model.
    pub fn issues(&self, days: Range<usize>) -> Vec<usize> {
        self.meta.config.model.layout().issues(days).collect()
    }

    /// Forecast distributions of every forecast issued in `days` whose targets lie in `days`
    /// ([`issues`](Self::issues); each needs 7 days of history): `horizon_hours` per issue.
    /// For the day-ahead model, every hour of `days`.
    pub fn predict(&self, data: &EpfDataset, days: Range<usize>) -> Result<Vec<HourDistribution>> {
        self.check_dataset(data)?;
        let samples = PerLayout::build(&self.meta.config.member_layouts(), |layout| {
            Samples::build(data, &self.meta.normalization, layout, days.clone())
        });
        Ok(self.distributions(&samples))
    }

    /// The ensemble's distributions of every sample, scales times the model's factor.
    fn distributions(&self, samples: &PerLayout<Samples>) -> Vec<HourDistribution> {
        let predicted =
            predict_ensemble(&self.models, &self.cpu_networks, &self.device, |member| {
                samples.member(member)
            });
        debug_assert_eq!(
            predicted.loc.len(),
            samples.member(0).1.issues.len() * self.horizon_hours()
        );
        predicted
            .loc
            .iter()
            .zip(&predicted.scale)
            .map(|(&loc, &scale)| HourDistribution {
                loc,
                scale: scale * self.meta.scale_factor,
            })
            .collect()
    }

    /// Whether the model reads the two exogenous series (see [`Window::exogenous`]).
    pub fn reads_exogenous(&self) -> bool {
        self.meta.config.model.exogenous
    }

    /// Forecast distributions of each window's target hours: `horizon_hours` per window, in
    /// order.
    ///
    /// All windows go through each network together (one batched pass for a live run's
    /// changed series, however many: on the CPU the fused path, split over the cores; on a
    /// GPU burn's forward pass in batches of 128 rows). A row's result does not depend on
    /// the other rows of its batch (`tests/forecast.rs` checks windows alone and together
    /// give bit-identical results).
    pub fn predict_windows(&self, windows: &[Window<'_>]) -> Result<Vec<HourDistribution>> {
        let layout = self.meta.config.model.layout();
        let norm = &self.meta.normalization;
        for window in windows {
            let exogenous_fits = window.exogenous.is_some() == layout.exogenous;
            let days = (window.first_hour_of_day + layout.window_hours()).div_ceil(HOURS_PER_DAY);
            let calendar_fits =
                window.first_hour_of_day < HOURS_PER_DAY && window.calendar.len() >= days;
            if window.known_prices.len() != crate::features::KNOWN_HOURS
                || !exogenous_fits
                || !calendar_fits
            {
                return Err(ForecastError::DatasetMismatch {
                    message: format!(
                        "a forecast window needs {} known prices{} and the calendar of {days} \
                         days; got {} prices{} and {} days",
                        crate::features::KNOWN_HOURS,
                        if layout.exogenous {
                            ", two exogenous series"
                        } else {
                            ", no exogenous series"
                        },
                        window.known_prices.len(),
                        if window.exogenous.is_some() {
                            " with exogenous series"
                        } else {
                            " without exogenous series"
                        },
                        window.calendar.len()
                    ),
                });
            }
        }
        // Members of other token sizes read the same windows, cut differently.
        let samples = PerLayout::build(&self.meta.config.member_layouts(), |layout| {
            let mut samples = Samples {
                issues: (0..windows.len()).collect(),
                levels: Vec::with_capacity(windows.len()),
                inputs: Vec::with_capacity(windows.len() * layout.input_len()),
                targets: vec![0.0; windows.len() * layout.horizon_hours],
            };
            for window in windows {
                samples
                    .levels
                    .push(Level::of_known(norm, layout, window.known_prices));
                window_inputs(norm, layout, window, &mut samples.inputs);
            }
            samples
        });
        Ok(self.distributions(&samples))
    }

    fn check_dataset(&self, data: &EpfDataset) -> Result<()> {
        if data.columns() != &self.meta.columns {
            return Err(ForecastError::DatasetMismatch {
                message: format!(
                    "the model was trained on columns {:?}, this dataset has {:?}",
                    self.meta.columns,
                    data.columns()
                ),
            });
        }
        Ok(())
    }

    /// Saves into folder `dir` (created if missing): `weights-<k>.bpk` per member and `model.json`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| ForecastError::io(dir, e))?;
        for (member, model) in self.models.iter().enumerate() {
            let weights = dir.join(weights_file(member));
            model
                .clone()
                .save_file(&weights)
                .map_err(|e| ForecastError::Weights {
                    path: weights.clone(),
                    message: e.to_string(),
                })?;
        }
        let metadata = dir.join(METADATA_FILE);
        let json =
            serde_json::to_string_pretty(&self.meta).map_err(|source| ForecastError::Metadata {
                path: metadata.clone(),
                source,
            })?;
        std::fs::write(&metadata, json + "\n").map_err(|e| ForecastError::io(&metadata, e))
    }

    /// Loads a model saved by [`save`](Self::save) onto `device` (see [`DeviceChoice`]).
    pub fn load(dir: impl AsRef<Path>, device: DeviceChoice) -> Result<Self> {
        let dir = dir.as_ref();
        let metadata = dir.join(METADATA_FILE);
        let text =
            std::fs::read_to_string(&metadata).map_err(|e| ForecastError::io(&metadata, e))?;
        #[derive(Deserialize)]
        struct Version {
            format_version: u32,
        }
        let parse_error = |source| ForecastError::Metadata {
            path: metadata.clone(),
            source,
        };
        let version: Version = serde_json::from_str(&text).map_err(parse_error)?;
        if version.format_version != FORMAT_VERSION {
            return Err(ForecastError::FormatVersion {
                path: metadata,
                found: version.format_version,
                expected: FORMAT_VERSION,
            });
        }
        let meta: ModelMeta = serde_json::from_str(&text).map_err(parse_error)?;
        meta.config.validate()?;
        let (device, used) = device.resolve();
        let _rng = backend_rng();
        let mut models = Vec::with_capacity(meta.config.ensemble);
        for member in 0..meta.config.ensemble {
            let weights = dir.join(weights_file(member));
            let model = meta
                .config
                .member_model(member)
                .init(&device)
                .try_load_file(&weights)
                .map_err(|e| ForecastError::Weights {
                    path: weights,
                    message: e.to_string(),
                })?;
            models.push(model.valid());
        }
        Ok(Self::from_parts(models, device, used, meta))
    }
}
