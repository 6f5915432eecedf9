//! One chunk's forward pass (up to [`CHUNK_SERIES`] series, a single one in a live
//! update) shared by two threads: the calling thread and the [`helper`].
//!
//! Several series: each thread forecasts half of them, one step, no waiting.
//!
//! A single series: each thread takes half its tokens. Everything in an encoder layer but
//! the attention is row by row, and the attention needs only the other tokens' keys and
//! values, so a thread carries its own tokens from one layer's attention to the next
//! layer's Q, K and V without waiting: one step per layer, and one wait after it, for the
//! other half's keys and values. The first step embeds the thread's tokens and computes
//! their Q, K and V; each later step their attention, output projection and feed-forward,
//! then the next layer's Q, K and V; the last, the target day's tokens through the rest of
//! the network, the final norm and the head on one thread, beside the linear skip on the
//! other. With a layer's work cut by heads instead (the previous way), a layer took two
//! waits, since the feed-forward needs whole rows of the attention's output, and the
//! embedding ran whole on both threads.
//!
//! Each row goes through the same chain of operations as in the one-thread pass (the
//! products of [`product`] give every output element the same bits whatever the row count,
//! and the output projection and outer feed-forward product are summed in the same two
//! halves), so a forecast has the same bits either way (tested).

use std::cell::{RefCell, UnsafeCell};
use std::marker::PhantomData;
use std::ops::Range;

use super::attention::Queries;
use super::faster::FasterBySize;
use super::helper::{self, Job, TASKS_PER_STAGE};
use super::kernels::{add_bias, bias_gelu};
use super::product::{self, Kernel};
use super::{
    AttentionScratch, CHUNK_SERIES, CpuNetwork, add_product_in_halves, feed_forward_halves, resize,
};
use crate::data::HOURS_PER_DAY;

/// Forecasts one chunk's series into `loc` and `scale`, shared with the helper or on this
/// thread alone, whichever has been faster lately for this many series
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
    if series > 1 {
        return series_halves(network, inputs, loc, scale);
    }
    thread_local! {
        static SCRATCH: RefCell<SplitScratch> = RefCell::new(SplitScratch::default());
    }
    let mut scratch = SCRATCH.take();
    let (ran, target_tokens) = {
        let job = TokenHalves::new(network, kernel, inputs, &mut scratch);
        (helper::run_with_helper(&job), job.target_tokens)
    };
    if ran {
        let skip = network.skip.as_ref().map(|_| scratch.skip.as_slice());
        network.write_outputs(1, target_tokens, &scratch.head, skip, loc, scale);
    }
    SCRATCH.set(scratch);
    ran
}

/// Half the series on each thread, each half through the one-thread pass.
fn series_halves(network: &CpuNetwork, inputs: &[f32], loc: &mut [f32], scale: &mut [f32]) -> bool {
    let series = inputs.len() / network.input_len();
    let first = series.div_ceil(2);
    let (inputs_low, inputs_high) = inputs.split_at(first * network.input_len());
    let (loc_low, loc_high) = loc.split_at_mut(first * network.horizon_hours);
    let (scale_low, scale_high) = scale.split_at_mut(first * network.horizon_hours);
    let job = SeriesHalves {
        network,
        inputs: [inputs_low, inputs_high],
        outputs: [
            UnsafeCell::new((loc_low, scale_low)),
            UnsafeCell::new((loc_high, scale_high)),
        ],
    };
    helper::run_with_helper(&job)
}

struct SeriesHalves<'a> {
    network: &'a CpuNetwork,
    inputs: [&'a [f32]; 2],
    /// Each half's locations and scales, written only by the task of that half.
    outputs: [UnsafeCell<(&'a mut [f32], &'a mut [f32])>; 2],
}

// SAFETY: the two tasks write disjoint halves' outputs, and nothing reads them until the
// job is done.
#[allow(unsafe_code)]
unsafe impl Sync for SeriesHalves<'_> {}

impl Job for SeriesHalves<'_> {
    fn stages(&self) -> usize {
        1
    }

    #[allow(unsafe_code)]
    fn run(&self, _stage: usize, task: usize, _participant: usize) {
        // SAFETY: see `Sync` above: only this task touches half `task`'s outputs.
        let (loc, scale) = unsafe { &mut *self.outputs[task].get() };
        self.network.forward_chunks(self.inputs[task], loc, scale);
    }
}

/// Kept per calling thread between calls: buffers of one series.
#[derive(Default)]
struct SplitScratch {
    /// The residual stream, `[tokens, d_model]`: each thread's rows are its tokens'.
    x: Vec<f32>,
    /// Q, K and V of every token, `[tokens, 3 · d_model]`, for layers 0, 2, 4, … and 1, 3,
    /// …: a step reads one layer's whole while it writes its own rows of the next's.
    query_key_value: [Vec<f32>; 2],
    /// The head's output for the target day's tokens.
    head: Vec<f32>,
    skip: Vec<f32>,
    private: [PrivateCell; 2],
}

