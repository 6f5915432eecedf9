//! The fetching thread of an `http` source: which URLs, when, and how hard to try.
//!
//! It walks the source's instants (start, start + step, ...), renders each URL, and sends
//! what it got to the reader over a channel, so that slow servers, timeouts and back-off
//! never stall a dataflow worker. Requests are spaced by the rate limit; transient
//! failures (timeouts, refused connections, truncated bodies, 408, 429, 5xx) are retried
//! with exponential back-off and jitter; conditional headers (`If-None-Match`,
//! `If-Modified-Since`) make re-polling an unchanged publication cost a 304.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant, SystemTime};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::template::Template;
use crate::positions::Validators;

/// Bodies larger than this are refused (a runaway response, not a publication).
const MOST_BYTES: u64 = 1 << 30;

/// How the fetching thread works; built from the source's configuration.
#[derive(Clone, Debug)]
pub(crate) struct FetchPlan {
    pub(crate) url: Template,
    pub(crate) file_name: Option<Template>,
    pub(crate) zone: TimeZone,
    pub(crate) start: Timestamp,
    /// Exclusive; `None` for a live source that follows the clock.
    pub(crate) end: Option<Timestamp>,
    pub(crate) step: SignedDuration,
    pub(crate) poll_interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    /// Least time between two requests (the rate limit).
    pub(crate) min_gap: Duration,
    pub(crate) headers: Vec<(String, String)>,
    /// Live: how many of the latest instants are polled again for revisions.
    pub(crate) revisit: u32,
}

/// What the thread reports.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// A publication: its URL, the name the parser sees and the body.
    Body {
        url: String,
        name: String,
        body: Vec<u8>,
        validators: Validators,
    },
    /// The server says the publication has not changed since it was last read.
    NotModified { url: String },
    /// Given up on a URL.
    Failed { url: String, reason: String },
    /// A bounded source has fetched every instant.
    Finished,
}

enum Outcome {
    Body(Vec<u8>, Validators),
    NotModified,
    /// 404: not published (yet).
    Missing(String),
    /// Worth another try.
    Transient(String, Option<Duration>),
    /// Will not work however often it is tried.
    Permanent(String),
}

pub(crate) struct Fetcher {
    plan: FetchPlan,
    agent: ureq::Agent,
    validators: HashMap<String, Validators>,
    stop: Arc<AtomicBool>,
    last_request: Option<Instant>,
    sender: Sender<Fetched>,
}

impl Fetcher {
    pub(crate) fn new(
        plan: FetchPlan,
        validators: HashMap<String, Validators>,
        stop: Arc<AtomicBool>,
        sender: Sender<Fetched>,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(plan.timeout))
            .http_status_as_error(false)
            .user_agent(format!("gridflow/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Fetcher {
            plan,
            agent,
            validators,
            stop,
            last_request: None,
            sender,
        }
    }

    fn instant_end(&self, start: Timestamp) -> Timestamp {
        start.saturating_add(self.plan.step).unwrap_or(start)
    }

    /// Runs until every instant is fetched (bounded) or the reader goes away.
    pub(crate) fn run(mut self) {
        let mut next = self.plan.start;
        loop {
            let now = Timestamp::now();
            // Live sources revisit their latest instants: corrections arrive there.
            if self.plan.end.is_none() {
                let mut instant = next;
                for _ in 0..self.plan.revisit {
                    instant = instant.saturating_sub(self.plan.step).unwrap_or(instant);
                    if instant < self.plan.start {
                        break;
                    }
                    if !self.fetch(instant) {
                        return;
                    }
                }
            }
            while self.plan.end.map_or(next <= now, |end| next < end) {
                let missing_is_final = self.plan.end.is_some();
                match self.fetch_new(next, missing_is_final) {
                    Some(true) => next = self.instant_end(next),
                    // Live: not published yet; try again at the next poll.
                    Some(false) => break,
                    None => return,
                }
            }
            if self.plan.end.is_some_and(|end| next >= end) {
                let _ = self.sender.send(Fetched::Finished);
                return;
            }
            if !self.sleep(self.plan.poll_interval) {
                return;
            }
        }
    }

    /// Fetches a new instant; `Some(true)` when done with it, `Some(false)` when it is not
    /// published yet, `None` when the source is stopping.
    fn fetch_new(&mut self, instant: Timestamp, missing_is_final: bool) -> Option<bool> {
        let url = self.url(instant);
        match self.attempt(&url)? {
            Outcome::Missing(reason) if !missing_is_final => {
                tracing::debug!(%url, %reason, "not published yet");
                Some(false)
            }
            outcome => self.report(instant, url, outcome).then_some(true),
        }
    }

