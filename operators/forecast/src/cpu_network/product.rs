//! The fused path's own matrix product, on x86-64 CPUs with AVX2 and FMA.
//!
//! The network's products are short and wide: 8 rows per series (one forecast is 8
//! tokens), 48 to 672 terms, 48 to 192 columns. `gemm` (burn's kernel, the fallback) packs
//! its operands and sets up its blocking on every call; swapping this kernel in for it took
//! a single forecast from 39 to 31 µs in an A/B run (`docs/performance.md`). Here the weights stay in their row-major `[inputs, outputs]`
//! layout and are read straight from cache: a block of rows × 16 columns is held in vector
//! registers (6 rows with AVX2's 16 registers, 8 with AVX-512's 32) while every term of the
//! inner dimension is added in, one fused multiply-add per term; fewer rows than a block
//! (one series' head and linear skip) take several column panels at once, so that enough
//! independent sums keep the multiply-add units busy.
//!
//! Each output element is therefore the same chain of fused multiply-adds, first term to
//! last, whatever the block it falls in, the number of rows and the instruction set: a
//! series' forecast does not depend on its batch, bit for bit (tested below).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_setzero_ps,
    _mm256_storeu_ps,
};

use super::kernels::Operand;

/// Which instruction set [`product`] runs on: only [`detect`] makes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    /// AVX2 and FMA: blocks of 6 rows (6 × 2 accumulators + 2 weight vectors + 1
    /// broadcast = 15 of the 16 vector registers).
    Avx2Fma(Detected),
    /// The same 256-bit operations with AVX-512VL's 32 vector registers: blocks of 8 rows,
    /// one series' tokens at once.
    Avx512(Detected),
}

/// Proof that [`detect`] saw the features of a [`Kernel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Detected(());

/// [`detect`]'s answer, asked once.
pub(super) fn kernel() -> Option<Kernel> {
    static KERNEL: std::sync::OnceLock<Option<Kernel>> = std::sync::OnceLock::new();
    *KERNEL.get_or_init(detect)
}

/// The best kernel this CPU can run, `None` where it has neither (the caller then uses
/// `gemm`).
fn detect() -> Option<Kernel> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            if has!("avx512f") && has!("avx512vl") {
                return Some(Kernel::Avx512(Detected(())));
            }
            return Some(Kernel::Avx2Fma(Detected(())));
        }
    }
    None
}

/// `output = lhs · rhs` for row-major `rhs` `[lhs.columns, n]` and `output`
/// `[lhs.rows, n]`, on the calling thread.
pub(super) fn product(kernel: Kernel, lhs: Operand<'_>, rhs: &[f32], n: usize, output: &mut [f32]) {
    let rhs = Operand {
        values: rhs,
        rows: lhs.columns,
        columns: n,
        row_stride: n,
    };
    product_strided(kernel, lhs, rhs, output, n);
}