/// Working memory of one thread, for its rows.
#[derive(Default)]
struct Private {
    normed: Vec<f32>,
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

/// A buffer of [`SplitScratch`] that the tasks of both threads reach, by rows. Within a
/// stage a range of it is written by one task and touched by no other, or the whole of it
/// only read; the helper's counters order the stages.
struct Shared<'a> {
    values: *mut f32,
    len: usize,
    /// The buffer stays borrowed, unmoved, while the job runs.
    buffer: PhantomData<&'a mut Vec<f32>>,
}

// SAFETY: see the type's documentation: the stages' discipline, which `TokenHalves::run`'s
// steps keep, means no range is written while another task reads or writes it.
#[allow(unsafe_code)]
unsafe impl Sync for Shared<'_> {}

#[allow(unsafe_code)]
impl<'a> Shared<'a> {
    fn new(buffer: &'a mut Vec<f32>, len: usize) -> Self {
        resize(buffer, len);
        Self {
            values: buffer.as_mut_ptr(),
            len,
            buffer: PhantomData,
        }
    }

    /// # Safety
    /// No other task of the current stage touches `range`.
    #[allow(clippy::mut_from_ref)]
    unsafe fn write(&self, range: Range<usize>) -> &mut [f32] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: in bounds (above), and the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.values.add(range.start), range.len()) }
    }

    /// # Safety
    /// No task of the current stage writes this buffer.
    unsafe fn read(&self) -> &[f32] {
        // SAFETY: the caller's promise.
        unsafe { std::slice::from_raw_parts(self.values, self.len) }
    }
}

/// A single series' forward pass, each thread on half its tokens.
struct TokenHalves<'a> {
    network: &'a CpuNetwork,
    kernel: Kernel,
    inputs: &'a [f32],
    target_tokens: usize,
    x: Shared<'a>,
    query_key_value: [Shared<'a>; 2],
    head: Shared<'a>,
    skip: Shared<'a>,
    private: &'a [PrivateCell; 2],
}

impl<'a> TokenHalves<'a> {
    fn new(
        network: &'a CpuNetwork,
        kernel: Kernel,
        inputs: &'a [f32],
        scratch: &'a mut SplitScratch,
    ) -> Self {
        let tokens = network.tokens;
        let target_hours = network.horizon_hours.div_ceil(HOURS_PER_DAY) * HOURS_PER_DAY;
        let target_tokens = target_hours / network.patch_hours;
        let d = network.d_model;
        let [low, high] = &mut scratch.query_key_value;
        Self {
            network,
            kernel,
            inputs,
            target_tokens,
            x: Shared::new(&mut scratch.x, tokens * d),
            query_key_value: [
                Shared::new(low, tokens * 3 * d),
                Shared::new(high, tokens * 3 * d),
            ],
            head: Shared::new(&mut scratch.head, target_tokens * network.head.outputs),
            skip: Shared::new(
                &mut scratch.skip,
                network.skip.as_ref().map_or(0, |skip| skip.outputs),
            ),
            private: &scratch.private,
        }
    }

    /// The tokens of half `half`.
    fn tokens_of(&self, half: usize) -> Range<usize> {
        let split = self.network.tokens / 2;
        if half == 0 {
            0..split
        } else {
            split..self.network.tokens
        }
    }

    /// The stage of the target day's tokens, the head and the skip: after the first step
    /// and one step per layer but the first.
    fn tail_stage(&self) -> usize {
        self.network.layers.len().max(1)
    }

