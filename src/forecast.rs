//! `gridflow train` and `gridflow eval`: the day-ahead price forecaster of `gridflow-forecast`
//! on EPF benchmark files.

use std::path::{Path, PathBuf};

use crate::lake_history::LakeSeries;
use anyhow::{Context, Result};
use gridflow_forecast::evaluate::evaluate_with_lear;
use gridflow_forecast::lear::LearConfig;
use gridflow_forecast::{
    DeviceChoice, EpfDataset, TrainConfig, TrainedModel, evaluate, evaluate_walk_forward, train,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Networks trained without `--config` or `--ensemble`: the size the benchmark results in
/// docs/forecasting.md were measured with.
const DEFAULT_ENSEMBLE: usize = 4;

/// How to train, shared by `gridflow train` and `gridflow eval`.
#[derive(clap::Args, Debug)]
pub(crate) struct TrainingArgs {
    /// EPF CSV: `Date, Price, exog1, exog2`, hourly, whole days.
    #[arg(long, required_unless_present = "lake")]
    pub(crate) epf: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) lake: LakeSeries,
    /// Training configuration as JSON (`TrainConfig`; missing fields keep defaults).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Networks in the ensemble (overrides the configuration; without `--config`, 4).
    #[arg(long)]
    pub(crate) ensemble: Option<usize>,
    /// Hours per token of the ensemble's members in turn, for example `24,6`: members
    /// that cut the week differently err differently (overrides the configuration's
    /// `member_patch_hours`).
    #[arg(long, value_delimiter = ',')]
    pub(crate) member_patch_hours: Option<Vec<usize>>,
    /// Stop training after this many seconds (the best epochs so far are kept).
    #[arg(long)]
    pub(crate) budget: Option<f64>,
    /// cpu, cuda or wgpu; a GPU this build or machine lacks falls back to the CPU.
    #[arg(long, default_value = "cpu")]
    pub(crate) device: String,
    /// Hours forecast from each issue time: 24 (the next day, the benchmark), 1 to 23 (issued
    /// every that many hours) or whole days up to 168.
    #[arg(long)]
    pub(crate) horizon: Option<usize>,
    /// Train a prices-only model (no exogenous series): the streaming `forecast` operator
    /// runs it on any hourly price series, without load or wind forecasts.
    #[arg(long)]
    pub(crate) prices_only: bool,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
}

/// LEAR beside the networks, for `gridflow eval`.
#[derive(clap::Args, Debug)]
pub(crate) struct LearArgs {
    /// Evaluate the networks alone. By default a day-ahead model's forecasts are blended
    /// with LEAR's (the benchmark's Lasso model, recalibrated every day), LEAR's share
    /// chosen on the validation period; walk-forward runs (`--retrain-every`) and other
    /// horizons always evaluate the networks alone.
    #[arg(long)]
    pub(crate) no_lear: bool,
    /// LEAR's calibration windows in days, one model each, averaged.
    #[arg(long, value_delimiter = ',', default_value = "56,84,1092,1456")]
    pub(crate) lear_windows: Vec<usize>,
}

/// Trains on the file's training period and saves the model in `folder`.
pub(crate) fn train_command(training: &TrainingArgs, folder: &Path) -> Result<()> {
    let (data, model) = train_model(training)?;
    model
        .save(folder)
        .with_context(|| format!("saving the model to {}", folder.display()))?;
    println!("{}; saved to {}", trained(&data, &model), folder.display());
    Ok(())
}

/// One line on what training did.
fn trained(data: &EpfDataset, model: &TrainedModel) -> String {
    let report = &model.meta().report;
    format!(
        "{}: trained {} network(s), {} parameters, in {:.1}s on {}; validation rMAE {:.3}",
        data.name(),
        report.members.len(),
        report.parameters,
        report.seconds,
        report.device,
        report.validation_rmae,
    )
}

/// The training configuration the options describe.
fn config_of(request: &TrainingArgs) -> Result<TrainConfig> {
    let device: DeviceChoice = request.device.parse()?;
    let mut config: TrainConfig = match &request.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => TrainConfig {
            ensemble: DEFAULT_ENSEMBLE,
            ..TrainConfig::default()
        },
    };
    if let Some(ensemble) = request.ensemble {
        config.ensemble = ensemble;
    }
    if let Some(patch_hours) = &request.member_patch_hours {
        config.member_patch_hours = patch_hours.clone();
    }
    if request.budget.is_some() {
        config.time_budget_secs = request.budget;
    }
    config.device = device;
    if request.prices_only || (request.lake.lake.is_some() && !request.lake.has_exogenous()) {
        config.model.exogenous = false;
    }
    if let Some(horizon) = request.horizon {
        config.model.horizon_hours = horizon;
    }
    Ok(config)
}

