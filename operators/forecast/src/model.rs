//! The network: a transformer encoder over a week of hourly tokens and the target day, with a
//! Gaussian head (location and scale in model space for each of the next day's 24 hours).

use burn::module::{Module, Param};
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{Dropout, DropoutConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::softplus;
use burn::tensor::{Device, Distribution, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::HOURS_PER_DAY;
use crate::error::{ForecastError, Result};
use crate::features::{Layout, MAX_HORIZON_HOURS};

/// Size and shape of the network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Width of the token embeddings. Default 64.
    pub d_model: usize,
    /// Attention heads; divides `d_model`. Default 4.
    pub n_heads: usize,
    /// Encoder layers. Default 2.
    pub n_layers: usize,
    /// Width of the feed-forward blocks. Default 128.
    pub d_ff: usize,
    /// Hours per token; divides 24 (1 = one token per hour, 24 = one per day). Default 24.
    pub patch_hours: usize,
    /// Dropout in the embedding and the encoder while training. Default 0.1.
    pub dropout: f64,
    /// Adds a linear map from the whole flattened input to the head's output (a LEAR-like
    /// path next to the encoder). Default true.
    pub linear_skip: bool,
    /// Standardise each forecast by its own week of prices and undo it on the output
    /// (see [`Layout::instance_norm`]). Default true.
    pub instance_norm: bool,
    /// Read the dataset's two exogenous day-ahead forecasts (load, wind). False gives a
    /// prices-only model, which the streaming `forecast` operator can run on any hourly
    /// price series. Default true.
    pub exogenous: bool,
    /// Hours forecast from each issue time: 24 (the next day, issued at midnight: the EPF
    /// benchmark), 1 to 23 (issued every `horizon_hours` around the clock: 1 h, 6 h ahead)
    /// or whole days up to 168 (a week ahead, issued at midnight). Default 24.
    pub horizon_hours: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            d_model: 64,
            n_heads: 4,
            n_layers: 2,
            d_ff: 128,
            patch_hours: 24,
            dropout: 0.1,
            linear_skip: true,
            instance_norm: true,
            exogenous: true,
            horizon_hours: 24,
        }
    }
}

impl ModelConfig {
    /// Checks the sizes fit together.
    pub fn validate(&self) -> Result<()> {
        let refuse = |field, message: &str| {
            Err(ForecastError::Config {
                field,
                message: message.to_owned(),
            })
        };
        if self.patch_hours == 0 || !HOURS_PER_DAY.is_multiple_of(self.patch_hours) {
            return refuse("model.patch_hours", "must divide 24");
        }
        if self.d_model == 0 || self.n_heads == 0 || !self.d_model.is_multiple_of(self.n_heads) {
            return refuse("model.n_heads", "must be positive and divide d_model");
        }
        if self.n_layers == 0 || self.d_ff == 0 {
            return refuse("model.n_layers", "n_layers and d_ff must be positive");
        }
        let horizon = self.horizon_hours;
        let within_a_day = (1..=HOURS_PER_DAY).contains(&horizon);
        let whole_days = horizon.is_multiple_of(HOURS_PER_DAY) && horizon <= MAX_HORIZON_HOURS;
        if !(within_a_day || whole_days) {
            return refuse(
                "model.horizon_hours",
                "must be 1 to 24, or whole days up to 168 (a week)",
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return refuse("model.dropout", "must be in [0, 1)");
        }
        Ok(())
    }

    /// The token layout this model reads.
    pub fn layout(&self) -> Layout {
        Layout {
            patch_hours: self.patch_hours,
            instance_norm: self.instance_norm,
            exogenous: self.exogenous,
            horizon_hours: self.horizon_hours,
        }
    }

    /// A freshly initialised model on `device` (draws from the device's random generator).
    pub fn init(&self, device: &Device) -> ForecastModel {
        let layout = self.layout();
        let width = layout.token_width();
        let encoder =
            TransformerEncoderConfig::new(self.d_model, self.d_ff, self.n_heads, self.n_layers)
                .with_dropout(self.dropout)
                .with_norm_first(true)
                .init(device);
        ForecastModel {
            embed: LinearConfig::new(width, self.d_model).init(device),
            position: Param::from_tensor(Tensor::random(
                [1, layout.tokens(), self.d_model],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            dropout: DropoutConfig::new(self.dropout).init(),
            encoder,
            norm: LayerNormConfig::new(self.d_model).init(device),
            head: LinearConfig::new(self.d_model, 2 * self.patch_hours).init(device),
            skip: self.linear_skip.then(|| {
                LinearConfig::new(layout.input_len(), 2 * self.horizon_hours).init(device)
            }),
            patch_hours: self.patch_hours,
            horizon_hours: self.horizon_hours,
        }
    }
}

/// The forecasting network (burn module). Build it with [`ModelConfig::init`].
#[derive(Module, Debug)]
pub struct ForecastModel {
    pub(crate) embed: Linear,
    pub(crate) position: Param<Tensor<3>>,
    dropout: Dropout,
    pub(crate) encoder: TransformerEncoder,
    pub(crate) norm: LayerNorm,
    pub(crate) head: Linear,
    pub(crate) skip: Option<Linear>,
    pub(crate) patch_hours: usize,
    pub(crate) horizon_hours: usize,
}

/// The predictive distribution of a batch of forecasts, in model space:
/// `[batch, horizon_hours]` each.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// Gaussian location (the median in price space after the inverse transform).
    pub loc: Tensor<2>,
    /// Gaussian scale (> 0).
    pub scale: Tensor<2>,
}

impl ForecastModel {
    /// Forecasts a batch: `inputs` is `[batch, tokens, token_width]`.
    pub fn forward(&self, inputs: Tensor<3>) -> Prediction {
        let [batch, tokens, width] = inputs.dims();
        let position = self.position.val().repeat_dim(0, batch);
        let x = self
            .dropout
            .forward(self.embed.forward(inputs.clone()) + position);
        let x = self.encoder.forward(TransformerEncoderInput::new(x));
        let patch = self.patch_hours;
        let horizon = self.horizon_hours;
        let target_hours = horizon.div_ceil(HOURS_PER_DAY) * HOURS_PER_DAY;
        let target_tokens = target_hours / patch;
        let x = self
            .norm
            .forward(x.narrow(1, tokens - target_tokens, target_tokens));
        // [batch, target tokens, (loc | scale) × patch] → [batch, 2, target hours], of
        // which the first `horizon` are forecast.
        let out: Tensor<4> = self
            .head
            .forward(x)
            .reshape([batch, target_tokens, 2, patch]);
        let out: Tensor<3> = out.swap_dims(1, 2).reshape([batch, 2, target_hours]);
        let mut out = out.narrow(2, 0, horizon);
        if let Some(skip) = &self.skip {
            let flat: Tensor<2> = inputs.reshape([batch, tokens * width]);
            out = out + skip.forward(flat).reshape([batch, 2, horizon]);
        }
        let loc = out.clone().narrow(1, 0, 1).reshape([batch, horizon]);
        let raw_scale = out.narrow(1, 1, 1).reshape([batch, horizon]);
        Prediction {
            loc,
            scale: softplus(raw_scale, 1.0).add_scalar(1e-3),
        }
    }
}

/// Mean Gaussian negative log-likelihood of `targets` (without the constant ½·log 2π).
pub fn gaussian_nll(prediction: &Prediction, targets: Tensor<2>) -> Tensor<1> {
    let z = (targets - prediction.loc.clone()) / prediction.scale.clone();
    (prediction.scale.clone().log() + z.square().mul_scalar(0.5)).mean()
}
