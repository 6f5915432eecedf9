//! The network's layers as plain `f32` buffers: dense layers (their products whole, or
//! as one range of their inner dimension) and layer norms, copied out of burn's modules.

use std::ops::Range;

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::Tensor;

use super::kernels::{Operand, add_residual_halves, fold_in_lanes, matrix_product};
use super::product;
use super::{LAYER_NORM_EPSILON, MAX_INNER_BLOCK, resize};

/// A dense layer: `y = x · weight + bias`, `weight` row-major `[inputs, outputs]`.
#[derive(Clone)]
pub(super) struct Dense {
    pub(super) weight: Vec<f32>,
    pub(super) bias: Vec<f32>,
    pub(super) inputs: usize,
    pub(super) outputs: usize,
}

impl Dense {
    pub(super) fn from_linear(linear: &Linear) -> Self {
        let [inputs, outputs] = linear.weight.dims();
        let bias = linear
            .bias
            .as_ref()
            .map_or_else(|| vec![0.0; outputs], values);
        Self {
            weight: values(&linear.weight),
            bias,
            inputs,
            outputs,
        }
    }

    /// Q, K and V side by side: one product of width `3 · d_model` instead of three.
    pub(super) fn concatenate(parts: &[Dense]) -> Self {
        let inputs = parts[0].inputs;
        let outputs = parts.iter().map(|p| p.outputs).sum();
        let mut weight = Vec::with_capacity(inputs * outputs);
        for row in 0..inputs {
            for part in parts {
                weight.extend_from_slice(&part.weight[row * part.outputs..][..part.outputs]);
            }
        }
        Self {
            weight,
            bias: parts.iter().flat_map(|p| p.bias.iter().copied()).collect(),
            inputs,
            outputs,
        }
    }

    /// `output = input[:, terms] · weight[terms, :]` for `rows` rows of `input`
    /// (`[rows, self.inputs]`): the terms `terms` of the product only. The output
    /// projection and the outer feed-forward product are summed as two such halves
    /// ([`super::CpuNetwork::output_projection_halves`], [`feed_forward_halves`]): the
    /// order the forecasts were first computed in when a chunk was split by columns
    /// (2026-12-02), kept so they keep their bits.
    pub(super) fn product_inner(
        &self,
        input: &[f32],
        rows: usize,
        terms: Range<usize>,
        output: &mut [f32],
    ) {
        let values = &input[terms.start.min(input.len())..];
        self.product_terms(values, self.inputs, rows, terms, output);
    }

    fn product_terms(
        &self,
        values: &[f32],
        row_stride: usize,
        rows: usize,
        terms: Range<usize>,
        output: &mut [f32],
    ) {
        let n = self.outputs;
        let output = &mut output[..rows * n];
        if terms.is_empty() || rows == 0 {
            output.fill(0.0);
            return;
        }
        let lhs = Operand {
            values,
            rows,
            columns: terms.len(),
            row_stride,
        };
        let rhs = &self.weight[terms.start * n..terms.end * n];
        match product::kernel() {
            Some(cpu) => product::product(cpu, lhs, rhs, n, output),
            None => matrix_product(lhs, rhs, n, output),
        }
    }

    /// `output = input · weight` (no bias) for `rows` rows.
    pub(super) fn product(&self, input: &[f32], rows: usize, output: &mut [f32]) {
        let (k, n) = (self.inputs, self.outputs);
        let output = &mut output[..rows * n];
        if let Some(cpu) = product::kernel() {
            let lhs = Operand {
                values: input,
                rows,
                columns: k,
                row_stride: k,
            };
            return product::product(cpu, lhs, &self.weight, n, output);
        }
        let block = k.div_ceil(k.div_ceil(MAX_INNER_BLOCK).max(1)).max(1);
        let lhs = |start: usize| Operand {
            values: &input[start..],
            rows,
            columns: block.min(k - start),
            row_stride: k,
        };
        let rhs = |start: usize| &self.weight[start * n..(start + block.min(k - start)) * n];
        matrix_product(lhs(0), rhs(0), n, output);
        // Later blocks are summed into a separate buffer and added: gemm's own
        // accumulation rounds differently for a single row.
        let mut partial = Vec::new();
        for start in (block..k).step_by(block) {
            partial.resize(rows * n, 0.0);
            matrix_product(lhs(start), rhs(start), n, &mut partial);
            for (o, p) in output.iter_mut().zip(&partial) {
                *o += p;
            }
        }
    }
}

#[derive(Clone)]
pub(super) struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    pub(super) fn from_layer_norm(norm: &LayerNorm) -> Self {
        let gamma = values(&norm.gamma);
        let beta = norm
            .beta
            .as_ref()
            .map_or_else(|| vec![0.0; gamma.len()], values);
        Self { gamma, beta }
    }

    /// Normalises each row of `input` (width `gamma.len()`) into `output`.
    #[inline(always)]
    pub(super) fn apply(&self, input: &[f32], output: &mut [f32]) {
        let width = self.gamma.len();
        for (row, out) in input
            .chunks_exact(width)
            .zip(output.chunks_exact_mut(width))
        {
            let add = |a: f32, b: f32| a + b;
            let mean = fold_in_lanes(row, 0.0, |x| x, add) / width as f32;
            let variance = fold_in_lanes(row, 0.0, |x| (x - mean) * (x - mean), add) / width as f32;
            let inverse = 1.0 / (variance + LAYER_NORM_EPSILON).sqrt();
            for (((o, &x), &g), &b) in out.iter_mut().zip(row).zip(&self.gamma).zip(&self.beta) {
                *o = (x - mean) * inverse * g + b;
            }
        }
    }
}

/// `x += input · dense.weight + bias` for `rows` rows, the product summed as its two
/// halves `halves` of the inner dimension (each into one of `products`), `(low + high)
/// + bias` per element.
#[inline(always)]
pub(super) fn add_product_in_halves(
    dense: &Dense,
    input: &[f32],
    rows: usize,
    halves: [Range<usize>; 2],
    products: [&mut Vec<f32>; 2],
    x: &mut [f32],
) {
    let [low, high] = products;
    for (product, terms) in [&mut *low, &mut *high].into_iter().zip(halves) {
        resize(product, rows * dense.outputs);
        dense.product_inner(input, rows, terms, product);
    }
    add_residual_halves(x, low, high, &dense.bias);
}

/// The inner feed-forward width's two halves, in which the outer product is summed.
pub(super) fn feed_forward_halves(inner_width: usize) -> [Range<usize>; 2] {
    [column_half(inner_width, 0), column_half(inner_width, 1)]
}

/// Where the outer feed-forward product's terms are cut in two: half of them, rounded up
/// to whole panels of 16 (the product kernel's width).
pub(super) fn column_half(n: usize, half: usize) -> Range<usize> {
    let split = (n / 2).next_multiple_of(16).min(n);
    if half == 0 { 0..split } else { split..n }
}

pub(super) fn values<const D: usize>(param: &Param<Tensor<D>>) -> Vec<f32> {
    param
        .val()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32 above")
}
