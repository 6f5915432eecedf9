//! The CPU inference path: a trained [`ForecastModel`]'s weights copied into plain `f32`
//! buffers and run through a fused forward pass.
//!
//! burn's CPU backend spends most of a forward pass outside the matrix products: a fresh
//! output buffer per operation (page faults on the large ones), a scalar `erf` in GELU and
//! one pass over memory per elementwise operation (`docs/performance.md`). Here the network
//! runs chunk by chunk: each chunk's series go through every layer in buffers that are
//! allocated once per thread and stay in cache, bias, residual and activation are applied in
//! one pass, GELU uses a branch-free rational `erf` the compiler vectorises, and sums over a
//! row (layer norms, softmax) run in interleaved lanes. The matrix products run through
//! [`product`]'s own kernel on x86-64 CPUs with AVX2 and FMA (weights read in place, no
//! packing per call: what a single series needs), elsewhere through the `gemm` crate
//! burn uses. Chunks are spread over rayon's pool; a batch of a single chunk (a live
//! update of a few series) is instead shared by the calling thread and a helper thread
//! that stays awake between close forecasts ([`split`], [`helper`]), when that has been
//! the faster way lately ([`faster`]).
//!
//! Training, and the GPU backends, keep using burn; this path is used for inference on the
//! CPU device only. Its forecasts equal burn's within float tolerance (tests below), and a
//! series' forecast does not depend on the other series of its batch or on the threads
//! (bit for bit: every product a series takes part in sums the same terms in the same
//! order whatever the batch and however its columns are cut; see [`product`], and
//! [`MAX_INNER_BLOCK`] for `gemm`).

use std::cell::RefCell;
use std::fmt;
use std::ops::Range;

use crate::data::HOURS_PER_DAY;
use crate::device::DeviceChoice;
use crate::model::ForecastModel;
use attention::Queries;
use faster::FasterBySize;
use kernels::{add_bias, bias_gelu, softplus};
use layers::{Dense, Norm, add_product_in_halves, feed_forward_halves, values};
use product::Kernel;

/// Series per chunk: 32 series × 8 tokens = 256 rows, whose widest intermediate (the
/// feed-forward block, 256 × 128 f32 = 128 KiB) fits in L2 next to the weights.
const CHUNK_SERIES: usize = 32;

/// `gemm` sums a product's inner dimension in one block up to 512 terms; beyond that its
/// blocks depend on the row count (the linear skip reads 672 inputs). Longer inner
/// dimensions are therefore cut into blocks of at most this many here, the same for every
/// batch.
const MAX_INNER_BLOCK: usize = 512;

/// burn's `LayerNormConfig` and `TransformerEncoderConfig` default, which the model keeps.
const LAYER_NORM_EPSILON: f32 = 1e-5;

/// Locations and scales of a batch, `[series, horizon_hours]` row-major each.
pub(crate) type Outputs = (Vec<f32>, Vec<f32>);

/// One pre-norm encoder layer (burn's `TransformerEncoderLayer` with `norm_first`).
#[derive(Clone)]
struct EncoderLayer {
    attention_norm: Norm,
    query_key_value: Dense,
    attention_output: Dense,
    feed_forward_norm: Norm,
    feed_forward_inner: Dense,
    feed_forward_outer: Dense,
}

/// A [`ForecastModel`] ready for CPU inference. Build it with [`CpuNetwork::from_model`].
#[derive(Clone)]
pub(crate) struct CpuNetwork {
    tokens: usize,
    token_width: usize,
    d_model: usize,
    n_heads: usize,
    patch_hours: usize,
    horizon_hours: usize,
    embed: Dense,
    /// `[tokens, d_model]`.
    position: Vec<f32>,
    layers: Vec<EncoderLayer>,
    norm: Norm,
    head: Dense,
    skip: Option<Dense>,
}

