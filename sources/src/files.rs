//! The `files` source: reads every file a glob matches, in one native format.
//!
//! ```toml
//! [sources.spp_rt]
//! kind = "files"
//! format = "spp_lmp"
//! path = "data/spp/RTBM-LMP-SL-*.csv"
//! mode = "replay"
//! speed = 300.0
//! ```
//!
//! In backfill, files are sorted by path and dealt to workers round-robin (worker `i` of `n`
//! reads the files whose index is `i` modulo `n`), so each file is parsed once, by one
//! worker. In replay, worker 0 reads every file, so that one event-time clock paces them
//! all; records still spread over workers downstream by (market, location). A file
//! that cannot be read or that its format refuses as a whole becomes one reject at line 0
//! and the source goes on with the next file.

mod replay;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gridflow_engine::Spanned;
use gridflow_engine::component::{
    BuildContext, SourceError, SourceKind, SourceOutput, SourcePlan, SourceReader, SourceStatus,
};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::pipeline::{ComponentConfig, ConfigError, closest};
use gridflow_engine::record::{Observation, Origin, Product, Reject};
use serde::Deserialize;

use crate::formats::{FORMAT_NAMES, Format, FormatLookupError, FormatOptions, format_by_name};
use replay::Replay;

/// The `kind = "files"` source kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct FilesKind;

/// How fast a files source emits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// As fast as possible, file by file (the default).
    #[default]
    Backfill,
    /// In event-time order, paced so that event time runs `speed` times faster than wall
    /// time.
    Replay,
}

/// The `[sources.NAME]` table of a `files` source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// The files' native format: one of `spp_lmp`, `nordpool_v2`, `entsoe_a44`,
    /// `nyiso_lbmp`, `ecb_fx`, `caiso_oasis`, `eia_spot_csv`, `eia_api_v2`, `gas_basis_csv`,
    /// `investing_eua_csv`, `eex_eua_auction`. Example: `format = "spp_lmp"`.
    pub format: Spanned<String>,
    /// A glob relative to the current working directory; it must match at least one file.
    /// Example: `path = "data/spp/RTBM-LMP-SL-*.csv"`.
    pub path: Spanned<String>,
    /// `"backfill"` (default: as fast as possible) or `"replay"` (event time scaled to wall
    /// time by `speed`). Example: `mode = "replay"`.
    #[serde(default)]
    pub mode: Mode,
    /// Replay only: event seconds per wall-clock second, greater than 0 (default 60: an
    /// hour of prices in a minute). Example: `speed = 300.0`.
    #[serde(default)]
    pub speed: Option<f64>,
    /// Overrides the product the format infers (from file names, market run or interval
    /// length). Example: `product = "REAL_TIME_5_MIN"`.
    #[serde(default)]
    pub product: Option<Spanned<String>>,
    /// Most observations emitted per poll (default 65536). Example: `batch_size = 10000`.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

/// Replay speed when none is given.
pub const DEFAULT_SPEED: f64 = 60.0;

/// Observations per poll when no `batch_size` is given.
pub const DEFAULT_BATCH_SIZE: usize = 65_536;

fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}

