use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::formats::testing::data_path;
use gridflow_engine::Collection;
use gridflow_engine::component::{SinkError, SinkKind, SinkPlan, Stream, StreamKind, WorkerInfo};
use gridflow_engine::pipeline::{NodeImplementation, PipelineSettings, load_with_environment};

const RTBM_ROWS: usize = 1234;

fn context(index: usize, peers: usize) -> BuildContext {
    BuildContext {
        name: Arc::from("spp_rt"),
        settings: Arc::new(PipelineSettings::default()),
        worker: WorkerInfo { index, peers },
        counters: Arc::new(ComponentCounters::default()),
    }
}

/// Polls until finished, sleeping when asked to wait; returns everything and the polls.
fn drain(reader: &mut dyn SourceReader) -> (SourceOutput, Vec<usize>) {
    let mut all = SourceOutput::default();
    let mut sizes = Vec::new();
    for _ in 0..100_000 {
        let mut out = SourceOutput::default();
        let status = reader.poll(&mut out);
        sizes.push(out.observations.len());
        all.observations.append(&mut out.observations);
        all.rejects.append(&mut out.rejects);
        all.bytes += out.bytes;
        match status {
            SourceStatus::Finished => return (all, sizes),
            SourceStatus::Waiting(wait) => std::thread::sleep(wait.min(Duration::from_millis(5))),
            SourceStatus::Ready => {}
        }
    }
    panic!("the reader never finished");
}

fn rtbm_config() -> FilesConfig {
    FilesConfig::new("spp_lmp", &data_path("spp/RTBM-LMP-SL-*.csv"))
}

fn file_bytes(pattern: &str) -> u64 {
    glob::glob(pattern)
        .unwrap()
        .map(|path| std::fs::metadata(path.unwrap()).unwrap().len())
        .sum()
}

#[test]
fn backfill_reads_every_rtbm_file() {
    let plan = FilesPlan::new(&rtbm_config()).unwrap();
    assert_eq!(plan.files().len(), 7);
    assert!(plan.bounded());
    let description = plan.describe();
    assert!(description.starts_with("spp_lmp files /"), "{description}");
    assert!(
        description.ends_with("RTBM-LMP-SL-*.csv (7 files, backfill)"),
        "{description}"
    );
    let context = context(0, 1);
    let mut reader = plan.open(&context).unwrap();
    let expected_bytes = file_bytes(&data_path("spp/RTBM-LMP-SL-*.csv"));
    assert_eq!(reader.total_bytes(), expected_bytes);
    let (out, _) = drain(reader.as_mut());
    assert_eq!(out.observations.len(), 6 * RTBM_ROWS);
    assert_eq!(out.rejects.len(), 1);
    let reject = &out.rejects[0];
    assert_eq!(reject.reason, "empty file");
    assert_eq!(reject.origin.line, 0);
    assert_eq!(&*reject.origin.source, "spp_rt");
    assert!(reject.origin.file.ends_with("RTBM-LMP-SL-202503310845.csv"));
    assert_eq!(out.bytes, expected_bytes);
    assert_eq!(ComponentCounters::get(&context.counters.files), 7);
    // Files are read in name order.
    let first = out.observations[0].origin();
    assert!(first.file.ends_with("RTBM-LMP-SL-202503310840.csv"));
    assert_eq!(&*first.source, "spp_rt");
}

#[test]
fn batches_are_bounded() {
    let mut config = rtbm_config();
    config.batch_size = 500;
    let plan = FilesPlan::new(&config).unwrap();
    let (out, sizes) = drain(plan.open(&context(0, 1)).unwrap().as_mut());
    assert_eq!(out.observations.len(), 6 * RTBM_ROWS);
    assert!(sizes.iter().all(|&size| size <= 500));
    // Files are gathered across their boundaries: every batch but the last is full.
    let full: Vec<usize> = sizes.iter().copied().filter(|&size| size > 0).collect();
    assert_eq!(full.len(), (6 * RTBM_ROWS).div_ceil(500), "{sizes:?}");
    assert!(
        full[..full.len() - 1].iter().all(|&size| size == 500),
        "{sizes:?}"
    );
}

#[test]
fn replay_at_high_speed_yields_everything_in_event_order() {
    let mut config = rtbm_config();
    config.mode = Mode::Replay;
    config.speed = Some(1e9);
    let plan = FilesPlan::new(&config).unwrap();
    assert!(
        plan.describe().ends_with("(7 files, replay x1000000000)"),
        "{}",
        plan.describe()
    );
    let (out, _) = drain(plan.open(&context(0, 1)).unwrap().as_mut());
    assert_eq!(out.observations.len(), 6 * RTBM_ROWS);
    assert_eq!(out.rejects.len(), 1);
    let starts: Vec<_> = out
        .observations
        .iter()
        .map(|observation| match observation {
            Observation::Price(price) => price.interval.resolve().unwrap().start,
            Observation::Rate(_) | Observation::Quantity(_) => unreachable!(),
        })
        .collect();
    assert!(starts.windows(2).all(|pair| pair[0] <= pair[1]));
}