impl fmt::Debug for CpuNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpuNetwork")
            .field("tokens", &self.tokens)
            .field("token_width", &self.token_width)
            .field("d_model", &self.d_model)
            .field("layers", &self.layers.len())
            .field("horizon_hours", &self.horizon_hours)
            .finish_non_exhaustive()
    }
}

/// Per-thread working memory for one chunk, reused across chunks.
#[derive(Default)]
struct Scratch {
    x: Vec<f32>,
    normed: Vec<f32>,
    query_key_value: Vec<f32>,
    context: Vec<f32>,
    product: Vec<f32>,
    product_high: Vec<f32>,
    feed_forward: Vec<f32>,
    head: Vec<f32>,
    skip: Vec<f32>,
    attention: AttentionScratch,
}

#[derive(Default)]
struct AttentionScratch {
    /// One head's keys, `[head_width, tokens]`.
    keys_transposed: Vec<f32>,
    /// One head's scores, then weights, `[tokens, tokens]`.
    scores: Vec<f32>,
}

impl CpuNetwork {
    /// Copies `model`'s weights.
    pub(crate) fn from_model(model: &ForecastModel) -> Self {
        let parts = model;
        let [_, tokens, d_model] = parts.position.dims();
        let layers = parts
            .encoder
            .layers
            .iter()
            .map(|layer| EncoderLayer {
                attention_norm: Norm::from_layer_norm(&layer.norm_2),
                query_key_value: Dense::concatenate(&[
                    Dense::from_linear(&layer.mha.query),
                    Dense::from_linear(&layer.mha.key),
                    Dense::from_linear(&layer.mha.value),
                ]),
                attention_output: Dense::from_linear(&layer.mha.output),
                feed_forward_norm: Norm::from_layer_norm(&layer.norm_1),
                feed_forward_inner: Dense::from_linear(&layer.pwff.linear_inner),
                feed_forward_outer: Dense::from_linear(&layer.pwff.linear_outer),
            })
            .collect();
        let embed = Dense::from_linear(&parts.embed);
        Self {
            tokens,
            token_width: embed.inputs,
            d_model,
            n_heads: parts.encoder.n_heads,
            patch_hours: parts.patch_hours,
            horizon_hours: parts.horizon_hours,
            embed,
            position: values(&parts.position),
            layers,
            norm: Norm::from_layer_norm(&parts.norm),
            head: Dense::from_linear(&parts.head),
            skip: parts.skip.as_ref().map(Dense::from_linear),
        }
    }

    /// One per network when inference runs on the CPU (`used`), none on a GPU.
    pub(crate) fn for_device(models: &[ForecastModel], used: DeviceChoice) -> Vec<Self> {
        match used {
            DeviceChoice::Cpu => models.iter().map(Self::from_model).collect(),
            DeviceChoice::Cuda | DeviceChoice::Wgpu => Vec::new(),
        }
    }

    /// Floats of one forecast's input (`[tokens, token_width]`, row-major).
    pub(crate) fn input_len(&self) -> usize {
        self.tokens * self.token_width
    }

    /// Forecasts `inputs.len() / input_len()` series on up to `threads` threads; returns the
    /// locations and scales, `[series, horizon_hours]` row-major each, as burn's
    /// [`ForecastModel::forward`] does.
    pub(crate) fn forward(&self, inputs: &[f32], threads: usize) -> (Vec<f32>, Vec<f32>) {
        let per_series = self.input_len();
        assert_eq!(
            inputs.len() % per_series,
            0,
            "inputs hold whole forecasts of {per_series} floats"
        );
        let series = inputs.len() / per_series;
        let horizon = self.horizon_hours;
        let mut loc = vec![0.0; series * horizon];
        let mut scale = vec![0.0; series * horizon];
        let chunks = series.div_ceil(CHUNK_SERIES);
        // A single chunk (one series in a live update) may be shared by this thread and
        // the helper instead ([`split`]).
        if chunks == 1 && threads >= 2 {
            split::forward_one_chunk(self, inputs, &mut loc, &mut scale);
            return (loc, scale);
        }
        let threads = threads.clamp(1, chunks.max(1));
        if threads == 1 {
            self.forward_chunks(inputs, &mut loc, &mut scale);
        } else {
            // Contiguous runs of whole chunks, so the chunking (and each result) is the
            // same as on one thread.
            // On rayon's pool, whose threads are already running (see `forward_members`).
            use rayon::prelude::*;
            let series_per_thread = chunks.div_ceil(threads) * CHUNK_SERIES;
            inputs
                .par_chunks(series_per_thread * per_series)
                .zip(loc.par_chunks_mut(series_per_thread * horizon))
                .zip(scale.par_chunks_mut(series_per_thread * horizon))
                .for_each(|((inputs, loc), scale)| self.forward_chunks(inputs, loc, scale));
        }
        (loc, scale)
    }

