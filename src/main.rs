//! The `gridflow` command: run, validate and draw pipeline files; train and evaluate the
//! price forecaster.

mod bench;
mod forecast;
mod lake_history;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use gridflow_engine::Registry;
use gridflow_engine::metrics::{Metrics, Role};
use gridflow_engine::pipeline::{self, Plan};
use gridflow_engine::runtime::{self, RunOptions};

/// Stream processing for energy markets: pipeline files in, a Parquet lake out.
#[derive(Parser, Debug)]
#[command(name = "gridflow", version, about)]
struct Cli {
    /// Log level for messages on stderr: error, warn, info, debug, trace.
    #[arg(long, global = true, default_value = "warn")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a pipeline until its sources are exhausted (or Ctrl-C), then print a summary.
    Run {
        /// The pipeline file.
        file: PathBuf,
        /// Worker threads; records are exchanged between them by (market, location).
        #[arg(long, short = 'w', default_value_t = 1)]
        workers: usize,
        /// Do not draw the progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Check a pipeline file and print every mistake with file:line:col.
    Validate {
        /// The pipeline file.
        file: PathBuf,
    },
    /// Print the pipeline graph.
    Graph {
        /// The pipeline file.
        file: PathBuf,
        /// Output form.
        #[arg(long, value_enum, default_value_t = GraphFormat::Both)]
        format: GraphFormat,
    },
    /// List the source, operator and sink kinds this binary knows.
    Kinds,
    /// Measure throughput and peak memory on synthetic ticks (run from the repository root).
    Bench {
        /// Pricing nodes.
        #[arg(long, default_value_t = 20_000)]
        nodes: u32,
        /// 5-minute intervals per node.
        #[arg(long, default_value_t = 50)]
        intervals: u32,
        /// Runs per case; the table reports the median and the range.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Only the parser throughput table (no end-to-end cases).
        #[arg(long)]
        parsers_only: bool,
        /// Only the regime models' online-update throughput (HMM filter, BOCPD).
        #[arg(long)]
        regimes_only: bool,
        /// Only the forecaster's inference throughput per batch size (1, 64, 1,024, 21,000
        /// series) against a plain matrix product on the same device.
        #[arg(long)]
        forecast_only: bool,
        /// With `--forecast-only`: cpu, cuda or wgpu; a GPU this build or machine lacks
        /// falls back to the CPU.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// With `--parsers-only`: only this format's rows, e.g. `--format miso_lmp`.
        #[arg(long)]
        format: Option<String>,
        /// Scratch directory (default: a new one under the system temp dir, removed after).
        #[arg(long)]
        work: Option<PathBuf>,
    },
    /// Train the day-ahead price forecaster on an EPF benchmark CSV and save it (see
    /// docs/forecasting.md).
    Train {
        #[command(flatten)]
        training: forecast::TrainingArgs,
        /// Folder to save the model in (`weights-<k>.bpk`, `model.json`).
        #[arg(long, default_value = "model")]
        model: PathBuf,
    },
    /// Run the EPF benchmark on a CSV: train on its training period (or load `--model`),
    /// forecast every test day (blended with LEAR and the DNN, recalibrated as they go,
    /// unless `--no-lear` and `--no-dnn`), print the metrics and write
    /// `forecasts-<dataset>.csv`.
    Eval {
        #[command(flatten)]
        training: forecast::TrainingArgs,
        /// Folder of a saved model (`gridflow train`); without it the model is trained first.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Retrain every this many test days on the days before them (walk-forward), instead
        /// of training once before the test period.
        #[arg(long, conflicts_with = "model")]
        retrain_every: Option<usize>,
        #[command(flatten)]
        blend: forecast::BlendArgs,
        /// Folder for `forecasts-<dataset>.csv`.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GraphFormat {
    /// Readable text.
    Text,
    /// Graphviz DOT.
    Dot,
    /// Text, then DOT.
    Both,
}

/// Loads a pipeline, printing every error; `Ok(None)` when it is invalid.
fn load(file: &PathBuf, registry: &Registry) -> Result<Option<Plan>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    match pipeline::load(&file.display().to_string(), &text, registry) {
        Ok(plan) => Ok(Some(plan)),
        Err(errors) => {
            eprintln!("{errors}");
            Ok(None)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    match execute(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> Result<ExitCode> {
    let registry = gridflow::registry();
    match command {
        Command::Validate { file } => Ok(match load(&file, &registry)? {
            Some(plan) => {
                println!("{}: ok ({} components)", file.display(), plan.nodes.len());
                ExitCode::SUCCESS
            }
            None => ExitCode::from(2),
        }),
        Command::Graph { file, format } => Ok(match load(&file, &registry)? {
            Some(plan) => {
                if matches!(format, GraphFormat::Text | GraphFormat::Both) {
                    print!("{}", plan.to_text());
                }
                if matches!(format, GraphFormat::Both) {
                    println!();
                }
                if matches!(format, GraphFormat::Dot | GraphFormat::Both) {
                    print!("{}", plan.to_dot());
                }
                ExitCode::SUCCESS
            }
            None => ExitCode::from(2),
        }),
        Command::Kinds => {
            for (role, title) in [
                (Role::Source, "sources"),
                (Role::Operator, "operators"),
                (Role::Sink, "sinks"),
            ] {
                println!("{title}:");
                for (kind, summary) in registry.summaries(role) {
                    println!("  {kind:<12} {summary}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            nodes,
            intervals,
            repeat,
            parsers_only,
            regimes_only,
            forecast_only,
            device,
            format,
            work,
        } => {
            if forecast_only {
                bench::forecast_only(&device)?;
            } else if regimes_only {
                bench::regimes_only()?;
            } else if parsers_only {
                bench::parsers_only(format.as_deref())?;
            } else {
                bench::bench(nodes, intervals, repeat, work)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Train { training, model } => {
            forecast::train_command(&training, &model)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            training,
            model,
            retrain_every,
            blend,
            out,
        } => {
            forecast::eval_command(&training, model.as_deref(), retrain_every, &blend, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            file,
            workers,
            no_progress,
        } => {
            let Some(plan) = load(&file, &registry)? else {
                return Ok(ExitCode::from(2));
            };
            run(plan, workers, no_progress)
        }
    }
}

fn run(plan: Plan, workers: usize, no_progress: bool) -> Result<ExitCode> {
    let plan = Arc::new(plan);
    let metrics = Arc::new(Metrics::new(
        plan.nodes.iter().map(|node| (node.role, node.name.clone())),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = stop.clone();
    ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C means now.
            std::process::exit(130);
        }
        eprintln!("stopping: flushing sinks (Ctrl-C again to abort)");
    })
    .context("installing the Ctrl-C handler")?;

    tracing::info!(pipeline = %plan.path, workers, "starting");
    let started = Instant::now();
    let options = RunOptions {
        workers,
        stop: stop.clone(),
    };
    let worker_plan = plan.clone();
    let worker_metrics = metrics.clone();
    // The runtime thread says when it ends, so the wall time (and the exit) is not rounded
    // up to the progress bar's refresh interval.
    let (finished, ended) = std::sync::mpsc::channel::<()>();
    let handle = std::thread::spawn(move || {
        let result = runtime::run(worker_plan, worker_metrics, options);
        let _ = finished.send(());
        result
    });
    let progress = summary::Progress::new(no_progress);
    loop {
        progress.update(&metrics, started.elapsed());
        match ended.recv_timeout(Duration::from_millis(100)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            // Ended, or panicked (the sender was dropped): join says which.
            Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let elapsed = started.elapsed();
    progress.finish();
    let result = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the runtime thread panicked"))?;
    result.context("running the pipeline")?;
    print!(
        "{}",
        summary::render(
            &plan,
            &metrics,
            workers,
            elapsed,
            stop.load(Ordering::SeqCst)
        )
    );
    // A sink that could not commit rows logged why; the run must not look successful.
    let unwritten = metrics.total(Role::Sink, |counters| &counters.rejected);
    if unwritten > 0 {
        eprintln!("error: {unwritten} rows could not be written by the sinks (see the log above)");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
