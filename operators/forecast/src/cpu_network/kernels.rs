//! The elementwise and per-row kernels of the fused forward pass (activations, row sums,
//! the attention's scores, softmax and weighted sums), written so that loops over them
//! vectorise (no branches the compiler cannot turn into selects, no library calls), and
//! its one call into `gemm`.

/// Above this, softplus(x) is x in f32 (burn's threshold).
const SOFTPLUS_THRESHOLD: f32 = 20.0;

/// e^x for x ≤ 0 (softmax after subtracting the row's maximum): 2^n · e^r with
/// |r| ≤ ln 2 / 2 and a degree-6 Taylor polynomial (relative error below 3e-7, tested
/// in `tests.rs`), in operations that vectorise; below −87 it returns e^−87 ≈ 1.6e-38 instead of
/// a subnormal or zero, which no softmax row can tell apart.
#[inline(always)]
pub(super) fn exp_nonpositive(x: f32) -> f32 {
    // Adding 1.5 · 2^23 rounds x · log2(e) to the nearest integer n and leaves n in the
    // low bits of the sum's mantissa, where integer operations build 2^n. A float-to-int
    // cast (`as i32`, which saturates) would keep the loops around this scalar.
    const ROUNDING: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUNDING;
    let n = shifted - ROUNDING;
    // ln 2 split in two so that n · ln 2 is subtracted without rounding error.
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n ∈ [−126, 0]: its bits minus the rounding constant's, plus the exponent bias.
    let exponent = shifted
        .to_bits()
        .wrapping_sub(ROUNDING.to_bits())
        .wrapping_add(127);
    p * f32::from_bits(exponent << 23)
}

/// Lanes of [`fold_in_lanes`]: two 8-wide vectors, so consecutive operations do not wait
/// on each other.
const LANES: usize = 16;

/// `combine` of `f(x)` over `values`, in [`LANES`] interleaved partial results (each
/// starting from `identity`) that are then combined pairwise. A plain `iter().sum()` must
/// add one term after the other (f32 addition is not associative), one addition's latency
/// per element, and cannot run as vectors (the layer norms' sums compiled to such a scalar
/// chain, seen in `perf annotate` of a single series' forward pass).
#[inline(always)]
pub(super) fn fold_in_lanes(
    values: &[f32],
    identity: f32,
    f: impl Fn(f32) -> f32,
    combine: impl Fn(f32, f32) -> f32,
) -> f32 {
    let mut lanes = [identity; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            *lane = combine(*lane, f(x));
        }
    }
    for (lane, &x) in lanes.iter_mut().zip(chunks.remainder()) {
        *lane = combine(*lane, f(x));
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] = combine(lanes[i], lanes[i + width]);
        }
    }
    lanes[0]
}

#[inline(always)]
pub(super) fn add_bias(values: &mut [f32], bias: &[f32]) {
    for row in values.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `x += (low + high) + bias`, row by row (burn's `x + (h · W + b)`), the product computed in two
/// halves of its inner dimension ([`Dense::product_inner`](super::Dense::product_inner)).
#[inline(always)]
pub(super) fn add_residual_halves(x: &mut [f32], low: &[f32], high: &[f32], bias: &[f32]) {
    let width = bias.len();
    for ((x, low), high) in x
        .chunks_exact_mut(width)
        .zip(low.chunks_exact(width))
        .zip(high.chunks_exact(width))
    {
        for (((x, &l), &h), &b) in x.iter_mut().zip(low).zip(high).zip(bias) {
            *x += (l + h) + b;
        }
    }
}

/// `v = gelu(v + bias)` with the exact (erf) GELU.
#[inline(always)]
pub(super) fn bias_gelu(values: &mut [f32], bias: &[f32]) {
    for row in values.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            let x = *v + b;
            *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// erf as a rational function of x² on [-4, 4] (±1 beyond, where f32's erf is 1 within
/// 2e-8): no branches or table lookups, so loops over it vectorise. Largest error against
/// libm's f64 erf: 4.6e-7 (GELU tested against burn's in
/// `tests.rs`).
#[allow(clippy::excessive_precision)]
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    // Horner's steps as fused multiply-adds: half the operations, one rounding each.
    let mut p = -2.726_142_3e-10_f32;
    for c in [
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_600_2e-3,
        -1.609_603_3e-2,
    ] {
        p = p.mul_add(x2, c);
    }
    let mut q = -1.456_607_2e-5_f32;
    for c in [
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_4e-3,
        -1.426_474e-2,
    ] {
        q = q.mul_add(x2, c);
    }
    x * p / q
}

#[inline(always)]
pub(super) fn softplus(x: f32) -> f32 {
    if x > SOFTPLUS_THRESHOLD {
        x
    } else {
        x.exp().ln_1p()
    }
}

/// `scores[j] += query · key_j` for the keys of `keys_transposed` (`[head_width, tokens]`).
#[inline(always)]
pub(super) fn score_keys(query: &[f32], keys_transposed: &[f32], scores: &mut [f32]) {
    for (&q, keys) in query.iter().zip(keys_transposed.chunks_exact(scores.len())) {
        for (s, &k) in scores.iter_mut().zip(keys) {
            *s += q * k;
        }
    }
}

/// Softmax of each row (`t` wide) of `scores` divided by `scale`.
#[inline(always)]
pub(super) fn softmax_rows(scores: &mut [f32], t: usize, scale: f32) {
    for s in scores.iter_mut() {
        *s /= scale;
    }
    for row in scores.chunks_exact_mut(t) {
        let max = fold_in_lanes(row, f32::NEG_INFINITY, |x| x, f32::max);
        for s in row.iter_mut() {
            *s -= max;
        }
    }
    for s in scores.iter_mut() {
        *s = exp_nonpositive(*s);
    }
    for row in scores.chunks_exact_mut(t) {
        let inverse_sum = 1.0 / fold_in_lanes(row, 0.0, |x| x, |a, b| a + b);
        for s in row.iter_mut() {
            *s *= inverse_sum;
        }
    }
}

/// `context += Σ weights[j] · value_j`, token j's value at `values[j · value_stride..]`.
#[inline(always)]
pub(super) fn weighted_sum(
    weights: &[f32],
    values: &[f32],
    value_stride: usize,
    context: &mut [f32],
) {
    for (token, &weight) in weights.iter().enumerate() {
        let value = &values[token * value_stride..][..context.len()];
        for (c, &v) in context.iter_mut().zip(value) {
            *c += weight * v;
        }
    }
}

/// A row-major matrix inside a slice: element (i, j) at `values[i · row_stride + j]`.
pub(super) struct Operand<'a> {
    pub(super) values: &'a [f32],
    pub(super) rows: usize,
    pub(super) columns: usize,
    pub(super) row_stride: usize,
}

/// `output = lhs · rhs` for row-major `rhs` `[lhs.columns, n]` and `output`
/// `[lhs.rows, n]`, on the calling thread.
#[allow(unsafe_code)]
pub(super) fn matrix_product(lhs: Operand<'_>, rhs: &[f32], n: usize, output: &mut [f32]) {
    let (m, k) = (lhs.rows, lhs.columns);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    assert!(k <= lhs.row_stride && lhs.values.len() >= (m - 1) * lhs.row_stride + k);
    assert!(rhs.len() >= k * n && output.len() >= m * n);
    // SAFETY: the asserts above keep every element gemm reads or writes inside the three
    // slices for these dimensions and strides; `output` is borrowed mutably, so it overlaps
    // neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            output.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.values.as_ptr(),
            1,
            lhs.row_stride as isize,
            rhs.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