    /// [`forward`](Self::forward) of every member of an ensemble, member `k` on
    /// `inputs[k]` (the same series, cut into that member's tokens), each split over up
    /// to `threads` threads. When the batch has fewer chunks than threads (a live update of
    /// a few series), the members instead run side by side, rather than one after the
    /// other on a single chunk's thread: half on this thread and half on the helper
    /// ([`side_by_side`]), or one per thread of rayon's pool, whichever has been faster
    /// lately. Either way each member computes exactly what it would alone.
    pub(crate) fn forward_members(
        members: &[CpuNetwork],
        inputs: &[&[f32]],
        threads: usize,
    ) -> Vec<Outputs> {
        assert_eq!(members.len(), inputs.len(), "one input per member");
        let series = members
            .first()
            .map_or(0, |first| inputs[0].len() / first.input_len());
        if threads <= 1 || members.len() <= 1 || series.div_ceil(CHUNK_SERIES) >= threads {
            return members
                .iter()
                .zip(inputs)
                .map(|(member, inputs)| member.forward(inputs, threads))
                .collect();
        }
        // Half the members on this thread and half on the helper, or each member on a
        // thread of rayon's pool (already running, their buffers warm, where threads
        // started per call would cost more than a small batch's forward pass), whichever
        // has been faster lately.
        thread_local! {
            static FASTER: RefCell<FasterBySize> = RefCell::new(FasterBySize::default());
        }
        let mut faster = FASTER.take();
        let mut outputs = Vec::new();
        faster.run(series, |with_helper| {
            if with_helper {
                return side_by_side::forward_members(members, inputs)
                    .map(|computed| outputs = computed)
                    .is_some();
            }
            use rayon::prelude::*;
            outputs = members
                .par_iter()
                .zip(inputs.par_iter())
                .with_max_len(1)
                .map(|(member, inputs)| member.forward(inputs, 1))
                .collect();
            true
        });
        FASTER.set(faster);
        outputs
    }

    fn forward_chunks(&self, inputs: &[f32], loc: &mut [f32], scale: &mut [f32]) {
        match product::kernel() {
            None => self.forward_chunks_inline(inputs, loc, scale),
            #[cfg(target_arch = "x86_64")]
            Some(Kernel::Avx2Fma(detected)) => {
                forward_chunks_avx2_fma(detected, self, inputs, loc, scale)
            }
            #[cfg(target_arch = "x86_64")]
            Some(Kernel::Avx512(detected)) => {
                forward_chunks_avx512(detected, self, inputs, loc, scale)
            }
            #[cfg(not(target_arch = "x86_64"))]
            Some(_) => self.forward_chunks_inline(inputs, loc, scale),
        }
    }

    /// Inlined into [`forward_chunks_avx2_fma`] and [`forward_chunks_avx512`] so that the
    /// layer norms, GELU, softmax and attention loops compile to vectors there.
    #[inline(always)]
    fn forward_chunks_inline(&self, inputs: &[f32], loc: &mut [f32], scale: &mut [f32]) {
        // Kept per thread between calls: a single series' forward pass is short enough
        // that allocating its buffers anew each time showed.
        thread_local! {
            static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
        }
        let horizon = self.horizon_hours;
        // Taken out and put back rather than borrowed in a closure: a closure would not be
        // compiled with the caller's target features.
        let mut scratch = SCRATCH.take();
        for ((inputs, loc), scale) in inputs
            .chunks(CHUNK_SERIES * self.input_len())
            .zip(loc.chunks_mut(CHUNK_SERIES * horizon))
            .zip(scale.chunks_mut(CHUNK_SERIES * horizon))
        {
            self.forward_chunk(inputs, &mut scratch, loc, scale);
        }
        SCRATCH.set(scratch);
    }

