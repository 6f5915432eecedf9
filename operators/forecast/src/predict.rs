//! Inference over prepared samples: burn's forward pass in fixed-size batches, the fused
//! CPU path, and an ensemble's members combined into one distribution per hour. Training
//! validates with it; [`TrainedModel`](crate::TrainedModel) predicts with it.

use burn::tensor::{Device, Tensor, TensorData};

use crate::cpu_network::CpuNetwork;
use crate::features::{Layout, Level, Samples};
use crate::model::{ForecastModel, Prediction, gaussian_nll};

/// A batch of samples as tensors on `device`.
pub(crate) fn gather(
    samples: &Samples,
    rows: &[usize],
    layout: Layout,
    device: &Device,
) -> (Tensor<3>, Tensor<2>) {
    let width = layout.input_len();
    let horizon = layout.horizon_hours;
    let mut inputs = Vec::with_capacity(rows.len() * width);
    let mut targets = Vec::with_capacity(rows.len() * horizon);
    for &row in rows {
        inputs.extend_from_slice(&samples.inputs[row * width..(row + 1) * width]);
        targets.extend_from_slice(&samples.targets[row * horizon..(row + 1) * horizon]);
    }
    let b = rows.len();
    (
        Tensor::from_data(
            TensorData::new(inputs, [b, layout.tokens(), layout.token_width()]),
            device,
        ),
        Tensor::from_data(TensorData::new(targets, [b, horizon]), device),
    )
}

/// Model-space locations and scales, `[issues · horizon_hours]` row-major.
#[derive(Debug, Clone, Default)]
pub(crate) struct Predicted {
    pub(crate) loc: Vec<f64>,
    pub(crate) scale: Vec<f64>,
}

impl Predicted {
    /// Appends one forecast given in its sample's standardised space, undoing `level`.
    fn push_standardised(&mut self, level: Level, loc: &[f32], scale: &[f32]) {
        self.loc
            .extend(loc.iter().map(|&l| level.mean + level.std * f64::from(l)));
        self.scale
            .extend(scale.iter().map(|&s| level.std * f64::from(s)));
    }
}

/// Rows per inference batch. Every batch has exactly this many rows (a short one is padded
/// with zero rows): the CPU kernels pick different code paths, and so round differently, for
/// different row counts, and a forecast must not depend on which other forecasts it was
/// computed with.
const INFERENCE_BATCH: usize = 128;

/// Runs `model` over every sample (in batches); returns the mean NLL (standardised space) and
/// the distributions in model space (each sample's [`Level`](crate::features::Level) undone).
pub(crate) fn predict_samples(
    model: &ForecastModel,
    samples: &Samples,
    layout: Layout,
    device: &Device,
) -> (f64, Predicted) {
    let rows: Vec<usize> = (0..samples.issues.len()).collect();
    let horizon = layout.horizon_hours;
    let mut predicted = Predicted::default();
    let mut loss_sum = 0.0;
    for batch in rows.chunks(INFERENCE_BATCH) {
        let (inputs, targets) = gather(samples, batch, layout, device);
        let real = batch.len();
        let [_, tokens, width] = inputs.dims();
        let inputs = if real < INFERENCE_BATCH {
            let padding = Tensor::zeros([INFERENCE_BATCH - real, tokens, width], device);
            Tensor::cat(vec![inputs, padding], 0)
        } else {
            inputs
        };
        let padded = model.forward(inputs);
        let prediction = Prediction {
            loc: padded.loc.narrow(0, 0, real),
            scale: padded.scale.narrow(0, 0, real),
        };
        let loss = gaussian_nll(&prediction, targets).into_scalar::<f32>();
        loss_sum += f64::from(loss) * batch.len() as f64;
        let to_vec = |t: Tensor<2>| -> Vec<f32> {
            t.into_data()
                .try_into_vec::<f32>()
                .expect("model outputs are f32")
        };
        let locs = to_vec(prediction.loc);
        let scales = to_vec(prediction.scale);
        for (i, &row) in batch.iter().enumerate() {
            let hours = i * horizon..(i + 1) * horizon;
            predicted.push_standardised(samples.levels[row], &locs[hours.clone()], &scales[hours]);
        }
    }
    (loss_sum / samples.issues.len().max(1) as f64, predicted)
}

/// [`predict_samples`]' distributions from locations and scales in each sample's
/// standardised space (`[samples, horizon_hours]` each).
fn destandardise(
    samples: &Samples,
    layout: Layout,
    (locs, scales): (Vec<f32>, Vec<f32>),
) -> Predicted {
    let horizon = layout.horizon_hours;
    let mut predicted = Predicted::default();
    for (i, &level) in samples.levels.iter().enumerate() {
        let hours = i * horizon..(i + 1) * horizon;
        predicted.push_standardised(level, &locs[hours.clone()], &scales[hours]);
    }
    predicted
}

/// The ensemble's distributions: the mean of the members' locations, and the scale of the
/// equally weighted mixture's variance (mean of the variances plus the locations' spread).
/// `inputs(member)` gives member `member`'s layout and samples (the same forecasts, cut into
/// that member's tokens). `cpu_networks`, when not empty, are the same networks for the
/// fused CPU path ([`CpuNetwork::for_device`]) and are used instead of burn's forward pass.
pub(crate) fn predict_ensemble<'s>(
    models: &[ForecastModel],
    cpu_networks: &[CpuNetwork],
    device: &Device,
    inputs: impl Fn(usize) -> (Layout, &'s Samples),
) -> Predicted {
    let each: Vec<Predicted> = if cpu_networks.is_empty() {
        models
            .iter()
            .enumerate()
            .map(|(member, model)| {
                let (layout, samples) = inputs(member);
                predict_samples(model, samples, layout, device).1
            })
            .collect()
    } else {
        // Every sample in one call per member, spread over the machine's cores.
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let member_inputs: Vec<&[f32]> = (0..cpu_networks.len())
            .map(|member| inputs(member).1.inputs.as_slice())
            .collect();
        CpuNetwork::forward_members(cpu_networks, &member_inputs, threads)
            .into_iter()
            .enumerate()
            .map(|(member, outputs)| {
                let (layout, samples) = inputs(member);
                destandardise(samples, layout, outputs)
            })
            .collect()
    };
    let k = each.len() as f64;
    let hours = each.first().map_or(0, |p| p.loc.len());
    let mut combined = Predicted::default();
    for i in 0..hours {
        let loc = each.iter().map(|p| p.loc[i]).sum::<f64>() / k;
        let variance = each
            .iter()
            .map(|p| p.scale[i].powi(2) + (p.loc[i] - loc).powi(2))
            .sum::<f64>()
            / k;
        combined.loc.push(loc);
        combined.scale.push(variance.sqrt());
    }
    combined
}
