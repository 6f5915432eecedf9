use std::path::PathBuf;

use burn::module::Module;
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::kernels::exp_nonpositive;
use super::*;
use crate::device::DeviceChoice;
use crate::model::ModelConfig;
use crate::train::backend_rng;
use crate::trained::TrainedModel;

fn random_network(config: &ModelConfig, seed: u64) -> ForecastModel {
    let device = Device::flex();
    let _rng = backend_rng();
    device.seed(seed);
    config.init(&device).valid()
}

/// Standard-normal inputs (the scale of the normalised features) for `series` forecasts.
fn random_inputs(network: &CpuNetwork, series: usize, seed: u64) -> Vec<f32> {
    let device = Device::flex();
    let _rng = backend_rng();
    device.seed(seed);
    Tensor::<1>::random(
        [series * network.input_len()],
        Distribution::Normal(0.0, 1.0),
        &device,
    )
    .into_data()
    .try_into_vec::<f32>()
    .unwrap()
}

/// burn's forward pass of the same inputs.
fn burn_forward(
    model: &ForecastModel,
    network: &CpuNetwork,
    inputs: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let series = inputs.len() / network.input_len();
    let tensor = Tensor::from_data(
        TensorData::new(
            inputs.to_vec(),
            [series, network.tokens, network.token_width],
        ),
        &Device::flex(),
    );
    let prediction = model.forward(tensor);
    let read = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
    (read(prediction.loc), read(prediction.scale))
}

/// Largest |a − b| / (1 + |b|).
fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .fold(0.0, f32::max)
}

fn assert_matches_burn(model: &ForecastModel, series: usize, what: &str) {
    let network = CpuNetwork::from_model(model);
    let inputs = random_inputs(&network, series, 7);
    let (loc, scale) = network.forward(&inputs, 2);
    let (burn_loc, burn_scale) = burn_forward(model, &network, &inputs);
    let (loc_error, scale_error) = (
        largest_difference(&loc, &burn_loc),
        largest_difference(&scale, &burn_scale),
    );
    assert!(
        loc_error < 2e-5 && scale_error < 2e-5,
        "{what}: locations differ by {loc_error:e}, scales by {scale_error:e}"
    );
    assert!(
        scale.iter().all(|s| *s > 0.0),
        "{what}: scales are positive"
    );
}

#[test]
fn equals_burn_on_every_shape_of_model() {
    let configs = [
        ("default", ModelConfig::default()),
        (
            "hourly tokens, no skip, prices only",
            ModelConfig {
                patch_hours: 1,
                linear_skip: false,
                exogenous: false,
                ..ModelConfig::default()
            },
        ),
        (
            "1 hour ahead, 3 layers, 8 heads",
            ModelConfig {
                horizon_hours: 1,
                n_layers: 3,
                n_heads: 8,
                ..ModelConfig::default()
            },
        ),
        (
            "a week ahead",
            ModelConfig {
                horizon_hours: 168,
                ..ModelConfig::default()
            },
        ),
        (
            "a week ahead, 6-hour tokens",
            ModelConfig {
                horizon_hours: 168,
                patch_hours: 6,
                ..ModelConfig::default()
            },
        ),
    ];
    for (seed, (what, config)) in configs.iter().enumerate() {
        let model = random_network(config, seed as u64);
        // 70 series: two full chunks and a partial one, across two threads.
        assert_matches_burn(&model, 70, what);
    }
}

fn bundled_model(name: &str) -> TrainedModel {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(name);
    TrainedModel::load(dir, DeviceChoice::Cpu).unwrap()
}

#[test]
fn equals_burn_on_the_bundled_trained_models() {
    // Trained weights: layer norms, biases and positions far from their initial values.
    for name in ["np", "np-prices"] {
        let model = bundled_model(name);
        for (member, network) in model.networks().iter().enumerate() {
            assert_matches_burn(network, 40, &format!("models/{name} member {member}"));
        }
    }
}