    #[inline(always)]
    fn forward_chunk(&self, inputs: &[f32], s: &mut Scratch, loc: &mut [f32], scale: &mut [f32]) {
        let series = inputs.len() / self.input_len();
        let rows = series * self.tokens;
        let d = self.d_model;
        let widest = self
            .layers
            .first()
            .map_or(0, |l| l.feed_forward_inner.outputs);
        resize(&mut s.x, rows * d);
        resize(&mut s.normed, rows * d);
        resize(&mut s.query_key_value, rows * 3 * d);
        resize(&mut s.context, rows * d);
        resize(&mut s.product, rows * d);
        resize(&mut s.feed_forward, rows * widest);

        // Embedding plus position: (x · W + b) + position, in burn's order.
        self.embed.product(inputs, rows, &mut s.x);
        for (token_row, x) in s.x.chunks_exact_mut(d).enumerate() {
            let position = &self.position[(token_row % self.tokens) * d..][..d];
            for ((x, &b), &p) in x.iter_mut().zip(&self.embed.bias).zip(position) {
                *x = (*x + b) + p;
            }
        }

        // The head reads the target day's tokens only, so in the last layer the other
        // tokens serve as keys and values but their own queries, attention outputs and
        // feed-forward could not reach the output: those rows are left out there.
        let horizon = self.horizon_hours;
        let target_hours = horizon.div_ceil(HOURS_PER_DAY) * HOURS_PER_DAY;
        let target_tokens = target_hours / self.patch_hours;
        // Tokens per series whose rows x holds: all of them until the last layer.
        let mut tokens_in_x = self.tokens;
        for (index, layer) in self.layers.iter().enumerate() {
            let first_query = if index + 1 == self.layers.len() {
                self.tokens - target_tokens
            } else {
                0
            };
            layer.attention_norm.apply(&s.x, &mut s.normed);
            layer
                .query_key_value
                .product(&s.normed, rows, &mut s.query_key_value);
            add_bias(&mut s.query_key_value, &layer.query_key_value.bias);
            let queries = Queries {
                series,
                tokens: first_query..self.tokens,
                heads: 0..self.n_heads,
            };
            self.attention(
                queries,
                &s.query_key_value,
                &mut s.attention,
                &mut s.context,
            );
            if first_query > 0 {
                // The queries' rows of x, series after series, moved to the front: every
                // row moves towards the start, so copying in order never overwrites a row
                // still to be moved.
                tokens_in_x -= first_query;
                for i in 0..series {
                    let from = (i * self.tokens + first_query) * d;
                    s.x.copy_within(from..from + tokens_in_x * d, i * tokens_in_x * d);
                }
            }
            let query_rows = series * tokens_in_x;
            let x = &mut s.x[..query_rows * d];
            add_product_in_halves(
                &layer.attention_output,
                &s.context,
                query_rows,
                self.output_projection_halves(),
                [&mut s.product, &mut s.product_high],
                x,
            );

            let normed = &mut s.normed[..query_rows * d];
            layer.feed_forward_norm.apply(x, normed);
            let inner = &layer.feed_forward_inner;
            inner.product(normed, query_rows, &mut s.feed_forward);
            bias_gelu(
                &mut s.feed_forward[..query_rows * inner.outputs],
                &inner.bias,
            );
            add_product_in_halves(
                &layer.feed_forward_outer,
                &s.feed_forward,
                query_rows,
                feed_forward_halves(inner.outputs),
                [&mut s.product, &mut s.product_high],
                x,
            );
        }

        // Each series' last `target_tokens` rows of x (all of them after the last layer).
        let head_rows = series * target_tokens;
        resize(&mut s.normed, head_rows * d);
        for (i, normed) in s.normed.chunks_exact_mut(target_tokens * d).enumerate() {
            let first = (i + 1) * tokens_in_x - target_tokens;
            let last = &s.x[first * d..][..target_tokens * d];
            self.norm.apply(last, normed);
        }
        resize(&mut s.head, head_rows * self.head.outputs);
        self.head.product(&s.normed, head_rows, &mut s.head);
        add_bias(&mut s.head, &self.head.bias);
        if let Some(skip) = &self.skip {
            resize(&mut s.skip, series * skip.outputs);
            skip.product(inputs, series, &mut s.skip);
            add_bias(&mut s.skip, &skip.bias);
        }

        let skip = self.skip.as_ref().map(|_| s.skip.as_slice());
        self.write_outputs(series, target_tokens, &s.head, skip, loc, scale);
    }

