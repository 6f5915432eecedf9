//! Inference throughput of the forecasting network, for `gridflow bench --forecast-only`.
//!
//! [`inference`] builds one network on a device, feeds it seeded random inputs of the
//! model's shape (`[batch, tokens, token_width]`: the 168 hours of context and the target
//! day, 8 tokens of 84 features with the default [`ModelConfig`]) and times forward passes
//! per batch size, after warm-up passes of the same size that are not counted. Each timed
//! pass ends by reading the forecast back to the host, so a backend that queues work
//! lazily is timed for all of it. Next to it, on the same device and in the same call, a
//! plain square matrix product through burn gives the device's attainable GFLOP/s, so each
//! batch's rate can be stated as a share of it.
//!
//! An ensemble of k members runs k such networks: k times the FLOPs. On the CPU it is timed
//! too ([`BenchSettings::ensemble`]): a small batch there runs its members side by side
//! on the cores, which one network's few series cannot keep busy. Numbers come from
//! whatever build calls this: use a release build.

use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::cpu_network::CpuNetwork;
use crate::device::DeviceChoice;
use crate::error::Result;
use crate::model::ModelConfig;
use crate::train::backend_rng;

/// The batch sizes the issue asks for: one series, a small batch, a large one, and 21,000
/// series (every node of a large market at once).
pub const BATCHES: [usize; 4] = [1, 64, 1_024, 21_000];

/// How long and how often to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchSettings {
    /// Batch sizes to time, in order.
    pub batches: Vec<usize>,
    /// Untimed forward passes before the timed ones, per batch size.
    pub warmup_passes: usize,
    /// Timed passes continue until this many seconds have passed…
    pub min_seconds: f64,
    /// …and at least this many passes were timed…
    pub min_passes: usize,
    /// …but stop after this many.
    pub max_passes: usize,
    /// Batches larger than this are timed a second time as consecutive forward passes of at
    /// most this many series each (inputs split before the clock starts). `None`: only
    /// whole batches.
    pub sub_batch: Option<usize>,
    /// Side of the square matrices of the baseline product; `None`: 1,024 on the CPU,
    /// 4,096 on a GPU (where a 1,024 product is too short to keep the device busy).
    pub matmul_size: Option<usize>,
    /// Seed of the network's weights and of the inputs.
    pub seed: u64,
    /// On the CPU, also time an ensemble of this many networks (seeds `seed, seed+1, …`)
    /// through the fused path, as a trained model of that many members predicts. 0 or 1:
    /// one network only.
    pub ensemble: usize,
}

impl Default for BenchSettings {
    fn default() -> Self {
        Self {
            batches: BATCHES.to_vec(),
            warmup_passes: 2,
            min_seconds: 1.0,
            min_passes: 5,
            max_passes: 10_000,
            sub_batch: Some(1_024),
            matmul_size: None,
            seed: 7,
            ensemble: 4,
        }
    }
}

/// Wall-clock seconds of repeated passes of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// How many passes were timed.
    pub passes: usize,
    /// Median seconds per pass.
    pub median: f64,
    /// The fastest pass.
    pub fastest: f64,
    /// The slowest pass.
    pub slowest: f64,
}

/// Which implementation of the forward pass was timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardPath {
    /// burn's `ForecastModel::forward` on the device (training's path, and the GPUs').
    Burn,
    /// The fused CPU path predictions use on the CPU device (weights copied out of burn,
    /// chunks of series through every layer, the batch split over the machine's cores).
    FusedCpu,
}

impl std::fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Burn => "burn",
            Self::FusedCpu => "fused CPU",
        })
    }
}

/// One batch size's forward passes.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchTiming {
    /// The implementation timed.
    pub path: ForwardPath,
    /// Series per timed pass.
    pub batch: usize,
    /// `Some(n)`: the pass is consecutive forward passes of at most n of those series.
    pub sub_batch: Option<usize>,
    /// Networks each series went through: 1, or an ensemble's members.
    pub networks: usize,
    /// Seconds per pass, forecasts read back included.
    pub timing: Timing,
}

impl BatchTiming {
    /// Series forecast per second at the median.
    pub fn series_per_second(&self) -> f64 {
        self.batch as f64 / self.timing.median
    }

    /// Achieved GFLOP/s at the median, counting `flops_per_series` for each series and
    /// network.
    pub fn gflops(&self, flops_per_series: u64) -> f64 {
        (flops_per_series * self.networks as u64) as f64 * self.series_per_second() / 1e9
    }
}

/// The plain matrix product of two `size × size` f32 matrices on the same device.
#[derive(Debug, Clone, PartialEq)]
pub struct MatmulBaseline {
    /// Side of the square matrices.
    pub size: usize,
    /// Seconds per product.
    pub timing: Timing,
}