#[test]
fn a_forecast_does_not_depend_on_its_batch_or_the_thread_count() {
    let model = bundled_model("np");
    let network = CpuNetwork::from_model(&model.networks()[0]);
    // 150 series: the skip path's products split at 64 series, chunks at 32.
    let inputs = random_inputs(&network, 150, 11);
    let (loc, scale) = network.forward(&inputs, 1);
    let (loc_2, scale_2) = network.forward(&inputs, 2);
    assert_eq!((&loc, &scale), (&loc_2, &scale_2), "one thread against two");
    let per_series = network.input_len();
    let horizon = network.horizon_hours;
    for (start, len) in [(0, 1), (5, 1), (31, 2), (60, 9), (149, 1), (3, 97)] {
        let (part_loc, part_scale) =
            network.forward(&inputs[start * per_series..(start + len) * per_series], 1);
        let hours = start * horizon..(start + len) * horizon;
        assert_eq!(
            part_loc,
            loc[hours.clone()],
            "series {start}..{}",
            start + len
        );
        assert_eq!(part_scale, scale[hours]);
    }
}

/// [`split::forward_split`], retried while another test's forward pass holds the helper.
fn forward_split(network: &CpuNetwork, inputs: &[f32]) -> Outputs {
    let outputs = inputs.len() / network.input_len() * network.horizon_hours;
    let (mut loc, mut scale) = (vec![f32::NAN; outputs], vec![f32::NAN; outputs]);
    for _ in 0..100_000 {
        if split::forward_split(network, inputs, &mut loc, &mut scale) {
            return (loc, scale);
        }
        std::thread::yield_now();
    }
    panic!("the helper stayed busy");
}

#[test]
fn a_chunk_split_over_two_threads_has_the_bits_of_one_thread() {
    if product::kernel().is_none() || !helper::available() {
        // The split needs the fused path's own kernel and a second core; elsewhere
        // `forward` runs every chunk on one thread, which the other tests cover.
        eprintln!("no AVX2 and FMA, or a single core: nothing is split here");
        return;
    }
    let configs = [
        ModelConfig::default(),
        ModelConfig {
            patch_hours: 1,
            linear_skip: false,
            exogenous: false,
            ..ModelConfig::default()
        },
        ModelConfig {
            horizon_hours: 1,
            n_layers: 3,
            n_heads: 8,
            ..ModelConfig::default()
        },
        ModelConfig {
            n_layers: 1,
            n_heads: 1,
            ..ModelConfig::default()
        },
        ModelConfig {
            horizon_hours: 168,
            patch_hours: 6,
            ..ModelConfig::default()
        },
    ];
    let mut networks: Vec<(String, CpuNetwork)> = configs
        .iter()
        .enumerate()
        .map(|(seed, config)| {
            let network = CpuNetwork::from_model(&random_network(config, seed as u64));
            (format!("{config:?}"), network)
        })
        .collect();
    let bundled = bundled_model("np");
    networks.push((
        "models/np".into(),
        CpuNetwork::from_model(&bundled.networks()[0]),
    ));
    for (what, network) in &networks {
        for series in [1, 3, CHUNK_SERIES] {
            let inputs = random_inputs(network, series, 5);
            let alone = network.forward(&inputs, 1);
            assert_eq!(
                forward_split(network, &inputs),
                alone,
                "{what}: {series} series"
            );
            assert_eq!(
                network.forward(&inputs, 2),
                alone,
                "{what}: {series} series"
            );
        }
    }
}

#[test]
fn callers_on_several_threads_share_the_helper_and_get_their_own_forecasts() {
    let model = bundled_model("np");
    let network = CpuNetwork::from_model(&model.networks()[0]);
    let inputs: Vec<Vec<f32>> = (0..4)
        .map(|seed| random_inputs(&network, 1, seed))
        .collect();
    let expected: Vec<Outputs> = inputs.iter().map(|i| network.forward(i, 1)).collect();
    std::thread::scope(|scope| {
        for (inputs, expected) in inputs.iter().zip(&expected) {
            let network = &network;
            scope.spawn(move || {
                for _ in 0..300 {
                    assert_eq!(&network.forward(inputs, 2), expected);
                }
            });
        }
    });
}

