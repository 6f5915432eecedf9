//! One chunk's forward pass (up to [`CHUNK_SERIES`] series, a single one in a live
//! update) cut in halves for two threads: the calling thread and the [`helper`].
//!
//! Two steps per layer, each with a wait for the other thread after it. The attention
//! step: each half computes the layer norm of the whole rows, Q, K and V and the attention
//! of half the heads, and those heads' share of the output projection (their context
//! times their rows of the projection). The feed-forward step: each half adds both shares
//! to the residual stream, takes the layer norm, computes half the inner columns with
//! their GELU and their share of the outer product. The one-thread pass sums these two
//! products in the same two halves, in the same order ([`add_product_in_halves`]), so a
//! forecast has the same bits on one thread or two; the shares are whole rows, so no
//! step has to wait for the other half's columns of a row. The last layer's
//! feed-forward for the target day's tokens, the final norm and the head run beside the
//! linear skip. The embedding runs whole on both threads in the first step rather than as
//! a step of its own, which would add a wait (about 1.3 µs of work done twice against 0.5
//! to 0.7 µs per wait; scratch benchmarks on the development VM did not separate the two
//! clearly).

use std::cell::{RefCell, UnsafeCell};

use super::attention::Queries;
use super::faster::FasterBySize;
use super::helper::{self, Job};
use super::kernels::{add_bias, add_residual_halves, bias_gelu};
use super::product::{self, Kernel};
use super::{
    AttentionScratch, CHUNK_SERIES, CpuNetwork, EncoderLayer, add_product_in_halves,
    feed_forward_halves, resize,
};
use crate::data::HOURS_PER_DAY;

/// Forecasts one chunk's series into `loc` and `scale`, split over this thread and the
/// helper or on this thread alone, whichever has been faster lately for this many series
/// ([`FasterBySize`]).
pub(super) fn forward_one_chunk(
    network: &CpuNetwork,
    inputs: &[f32],
    loc: &mut [f32],
    scale: &mut [f32],
) {
    thread_local! {
        static FASTER: RefCell<FasterBySize> = RefCell::new(FasterBySize::default());
    }
    let mut faster = FASTER.take();
    let series = inputs.len() / network.input_len();
    faster.run(series, |with_helper| {
        if with_helper {
            return forward_split(network, inputs, loc, scale);
        }
        network.forward_chunks(inputs, loc, scale);
        true
    });
    FASTER.set(faster);
}

/// Forecasts one chunk's series into `loc` and `scale` on this thread and the helper;
/// returns false, having computed nothing, where the helper cannot help (no second core,
/// no kernel of [`product`], or the helper busy with another caller).
pub(super) fn forward_split(
    network: &CpuNetwork,
    inputs: &[f32],
    loc: &mut [f32],
    scale: &mut [f32],
) -> bool {
    let Some(kernel) = product::kernel() else {
        return false;
    };
    let series = inputs.len() / network.input_len();
    if !helper::available() || series == 0 || series > CHUNK_SERIES {
        return false;
    }
    thread_local! {
        static SCRATCH: RefCell<SplitScratch> = RefCell::new(SplitScratch::default());
    }
    let mut scratch = SCRATCH.take();
    let job = SplitJob::new(network, kernel, inputs, &mut scratch);
    let target_tokens = job.target_tokens;
    let ran = helper::run_with_helper(&job);
    if ran {
        let head = scratch.head.0.get_mut();
        let skip = network
            .skip
            .as_ref()
            .map(|_| scratch.skip.0.get_mut().as_slice());
        network.write_outputs(series, target_tokens, head, skip, loc, scale);
    }
    SCRATCH.set(scratch);
    ran
}

/// A buffer that tasks of both threads reach. Within a stage, a buffer is written by one
/// task and touched by no other, or only read; the helper's counters order the stages.
#[derive(Default)]
struct Shared(UnsafeCell<Vec<f32>>);

// SAFETY: see the type's documentation: the stages' discipline, which `SplitJob::run`'s
// steps keep, means no buffer is written while another thread reads or writes it.
#[allow(unsafe_code)]
unsafe impl Sync for Shared {}

#[allow(unsafe_code)]
impl Shared {
    fn resize(&mut self, len: usize) {
        resize(self.0.get_mut(), len);
    }

    /// # Safety
    /// No other task of the current stage touches this buffer.
    #[allow(clippy::mut_from_ref)]
    unsafe fn write(&self) -> &mut [f32] {
        // SAFETY: the caller's promise.
        unsafe { (*self.0.get()).as_mut_slice() }
    }

