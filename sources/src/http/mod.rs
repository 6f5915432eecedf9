//! The `http` source: market publications polled over HTTP(S).
//!
//! ```toml
//! [sources.pjm_da]
//! kind = "http"
//! format = "pjm_dataminer"
//! url = "https://api.pjm.com/api/v1/da_hrl_lmps?datetime_beginning_ept={start:%Y-%m-%d}"
//! file_name = "da_hrl_lmps_{start:%Y-%m-%d}.json"
//! start = "2024-02-20"
//! step_minutes = 1440
//! timezone = "America/New_York"
//! headers = { "Ocp-Apim-Subscription-Key" = "${PJM_API_KEY}" }
//! positions = "state/pjm_da.json"
//! ```
//!
//! The source walks instants from `start` by `step_minutes` and fetches the URL rendered
//! for each ([`template`]). With `end` it fetches each instant of `[start, end)` once and
//! finishes; without, it follows the clock: every instant that has begun is fetched, and
//! the latest `revisit` instants are polled again every `poll_interval_seconds` with
//! conditional requests, so a corrected publication becomes revisions and an unchanged one
//! costs a 304. A live instant that answers 404 is not published yet and is tried again at
//! the next poll; a bounded one becomes a reject. The fetching runs on its own thread
//! ([`fetch`]): a slow server never stalls a dataflow worker.
//!
//! A body that is a zip archive is unpacked and each member parsed under its own name;
//! otherwise the body is parsed under `file_name` (default: the URL's last path segment).
//! Failures become rejects whose file is the URL. Worker 0 fetches; records spread
//! downstream.

mod fetch;
mod template;

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use gridflow_engine::component::{
    BuildContext, SourceError, SourceKind, SourceOutput, SourcePlan, SourceReader, SourceStatus,
};
use gridflow_engine::metrics::ComponentCounters;
use gridflow_engine::pipeline::{ComponentConfig, ConfigError};
use gridflow_engine::record::{Origin, Reject};
use gridflow_engine::{Spanned, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

use crate::files::{FilesConfigError, config_errors, parse_file, resolve_format};
use crate::formats::Format;
use crate::positions::{FilePosition, Positions};
use crate::watch::Idle;
use fetch::{FetchPlan, Fetched, Fetcher};
use template::Template;

/// The `kind = "http"` source kind.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpKind;

/// The `[sources.NAME]` table of an `http` source.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// The publications' native format (as for `files`). Example: `format = "spp_lmp"`.
    pub format: Spanned<String>,
    /// URL template: `{start:%Y%m%d}` and `{end:%H%M}` are the instant's bounds written
    /// with strftime directives in `timezone`. Example:
    /// `url = "https://host/RTBM-LMP-SL-{start:%Y%m%d%H%M}.csv"`.
    pub url: Spanned<String>,
    /// Template of the name the parser sees (formats infer products from file names);
    /// default: the URL's last path segment. Example: `file_name = "{start:%Y%m%d}_da_expost_lmp.csv"`.
    #[serde(default)]
    pub file_name: Option<Spanned<String>>,
    /// First instant: RFC 3339 (`2024-02-20T05:00:00Z`) or a civil date or date-time in
    /// `timezone` (`2024-02-20`, `2024-02-20T08:40`). Example: `start = "2024-02-20"`.
    pub start: Spanned<String>,
    /// End (exclusive), written like `start`. With it the source finishes; without it the
    /// source follows the clock until stopped. Example: `end = "2024-02-22"`.
    #[serde(default)]
    pub end: Option<Spanned<String>>,
    /// Minutes between instants (default 1440, daily). Example: `step_minutes = 5`.
    #[serde(default = "default_step_minutes")]
    pub step_minutes: u32,
    /// IANA zone for civil `start`/`end` and for rendering templates (default `UTC`).
    /// Example: `timezone = "America/Chicago"`.
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
    /// Seconds between polls of a live source (default 60).
    #[serde(default = "default_poll_interval")]
    pub poll_interval_seconds: f64,
    /// Seconds one request may take, body included (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Retries of a transient failure (timeout, refused connection, cut-short body, 408,
    /// 429, 5xx) before the URL becomes a reject (default 3).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// First back-off in seconds, doubled per retry with jitter (default 1).
    #[serde(default = "default_backoff")]
    pub backoff_seconds: f64,
    /// Longest back-off in seconds, also the cap on a server's `Retry-After` (default 60).
    #[serde(default = "default_max_backoff")]
    pub max_backoff_seconds: f64,
    /// Most requests per minute (default: unlimited). Example: `rate_limit_per_minute = 6`.
    #[serde(default)]
    pub rate_limit_per_minute: Option<f64>,
    /// Extra request headers, e.g. API keys from the environment. Example:
    /// `headers = { "Ocp-Apim-Subscription-Key" = "${PJM_API_KEY}" }`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Live only: how many of the latest instants are polled again (default 2).
    #[serde(default = "default_revisit")]
    pub revisit: u32,
    /// A JSON file remembering what was ingested (content checksum, ETag, Last-Modified
    /// per URL). Example: `positions = "state/pjm_da.json"`.
    #[serde(default)]
    pub positions: Option<Spanned<String>>,
    /// Overrides the product the format infers. Example: `product = "DAY_AHEAD_HOURLY"`.
    #[serde(default)]
    pub product: Option<Spanned<String>>,
}