#[test]
fn replay_paces_by_event_time() {
    let mut config = rtbm_config();
    config.mode = Mode::Replay;
    config.speed = Some(60.0);
    let plan = FilesPlan::new(&config).unwrap();
    let mut reader = plan.open(&context(0, 1)).unwrap();
    let mut out = SourceOutput::default();
    // One poll per file while loading, then the first interval is due at once.
    for _ in 0..7 {
        assert_eq!(reader.poll(&mut out), SourceStatus::Ready);
    }
    assert!(out.observations.is_empty());
    let status = reader.poll(&mut out);
    assert_eq!(
        out.observations.len(),
        RTBM_ROWS,
        "only the first 5-minute interval"
    );
    // The next interval is 5 event-minutes later: 5 wall seconds at 60x.
    let status = match status {
        SourceStatus::Ready => reader.poll(&mut out),
        other => other,
    };
    assert!(
        matches!(status, SourceStatus::Waiting(wait) if wait > Duration::ZERO),
        "{status:?}"
    );
    assert_eq!(out.observations.len(), RTBM_ROWS);
}

#[test]
fn replay_reads_every_file_on_the_first_worker() {
    let mut config = rtbm_config();
    config.mode = Mode::Replay;
    config.speed = Some(1e9);
    let plan = FilesPlan::new(&config).unwrap();
    let (first, _) = drain(plan.open(&context(0, 2)).unwrap().as_mut());
    let (second, _) = drain(plan.open(&context(1, 2)).unwrap().as_mut());
    assert_eq!(first.observations.len(), 6 * RTBM_ROWS);
    assert!(second.observations.is_empty() && second.rejects.is_empty());
}

#[test]
fn two_workers_read_each_file_exactly_once() {
    let mut config = FilesConfig::new("spp_lmp", &data_path("spp/*.csv"));
    config.batch_size = 4096;
    let plan = FilesPlan::new(&config).unwrap();
    assert_eq!(plan.files().len(), 8);
    let mut per_file: BTreeMap<String, (usize, std::collections::BTreeSet<usize>)> =
        BTreeMap::new();
    let mut total = 0;
    for worker in 0..2 {
        let (out, _) = drain(plan.open(&context(worker, 2)).unwrap().as_mut());
        total += out.observations.len();
        let files = out
            .observations
            .iter()
            .map(|o| o.origin().file.to_string())
            .chain(out.rejects.iter().map(|r| r.origin.file.to_string()));
        for file in files {
            let entry = per_file.entry(file).or_default();
            entry.0 += 1;
            entry.1.insert(worker);
        }
    }
    assert_eq!(per_file.len(), 8, "every file was read");
    assert!(
        per_file.values().all(|(_, workers)| workers.len() == 1),
        "by one worker"
    );
    assert_eq!(total, 6 * RTBM_ROWS + 29_616);
}

/// A fresh directory under the system temp dir.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gridflow-sources-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_refused_or_unreadable_file_is_one_reject_and_the_rest_goes_on() {
    let dir = scratch_dir("mixed");
    let good = std::fs::read(data_path("spp/RTBM-LMP-SL-202503310840.csv")).unwrap();
    std::fs::write(dir.join("RTBM-LMP-SL-1.csv"), &good).unwrap();
    let renamed = String::from_utf8(good.clone())
        .unwrap()
        .replacen("MEC", "MEC_USD", 1);
    std::fs::write(dir.join("RTBM-LMP-SL-2.csv"), renamed).unwrap();
    std::fs::write(dir.join("RTBM-LMP-SL-3.csv"), &good).unwrap();
    let pattern = format!("{}/RTBM-*.csv", dir.display());
    let plan = FilesPlan::new(&FilesConfig::new("spp_lmp", &pattern)).unwrap();
    std::fs::remove_file(dir.join("RTBM-LMP-SL-3.csv")).unwrap();
    let (out, _) = drain(plan.open(&context(0, 1)).unwrap().as_mut());
    assert_eq!(out.observations.len(), RTBM_ROWS);
    assert_eq!(out.rejects.len(), 2);
    let header = &out.rejects[0];
    assert_eq!(header.origin.line, 0);
    assert!(
        header.reason.starts_with("spp_lmp: unexpected header"),
        "{}",
        header.reason
    );
    assert!(header.reason.contains("missing: MEC"), "{}", header.reason);
    assert!(header.raw.ends_with("MCC,MEC_USD"), "{}", header.raw);
    let unreadable = &out.rejects[1];
    assert_eq!(unreadable.origin.line, 0);
    assert!(
        unreadable.reason.starts_with("cannot read the file"),
        "{}",
        unreadable.reason
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_validation_names_the_field() {
    let errors = FilesPlan::new(&FilesConfig::new("spp_lmpp", &data_path("spp/*.csv")))
        .err()
        .unwrap();
    assert_eq!(errors[0].field, "format");
    assert!(
        errors[0]
            .message
            .contains("spp_lmp, nordpool_v2, entsoe_a44"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].help.as_deref(), Some("did you mean `spp_lmp`?"));

    let errors = FilesPlan::new(&FilesConfig::new("spp_lmp", "no/such/dir/*.csv"))
        .err()
        .unwrap();
    assert_eq!(errors[0].field, "path");
    assert!(errors[0].message.contains("matches no file"));

    let mut config = rtbm_config();
    config.speed = Some(10.0);
    assert_eq!(FilesPlan::new(&config).err().unwrap()[0].field, "speed");
    config.mode = Mode::Replay;
    config.speed = Some(0.0);
    assert_eq!(FilesPlan::new(&config).err().unwrap()[0].field, "speed");
    config.speed = None;
    config.batch_size = 0;
    assert_eq!(
        FilesPlan::new(&config).err().unwrap()[0].field,
        "batch_size"
    );

    let mut config = rtbm_config();
    config.product = Some(Spanned::new(0..0, "HOURLY".to_string()));
    let errors = FilesPlan::new(&config).err().unwrap();
    assert_eq!(errors[0].field, "product");
    assert!(
        errors[0].message.contains("REAL_TIME_5_MIN"),
        "{}",
        errors[0].message
    );
    let mut config = FilesConfig::new("ecb_fx", &data_path("fx/*.csv"));
    config.product = Some(Spanned::new(0..0, "DAILY".to_string()));
    assert_eq!(FilesPlan::new(&config).err().unwrap()[0].field, "product");
}

struct NullSink;
struct NullPlan;

impl SinkKind for NullSink {
    fn kind(&self) -> &'static str {
        "null"
    }
    fn summary(&self) -> &'static str {
        "discards everything"
    }
    fn configure(&self, _: &ComponentConfig<'_>) -> Result<Arc<dyn SinkPlan>, Vec<ConfigError>> {
        Ok(Arc::new(NullPlan))
    }
}