    /// Locations and scales from the head's output for the target tokens (`[series ·
    /// target_tokens, head outputs]`) and the linear skip's (`[series, 2 · horizon]`).
    #[inline(always)]
    fn write_outputs(
        &self,
        series: usize,
        target_tokens: usize,
        head: &[f32],
        skip: Option<&[f32]>,
        loc: &mut [f32],
        scale: &mut [f32],
    ) {
        let horizon = self.horizon_hours;
        let patch = self.patch_hours;
        let head_width = self.head.outputs;
        for i in 0..series {
            for hour in 0..horizon {
                let head_row = (i * target_tokens + hour / patch) * head_width;
                let output = |part: usize| {
                    let value = head[head_row + part * patch + hour % patch];
                    match skip {
                        Some(skip) => value + skip[i * 2 * horizon + part * horizon + hour],
                        None => value,
                    }
                };
                loc[i * horizon + hour] = output(0);
                scale[i * horizon + hour] = softplus(output(1)) + 1e-3;
            }
        }
    }

    fn head_width(&self) -> usize {
        self.d_model / self.n_heads
    }

    /// The output projection's inputs (the heads' columns) in the two halves it is summed
    /// in, the first heads rounded up: the order the forecasts of `gridflow eval` and the
    /// bundled models were computed in since a chunk was split by heads (2026-12-02), kept
    /// so they keep their bits.
    fn output_projection_halves(&self) -> [Range<usize>; 2] {
        let head_width = self.head_width();
        let split = self.n_heads.div_ceil(2) * head_width;
        [0..split, split..self.d_model]
    }
}

/// [`CpuNetwork::forward_chunks_inline`] compiled with AVX2 and FMA, and with AVX-512's
/// 32 vector registers: the forward pass's own loops keep their constants in registers.
macro_rules! forward_chunks_for {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        fn $name(
            _: product::Detected,
            network: &CpuNetwork,
            inputs: &[f32],
            loc: &mut [f32],
            scale: &mut [f32],
        ) {
            #[target_feature(enable = $features)]
            fn compiled(network: &CpuNetwork, inputs: &[f32], loc: &mut [f32], scale: &mut [f32]) {
                network.forward_chunks_inline(inputs, loc, scale);
            }
            // SAFETY: a function compiled with target features may only run on a CPU that
            // has them; `product::detect` makes a `Detected` only after seeing them.
            unsafe { compiled(network, inputs, loc, scale) }
        }
    };
}

forward_chunks_for!(forward_chunks_avx2_fma, "avx2,fma");
forward_chunks_for!(forward_chunks_avx512, "avx2,fma,avx512f,avx512vl");

fn resize(buffer: &mut Vec<f32>, len: usize) {
    buffer.resize(len, 0.0);
}

mod attention;
mod faster;
mod helper;
mod kernels;
mod layers;
mod product;
mod side_by_side;
mod split;
#[cfg(test)]
mod tests;
