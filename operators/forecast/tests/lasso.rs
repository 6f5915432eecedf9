//! The Lasso (`gridflow_forecast::lasso`) against scikit-learn's `Lasso`.
//!
//! `tests/fixtures/lasso.json` is scikit-learn's output written by
//! `scripts/lasso-reference`; the first test reads it and needs no Python. The second runs
//! the script afresh with the project's `.venv` (made by `scripts/setup-python`, which
//! `scripts/test` runs first) and compares against that output too.

mod common;

use std::path::Path;

use common::floats;
use gridflow_forecast::lasso::{Convergence, LassoProblem};
use serde_json::Value;

/// Coefficients agree to this (absolute, or relative above 1).
const EXACT: f64 = 1e-6;

/// Solves every penalty of a case along its path (each warm-started from the previous
/// solution, as LEAR will) and compares; returns the coefficients compared.
fn check_case(name: &str, case: &Value) -> usize {
    let features = case["features"].as_u64().unwrap() as usize;
    let (x, y) = (floats(&case["x"]), floats(&case["y"]));
    assert_eq!(y.len(), case["rows"].as_u64().unwrap() as usize);
    let problem = LassoProblem::from_rows(&x, &y, features);
    let tight = Convergence {
        tolerance: 1e-13,
        max_sweeps: 1_000_000,
    };
    let mut coefficients = vec![0.0; features];
    let mut compared = 0;
    for fit in case["fits"].as_array().unwrap() {
        let alpha = fit["alpha"].as_f64().unwrap();
        let sweeps = problem.solve(alpha, &mut coefficients, tight);
        assert!(
            sweeps < tight.max_sweeps,
            "{name} α {alpha}: no convergence"
        );
        let expected = floats(&fit["coefficients"]);
        for (j, (ours, theirs)) in coefficients.iter().zip(&expected).enumerate() {
            let error = (ours - theirs).abs() / theirs.abs().max(1.0);
            assert!(error < EXACT, "{name} α {alpha} β{j}: {ours} vs {theirs}");
            // The sparsity pattern is the Lasso's point: zero exactly where it is zero.
            assert_eq!(*ours == 0.0, *theirs == 0.0, "{name} α {alpha} β{j}");
            compared += 1;
        }
        let residual: f64 = x
            .chunks(features)
            .zip(&y)
            .map(|(row, t)| {
                let fitted: f64 = row.iter().zip(&coefficients).map(|(a, b)| a * b).sum();
                (t - fitted).powi(2)
            })
            .sum();
        let from_statistics = problem.residual_squares(&coefficients);
        assert!((residual - from_statistics).abs() < 1e-8 * residual.max(1.0));
    }
    compared
}

fn check_file(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let cases: Value = serde_json::from_str(&text).unwrap();
    let tall = check_case("tall", &cases["tall"]);
    let wide = check_case("wide", &cases["wide"]);
    // 5 penalties × (20 + 60) coefficients.
    assert_eq!(tall + wide, 400);
    let wide_fits = cases["wide"]["fits"].as_array().unwrap();
    let active = |fit: &Value| {
        floats(&fit["coefficients"])
            .iter()
            .filter(|b| **b != 0.0)
            .count()
    };
    assert_eq!(active(&wide_fits[0]), 0, "α_max zeroes every coefficient");
    assert!(
        active(&wide_fits[4]) > 10,
        "the smallest penalty keeps many features"
    );
    tall + wide
}

#[test]
fn stored_scikit_learn_solutions_match() {
    check_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lasso.json"));
}

#[test]
fn fresh_scikit_learn_solutions_match() {
    assert_eq!(check_file(&common::fresh_reference("lasso-reference")), 400);
}