    /// # Safety
    /// No task of the current stage writes this buffer.
    unsafe fn read(&self) -> &[f32] {
        // SAFETY: the caller's promise.
        unsafe { (*self.0.get()).as_slice() }
    }
}

/// Working memory of one thread, whole rows.
#[derive(Default)]
struct Private {
    x: Vec<f32>,
    normed: Vec<f32>,
    query_key_value: Vec<f32>,
    context: Vec<f32>,
    hidden: Vec<f32>,
    product: Vec<f32>,
    product_high: Vec<f32>,
    attention: AttentionScratch,
}

#[derive(Default)]
struct PrivateCell(UnsafeCell<Private>);

// SAFETY: participant `p` touches only `private[p]`, and each participant is one thread.
#[allow(unsafe_code)]
unsafe impl Sync for PrivateCell {}

/// Kept per calling thread between calls.
#[derive(Default)]
struct SplitScratch {
    /// The residual stream entering a layer's attention (`[0]`) and its feed-forward
    /// (`[1]`), whole rows, written by the first task of the step that computes it.
    x: [Shared; 2],
    /// Each half's share of the output projection, `[query rows, d_model]`: its heads'
    /// context times their rows of the projection.
    attention_output: [Shared; 2],
    /// Each half's share of the outer feed-forward product, `[rows, d_model]`.
    feed_forward_output: [Shared; 2],
    /// The head's output for the target day's tokens.
    head: Shared,
    skip: Shared,
    private: [PrivateCell; 2],
}

struct SplitJob<'a> {
    network: &'a CpuNetwork,
    kernel: Kernel,
    inputs: &'a [f32],
    series: usize,
    target_tokens: usize,
    scratch: &'a SplitScratch,
}

/// A step of the pass, from the stage number.
enum Step<'a> {
    /// Layer `layer`'s attention for the queries from token `first_query` on: the residual
    /// stream so far, the layer norm, half the heads' Q, K, V and attention, and their
    /// share of the output projection.
    Attention { layer: usize, first_query: usize },
    /// The residual after the attention, the layer norm, half the inner feed-forward
    /// columns and their share of the outer product.
    FeedForward(&'a EncoderLayer),
    /// The last layer's end for the target tokens, the final norm and head | the skip.
    Tail,
}

impl<'a> SplitJob<'a> {
    fn new(
        network: &'a CpuNetwork,
        kernel: Kernel,
        inputs: &'a [f32],
        scratch: &'a mut SplitScratch,
    ) -> Self {
        let series = inputs.len() / network.input_len();
        let rows = series * network.tokens;
        let target_hours = network.horizon_hours.div_ceil(HOURS_PER_DAY) * HOURS_PER_DAY;
        let target_tokens = target_hours / network.patch_hours;
        let d = network.d_model;
        for half in 0..2 {
            scratch.x[half].resize(rows * d);
            scratch.attention_output[half].resize(rows * d);
            scratch.feed_forward_output[half].resize(rows * d);
        }
        scratch
            .head
            .resize(series * target_tokens * network.head.outputs);
        if let Some(skip) = &network.skip {
            scratch.skip.resize(series * skip.outputs);
        }
        Self {
            network,
            kernel,
            inputs,
            series,
            target_tokens,
            scratch,
        }
    }