fn default_step_minutes() -> u32 {
    1440
}
fn default_poll_interval() -> f64 {
    60.0
}
fn default_timeout() -> f64 {
    30.0
}
fn default_retries() -> u32 {
    3
}
fn default_backoff() -> f64 {
    1.0
}
fn default_max_backoff() -> f64 {
    60.0
}
fn default_revisit() -> u32 {
    2
}

/// A validated `http` source.
pub struct HttpPlan {
    format: Arc<dyn Format>,
    fetch: FetchPlan,
    positions: Option<PathBuf>,
}

/// Parses an instant written as RFC 3339 or as a civil date or date-time in `zone`.
fn instant(text: &str, zone: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| text.parse::<jiff::civil::Date>().map(jiff::civil::DateTime::from))
        .map_err(|_| {
            format!("`{text}` is neither RFC 3339 nor a date (2024-02-20) or date-time (2024-02-20T08:40)")
        })?;
    civil
        .to_zoned_datetime(zone.clone())
        .map(|zoned| zoned.timestamp())
        .map_err(|error| format!("`{text}`: {error}"))
}

impl HttpPlan {
    /// Validates `config`.
    pub fn new(config: &HttpConfig) -> Result<Self, Vec<FilesConfigError>> {
        let mut errors = Vec::new();
        let mut check = |field: &'static str, result: Result<(), String>| {
            if let Err(message) = result {
                errors.push(FilesConfigError::new(field, message));
            }
        };
        let zone_name = config
            .timezone
            .as_ref()
            .map_or("UTC", |z| z.get_ref().as_str());
        let zone = TimeZone::get(zone_name).map_err(|error| format!("`{zone_name}`: {error}"));
        check("timezone", zone.as_ref().map(|_| ()).map_err(Clone::clone));
        let zone = zone.unwrap_or(TimeZone::UTC);
        let url = Template::parse(config.url.get_ref());
        check("url", url.as_ref().map(|_| ()).map_err(Clone::clone));
        let file_name = config
            .file_name
            .as_ref()
            .map(|name| Template::parse(name.get_ref()))
            .transpose();
        check(
            "file_name",
            file_name.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        let start = instant(config.start.get_ref(), &zone);
        check("start", start.as_ref().map(|_| ()).map_err(Clone::clone));
        let end = config
            .end
            .as_ref()
            .map(|end| instant(end.get_ref(), &zone))
            .transpose();
        check("end", end.as_ref().map(|_| ()).map_err(Clone::clone));
        if let (Ok(start), Ok(Some(end))) = (&start, &end)
            && end <= start
        {
            check("end", Err("`end` must be after `start`".into()));
        }
        check(
            "step_minutes",
            (config.step_minutes > 0)
                .then_some(())
                .ok_or_else(|| "step_minutes must be at least 1".to_string()),
        );
        let mut seconds = |field: &'static str, value: f64| {
            if (0.0..=86_400.0).contains(&value) {
                Duration::from_secs_f64(value)
            } else {
                check(
                    field,
                    Err(format!(
                        "{field} must be between 0 and 86400, found {value}"
                    )),
                );
                Duration::ZERO
            }
        };
        let poll_interval = seconds("poll_interval_seconds", config.poll_interval_seconds);
        let timeout = seconds("timeout_seconds", config.timeout_seconds);
        let backoff = seconds("backoff_seconds", config.backoff_seconds);
        let max_backoff = seconds("max_backoff_seconds", config.max_backoff_seconds);
        let min_gap = match config.rate_limit_per_minute {
            None => Duration::ZERO,
            Some(rate) if rate > 0.0 && rate.is_finite() => Duration::from_secs_f64(60.0 / rate),
            Some(rate) => {
                check(
                    "rate_limit_per_minute",
                    Err(format!(
                        "rate_limit_per_minute must be greater than 0, found {rate}"
                    )),
                );
                Duration::ZERO
            }
        };
        let format = resolve_format(
            config.format.get_ref(),
            config.product.as_ref().map(|p| p.get_ref().as_str()),
            &mut errors,
        );
        let positions = config
            .positions
            .as_ref()
            .map(|p| PathBuf::from(p.get_ref()));
        if let Some(path) = &positions
            && let Err(message) = Positions::load(Some(path))
        {
            errors.push(FilesConfigError::new("positions", message));
        }
        match (format, url, file_name, start, end) {
            (Some(format), Ok(url), Ok(file_name), Ok(start), Ok(end)) if errors.is_empty() => {
                Ok(HttpPlan {
                    format,
                    positions,
                    fetch: FetchPlan {
                        url,
                        file_name,
                        zone,
                        start,
                        end,
                        step: SignedDuration::from_mins(i64::from(config.step_minutes)),
                        poll_interval: poll_interval.max(Duration::from_millis(10)),
                        timeout: timeout.max(Duration::from_millis(100)),
                        retries: config.retries,
                        backoff,
                        max_backoff,
                        min_gap,
                        headers: config
                            .headers
                            .iter()
                            .map(|(name, value)| (name.clone(), value.clone()))
                            .collect(),
                        revisit: config.revisit,
                    },
                })
            }
            _ => Err(errors),
        }
    }
}

