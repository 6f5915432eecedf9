use super::*;
use proptest::prelude::*;

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

/// Three steps by hand. Prior μ₀ = 0, κ₀ = 1, α₀ = 1, β₀ = 1; hazard H = 0.2;
/// observations 0, 2, 2. A hypothesis holding n observations predicts with a Student-t of
/// 2α_n degrees of freedom, location μ_n and scale² β_n (κ_n + 1) / (α_n κ_n).
///
/// Step 1 (x = 0): only run length 1. The prior predictive is t₂(0, scale² 2), whose
/// density is ¼ (1 + x²/4)^(−3/2); at 0 it is ¼, so ln p(x₁) = ln ¼ = −1.386294361.
/// After it: κ = 2, μ = 0, α = 3/2, β = 1 + 1·0²/(2·2) = 1.
///
/// Step 2 (x = 2):
/// - grow (r = 2): (1 − H) · t₃(0, scale² 1)(2) = 0.8 · 2/(π√3) · (1 + 4/3)⁻² = 0.8 · 0.3675526 · 9/49
///   = 0.0540077285;
/// - change (r = 1): H · ¼ (1 + 4/4)^(−3/2) = 0.2 · 0.3535534 = 0.0176776695;
/// - evidence 0.0716853981 (ln −2.635468205), so P(r = 1) = 0.2466007026, P(r = 2) = 0.7533992974.
///
/// Step 3 (x = 2): r = 1 holds {2}: κ = 2, μ = 1, α = 3/2, β = 1 + 4/4 = 2, scale² 2;
/// r = 2 holds {0, 2}: κ = 3, μ = 2/3, α = 2, β = 1 + 2·4/6 = 7/3, scale² 14/9.
/// - r = 2: 0.2466007 · 0.8 · t₃(1, 2)(2); r = 3: 0.7533993 · 0.8 · t₄(2/3, 14/9)(2);
///   r = 1: 0.2 · t₂(0, 2)(2) = 0.0176776695;
/// - normalised: P(r = 1) = 0.1162783149, P(r = 2) = 0.2477815318, P(r = 3) = 0.6359401533;
///   ln p(x₃ | x₁, x₂) = −1.883684349.
#[test]
fn three_steps_by_hand() {
    let settings = BocpdSettings {
        prior: NormalGammaPrior::default(),
        hazard: 0.2,
        max_run_length: 10,
    };
    let mut detector = Bocpd::new(settings).unwrap();

    let first = detector.update(0.0).unwrap();
    assert_eq!(first.change_probability, 1.0);
    assert_eq!(first.most_likely_run_length, 1);
    assert!(close(first.log_predictive, 0.25f64.ln(), 1e-12));

    let second = detector.update(2.0).unwrap();
    let probabilities = detector.run_length_probabilities();
    assert!(close(probabilities[0], 0.246_600_702_623_926_08, 1e-12));
    assert!(close(probabilities[1], 0.753_399_297_376_073_9, 1e-12));
    assert!(close(second.change_probability, probabilities[0], 0.0));
    assert_eq!(second.most_likely_run_length, 2);
    assert!(close(second.log_predictive, -2.635_468_205_383_399, 1e-12));

    let third = detector.update(2.0).unwrap();
    let probabilities = detector.run_length_probabilities();
    assert_eq!(probabilities.len(), 3);
    assert!(close(probabilities[0], 0.116_278_314_852_658_09, 1e-12));
    assert!(close(probabilities[1], 0.247_781_531_844_636_64, 1e-12));
    assert!(close(probabilities[2], 0.635_940_153_302_705_3, 1e-12));
    assert_eq!(third.most_likely_run_length, 3);
    assert!(close(third.log_predictive, -1.883_684_348_846_231_4, 1e-12));
    assert!(close(
        detector.log_evidence(),
        0.25f64.ln() - 2.635_468_205_383_399 - 1.883_684_348_846_231_4,
        1e-12
    ));
}

#[test]
fn a_jump_in_level_is_a_change_point() {
    let mut detector = Bocpd::new(BocpdSettings {
        prior: NormalGammaPrior {
            mean: 40.0,
            mean_observations: 0.1,
            shape: 2.0,
            rate: 50.0,
        },
        hazard: 0.01,
        max_run_length: 200,
    })
    .unwrap();
    let mut noise = crate::rng::SplitMix64::new(3);
    for t in 0..100 {
        let summary = detector
            .update(40.0 + 4.0 * (noise.next_f64() - 0.5))
            .unwrap();
        // The first observation opens the first segment; after a few, the level is known.
        assert!(
            t < 5 || summary.change_probability < 0.1,
            "{t}: {summary:?}"
        );
    }
    let summary = detector.update(140.0).unwrap();
    assert!(summary.change_probability > 0.9, "{summary:?}");
    for _ in 0..20 {
        detector
            .update(140.0 + 4.0 * (noise.next_f64() - 0.5))
            .unwrap();
    }
    let summary = detector.update(140.0).unwrap();
    assert!(
        (20..=23).contains(&summary.most_likely_run_length),
        "{summary:?}"
    );
}