/// `output = lhs · rhs` where `rhs` and `output` may be column ranges of wider matrices:
/// `rhs` `[lhs.columns, rhs.columns]`, `output`'s rows `output_stride` apart. Each element
/// is the same chain of multiply-adds as in [`product`] of the whole matrix, so a product
/// cut into column ranges gives the same bits.
#[allow(unsafe_code)]
pub(super) fn product_strided(
    kernel: Kernel,
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    output: &mut [f32],
    output_stride: usize,
) {
    let (m, k, n) = (lhs.rows, lhs.columns, rhs.columns);
    if m == 0 || n == 0 {
        return;
    }
    assert_eq!(rhs.rows, k, "inner dimensions agree");
    assert!(k <= lhs.row_stride && lhs.values.len() >= (m - 1) * lhs.row_stride + k);
    assert!(k == 0 || (n <= rhs.row_stride && rhs.values.len() >= (k - 1) * rhs.row_stride + n));
    assert!(n <= output_stride && output.len() >= (m - 1) * output_stride + n);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a `Kernel` exists only where `detect` saw its features; the asserts above
    // keep every element read or written inside the three slices.
    unsafe {
        match kernel {
            Kernel::Avx2Fma(_) => product_avx2_fma(lhs, rhs, output, output_stride),
            Kernel::Avx512(_) => product_avx512(lhs, rhs, output, output_stride),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    unreachable!("no {kernel:?} is detected off x86-64");
}

/// The product's driver and row blocks, compiled once per instruction set: the same
/// operations in the same order, so both give the same bits.
macro_rules! product_for {
    ($name:ident, $panels:ident, $block:ident, $features:literal, $rows:literal) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(unsafe_code)]
        unsafe fn $name(lhs: Operand<'_>, rhs: Operand<'_>, output: &mut [f32], ldc: usize) {
            let (m, k, stride) = (lhs.rows, lhs.columns, lhs.row_stride);
            let (n, ldb) = (rhs.columns, rhs.row_stride);
            let a = lhs.values.as_ptr();
            let b = rhs.values.as_ptr();
            let c = output.as_mut_ptr();
            let wide = n / 16 * 16;
            let whole_rows = m / $rows * $rows;
            // SAFETY (every block below): rows < m, columns < n, terms < k.
            unsafe {
                // Column panels outside, so a panel of the weights (k × 16) stays in L1
                // while every block of rows passes over it.
                for column in (0..wide).step_by(16) {
                    for row in (0..whole_rows).step_by($rows) {
                        $block::<$rows, 1>(
                            a.add(row * stride),
                            stride,
                            k,
                            b.add(column),
                            ldb,
                            ldc,
                            c.add(row * ldc + column),
                        );
                    }
                }
                // Fewer rows than a block (a single series' head and linear skip have one
                // row per series): several panels at once, so that there are enough
                // independent sums to keep the multiply-add units busy.
                let (a, c) = (a.add(whole_rows * stride), c.add(whole_rows * ldc));
                match m - whole_rows {
                    0 => {}
                    1 => $panels::<1, 4>(a, stride, k, b, ldb, ldc, wide, c),
                    2 => $panels::<2, 2>(a, stride, k, b, ldb, ldc, wide, c),
                    3 => $panels::<3, 2>(a, stride, k, b, ldb, ldc, wide, c),
                    4 => $panels::<4, 1>(a, stride, k, b, ldb, ldc, wide, c),
                    5 => $panels::<5, 1>(a, stride, k, b, ldb, ldc, wide, c),
                    6 => $panels::<6, 1>(a, stride, k, b, ldb, ldc, wide, c),
                    _ => $panels::<7, 1>(a, stride, k, b, ldb, ldc, wide, c),
                }
            }
            // Columns past the last whole panel, one at a time: `mul_add` is the same fused
            // operation the vectors do.
            for column in wide..n {
                for row in 0..m {
                    let mut sum = 0.0_f32;
                    for term in 0..k {
                        // SAFETY: as above.
                        unsafe {
                            sum = (*a.add(row * stride + term))
                                .mul_add(*b.add(term * ldb + column), sum);
                        }
                    }
                    unsafe { *c.add(row * ldc + column) = sum };
                }
            }
        }

        /// `ROWS` rows × the first `wide` columns, up to `PANELS` (at most 4) panels of 16
        /// at a time.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(unsafe_code)]
        #[inline]
        // Pointers and strides as plain arguments, as the block below takes them.
        #[allow(clippy::too_many_arguments)]
        unsafe fn $panels<const ROWS: usize, const PANELS: usize>(
            a: *const f32,
            stride: usize,
            k: usize,
            b: *const f32,
            ldb: usize,
            ldc: usize,
            wide: usize,
            c: *mut f32,
        ) {
            let mut column = 0;
            // SAFETY: the caller's bounds; column + 16 · panels ≤ wide ≤ n.
            unsafe {
                while column + 16 * PANELS <= wide {
                    $block::<ROWS, PANELS>(a, stride, k, b.add(column), ldb, ldc, c.add(column));
                    column += 16 * PANELS;
                }
                let (b, c) = (b.add(column), c.add(column));
                match (wide - column) / 16 {
                    0 => {}
                    1 => $block::<ROWS, 1>(a, stride, k, b, ldb, ldc, c),
                    2 => $block::<ROWS, 2>(a, stride, k, b, ldb, ldc, c),
                    _ => $block::<ROWS, 3>(a, stride, k, b, ldb, ldc, c),
                }
            }
        }

        /// `ROWS` rows × `PANELS` · 16 columns of the product: rows of `a` at `stride`, of
        /// `b` at `ldb`, of `c` at `ldc`.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $features)]
        #[allow(unsafe_code)]
        #[inline]
        unsafe fn $block<const ROWS: usize, const PANELS: usize>(
            a: *const f32,
            stride: usize,
            k: usize,
            b: *const f32,
            ldb: usize,
            ldc: usize,
            c: *mut f32,
        ) {
            let mut sums: [[[__m256; 2]; PANELS]; ROWS] =
                [[[_mm256_setzero_ps(); 2]; PANELS]; ROWS];
            for term in 0..k {
                for panel in 0..PANELS {
                    // SAFETY: the caller's bounds: term < k, the panels inside b's row.
                    let (low, high) = unsafe {
                        (
                            _mm256_loadu_ps(b.add(term * ldb + 16 * panel)),
                            _mm256_loadu_ps(b.add(term * ldb + 16 * panel + 8)),
                        )
                    };
                    for (row, sums) in sums.iter_mut().enumerate() {
                        let value = unsafe { _mm256_broadcast_ss(&*a.add(row * stride + term)) };
                        sums[panel][0] = _mm256_fmadd_ps(value, low, sums[panel][0]);
                        sums[panel][1] = _mm256_fmadd_ps(value, high, sums[panel][1]);
                    }
                }
            }
            for (row, sums) in sums.iter().enumerate() {
                for (panel, sums) in sums.iter().enumerate() {
                    unsafe {
                        _mm256_storeu_ps(c.add(row * ldc + 16 * panel), sums[0]);
                        _mm256_storeu_ps(c.add(row * ldc + 16 * panel + 8), sums[1]);
                    }
                }
            }
        }
    };
}

