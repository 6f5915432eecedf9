//! The `watch` source: a drop folder where market files land, read as they arrive.
//!
//! ```toml
//! [sources.spp_live]
//! kind = "watch"
//! format = "spp_lmp"
//! directory = "drop/spp"
//! pattern = "RTBM-LMP-SL-*.csv"
//! positions = "state/spp_live.json"
//! ```
//!
//! New and replaced files are noticed through file-system events (inotify on Linux, via the
//! `notify` crate) and, whatever the platform or file system (network mounts send no
//! events), by a rescan every `poll_interval_seconds`. A file is read once its size and
//! modification time have stayed the same for `settle_seconds`, so a file still being
//! written is not read half-way; publishers that write to a temporary name and rename
//! into the folder are picked up at once.
//!
//! A replaced file is parsed again in full. Its rows carry the time gridflow read them as
//! their publication time, so `normalize` turns changed values into revisions (the old
//! record retracted, the new one inserted) and unchanged ones into nothing. A file written
//! again with the same bytes is not parsed at all (its CRC-32 is remembered).
//!
//! With `positions`, what was ingested survives restarts ([`crate::positions`]): a file
//! whose content is as recorded is not read again; one that changed while gridflow was
//! stopped is. Positions are written only once the sinks have made the file's rows durable.
//! One worker (worker 0) watches the folder; records spread over workers downstream.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use gridflow_engine::component::{
    BuildContext, SourceError, SourceKind, SourceOutput, SourcePlan, SourceReader, SourceStatus,
};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use gridflow_engine::{Spanned, Time};
use notify::{RecursiveMode, Watcher};
use serde::Deserialize;

use crate::files::{FilesConfigError, config_errors, parse_file, read_file, resolve_format};
use crate::formats::Format;
use crate::positions::{FilePosition, Positions};

/// The `kind = "watch"` source kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct WatchKind;

/// The `[sources.NAME]` table of a `watch` source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchConfig {
    /// The files' native format (as for `files`). Example: `format = "spp_lmp"`.
    pub format: Spanned<String>,
    /// The drop folder, which must exist; files directly in it are read (not
    /// sub-folders). Example: `directory = "drop/spp"`.
    pub directory: Spanned<String>,
    /// A glob on file names (default `"*"`); names starting with `.` are never read, so a
    /// publisher can write `.name.tmp` and rename. Example: `pattern = "RTBM-*.csv"`.
    #[serde(default)]
    pub pattern: Option<Spanned<String>>,
    /// Seconds between rescans of the folder (default 2), the fallback where file events
    /// do not arrive. Example: `poll_interval_seconds = 5.0`.
    #[serde(default = "default_poll_interval")]
    pub poll_interval_seconds: f64,
    /// Seconds a file's size and modification time must stay unchanged before it is read
    /// (default 0.5). Example: `settle_seconds = 2.0`.
    #[serde(default = "default_settle")]
    pub settle_seconds: f64,
    /// A JSON file remembering what was ingested, so a restart does not read it again
    /// (default: none; every file present at start is read). Example:
    /// `positions = "state/spp_live.json"`.
    #[serde(default)]
    pub positions: Option<Spanned<String>>,
    /// Overrides the product the format infers. Example: `product = "REAL_TIME_5_MIN"`.
    #[serde(default)]
    pub product: Option<Spanned<String>>,
}

fn default_poll_interval() -> f64 {
    2.0
}

fn default_settle() -> f64 {
    0.5
}

/// A validated `watch` source.
pub struct WatchPlan {
    format: Arc<dyn Format>,
    directory: PathBuf,
    pattern: glob::Pattern,
    poll_interval: Duration,
    settle: Duration,
    positions: Option<PathBuf>,
}

