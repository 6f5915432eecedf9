//! One chunk's forward pass (up to [`CHUNK_SERIES`] series, a single one in a live
//! update) cut in halves for two threads: the calling thread and the [`helper`].
//!
//! Each layer's Q, K and V with the attention are cut by heads, its output projection and
//! both feed-forward products by output columns (whole panels of 16 columns); the end of
//! the last layer (the target day's tokens only), the final norm and the head run beside
//! the linear skip. The embedding runs whole in both halves of the first step rather than
//! as a step of its own: one wait for the other thread fewer (a forecast took 12.2–16.6 µs
//! in six runs of a scratch benchmark, against 12.4–19.8 µs in three runs with the
//! embedding cut by columns, on a VM whose speed drifted meanwhile). Each half keeps its
//! columns in its own buffer; a step that needs whole rows (a layer norm, a product's
//! inputs) first copies the halves side by side, which costs little against the products.
//! Each output element is the same chain of operations as in
//! [`CpuNetwork::forward_chunk`], so a forecast has the same bits on one thread or two.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::ops::Range;

use super::faster::Faster;
use super::helper::{self, Job};
use super::kernels::{Operand, add_bias, add_residual, bias_gelu};
use super::product::{self, Kernel};
use super::{AttentionScratch, CHUNK_SERIES, CpuNetwork, Dense, EncoderLayer, resize};
use crate::data::HOURS_PER_DAY;