product_for!(
    product_avx2_fma,
    panels_avx2_fma,
    block_avx2_fma,
    "avx2,fma",
    6
);
product_for!(
    product_avx512,
    panels_avx512,
    block_avx512,
    "avx2,fma,avx512f,avx512vl",
    8
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU can run: the AVX2 one wherever the AVX-512 one runs too.
    fn kernels() -> Vec<Kernel> {
        match kernel() {
            Some(Kernel::Avx512(detected)) => {
                vec![Kernel::Avx2Fma(detected), Kernel::Avx512(detected)]
            }
            Some(other) => vec![other],
            None => Vec::new(),
        }
    }

    /// Small integers over 8: products and sums of them are exact in f32, so a correct
    /// kernel equals the plain triple loop bit for bit.
    fn exact_values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed * 13) % 17) as f32 / 8.0 - 1.0)
            .collect()
    }

    fn run(
        kernel: Kernel,
        a: &[f32],
        m: usize,
        k: usize,
        stride: usize,
        b: &[f32],
        n: usize,
    ) -> Vec<f32> {
        let mut c = vec![f32::NAN; m * n];
        let lhs = Operand {
            values: a,
            rows: m,
            columns: k,
            row_stride: stride,
        };
        product(kernel, lhs, b, n, &mut c);
        c
    }

    #[test]
    fn equals_the_plain_product_for_every_shape() {
        for kernel in kernels() {
            for m in [1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 256] {
                for (k, n) in [
                    (0, 16),
                    (1, 16),
                    (84, 64),
                    (64, 48),
                    (3, 40),
                    (5, 7),
                    (672, 48),
                    (64, 192),
                ] {
                    let stride = k + 3;
                    let a = exact_values(m * stride, 1);
                    let b = exact_values(k * n, 2);
                    let c = run(kernel, &a, m, k, stride, &b, n);
                    for i in 0..m {
                        for j in 0..n {
                            let expected: f32 =
                                (0..k).map(|p| a[i * stride + p] * b[p * n + j]).sum();
                            assert_eq!(
                                c[i * n + j],
                                expected,
                                "{kernel:?}: {m}×{k}·{k}×{n} at ({i}, {j})"
                            );
                        }
                    }
                }
            }
        }
    }

    /// `[m, k]` and `[k, n]` operands whose products round: the order of the additions
    /// shows in the bits.
    fn rounding_operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
        let a = (0..m * k).map(|i| ((i as f32) * 0.618_034).sin()).collect();
        let b = (0..k * n)
            .map(|i| ((i as f32) * 0.414_213_6).cos())
            .collect();
        (a, b)
    }

    #[test]
    fn a_row_is_the_same_bits_whatever_the_rows_beside_it_and_the_instruction_set() {
        let (k, n) = (672, 48);
        let (a, b) = rounding_operands(17, k, n);
        let kernels = kernels();
        let Some(&first) = kernels.first() else {
            return;
        };
        let reference = run(first, &a, 17, k, k, &b, n);
        for kernel in kernels {
            for m in 1..=17 {
                let c = run(kernel, &a, m, k, k, &b, n);
                assert!(
                    c.iter()
                        .zip(&reference)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{kernel:?}: {m} rows differ from 17 rows with {first:?}"
                );
            }
        }
    }

    #[test]
    fn column_ranges_give_the_bits_of_the_whole_product() {
        let (k, n) = (64, 192);
        let (a, b) = rounding_operands(17, k, n);
        for kernel in kernels() {
            for m in [1, 2, 8, 17] {
                let whole = run(kernel, &a, m, k, k, &b, n);
                for (start, end) in [(0, 32), (32, 64), (16, 40), (100, 192), (183, 192)] {
                    let columns = end - start;
                    let stride = columns + 5;
                    let mut part = vec![f32::NAN; m * stride];
                    let lhs = Operand {
                        values: &a,
                        rows: m,
                        columns: k,
                        row_stride: k,
                    };
                    let rhs = Operand {
                        values: &b[start..],
                        rows: k,
                        columns,
                        row_stride: n,
                    };
                    product_strided(kernel, lhs, rhs, &mut part, stride);
                    for i in 0..m {
                        for j in 0..columns {
                            assert_eq!(
                                part[i * stride + j].to_bits(),
                                whole[i * n + start + j].to_bits(),
                                "{kernel:?}: {m} rows, columns {start}..{end}, ({i}, {j})"
                            );
                        }
                        assert!(
                            part[i * stride + columns..]
                                [..5.min(part.len() - i * stride - columns)]
                                .iter()
                                .all(|x| x.is_nan()),
                            "nothing written past the range"
                        );
                    }
                }
            }
        }
    }
}