impl MatmulBaseline {
    /// 2·n³ floating-point operations per product.
    pub fn flops(&self) -> f64 {
        2.0 * (self.size as f64).powi(3)
    }

    /// GFLOP/s at the median.
    pub fn gflops(&self) -> f64 {
        self.flops() / self.timing.median / 1e9
    }
}

/// Everything one call of [`inference`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceReport {
    /// The device it ran on (the CPU after a fallback).
    pub device: DeviceChoice,
    /// The network's configuration.
    pub config: ModelConfig,
    /// [`flops_per_series`] of that configuration.
    pub flops_per_series: u64,
    /// The baseline product, measured before the network…
    pub matmul_before: MatmulBaseline,
    /// …and again after it, since a shared machine drifts.
    pub matmul_after: MatmulBaseline,
    /// Per batch size, in the order asked: on the CPU the fused path first (one network,
    /// then the ensemble of [`BenchSettings::ensemble`]); then burn's
    /// forward pass, followed by its split timing where [`BenchSettings::sub_batch`]
    /// applies.
    pub batches: Vec<BatchTiming>,
}

impl InferenceReport {
    /// The faster of the two baseline measurements in GFLOP/s: the ratios below are
    /// taken against it, so that drift makes them smaller, never larger.
    pub fn matmul_gflops(&self) -> f64 {
        self.matmul_before.gflops().max(self.matmul_after.gflops())
    }

    /// A batch's achieved GFLOP/s as a fraction of [`Self::matmul_gflops`].
    pub fn matmul_fraction(&self, batch: &BatchTiming) -> f64 {
        batch.gflops(self.flops_per_series) / self.matmul_gflops()
    }
}

/// Floating-point operations of one series' forward pass on the fused CPU path, counted as
/// 2·m·k·n per product of an m×k by a k×n matrix, over every product it computes: the
/// token embedding, per encoder layer the query, key and value projections of every
/// token, then for each query token the attention scores, their weighted sum of values,
/// the output projection and the two feed-forward layers, then the head (on the target
/// day's tokens only) and the linear skip from the flattened input. Every token is a
/// query but in the last layer, where only the target day's tokens are: the others' rows
/// there cannot reach the head (burn's forward pass computes them anyway, so its GFLOP/s
/// below count the work a forecast needs, not all it does).
///
/// Left out: bias additions, the positional embedding, residual sums, layer norms,
/// softmax, activations (GELU, softplus) and the reshapes between them: O(tokens · d_model)
/// each against the products' O(tokens · d_model²). So this is a lower bound of the work
/// done, and a GFLOP/s figure based on it understates the device's rate slightly.
pub fn flops_per_series(config: &ModelConfig) -> u64 {
    let product = |m: usize, k: usize, n: usize| 2 * (m * k * n) as u64;
    let layout = config.layout();
    let tokens = layout.tokens();
    let width = layout.token_width();
    let d = config.d_model;
    let head_dim = d / config.n_heads;
    let embed = product(tokens, width, d);
    let layer = |queries: usize| {
        3 * product(tokens, d, d)
            + config.n_heads as u64
                * (product(queries, head_dim, tokens) + product(queries, tokens, head_dim))
            + product(queries, d, d)
            + product(queries, d, config.d_ff)
            + product(queries, config.d_ff, d)
    };
    let layers = match config.n_layers {
        0 => 0,
        n => (n - 1) as u64 * layer(tokens) + layer(layout.target_tokens()),
    };
    let head = product(layout.target_tokens(), d, 2 * config.patch_hours);
    let skip = if config.linear_skip {
        product(1, layout.input_len(), 2 * config.horizon_hours)
    } else {
        0
    };
    embed + layers + head + skip
}