/// Reads the file and trains on its training period, with a progress bar.
fn train_model(request: &TrainingArgs) -> Result<(EpfDataset, TrainedModel)> {
    let data = read(request)?;
    let config = config_of(request)?;
    let bar = progress_bar(
        Some((config.max_epochs * config.ensemble) as u64),
        "{spinner} [{elapsed_precise}] {wide_bar} {msg}",
        request.no_progress,
    );
    let model = train(&config, &data, |e| {
        bar.set_position((e.member * e.max_epochs + e.epoch) as u64);
        bar.set_message(format!(
            "member {}/{} epoch {} train NLL {:.3} validation rMAE {:.3} (best epoch {})",
            e.member + 1,
            e.members,
            e.epoch,
            e.train_loss,
            e.validation_rmae,
            e.best_epoch
        ));
    })
    .context("training")?;
    bar.finish_and_clear();
    Ok((data, model))
}

/// Forecasts the test period, prints the metrics and writes `forecasts-<dataset>.csv`: with
/// the saved `model`, or, without one, after training on the file's training period first
/// (the whole benchmark in one command).
pub(crate) fn eval_command(
    training: &TrainingArgs,
    model: Option<&Path>,
    retrain_every: Option<usize>,
    lear: &LearArgs,
    out: &Path,
) -> Result<()> {
    if let Some(days) = retrain_every {
        let data = read(training)?;
        let config = config_of(training)?;
        let evaluation = evaluate_walk_forward(&config, &data, days, |block, model| {
            println!("from day {block}: {}", trained(&data, model));
        })
        .context("evaluating with retraining")?;
        return report(&data, &evaluation, out);
    }
    let (data, model) = match model {
        Some(folder) => {
            let data = read(training)?;
            let model = TrainedModel::load(folder, training.device.parse()?)
                .with_context(|| format!("loading the model from {}", folder.display()))?;
            (data, model)
        }
        None => {
            let (data, model) = train_model(training)?;
            println!("{}", trained(&data, &model));
            (data, model)
        }
    };
    if !lear.no_lear && model.horizon_hours() == gridflow_forecast::data::HOURS_PER_DAY {
        return eval_with_lear(&data, &model, lear, out, training.no_progress);
    }
    let evaluation = evaluate(&model, &data).context("evaluating")?;
    report(&data, &evaluation, out)
}

/// Forecasts with LEAR, prints what the networks and LEAR do alone, and reports the blend.
fn eval_with_lear(
    data: &EpfDataset,
    model: &TrainedModel,
    lear: &LearArgs,
    out: &Path,
    no_progress: bool,
) -> Result<()> {
    let config = LearConfig {
        windows: lear.lear_windows.clone(),
    };
    let bar = progress_bar(
        None,
        "{spinner} [{elapsed_precise}] LEAR {pos}/{len} days {wide_bar}",
        no_progress,
    );
    let started = std::time::Instant::now();
    let (evaluation, lear_report) = evaluate_with_lear(model, data, &config, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .context("evaluating with LEAR")?;
    bar.finish_and_clear();
    println!(
        "{}: networks alone: {}",
        data.name(),
        lear_report.networks.metrics
    );
    println!(
        "{}: LEAR (windows {:?} days, recalibrated daily) alone: rMAE {:.3}; {} days in {:.1}s",
        data.name(),
        config.windows,
        lear_report.lear_test_rmae,
        lear_report.lear.days.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "{}: LEAR's share {:.2}, chosen on the validation period (rMAE {:.3} networks alone, {:.3} blended)",
        data.name(),
        lear_report.weight,
        lear_report.validation_rmae.0,
        lear_report.validation_rmae.1
    );
    let path = out.join(format!("forecasts-{}-lear.csv", data.name()));
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    lear_report
        .lear
        .write_csv(std::io::BufWriter::new(file), data, evaluation.days.clone())
        .with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {} (LEAR alone)", path.display());
    report(data, &evaluation, out)
}

/// Prints the metrics and writes the forecasts file.
fn report(data: &EpfDataset, evaluation: &gridflow_forecast::Evaluation, out: &Path) -> Result<()> {
    println!("{}: {}", data.name(), evaluation.metrics);
    let path = evaluation.write_csv(out)?;
    println!(
        "wrote {} ({} rows)",
        path.display(),
        evaluation.forecasts.len()
    );
    Ok(())
}

/// A progress bar on standard error with `template`, or a hidden one.
fn progress_bar(length: Option<u64>, template: &str, hidden: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        length,
        if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The history: the EPF file, or the series of the lake.
fn read(request: &TrainingArgs) -> Result<EpfDataset> {
    match (&request.epf, &request.lake.lake) {
        (Some(epf), _) => {
            EpfDataset::from_csv(epf).with_context(|| format!("reading {}", epf.display()))
        }
        (None, Some(lake)) => request
            .lake
            .read(lake)
            .with_context(|| format!("reading the lake {}", lake.display())),
        (None, None) => anyhow::bail!("--epf or --lake is needed"),
    }
}