#[test]
fn an_empty_batch_gives_no_forecasts() {
    let model = random_network(&ModelConfig::default(), 3);
    let (loc, scale) = CpuNetwork::from_model(&model).forward(&[], 2);
    assert!(loc.is_empty() && scale.is_empty());
}

#[test]
fn gelu_equals_burns_exact_gelu() {
    // burn's CPU GELU uses libm's erff: a reference to a few ulps.
    let xs: Vec<f32> = (-120_000..=120_000).map(|i| i as f32 * 1e-4).collect();
    let mut fused = xs.clone();
    bias_gelu(&mut fused, &[0.0]);
    let reference = gelu(Tensor::<1>::from_data(
        TensorData::new(xs.clone(), [xs.len()]),
        &Device::flex(),
    ))
    .into_data()
    .try_into_vec::<f32>()
    .unwrap();
    let worst = fused
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 2e-6, "GELU differs by up to {worst:e}");
}

#[test]
fn softplus_follows_burn_on_both_sides_of_its_threshold() {
    assert_eq!(softplus(25.0), 25.0);
    assert!((softplus(0.0) - std::f32::consts::LN_2).abs() < 1e-7);
    assert!(
        softplus(-30.0) > 0.0,
        "log1p keeps the far-left tail positive"
    );
}

#[test]
fn exp_is_accurate_over_softmax_inputs() {
    let mut worst = 0.0f64;
    for i in 0..=1_000_000 {
        let x = -87.0 * f64::from(i) / 1e6;
        let exact = x.exp();
        let approx = f64::from(exp_nonpositive(x as f32));
        // Against e^x at the f32 input, so that rounding x itself does not count.
        let at_input = f64::from(x as f32).exp();
        worst = worst.max((approx - at_input).abs() / at_input);
        assert!(approx > 0.0 && exact > 0.0);
    }
    assert!(worst < 3e-7, "relative error up to {worst:e}");
    assert_eq!(exp_nonpositive(0.0), 1.0);
    assert!(exp_nonpositive(-1000.0) > 0.0);
}

#[test]
fn members_side_by_side_compute_what_each_computes_alone() {
    let six_hour_tokens = ModelConfig {
        patch_hours: 6,
        ..ModelConfig::default()
    };
    let configs = [
        ModelConfig::default(),
        six_hour_tokens,
        ModelConfig::default(),
    ];
    let members: Vec<CpuNetwork> = configs
        .iter()
        .enumerate()
        .map(|(seed, config)| CpuNetwork::from_model(&random_network(config, seed as u64)))
        .collect();
    // 1 and 3 series run members side by side on 2 or 3 threads; 70 series (3 chunks) and
    // one thread run them one after the other.
    for (series, threads) in [(1, 2), (3, 3), (1, 1), (70, 2)] {
        let inputs: Vec<Vec<f32>> = members
            .iter()
            .map(|member| random_inputs(member, series, 11))
            .collect();
        let slices: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        let alone: Vec<Outputs> = members
            .iter()
            .zip(&inputs)
            .map(|(member, inputs)| member.forward(inputs, 1))
            .collect();
        // Several calls, so that both ways of running members side by side (rayon's
        // pool, the helper) take turns.
        let calls = if series <= CHUNK_SERIES { 80 } else { 1 };
        for _ in 0..calls {
            let together = CpuNetwork::forward_members(&members, &slices, threads);
            assert_eq!(together, alone, "{series} series");
            assert!(together.iter().all(|o| o.0.len() == series * HOURS_PER_DAY));
        }
        if series <= CHUNK_SERIES && helper::available() {
            let with_helper = (0..100_000)
                .find_map(|_| {
                    let outputs = side_by_side::forward_members(&members, &slices);
                    if outputs.is_none() {
                        std::thread::yield_now();
                    }
                    outputs
                })
                .expect("the helper stayed busy");
            assert_eq!(with_helper, alone, "{series} series");
        }
    }
}