impl SourceKind for HttpKind {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn summary(&self) -> &'static str {
        "market publications polled over HTTP(S): URL templates, conditional requests, retries"
    }

    fn configure(
        &self,
        config: &ComponentConfig<'_>,
    ) -> Result<Arc<dyn SourcePlan>, Vec<ConfigError>> {
        let http: HttpConfig = config.deserialize()?;
        HttpPlan::new(&http)
            .map(|plan| Arc::new(plan) as Arc<dyn SourcePlan>)
            .map_err(|errors| {
                let optional = |field: &Option<Spanned<String>>| field.as_ref().map(Spanned::span);
                config_errors(config, errors, |field| match field {
                    "format" => Some(http.format.span()),
                    "url" => Some(http.url.span()),
                    "start" => Some(http.start.span()),
                    "file_name" => optional(&http.file_name),
                    "end" => optional(&http.end),
                    "timezone" => optional(&http.timezone),
                    "positions" => optional(&http.positions),
                    "product" => optional(&http.product),
                    _ => None,
                })
            })
    }
}

impl SourcePlan for HttpPlan {
    fn describe(&self) -> String {
        format!(
            "{} over HTTP, {} every {} min{}",
            self.format.name(),
            self.fetch.start,
            self.fetch.step.as_mins(),
            self.fetch
                .end
                .map_or(" (live)".to_string(), |end| format!(" until {end}"))
        )
    }

