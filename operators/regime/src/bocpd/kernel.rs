//! The update loops compiled twice: for AVX2 + FMA, chosen at run time on x86-64 CPUs that
//! have them, and for the build's target (baseline x86-64 is SSE2: two `f64` per instruction).
//!
//! The update spends its time in loops of `fastmath::ln` and `exp` over R hypotheses, which
//! AVX2 runs four `f64` at a time. `-C target-cpu=native` would do the same for the whole
//! binary, but that binary no longer runs on CPUs without the features.
//!
//! Both compilations give the same bits. Rust never contracts `a * b + c` into a fused
//! multiply-add nor reassociates floating-point sums on its own, so the AVX2 code does the
//! same IEEE operations in the same order, more per instruction. FMA is enabled because
//! every AVX2 CPU since Haswell has it; calling `mul_add` in one path only would break the
//! equality (`tests.rs` checks it).

use super::{Bocpd, RunLengthSummary};

/// Which compilation of [`Bocpd::step`] a detector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kernel {
    /// Compiled for the build's target; runs anywhere the binary runs.
    Portable,
    /// Compiled with AVX2 and FMA enabled; holds the proof that the CPU has them.
    #[cfg(target_arch = "x86_64")]
    Avx2Fma(Avx2FmaDetected),
}

/// Only [`Kernel::detect`] can make one (the field is private to this file), so a
/// `Kernel::Avx2Fma` exists only on a CPU that reported both features.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Avx2FmaDetected(());

impl Kernel {
    /// The fastest compilation this CPU can run. A detector calls it once, when built
    /// (and std caches CPUID's answer for the whole process).
    pub(super) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Self::Avx2Fma(Avx2FmaDetected(()));
        }
        Self::Portable
    }

    /// One update of `detector` by the observation `x` (already checked).
    #[inline]
    pub(super) fn step(self, detector: &mut Bocpd, x: f64) -> RunLengthSummary {
        match self {
            Self::Portable => detector.step(x),
            #[cfg(target_arch = "x86_64")]
            Self::Avx2Fma(detected) => step_avx2_fma(detected, detector, x),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn step_avx2_fma(_: Avx2FmaDetected, detector: &mut Bocpd, x: f64) -> RunLengthSummary {
    // SAFETY: a function compiled with target features may only run on a CPU that has
    // them; the `Avx2FmaDetected` argument exists only if `Kernel::detect` saw both.
    unsafe { avx2_fma(detector, x) }
}

/// [`Bocpd::step`] (always inlined) compiled with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2_fma(detector: &mut Bocpd, x: f64) -> RunLengthSummary {
    detector.step(x)
}
