use super::*;
use crate::rng::SplitMix64;
use proptest::prelude::*;

fn two_states() -> GaussianHmm {
    GaussianHmm::new(
        vec![0.6, 0.4],
        vec![vec![0.9, 0.1], vec![0.2, 0.8]],
        vec![0.0, 3.0],
        vec![1.0, 2.0],
    )
    .unwrap()
}

/// Every state path of a short series, scored one by one in log space: ln P(x), the
/// smoothed probabilities and the best path, with no recursion at all.
fn brute_force(model: &GaussianHmm, x: &[f64]) -> (f64, Vec<Vec<f64>>, Vec<usize>) {
    let k = model.states();
    let log_density = |state: usize, value: f64| {
        let variance = model.variances()[state];
        -(value - model.means()[state]).powi(2) / (2.0 * variance)
            - 0.5 * (2.0 * std::f64::consts::PI * variance).ln()
    };
    let paths: Vec<(Vec<usize>, f64)> = (0..k.pow(x.len() as u32))
        .map(|code| {
            let path: Vec<usize> = (0..x.len()).map(|t| code / k.pow(t as u32) % k).collect();
            let mut log_p = model.start_probabilities()[path[0]].ln() + log_density(path[0], x[0]);
            for t in 1..x.len() {
                log_p +=
                    model.transition_row(path[t - 1])[path[t]].ln() + log_density(path[t], x[t]);
            }
            (path, log_p)
        })
        .collect();
    let best = paths
        .iter()
        .map(|(_, l)| *l)
        .fold(f64::NEG_INFINITY, f64::max);
    let total = best
        + paths
            .iter()
            .map(|(_, l)| (l - best).exp())
            .sum::<f64>()
            .ln();
    let mut marginals = vec![vec![0.0; k]; x.len()];
    for (path, log_p) in &paths {
        for (t, state) in path.iter().enumerate() {
            marginals[t][*state] += (log_p - total).exp();
        }
    }
    let best_path = paths.iter().find(|(_, l)| *l == best).unwrap().0.clone();
    (total, marginals, best_path)
}

fn random_model(states: usize, seed: u64) -> GaussianHmm {
    let mut rng = SplitMix64::new(seed);
    let distribution = |rng: &mut SplitMix64| {
        let raw: Vec<f64> = (0..states).map(|_| 0.05 + rng.next_f64()).collect();
        let sum: f64 = raw.iter().sum();
        raw.into_iter().map(|v| v / sum).collect::<Vec<_>>()
    };
    let start = distribution(&mut rng);
    let transition = (0..states).map(|_| distribution(&mut rng)).collect();
    let means = (0..states).map(|_| 10.0 * rng.next_f64() - 5.0).collect();
    let variances = (0..states).map(|_| 0.2 + 3.0 * rng.next_f64()).collect();
    GaussianHmm::new(start, transition, means, variances).unwrap()
}

