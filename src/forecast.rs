//! `gridflow train` and `gridflow eval`: the day-ahead price forecaster of `gridflow-forecast`
//! on EPF benchmark files.

use std::path::{Path, PathBuf};

use crate::lake_history::LakeSeries;
use anyhow::{Context, Result};
use gridflow_forecast::blend::{Blend, BlendConfig, BlendMember, evaluate_blended};
use gridflow_forecast::dnn::DnnConfig;
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

/// LEAR and the DNN beside the networks, for `gridflow eval`.
#[derive(clap::Args, Debug)]
pub(crate) struct BlendArgs {
    /// Leave LEAR (the benchmark's Lasso model, recalibrated every day) out of the blend.
    /// By default a day-ahead model's forecasts are blended with LEAR's and the DNN's, the
    /// shares chosen on the validation period; walk-forward runs (`--retrain-every`) and
    /// other horizons always evaluate the networks alone.
    #[arg(long)]
    pub(crate) no_lear: bool,
    /// LEAR's calibration windows in days, comma-separated, one model each, averaged.
    #[arg(long, value_delimiter = ',', default_values_t = gridflow_forecast::lear::DEFAULT_WINDOWS)]
    pub(crate) lear_windows: Vec<usize>,
    /// Leave the DNN (the benchmark's fully connected network on LEAR's features) out of
    /// the blend.
    #[arg(long)]
    pub(crate) no_dnn: bool,
    /// Days between the DNN's recalibrations.
    #[arg(long, default_value_t = DnnConfig::default().recalibrate_every_days)]
    pub(crate) dnn_every: usize,
    /// Networks the DNN trains per architecture and recalibration (three architectures:
    /// hidden layers of 256 and 128 without and with dropout, and of 512 and 256), all
    /// averaged.
    #[arg(long, default_value_t = DnnConfig::default().seeds)]
    pub(crate) dnn_seeds: usize,
    /// Keep LEAR's and the DNN's forecasts in this folder, and read them back when the
    /// data, days and settings are the same (evaluating other networks against the same
    /// families in seconds instead of half an hour). Keyed by this release's version, not
    /// by the families' code: clear the folder after changing it.
    #[arg(long)]
    pub(crate) families_cache: Option<std::path::PathBuf>,
    /// Days between choices of the blend's shares during the test period, each on the
    /// validation period and the test days before it (realised prices only); 0 keeps the
    /// shares chosen on the validation period throughout.
    #[arg(long, default_value_t = gridflow_forecast::blend::DEFAULT_SHARES_EVERY_DAYS)]
    pub(crate) shares_every: usize,
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
    blend: &BlendArgs,
    out: &Path,
) -> Result<()> {
    if let Some(days) = retrain_every {
        let data = read(training)?;
        let config = config_of(training)?;
        let evaluation = evaluate_walk_forward(&config, &data, days, |block, model| {
            println!("from day {block}: {}", trained(&data, model));
        })
        .context("evaluating with retraining")?;
        return report_metrics(&data, &evaluation, out);
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
    let day_ahead = model.horizon_hours() == gridflow_forecast::data::HOURS_PER_DAY;
    if day_ahead && !(blend.no_lear && blend.no_dnn) {
        return eval_blended(&data, &model, blend, out, training.no_progress);
    }
    let evaluation = evaluate(&model, &data).context("evaluating")?;
    report_metrics(&data, &evaluation, out)
}

/// Forecasts with LEAR and the DNN, prints what each family does alone, writes their
/// forecasts, and reports the blend.
fn eval_blended(
    data: &EpfDataset,
    model: &TrainedModel,
    args: &BlendArgs,
    out: &Path,
    no_progress: bool,
) -> Result<()> {
    let config = BlendConfig {
        lear: (!args.no_lear).then(|| LearConfig {
            windows: args.lear_windows.clone(),
        }),
        dnn: (!args.no_dnn).then(|| DnnConfig {
            recalibrate_every_days: args.dnn_every,
            seeds: args.dnn_seeds,
            ..DnnConfig::default()
        }),
        cache_folder: args.families_cache.clone(),
        shares_every_days: args.shares_every,
    };
    let bar = progress_bar(
        None,
        "{spinner} [{elapsed_precise}] {msg} {pos}/{len} days {wide_bar}",
        no_progress,
    );
    let (evaluation, report) = evaluate_blended(model, data, &config, |name, done, total| {
        bar.set_message(name.to_owned());
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .context("evaluating the blend")?;
    bar.finish_and_clear();
    let name = data.name();
    println!("{name}: networks alone: {}", report.networks.metrics);
    for (((member, rmae), seconds), cached) in report
        .blend
        .members
        .iter()
        .zip(&report.member_test_rmae)
        .zip(&report.member_seconds)
        .zip(&report.member_from_cache)
    {
        let how = match member.name.as_str() {
            "lear" => format!(
                "LEAR (windows {:?} days, recalibrated daily)",
                args.lear_windows
            ),
            _ => format!(
                "DNN ({} networks, recalibrated every {} days)",
                args.dnn_seeds * DnnConfig::default().architectures.len(),
                args.dnn_every
            ),
        };
        println!(
            "{name}: {how} alone: rMAE {rmae:.3}; {} days in {seconds:.1}s{}",
            member.forecasts.days.len(),
            if *cached {
                " (read from the cache)"
            } else {
                ""
            }
        );
        let path = out.join(format!("forecasts-{name}-{}.csv", member.name));
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        member
            .forecasts
            .write_csv(std::io::BufWriter::new(file), data, evaluation.days.clone())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({} alone)", path.display(), member.name);
    }
    if !report.blocks_tried.is_empty() {
        let tried: Vec<String> = report
            .blocks_tried
            .iter()
            .map(|(blocks, rmae)| format!("{blocks}: {rmae:.4}"))
            .collect();
        println!(
            "{name}: blocks of hours with their own shares, cross-validated rMAE on the \
             validation period: {}",
            tried.join(", ")
        );
    }
    println!(
        "{name}: shares {}, chosen on the validation period (rMAE {:.3} networks alone, {:.3} blended)",
        describe_shares(&report.blend, |m| &m.weights),
        report.validation_rmae.0,
        report.validation_rmae.1
    );
    let rechosen = report
        .blend
        .members
        .first()
        .map_or(&[][..], |m| &m.rechosen);
    if let Some((last_day, _)) = rechosen.last() {
        println!(
            "{name}: shares chosen again before each of {} test days ({}) on the validation \
             period and the test days before it; the last, from {}: {}",
            rechosen.len(),
            match args.shares_every {
                1 => "every day".to_owned(),
                days => format!("every {days} days"),
            },
            data.timestamps()[last_day * gridflow_forecast::data::HOURS_PER_DAY],
            describe_shares(&report.blend, |m| &m.rechosen[rechosen.len() - 1].1)
        );
    }
    report_metrics(data, &evaluation, out)
}

/// Each member's share (`weights` of it), per block of hours when there is more than one:
/// `lear 0.30, dnn 0.25` or `hours 0-7: lear 0.30, dnn 0.25; hours 8-15: …`.
fn describe_shares(blend: &Blend, weights: impl Fn(&BlendMember) -> &[f64]) -> String {
    let blocks = blend.members.first().map_or(1, |m| weights(m).len());
    let block = |b: usize| -> String {
        let shares: Vec<String> = blend
            .members
            .iter()
            .map(|m| format!("{} {:.2}", m.name, weights(m)[b]))
            .collect();
        shares.join(", ")
    };
    if blocks == 1 {
        return block(0);
    }
    let hours = 24 / blocks;
    let described: Vec<String> = (0..blocks)
        .map(|b| format!("hours {}-{}: {}", b * hours, (b + 1) * hours - 1, block(b)))
        .collect();
    described.join("; ")
}

/// Prints the metrics and writes the forecasts file.
fn report_metrics(
    data: &EpfDataset,
    evaluation: &gridflow_forecast::Evaluation,
    out: &Path,
) -> Result<()> {
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