    /// Task `task` of `stage`, inlined into functions compiled for the CPU's vectors.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn run_inline(&self, stage: usize, task: usize, participant: usize) {
        let network = self.network;
        let d = network.d_model;
        // SAFETY: only this participant's thread touches `private[participant]`.
        let own = unsafe { &mut *self.private[participant].0.get() };
        // SAFETY (every `read` and `write` below): a task writes only its own tokens' rows
        // of x and of the Q, K and V of the layer whose step it is, and reads whole only
        // the Q, K and V of the layer before, which the step before wrote; the tail's
        // first task touches only the target tokens' rows of x, and the head, its second
        // only the skip.
        if stage == self.tail_stage() {
            if task == 1 {
                if let Some(skip) = &network.skip {
                    let output = unsafe { self.skip.write(0..self.skip.len) };
                    skip.product(self.inputs, 1, output);
                    add_bias(output, &skip.bias);
                }
                return;
            }
            let target = network.tokens - self.target_tokens..network.tokens;
            let x = unsafe { self.x.write(target.start * d..target.end * d) };
            if let Some(last) = network.layers.len().checked_sub(1) {
                self.end_layer(last, target.clone(), x, own);
            }
            resize(&mut own.normed, target.len() * d);
            network.norm.apply(x, &mut own.normed);
            let head = unsafe { self.head.write(0..self.head.len) };
            network.head.product(&own.normed, target.len(), head);
            add_bias(head, &network.head.bias);
            return;
        }
        let tokens = self.tokens_of(task);
        let x = unsafe { self.x.write(tokens.start * d..tokens.end * d) };
        if stage == 0 {
            self.embed(tokens.clone(), x);
        } else {
            self.end_layer(stage - 1, tokens.clone(), x, own);
        }
        if stage < network.layers.len() {
            self.begin_layer(stage, tokens, x, own);
        }
    }

    /// Embedding plus position of `tokens` into their rows `x`.
    #[inline(always)]
    fn embed(&self, tokens: Range<usize>, x: &mut [f32]) {
        let network = self.network;
        let d = network.d_model;
        let width = network.token_width;
        let embed = &network.embed;
        let inputs = &self.inputs[tokens.start * width..tokens.end * width];
        embed.product(inputs, tokens.len(), x);
        for (token, x) in tokens.zip(x.chunks_exact_mut(d)) {
            let position = &network.position[token * d..][..d];
            for ((x, &b), &p) in x.iter_mut().zip(&embed.bias).zip(position) {
                *x = (*x + b) + p;
            }
        }
    }

    /// Layer `layer`'s norm and Q, K and V for `tokens` (rows `x`).
    #[allow(unsafe_code)]
    #[inline(always)]
    fn begin_layer(&self, layer: usize, tokens: Range<usize>, x: &[f32], own: &mut Private) {
        let d = self.network.d_model;
        let layer_weights = &self.network.layers[layer];
        resize(&mut own.normed, tokens.len() * d);
        layer_weights.attention_norm.apply(x, &mut own.normed);
        let rows = tokens.start * 3 * d..tokens.end * 3 * d;
        // SAFETY: see `run_inline`: this task's tokens' rows of this layer's Q, K and V.
        let query_key_value = unsafe { self.query_key_value[layer % 2].write(rows) };
        let dense = &layer_weights.query_key_value;
        dense.product(&own.normed, tokens.len(), query_key_value);
        add_bias(query_key_value, &dense.bias);
    }

    /// Layer `layer`'s attention for the queries of `tokens`, output projection and
    /// feed-forward, added to their rows `x`.
    #[allow(unsafe_code)]
    #[inline(always)]
    fn end_layer(&self, layer: usize, tokens: Range<usize>, x: &mut [f32], own: &mut Private) {
        let network = self.network;
        let d = network.d_model;
        let rows = tokens.len();
        let layer_weights = &network.layers[layer];
        // SAFETY: see `run_inline`: written by the step before, read only in this one.
        let query_key_value = unsafe { self.query_key_value[layer % 2].read() };
        resize(&mut own.context, rows * d);
        let queries = Queries {
            series: 1,
            tokens,
            heads: 0..network.n_heads,
        };
        network.attention(
            queries,
            query_key_value,
            &mut own.attention,
            &mut own.context,
        );
        add_product_in_halves(
            &layer_weights.attention_output,
            &own.context,
            rows,
            network.output_projection_halves(),
            [&mut own.product, &mut own.product_high],
            x,
        );
        resize(&mut own.normed, rows * d);
        layer_weights.feed_forward_norm.apply(x, &mut own.normed);
        let inner = &layer_weights.feed_forward_inner;
        resize(&mut own.hidden, rows * inner.outputs);
        inner.product(&own.normed, rows, &mut own.hidden);
        bias_gelu(&mut own.hidden, &inner.bias);
        add_product_in_halves(
            &layer_weights.feed_forward_outer,
            &own.hidden,
            rows,
            feed_forward_halves(inner.outputs),
            [&mut own.product, &mut own.product_high],
            x,
        );
    }
}

impl Job for TokenHalves<'_> {
    fn stages(&self) -> usize {
        self.tail_stage() + 1
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

/// [`TokenHalves::run_inline`] compiled with AVX2 and FMA, and with AVX-512's registers.
macro_rules! run_for {
    ($name:ident, $features:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        fn $name(
            _: product::Detected,
            job: &TokenHalves<'_>,
            stage: usize,
            task: usize,
            participant: usize,
        ) {
            #[target_feature(enable = $features)]
            fn compiled(job: &TokenHalves<'_>, stage: usize, task: usize, participant: usize) {
                job.run_inline(stage, task, participant);
            }
            // SAFETY: a `Detected` exists only where `product::detect` saw the features.
            unsafe { compiled(job, stage, task, participant) }
        }
    };
}

run_for!(run_avx2_fma, "avx2,fma");
run_for!(run_avx512, "avx2,fma,avx512f,avx512vl");

const _: () = assert!(TASKS_PER_STAGE == 2, "a split is in two halves");