impl WatchPlan {
    /// Validates `config`.
    pub fn new(config: &WatchConfig) -> Result<Self, Vec<FilesConfigError>> {
        let mut errors = Vec::new();
        let format = resolve_format(
            config.format.get_ref(),
            config.product.as_ref().map(|p| p.get_ref().as_str()),
            &mut errors,
        );
        let directory = PathBuf::from(config.directory.get_ref());
        if !directory.is_dir() {
            errors.push(
                FilesConfigError::new(
                    "directory",
                    format!("`{}` is not an existing directory", directory.display()),
                )
                .with_help("create the drop folder first; gridflow does not create it"),
            );
        }
        let pattern_text = config
            .pattern
            .as_ref()
            .map_or("*", |p| p.get_ref().as_str());
        let pattern = glob::Pattern::new(pattern_text)
            .map_err(|error| {
                errors.push(FilesConfigError::new(
                    "pattern",
                    format!("`{pattern_text}` is not a valid glob: {error}"),
                ))
            })
            .ok();
        let seconds = |field: &'static str, value: f64, errors: &mut Vec<FilesConfigError>| {
            if (0.0..=86_400.0).contains(&value) {
                Duration::from_secs_f64(value)
            } else {
                errors.push(FilesConfigError::new(
                    field,
                    format!("{field} must be between 0 and 86400, found {value}"),
                ));
                Duration::ZERO
            }
        };
        let poll_interval = seconds(
            "poll_interval_seconds",
            config.poll_interval_seconds,
            &mut errors,
        )
        .max(Duration::from_millis(10));
        let settle = seconds("settle_seconds", config.settle_seconds, &mut errors);
        let positions = config
            .positions
            .as_ref()
            .map(|p| PathBuf::from(p.get_ref()));
        if let Some(path) = &positions
            && let Err(message) = Positions::load(Some(path))
        {
            errors.push(FilesConfigError::new("positions", message));
        }
        match (format, pattern) {
            (Some(format), Some(pattern)) if errors.is_empty() => Ok(WatchPlan {
                format,
                directory,
                pattern,
                poll_interval,
                settle,
                positions,
            }),
            _ => Err(errors),
        }
    }
}

impl SourceKind for WatchKind {
    fn kind(&self) -> &'static str {
        "watch"
    }

    fn summary(&self) -> &'static str {
        "a drop folder watched for new or replaced market files (runs until stopped)"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>> {
        let watch: WatchConfig = config.deserialize()?;
        WatchPlan::new(&watch)
            .map(|plan| Arc::new(plan) as Arc<dyn SourcePlan>)
            .map_err(|errors| {
                config_errors(config, errors, |field| match field {
                    "format" => Some(watch.format.span()),
                    "directory" => Some(watch.directory.span()),
                    "pattern" => watch.pattern.as_ref().map(Spanned::span),
                    "positions" => watch.positions.as_ref().map(Spanned::span),
                    "product" => watch.product.as_ref().map(Spanned::span),
                    _ => None,
                })
            })
    }
}

impl SourcePlan for WatchPlan {
    fn describe(&self) -> String {
        format!(
            "{} files appearing in {}/{} (rescanned every {:?})",
            self.format.name(),
            self.directory.display(),
            self.pattern,
            self.poll_interval
        )
    }

    fn bounded(&self) -> bool {
        false
    }

    fn open(&self, context: &BuildContext) -> Result<Box<dyn SourceReader>, SourceError> {
        if context.worker.index != 0 {
            return Ok(Box::new(Idle));
        }
        let positions =
            Positions::load(self.positions.as_deref()).map_err(|message| SourceError::Other {
                source_name: context.name.to_string(),
                message,
            })?;
        let events = Arc::new(AtomicBool::new(true));
        let watcher = watch_events(&self.directory, events.clone());
        if let Err(error) = &watcher {
            tracing::warn!(
                source = %context.name,
                directory = %self.directory.display(),
                %error,
                "no file-system events; polling every {:?}",
                self.poll_interval
            );
        }
        Ok(Box::new(WatchReader {
            source: context.name.clone(),
            format: self.format.clone(),
            directory: self.directory.clone(),
            pattern: self.pattern.clone(),
            poll_interval: self.poll_interval,
            settle: self.settle,
            counters: context.counters.clone(),
            positions,
            events,
            _watcher: watcher.ok(),
            last_scan: None,
            seen: HashMap::new(),
            candidates: BTreeMap::new(),
        }))
    }
}

fn watch_events(
    directory: &Path,
    events: Arc<AtomicBool>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            events.store(true, Ordering::Relaxed);
        }
    })?;
    watcher.watch(directory, RecursiveMode::NonRecursive)?;
    Ok(watcher)
}

