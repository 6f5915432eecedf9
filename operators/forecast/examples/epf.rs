//! Trains on an EPF CSV, evaluates on its test period and writes `forecasts-<dataset>.csv`.
//!
//! ```text
//! cargo run --release -p gridflow-forecast --example epf -- [CSV] [--budget SECS]
//!     [--config JSON] [--out DIR] [--model DIR] [--load DIR]
//! ```
//!
//! With no arguments it trains a small model on the bundled 56-day NP slice (test and validation
//! periods: its last 7 days each). `--config` takes a `TrainConfig` as JSON (missing fields keep their
//! defaults), e.g. `--config '{"model":{"d_model":32},"batch_size":64}'`. `--model DIR` saves
//! the trained model; `--load DIR` evaluates a saved one instead of training (with `--config`,
//! only its `interval_window_days` is applied).

use std::time::Instant;

use gridflow_forecast::{
    DeviceChoice, EpfDataset, SplitConfig, TrainConfig, TrainedModel, evaluate, train,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut csv = None;
    let mut budget = None;
    let mut config_json = None;
    let mut out = std::path::PathBuf::from(".");
    let mut model_dir = None;
    let mut load = None;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--budget" => budget = Some(value()?.parse::<f64>()?),
            "--config" => config_json = Some(value()?),
            "--out" => out = value()?.into(),
            "--model" => model_dir = Some(value()?),
            "--load" => load = Some(value()?),
            _ if !arg.starts_with("--") => csv = Some(arg),
            _ => return Err(format!("unknown option {arg}").into()),
        }
    }
    let bundled = csv.is_none();
    let csv = csv.unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/NP-2013-slice.csv").to_owned()
    });
    let data = EpfDataset::from_csv(&csv)?;
    let mut config: TrainConfig = match &config_json {
        Some(json) => serde_json::from_str(json)?,
        None => TrainConfig::default(),
    };
    if bundled && config_json.is_none() {
        config.split = SplitConfig {
            test_days: 7,
            validation_days: 7,
        };
        config.max_epochs = 30;
    }
    if budget.is_some() {
        config.time_budget_secs = budget;
    }
    eprintln!(
        "{}: {} days; config {}",
        data.name(),
        data.days(),
        serde_json::to_string(&config)?
    );
    if let Some(dir) = &load {
        let mut model = TrainedModel::load(dir, DeviceChoice::Cpu)?;
        if let Some(json) = &config_json {
            // Evaluation-time settings only (interval recalibration window).
            let overrides: TrainConfig = serde_json::from_str(json)?;
            model.set_interval_window_days(overrides.interval_window_days);
        }
        let evaluation = evaluate(&model, &data)?;
        println!("{}: {}", data.name(), evaluation.metrics);
        let path = evaluation.write_csv(&out)?;
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    let started = Instant::now();
    let model = train(&config, &data, |e| {
        eprintln!(
            "member {} epoch {:>3}/{}  train NLL {:>8.4}  valid NLL {:>8.4}  valid rMAE {:.4}  best {:>3}  {:>6.1}s",
            e.member,
            e.epoch,
            e.max_epochs,
            e.train_loss,
            e.validation_loss,
            e.validation_rmae,
            e.best_epoch,
            e.elapsed_secs
        )
    })?;
    let report = &model.meta().report;
    for m in &report.members {
        eprintln!(
            "member seed {}: {} epochs (stopped by {}), best epoch {} (validation rMAE {:.4}), {:.1}s",
            m.seed, m.epochs, m.stopped_by, m.best_epoch, m.best_validation_rmae, m.seconds
        );
    }
    eprintln!(
        "trained in {:.1}s: ensemble of {}, validation rMAE {:.4}, interval scale factor {:.3}, {} parameters",
        started.elapsed().as_secs_f64(),
        report.members.len(),
        report.validation_rmae,
        model.meta().scale_factor,
        report.parameters
    );
    if let Some(dir) = &model_dir {
        model.save(dir)?;
        eprintln!("saved the model to {dir}");
    }
    let started = Instant::now();
    let evaluation = evaluate(&model, &data)?;
    eprintln!("evaluated in {:.1}s", started.elapsed().as_secs_f64());
    println!("{}: {}", data.name(), evaluation.metrics);
    let path = evaluation.write_csv(&out)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}