/// Times one network of `config` on `device` for every batch size of `settings`, and the
/// baseline product before and after. A GPU choice that this build or machine lacks runs on
/// the CPU (the report says which).
pub fn inference(
    device: DeviceChoice,
    config: &ModelConfig,
    settings: &BenchSettings,
) -> Result<InferenceReport> {
    config.validate()?;
    let (device, used) = device.resolve();
    let matmul_size = settings.matmul_size.unwrap_or(match used {
        DeviceChoice::Cpu => 1_024,
        DeviceChoice::Cuda | DeviceChoice::Wgpu => 4_096,
    });
    let matmul_before = matmul(&device, matmul_size, settings);
    let model = {
        // The CPU backend's generator is process-wide: hold it while seeding and drawing.
        let _rng = backend_rng();
        device.seed(settings.seed);
        config.init(&device).valid()
    };
    let fused = (used == DeviceChoice::Cpu).then(|| CpuNetwork::from_model(&model));
    let members: Vec<CpuNetwork> = match &fused {
        Some(first) if settings.ensemble > 1 => {
            let _rng = backend_rng();
            let mut members = vec![first.clone()];
            for member in 1..settings.ensemble {
                device.seed(settings.seed.wrapping_add(member as u64));
                members.push(CpuNetwork::from_model(&config.init(&device).valid()));
            }
            members
        }
        _ => Vec::new(),
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let layout = config.layout();
    let shape = [layout.tokens(), layout.token_width()];
    let mut batches = Vec::with_capacity(settings.batches.len());
    for &batch in &settings.batches {
        let values = random_inputs(batch * shape[0] * shape[1], settings.seed);
        if let Some(network) = &fused {
            let timing = repeat(settings, || {
                std::hint::black_box(network.forward(&values, threads));
            });
            batches.push(BatchTiming {
                path: ForwardPath::FusedCpu,
                batch,
                sub_batch: None,
                networks: 1,
                timing,
            });
        }
        if !members.is_empty() {
            let inputs = vec![values.as_slice(); members.len()];
            let timing = repeat(settings, || {
                std::hint::black_box(CpuNetwork::forward_members(&members, &inputs, threads));
            });
            batches.push(BatchTiming {
                path: ForwardPath::FusedCpu,
                batch,
                sub_batch: None,
                networks: members.len(),
                timing,
            });
        }
        let inputs = Tensor::from_data(
            TensorData::new(values, [batch, shape[0], shape[1]]),
            &device,
        );
        let splits = std::iter::once(None).chain(
            settings
                .sub_batch
                .filter(|&sub_batch| sub_batch > 0 && sub_batch < batch)
                .map(Some),
        );
        for sub_batch in splits {
            let size = sub_batch.unwrap_or(batch);
            let parts: Vec<Tensor<3>> = (0..batch)
                .step_by(size)
                .map(|start| inputs.clone().narrow(0, start, size.min(batch - start)))
                .collect();
            let timing = repeat(settings, || {
                for part in &parts {
                    let prediction = model.forward(part.clone());
                    // Reading both outputs back makes a lazy backend run the whole graph.
                    prediction.loc.into_data();
                    prediction.scale.into_data();
                }
            });
            batches.push(BatchTiming {
                path: ForwardPath::Burn,
                batch,
                sub_batch,
                networks: 1,
                timing,
            });
        }
    }
    let matmul_after = matmul(&device, matmul_size, settings);
    Ok(InferenceReport {
        device: used,
        config: config.clone(),
        flops_per_series: flops_per_series(config),
        matmul_before,
        matmul_after,
        batches,
    })
}

/// Times `size × size` products of two random f32 matrices, warm-up excluded.
fn matmul(device: &Device, size: usize, settings: &BenchSettings) -> MatmulBaseline {
    let uniform = Distribution::Uniform(-1.0, 1.0);
    let (a, b): (Tensor<2>, Tensor<2>) = {
        // Unseeded, but drawing from the process-wide generator while a seeded run holds
        // it would change that run's numbers.
        let _rng = backend_rng();
        (
            Tensor::random([size, size], uniform, device),
            Tensor::random([size, size], uniform, device),
        )
    };
    let timing = repeat(settings, || {
        // One value read back waits for the whole product (it cannot be sliced before it
        // exists) without copying its n² values to the host, which on a GPU would take
        // longer than the product itself.
        a.clone().matmul(b.clone()).slice([0..1, 0..1]).into_data();
    });
    MatmulBaseline { size, timing }
}

/// Runs `pass` `settings.warmup_passes` times untimed, then times it until both
/// `min_seconds` and `min_passes` are reached (at most `max_passes`).
fn repeat(settings: &BenchSettings, mut pass: impl FnMut()) -> Timing {
    for _ in 0..settings.warmup_passes {
        pass();
    }
    let mut seconds = Vec::new();
    let started = Instant::now();
    while seconds.len() < settings.max_passes.max(1)
        && (seconds.len() < settings.min_passes.max(1)
            || started.elapsed().as_secs_f64() < settings.min_seconds)
    {
        let start = Instant::now();
        pass();
        seconds.push(start.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let middle = seconds.len() / 2;
    let median = if seconds.len() % 2 == 1 {
        seconds[middle]
    } else {
        0.5 * (seconds[middle - 1] + seconds[middle])
    };
    Timing {
        passes: seconds.len(),
        median,
        fastest: seconds[0],
        slowest: seconds[seconds.len() - 1],
    }
}

/// `len` values uniform in [−1, 1), the same for a given seed on every device (drawn here,
/// not by the backend).
fn random_inputs(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            // SplitMix64; the top 24 bits give an f32 in [0, 1) exactly.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            2.0 * ((z >> 40) as f32 / (1u64 << 24) as f32) - 1.0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default network counted by hand: 8 tokens of 84 features, d_model 64, 4 heads
    /// of 16, 2 layers, d_ff 128, one target token, 48 outputs, 672 inputs to the skip.
    #[test]
    fn flops_of_the_default_network_by_hand() {
        let embed = 2 * 8 * 84 * 64; // 86,016
        let query_key_value = 3 * (2 * 8 * 64 * 64); // 196,608
        // The first layer: all 8 tokens are queries.
        let output = 2 * 8 * 64 * 64; // 65,536
        let scores = 4 * (2 * 8 * 16 * 8); // 8,192
        let weighted_values = 4 * (2 * 8 * 8 * 16); // 8,192
        let feed_forward = 2 * 8 * 64 * 128 + 2 * 8 * 128 * 64; // 262,144
        let first = query_key_value + output + scores + weighted_values + feed_forward; // 540,672
        // The last layer: only the target token is a query.
        let last = query_key_value // 196,608
            + 2 * 64 * 64 // 8,192
            + 4 * (2 * 16 * 8) // 1,024
            + 4 * (2 * 8 * 16) // 1,024
            + (2 * 64 * 128 + 2 * 128 * 64); // 32,768
        let head = 2 * 64 * 48; // 6,144
        let skip = 2 * 672 * 48; // 64,512
        let total = embed + first + last + head + skip;
        assert_eq!((first, last), (540_672, 239_616));
        assert_eq!(total, 936_960);
        assert_eq!(flops_per_series(&ModelConfig::default()), total);
        let without_skip = ModelConfig {
            linear_skip: false,
            ..ModelConfig::default()
        };
        assert_eq!(flops_per_series(&without_skip), total - skip);
    }

    /// One hour per token: 192 tokens, so attention's share grows with the square; the
    /// last layer's queries are the target day's 24.
    #[test]
    fn flops_with_hourly_tokens() {
        let config = ModelConfig {
            patch_hours: 1,
            ..ModelConfig::default()
        };
        let (t, w) = (192, 3 + 12);
        let layer = |q: usize| {
            3 * (2 * t * 64 * 64) + 2 * q * 64 * 64 + 2 * (2 * q * t * 64) + 2 * (2 * q * 64 * 128)
        };
        let expected = 2 * t * w * 64 + layer(t) + layer(24) + 24 * (2 * 64 * 2) + 2 * (t * w) * 48;
        assert_eq!(flops_per_series(&config), expected as u64);
    }

    #[test]
    fn a_small_run_reports_every_batch() {
        let settings = BenchSettings {
            batches: vec![1, 3],
            warmup_passes: 1,
            min_seconds: 0.0,
            min_passes: 2,
            max_passes: 2,
            sub_batch: Some(2),
            matmul_size: Some(32),
            seed: 1,
            ensemble: 2,
        };
        let report = inference(DeviceChoice::Cpu, &ModelConfig::default(), &settings).unwrap();
        assert_eq!(report.device, DeviceChoice::Cpu);
        assert_eq!(report.flops_per_series, 936_960);
        assert_eq!(report.matmul_before.size, 32);
        let sizes: Vec<(ForwardPath, usize, Option<usize>, usize)> = report
            .batches
            .iter()
            .map(|b| (b.path, b.batch, b.sub_batch, b.networks))
            .collect();
        use ForwardPath::{Burn, FusedCpu};
        assert_eq!(
            sizes,
            [
                (FusedCpu, 1, None, 1),
                (FusedCpu, 1, None, 2),
                (Burn, 1, None, 1),
                (FusedCpu, 3, None, 1),
                (FusedCpu, 3, None, 2),
                (Burn, 3, None, 1),
                (Burn, 3, Some(2), 1)
            ]
        );
        // Two networks count twice the FLOPs of one per series.
        let (one, two) = (&report.batches[0], &report.batches[1]);
        let per_series = |b: &BatchTiming| b.gflops(1_000_000) / b.series_per_second();
        assert!((per_series(two) - 2.0 * per_series(one)).abs() < 1e-12);
        for batch in &report.batches {
            assert_eq!(batch.timing.passes, 2);
            assert!(batch.timing.fastest <= batch.timing.median);
            assert!(batch.timing.median <= batch.timing.slowest);
            assert!(report.matmul_fraction(batch).is_finite());
        }
    }
}