/// The reader of a worker with nothing to read (live sources read on worker 0).
pub(crate) struct Idle;

impl SourceReader for Idle {
    fn poll(&mut self, _out: &mut SourceOutput) -> SourceStatus {
        SourceStatus::Finished
    }
}

/// What a scan saw of a file: its size and modification time.
type Stamp = (u64, Option<SystemTime>);

struct WatchReader {
    source: Arc<str>,
    format: Arc<dyn Format>,
    directory: PathBuf,
    pattern: glob::Pattern,
    poll_interval: Duration,
    settle: Duration,
    counters: Arc<ComponentCounters>,
    positions: Positions,
    events: Arc<AtomicBool>,
    _watcher: Option<notify::RecommendedWatcher>,
    last_scan: Option<Instant>,
    /// The stamp of each file when it was last read or found unchanged.
    seen: HashMap<PathBuf, Stamp>,
    /// Files that changed since, with their latest stamp and since when it has held.
    candidates: BTreeMap<PathBuf, (Stamp, Instant)>,
}

impl WatchReader {
    fn scan(&mut self, now: Instant) {
        self.last_scan = Some(now);
        let entries = match std::fs::read_dir(&self.directory) {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(source = %self.source, directory = %self.directory.display(), %error, "cannot list the drop folder");
                return;
            }
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !self.pattern.matches(&name) {
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let stamp = (metadata.len(), metadata.modified().ok());
            let path = entry.path();
            if self.seen.get(&path) == Some(&stamp) {
                continue;
            }
            match self.candidates.get_mut(&path) {
                Some((seen, _)) if *seen == stamp => {}
                Some(candidate) => *candidate = (stamp, now),
                None => {
                    self.candidates.insert(path, (stamp, now));
                }
            }
        }
    }

    /// Reads every candidate that has settled; returns when the next one will have.
    fn read_settled(&mut self, now: Instant, out: &mut SourceOutput) -> Option<Duration> {
        let mut next = None::<Duration>;
        let settled: Vec<PathBuf> = self
            .candidates
            .iter()
            .filter_map(|(path, (_, since))| {
                let ready_at = *since + self.settle;
                if ready_at <= now {
                    Some(path.clone())
                } else {
                    let wait = ready_at - now;
                    next = Some(next.map_or(wait, |next| next.min(wait)));
                    None
                }
            })
            .collect();
        for path in settled {
            let Some((stamp, _)) = self.candidates.remove(&path) else {
                continue;
            };
            self.seen.insert(path.clone(), stamp);
            let mut scratch = SourceOutput::default();
            let Some(bytes) = read_file(&self.source, &path, &mut scratch) else {
                out.rejects.append(&mut scratch.rejects);
                continue;
            };
            let key = path.to_string_lossy().into_owned();
            let position = FilePosition::of(&bytes);
            if self.positions.get(&key) == Some(position) {
                tracing::debug!(source = %self.source, file = %key, "unchanged; not read again");
                continue;
            }
            out.bytes += scratch.bytes;
            parse_file(self.format.as_ref(), &self.source, &path, &bytes, out);
            self.positions.emitted(out.time, key, position);
            ComponentCounters::add(&self.counters.files, 1);
        }
        next
    }
}

impl SourceReader for WatchReader {
    fn poll(&mut self, out: &mut SourceOutput) -> SourceStatus {
        let now = Instant::now();
        let due = self
            .last_scan
            .is_none_or(|last| now.duration_since(last) >= self.poll_interval);
        if self.events.swap(false, Ordering::Relaxed) || due {
            self.scan(now);
        }
        let settling = self.read_settled(now, out);
        if !out.observations.is_empty() || !out.rejects.is_empty() {
            return SourceStatus::Ready;
        }
        let until_scan = self.last_scan.map_or(Duration::ZERO, |last| {
            (last + self.poll_interval).saturating_duration_since(now)
        });
        SourceStatus::Waiting(settling.map_or(until_scan, |settle| settle.min(until_scan)))
    }

    fn committed(&mut self, through: Time) {
        if let Err(message) = self.positions.committed(through) {
            tracing::error!(source = %self.source, %message, "could not save source positions");
        }
    }
}