/// Forecasts one chunk's series into `loc` and `scale`, split over this thread and the
/// helper or on this thread alone, whichever has been faster lately ([`Faster`]).
pub(super) fn forward_one_chunk(
    network: &CpuNetwork,
    inputs: &[f32],
    loc: &mut [f32],
    scale: &mut [f32],
) {
    thread_local! {
        static FASTER: Cell<Faster> = Cell::new(Faster::default());
    }
    let mut faster = FASTER.get();
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
    product: Vec<f32>,
    hidden: Vec<f32>,
    target_x: Vec<f32>,
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
    /// The residual stream's two column halves, `[rows, half]` each.
    x: [Shared; 2],
    /// The attention's output for each half of the heads, `[query rows, heads' columns]`.
    context: [Shared; 2],
    /// The feed-forward's inner activations, two column halves.
    hidden: [Shared; 2],
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

/// Where the cut falls in `n` columns: half of them, rounded up to whole panels of 16.
fn column_half(n: usize, half: usize) -> Range<usize> {
    let split = (n / 2).next_multiple_of(16).min(n);
    if half == 0 { 0..split } else { split..n }
}

/// Copies the column halves `halves[h]` (`[rows, widths[h]]`) side by side into `whole`.
fn join_halves(halves: [&[f32]; 2], widths: [usize; 2], rows: usize, whole: &mut Vec<f32>) {
    let width = widths[0] + widths[1];
    resize(whole, rows * width);
    for (row, whole) in whole.chunks_exact_mut(width).enumerate() {
        whole[..widths[0]].copy_from_slice(&halves[0][row * widths[0]..][..widths[0]]);
        whole[widths[0]..].copy_from_slice(&halves[1][row * widths[1]..][..widths[1]]);
    }
}

/// A step of the pass, from the stage number.
enum Step<'a> {
    Embedding,
    Attention(&'a EncoderLayer, usize),
    AttentionOutput(&'a EncoderLayer),
    FeedForwardInner(&'a EncoderLayer),
    FeedForwardOuter(&'a EncoderLayer),
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
        let inner = network
            .layers
            .first()
            .map_or(0, |layer| layer.feed_forward_inner.outputs);
        for half in 0..2 {
            scratch.x[half].resize(rows * column_half(d, half).len());
            let heads = network.head_half(half);
            scratch.context[half].resize(rows * heads.len() * network.head_width());
            scratch.hidden[half].resize(rows * column_half(inner, half).len());
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
        if stage == 0 && layers.is_empty() {
            return Step::Embedding;
        }
        let (layer, step) = (stage / 4, stage % 4);
        match (layers.get(layer), step) {
            (None, _) => Step::Tail,
            (Some(layer_weights), 0) => {
                let first_query = if layer + 1 == layers.len() {
                    self.network.tokens - self.target_tokens
                } else {
                    0
                };
                Step::Attention(layer_weights, first_query)
            }
            // The last layer's end: its target tokens are few, so one task does them.
            (Some(_), 1) if layer + 1 == layers.len() => Step::Tail,
            (Some(layer), 1) => Step::AttentionOutput(layer),
            (Some(layer), 2) => Step::FeedForwardInner(layer),
            (Some(layer), _) => Step::FeedForwardOuter(layer),
        }
    }

    /// `output = input · dense.weight[:, columns]`, rows `columns.len()` apart.
    fn product_columns(
        &self,
        dense: &Dense,
        input: &[f32],
        rows: usize,
        columns: Range<usize>,
        output: &mut [f32],
        output_stride: usize,
    ) {
        let lhs = Operand {
            values: input,
            rows,
            columns: dense.inputs,
            row_stride: dense.inputs,
        };
        let rhs = Operand {
            values: &dense.weight[columns.start..],
            rows: dense.inputs,
            columns: columns.len(),
            row_stride: dense.outputs,
        };
        product::product_strided(self.kernel, lhs, rhs, output, output_stride);
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
        let x_widths = [column_half(d, 0).len(), column_half(d, 1).len()];
        // SAFETY (every `read` and `write` below): the stage's tasks write disjoint
        // buffers, and read none that a task of the same stage writes: x's halves are
        // written by the embedding, output projection and outer feed-forward steps and
        // read by the others; the context's halves written by the attention and read by
        // the output projection and tail; the hidden halves written by the inner
        // feed-forward step and read by the outer one.
        let whole_x = |own: &mut Vec<f32>| unsafe {
            join_halves(
                [scratch.x[0].read(), scratch.x[1].read()],
                x_widths,
                rows,
                own,
            );
        };
        match self.step(stage) {
            Step::Embedding => {
                let columns = column_half(d, half);
                let width = columns.len();
                if width == 0 {
                    return;
                }
                let x = unsafe { scratch.x[half].write() };
                let embed = &network.embed;
                self.product_columns(embed, self.inputs, rows, columns.clone(), x, width);
                for (token_row, x) in x.chunks_exact_mut(width).enumerate() {
                    let position = &network.position[(token_row % network.tokens) * d..][..d];
                    for ((x, &b), &p) in x
                        .iter_mut()
                        .zip(&embed.bias[columns.clone()])
                        .zip(&position[columns.clone()])
                    {
                        *x = (*x + b) + p;
                    }
                }
            }
            Step::Attention(layer, first_query) => {
                if std::ptr::eq(layer, &network.layers[0]) {
                    // The embedding, whole on each thread: cheaper than waiting for halves.
                    let embed = &network.embed;
                    resize(&mut own.x, rows * d);
                    embed.product(self.inputs, rows, &mut own.x);
                    for (token_row, x) in own.x.chunks_exact_mut(d).enumerate() {
                        let position = &network.position[(token_row % network.tokens) * d..][..d];
                        for ((x, &b), &p) in x.iter_mut().zip(&embed.bias).zip(position) {
                            *x = (*x + b) + p;
                        }
                    }
                    let columns = column_half(d, half);
                    let width = columns.len();
                    let x = unsafe { scratch.x[half].write() };
                    if width > 0 {
                        for (x, whole) in x.chunks_exact_mut(width).zip(own.x.chunks_exact(d)) {
                            x.copy_from_slice(&whole[columns.clone()]);
                        }
                    }
                } else {
                    whole_x(&mut own.x);
                }
                resize(&mut own.normed, rows * d);
                layer.attention_norm.apply(&own.x, &mut own.normed);
                let heads = network.head_half(half);
                let head_width = network.head_width();
                let query_key_value = &layer.query_key_value;
                resize(&mut own.query_key_value, rows * 3 * d);
                for part in 0..3 {
                    let columns =
                        part * d + heads.start * head_width..part * d + heads.end * head_width;
                    self.product_columns(
                        query_key_value,
                        &own.normed,
                        rows,
                        columns.clone(),
                        &mut own.query_key_value[columns.start..],
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
                network.attention(
                    self.series,
                    first_query,
                    heads.clone(),
                    &own.query_key_value,
                    &mut own.attention,
                    &mut own.context,
                );
                let columns = heads.start * head_width..heads.end * head_width;
                let context = unsafe { scratch.context[half].write() };
                let width = columns.len();
                if width > 0 {
                    for (row, context) in
                        context.chunks_exact_mut(width).take(query_rows).enumerate()
                    {
                        context.copy_from_slice(&own.context[row * d..][columns.clone()]);
                    }
                }
            }
            Step::AttentionOutput(layer) => {
                self.whole_context(rows, &mut own.context);
                let columns = column_half(d, half);
                let width = columns.len();
                if width == 0 {
                    return;
                }
                let output = &layer.attention_output;
                resize(&mut own.product, rows * width);
                self.product_columns(
                    output,
                    &own.context,
                    rows,
                    columns.clone(),
                    &mut own.product,
                    width,
                );
                let x = unsafe { scratch.x[half].write() };
                add_residual(x, &own.product, &output.bias[columns]);
            }
            Step::FeedForwardInner(layer) => {
                whole_x(&mut own.x);
                resize(&mut own.normed, rows * d);
                layer.feed_forward_norm.apply(&own.x, &mut own.normed);
                let inner = &layer.feed_forward_inner;
                let columns = column_half(inner.outputs, half);
                let width = columns.len();
                if width == 0 {
                    return;
                }
                let hidden = unsafe { scratch.hidden[half].write() };
                self.product_columns(inner, &own.normed, rows, columns.clone(), hidden, width);
                bias_gelu(hidden, &inner.bias[columns]);
            }
            Step::FeedForwardOuter(layer) => {
                let inner_width = layer.feed_forward_inner.outputs;
                let widths = [
                    column_half(inner_width, 0).len(),
                    column_half(inner_width, 1).len(),
                ];
                join_halves(
                    unsafe { [scratch.hidden[0].read(), scratch.hidden[1].read()] },
                    widths,
                    rows,
                    &mut own.hidden,
                );
                let outer = &layer.feed_forward_outer;
                let columns = column_half(d, half);
                let width = columns.len();
                if width == 0 {
                    return;
                }
                resize(&mut own.product, rows * width);
                self.product_columns(
                    outer,
                    &own.hidden,
                    rows,
                    columns.clone(),
                    &mut own.product,
                    width,
                );
                let x = unsafe { scratch.x[half].write() };
                add_residual(x, &own.product, &outer.bias[columns]);
            }
            Step::Tail if half == 0 => {
                whole_x(&mut own.x);
                self.tail(own);
            }
            Step::Tail => {
                if let Some(skip) = &network.skip {
                    let output = unsafe { scratch.skip.write() };
                    skip.product(self.inputs, self.series, output);
                    add_bias(output, &skip.bias);
                }
            }
        }
    }

    /// The context of the heads' two halves side by side, `[query rows, d_model]`.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn whole_context(&self, query_rows: usize, whole: &mut Vec<f32>) {
        let network = self.network;
        let head_width = network.head_width();
        let widths = [
            network.head_half(0).len() * head_width,
            network.head_half(1).len() * head_width,
        ];
        // SAFETY: the context's halves are written only by the attention's stage.
        let halves = unsafe {
            [
                self.scratch.context[0].read(),
                self.scratch.context[1].read(),
            ]
        };
        join_halves(halves, widths, query_rows, whole);
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
        resize(&mut own.target_x, target_rows * d);
        for i in 0..self.series {
            let from = &own.x[(i * tokens + first_target) * d..][..self.target_tokens * d];
            own.target_x[i * self.target_tokens * d..][..self.target_tokens * d]
                .copy_from_slice(from);
        }
        if let Some(layer) = network.layers.last() {
            self.whole_context(target_rows, &mut own.context);
            let x = &mut own.target_x;
            resize(&mut own.product, target_rows * d);
            let output = &layer.attention_output;
            output.product(&own.context, target_rows, &mut own.product);
            add_residual(x, &own.product, &output.bias);
            resize(&mut own.normed, target_rows * d);
            layer.feed_forward_norm.apply(x, &mut own.normed);
            let inner = &layer.feed_forward_inner;
            resize(&mut own.hidden, target_rows * inner.outputs);
            inner.product(&own.normed, target_rows, &mut own.hidden);
            bias_gelu(&mut own.hidden, &inner.bias);
            layer
                .feed_forward_outer
                .product(&own.hidden, target_rows, &mut own.product);
            add_residual(x, &own.product, &layer.feed_forward_outer.bias);
        }
        resize(&mut own.normed, target_rows * d);
        network.norm.apply(&own.target_x, &mut own.normed);
        // SAFETY: only this task writes the head's output, and no task reads it.
        let head = unsafe { self.scratch.head.write() };
        network.head.product(&own.normed, target_rows, head);
        add_bias(head, &network.head.bias);
    }
}

impl Job for SplitJob<'_> {
    fn stages(&self) -> usize {
        // The embedding; four steps per layer but the last, whose attention is followed
        // by the tail; or the tail alone.
        match self.network.layers.len() {
            0 => 2,
            layers => 4 * layers - 2,
        }
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
