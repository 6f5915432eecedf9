//! The progress bar while a pipeline runs and the summary it prints at the end.

use std::fmt::Write as _;
use std::time::Duration;

use gridflow_engine::Plan;
use gridflow_engine::metrics::{ComponentCounters, Metrics, Role};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte-based progress bar over every source's input.
pub(crate) struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub(crate) fn new(hidden: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(0),
            if hidden {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Progress { bar }
    }

    pub(crate) fn update(&self, metrics: &Metrics, elapsed: Duration) {
        let total = metrics.total(Role::Source, |c| &c.bytes_total);
        let read = metrics.total(Role::Source, |c| &c.bytes_read);
        let records = metrics.total(Role::Source, |c| &c.records_out);
        // Rows reach the lake when their file commits; updates arriving at sinks show
        // progress sooner.
        let to_sinks = metrics.total(Role::Sink, |c| &c.records_in);
        self.bar.set_length(total.max(read));
        self.bar.set_position(read);
        let rate = records as f64 / elapsed.as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{records} read, {to_sinks} to sinks, {rate:.0} records/s"
        ));
    }

    pub(crate) fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn get(counter: &std::sync::atomic::AtomicU64) -> u64 {
    ComponentCounters::get(counter)
}

/// The end-of-run summary: per source, per operator, per sink, then totals.
pub(crate) fn render(
    plan: &Plan,
    metrics: &Metrics,
    workers: usize,
    wall: Duration,
    stopped: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "pipeline {} ({}) {} with {workers} worker(s)",
        plan.settings.name,
        plan.path,
        if stopped {
            "stopped by Ctrl-C"
        } else {
            "finished"
        }
    );
    let _ = writeln!(
        out,
        "{:<10} {:<18} {:>12} {:>12} {:>12} {:>8}",
        "source", "name", "read", "written", "rejected", "files"
    );
    let mut read_total = 0;
    let mut rejected_total: i64 = 0;
    for (_, name, counters) in metrics.iter().filter(|(role, _, _)| *role == Role::Source) {
        let tally = metrics.source_tally(name);
        read_total += get(&counters.records_out);
        rejected_total += tally.rejected;
        let _ = writeln!(
            out,
            "{:<10} {:<18} {:>12} {:>12} {:>12} {:>8}",
            "source",
            name,
            get(&counters.records_out),
            tally.written,
            tally.rejected,
            get(&counters.files)
        );
    }
    for (_, name, counters) in metrics
        .iter()
        .filter(|(role, _, _)| *role == Role::Operator)
    {
        let _ = writeln!(
            out,
            "{:<10} {:<18} {:>12} {:>12} {:>12}   (updates in / out / rejected)",
            "operator",
            name,
            get(&counters.records_in),
            get(&counters.records_out),
            get(&counters.rejected)
        );
    }
    let mut written_total = 0;
    for (_, name, counters) in metrics.iter().filter(|(role, _, _)| *role == Role::Sink) {
        written_total += get(&counters.records_out);
        let _ = writeln!(
            out,
            "{:<10} {:<18} {:>12} {:>12} {:>12} {:>8}   (rows written, files committed)",
            "sink",
            name,
            "",
            get(&counters.records_out),
            "",
            get(&counters.files)
        );
    }
    let seconds = wall.as_secs_f64();
    let _ = writeln!(
        out,
        "total: {read_total} records read, {written_total} rows written, {rejected_total} rejected in {seconds:.3} s ({:.0} records/s)",
        read_total as f64 / seconds.max(1e-9)
    );
    if let Some(peak) = peak_memory_mib() {
        let _ = writeln!(out, "peak memory: {peak:.1} MiB (resident, whole process)");
    }
    out
}

/// The process's peak resident set (Linux `VmHWM`), if the platform reports it.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
