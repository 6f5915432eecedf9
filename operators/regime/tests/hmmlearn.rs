//! gridflow-regime against hmmlearn's GaussianHMM.
//!
//! `tests/fixtures/*.json` are hmmlearn's output written by `scripts/hmm-reference`; the
//! first tests read them and need no Python. The last one runs the script afresh with the
//! project's `.venv` (made by `scripts/setup-python`, which `scripts/test` runs first) and
//! compares its every row too.

use std::path::{Path, PathBuf};

use gridflow_regime::{FitOptions, GaussianHmm, Priors};
use serde_json::Value;

/// Fixed parameters: score, posteriors and the Viterbi log-probability agree to this.
const EXACT: f64 = 1e-6;
/// Baum–Welch: log-likelihood history and final score agree to this.
const FIT: f64 = 1e-4;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

fn model(value: &Value) -> GaussianHmm {
    let transition = value["transition"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    GaussianHmm::new(
        floats(&value["start_probabilities"]),
        transition,
        floats(&value["means"]),
        floats(&value["variances"]),
    )
    .expect("fixture parameters are valid")
}

fn assert_close(what: &str, got: f64, expected: f64, tolerance: f64) -> f64 {
    assert!(
        (got - expected).abs() <= tolerance,
        "{what}: got {got}, hmmlearn {expected}, difference {:e} > {tolerance:e}",
        (got - expected).abs()
    );
    (got - expected).abs()
}

/// Every check of one case; returns how many values were compared.
fn check_case(case: &Value) -> usize {
    let name = case["case"].as_str().unwrap();
    let observations = floats(&case["observations"]);
    let fixed = model(&case["model"]);
    let mut compared = 0;
    // The largest differences seen: score, posterior, fit history, fitted parameter.
    let mut worst = [0.0f64; 4];

    let score = fixed.log_likelihood(&observations).unwrap();
    worst[0] = assert_close(
        &format!("{name} score"),
        score,
        case["score"].as_f64().unwrap(),
        EXACT,
    );

    let mut filter = fixed.filter();
    for x in &observations {
        filter.update(*x).unwrap();
    }
    assert_close(
        &format!("{name} online filter log-likelihood"),
        filter.log_likelihood(),
        case["score"].as_f64().unwrap(),
        EXACT,
    );

    let posteriors = fixed.posteriors(&observations).unwrap();
    let rows = case["posteriors"]["rows"].as_array().unwrap();
    let values = case["posteriors"]["values"].as_array().unwrap();
    for (row, expected) in rows.iter().zip(values) {
        let t = row.as_u64().unwrap() as usize;
        for (k, (got, expected)) in posteriors.at(t).iter().zip(floats(expected)).enumerate() {
            let difference = assert_close(
                &format!("{name} posterior[{t}][{k}]"),
                *got,
                expected,
                EXACT,
            );
            worst[1] = worst[1].max(difference);
            compared += 1;
        }
    }

    let viterbi = fixed.viterbi(&observations).unwrap();
    let expected_path: Vec<usize> = case["viterbi"]["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(viterbi.states, expected_path, "{name} Viterbi path");
    assert_close(
        &format!("{name} Viterbi log-probability"),
        viterbi.log_probability,
        case["viterbi"]["log_probability"].as_f64().unwrap(),
        EXACT,
    );
    compared += expected_path.len() + 2;

    let fit = &case["fit"];
    let options = FitOptions {
        max_iterations: fit["max_iterations"].as_u64().unwrap() as usize,
        tolerance: fit["tolerance"].as_f64().unwrap(),
        priors: Priors::default(),
    };
    let fitted = model(&fit["start"]).fit(&observations, &options).unwrap();
    let history = floats(&fit["history"]);
    assert_eq!(
        fitted.log_likelihood_history.len(),
        history.len(),
        "{name}: Baum–Welch iterations (hmmlearn {history:?})"
    );
    for (n, (got, expected)) in fitted
        .log_likelihood_history
        .iter()
        .zip(&history)
        .enumerate()
    {
        let difference = assert_close(&format!("{name} fit history[{n}]"), *got, *expected, FIT);
        worst[2] = worst[2].max(difference);
    }
    assert_close(
        &format!("{name} fitted score"),
        fitted.log_likelihood,
        fit["score"].as_f64().unwrap(),
        FIT,
    );
    let expected = model(&fit["model"]);
    let pairs = [
        (
            "start",
            fitted.model.start_probabilities(),
            expected.start_probabilities(),
        ),
        (
            "transition",
            fitted.model.transition(),
            expected.transition(),
        ),
        ("means", fitted.model.means(), expected.means()),
        ("variances", fitted.model.variances(), expected.variances()),
    ];
    for (parameter, got, expected) in pairs {
        for (i, (g, e)) in got.iter().zip(expected).enumerate() {
            let tolerance = FIT * e.abs().max(1.0);
            let difference = assert_close(
                &format!("{name} fitted {parameter}[{i}]"),
                *g,
                *e,
                tolerance,
            );
            worst[3] = worst[3].max(difference / e.abs().max(1.0));
        }
    }
    eprintln!(
        "{name}: largest differences: score {:.1e}, posterior {:.1e}, fit history {:.1e}, \
         fitted parameter (relative) {:.1e}",
        worst[0], worst[1], worst[2], worst[3]
    );
    compared + history.len() + 1
}

fn cases_in(folder: &Path) -> Vec<Value> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
        .collect()
}

#[test]
fn committed_fixtures_match() {
    let cases = cases_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    let names: Vec<&str> = cases.iter().map(|c| c["case"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "k2_calm_volatile",
            "k3_levels",
            "k3_spiky_prices_long",
            "k4_overlapping"
        ]
    );
    for case in &cases {
        check_case(case);
    }
}

#[test]
fn the_long_case_is_long_and_spiky() {
    let cases = cases_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"));
    let long = cases
        .iter()
        .find(|c| c["case"] == "k3_spiky_prices_long")
        .unwrap();
    let observations = floats(&long["observations"]);
    assert_eq!(observations.len(), 5_000);
    assert!(observations.iter().any(|x| *x < 0.0));
    assert!(observations.iter().any(|x| *x > 1_000.0));
    // Far below f64's smallest positive number: unscaled recursions would underflow.
    assert!(long["score"].as_f64().unwrap() < -745.0);
}

/// The project's Python (`.venv`, made by `scripts/setup-python`), or $GRIDFLOW_PYTHON.
fn python() -> PathBuf {
    if let Ok(python) = std::env::var("GRIDFLOW_PYTHON") {
        return PathBuf::from(python);
    }
    let venv = repository().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/setup-python (scripts/test does), which installs hmmlearn",
        venv.display()
    );
    venv
}

#[test]
fn fresh_hmmlearn_output_matches_every_row() {
    let python = python();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hmm-reference");
    let _ = std::fs::remove_dir_all(&out);
    let output = std::process::Command::new(&python)
        .arg(repository().join("scripts/hmm-reference"))
        .arg("--out")
        .arg(&out)
        .arg("--all-rows")
        .output()
        .unwrap_or_else(|error| panic!("{}: {error}", python.display()));
    assert!(
        output.status.success(),
        "scripts/hmm-reference failed (run scripts/setup-python?):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cases = cases_in(&out);
    assert_eq!(cases.len(), 4);
    let compared: usize = cases.iter().map(check_case).sum();
    // Every posterior row of every case (250·2 + 800·3 + 5000·3 + 500·4) was compared.
    assert!(compared > 19_900, "only {compared} values compared");
}