    /// Fetches an instant already read once; returns false when stopping.
    fn fetch(&mut self, instant: Timestamp) -> bool {
        let url = self.url(instant);
        match self.attempt(&url) {
            None => false,
            Some(Outcome::Missing(_)) => true,
            Some(outcome) => self.report(instant, url, outcome),
        }
    }

    fn url(&self, instant: Timestamp) -> String {
        self.plan
            .url
            .render(instant, self.instant_end(instant), &self.plan.zone)
    }

    fn report(&mut self, instant: Timestamp, url: String, outcome: Outcome) -> bool {
        let message = match outcome {
            Outcome::Body(body, validators) => {
                let name = match &self.plan.file_name {
                    Some(template) => {
                        template.render(instant, self.instant_end(instant), &self.plan.zone)
                    }
                    None => last_segment(&url),
                };
                self.validators.insert(url.clone(), validators.clone());
                Fetched::Body {
                    url,
                    name,
                    body,
                    validators,
                }
            }
            Outcome::NotModified => Fetched::NotModified { url },
            Outcome::Missing(reason) | Outcome::Permanent(reason) => {
                Fetched::Failed { url, reason }
            }
            Outcome::Transient(reason, _) => Fetched::Failed {
                url,
                reason: format!("gave up after {} attempts: {reason}", self.plan.retries + 1),
            },
        };
        self.sender.send(message).is_ok()
    }

    /// Tries `url` up to `retries + 1` times; `None` when stopping.
    fn attempt(&mut self, url: &str) -> Option<Outcome> {
        let mut outcome = Outcome::Permanent("not tried".into());
        for attempt in 0..=self.plan.retries {
            if let Some(last) = self.last_request {
                let wait = self.plan.min_gap.saturating_sub(last.elapsed());
                if !self.sleep(wait) {
                    return None;
                }
            }
            self.last_request = Some(Instant::now());
            outcome = self.request(url);
            let Outcome::Transient(reason, retry_after) = &outcome else {
                return Some(outcome);
            };
            if attempt == self.plan.retries {
                break;
            }
            let delay = retry_after.unwrap_or_else(|| self.backoff(attempt));
            tracing::warn!(%url, attempt = attempt + 1, %reason, ?delay, "retrying");
            if !self.sleep(delay) {
                return None;
            }
        }
        Some(outcome)
    }

    /// Exponential back-off with full jitter in [½, 1] of the step, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .plan
            .backoff
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.plan.max_backoff);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        // Spread retries of many sources apart without a random-number dependency.
        let jitter = 0.5 + f64::from(nanos % 1000) / 2000.0;
        exponential.mul_f64(jitter)
    }

    fn request(&self, url: &str) -> Outcome {
        let mut request = self.agent.get(url);
        for (name, value) in &self.plan.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(known) = self.validators.get(url) {
            if let Some(etag) = &known.etag {
                request = request.header("If-None-Match", etag.as_str());
            }
            if let Some(modified) = &known.last_modified {
                request = request.header("If-Modified-Since", modified.as_str());
            }
        }
        let mut response = match request.call() {
            Ok(response) => response,
            Err(error) => return Outcome::Transient(error.to_string(), None),
        };
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        match status {
            200..=299 => {
                let validators = Validators {
                    etag: header("etag"),
                    last_modified: header("last-modified"),
                };
                match response
                    .body_mut()
                    .with_config()
                    .limit(MOST_BYTES)
                    .read_to_vec()
                {
                    Ok(body) => Outcome::Body(body, validators),
                    Err(error) => Outcome::Transient(format!("body cut short: {error}"), None),
                }
            }
            304 => Outcome::NotModified,
            404 | 410 => Outcome::Missing(format!("HTTP {status}: not published")),
            408 | 429 | 500..=599 => {
                let retry_after = header("retry-after")
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(|seconds| Duration::from_secs(seconds).min(self.plan.max_backoff));
                Outcome::Transient(format!("HTTP {status}"), retry_after)
            }
            _ => Outcome::Permanent(format!(
                "HTTP {status}{}",
                if status == 401 || status == 403 {
                    ": check the credentials in the source's `headers`"
                } else {
                    ""
                }
            )),
        }
    }

    /// Sleeps, waking early to stop; false when the source is stopping.
    fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        while !self.stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        false
    }
}

/// The last path segment of a URL, without query or fragment: the default file name.
fn last_segment(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|segment| !segment.is_empty())
        .unwrap_or(path)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::last_segment;

    #[test]
    fn file_names_come_from_the_path() {
        assert_eq!(last_segment("http://h/a/b.csv?x=1"), "b.csv");
        assert_eq!(last_segment("http://h/a/b.zip#f"), "b.zip");
        assert_eq!(last_segment("http://h/a/"), "a");
    }
}