proptest! {
    #[test]
    fn recursions_equal_enumerating_every_path(
        states in 1usize..=3,
        seed in any::<u64>(),
        x in prop::collection::vec(-8.0f64..8.0, 1..=6),
    ) {
        let model = random_model(states, seed);
        let (log_likelihood, marginals, path) = brute_force(&model, &x);
        prop_assert!(
            (model.log_likelihood(&x).unwrap() - log_likelihood).abs()
                < 1e-9 * log_likelihood.abs().max(1.0)
        );
        let posteriors = model.posteriors(&x).unwrap();
        for (t, expected) in marginals.iter().enumerate() {
            for (got, want) in posteriors.at(t).iter().zip(expected) {
                prop_assert!((got - want).abs() < 1e-9);
            }
        }
        prop_assert_eq!(model.viterbi(&x).unwrap().states, path);
    }

    #[test]
    fn the_filter_follows_the_batch_likelihood(
        seed in any::<u64>(),
        x in prop::collection::vec(-8.0f64..8.0, 1..=40),
    ) {
        let model = random_model(3, seed);
        let mut filter = model.filter();
        for (n, value) in x.iter().enumerate() {
            filter.update(*value).unwrap();
            let batch = model.log_likelihood(&x[..=n]).unwrap();
            prop_assert!((filter.log_likelihood() - batch).abs() < 1e-9 * batch.abs().max(1.0));
            prop_assert!((filter.probabilities().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // The filtered and smoothed probabilities agree at the last step.
        let posteriors = model.posteriors(&x).unwrap();
        for (a, b) in filter.probabilities().iter().zip(posteriors.at(x.len() - 1)) {
            prop_assert!((a - b).abs() < 1e-9);
        }
    }
}

#[test]
fn fifty_thousand_spiky_observations_do_not_underflow() {
    let model = crate::throughput::three_regime_model();
    let x = crate::throughput::price_series(50_000, 9);
    let log_likelihood = model.log_likelihood(&x).unwrap();
    assert!(log_likelihood.is_finite() && log_likelihood < -100_000.0);
    let posteriors = model.posteriors(&x).unwrap();
    assert_eq!(posteriors.len(), 50_000);
    for row in posteriors.rows() {
        assert!(row.iter().all(|p| p.is_finite() && *p >= 0.0));
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    let path = model.viterbi(&x).unwrap();
    assert!(path.log_probability.is_finite() && path.log_probability <= log_likelihood);
    let mut filter = model.filter();
    x.iter().for_each(|v| filter.update(*v).unwrap());
    assert!((filter.log_likelihood() - log_likelihood).abs() < 1e-6);
}

#[test]
fn baum_welch_never_lowers_the_likelihood_and_is_reproducible() {
    let x = crate::throughput::price_series(2_000, 5);
    let options = FitOptions {
        max_iterations: 30,
        tolerance: 1e-6,
        ..FitOptions::default()
    };
    let fit = GaussianHmm::fit_seeded(3, &x, &options, 3, 17).unwrap();
    for pair in fit.log_likelihood_history.windows(2) {
        assert!(pair[1] >= pair[0] - 1e-8 * pair[0].abs(), "{pair:?}");
    }
    assert!(fit.log_likelihood >= *fit.log_likelihood_history.last().unwrap() - 1e-6);
    assert_eq!(
        fit,
        GaussianHmm::fit_seeded(3, &x, &options, 3, 17).unwrap()
    );
    // The spike regime is found.
    assert!(
        fit.model.means().iter().any(|m| *m > 200.0),
        "{:?}",
        fit.model
    );
}

#[test]
fn forbidden_transitions_are_respected() {
    // Left to right: state 1 can never go back to state 0.
    let model = GaussianHmm::new(
        vec![1.0, 0.0],
        vec![vec![0.7, 0.3], vec![0.0, 1.0]],
        vec![0.0, 10.0],
        vec![1.0, 1.0],
    )
    .unwrap();
    let x = [0.1, -0.2, 9.8, 10.1, 0.0];
    let path = model.viterbi(&x).unwrap();
    assert_eq!(path.states, [0, 0, 1, 1, 1]);
    let posteriors = model.posteriors(&x).unwrap();
    assert_eq!(posteriors.at(0), &[1.0, 0.0]);
    let fit = model.fit(&x, &FitOptions::default()).unwrap();
    assert_eq!(fit.model.transition_row(1), &[0.0, 1.0]);
    assert_eq!(fit.model.start_probabilities(), &[1.0, 0.0]);
}

#[test]
fn impossible_observations_are_an_error_and_leave_the_filter_alone() {
    // State 1 can only be entered from state 1, which the chain never starts in.
    let model = GaussianHmm::new(
        vec![1.0, 0.0],
        vec![vec![1.0, 0.0], vec![0.0, 1.0]],
        vec![0.0, 1e6],
        vec![1e-3, 1.0],
    )
    .unwrap();
    assert!(model.log_likelihood(&[0.0, 1e6]).unwrap().is_finite());
    let mut filter = model.filter();
    filter.update(0.0).unwrap();
    let before = filter.clone();
    assert!(filter.update(f64::INFINITY).is_err());
    assert_eq!(filter.probabilities(), before.probabilities());
    assert_eq!(filter.observations(), 1);
}

#[test]
fn invalid_parameters_are_refused() {
    let ok = two_states();
    let cases = [
        (
            GaussianHmm::new(vec![], vec![], vec![], vec![]),
            RegimeError::NoStates,
        ),
        (
            GaussianHmm::new(
                vec![0.5, 0.6],
                vec![vec![1.0, 0.0], vec![0.0, 1.0]],
                vec![0.0, 0.0],
                vec![1.0, 1.0],
            ),
            RegimeError::NotADistribution {
                parameter: "start_probabilities",
                row: 0,
                sum: 1.1,
            },
        ),
        (
            GaussianHmm::new(
                vec![0.5, 0.5],
                vec![vec![1.0, 0.0], vec![0.0, 1.0]],
                vec![0.0, 0.0],
                vec![1.0, 0.0],
            ),
            RegimeError::InvalidVariance {
                state: 1,
                variance: 0.0,
            },
        ),
        (
            GaussianHmm::new(
                vec![0.5, 0.5],
                vec![vec![1.0, 0.0]],
                vec![0.0, 0.0],
                vec![1.0, 1.0],
            ),
            RegimeError::WrongLength {
                parameter: "transition",
                expected: 2,
                found: 1,
            },
        ),
    ];
    for (result, expected) in cases {
        match (result, &expected) {
            (
                Err(RegimeError::NotADistribution {
                    parameter,
                    row,
                    sum,
                }),
                RegimeError::NotADistribution {
                    parameter: p,
                    row: r,
                    sum: s,
                },
            ) => {
                assert_eq!((parameter, row), (*p, *r));
                assert!((sum - s).abs() < 1e-12);
            }
            (result, expected) => assert_eq!(result.unwrap_err(), *expected),
        }
    }
    assert_eq!(ok.log_likelihood(&[]), Err(RegimeError::NoObservations));
    assert!(matches!(
        ok.posteriors(&[1.0, f64::NAN]),
        Err(RegimeError::NonFiniteObservation { index: 1, .. })
    ));
}

#[test]
fn ordering_by_mean_relabels_every_parameter_consistently() {
    let model = random_model(3, 11);
    let ordered = model.ordered_by_mean();
    assert!(ordered.means().windows(2).all(|pair| pair[0] <= pair[1]));
    // The same distribution over series: likelihoods agree, and each relabelled state's
    // smoothed probability is the original state's.
    let x = [0.3, -1.2, 2.5, 0.0, 4.1, 1.7];
    let before = model.posteriors(&x).unwrap();
    let after = ordered.posteriors(&x).unwrap();
    assert!((before.log_likelihood() - after.log_likelihood()).abs() < 1e-12);
    for (new, mean) in ordered.means().iter().enumerate() {
        let old = model.means().iter().position(|m| m == mean).unwrap();
        for t in 0..x.len() {
            assert!((before.at(t)[old] - after.at(t)[new]).abs() < 1e-12);
        }
        assert_eq!(ordered.variances()[new], model.variances()[old]);
        assert_eq!(
            ordered.start_probabilities()[new],
            model.start_probabilities()[old]
        );
    }
    // Already ordered: unchanged.
    assert_eq!(ordered.ordered_by_mean(), ordered);
}