    fn bounded(&self) -> bool {
        self.fetch.end.is_some()
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
        let validators: HashMap<_, _> = positions
            .validators()
            .iter()
            .map(|(url, validators)| (url.clone(), validators.clone()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = std::sync::mpsc::channel();
        let fetcher = Fetcher::new(self.fetch.clone(), validators, stop.clone(), sender);
        std::thread::Builder::new()
            .name(format!("http:{}", context.name))
            .spawn(move || fetcher.run())
            .map_err(|error| SourceError::Other {
                source_name: context.name.to_string(),
                message: format!("cannot start the fetching thread: {error}"),
            })?;
        Ok(Box::new(HttpReader {
            source: context.name.clone(),
            format: self.format.clone(),
            counters: context.counters.clone(),
            positions,
            receiver,
            stop,
        }))
    }
}

struct HttpReader {
    source: Arc<str>,
    format: Arc<dyn Format>,
    counters: Arc<ComponentCounters>,
    positions: Positions,
    receiver: Receiver<Fetched>,
    stop: Arc<AtomicBool>,
}

impl Drop for HttpReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl HttpReader {
    fn reject(&self, url: &str, reason: String, out: &mut SourceOutput) {
        tracing::warn!(source = %self.source, %url, %reason, "fetch failed");
        let origin = Origin {
            source: self.source.clone(),
            file: Arc::from(url),
            line: 0,
        };
        out.rejects.push(Reject::new(origin, "fetch", url, reason));
    }

    fn publication(
        &mut self,
        url: String,
        name: String,
        body: Vec<u8>,
        out: &mut SourceOutput,
    ) -> FilePosition {
        let position = FilePosition::of(&body);
        out.bytes += body.len() as u64;
        if self.positions.get(&url) == Some(position) {
            tracing::debug!(source = %self.source, %url, "unchanged content; not parsed again");
            return position;
        }
        if body.starts_with(b"PK\x03\x04") {
            self.unzip(&url, &body, out);
        } else {
            let path = Path::new(&name);
            parse_file(self.format.as_ref(), &self.source, path, &body, out);
        }
        ComponentCounters::add(&self.counters.files, 1);
        position
    }

    /// Parses every member of a zip archive under its own name.
    fn unzip(&self, url: &str, body: &[u8], out: &mut SourceOutput) {
        let archive = zip::ZipArchive::new(std::io::Cursor::new(body));
        let mut archive = match archive {
            Ok(archive) => archive,
            Err(error) => {
                return self.reject(url, format!("not a readable zip archive: {error}"), out);
            }
        };
        for index in 0..archive.len() {
            let mut member = match archive.by_index(index) {
                Ok(member) if member.is_file() => member,
                Ok(_) => continue,
                Err(error) => {
                    self.reject(url, format!("zip member {index}: {error}"), out);
                    continue;
                }
            };
            let name = member
                .name()
                .map_or_else(|_| format!("member-{index}"), |name| name.into_owned());
            let mut content = Vec::new();
            if let Err(error) = member.read_to_end(&mut content) {
                self.reject(url, format!("zip member `{name}`: {error}"), out);
                continue;
            }
            parse_file(
                self.format.as_ref(),
                &self.source,
                Path::new(&name),
                &content,
                out,
            );
        }
    }
}

impl SourceReader for HttpReader {
    fn poll(&mut self, out: &mut SourceOutput) -> SourceStatus {
        loop {
            match self.receiver.try_recv() {
                Ok(Fetched::Body {
                    url,
                    name,
                    body,
                    validators,
                }) => {
                    let position = self.publication(url.clone(), name, body, out);
                    self.positions
                        .emitted_url(out.time, url, position, validators);
                    // One publication per poll keeps batches (and their times) per URL.
                    return SourceStatus::Ready;
                }
                Ok(Fetched::NotModified { url }) => {
                    tracing::debug!(source = %self.source, %url, "not modified");
                }
                Ok(Fetched::Failed { url, reason }) => {
                    self.reject(&url, reason, out);
                    return SourceStatus::Ready;
                }
                Ok(Fetched::Finished) | Err(TryRecvError::Disconnected) => {
                    return SourceStatus::Finished;
                }
                Err(TryRecvError::Empty) => {
                    return SourceStatus::Waiting(Duration::from_millis(50));
                }
            }
        }
    }

    fn committed(&mut self, through: Time) {
        if let Err(message) = self.positions.committed(through) {
            tracing::error!(source = %self.source, %message, "could not save source positions");
        }
    }
}
