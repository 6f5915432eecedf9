//! The elementwise kernels of the fused forward pass, written so that loops over them
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
    let x = x.max(-87.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    // ln 2 split in two so that n · ln 2 is subtracted without rounding error.
    let r = x - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
pub(super) fn add_bias(values: &mut [f32], bias: &[f32]) {
    for row in values.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `x += product + bias`, row by row: burn's `x + (h · W + b)`.
#[inline(always)]
pub(super) fn add_residual(x: &mut [f32], product: &[f32], bias: &[f32]) {
    let width = bias.len();
    for (x, product) in x.chunks_exact_mut(width).zip(product.chunks_exact(width)) {
        for ((x, &p), &b) in x.iter_mut().zip(product).zip(bias) {
            *x += p + b;
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
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_2e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329_4e-3;
    q = q * x2 - 1.426_474e-2;
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