    fn step(&self, stage: usize) -> Step<'a> {
        let layers = &self.network.layers;
        let (layer, step) = (stage / 2, stage % 2);
        if layer + 1 < layers.len() {
            return match step {
                0 => Step::Attention {
                    layer,
                    first_query: 0,
                },
                _ => Step::FeedForward(&layers[layer]),
            };
        }
        if layer + 1 == layers.len() && step == 0 {
            return Step::Attention {
                layer,
                first_query: self.network.tokens - self.target_tokens,
            };
        }
        Step::Tail
    }

    /// The residual stream entering layer `layer`'s attention, whole, into `x`: the
    /// embedding for the first layer, else the previous layer's feed-forward residual.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn layer_input(&self, layer: usize, own: &mut Private) {
        let network = self.network;
        let d = network.d_model;
        let rows = self.series * network.tokens;
        resize(&mut own.x, rows * d);
        if layer == 0 {
            // Whole on both threads: waiting for the other half's columns costs more.
            let embed = &network.embed;
            embed.product(self.inputs, rows, &mut own.x);
            for (token_row, x) in own.x.chunks_exact_mut(d).enumerate() {
                let position = &network.position[(token_row % network.tokens) * d..][..d];
                for ((x, &b), &p) in x.iter_mut().zip(&embed.bias).zip(position) {
                    *x = (*x + b) + p;
                }
            }
            return;
        }
        let scratch = self.scratch;
        let bias = &network.layers[layer - 1].feed_forward_outer.bias;
        // SAFETY: x[1] and the feed-forward shares are written only by the previous
        // stage (the feed-forward step).
        unsafe {
            add_shares(
                &scratch.x[1],
                &scratch.feed_forward_output,
                bias,
                &mut own.x,
            )
        };
    }

    /// Task `half` of `stage`, inlined into functions compiled for the CPU's vectors.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn run_inline(&self, stage: usize, half: usize, participant: usize) {
        let network = self.network;
        let scratch = self.scratch;
        // SAFETY: only this participant's thread touches `private[participant]`.
        let own = unsafe { &mut *scratch.private[participant].0.get() };
        let rows = self.series * network.tokens;
        let d = network.d_model;
        // SAFETY (every `read` and `write` below): in each stage a shared buffer is
        // written by one task and not read by the other, or only read: x[0] and the
        // attention shares are written by the attention step (x[0] by its first task) and
        // read by the feed-forward step and the tail; x[1] and the feed-forward shares
        // are written by the feed-forward step (x[1] by its first task) and read by the
        // next attention step.
        match self.step(stage) {
            Step::Attention { layer, first_query } => {
                self.layer_input(layer, own);
                if half == 0 {
                    unsafe { scratch.x[0].write() }.copy_from_slice(&own.x);
                }
                let layer = &network.layers[layer];
                resize(&mut own.normed, rows * d);
                layer.attention_norm.apply(&own.x, &mut own.normed);
                let heads = network.head_half(half);
                let head_width = network.head_width();
                let query_key_value = &layer.query_key_value;
                resize(&mut own.query_key_value, rows * 3 * d);
                for part in 0..3 {
                    let columns =
                        part * d + heads.start * head_width..part * d + heads.end * head_width;
                    let output = &mut own.query_key_value[columns.start..];
                    query_key_value.product_columns(
                        self.kernel,
                        &own.normed,
                        rows,
                        columns.clone(),
                        output,
                        3 * d,
                    );
                    for row in own.query_key_value.chunks_exact_mut(3 * d) {
                        for (v, &b) in row[columns.clone()]
                            .iter_mut()
                            .zip(&query_key_value.bias[columns.clone()])
                        {
                            *v += b;
                        }
                    }
                }
                let query_rows = self.series * (network.tokens - first_query);
                resize(&mut own.context, query_rows * d);
                let queries = Queries {
                    series: self.series,
                    first_query,
                    heads,
                };
                network.attention(
                    queries,
                    &own.query_key_value,
                    &mut own.attention,
                    &mut own.context,
                );
                let terms = network.output_projection_halves()[half].clone();
                let share = unsafe { scratch.attention_output[half].write() };
                layer
                    .attention_output
                    .product_inner(&own.context, query_rows, terms, share);
            }
            Step::FeedForward(layer) => {
                let bias = &layer.attention_output.bias;
                unsafe { add_shares(&scratch.x[0], &scratch.attention_output, bias, &mut own.x) };
                if half == 0 {
                    unsafe { scratch.x[1].write() }.copy_from_slice(&own.x);
                }
                resize(&mut own.normed, rows * d);
                layer.feed_forward_norm.apply(&own.x, &mut own.normed);
                let inner = &layer.feed_forward_inner;
                let terms = feed_forward_halves(inner.outputs)[half].clone();
                let width = terms.len();
                resize(&mut own.hidden, rows * width);
                if width > 0 {
                    let (normed, hidden) = (&own.normed, &mut own.hidden);
                    inner.product_columns(self.kernel, normed, rows, terms.clone(), hidden, width);
                    bias_gelu(hidden, &inner.bias[terms.clone()]);
                }
                let share = unsafe { scratch.feed_forward_output[half].write() };
                layer
                    .feed_forward_outer
                    .product_of_columns(&own.hidden, rows, terms, share);
            }
            Step::Tail if half == 0 => self.tail(own),
            Step::Tail => {
                if let Some(skip) = &network.skip {
                    let output = unsafe { scratch.skip.write() };
                    skip.product(self.inputs, self.series, output);
                    add_bias(output, &skip.bias);
                }
            }
        }
    }

    /// The target tokens' rows through the rest of the last layer, the final norm and the
    /// head, on one thread: [`CpuNetwork::forward_chunk`]'s steps for those rows.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn tail(&self, own: &mut Private) {
        let network = self.network;
        let d = network.d_model;
        let tokens = network.tokens;
        let first_target = tokens - self.target_tokens;
        let target_rows = self.series * self.target_tokens;
        // The residual stream entering the last layer (or the embedding, with none), whole.
        let input = match network.layers.len() {
            0 => {
                self.layer_input(0, own);
                &own.x
            }
            // SAFETY: x[0] is written only by the attention step, the previous stage.
            _ => unsafe { self.scratch.x[0].read() },
        };
        let mut x = std::mem::take(&mut own.normed);
        resize(&mut x, target_rows * d);
        for i in 0..self.series {
            let from = &input[(i * tokens + first_target) * d..][..self.target_tokens * d];
            x[i * self.target_tokens * d..][..self.target_tokens * d].copy_from_slice(from);
        }
        if let Some(layer) = network.layers.last() {
            // SAFETY: the attention shares are written only by the previous stage.
            unsafe {
                add_residual_halves(
                    &mut x,
                    self.scratch.attention_output[0].read(),
                    self.scratch.attention_output[1].read(),
                    &layer.attention_output.bias,
                );
            }
            resize(&mut own.context, target_rows * d);
            layer.feed_forward_norm.apply(&x, &mut own.context);
            let inner = &layer.feed_forward_inner;
            resize(&mut own.hidden, target_rows * inner.outputs);
            inner.product(&own.context, target_rows, &mut own.hidden);
            bias_gelu(&mut own.hidden, &inner.bias);
            add_product_in_halves(
                &layer.feed_forward_outer,
                &own.hidden,
                target_rows,
                feed_forward_halves(inner.outputs),
                [&mut own.product, &mut own.product_high],
                &mut x,
            );
        }
        resize(&mut own.context, target_rows * d);
        network.norm.apply(&x, &mut own.context);
        // SAFETY: only this task writes the head's output, and no task reads it.
        let head = unsafe { self.scratch.head.write() };
        network.head.product(&own.context, target_rows, head);
        add_bias(head, &network.head.bias);
        own.normed = x;
    }
}