impl SinkPlan for NullPlan {
    fn describe(&self) -> String {
        "null".into()
    }
    fn accepts(&self) -> &'static [StreamKind] {
        &[StreamKind::Observations]
    }
    fn build<'scope>(
        &self,
        _: Vec<Stream<'scope>>,
        _: Collection<'scope, Reject>,
        _: &BuildContext,
    ) -> Result<(), SinkError> {
        Ok(())
    }
}

fn load(source_table: &str) -> Result<gridflow_engine::Plan, Vec<ConfigError>> {
    let mut registry = gridflow_engine::Registry::new();
    crate::register(&mut registry);
    registry.add_sink(NullSink);
    let text = format!(
        "[sources.prices]\nkind = \"files\"\n{source_table}\n[sinks.out]\nkind = \"null\"\ninputs = [\"prices\"]\n"
    );
    load_with_environment("test.toml", &text, &registry, &|name| {
        (name == "DATA").then(|| data_path("").trim_end_matches('/').to_string())
    })
    .map_err(|errors| errors.0)
}

#[test]
fn pipeline_files_configure_the_source() {
    let plan = load("format = \"caiso_oasis\"\npath = \"${DATA}/caiso/*.csv\"\nmode = \"replay\"\nspeed = 120\nproduct = \"DAY_AHEAD_HOURLY\"\nbatch_size = 100").unwrap();
    let NodeImplementation::Source(source) = &plan.nodes[0].implementation else {
        panic!("the first node is the source");
    };
    assert!(
        source.describe().starts_with("caiso_oasis files "),
        "{}",
        source.describe()
    );
    assert!(
        source.describe().ends_with("(3 files, replay x120)"),
        "{}",
        source.describe()
    );
}

#[test]
fn pipeline_errors_point_at_the_value() {
    let errors = load("format = \"spp_lmpp\"\npath = \"${DATA}/spp/*.csv\"")
        .err()
        .unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error = &errors[0];
    assert_eq!((error.line, error.column), (3, 10), "{error}");
    assert_eq!(error.component.as_deref(), Some("sources.prices"));
    assert!(
        error
            .message
            .contains("known formats: spp_lmp, nordpool_v2"),
        "{error}"
    );
    assert_eq!(error.help.as_deref(), Some("did you mean `spp_lmp`?"));

    let errors = load("format = \"spp_lmp\"\npath = \"nowhere/*.csv\"\nspeed = 2")
        .err()
        .unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].line, 4);
    assert!(errors[0].message.contains("matches no file"));
    assert_eq!(errors[1].line, 5);
    assert!(errors[1].message.contains("replay"));

    let errors = load("format = \"spp_lmp\"\npath = \"x\"\nspeeed = 2")
        .err()
        .unwrap();
    assert!(errors[0].message.contains("speeed"), "{:?}", errors);
    let errors = load("format = \"spp_lmp\"\npath = \"${DATA}/spp/*.csv\"\nmode = \"fast\"")
        .err()
        .unwrap();
    assert!(errors[0].message.contains("backfill"), "{:?}", errors);
}

#[test]
fn register_adds_the_files_kind() {
    let mut registry = gridflow_engine::Registry::new();
    crate::register(&mut registry);
    let kind = registry.source("files").unwrap();
    assert_eq!(kind.kind(), "files");
    assert!(!kind.summary().is_empty());
    assert!(Path::new(&data_path("spp")).is_dir());
}