#[test]
fn truncation_keeps_all_probability_and_is_exact_until_it_bites() {
    let settings = |max_run_length| BocpdSettings {
        hazard: 0.05,
        max_run_length,
        ..BocpdSettings::default()
    };
    let mut small = Bocpd::new(settings(8)).unwrap();
    let mut large = Bocpd::new(settings(100)).unwrap();
    let mut noise = crate::rng::SplitMix64::new(11);
    for t in 0..60 {
        let x = if t < 30 { 0.0 } else { 3.0 } + noise.next_f64();
        let a = small.update(x).unwrap();
        let b = large.update(x).unwrap();
        let total: f64 = small.run_length_probabilities().iter().sum();
        assert!(close(total, 1.0, 1e-12));
        assert!(small.run_length_probabilities().len() <= 8);
        if t < 8 {
            assert_eq!(a, b);
            assert_eq!(
                small.run_length_probabilities(),
                large.run_length_probabilities()
            );
        }
    }
}

#[test]
fn a_single_bucket_still_works() {
    let mut detector = Bocpd::new(BocpdSettings {
        max_run_length: 1,
        ..BocpdSettings::default()
    })
    .unwrap();
    for x in [0.0, 1.0, -1.0, 5.0] {
        let summary = detector.update(x).unwrap();
        assert_eq!(detector.run_length_probabilities().len(), 1);
        assert!(close(detector.run_length_probabilities()[0], 1.0, 1e-15));
        assert_eq!(summary.most_likely_run_length, 1);
    }
}

#[test]
fn bad_settings_and_observations_are_refused() {
    for settings in [
        BocpdSettings {
            hazard: 0.0,
            ..BocpdSettings::default()
        },
        BocpdSettings {
            hazard: 1.0,
            ..BocpdSettings::default()
        },
        BocpdSettings {
            max_run_length: 0,
            ..BocpdSettings::default()
        },
        BocpdSettings {
            prior: NormalGammaPrior {
                rate: -1.0,
                ..NormalGammaPrior::default()
            },
            ..BocpdSettings::default()
        },
    ] {
        assert!(matches!(
            Bocpd::new(settings),
            Err(RegimeError::InvalidSetting { .. })
        ));
    }
    let mut detector = Bocpd::new(BocpdSettings::default()).unwrap();
    detector.update(1.0).unwrap();
    assert!(matches!(
        detector.update(f64::NAN),
        Err(RegimeError::NonFiniteObservation { index: 1, .. })
    ));
}

/// The AVX2 compilation of the update loops (where this CPU has it) and the portable one
/// give the same bits: every summary, every run-length probability and the evidence.
/// Run lengths 1, 7 and 333 cover the merge past R and every remainder of the 4-lane loops.
#[test]
fn every_compilation_of_the_update_gives_the_same_bits() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // Otherwise this test compares the portable code with itself.
        let detector = Bocpd::new(BocpdSettings::default()).unwrap();
        assert_ne!(detector.kernel, kernel::Kernel::Portable);
    }
    let series = crate::throughput::price_series(1_000, 5);
    for max_run_length in [1, 7, 333] {
        let settings = BocpdSettings {
            prior: NormalGammaPrior {
                mean: 40.0,
                mean_observations: 0.01,
                shape: 1.0,
                rate: 50.0,
            },
            hazard: 1.0 / 100.0,
            max_run_length,
        };
        let mut detected = Bocpd::new(settings.clone()).unwrap();
        let mut portable = Bocpd::new(settings).unwrap().with_portable_kernel();
        for (t, x) in series.iter().enumerate() {
            let a = detected.update(*x).unwrap();
            let b = portable.update(*x).unwrap();
            let context = format!("R = {max_run_length}, step {t}");
            assert_eq!(
                a.most_likely_run_length, b.most_likely_run_length,
                "{context}"
            );
            for (a, b) in [
                (a.most_likely_probability, b.most_likely_probability),
                (a.change_probability, b.change_probability),
                (a.log_predictive, b.log_predictive),
                (detected.log_evidence(), portable.log_evidence()),
            ] {
                assert_eq!(a.to_bits(), b.to_bits(), "{context}: {a} vs {b}");
            }
            let a = detected.run_length_probabilities();
            let b = portable.run_length_probabilities();
            assert_eq!(a.len(), b.len(), "{context}");
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{context}, run length {}", i + 1);
            }
        }
    }
}

proptest! {
    /// With room for every run length, the bounded detector is the exact posterior.
    #[test]
    fn truncated_equals_direct_on_short_series(
        steps in prop::collection::vec((-1.0f64..1.0, 0u8..10), 1..=60),
        hazard in 0.001f64..0.5,
        mean in -5.0f64..5.0,
        mean_observations in 0.05f64..5.0,
        shape in 0.5f64..5.0,
        rate in 0.1f64..10.0,
        extra in 0usize..5,
    ) {
        // Noise around levels that jump now and then, some far away.
        let observations: Vec<f64> = steps
            .iter()
            .map(|(noise, level)| f64::from(*level / 3) * 7.0 + noise)
            .collect();
        let prior = NormalGammaPrior { mean, mean_observations, shape, rate };
        let mut detector = Bocpd::new(BocpdSettings {
            prior: prior.clone(),
            hazard,
            max_run_length: observations.len() + extra,
        })
        .unwrap();
        let (expected, log_evidence) = direct::run_length_posteriors(&prior, hazard, &observations);
        for (x, expected) in observations.iter().zip(&expected) {
            let summary = detector.update(*x).unwrap();
            let got = detector.run_length_probabilities();
            prop_assert_eq!(got.len(), expected.len());
            for (a, b) in got.iter().zip(expected) {
                prop_assert!(close(*a, *b, 1e-9), "{} vs {}", a, b);
            }
            prop_assert!(close(summary.change_probability, expected[0], 1e-9));
        }
        prop_assert!(close(detector.log_evidence(), log_evidence, 1e-9 * log_evidence.abs().max(1.0)));
    }
}