/// `whole = x + (shares[0] + shares[1]) + bias`: a residual stream and the two halves'
/// shares of the product added to it, in the one-thread pass's order.
///
/// # Safety
/// No task of the current stage writes `x` or `shares`.
#[allow(unsafe_code)]
#[inline(always)]
unsafe fn add_shares(x: &Shared, shares: &[Shared; 2], bias: &[f32], whole: &mut Vec<f32>) {
    // SAFETY: the caller's promise.
    let (x, low, high) = unsafe { (x.read(), shares[0].read(), shares[1].read()) };
    whole.clear();
    whole.extend_from_slice(x);
    add_residual_halves(whole, low, high, bias);
}

impl Job for SplitJob<'_> {
    fn stages(&self) -> usize {
        // An attention and a feed-forward step per layer, the last layer's feed-forward
        // inside the tail; with no layers, the tail alone.
        (2 * self.network.layers.len()).max(1)
    }

    fn run(&self, stage: usize, task: usize, participant: usize) {
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2Fma(detected) => run_avx2_fma(detected, self, stage, task, participant),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512(detected) => run_avx512(detected, self, stage, task, participant),
            #[cfg(not(target_arch = "x86_64"))]
            _ => self.run_inline(stage, task, participant),
        }
    }
}

/// [`SplitJob::run_inline`] compiled with AVX2 and FMA, and with AVX-512's registers.
macro_rules! run_for {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        fn $name(
            _: product::Detected,
            job: &SplitJob<'_>,
            stage: usize,
            task: usize,
            participant: usize,
        ) {
            #[target_feature(enable = $features)]
            fn compiled(job: &SplitJob<'_>, stage: usize, task: usize, participant: usize) {
                job.run_inline(stage, task, participant);
            }
            // SAFETY: a `Detected` exists only where `product::detect` saw the features.
            unsafe { compiled(job, stage, task, participant) }
        }
    };
}

run_for!(run_avx2_fma, "avx2,fma");
run_for!(run_avx512, "avx2,fma,avx512f,avx512vl");