impl FilesConfig {
    /// A backfill configuration with defaults, for building a plan without a pipeline file.
    pub fn new(format: &str, path: &str) -> Self {
        FilesConfig {
            format: Spanned::new(0..0, format.to_string()),
            path: Spanned::new(0..0, path.to_string()),
            mode: Mode::Backfill,
            speed: None,
            product: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

/// A mistake in a [`FilesConfig`], naming the field to fix.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FilesConfigError {
    /// The field (`format`, `path`, `speed`, ...).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something specific to say.
    pub help: Option<String>,
}

impl FilesConfigError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        FilesConfigError {
            field,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// A validated `files` source: the format and the files the glob matched.
pub struct FilesPlan {
    format: Arc<dyn Format>,
    pattern: String,
    files: Vec<PathBuf>,
    mode: Mode,
    speed: f64,
    batch_size: usize,
}

impl FilesPlan {
    /// Validates `config` and expands its glob (relative to the working directory).
    pub fn new(config: &FilesConfig) -> Result<FilesPlan, Vec<FilesConfigError>> {
        let mut errors = Vec::new();
        let format = resolve_format(
            config.format.get_ref(),
            config
                .product
                .as_ref()
                .map(|product| product.get_ref().as_str()),
            &mut errors,
        );
        let speed = match (config.mode, config.speed) {
            (Mode::Backfill, Some(_)) => {
                errors.push(
                    FilesConfigError::new("speed", "`speed` only applies to mode = \"replay\"")
                        .with_help("remove `speed`, or set mode = \"replay\""),
                );
                DEFAULT_SPEED
            }
            (_, Some(speed)) if !(speed > 0.0 && speed.is_finite()) => {
                errors.push(FilesConfigError::new(
                    "speed",
                    format!("speed must be a finite number greater than 0, found {speed}"),
                ));
                DEFAULT_SPEED
            }
            (_, speed) => speed.unwrap_or(DEFAULT_SPEED),
        };
        if config.batch_size == 0 {
            errors.push(FilesConfigError::new(
                "batch_size",
                "batch_size must be at least 1",
            ));
        }
        let files = match expand(config.path.get_ref()) {
            Ok(files) => files,
            Err(error) => {
                errors.push(error);
                Vec::new()
            }
        };
        match format {
            Some(format) if errors.is_empty() => Ok(FilesPlan {
                format,
                pattern: config.path.get_ref().clone(),
                files,
                mode: config.mode,
                speed,
                batch_size: config.batch_size,
            }),
            _ => Err(errors),
        }
    }

    /// The matched files, sorted.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

fn file_reject(source: &Arc<str>, file: &Arc<str>, raw: &str, reason: String) -> Reject {
    let origin = Origin {
        source: source.clone(),
        file: file.clone(),
        line: 0,
    };
    Reject::new(origin, "parse", raw, reason)
}

/// The bytes of `path`, or a reject at line 0 in `out` when it cannot be read.
pub(crate) fn read_file(source: &Arc<str>, path: &Path, out: &mut SourceOutput) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            out.bytes += bytes.len() as u64;
            Some(bytes)
        }
        Err(error) => {
            let file: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
            tracing::warn!(source = %source, file = %file, %error, "cannot read file");
            out.rejects.push(file_reject(
                source,
                &file,
                "",
                format!("cannot read the file: {error}"),
            ));
            None
        }
    }
}

/// Parses one file's `bytes` into `out`; a file the format refuses as a whole leaves only
/// its one reject at line 0, not half its rows.
pub(crate) fn parse_file(
    format: &dyn Format,
    source: &Arc<str>,
    path: &Path,
    bytes: &[u8],
    out: &mut SourceOutput,
) {
    let file: Arc<str> = Arc::from(path.to_string_lossy().as_ref());
    let (observations, rejects) = (out.observations.len(), out.rejects.len());
    match format.parse(bytes, &file, source, out) {
        Ok(()) => {
            tracing::debug!(
                source = %source,
                file = %file,
                observations = out.observations.len() - observations,
                rejects = out.rejects.len() - rejects,
                "file parsed"
            );
        }
        Err(error) => {
            tracing::warn!(source = %source, %error, "file refused");
            out.observations.truncate(observations);
            out.rejects.truncate(rejects);
            out.rejects
                .push(file_reject(source, &file, error.raw(), error.reason()));
        }
    }
}

/// The format named `format`, honouring a `product` override; mistakes go to `errors`
/// naming the field (`format` or `product`).
pub(crate) fn resolve_format(
    format: &str,
    product: Option<&str>,
    errors: &mut Vec<FilesConfigError>,
) -> Option<Arc<dyn Format>> {
    let product = product.and_then(|product| {
        product
            .parse::<Product>()
            .map_err(|message| errors.push(FilesConfigError::new("product", message)))
            .ok()
    });
    match format_by_name(format, FormatOptions { product }) {
        Ok(format) => Some(format),
        Err(error @ FormatLookupError::Unknown { .. }) => {
            let mut error = FilesConfigError::new("format", error.to_string());
            if let Some(near) = closest(format, FORMAT_NAMES.iter().copied()) {
                error = error.with_help(format!("did you mean `{near}`?"));
            }
            errors.push(error);
            None
        }
        Err(error) => {
            errors.push(FilesConfigError::new("product", error.to_string()));
            None
        }
    }
}

/// Turns config mistakes into pipeline errors pointing at the offending field.
pub(crate) fn config_errors(
    config: &ComponentConfig<'_>,
    errors: Vec<FilesConfigError>,
    span_of: impl Fn(&'static str) -> Option<std::ops::Range<usize>>,
) -> Vec<ConfigError> {
    errors
        .into_iter()
        .map(|error| {
            let span = span_of(error.field).unwrap_or_else(|| config.span_of(error.field));
            let message = config.error(Some(span), error.message);
            match error.help {
                Some(help) => message.with_help(help),
                None => message,
            }
        })
        .collect()
}

fn expand(pattern: &str) -> Result<Vec<PathBuf>, FilesConfigError> {
    let paths = glob::glob(pattern).map_err(|error| {
        FilesConfigError::new("path", format!("`{pattern}` is not a valid glob: {error}"))
    })?;
    let mut files: Vec<PathBuf> = paths
        .filter_map(|entry| match entry {
            Ok(path) => path.is_file().then_some(path),
            Err(error) => {
                tracing::warn!(%error, "skipping an unreadable directory while expanding `{pattern}`");
                None
            }
        })
        .collect();
    files.sort();
    if files.is_empty() {
        let cwd = std::env::current_dir()
            .map(|dir| dir.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(FilesConfigError::new(
            "path",
            format!("`{pattern}` matches no file (relative to the working directory {cwd})"),
        )
        .with_help("check the path, or run gridflow from the directory the path is relative to"));
    }
    Ok(files)
}

impl SourceKind for FilesKind {
    fn kind(&self) -> &'static str {
        "files"
    }

    fn summary(&self) -> &'static str {
        "market files in their native format (a glob), read as fast as possible or replayed at event-time pace"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>> {
        let files: FilesConfig = config.deserialize()?;
        FilesPlan::new(&files)
            .map(|plan| Arc::new(plan) as Arc<dyn SourcePlan>)
            .map_err(|errors| {
                config_errors(config, errors, |field| match field {
                    "format" => Some(files.format.span()),
                    "path" => Some(files.path.span()),
                    "product" => files.product.as_ref().map(Spanned::span),
                    _ => None,
                })
            })
    }
}

impl SourcePlan for FilesPlan {
    fn describe(&self) -> String {
        let mode = match self.mode {
            Mode::Backfill => "backfill".to_string(),
            Mode::Replay => format!("replay x{}", self.speed),
        };
        format!(
            "{} files {} ({} file{}, {mode})",
            self.format.name(),
            self.pattern,
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        )
    }

    fn bounded(&self) -> bool {
        true
    }

    fn reference_data(&self) -> bool {
        self.format.reference_data()
    }

    fn open(&self, context: &BuildContext) -> Result<Box<dyn SourceReader>, SourceError> {
        let peers = context.worker.peers.max(1);
        // Replay paces every file against one event-time clock, which only works if one
        // reader sees them all; the exchange spreads the records over workers downstream.
        let mine = |index: usize| match self.mode {
            Mode::Backfill => index % peers == context.worker.index,
            Mode::Replay => context.worker.index == 0,
        };
        let files: VecDeque<PathBuf> = self
            .files
            .iter()
            .enumerate()
            .filter(|(index, _)| mine(*index))
            .map(|(_, path)| path.clone())
            .collect();
        let total_bytes = files
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum();
        Ok(Box::new(FilesReader {
            source: context.name.clone(),
            format: self.format.clone(),
            files,
            counters: context.counters.clone(),
            batch_size: self.batch_size,
            total_bytes,
            scratch: SourceOutput::default(),
            pending: VecDeque::new(),
            replay: (self.mode == Mode::Replay).then(|| Replay::new(self.speed)),
        }))
    }
}

/// One worker's share of a files source.
struct FilesReader {
    source: Arc<str>,
    format: Arc<dyn Format>,
    files: VecDeque<PathBuf>,
    counters: Arc<ComponentCounters>,
    batch_size: usize,
    total_bytes: u64,
    scratch: SourceOutput,
    pending: VecDeque<Observation>,
    replay: Option<Replay>,
}

impl FilesReader {
    /// Reads and parses the next file into `out`; a refused file leaves only its reject.
    fn read_next(&mut self, out: &mut SourceOutput) {
        let Some(path) = self.files.pop_front() else {
            return;
        };
        let bytes = read_file(&self.source, &path, out);
        if let Some(bytes) = bytes {
            parse_file(self.format.as_ref(), &self.source, &path, &bytes, out);
        }
        ComponentCounters::add(&self.counters.files, 1);
    }

    fn poll_backfill(&mut self, out: &mut SourceOutput) -> SourceStatus {
        // What the last file left over goes first.
        let take = self.pending.len().min(self.batch_size);
        out.observations.extend(self.pending.drain(..take));
        // Small files are gathered into one batch (every batch costs the dataflow a round),
        // parsed straight into the batch; a file that overflows it spills into `pending`.
        while out.observations.len() < self.batch_size && !self.files.is_empty() {
            self.read_next(out);
        }
        if out.observations.len() > self.batch_size {
            self.pending
                .extend(out.observations.drain(self.batch_size..));
        }
        if self.pending.is_empty() && self.files.is_empty() {
            SourceStatus::Finished
        } else {
            SourceStatus::Ready
        }
    }
}

impl SourceReader for FilesReader {
    fn poll(&mut self, out: &mut SourceOutput) -> SourceStatus {
        let Some(mut replay) = self.replay.take() else {
            return self.poll_backfill(out);
        };
        // Replay orders everything this worker reads, so it loads every file first (one
        // per poll, so progress shows), then paces the sorted observations.
        let status = if self.files.is_empty() {
            replay.poll(out, self.batch_size)
        } else {
            let mut scratch = std::mem::take(&mut self.scratch);
            scratch.observations.clear();
            self.read_next(&mut scratch);
            out.rejects.append(&mut scratch.rejects);
            out.bytes += std::mem::take(&mut scratch.bytes);
            replay.load(scratch.observations.drain(..), out);
            self.scratch = scratch;
            SourceStatus::Ready
        };
        self.replay = Some(replay);
        status
    }

    fn total_bytes(&self) -> u64 {
        self.total_bytes
    }
}

#[cfg(test)]
mod tests;
